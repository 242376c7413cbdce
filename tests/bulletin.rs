//! The daily bulletin: structure, figures worked out by hand for a small fixed data set
//! (tests/fixtures/bulletin/make_bulletin_fixtures.py explains each), suppression, privacy,
//! missing sources, and the demo's bulletin checked against `xinqing query`.

mod common;

use common::{fixture, Env};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const SECTIONS: [&str; 8] = [
    "一、总体态势",
    "二、情绪分析",
    "三、热点话题",
    "四、高危预警",
    "五、热线服务",
    "六、重点人群",
    "七、回复时效",
    "八、工作建议",
];

const CHARTS: [&str; 6] = [
    "polarity_trend",
    "emotions",
    "topics",
    "prevalence",
    "hotline_hours",
    "hotline_weekday",
];

fn fixture_store() -> Env {
    let env = Env::new();
    env.ingest("hotline", &[fixture("bulletin/hotline.csv")]);
    env.ingest("feedback", &[fixture("bulletin/feedback.csv")]);
    env.ingest("screening", &[fixture("bulletin/screening.csv")]);
    env
}

fn bulletin(env: &Env, date: &str) -> (PathBuf, Value) {
    let out = env.dir.path().join(format!("out-{date}"));
    let printed = env.ok(&["bulletin", "--date", date, "--out", out.to_str().unwrap()]);
    assert_eq!(
        printed.trim(),
        out.join("bulletin.html").display().to_string()
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bulletin.json")).unwrap()).unwrap();
    (out, json)
}

fn assert_sections_in_order(text: &str, what: &str) {
    let mut last = 0;
    for s in SECTIONS {
        let at = text
            .find(s)
            .unwrap_or_else(|| panic!("{what} lacks the section {s}"));
        assert!(at > last, "{what}: {s} is out of order");
        last = at;
    }
}

fn all_output_text(dir: &Path) -> String {
    let mut text = String::new();
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    text
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn approx(v: &Value, want: f64) {
    let got = v
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"));
    assert!((got - want).abs() < 1e-3, "expected {want}, got {got}");
}

#[test]
fn bulletin_files_sections_and_charts() {
    let env = fixture_store();
    let (out, _) = bulletin(&env, "2020-02-10");
    let html = std::fs::read_to_string(out.join("bulletin.html")).unwrap();
    let md = std::fs::read_to_string(out.join("bulletin.md")).unwrap();
    assert_sections_in_order(&html, "bulletin.html");
    assert_sections_in_order(&md, "bulletin.md");

    // Self-contained: no scripts, no links, nothing fetched; the font is inline.
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("<link"), "no linked resources");
    assert!(!html.contains("src=\""), "no fetched sources");
    for (i, _) in html.match_indices("url(") {
        assert!(
            html[i..].starts_with("url(data:"),
            "only data URIs may be referenced"
        );
    }
    assert!(html.contains("@page { size: A4"), "an A4 print stylesheet");

    for name in CHARTS {
        let png = std::fs::read(out.join(format!("charts/{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png is a PNG");
        assert!(png.len() > 5_000, "{name}.png has content");
        let svg = std::fs::read_to_string(out.join(format!("charts/{name}.svg"))).unwrap();
        // Labels are glyph outlines, so no font is needed to show the Chinese.
        assert!(svg.starts_with("<svg"), "{name}.svg");
        assert!(!svg.contains("<text"), "{name}.svg draws its text as paths");
        assert!(
            svg.matches("<path d=\"M").count() > 5,
            "{name}.svg has labels"
        );
        assert!(
            md.contains(&format!("charts/{name}.png")),
            "bulletin.md shows {name}"
        );
    }
    // Each chart is inline in the HTML.
    assert_eq!(html.matches("<svg").count(), CHARTS.len());
}

#[test]
fn bulletin_figures_match_the_fixture() {
    let env = fixture_store();
    let (_, b) = bulletin(&env, "2020-02-10");
    assert_eq!(b["date"], "2020-02-10");
    assert_eq!(b["weekday"], "星期一");
    assert_eq!(b["coverage"]["missing"], serde_json::json!([]));

    // 一: volume against the day before and the week's mean.
    let rows = b["overview"]["rows"].as_array().unwrap();
    let hotline = &rows[0];
    assert_eq!(hotline["label"], "热线来电（合计）");
    assert_eq!(hotline["day"], 20);
    assert_eq!(hotline["previous_day"], 6);
    approx(&hotline["mean_7d"], 11.0 / 7.0);
    approx(&hotline["change_on_previous_day"], 20.0 / 6.0 - 1.0);
    let feedback = rows
        .iter()
        .find(|r| r["label"] == "网络留言（合计）")
        .unwrap();
    assert_eq!(feedback["day"], 20);
    assert_eq!(feedback["previous_day"], 10);

    // 三: six complaints about masks, all negative.
    let supplies = b["topics"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["topic"] == "supplies")
        .unwrap();
    assert_eq!(supplies["n"], 6);
    approx(&supplies["negative_share"], 1.0);
    assert!(!b["topics"]["quotes"].as_array().unwrap().is_empty());
    // No text is quoted twice, though it may belong to two of the leading topics.
    let quoted: Vec<&str> = b["topics"]["quotes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["quotes"].as_array().unwrap())
        .map(|q| q["text"].as_str().unwrap())
        .collect();
    let distinct: std::collections::HashSet<&&str> = quoted.iter().collect();
    assert_eq!(distinct.len(), quoted.len(), "{quoted:?}");

    // 四: the suicide plan (hotline) and the ideation (feedback), by source ID only.
    let crisis = &b["crisis"];
    assert_eq!(crisis["total"], 2);
    let items = crisis["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], "HL0210-A01");
    assert_eq!(items[0]["tier"], "imminent");
    assert_eq!(items[1]["id"], "FB0210-11");
    assert_eq!(items[1]["tier"], "ideation");
    assert_eq!(items[1]["status"], "未回复，需立即联系");
    // One of each tier in one region: published as "<5".
    assert_eq!(crisis["by_region"][0]["total"], "<5");

    // 五: hotline KPIs.
    let k = &b["hotline"]["total"];
    assert_eq!(k["offered"], 20);
    assert_eq!(k["answered"], 14);
    approx(&k["answer_rate"], 0.7);
    assert_eq!(k["abandoned"], 6);
    approx(&k["speed_to_answer_s"], 360.0 / 14.0);
    approx(&k["handle_time_s"], 7200.0 / 14.0);
    // Three calls after 18:00: too few to publish, and so is their coverage.
    assert_eq!(k["after_hours_offered"], "<5");
    assert_eq!(k["after_hours_coverage"], "<5");
    let providers = b["hotline"]["by_provider"].as_array().unwrap();
    assert_eq!(providers[0]["key"], "县人民医院心理科");
    approx(&providers[0]["answer_rate"], 10.0 / 12.0);
    // Four answered of eight: the count and the rate resting on it are suppressed.
    assert_eq!(providers[1]["answered"], "<5");
    assert_eq!(providers[1]["answer_rate"], "<5");

    // 六: prevalence with a Wilson interval and the change on the last period.
    let groups = b["groups"]["rows"].as_array().unwrap();
    let q = groups.iter().find(|g| g["group"] == "quarantined").unwrap();
    approx(&q["prevalence"], 0.25);
    approx(&q["ci_low"], 0.1755);
    approx(&q["ci_high"], 0.3430);
    approx(&q["previous"], 0.20);
    approx(&q["change_pp"], 0.05);
    let s = groups.iter().find(|g| g["group"] == "student").unwrap();
    assert_eq!(s["positive"], "<5", "3 positives are suppressed");
    assert_eq!(s["prevalence"], "<5", "and so is the rate resting on them");
    approx(&s["previous"], 0.12);

    // 七: the day before's ten messages: 8 within 24 h, one late, one never.
    let r = &b["replies"];
    assert_eq!(r["total"]["due"], 10);
    assert_eq!(r["total"]["within_24h"], 8);
    approx(&r["total"]["share_within_24h"], 0.8);
    assert_eq!(r["overdue_total"], 1);
    assert_eq!(r["overdue"][0]["msg_id"], "FB0209-09");
    assert_eq!(r["nearly_due"], 2);

    // 八: each rule that the data trips, with its evidence.
    let advice = b["advice"].as_array().unwrap();
    let has = |topic: &str, evidence: &str| {
        advice
            .iter()
            .any(|a| a["topic"] == topic && a["evidence"].as_str().unwrap().contains(evidence))
    };
    assert!(has("高危预警", "2条"), "{advice:#?}");
    assert!(
        has("重点人群", "10.0% → 15.0% → 20.0% → 25.0%"),
        "{advice:#?}"
    );
    assert!(has("回复时效", "80.0%"), "{advice:#?}");
}

#[test]
fn figures_agree_with_query_on_the_same_store() {
    let env = fixture_store();
    let (_, b) = bulletin(&env, "2020-02-10");
    let q = env.query(
        "SELECT count(*) AS offered,
                count(*) FILTER (WHERE status = 'answered') AS answered,
                avg(epoch(answered_at - started_at)) AS asa
         FROM hotline_calls WHERE CAST(started_at AS DATE) = DATE '2020-02-10'",
    );
    assert_eq!(b["hotline"]["total"]["offered"], q[0]["offered"]);
    assert_eq!(b["hotline"]["total"]["answered"], q[0]["answered"]);
    approx(
        &b["hotline"]["total"]["speed_to_answer_s"],
        q[0]["asa"].as_f64().unwrap(),
    );
    let neg = env.query(
        "SELECT count(*) FILTER (WHERE polarity = 'negative') AS neg, count(*) AS n FROM (
            SELECT polarity FROM hotline_calls WHERE notes IS NOT NULL AND CAST(started_at AS DATE) = DATE '2020-02-10'
            UNION ALL SELECT polarity FROM feedback_messages WHERE CAST(received_at AS DATE) = DATE '2020-02-10')",
    );
    let share = b["sentiment"]["polarity"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "negative")
        .unwrap()["share"]
        .clone();
    approx(
        &share,
        neg[0]["neg"].as_f64().unwrap() / neg[0]["n"].as_f64().unwrap(),
    );
}

#[test]
fn personal_data_and_pseudonyms_leave_no_trace_in_any_output() {
    let env = fixture_store();
    let (out, _) = bulletin(&env, "2020-02-10");
    let text = all_output_text(&out);
    for needle in [
        "13812345678",
        "110105199003071234",
        "1381234",
        "王芳",
        "微信用户",
    ] {
        assert!(!text.contains(needle), "{needle} appears in the bulletin");
    }
    for row in env.query(
        "SELECT DISTINCT author AS p FROM feedback_messages WHERE author IS NOT NULL
         UNION SELECT DISTINCT counselor_id FROM hotline_calls WHERE counselor_id IS NOT NULL",
    ) {
        let p = row["p"].as_str().unwrap();
        assert!(
            !text.contains(p),
            "the pseudonym {p} appears in the bulletin"
        );
    }
    // The crisis and PII texts are never quoted.
    assert!(!text.contains("不想活了"));
    assert!(!text.contains("安眠药"));
}

#[test]
fn partial_and_empty_days_say_what_is_missing() {
    let env = fixture_store();
    // 2020-02-08: hotline calls only.
    let (out, b) = bulletin(&env, "2020-02-08");
    assert_eq!(b["coverage"]["missing"], serde_json::json!(["网络留言"]));
    let html = std::fs::read_to_string(out.join("bulletin.html")).unwrap();
    assert!(html.contains("当日未收到网络留言数据"));
    assert_sections_in_order(&html, "partial day");
    assert_eq!(b["hotline"]["total"]["offered"], 5);
    // 2020-01-25: inside a screening period, nothing else.
    let (out, b) = bulletin(&env, "2020-01-25");
    assert_eq!(
        b["coverage"]["missing"],
        serde_json::json!(["热线来电", "网络留言"])
    );
    assert_eq!(b["crisis"]["total"], 0);
    let md = std::fs::read_to_string(out.join("bulletin.md")).unwrap();
    assert_sections_in_order(&md, "empty day");
    assert!(md.contains("当日未识别出自杀、自伤或伤人风险线索"));
    for name in CHARTS {
        assert!(out.join(format!("charts/{name}.svg")).exists());
    }
}

#[test]
fn a_date_outside_the_stored_range_is_a_clear_error() {
    let env = fixture_store();
    let out = env.run(&["bulletin", "--date", "2020-03-15"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "2020-03-15 is outside the stored data, which runs from 2020-01-14 to 2020-02-10"
        ),
        "{err}"
    );
    let nothing = Env::new().run(&["bulletin", "--date", "2020-02-10"]);
    assert_eq!(nothing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("no store at"));
}

#[test]
fn demo_writes_a_bulletin_whose_figures_match_query() {
    let env = Env::new();
    let dir = env.dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_xinqing"))
        .env_remove("XINQING_PSEUDONYM_KEY")
        .env_remove("XINQING_KEY_FILE")
        .env_remove("XINQING_DB")
        .args(["demo", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let html = dir.join("reports/2020-03-01/bulletin.html");
    assert!(
        stdout.contains(&html.display().to_string()),
        "the demo prints the bulletin's path: {stdout}"
    );
    let b: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("reports/2020-03-01/bulletin.json")).unwrap(),
    )
    .unwrap();
    let demo = Env {
        db: dir.join("xinqing.duckdb"),
        dir: tempfile::tempdir().unwrap(),
    };
    let q = &demo.query(
        "SELECT count(*) AS offered,
                count(*) FILTER (WHERE status IN ('answered', 'transferred')) AS answered,
                count(*) FILTER (WHERE status = 'abandoned') AS abandoned
         FROM hotline_calls WHERE CAST(started_at AS DATE) = DATE '2020-03-01'",
    )[0];
    let k = &b["hotline"]["total"];
    assert_eq!(k["offered"], q["offered"]);
    assert_eq!(k["answered"], q["answered"]);
    assert_eq!(k["abandoned"], q["abandoned"]);
    let f = &demo.query(
        "SELECT count(*) AS n FROM feedback_messages WHERE CAST(received_at AS DATE) = DATE '2020-03-01'",
    )[0];
    let feedback = b["overview"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "网络留言（合计）")
        .unwrap()
        .clone();
    assert_eq!(feedback["day"], f["n"]);
    let s = &demo.query(
        "SELECT CAST(sum(screened) AS BIGINT) AS n, CAST(sum(positive) AS BIGINT) AS k FROM screening_aggregates
         WHERE caller_group = 'quarantined' AND instrument = 'GAD-7' AND period_end = DATE '2020-03-01'",
    )[0];
    let g = b["groups"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "quarantined" && r["instrument"] == "GAD-7")
        .unwrap()
        .clone();
    approx(
        &g["prevalence"],
        s["k"].as_f64().unwrap() / s["n"].as_f64().unwrap(),
    );
    // Every section is filled: each has rows or a sentence of its own.
    for key in [
        "overview",
        "sentiment",
        "topics",
        "crisis",
        "hotline",
        "groups",
        "replies",
    ] {
        assert!(b[key].is_object(), "{key}");
    }
    assert!(!b["topics"]["hot_words"].as_array().unwrap().is_empty());
    assert!(!b["groups"]["rows"].as_array().unwrap().is_empty());
    assert!(!b["advice"].as_array().unwrap().is_empty());
}
