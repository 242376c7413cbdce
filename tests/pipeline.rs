//! Pipelines end to end: crisis alerts to a webhook receiver on loopback (signed, once per
//! record, pending while the receiver is down), the store lock between two runs, the
//! scheduler stopping on SIGTERM, validation errors, and the shipped pipelines on demo data.

mod common;

use common::{fixture, Env};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "webhook-secret-for-tests";

/// What the receiver got: each request's signature header and body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A webhook receiver: records each POST's signature header and body, answers 200.
struct Receiver {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16, received: Received) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    handle(stream, &r);
                }
            }
        });
        Receiver {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops listening: the port refuses connections afterwards.
    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.thread.take().unwrap().join().unwrap();
    }
}

fn handle(stream: TcpStream, received: &Mutex<Vec<(String, Vec<u8>)>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut signature = String::new();
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "x-xinqing-signature" => signature = v.trim().to_string(),
                "content-length" => length = v.trim().parse().unwrap(),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    received.lock().unwrap().push((signature, body));
    let mut stream = stream;
    let _ =
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

fn write_pipeline(env: &Env, name: &str, body: &str) -> PathBuf {
    let dir = env.dir.path().join("pipelines");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, body).unwrap();
    path
}

fn intake(env: &Env, port: u16) -> PathBuf {
    write_pipeline(
        env,
        "intake",
        &format!(
            r#"
name = "intake"
schedule = "*/15 * * * *"
base_dir = ".."
steps = ["ingest", "alert", "sla"]

[[sources]]
type = "files"
kind = "hotline"
glob = "drop/hotline/*.csv"

[[sources]]
type = "files"
kind = "feedback"
glob = "drop/feedback/*.csv"

[alerts]
min_tier = "ideation"

[[alerts.sinks]]
type = "webhook"
name = "duty"
url = "http://127.0.0.1:{port}/alerts"
secret_env = "XQ_TEST_SECRET"
timeout_secs = 5
attempts = 2
backoff_ms = 50

[[alerts.sinks]]
type = "jsonl"
name = "log"
path = "alerts/alerts.jsonl"
"#
        ),
    )
}

fn run(env: &Env, pipeline: &Path) -> std::process::Output {
    env.command()
        .env("XQ_TEST_SECRET", SECRET)
        .arg("run")
        .arg(pipeline)
        .output()
        .unwrap()
}

/// Runs a pipeline and asserts it succeeded (exit 0), showing its output if not.
fn run_ok(env: &Env, pipeline: &Path) -> std::process::Output {
    let out = run(env, pipeline);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn verify(received: &[(String, Vec<u8>)]) -> Vec<serde_json::Value> {
    use hmac::{Hmac, Mac};
    received
        .iter()
        .map(|(sig, body)| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(body);
            let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            assert_eq!(sig, &want, "the alert is signed with the shared secret");
            serde_json::from_slice(body).unwrap()
        })
        .collect()
}

#[test]
fn crisis_records_alert_once_signed_and_wait_while_the_receiver_is_down() {
    let env = Env::new();
    let drop = env.dir.path().join("drop");
    copy(
        &fixture("bulletin/hotline.csv"),
        &drop.join("hotline/day.csv"),
    );
    copy(
        &fixture("bulletin/feedback.csv"),
        &drop.join("feedback/day.csv"),
    );
    let received = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::start(0, received.clone());
    let port = receiver.port;
    let pipeline = intake(&env, port);

    let out = run_ok(&env, &pipeline);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Within the run: one signed alert per crisis record, by source ID, without text.
    let alerts = verify(&received.lock().unwrap());
    let mut ids: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a["record_id"].as_str().unwrap().into(),
                a["tier"].as_str().unwrap().into(),
            )
        })
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            ("FB0210-11".into(), "ideation".into()),
            ("HL0210-A01".into(), "imminent".into())
        ]
    );
    for a in &alerts {
        for key in [
            "source",
            "category",
            "region",
            "caller_group",
            "record_time",
            "raised_at",
        ] {
            assert!(!a[key].is_null(), "alert has {key}: {a}");
        }
        let text = a.to_string();
        for secret in ["安眠药", "不想活", "13812345678", "A-", "C-", "微信用户"] {
            assert!(!text.contains(secret), "alert carries {secret}: {text}");
        }
    }
    let log = std::fs::read_to_string(env.dir.path().join("alerts/alerts.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    // Ingested drop files were moved out of the way.
    assert!(drop.join("hotline/processed/day.csv").exists());
    assert!(!drop.join("hotline/day.csv").exists());
    assert!(stdout.contains("reply watch"), "{stdout}");

    // A re-export of the same records (one changed field) alerts nothing new.
    let text = std::fs::read_to_string(fixture("bulletin/feedback.csv"))
        .unwrap()
        .replace("县市场监管局", "县市场监督管理局");
    std::fs::write(drop.join("feedback/day-again.csv"), text).unwrap();
    run_ok(&env, &pipeline);
    assert_eq!(received.lock().unwrap().len(), 2, "nothing new is sent");
    assert!(
        env.query("SELECT handler FROM feedback_messages WHERE handler = '县市场监督管理局'")
            .len()
            > 1
    );

    // Receiver down: the new crisis record's alert stays pending; the next run delivers it.
    receiver.stop();
    std::fs::write(
        drop.join("feedback/late.csv"),
        "msg_id,channel,received_at,text\nFB-NEW-1,wechat,2020-02-10 22:00:00,真的撑不下去了，我打算今晚就跳楼。\n",
    )
    .unwrap();
    let out = run_ok(&env, &pipeline);
    let pending = env.query(
        "SELECT a.record_id, d.status, d.attempts FROM alerts a JOIN alert_deliveries d ON d.alert_id = a.id
         WHERE d.sink = 'duty' AND a.record_id = 'FB-NEW-1'",
    );
    assert_eq!(pending[0]["status"], "pending");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 pending"));
    let receiver = Receiver::start(port, received.clone());
    run_ok(&env, &pipeline);
    let all = verify(&received.lock().unwrap());
    assert_eq!(all.len(), 3);
    assert_eq!(all[2]["record_id"], "FB-NEW-1");
    assert_eq!(all[2]["tier"], "imminent");
    receiver.stop();
    let runs = env.query("SELECT status FROM runs ORDER BY id");
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r["status"] == "ok"), "{runs:?}");
}

#[test]
fn two_runs_at_once_one_works_the_other_exits_with_the_lock_code() {
    let env = Env::new();
    env.synth_feedback(60_000);
    let pipeline = write_pipeline(
        &env,
        "big",
        r#"
name = "big"
base_dir = ".."
steps = ["ingest"]
[[sources]]
type = "files"
kind = "feedback"
glob = "synth/feedback/*.csv"
after = "keep"
"#,
    );
    let start = || {
        env.command()
            .arg("run")
            .arg(&pipeline)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut codes = vec![a.status.code().unwrap(), b.status.code().unwrap()];
    codes.sort();
    assert_eq!(codes, vec![0, 5], "one works, the other gets the lock code");
    let loser = if a.status.code() == Some(5) { &a } else { &b };
    assert!(
        String::from_utf8_lossy(&loser.stderr).contains("another run holds the lock"),
        "{}",
        String::from_utf8_lossy(&loser.stderr)
    );
    assert_eq!(env.count("feedback_messages"), 60_000);
    assert_eq!(env.query("SELECT status FROM runs")[0]["status"], "ok");
}

#[test]
fn schedule_runs_a_due_pipeline_and_stops_cleanly_on_sigterm() {
    let env = Env::new();
    copy(
        &fixture("bulletin/feedback.csv"),
        &env.dir.path().join("drop/feedback/day.csv"),
    );
    write_pipeline(
        &env,
        "every-second",
        r#"
name = "every-second"
schedule = "* * * * * *"
base_dir = ".."
steps = ["ingest", "alert"]
[[sources]]
type = "files"
kind = "feedback"
glob = "drop/feedback/*.csv"
[alerts]
[[alerts.sinks]]
type = "jsonl"
name = "log"
path = "alerts.jsonl"
"#,
    );
    let mut child = env
        .command()
        .arg("schedule")
        .arg(env.dir.path().join("pipelines"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let line = lines.next().expect("scheduler output").unwrap();
        let done = line.contains("finished: ok");
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.contains("finished: ok")), "{seen:#?}");
    Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {}", child.id()))
        .status()
        .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{seen:#?}\n{rest:#?}");
    assert!(
        rest.iter().any(|l| l.contains("stopped on signal")),
        "{rest:#?}"
    );
    // The store is intact: every row in, no run left half-done.
    assert_eq!(env.count("feedback_messages"), 30);
    let runs = env.query("SELECT status FROM runs");
    assert!(!runs.is_empty());
    assert!(
        runs.iter()
            .all(|r| r["status"] == "ok" || r["status"] == "interrupted"),
        "{runs:?}"
    );
    let alerts = std::fs::read_to_string(env.dir.path().join("alerts.jsonl")).unwrap();
    assert_eq!(alerts.lines().count(), 1, "the one crisis message, once");
}

#[test]
fn configuration_errors_name_the_file_the_key_and_the_problem() {
    let env = Env::new();
    let cases: [(&str, &str, &[&str]); 4] = [
        ("typo", "name = \"x\"\nschedul = \"0 7 * * *\"\nsteps = [\"bulletin\"]\n", &["typo.toml", "schedul"]),
        ("cron", "name = \"x\"\nschedule = \"61 * * * *\"\nsteps = [\"bulletin\"]\n", &["cron.toml", "schedule", "not a cron expression"]),
        (
            "secret",
            "name = \"x\"\nsteps = [\"alert\"]\n[alerts]\n[[alerts.sinks]]\ntype = \"webhook\"\nname = \"w\"\nurl = \"http://127.0.0.1:1/\"\nsecret_env = \"XQ_UNSET_SECRET\"\n",
            &["secret.toml", "alerts.sinks[0].secret_env", "XQ_UNSET_SECRET"],
        ),
        ("nosources", "name = \"x\"\nsteps = [\"ingest\"]\n", &["nosources.toml", "sources"]),
    ];
    for (name, body, wanted) in cases {
        let path = write_pipeline(&env, name, body);
        let out = env.command().arg("run").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        for w in wanted {
            assert!(err.contains(w), "{name}: '{w}' missing from: {err}");
        }
    }
    // Nothing ran, so nothing was written.
    assert!(!env.db.exists());
}

#[test]
fn the_shipped_pipelines_run_on_the_demo_data_as_the_readme_says() {
    let env = Env::new();
    let root = env.dir.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["intake.toml", "daily-bulletin.toml", "demo.toml"] {
        copy(
            &repo.join("pipelines").join(name),
            &root.join("pipelines").join(name),
        );
    }
    let xinqing = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_xinqing"))
            .env_remove("XINQING_PSEUDONYM_KEY")
            .env_remove("XINQING_DB")
            .env("XINQING_KEY_FILE", root.join("xinqing-demo/pseudonym.key"))
            .current_dir(root)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "xinqing {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    xinqing(&["demo"]);
    let out = xinqing(&["run", "pipelines/demo.toml", "--date", "2020-03-01"]);
    assert!(out.contains("bulletin for 2020-03-01"), "{out}");
    assert!(root
        .join("xinqing-demo/pipeline-reports/2020-03-01/bulletin.html")
        .exists());
    assert!(
        std::fs::read_to_string(root.join("xinqing-demo/alerts.jsonl"))
            .unwrap()
            .lines()
            .count()
            > 10
    );
    // Intake from a drop folder, then the morning bulletin for the last day.
    for kind in ["hotline", "feedback", "screening"] {
        for f in std::fs::read_dir(root.join("xinqing-demo/data").join(kind)).unwrap() {
            let f = f.unwrap().path();
            copy(
                &f,
                &root.join("drop").join(kind).join(f.file_name().unwrap()),
            );
        }
    }
    xinqing(&["run", "pipelines/intake.toml"]);
    assert!(root.join("drop/feedback/processed").is_dir());
    let out = xinqing(&[
        "run",
        "pipelines/daily-bulletin.toml",
        "--date",
        "2020-03-01",
    ]);
    assert!(
        out.contains("reports/out/2020-03-01/bulletin.html"),
        "{out}"
    );
    assert!(root.join("reports/out/2020-03-01/bulletin.json").exists());
    let runs = xinqing(&["runs", "--db", "xinqing.duckdb"]);
    assert!(
        runs.contains("intake") && runs.contains("daily-bulletin"),
        "{runs}"
    );
}

/// Serves a feedback API on loopback: page 1 holds two messages, later pages none.
fn feedback_api() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let body = if request.contains("page=1") {
                serde_json::json!({"items": [
                    {"msg_id": "API-1", "channel": "wechat", "received_at": "2020-02-10T09:00:00+08:00",
                     "author": "用户甲", "text": "小区什么时候解封？菜不够吃了。"},
                    {"msg_id": "API-2", "channel": "app", "received_at": "2020-02-10T09:30:00+08:00",
                     "author": "用户乙", "text": "我已经站在楼顶了，今晚就跳下去。"}
                ]})
            } else {
                serde_json::json!({"items": []})
            }
            .to_string();
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn an_http_source_in_a_pipeline_is_fetched_scored_and_alerted() {
    let env = Env::new();
    let port = feedback_api();
    let sources = env.dir.path().join("pipelines/sources");
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::write(
        sources.join("api.toml"),
        format!(
            "name = \"api\"\nurl = \"http://127.0.0.1:{port}/messages\"\nkind = \"feedback\"\n\
             [pagination]\ntype = \"page\"\npage_param = \"page\"\npage_size = 2\n"
        ),
    )
    .unwrap();
    let pipeline = write_pipeline(
        &env,
        "api",
        r#"
name = "api"
steps = ["ingest", "alert"]
[[sources]]
type = "http"
config = "sources/api.toml"
[alerts]
[[alerts.sinks]]
type = "jsonl"
name = "log"
path = "alerts.jsonl"
"#,
    );
    run_ok(&env, &pipeline);
    assert_eq!(env.count("feedback_messages"), 2);
    let alerts = std::fs::read_to_string(env.dir.path().join("pipelines/alerts.jsonl")).unwrap();
    assert_eq!(alerts.lines().count(), 1);
    assert!(alerts.contains("\"record_id\":\"API-2\"") && alerts.contains("\"tier\":\"imminent\""));
    // The cursor was kept: a second run asks from where the first stopped and stores nothing twice.
    let out = run(&env, &pipeline);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(env.count("feedback_messages"), 2);
}
