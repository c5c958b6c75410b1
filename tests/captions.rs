//! Caption files: Karpathy splits, COCO annotations, the sidecar, plain text.

use std::path::{Path, PathBuf};

use recap::io::captions::{
    read_karpathy, read_lines, read_references, write_lines, CaptionRecord, CaptionSet,
    KarpathyDataset, Split,
};
use recap::Error;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/captions")
        .join(name)
}

/// The `problem` of an `Error::Format` for `name`, or a panic naming what came instead.
fn format_problem<T: std::fmt::Debug>(r: recap::Result<T>, name: &str) -> String {
    match r {
        Err(Error::Format { path, problem }) => {
            assert_eq!(path, fixture(name));
            problem
        }
        other => panic!("{name}: expected a Format error, got {other:?}"),
    }
}

#[test]
fn karpathy_coco_splits() {
    let data = read_karpathy(fixture("karpathy_coco_mini.json")).unwrap();
    assert_eq!(data.dataset.as_deref(), Some("coco"));
    assert_eq!(data.images.len(), 4);
    let first = &data.images[0];
    assert_eq!(first.id, "391895");
    assert_eq!(first.split, Split::Test);
    assert_eq!(first.filename, "COCO_val2014_000000391895.jpg");
    assert_eq!(first.filepath.as_deref(), Some("val2014"));
    assert_eq!(first.sentences[0].id, "770337");
    assert_eq!(first.sentences[0].tokens[1], "man");
    let ids = |imgs: Vec<&recap::io::captions::KarpathyImage>| {
        imgs.iter().map(|i| i.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(data.split(Split::Train, false)), vec!["318556"]);
    assert_eq!(
        ids(data.split(Split::Train, true)),
        vec!["522418", "318556"]
    );
    assert_eq!(ids(data.split(Split::Restval, true)), vec!["522418"]);
    assert_eq!(ids(data.split(Split::Val, true)), vec!["184613"]);
    assert_eq!(ids(data.split(Split::Test, false)), vec!["391895"]);
    let refs = KarpathyDataset::references(data.split(Split::Test, false));
    assert_eq!(
        refs["391895"],
        vec![
            "A man with a red helmet on a small moped on a dirt road.",
            "Man riding a motor bike on a dirt road on the countryside."
        ]
    );
}

#[test]
fn karpathy_to_sidecar_rows_follow_file_order() {
    let data = read_karpathy(fixture("karpathy_coco_mini.json")).unwrap();
    let set = CaptionSet::from_karpathy(&data.images).unwrap();
    assert_eq!(set.images(), &["391895", "522418", "318556", "184613"]);
    assert_eq!(set.n_captions(), 8);
    let g = set.grouping().unwrap();
    assert_eq!(g.image_of_caption(), &[0, 0, 1, 1, 2, 2, 2, 3]);
    assert_eq!(set.captions()[4].id, "787980");
    // One split only.
    let test = CaptionSet::from_karpathy(data.split(Split::Train, true)).unwrap();
    assert_eq!(test.images(), &["522418", "318556"]);
    assert_eq!(test.grouping().unwrap().counts(), vec![2, 3]);
    // read_auto recognizes the Karpathy file.
    assert_eq!(
        CaptionSet::read_auto(fixture("karpathy_coco_mini.json")).unwrap(),
        set
    );
}

#[test]
fn karpathy_flickr_uses_imgid() {
    let data = read_karpathy(fixture("karpathy_flickr_mini.json")).unwrap();
    assert_eq!(data.dataset.as_deref(), Some("flickr30k"));
    assert_eq!(data.images[1].id, "1");
    assert_eq!(data.images[1].filepath, None);
    assert_eq!(data.images[1].sentences[0].id, "5");
}

#[test]
fn karpathy_errors_are_specific() {
    let p = format_problem(
        read_karpathy(fixture("karpathy_bad_split.json")),
        "karpathy_bad_split.json",
    );
    assert!(p.contains("unknown split \"training\""), "{p}");
    let p = format_problem(
        read_karpathy(fixture("karpathy_missing_raw.json")),
        "karpathy_missing_raw.json",
    );
    assert!(p.contains("id 42") && p.contains("missing \"raw\""), "{p}");
    let p = format_problem(
        read_karpathy(fixture("karpathy_missing_id.json")),
        "karpathy_missing_id.json",
    );
    assert!(p.contains("missing \"cocoid\" and \"imgid\""), "{p}");
    // A sidecar is not a Karpathy file.
    let p = format_problem(
        read_karpathy(fixture("sidecar_mini.json")),
        "sidecar_mini.json",
    );
    assert!(
        p.contains("images[0]") && p.contains("expected an object"),
        "{p}"
    );
}

#[test]
fn coco_annotations_to_sidecar() {
    let set = CaptionSet::from_coco_annotations(fixture("coco_captions_mini.json")).unwrap();
    assert_eq!(set.images(), &["391895", "522418"]);
    let caps = set.captions();
    assert_eq!(caps.len(), 3);
    assert_eq!(
        caps[2],
        CaptionRecord {
            id: "771687".into(),
            image_id: "391895".into(),
            text: "Man riding a motor bike on a dirt road on the countryside.".into(),
        }
    );
    assert_eq!(set.grouping().unwrap().image_of_caption(), &[0, 1, 0]);
    // Same file through read_auto, and the older grouped-references reader agrees.
    assert_eq!(
        CaptionSet::read_auto(fixture("coco_captions_mini.json")).unwrap(),
        set
    );
    let refs = read_references(fixture("coco_captions_mini.json")).unwrap();
    assert_eq!(refs["391895"].len(), set.references()["391895"].len());
}

#[test]
fn sidecar_reads_and_round_trips() {
    let set = CaptionSet::read(fixture("sidecar_mini.json")).unwrap();
    assert_eq!(set.images(), &["391895", "522418"]);
    assert_eq!(set.captions()[1].id, "681330");
    assert_eq!(set.captions()[1].image_id, "522418");
    let g = set.grouping().unwrap();
    assert_eq!(g.captions_of(0), &[0, 2]);
    assert_eq!(g.captions_of(1), &[1]);
    assert_eq!(
        set.texts().collect::<Vec<_>>()[1],
        "A woman wearing a net on her head cutting a cake."
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("captions.json");
    set.write(&out).unwrap();
    let back = CaptionSet::read(&out).unwrap();
    assert_eq!(back, set);
    // Written ids are strings.
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["images"][1], "522418");
    assert_eq!(v["captions"][1]["id"], "681330");
    assert_eq!(CaptionSet::read_auto(&out).unwrap(), set);
}

#[test]
fn sidecar_errors_are_specific() {
    let cases = [
        (
            "sidecar_duplicate_caption.json",
            "caption id \"1\" appears more than once",
        ),
        (
            "sidecar_duplicate_image.json",
            "image id \"a\" appears more than once",
        ),
        (
            "sidecar_unknown_image.json",
            "caption \"cap-7\" refers to image id \"zebra\"",
        ),
        ("sidecar_missing_text.json", "captions[0]: missing \"text\""),
        (
            "sidecar_images_not_list.json",
            "\"images\" must be a list, got a string",
        ),
        (
            "sidecar_text_not_string.json",
            "captions[0]: caption must be a string",
        ),
    ];
    for (name, want) in cases {
        let p = format_problem(CaptionSet::read(fixture(name)), name);
        assert!(p.contains(want), "{name}: {p}");
    }
    assert!(matches!(
        CaptionSet::read(fixture("no_such_file.json")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        CaptionSet::read(fixture("lines.txt")),
        Err(Error::Json { .. })
    ));
    let p = format_problem(
        CaptionSet::read(fixture("invalid_utf8.txt")),
        "invalid_utf8.txt",
    );
    assert!(p.contains("invalid UTF-8 at byte 22"), "{p}");
}

#[test]
fn programmatic_sets_check_ids() {
    let rec = |id: &str, img: &str| CaptionRecord {
        id: id.into(),
        image_id: img.into(),
        text: "t".into(),
    };
    let dup = CaptionSet::new(
        vec!["a".into(), "b".into()],
        vec![rec("1", "a"), rec("1", "b")],
    );
    assert!(
        matches!(dup, Err(Error::InvalidArgument { problem, .. }) if problem.contains("caption id \"1\""))
    );
    let set = CaptionSet::new(vec!["a".into()], vec![rec("1", "a"), rec("x9", "b")]).unwrap();
    match set.grouping() {
        Err(Error::InvalidArgument { problem, .. }) => {
            assert!(
                problem.contains("caption \"x9\" refers to image id \"b\""),
                "{problem}"
            )
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    // Images without captions are allowed.
    let set = CaptionSet::new(vec!["a".into(), "b".into()], vec![rec("1", "b")]).unwrap();
    assert_eq!(set.grouping().unwrap().counts(), vec![0, 1]);
}

#[test]
fn text_sidecar_from_images_and_captions() {
    let set = CaptionSet::from_text_files(fixture("images.txt"), fixture("captions.tsv")).unwrap();
    assert_eq!(set.images(), &["391895", "522418"]);
    assert_eq!(set.captions()[1].id, "1");
    assert_eq!(
        set.captions()[1].text,
        "A woman wearing a net on her head cutting a cake."
    );
    assert_eq!(set.grouping().unwrap().image_of_caption(), &[0, 1, 0]);
    let with_ids =
        CaptionSet::from_text_files(fixture("images.txt"), fixture("captions_with_ids.tsv"))
            .unwrap();
    assert_eq!(with_ids.captions()[1].id, "681330");
    assert_eq!(with_ids.captions()[1].image_id, "522418");
    let p = format_problem(
        CaptionSet::from_text_files(fixture("images.txt"), fixture("captions_bad_fields.tsv")),
        "captions_bad_fields.tsv",
    );
    assert!(
        p.contains("line 1") && p.contains("4 tab-separated fields"),
        "{p}"
    );
    let p = format_problem(
        CaptionSet::from_text_files(fixture("lines.txt"), fixture("captions.tsv")),
        "captions.tsv",
    );
    assert!(
        p.contains("image id \"391895\", which is not among the images"),
        "{p}"
    );
}

#[test]
fn plain_lines_policy() {
    let lines = read_lines(fixture("lines.txt")).unwrap();
    assert_eq!(
        lines,
        vec![
            "a man riding a bike",
            "a woman cutting a cake",
            "a dog on the beach"
        ]
    );
    let p = format_problem(read_lines(fixture("blank_line.txt")), "blank_line.txt");
    assert!(p.contains("line 2 is blank"), "{p}");
    let p = format_problem(read_lines(fixture("invalid_utf8.txt")), "invalid_utf8.txt");
    assert!(p.contains("invalid UTF-8 at byte 22"), "{p}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    write_lines(&out, &lines).unwrap();
    assert_eq!(read_lines(&out).unwrap(), lines);
    assert!(matches!(
        write_lines(&out, &["ok", "two\nlines"]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        write_lines(&out, &["", "x"]),
        Err(Error::InvalidArgument { .. })
    ));
    // The failed writes left the earlier file intact.
    assert_eq!(read_lines(&out).unwrap(), lines);
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    assert!(read_lines(&empty).unwrap().is_empty());
}
