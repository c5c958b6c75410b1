//! Figures (`recap::plot`, `recap plot`, `recap fit --plot`): every kind writes a valid PNG
//! (signature, IHDR size, decodes, not blank) and an SVG with its title, axis labels, legend
//! and one line per series; the same data give byte-identical files; bad input is the
//! specific error and leaves no file; the CLI end to end from files the CLI itself wrote.

use std::path::{Path, PathBuf};
use std::process::Command;

use recap::align::report::{LambdaPoint, LambdaSelection};
use recap::metrics::correlation::{kendall_tau, TauVariant};
use recap::pipeline::dal::{DalState, IterationReport};
use recap::plot::{self, DalMetrics, RecallSeries, ScatterPanel, Written};
use recap::Error;
use serde_json::{json, Value};

fn recap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_recap"))
}

fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.env_remove("RECAP_METEOR_JAR").output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn run_err(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(!o.status.success(), "{cmd:?} should fail");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// PNG signature, IHDR width/height, decodes as 8-bit RGB, and is not a blank page.
fn check_png(path: &Path, width: u32, height: u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (width, height), "{}", path.display());
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (width, height));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels = &buf[..info.buffer_size()];
    let dark = pixels
        .chunks(3)
        .filter(|p| p.iter().all(|&c| c < 64))
        .count();
    assert!(dark > 500, "{}: only {dark} dark pixels", path.display());
}

/// The SVG's text; checks that it is an SVG of the size given.
fn read_svg(path: &Path, width: u32, height: u32) -> String {
    let svg = std::fs::read_to_string(path).unwrap();
    assert!(
        svg.starts_with(&format!("<svg width=\"{width}\" height=\"{height}\"")),
        "{}",
        &svg[..svg.len().min(200)]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    svg
}

/// The polylines drawn in `rgb` (a series' line; its legend swatch is another).
fn polylines_in(svg: &str, rgb: &str) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter(|el| el[..el.find("/>").unwrap()].contains(&format!("stroke=\"{rgb}\"")))
        .count()
}

/// The first two series colours (Okabe–Ito blue and vermillion).
const BLUE: &str = "#0072B2";
const VERMILLION: &str = "#D55E00";

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn selection() -> LambdaSelection {
    let curve = [
        (0.01, 0.9),
        (0.1, 0.7),
        (1.0, 0.55),
        (10.0, 0.6),
        (100.0, 0.8),
    ]
    .iter()
    .map(|&(lambda, score)| LambdaPoint {
        lambda,
        score,
        df: Some(3.0),
    })
    .collect();
    LambdaSelection {
        criterion: "gcv".into(),
        curve,
        chosen: 1.0,
    }
}

fn recall_series() -> Vec<RecallSeries> {
    vec![
        RecallSeries {
            label: "raw CLIP".into(),
            image_to_text: vec![(1, 0.2), (5, 0.45), (10, 0.6)],
            text_to_image: vec![(1, 0.15), (5, 0.4), (10, 0.55)],
        },
        RecallSeries {
            label: "ridge W".into(),
            image_to_text: vec![(1, 0.6), (5, 0.85), (10, 0.92)],
            text_to_image: vec![(1, 0.5), (5, 0.8), (10, 0.9)],
        },
    ]
}

fn dal_data() -> DalMetrics {
    DalMetrics {
        iterations: vec![1, 2, 3],
        metrics: vec![
            ("BLEU-4".into(), vec![0.21, 0.24, 0.25]),
            ("CIDEr".into(), vec![0.7, 0.78, 0.8]),
        ],
    }
}

fn panels() -> Vec<ScatterPanel> {
    let human = vec![1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 1.0, 3.0];
    vec![
        ScatterPanel {
            metric: "BLEU-4".into(),
            scores: vec![0.1, 0.3, 0.2, 0.5, 0.7, 0.6, 0.2, 0.4],
            human: human.clone(),
        },
        ScatterPanel {
            metric: "CIDEr".into(),
            scores: vec![0.2, 0.1, 0.9, 1.1, 1.6, 0.8, 0.3, 1.0],
            human,
        },
    ]
}

#[test]
fn lambda_curve_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let w = plot::lambda_curve(&selection(), dir.path().join("lam")).unwrap();
    assert_eq!(w.png, dir.path().join("lam.png"));
    assert_eq!(w.svg, dir.path().join("lam.svg"));
    check_png(&w.png, 720, 480);
    let svg = read_svg(&w.svg, 720, 480);
    for text in [
        "ridge λ selection by gcv (chosen λ = 1e0)",
        "λ (log scale)",
        "GCV score",
        "chosen λ = 1e0",
        "1e-2",
        "1e2",
    ] {
        assert!(svg.contains(text), "missing {text:?}");
    }
    // The curve and the chosen-λ marker, each with its legend swatch.
    assert_eq!(polylines_in(&svg, BLUE), 2);
    assert_eq!(polylines_in(&svg, VERMILLION), 2);
    assert_eq!(files_in(dir.path()).len(), 2, "no temporary file left");
}

#[test]
fn recall_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let w = plot::recall_at_k(&recall_series(), dir.path().join("recall")).unwrap();
    check_png(&w.png, 1000, 460);
    let svg = read_svg(&w.svg, 1000, 460);
    for text in [
        "recall@k",
        "image → text",
        "text → image",
        "raw CLIP",
        "ridge W",
    ] {
        assert!(svg.contains(text), "missing {text:?}");
    }
    // One line per series per panel, plus its legend swatch.
    assert_eq!(polylines_in(&svg, BLUE), 4);
    assert_eq!(polylines_in(&svg, VERMILLION), 4);
}

#[test]
fn dal_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let w = plot::dal_metrics(&dal_data(), dir.path().join("dal")).unwrap();
    check_png(&w.png, 800, 500);
    let svg = read_svg(&w.svg, 800, 500);
    for text in [
        "caption metrics per DAL iteration",
        "DAL iteration",
        "corpus score",
        "BLEU-4",
        "CIDEr",
    ] {
        assert!(svg.contains(text), "missing {text:?}");
    }
    assert_eq!(polylines_in(&svg, BLUE), 2);
    assert_eq!(polylines_in(&svg, VERMILLION), 2);
}

#[test]
fn correlation_png_and_svg_with_tau_in_titles() {
    let dir = tempfile::tempdir().unwrap();
    let p = panels();
    let w = plot::scatter(&p, TauVariant::C, dir.path().join("corr")).unwrap();
    check_png(&w.png, 800, 410);
    let svg = read_svg(&w.svg, 800, 410);
    for panel in &p {
        let tau = kendall_tau(&panel.scores, &panel.human, TauVariant::C).unwrap();
        let title = format!("{}: τ-c = {tau:.4}", panel.metric);
        assert!(svg.contains(&title), "missing {title:?}");
    }
    assert!(svg.contains("metric vs human rating (8 items, Kendall τ-c)"));
    assert!(svg.contains("human rating"));
    // One circle per item per panel.
    assert_eq!(svg.matches("<circle").count(), 16);
}

#[test]
fn same_data_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pairs: Vec<(Written, Written)> = vec![
        (
            plot::lambda_curve(&selection(), d.join("l1")).unwrap(),
            plot::lambda_curve(&selection(), d.join("l2")).unwrap(),
        ),
        (
            plot::recall_at_k(&recall_series(), d.join("r1")).unwrap(),
            plot::recall_at_k(&recall_series(), d.join("r2")).unwrap(),
        ),
        (
            plot::dal_metrics(&dal_data(), d.join("d1")).unwrap(),
            plot::dal_metrics(&dal_data(), d.join("d2")).unwrap(),
        ),
        (
            plot::scatter(&panels(), TauVariant::B, d.join("c1")).unwrap(),
            plot::scatter(&panels(), TauVariant::B, d.join("c2")).unwrap(),
        ),
    ];
    for (a, b) in pairs {
        assert_eq!(
            std::fs::read(&a.svg).unwrap(),
            std::fs::read(&b.svg).unwrap()
        );
        assert_eq!(
            std::fs::read(&a.png).unwrap(),
            std::fs::read(&b.png).unwrap()
        );
    }
}

#[test]
fn overwriting_replaces_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("fig");
    plot::dal_metrics(&dal_data(), &prefix).unwrap();
    let mut two = dal_data();
    two.metrics.truncate(1);
    let w = plot::dal_metrics(&two, &prefix).unwrap();
    let svg = std::fs::read_to_string(&w.svg).unwrap();
    assert!(!svg.contains("CIDEr"));
    assert_eq!(files_in(dir.path()).len(), 2);
}

/// Runs `f` against a fresh folder; it must fail, leave the folder empty, and the error must
/// satisfy `check`.
fn fails_cleanly(f: impl FnOnce(&Path) -> recap::Result<Written>, check: impl Fn(&Error) -> bool) {
    let dir = tempfile::tempdir().unwrap();
    let e = f(&dir.path().join("fig")).expect_err("should fail");
    assert!(check(&e), "unexpected error: {e:?}");
    assert!(files_in(dir.path()).is_empty(), "a file was left behind");
}

fn is_invalid(e: &Error) -> bool {
    matches!(e, Error::InvalidArgument { .. })
}
fn is_nonfinite(e: &Error) -> bool {
    matches!(e, Error::NonFinite { .. })
}
fn is_shape(e: &Error) -> bool {
    matches!(e, Error::Shape { .. })
}

#[test]
fn empty_input_is_invalid_argument() {
    fails_cleanly(|p| plot::scatter(&[], TauVariant::B, p), is_invalid);
    fails_cleanly(
        |p| {
            let mut panels = panels();
            panels[1].scores.clear();
            panels[1].human.clear();
            plot::scatter(&panels, TauVariant::B, p)
        },
        is_invalid,
    );
    fails_cleanly(|p| plot::recall_at_k(&[], p), is_invalid);
    fails_cleanly(
        |p| {
            let mut s = recall_series();
            s[0].text_to_image.clear();
            plot::recall_at_k(&s, p)
        },
        is_invalid,
    );
    fails_cleanly(
        |p| {
            plot::dal_metrics(
                &DalMetrics {
                    iterations: vec![],
                    metrics: vec![],
                },
                p,
            )
        },
        is_invalid,
    );
    fails_cleanly(
        |p| {
            let mut s = selection();
            s.curve.clear();
            plot::lambda_curve(&s, p)
        },
        is_invalid,
    );
}

#[test]
fn nan_is_nonfinite_naming_the_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = panels();
    p[1].scores[5] = f64::NAN;
    match plot::scatter(&p, TauVariant::B, dir.path().join("x")) {
        Err(Error::NonFinite { what, row, .. }) => {
            assert_eq!(row, 5);
            assert!(what.contains("CIDEr"), "{what}");
        }
        other => panic!("{other:?}"),
    }
    fails_cleanly(
        |p| {
            let mut s = recall_series();
            s[1].image_to_text[2].1 = f64::NAN;
            plot::recall_at_k(&s, p)
        },
        is_nonfinite,
    );
    fails_cleanly(
        |p| {
            let mut d = dal_data();
            d.metrics[0].1[1] = f64::INFINITY;
            plot::dal_metrics(&d, p)
        },
        is_nonfinite,
    );
    fails_cleanly(
        |p| {
            let mut s = selection();
            s.curve[3].score = f64::NAN;
            plot::lambda_curve(&s, p)
        },
        is_nonfinite,
    );
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn mismatched_lengths_are_shape_errors() {
    fails_cleanly(
        |p| {
            let mut panels = panels();
            panels[0].human.pop();
            plot::scatter(&panels, TauVariant::B, p)
        },
        is_shape,
    );
    fails_cleanly(
        |p| {
            let mut d = dal_data();
            d.metrics[1].1.push(0.9);
            plot::dal_metrics(&d, p)
        },
        is_shape,
    );
    fails_cleanly(
        |p| {
            let mut s = recall_series();
            s[1].image_to_text.pop();
            plot::recall_at_k(&s, p)
        },
        is_shape,
    );
    fails_cleanly(
        |p| {
            let mut s = recall_series();
            s[1].text_to_image[1].0 = 3;
            plot::recall_at_k(&s, p)
        },
        is_shape,
    );
}

#[test]
fn other_bad_values_are_invalid_arguments() {
    // λ ≤ 0 has no place on a log axis.
    fails_cleanly(
        |p| {
            let mut s = selection();
            s.curve[0].lambda = 0.0;
            plot::lambda_curve(&s, p)
        },
        is_invalid,
    );
    // recall outside [0, 1], k = 0.
    fails_cleanly(
        |p| {
            let mut s = recall_series();
            s[0].image_to_text[0].1 = 1.5;
            plot::recall_at_k(&s, p)
        },
        is_invalid,
    );
    fails_cleanly(
        |p| {
            let mut s = recall_series();
            for x in s.iter_mut() {
                x.image_to_text[0].0 = 0;
            }
            plot::recall_at_k(&s, p)
        },
        is_invalid,
    );
    // Iterations out of order.
    fails_cleanly(
        |p| {
            let mut d = dal_data();
            d.iterations = vec![2, 1, 3];
            plot::dal_metrics(&d, p)
        },
        is_invalid,
    );
    // A missing output folder is an I/O error before anything is drawn.
    let dir = tempfile::tempdir().unwrap();
    let e = plot::dal_metrics(&dal_data(), dir.path().join("no/such/fig")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

#[test]
fn infinite_gcv_points_are_left_out_of_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = selection();
    s.curve[0].score = f64::INFINITY;
    let w = plot::lambda_curve(&s, dir.path().join("lam")).unwrap();
    let svg = std::fs::read_to_string(&w.svg).unwrap();
    // The curve's polyline has the four finite points.
    let line = svg
        .split("<polyline")
        .skip(1)
        .find(|el| el.contains(&format!("stroke=\"{BLUE}\"")) && el.contains("stroke-width=\"2\""))
        .unwrap();
    let points = line
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(points.split_whitespace().count(), 4, "{points}");
    // All infinite: nothing to draw.
    for p in s.curve.iter_mut() {
        p.score = f64::INFINITY;
    }
    let e = plot::lambda_curve(&s, dir.path().join("none")).unwrap_err();
    assert!(is_invalid(&e), "{e:?}");
}

#[test]
fn readers_name_missing_and_malformed_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    assert!(matches!(
        plot::read_lambda_selection(&missing),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        plot::read_retrieval_report(&missing, "x"),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        plot::read_dal_metrics(&missing),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        plot::read_correlation_items(&missing),
        Err(Error::Io { .. })
    ));
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{not json").unwrap();
    assert!(matches!(
        plot::read_lambda_selection(&garbage),
        Err(Error::Json { .. })
    ));
    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"hello": 1}"#).unwrap();
    for e in [
        plot::read_lambda_selection(&other).unwrap_err(),
        plot::read_retrieval_report(&other, "x").unwrap_err(),
        plot::read_dal_metrics(&other).unwrap_err(),
        plot::read_correlation_items(&other).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Format { .. }), "{e:?}");
    }
    // A fit without a λ grid has no curve, and the error says what to do.
    let fixed = dir.path().join("fixed.json");
    std::fs::write(
        &fixed,
        r#"{"method": "ridge", "lambda": 1.0, "selection": null}"#,
    )
    .unwrap();
    let e = plot::read_lambda_selection(&fixed).unwrap_err().to_string();
    assert!(e.contains("--lambda-grid"), "{e}");
    // Items of an older recap (no scores).
    let items = dir.path().join("items.json");
    std::fs::write(&items, r#"[{"key": "a", "candidate": "c", "rating": 2.0}]"#).unwrap();
    let e = plot::read_correlation_items(&items)
        .unwrap_err()
        .to_string();
    assert!(e.contains("scores"), "{e}");
}

#[test]
fn dal_reader_takes_state_file_folder_and_json_summary() {
    let dir = tempfile::tempdir().unwrap();
    let report = |iteration: usize, metrics: Option<Value>| IterationReport {
        iteration,
        captioned: 10,
        added: 2,
        mean_added_score: 0.5,
        datastore_rows: 100 + 2 * iteration,
        metrics,
    };
    let corpus =
        |b: f64, c: f64| Some(json!({"corpus": {"BLEU-4": b, "CIDEr": c}, "not_computed": {}}));
    let state = DalState {
        completed: 3,
        base_rows: 100,
        synthetic: vec![],
        reports: vec![
            report(1, corpus(0.2, 0.7)),
            report(2, None),
            report(3, corpus(0.25, 0.8)),
        ],
    };
    std::fs::write(
        dir.path().join("dal.json"),
        serde_json::to_vec(&state).unwrap(),
    )
    .unwrap();
    let expected = DalMetrics {
        iterations: vec![1, 3],
        metrics: vec![
            ("BLEU-4".into(), vec![0.2, 0.25]),
            ("CIDEr".into(), vec![0.7, 0.8]),
        ],
    };
    assert_eq!(plot::read_dal_metrics(dir.path()).unwrap(), expected);
    assert_eq!(
        plot::read_dal_metrics(dir.path().join("dal.json")).unwrap(),
        expected
    );
    let summary = dir.path().join("summary.json");
    std::fs::write(
        &summary,
        serde_json::to_vec(&json!({"iterations": state.reports, "datastore_rows": 106})).unwrap(),
    )
    .unwrap();
    assert_eq!(plot::read_dal_metrics(&summary).unwrap(), expected);

    // The CLI draws it.
    let out = run_ok(
        recap()
            .args(["plot", "dal", "--input"])
            .arg(dir.path())
            .arg("--out")
            .arg(dir.path().join("fig")),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    check_png(Path::new(lines[0]), 800, 500);
    read_svg(Path::new(lines[1]), 800, 500);

    // Without --references nothing was scored: a clear error.
    let unscored = DalState {
        reports: vec![report(1, None)],
        ..state
    };
    std::fs::write(&summary, serde_json::to_vec(&unscored).unwrap()).unwrap();
    let e = plot::read_dal_metrics(&summary).unwrap_err().to_string();
    assert!(e.contains("--references"), "{e}");
}

/// `recap synth` into `dir/set`, small.
fn synth(dir: &Path) -> PathBuf {
    let set = dir.join("set");
    run_ok(recap().args(["synth", "--out-dir"]).arg(&set).args([
        "--n-images",
        "200",
        "--captions-per-image",
        "3",
        "--dim",
        "24",
        "--seed",
        "3",
    ]));
    set
}

#[test]
fn cli_fit_plot_and_plot_lambda_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let set = synth(d);
    run_ok(
        recap()
            .args(["fit", "--images"])
            .arg(set.join("images.npy"))
            .arg("--texts")
            .arg(set.join("texts.npy"))
            .arg("--captions")
            .arg(set.join("captions.json"))
            .args([
                "--method",
                "ridge",
                "--lambda-grid",
                "0.001,0.01,0.1,1,10,100",
            ])
            .args(["--normalize", "l2", "-q", "--out"])
            .arg(d.join("W.npy"))
            .arg("--report")
            .arg(d.join("fit.json"))
            .arg("--plot")
            .arg(d.join("lambda")),
    );
    check_png(&d.join("lambda.png"), 720, 480);
    let svg = read_svg(&d.join("lambda.svg"), 720, 480);
    let report: Value =
        serde_json::from_slice(&std::fs::read(d.join("fit.json")).unwrap()).unwrap();
    let chosen = report["selection"]["chosen"].as_f64().unwrap();
    assert!(
        svg.contains(&format!("chosen λ = {chosen:e}")),
        "chosen {chosen}"
    );

    // `recap plot lambda` from the report and from W.json draw the same figure.
    for (input, prefix) in [("fit.json", "from_report"), ("W.json", "from_sidecar")] {
        let out = run_ok(
            recap()
                .args(["plot", "lambda", "--json", "--input"])
                .arg(d.join(input))
                .arg("--out")
                .arg(d.join(prefix)),
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        let svg2 = std::fs::read_to_string(v["svg"].as_str().unwrap()).unwrap();
        assert_eq!(svg2, svg);
        assert_eq!(
            std::fs::read(v["png"].as_str().unwrap()).unwrap(),
            std::fs::read(d.join("lambda.png")).unwrap()
        );
    }

    // No grid, no curve: clap says --lambda-grid is needed, and nothing is fitted.
    let err = run_err(
        recap()
            .args(["fit", "--images"])
            .arg(set.join("images.npy"))
            .arg("--texts")
            .arg(set.join("texts.npy"))
            .args(["--method", "ridge", "-q", "--out"])
            .arg(d.join("W2.npy"))
            .arg("--plot")
            .arg(d.join("nope")),
    );
    assert!(err.contains("--lambda-grid"), "{err}");
    assert!(!d.join("W2.npy").exists() && !d.join("nope.png").exists());
    // A --plot folder that does not exist fails before fitting.
    let err = run_err(
        recap()
            .args(["fit", "--images"])
            .arg(set.join("images.npy"))
            .arg("--texts")
            .arg(set.join("texts.npy"))
            .args(["--lambda-grid", "0.1,1", "-q", "--out"])
            .arg(d.join("W3.npy"))
            .arg("--plot")
            .arg(d.join("no/such/lambda")),
    );
    assert!(err.contains("output folder does not exist"), "{err}");
    assert!(!d.join("W3.npy").exists());
}

#[test]
fn cli_recall_from_eval_retrieval_reports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let set = synth(d);
    run_ok(
        recap()
            .args(["fit", "--images"])
            .arg(set.join("images.npy"))
            .arg("--texts")
            .arg(set.join("texts.npy"))
            .arg("--captions")
            .arg(set.join("captions.json"))
            .args(["--lambda", "0.1", "--normalize", "l2", "-q", "--out"])
            .arg(d.join("W.npy")),
    );
    let eval = |out: &str, map: bool| {
        let mut cmd = recap();
        cmd.args(["eval-retrieval", "-q", "--json", "--images"])
            .arg(set.join("images.npy"))
            .arg("--texts")
            .arg(set.join("texts.npy"))
            .arg("--captions")
            .arg(set.join("captions.json"))
            .arg("--out")
            .arg(d.join(out));
        if map {
            cmd.arg("--map").arg(d.join("W.npy"));
        }
        let stdout = run_ok(&mut cmd);
        // --out holds what --json prints.
        let printed: Value = serde_json::from_str(&stdout).unwrap();
        let written: Value = serde_json::from_slice(&std::fs::read(d.join(out)).unwrap()).unwrap();
        assert_eq!(printed, written);
    };
    eval("raw.json", false);
    eval("aligned.json", true);
    let out = run_ok(
        recap()
            .args(["plot", "recall", "--input"])
            .arg(d.join("raw.json"))
            .args(["--label", "raw CLIP", "--input"])
            .arg(d.join("aligned.json"))
            .args(["--label", "through W", "--out"])
            .arg(d.join("recall")),
    );
    assert_eq!(
        out,
        format!(
            "{}\n{}\n",
            d.join("recall.png").display(),
            d.join("recall.svg").display()
        )
    );
    check_png(&d.join("recall.png"), 1000, 460);
    let svg = read_svg(&d.join("recall.svg"), 1000, 460);
    assert!(svg.contains("raw CLIP") && svg.contains("through W"));
    assert_eq!(polylines_in(&svg, BLUE), 4);
    assert_eq!(polylines_in(&svg, VERMILLION), 4);

    // Default labels are the file stems; labels must match the inputs one to one.
    let out = run_ok(
        recap()
            .args(["plot", "recall", "--json", "--input"])
            .arg(d.join("raw.json"))
            .arg("--input")
            .arg(d.join("aligned.json"))
            .arg("--out")
            .arg(d.join("stems")),
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let svg = std::fs::read_to_string(v["svg"].as_str().unwrap()).unwrap();
    assert!(svg.contains("\nraw\n") && svg.contains("\naligned\n"));
    let err = run_err(
        recap()
            .args(["plot", "recall", "--input"])
            .arg(d.join("raw.json"))
            .args(["--label", "a", "--label", "b", "--out"])
            .arg(d.join("bad")),
    );
    assert!(err.contains("2 labels for 1 inputs"), "{err}");
    // A missing input names the file; nothing is written.
    let err = run_err(
        recap()
            .args(["plot", "lambda", "--input"])
            .arg(d.join("missing.json"))
            .arg("--out")
            .arg(d.join("bad")),
    );
    assert!(err.contains("missing.json"), "{err}");
    // Only recall takes several inputs.
    let err = run_err(
        recap()
            .args(["plot", "lambda", "--input"])
            .arg(d.join("raw.json"))
            .arg("--input")
            .arg(d.join("aligned.json"))
            .arg("--out")
            .arg(d.join("bad")),
    );
    assert!(err.contains("only recall takes several"), "{err}");
    assert!(!d.join("bad.png").exists() && !d.join("bad.svg").exists());
}

#[test]
fn cli_correlation_from_correlate_items() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let judgments = format!(
        "{}/tests/data/metrics/flickr8k_small.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let stdout = run_ok(
        recap()
            .args(["correlate", "--judgments", &judgments, "--tau", "c"])
            .args(["--metrics", "bleu,cider", "--json", "--items-out"])
            .arg(d.join("items.json")),
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let items: Value =
        serde_json::from_slice(&std::fs::read(d.join("items.json")).unwrap()).unwrap();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 12);
    assert!(items[0]["scores"]["CIDEr"].is_number(), "{}", items[0]);
    assert!(items[0]["rating"].is_number() && items[0]["key"].is_string());

    run_ok(
        recap()
            .args(["plot", "correlation", "--tau", "c", "--input"])
            .arg(d.join("items.json"))
            .arg("--out")
            .arg(d.join("corr")),
    );
    let panels = plot::read_correlation_items(d.join("items.json")).unwrap();
    let names: Vec<&str> = panels.iter().map(|p| p.metric.as_str()).collect();
    assert!(
        names.contains(&"CIDEr") && names.contains(&"Bleu_4"),
        "{names:?}"
    );
    let cols = panels.len().min(3) as u32;
    let rows = panels.len().div_ceil(3) as u32;
    check_png(&d.join("corr.png"), 400 * cols, 50 + 360 * rows);
    let svg = read_svg(&d.join("corr.svg"), 400 * cols, 50 + 360 * rows);
    // Each panel's τ is the one recap correlate reported.
    for (name, tau_x100) in report["tau_x100"].as_object().unwrap() {
        let tau = tau_x100.as_f64().unwrap() / 100.0;
        let title = format!("{name}: τ-c = {tau:.4}");
        assert!(svg.contains(&title), "missing {title:?}");
    }
    assert_eq!(svg.matches("<circle").count(), 12 * panels.len());
}
