//! Datastore: append, swap, save/load round trip, caption records.

use recap::io::captions::read_records;
use recap::retrieve::{CaptionRecord, Datastore, SearchOptions, Storage};
use recap::RowMatrix;

fn rows(n: usize, d: usize, seed: u64) -> RowMatrix<f32> {
    let mut s = seed | 1;
    let data = (0..n * d)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    RowMatrix::from_vec(n, d, data).unwrap()
}

fn records(n: usize, from: usize) -> Vec<CaptionRecord> {
    (from..from + n)
        .map(|i| CaptionRecord {
            id: i.to_string(),
            image_id: (i / 5).to_string(),
            text: format!("caption {i}"),
        })
        .collect()
}

fn concat(a: &RowMatrix<f32>, b: &RowMatrix<f32>) -> RowMatrix<f32> {
    let mut v = a.as_slice().to_vec();
    v.extend_from_slice(b.as_slice());
    RowMatrix::from_vec(a.rows() + b.rows(), a.cols(), v).unwrap()
}

#[test]
fn append_equals_building_at_once() {
    let (a, b) = (rows(100, 16, 1), rows(37, 16, 2));
    for storage in [Storage::F32, Storage::F16] {
        let mut ds = Datastore::cosine(a.clone(), storage)
            .unwrap()
            .with_captions(records(100, 0))
            .unwrap();
        ds.append(b.clone(), Some(records(37, 100))).unwrap();
        let all = Datastore::cosine(concat(&a, &b), storage).unwrap();
        assert_eq!(ds.rows(), 137);
        assert_eq!(ds.to_f32(), all.to_f32());
        assert_eq!(ds.captions().unwrap()[120].text, "caption 120");
        let q = rows(5, 16, 3);
        let o = SearchOptions::default();
        assert_eq!(
            ds.search_with(&q, 4, &o).unwrap(),
            all.search_with(&q, 4, &o).unwrap()
        );
        // Caption records must come exactly when the datastore has them.
        assert!(ds.append(b.clone(), None).is_err());
        assert!(ds.append(rows(2, 8, 4), Some(records(2, 0))).is_err());
    }
}

#[test]
fn swap_replaces_the_corpus() {
    let mut ds = Datastore::cosine(rows(50, 8, 1), Storage::F32).unwrap();
    let other = Datastore::cosine(rows(20, 8, 2), Storage::F32).unwrap();
    let old = ds.swap(other).unwrap();
    assert_eq!((old.rows(), ds.rows()), (50, 20));
    assert!(ds
        .swap(Datastore::cosine(rows(3, 9, 1), Storage::F32).unwrap())
        .is_err());
    assert!(ds
        .swap(Datastore::inner_product(rows(3, 8, 1), Storage::F32).unwrap())
        .is_err());
}

#[test]
fn save_load_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    for (i, storage) in [Storage::F32, Storage::F16].into_iter().enumerate() {
        let ds = Datastore::cosine(rows(40, 12, 7), storage)
            .unwrap()
            .with_captions(records(40, 0))
            .unwrap();
        let path = dir.path().join(format!("ds{i}"));
        ds.save(&path).unwrap();
        let back = Datastore::load(&path).unwrap();
        assert_eq!(back.storage(), storage);
        assert!(back.is_normalized());
        assert_eq!(back.to_f32(), ds.to_f32());
        assert_eq!(back.captions(), ds.captions());
        assert_eq!(
            read_records(path.join("captions.json")).unwrap(),
            records(40, 0)
        );
    }
}

#[test]
fn caption_records_accept_coco_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    std::fs::write(&p, r#"{"annotations": [{"image_id": 42, "id": 1, "caption": "a dog"}, {"image_id": "x", "caption": "b"}]}"#).unwrap();
    let r = read_records(&p).unwrap();
    assert_eq!(
        r[0],
        CaptionRecord {
            id: "1".into(),
            image_id: "42".into(),
            text: "a dog".into()
        }
    );
    assert_eq!(r[1].id, "1", "no id: the row number");
    std::fs::write(&p, r#"[{"image_id": 1}]"#).unwrap();
    assert!(read_records(&p).is_err());
}

#[test]
fn from_npy_streams_like_building_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npy");
    let x = rows(20_000, 3, 9);
    recap::io::npy::write_f32(&p, &x).unwrap();
    for storage in [Storage::F32, Storage::F16] {
        let a = Datastore::from_npy(&p, true, storage).unwrap();
        let b = Datastore::cosine(x.clone(), storage).unwrap();
        assert_eq!(a.to_f32(), b.to_f32());
        assert_eq!(a.rows(), 20_000);
        assert!(a.is_normalized());
    }
    let mut bad = x.clone();
    bad.row_mut(17_000)[2] = f32::INFINITY;
    recap::io::npy::write_f32(&p, &bad).unwrap();
    match Datastore::from_npy(&p, false, Storage::F32) {
        Err(recap::Error::NonFinite { row, col, .. }) => assert_eq!((row, col), (17_000, 2)),
        other => panic!("expected NonFinite, got {other:?}"),
    }
}
