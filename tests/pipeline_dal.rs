//! The datastore-augmentation loop on `recap synth` data with a deterministic captioner:
//! provenance, no self-retrieval of synthetic captions, threshold / top-fraction selection,
//! and resuming after a failure at any iteration to the state of an uninterrupted run.

use std::path::Path;

use recap::backend::Exclusion;
use recap::io::captions::CaptionRecord;
use recap::pipeline::dal::{Captioned, Dal, DalCaptioner, DalState, Keep};
use recap::retrieve::{Datastore, Storage};
use recap::synth::{generate, SynthConfig};
use recap::{Error, Result, RowMatrix};

/// Captions image i as "synthetic i <first retrieved row>", embeds it at the image's own
/// query (so only the exclusion keeps an image from retrieving it), scores by image index.
struct Fake {
    queries: RowMatrix<f32>,
    calls: usize,
    fail_at_call: Option<usize>,
    retrieved: Vec<(usize, Vec<usize>)>,
}

impl DalCaptioner for Fake {
    fn caption(&mut self, image: usize, retrieved: &[(usize, &str)]) -> Result<Option<Captioned>> {
        self.calls += 1;
        if Some(self.calls) == self.fail_at_call {
            return Err(Error::invalid("fake", "killed"));
        }
        self.retrieved
            .push((image, retrieved.iter().map(|r| r.0).collect()));
        if image % 5 == 4 {
            return Ok(None);
        }
        Ok(Some(Captioned {
            text: format!("synthetic {image} {}", retrieved[0].0),
            embedding: self.queries.row(image).to_vec(),
            score: (image % 7) as f64 / 7.0,
        }))
    }
}

fn setup() -> (RowMatrix<f32>, Datastore) {
    let data = generate(&SynthConfig {
        n_images: 40,
        dim: 16,
        ..SynthConfig::default()
    })
    .unwrap();
    let records: Vec<CaptionRecord> = (0..data.texts.rows())
        .map(|r| CaptionRecord {
            id: r.to_string(),
            image_id: "base".into(),
            text: format!("base {r}"),
        })
        .collect();
    let ds = Datastore::cosine(data.texts.clone(), Storage::F32)
        .unwrap()
        .with_captions(records)
        .unwrap();
    (data.images, ds)
}

fn fake(queries: &RowMatrix<f32>, fail_at_call: Option<usize>) -> Fake {
    Fake {
        queries: queries.clone(),
        calls: 0,
        fail_at_call,
        retrieved: Vec::new(),
    }
}

fn run(
    dal: &Dal,
    q: &RowMatrix<f32>,
    ds: &Datastore,
    cap: &mut Fake,
    dir: &Path,
) -> Result<(Datastore, DalState)> {
    dal.run(q, ds.clone(), None, cap, dir, &mut |_| {})
}

#[test]
fn grows_with_provenance_and_never_retrieves_its_own_synthetic_captions() {
    let (q, ds) = setup();
    let base = ds.rows();
    let dir = tempfile::tempdir().unwrap();
    let dal = Dal::new(3, 7, Keep::Threshold(2.0 / 7.0)).unwrap();
    let mut cap = fake(&q, None);
    let mut reports = Vec::new();
    let (out, state) = dal
        .run(&q, ds, None, &mut cap, dir.path(), &mut |r| {
            reports.push(r.clone())
        })
        .unwrap();
    // Per iteration: 32 of 40 images captioned (i % 5 == 4 skipped), kept when i % 7 ≥ 2.
    let kept_per_iter = (0..40).filter(|i| i % 5 != 4 && i % 7 >= 2).count();
    assert_eq!(
        reports.iter().map(|r| r.added).collect::<Vec<_>>(),
        vec![kept_per_iter; 3]
    );
    assert_eq!(out.rows(), base + 3 * kept_per_iter);
    assert_eq!(state.synthetic.len(), 3 * kept_per_iter);
    for (j, s) in state.synthetic.iter().enumerate() {
        assert_eq!(s.row, base + j);
        assert_eq!(out.captions().unwrap()[s.row].text, s.text);
        assert!(s.score >= 2.0 / 7.0 && s.text.starts_with(&format!("synthetic {} ", s.image)));
    }
    for (image, rows) in &cap.retrieved {
        assert_eq!(rows.len(), 7);
        for r in rows {
            let own = state
                .synthetic
                .iter()
                .any(|s| s.row == *r && s.image == *image);
            assert!(
                !own,
                "image {image} retrieved its own synthetic caption (row {r})"
            );
        }
    }
    // Other images do retrieve synthetic captions (they sit at the images' own queries).
    assert!(cap
        .retrieved
        .iter()
        .any(|(_, rows)| rows.iter().any(|&r| r >= base)));
}

#[test]
fn top_fraction_keeps_the_best_by_score_then_image() {
    let (q, ds) = setup();
    let dir = tempfile::tempdir().unwrap();
    let (_, state) = run(
        &Dal::new(1, 3, Keep::TopFraction(0.25)).unwrap(),
        &q,
        &ds,
        &mut fake(&q, None),
        dir.path(),
    )
    .unwrap();
    // 32 candidates → 8 kept: the highest scores (i % 7 == 6, then 5), lower images first.
    let mut expected: Vec<usize> = (0..40).filter(|i| i % 5 != 4).collect();
    expected.sort_by(|a, b| (b % 7).cmp(&(a % 7)).then(a.cmp(b)));
    expected.truncate(8);
    expected.sort();
    assert_eq!(
        state.synthetic.iter().map(|s| s.image).collect::<Vec<_>>(),
        expected
    );
}

#[test]
fn resumes_after_a_failure_at_any_iteration_to_the_uninterrupted_state() {
    let (q, ds) = setup();
    let dal = Dal::new(3, 5, Keep::TopFraction(0.5)).unwrap();
    let clean = tempfile::tempdir().unwrap();
    let (want_ds, want_state) = run(&dal, &q, &ds, &mut fake(&q, None), clean.path()).unwrap();
    for fail_at in [1, 17, 40, 41, 75, 120] {
        let dir = tempfile::tempdir().unwrap();
        assert!(run(&dal, &q, &ds, &mut fake(&q, Some(fail_at)), dir.path()).is_err());
        // A half-written iteration left behind by a kill must not matter either.
        std::fs::create_dir_all(dir.path().join(".iter-9.partial")).unwrap();
        let (got_ds, got_state) = run(&dal, &q, &ds, &mut fake(&q, None), dir.path()).unwrap();
        assert_eq!(got_state, want_state, "failure at call {fail_at}");
        assert_eq!(got_ds.to_f32(), want_ds.to_f32());
        assert_eq!(got_ds.captions(), want_ds.captions());
    }
    // A finished run resumes to itself without captioning anything.
    let mut idle = fake(&q, Some(1));
    let (_, again) = run(&dal, &q, &ds, &mut idle, clean.path()).unwrap();
    assert_eq!((again, idle.calls), (want_state, 0));
}

#[test]
fn base_exclusion_and_bad_settings() {
    let (q, ds) = setup();
    let dir = tempfile::tempdir().unwrap();
    let skip_first_five: Vec<Vec<usize>> = (0..q.rows()).map(|_| (0..5).collect()).collect();
    let excl = Exclusion::per_query(skip_first_five);
    let mut cap = fake(&q, None);
    Dal::new(1, 7, Keep::Threshold(0.0))
        .unwrap()
        .run(
            &q,
            ds.clone(),
            Some(&excl),
            &mut cap,
            dir.path(),
            &mut |_| {},
        )
        .unwrap();
    assert!(cap
        .retrieved
        .iter()
        .all(|(_, rows)| rows.iter().all(|&r| r >= 5)));
    assert!(Dal::new(1, 0, Keep::Threshold(0.0)).is_err());
    assert!(Dal::new(1, 3, Keep::TopFraction(1.5)).is_err());
    let plain = Datastore::cosine(q.clone(), Storage::F32).unwrap();
    let e = Dal::new(1, 3, Keep::Threshold(0.0))
        .unwrap()
        .run(
            &q,
            plain,
            None,
            &mut fake(&q, None),
            dir.path(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(e.to_string().contains("caption records"), "{e}");
}
