//! The OpenAI-compatible HTTP LM client against a small server started on 127.0.0.1 (port 0)
//! that can be told to refuse `n > 1`, ignore `n`, fail, stall, or reply with malformed JSON.
#![cfg(feature = "http")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use recap::pipeline::http::{Api, HttpLm};
use recap::pipeline::{CaptionLm, Decoding};
use recap::Error;
use serde_json::{json, Value};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    RefuseN,
    IgnoreN,
    Fail500,
    FailTwiceThenOk,
    Stall,
    Malformed,
    BadRequest,
}

struct Server {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

fn read_request(stream: &mut TcpStream) -> Option<Value> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn reply(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

fn choices(req: &Value, n: usize) -> Value {
    let chat = req.get("messages").is_some();
    let seed = req["seed"].as_u64().unwrap_or(0);
    let list: Vec<Value> = (0..n)
        .map(|i| {
            let text = format!(" caption {} seed {seed} ", i);
            if chat {
                json!({"index": i, "message": {"role": "assistant", "content": text}, "logprobs": {"content": [{"token": "a", "logprob": -0.5}, {"token": "b", "logprob": -0.25}]}})
            } else {
                json!({"index": i, "text": text, "logprobs": {"token_logprobs": [-0.5, -0.25, -1.0]}})
            }
        })
        .collect();
    json!({ "id": "x", "choices": list })
}

fn start(mode: Mode) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(req) = read_request(&mut stream) else {
                continue;
            };
            let count = {
                let mut b = seen.lock().unwrap();
                b.push(req.clone());
                b.len()
            };
            let n = req["n"].as_u64().unwrap_or(1) as usize;
            match mode {
                Mode::Normal => reply(&mut stream, "200 OK", &choices(&req, n).to_string()),
                Mode::RefuseN if n > 1 => reply(
                    &mut stream,
                    "400 Bad Request",
                    r#"{"error": "n > 1 is not supported"}"#,
                ),
                Mode::RefuseN | Mode::IgnoreN => {
                    reply(&mut stream, "200 OK", &choices(&req, 1).to_string())
                }
                Mode::Fail500 => reply(
                    &mut stream,
                    "500 Internal Server Error",
                    r#"{"error": "boom"}"#,
                ),
                Mode::FailTwiceThenOk if count <= 2 => {
                    reply(&mut stream, "503 Service Unavailable", "{}")
                }
                Mode::FailTwiceThenOk => {
                    reply(&mut stream, "200 OK", &choices(&req, n).to_string())
                }
                Mode::Stall => std::thread::sleep(Duration::from_secs(3)),
                Mode::Malformed => reply(&mut stream, "200 OK", "{\"choices\": [oops"),
                Mode::BadRequest => reply(
                    &mut stream,
                    "404 Not Found",
                    r#"{"error": "model not found"}"#,
                ),
            }
        }
    });
    Server { url, bodies }
}

fn client(server: &Server, api: Api) -> HttpLm {
    HttpLm::new(&server.url, "tiny", api)
        .timeouts(Duration::from_secs(2), Duration::from_millis(800))
        .retries(2, Duration::from_millis(20))
}

fn sample(seed: u64) -> Decoding {
    Decoding::Sample {
        temperature: 0.7,
        top_k: 0,
        top_p: 0.9,
        seed,
    }
}

#[test]
fn asks_for_n_in_one_request_and_sums_logprobs() {
    for api in [Api::Completions, Api::Chat] {
        let s = start(Mode::Normal);
        let got = client(&s, api)
            .generate("Similar images show", 3, &sample(7), 20)
            .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].text, "caption 1 seed 7");
        let expected = if api == Api::Chat { -0.75 } else { -1.75 };
        assert_eq!(got[0].logprob, Some(expected));
        let bodies = s.bodies.lock().unwrap();
        assert_eq!(bodies.len(), 1);
        let b = &bodies[0];
        assert_eq!(
            (
                b["n"].as_u64(),
                b["max_tokens"].as_u64(),
                b["seed"].as_u64()
            ),
            (Some(3), Some(20), Some(7))
        );
        assert!(
            b.get("best_of").is_none()
                && b.get("top_k").is_none()
                && b.get("use_beam_search").is_none()
        );
    }
}

#[test]
fn greedy_is_temperature_zero_and_one_candidate() {
    let s = start(Mode::Normal);
    let got = client(&s, Api::Completions)
        .generate("p", 5, &Decoding::Greedy, 8)
        .unwrap();
    assert_eq!(got.len(), 1);
    let b = &s.bodies.lock().unwrap()[0];
    assert_eq!(
        (b["temperature"].as_f64(), b["n"].as_u64()),
        (Some(0.0), Some(1))
    );
}

#[test]
fn refused_n_falls_back_to_seeded_single_requests_and_remembers() {
    let s = start(Mode::RefuseN);
    let lm = client(&s, Api::Completions);
    let got = lm.generate("p", 3, &sample(100), 8).unwrap();
    let texts: Vec<&str> = got.iter().map(|g| g.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "caption 0 seed 100",
            "caption 0 seed 101",
            "caption 0 seed 102"
        ]
    );
    assert_eq!(
        s.bodies.lock().unwrap().len(),
        4,
        "one refused request, then three singles"
    );
    lm.generate("p", 2, &sample(5), 8).unwrap();
    assert_eq!(
        s.bodies.lock().unwrap().len(),
        6,
        "the refusal is remembered: no second n > 1 request"
    );
}

#[test]
fn ignored_n_is_completed_with_single_requests() {
    let s = start(Mode::IgnoreN);
    let got = client(&s, Api::Chat)
        .generate("p", 3, &sample(1), 8)
        .unwrap();
    let texts: Vec<&str> = got.iter().map(|g| g.text.as_str()).collect();
    assert_eq!(
        texts,
        vec!["caption 0 seed 1", "caption 0 seed 2", "caption 0 seed 3"]
    );
}

#[test]
fn server_errors_are_retried_then_reported() {
    let s = start(Mode::FailTwiceThenOk);
    assert_eq!(
        client(&s, Api::Completions)
            .generate("p", 2, &sample(1), 8)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(s.bodies.lock().unwrap().len(), 3, "two 503s retried");
    let s = start(Mode::Fail500);
    let e = client(&s, Api::Completions)
        .generate("p", 1, &sample(1), 8)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Http { problem, .. } if problem.contains("HTTP 500") && problem.contains("boom")),
        "{e}"
    );
    assert_eq!(
        s.bodies.lock().unwrap().len(),
        3,
        "first attempt + 2 retries"
    );
}

#[test]
fn client_errors_are_not_retried() {
    let s = start(Mode::BadRequest);
    let e = client(&s, Api::Completions)
        .generate("p", 1, &sample(1), 8)
        .unwrap_err();
    assert!(
        e.to_string().contains("HTTP 404") && e.to_string().contains("model not found"),
        "{e}"
    );
    assert_eq!(s.bodies.lock().unwrap().len(), 1);
}

#[test]
fn a_stalled_server_times_out() {
    let s = start(Mode::Stall);
    let e = client(&s, Api::Completions)
        .retries(0, Duration::ZERO)
        .generate("p", 1, &sample(1), 8)
        .unwrap_err();
    assert!(e.to_string().contains("timed out"), "{e}");
}

#[test]
fn malformed_json_is_named() {
    let s = start(Mode::Malformed);
    let e = client(&s, Api::Completions)
        .generate("p", 1, &sample(1), 8)
        .unwrap_err();
    assert!(e.to_string().contains("malformed JSON"), "{e}");
}

#[test]
fn connection_refused_and_beam_search_are_errors() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let lm = HttpLm::new(
        &format!("http://127.0.0.1:{port}/v1/"),
        "m",
        Api::Completions,
    )
    .retries(1, Duration::from_millis(10));
    let e = lm.generate("p", 1, &sample(1), 8).unwrap_err();
    assert!(e.to_string().contains("cannot reach the server"), "{e}");
    let e = lm
        .generate(
            "p",
            2,
            &Decoding::Beam {
                width: 4,
                length_penalty: 1.0,
            },
            8,
        )
        .unwrap_err();
    assert!(e.to_string().contains("beam search is not part"), "{e}");
}
