//! The HTTP source against a server this test runs on loopback, with faults injected:
//! 500s, 429 with Retry-After, a response slower than the timeout, malformed JSON, a dropped
//! connection, and a source that fails mid-stream and is fetched again later.

mod common;

use common::TEST_KEY;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use xinqing::error::{exit_code, FailureKind};
use xinqing::http_source::{fetch, load_state, HttpSourceConfig};
use xinqing::ingest::Validator;
use xinqing::redact::{Pseudonymizer, Redactor};
use xinqing::schema::Kind;
use xinqing::store::Store;

#[derive(Clone, Copy, Debug)]
enum Fault {
    ServerError,
    TooMany { retry_after_s: u32 },
    Slow(Duration),
    MalformedJson,
    Drop,
}

struct Server {
    port: u16,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    /// Requests for this offset fail with 500 while set.
    broken_offset: Arc<Mutex<Option<usize>>>,
    items: Arc<Mutex<Vec<serde_json::Value>>>,
    requests: Arc<AtomicUsize>,
    bad_auth: Arc<AtomicBool>,
}

fn message(i: usize) -> serde_json::Value {
    serde_json::json!({
        "msg_id": format!("API{i:04}"),
        "channel": "wechat",
        "received_at": format!("2020-02-0{}T{:02}:00:00+08:00", 1 + i / 24 % 9, i % 24),
        "author": format!("用户{i}"),
        "text": format!("第{i}条留言：核酸结果什么时候出？电话1390000{i:04}"),
        "region": "城关街道",
    })
}

impl Server {
    fn start(items: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Server {
            port: listener.local_addr().unwrap().port(),
            faults: Arc::default(),
            broken_offset: Arc::default(),
            items: Arc::new(Mutex::new((0..items).map(message).collect())),
            requests: Arc::default(),
            bad_auth: Arc::default(),
        };
        let (faults, broken, data, requests, bad_auth) = (
            server.faults.clone(),
            server.broken_offset.clone(),
            server.items.clone(),
            server.requests.clone(),
            server.bad_auth.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (faults, broken, data, requests, bad_auth) = (
                    faults.clone(),
                    broken.clone(),
                    data.clone(),
                    requests.clone(),
                    bad_auth.clone(),
                );
                std::thread::spawn(move || {
                    handle(stream, &faults, &broken, &data, &requests, &bad_auth)
                });
            }
        });
        server
    }

    fn fault(&self, f: Fault) {
        self.faults.lock().unwrap().push_back(f);
    }
}

fn respond(stream: &mut TcpStream, status: &str, extra: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
}

fn handle(
    mut stream: TcpStream,
    faults: &Mutex<VecDeque<Fault>>,
    broken: &Mutex<Option<usize>>,
    data: &Mutex<Vec<serde_json::Value>>,
    requests: &AtomicUsize,
    bad_auth: &AtomicBool,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut authorised = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if line
            .to_ascii_lowercase()
            .starts_with("authorization: bearer s3cret")
        {
            authorised = true;
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    if !authorised {
        bad_auth.store(true, Ordering::SeqCst);
        return respond(&mut stream, "401 Unauthorized", "", "{}");
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    let (offset, page_mode) = match (param("cursor"), param("page")) {
        (Some(c), _) => (c.trim_start_matches('c').parse::<usize>().unwrap(), false),
        (None, Some(p)) => ((p.parse::<usize>().unwrap() - 1) * 10, true),
        (None, None) => (0, false),
    };
    if let Some(f) = faults.lock().unwrap().pop_front() {
        match f {
            Fault::ServerError => {
                return respond(&mut stream, "500 Internal Server Error", "", "{}")
            }
            Fault::TooMany { retry_after_s } => {
                return respond(
                    &mut stream,
                    "429 Too Many Requests",
                    &format!("Retry-After: {retry_after_s}\r\n"),
                    "{}",
                )
            }
            Fault::Slow(d) => std::thread::sleep(d),
            Fault::MalformedJson => {
                return respond(&mut stream, "200 OK", "", "{\"items\": [{\"msg_id\": ")
            }
            Fault::Drop => return,
        }
    }
    if *broken.lock().unwrap() == Some(offset) {
        return respond(&mut stream, "503 Service Unavailable", "", "{}");
    }
    let items = data.lock().unwrap();
    let page: Vec<_> = items.iter().skip(offset).take(10).cloned().collect();
    let next = offset + page.len();
    let body = if page_mode {
        serde_json::json!({ "data": { "items": page } })
    } else {
        serde_json::json!({
            "items": page,
            "next_cursor": if next < items.len() { Some(format!("c{next}")) } else { None },
        })
    };
    respond(&mut stream, "200 OK", "", &body.to_string());
}

fn config(dir: &std::path::Path, port: u16, pagination: &str, extra: &str) -> HttpSourceConfig {
    std::env::set_var("XQ_TEST_API_TOKEN", "s3cret");
    let path = dir.join(format!("source-{port}.toml"));
    let items_field = if pagination.contains("page") {
        "data.items"
    } else {
        "items"
    };
    std::fs::write(
        &path,
        format!(
            r#"
name = "wechat-api"
url = "http://127.0.0.1:{port}/messages"
items_field = "{items_field}"
timeout_secs = 0.5
max_retries = 6
backoff_initial_ms = 10
backoff_max_ms = 50
{extra}
[pagination]
{pagination}
[auth]
prefix = "Bearer "
env = "XQ_TEST_API_TOKEN"
"#
        ),
    )
    .unwrap();
    HttpSourceConfig::load(&path).unwrap()
}

fn stored_ids(store: &Store) -> Vec<String> {
    let mut stmt = store
        .conn()
        .prepare("SELECT msg_id FROM feedback_messages ORDER BY msg_id")
        .unwrap();
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    ids
}

fn run_fetch(
    store: &mut Store,
    config: &HttpSourceConfig,
) -> anyhow::Result<xinqing::http_source::FetchReport> {
    let pseudonyms = Pseudonymizer::new(TEST_KEY.as_bytes().to_vec()).unwrap();
    let validator = Validator::new(Kind::Feedback, &Redactor, Some(&pseudonyms), None);
    fetch(store, config, &validator)
}

#[test]
fn survives_every_fault_with_no_row_lost_or_duplicated() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(25);
    for f in [
        Fault::ServerError,
        Fault::TooMany { retry_after_s: 1 },
        Fault::Slow(Duration::from_secs(2)),
        Fault::MalformedJson,
        Fault::Drop,
    ] {
        server.fault(f);
    }
    let cfg = config(dir.path(), server.port, "type = \"cursor\"", "");
    let mut store = Store::open(&dir.path().join("s.duckdb")).unwrap();
    let started = std::time::Instant::now();
    let report = run_fetch(&mut store, &cfg).unwrap();
    assert_eq!(report.pages, 3);
    assert_eq!(report.retries, 5);
    assert_eq!(report.counts.inserted, 25);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    let ids = stored_ids(&store);
    assert_eq!(ids.len(), 25);
    assert_eq!(ids[0], "API0000");
    assert!(!server.bad_auth.load(Ordering::SeqCst));

    // Fetching again reads only the last page again: nothing new, nothing doubled.
    let again = run_fetch(&mut store, &cfg).unwrap();
    assert_eq!(again.counts.inserted, 0);
    assert_eq!(again.pages, 1);
    assert_eq!(stored_ids(&store).len(), 25);

    // The text was redacted and the author pseudonymised on the way in.
    let (text, author): (String, String) = store
        .conn()
        .query_row(
            "SELECT text, author FROM feedback_messages WHERE msg_id = 'API0003'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        text.contains("〔手机号〕") && !text.contains("13900000003"),
        "{text}"
    );
    assert!(author.starts_with("A-"));
}

#[test]
fn a_source_that_fails_mid_stream_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(25);
    *server.broken_offset.lock().unwrap() = Some(20);
    let cfg = config(dir.path(), server.port, "type = \"cursor\"", "");
    let mut store = Store::open(&dir.path().join("s.duckdb")).unwrap();
    let err = run_fetch(&mut store, &cfg).unwrap_err();
    assert_eq!(exit_code(&err), FailureKind::Source.exit_code());
    assert!(format!("{err:#}").contains("503"), "{err:#}");
    // The two pages before the failure are committed, with the cursor after them.
    assert_eq!(stored_ids(&store).len(), 20);
    assert_eq!(
        load_state(&store, "wechat-api").unwrap().cursor.as_deref(),
        Some("c20")
    );

    *server.broken_offset.lock().unwrap() = None;
    let report = run_fetch(&mut store, &cfg).unwrap();
    assert_eq!(report.counts.inserted, 5);
    let ids = stored_ids(&store);
    assert_eq!(ids.len(), 25);
    let mut dedup = ids.clone();
    dedup.dedup();
    assert_eq!(dedup, ids);
}

#[test]
fn page_numbered_sources_read_a_short_last_page_again_for_new_items() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(25);
    let cfg = config(
        dir.path(),
        server.port,
        "type = \"page\"\npage_size = 10",
        "",
    );
    let mut store = Store::open(&dir.path().join("s.duckdb")).unwrap();
    let report = run_fetch(&mut store, &cfg).unwrap();
    assert_eq!((report.pages, report.counts.inserted), (3, 25));
    server.items.lock().unwrap().extend((25..28).map(message));
    let report = run_fetch(&mut store, &cfg).unwrap();
    assert_eq!(
        (
            report.pages,
            report.counts.inserted,
            report.counts.unchanged
        ),
        (1, 3, 5)
    );
    assert_eq!(stored_ids(&store).len(), 28);
}

#[test]
fn bad_items_go_to_rejects_and_the_rest_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(3);
    {
        let mut items = server.items.lock().unwrap();
        items[1].as_object_mut().unwrap().remove("msg_id");
        items.push(serde_json::json!("not an object"));
    }
    let cfg = config(dir.path(), server.port, "type = \"cursor\"", "");
    let mut store = Store::open(&dir.path().join("s.duckdb")).unwrap();
    let report = run_fetch(&mut store, &cfg).unwrap();
    assert_eq!((report.counts.inserted, report.counts.rejected), (2, 2));
    let reasons: Vec<String> = {
        let mut stmt = store
            .conn()
            .prepare("SELECT reason FROM rejects ORDER BY line")
            .unwrap();
        let r = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        r
    };
    assert!(reasons[0].starts_with("missing msg_id"), "{reasons:?}");
    assert_eq!(reasons[1], "not a JSON object");
}

#[test]
fn configuration_is_checked_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let write = |body: &str| {
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, body).unwrap();
        p
    };
    let cases = [
        ("name = \"x\"\nurl = \"http://127.0.0.1:9/\"\nurll = 1\n[pagination]\ntype = \"cursor\"\n", "urll"),
        ("name = \"x\"\nurl = \"not a url\"\n[pagination]\ntype = \"cursor\"\n", "`url`"),
        ("name = \"x\"\nurl = \"ftp://h/\"\n[pagination]\ntype = \"cursor\"\n", "`url`"),
        ("name = \"x\"\nurl = \"http://h/\"\n[pagination]\ntype = \"scroll\"\n", "scroll"),
        ("name = \"x\"\nurl = \"http://h/\"\n[pagination]\ntype = \"cursor\"\n[auth]\nenv = \"XQ_SURELY_UNSET_VAR\"\n", "auth.env"),
        ("name = \"x y\"\nurl = \"http://h/\"\n[pagination]\ntype = \"cursor\"\n", "`name`"),
    ];
    for (body, needle) in cases {
        let err = HttpSourceConfig::load(&write(body)).unwrap_err();
        let msg = format!("{err:#}");
        assert_eq!(exit_code(&err), FailureKind::Config.exit_code(), "{msg}");
        assert!(
            msg.contains(needle) && msg.contains("bad.toml"),
            "{needle}: {msg}"
        );
    }
}
