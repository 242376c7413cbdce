//! Ingest through the real binary: formats, idempotency, updates, rejects, confidentiality,
//! atomicity, locking and exit codes.

mod common;

use common::{fixture, Env};
use std::process::{Command, Stdio};
use std::time::Duration;

const COMPARABLE: &str =
    "SELECT * EXCLUDE (source_file, source_line, first_seen_at, updated_at, scored_at)
                          FROM hotline_calls ORDER BY call_id";

#[test]
fn gb18030_csv_xlsx_and_jsonl_ingest_to_the_same_rows() {
    let mut results = Vec::new();
    for file in ["hotline_gb18030.csv", "hotline.xlsx", "hotline.jsonl"] {
        let env = Env::new();
        let out = env.ingest("hotline", &[fixture(file)]);
        assert!(out.contains("read 8, new 8"), "{file}: {out}");
        results.push((file, env.query(COMPARABLE)));
    }
    let (_, first) = &results[0];
    assert_eq!(first.len(), 8);
    for (file, rows) in &results[1..] {
        assert_eq!(rows, first, "{file} differs from the GB18030 CSV");
    }
    let hl3 = &first[2];
    assert_eq!(hl3["call_id"], "HL0003");
    assert_eq!(hl3["status"], "answered");
    assert_eq!(hl3["risk_level"], "imminent");
    assert_eq!(hl3["caller_group"], "family");
    assert_eq!(hl3["started_at"], "2020-02-03 22:40:11");
    assert!(hl3["counselor_id"].as_str().unwrap().starts_with("C-"));
    assert!(hl3["notes"].as_str().unwrap().contains("〔手机号〕"));
    assert_eq!(first[1]["status"], "abandoned");
    assert_eq!(first[4]["status"], "transferred");
    assert_eq!(first[4]["referral"], "yes");
    assert_eq!(first[0]["referral"], "no");
    assert_eq!(first[0]["satisfaction"], 5);
}

#[test]
fn ingesting_the_same_files_twice_changes_nothing() {
    let env = Env::new();
    let files = [
        (
            "hotline",
            vec![fixture("hotline_gb18030.csv"), fixture("hotline.jsonl")],
        ),
        (
            "feedback",
            vec![fixture("feedback_mixed.csv"), fixture("feedback_day1.csv")],
        ),
        ("screening", vec![fixture("screening_zh.csv")]),
    ];
    for (kind, f) in &files {
        env.ingest(kind, f);
    }
    let tables = [
        "hotline_calls",
        "feedback_messages",
        "screening_aggregates",
        "rejects",
        "ingest_ledger",
    ];
    let before: Vec<i64> = tables.iter().map(|t| env.count(t)).collect();
    for (kind, f) in &files {
        let out = env.ingest(kind, f);
        assert!(out.contains("already ingested"), "{out}");
    }
    let after: Vec<i64> = tables.iter().map(|t| env.count(t)).collect();
    assert_eq!(before, after);

    // Read again on purpose: records and rejects still unchanged, the ledger notes the reads.
    let out = env.ok(&[
        "ingest",
        "feedback",
        "--force",
        fixture("feedback_mixed.csv").to_str().unwrap(),
    ]);
    assert!(out.contains("new 0, updated 0, unchanged 3"), "{out}");
    assert_eq!(env.count("feedback_messages"), before[1]);
    assert_eq!(env.count("rejects"), before[3]);
    // The JSONL export of the same calls as the CSV is a later export of the same records.
    assert_eq!(before[0], 8);
}

#[test]
fn a_later_export_that_fills_in_the_reply_time_updates_the_row() {
    let env = Env::new();
    env.ingest("feedback", &[fixture("feedback_day1.csv")]);
    let unreplied = env.query("SELECT replied_at FROM feedback_messages WHERE msg_id = 'FB2002'");
    assert_eq!(unreplied[0]["replied_at"], serde_json::Value::Null);
    let out = env.ingest("feedback", &[fixture("feedback_day2.csv")]);
    assert!(out.contains("new 1, updated 1, unchanged 0"), "{out}");
    let rows = env.query(
        "SELECT msg_id, CAST(replied_at AS VARCHAR) AS r FROM feedback_messages ORDER BY msg_id",
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["msg_id"], "FB2002");
    assert_eq!(rows[1]["r"], "2020-02-11 09:30:00");
    // A value missing from the later file does not erase what was stored.
    assert_eq!(rows[0]["r"], "2020-02-10 11:00:00");
}

#[test]
fn good_rows_are_stored_and_each_bad_row_is_rejected_with_its_line_and_reason() {
    let env = Env::new();
    let out = env.ingest("feedback", &[fixture("feedback_mixed.csv")]);
    assert!(out.contains("read 9, new 3"), "{out}");
    assert!(out.contains("rejected 6"), "{out}");
    let stored: Vec<String> = env
        .query("SELECT msg_id FROM feedback_messages ORDER BY msg_id")
        .iter()
        .map(|r| r["msg_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored, ["FB1001", "FB1006", "FB1008"]);
    let rejects = env.query("SELECT line, reason, raw, source_file FROM rejects ORDER BY line");
    let lines: Vec<i64> = rejects
        .iter()
        .map(|r| r["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5, 6, 8, 10]);
    let reason = |i: usize| rejects[i]["reason"].as_str().unwrap().to_string();
    assert!(reason(0).starts_with("bad received_at"), "{}", reason(0));
    assert!(reason(1).starts_with("missing text"), "{}", reason(1));
    assert!(reason(2).starts_with("unknown channel"), "{}", reason(2));
    assert!(
        reason(3).starts_with("replied_at before received_at"),
        "{}",
        reason(3)
    );
    assert!(reason(4).contains("invalid UTF-8"), "{}", reason(4));
    assert!(reason(5).contains("broken quoting"), "{}", reason(5));
    assert!(rejects[0]["source_file"]
        .as_str()
        .unwrap()
        .ends_with("feedback_mixed.csv"));
    // The raw row is kept for the operator, with the author pseudonymised.
    let raw = rejects[0]["raw"].as_str().unwrap();
    assert!(raw.contains("FB1002") && raw.contains("A-"), "{raw}");
    assert!(!env.all_text().contains("张伟"));
}

#[test]
fn no_personal_data_reaches_the_store_but_counts_dates_and_hotlines_survive() {
    let env = Env::new();
    env.ingest("feedback", &[fixture("feedback_pii.csv")]);
    env.ingest("hotline", &[fixture("hotline_gb18030.csv")]);
    let text = env.all_text();
    let digits_only: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    for secret in [
        "13912345678",
        "13800138000",
        "13812345678",
        "86123456",
        "330424199001011234",
        "33042419850215123X",
        "6222021234567890123",
        "li.na+work@example.com",
        "浙F12345",
        "12号楼",
        "1302室",
        "2单元",
        "3栋",
        "501室",
        "人民路128号",
        "王建国",
        "赵敏",
        "陈静",
        "刘强",
        "ZX0101",
    ] {
        assert!(!text.contains(secret), "{secret} found in the store");
        assert!(
            !digits_only.contains(secret),
            "{secret} found (spaced) in the store"
        );
    }
    for kept in [
        "隔离14天",
        "第3次核酸",
        "2个小时",
        "共有5口人",
        "2020年2月3号开始隔离",
        "96345、12355、12320和400-161-9995",
        "共打了12次",
        "热线96345回访",
    ] {
        assert!(text.contains(kept), "{kept} was lost");
    }
    for placeholder in [
        "〔手机号〕",
        "〔电话〕",
        "〔身份证号〕",
        "〔银行卡号〕",
        "〔邮箱〕",
        "〔车牌号〕",
        "〔详细地址〕",
        "〔姓名〕",
    ] {
        assert!(text.contains(placeholder), "no {placeholder}");
    }
    // The same author gets the same pseudonym in every message.
    let authors = env.query("SELECT count(DISTINCT author) AS n FROM feedback_messages");
    assert_eq!(authors[0]["n"], 4);
}

#[test]
fn screening_with_chinese_headers_normalises_codes_and_rejects_impossible_counts() {
    let env = Env::new();
    let out = env.ingest("screening", &[fixture("screening_zh.csv")]);
    assert!(out.contains("read 5, new 4"), "{out}");
    assert!(out.contains("positive above screened"), "{out}");
    let rows = env.query(
        "SELECT instrument, caller_group, CAST(period_start AS VARCHAR) AS s, screened
         FROM screening_aggregates ORDER BY instrument",
    );
    let instruments: Vec<&str> = rows
        .iter()
        .map(|r| r["instrument"].as_str().unwrap())
        .collect();
    assert_eq!(instruments, ["GAD-7", "ISI", "PCL-5", "PHQ-9"]);
    assert_eq!(rows[1]["caller_group"], "medical_staff");
    assert_eq!(rows[1]["s"], "2020-02-03");
}

#[test]
fn unusable_files_fail_with_a_message_naming_the_file_and_others_still_load() {
    let env = Env::new();
    let no_columns = env.dir.path().join("wrong.csv");
    std::fs::write(&no_columns, "编号,内容\n1,你好\n").unwrap();
    let out = env
        .command()
        .args(["ingest", "feedback"])
        .arg(&no_columns)
        .arg(env.dir.path().join("missing.csv"))
        .arg(fixture("feedback_day1.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("wrong.csv") && err.contains("received_at"),
        "{err}"
    );
    assert!(err.contains("missing.csv"), "{err}");
    assert_eq!(env.count("feedback_messages"), 2);

    // Every row bad: stored as rejects, and the exit code says nothing could be read.
    let all_bad = env.dir.path().join("all_bad.csv");
    std::fs::write(
        &all_bad,
        "留言编号,渠道,留言时间,留言内容\nX1,微信,昨天,内容\n",
    )
    .unwrap();
    let out = env
        .command()
        .args(["ingest", "feedback"])
        .arg(&all_bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(env.count("rejects"), 1);
}

#[test]
fn configuration_errors_exit_2_and_name_the_problem() {
    let env = Env::new();
    let out = env
        .command()
        .env_remove("XINQING_PSEUDONYM_KEY")
        .args(["ingest", "feedback"])
        .arg(fixture("feedback_day1.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("XINQING_PSEUDONYM_KEY"));

    let mapping = env.dir.path().join("m.toml");
    std::fs::write(&mapping, "[columns]\n\"时间\" = \"recieved_at\"\n").unwrap();
    let out = env
        .command()
        .args(["ingest", "feedback", "--mapping"])
        .arg(&mapping)
        .arg(fixture("feedback_day1.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("m.toml") && err.contains("recieved_at"),
        "{err}"
    );

    std::fs::write(&mapping, "[colums]\n").unwrap();
    let out = env
        .command()
        .args(["ingest", "feedback", "--mapping"])
        .arg(&mapping)
        .arg(fixture("feedback_day1.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("colums"));
}

#[test]
fn a_mapping_file_reads_another_layout() {
    let env = Env::new();
    let file = env.dir.path().join("other.csv");
    std::fs::write(
        &file,
        "编号,来源,时间,内容,处理状态\nM1,公众号小程序,2020-02-05 10:00,物资什么时候到？,已处理\n",
    )
    .unwrap();
    let mapping = env.dir.path().join("m.toml");
    std::fs::write(
        &mapping,
        "kind = \"feedback\"\n[columns]\n\"编号\" = \"msg_id\"\n\"来源\" = \"channel\"\n\"时间\" = \"received_at\"\n\"处理状态\" = \"-\"\n[values.channel]\n\"公众号小程序\" = \"wechat\"\n",
    )
    .unwrap();
    let out = env.ok(&[
        "ingest",
        "feedback",
        "--mapping",
        mapping.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(out.contains("new 1"), "{out}");
    let rows = env.query("SELECT channel, text FROM feedback_messages");
    assert_eq!(rows[0]["channel"], "wechat");
}

#[test]
fn query_prints_table_csv_and_json_and_cannot_write() {
    let env = Env::new();
    env.ingest("feedback", &[fixture("feedback_day1.csv")]);
    let table = env.ok(&[
        "query",
        "SELECT msg_id, channel FROM feedback_messages ORDER BY 1",
    ]);
    assert!(table.contains("msg_id") && table.contains("FB2001") && table.contains("(2 rows)"));
    let csv = env.ok(&[
        "query",
        "--format",
        "csv",
        "SELECT msg_id, region FROM feedback_messages ORDER BY 1",
    ]);
    assert_eq!(csv, "msg_id,region\nFB2001,城关街道\nFB2002,澉浦镇\n");
    let out = env.run(&["query", "DELETE FROM feedback_messages"]);
    assert!(!out.status.success());
    assert_eq!(env.count("feedback_messages"), 2);
}

#[test]
fn a_second_writer_is_refused_with_the_lock_code() {
    let env = Env::new();
    env.ingest("feedback", &[fixture("feedback_day1.csv")]);
    let holder = xinqing::store::Store::open(&env.db).unwrap();
    let out = env.run(&[
        "ingest",
        "feedback",
        fixture("feedback_day2.csv").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
    drop(holder);
    env.ingest("feedback", &[fixture("feedback_day2.csv")]);
}

/// `kill -9` in the middle of a file leaves the store as before or after that file.
#[test]
fn killing_ingest_leaves_the_store_before_or_after_the_file() {
    let env = Env::new();
    let file = env.synth_feedback(60_000);
    env.ingest("feedback", &[fixture("feedback_day1.csv")]);
    let mut outcomes = Vec::new();
    for delay_ms in [150u64, 400, 800, 1500] {
        let mut child = env
            .command()
            .args(["ingest", "feedback", "--force"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        // Child::kill is SIGKILL on Unix: the process gets no chance to clean up.
        let _ = child.kill();
        let _ = child.wait();
        let n = env.count("feedback_messages");
        let ledger = env.count("ingest_ledger");
        // Either nothing of the file (2 rows from day 1) or all of it.
        assert!(
            n == 2 || n == 60_002,
            "after kill at {delay_ms} ms: {n} rows"
        );
        assert_eq!(ledger >= 2, n == 60_002, "ledger and rows disagree");
        outcomes.push(n);
    }
    env.ok(&["ingest", "feedback", "--force", file.to_str().unwrap()]);
    assert_eq!(env.count("feedback_messages"), 60_002);
    eprintln!("rows after each kill: {outcomes:?}");
}

#[test]
fn demo_runs_and_running_it_again_stores_nothing_twice() {
    let env = Env::new();
    let dir = env.dir.path().join("demo");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xinqing"));
    cmd.env_remove("XINQING_PSEUDONYM_KEY")
        .env_remove("XINQING_KEY_FILE")
        .env_remove("XINQING_DB")
        .args(["demo", "--dir"])
        .arg(&dir);
    let first = cmd.output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains("hotline_calls") && text.contains("calls answered"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("pseudonym.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the demo key must be readable only by its owner"
        );
    }
    let second = cmd.output().unwrap();
    assert!(second.status.success());
    let counts = |out: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(out)
            .lines()
            .filter(|l| l.trim_end().ends_with(" rows"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(counts(&first.stdout), counts(&second.stdout));
    assert!(String::from_utf8_lossy(&second.stdout).contains("already ingested"));
}

#[test]
fn the_shipped_example_mapping_reads_a_call_centre_export() {
    let env = Env::new();
    let file = env.dir.path().join("export.csv");
    std::fs::write(
        &file,
        "工单号,呼入热线,呼入时刻,应答时刻,挂断时刻,坐席,处理结果,来电者身份,录音文件\n\
         GD01,96345心理咨询热线,2020-02-07 08:00:00,2020-02-07 08:00:20,2020-02-07 08:10:00,A17,成功接听,居家隔离,rec/01.wav\n\
         GD02,96345心理咨询热线,2020-02-07 08:05:00,,,,客户挂机,社会公众,\n",
    )
    .unwrap();
    let mapping = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pipelines/mappings/callcentre-example.toml");
    let out = env.ok(&[
        "ingest",
        "hotline",
        "--mapping",
        mapping.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(out.contains("new 2, updated 0"), "{out}");
    let rows = env
        .query("SELECT call_id, status, caller_group, counselor_id FROM hotline_calls ORDER BY 1");
    assert_eq!(rows[0]["status"], "answered");
    assert_eq!(rows[0]["caller_group"], "quarantined");
    assert!(rows[0]["counselor_id"].as_str().unwrap().starts_with("C-"));
    assert_eq!(rows[1]["status"], "abandoned");
}

#[test]
fn the_shipped_http_source_example_is_valid() {
    std::env::set_var("WECHAT_API_TOKEN", "example");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/sources");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        xinqing::http_source::HttpSourceConfig::load(&path)
            .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        seen += 1;
    }
    assert!(seen > 0);
}

#[test]
fn sheet_selects_a_worksheet_and_a_wrong_name_lists_the_sheets() {
    let env = Env::new();
    let xlsx = fixture("hotline.xlsx");
    let out = env.ok(&[
        "ingest",
        "hotline",
        "--sheet",
        "来电记录",
        xlsx.to_str().unwrap(),
    ]);
    assert!(out.contains("new 8"), "{out}");
    let out = env.run(&[
        "ingest",
        "hotline",
        "--force",
        "--sheet",
        "说明",
        xlsx.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column for call_id"));
    let out = env.run(&[
        "ingest",
        "hotline",
        "--force",
        "--sheet",
        "Sheet9",
        xlsx.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sheets: 来电记录, 说明"));
}

#[test]
fn ingest_scores_text_bearing_rows_as_they_are_stored() {
    let env = Env::new();
    env.ingest("hotline", &[fixture("hotline_gb18030.csv")]);
    env.ingest("feedback", &[fixture("feedback_day1.csv")]);
    let calls = env.query(
        "SELECT call_id, polarity, risk, risk_terms, topics, scored_at IS NOT NULL AS scored
         FROM hotline_calls ORDER BY call_id",
    );
    // HL0002 has no notes: nothing to score.
    assert_eq!(calls[1]["polarity"], serde_json::Value::Null);
    assert_eq!(calls[1]["scored"], false);
    // HL0003's notes describe a plan with means.
    assert_eq!(calls[2]["risk"], "imminent");
    assert!(!calls[2]["risk_terms"].as_array().unwrap().is_empty());
    assert_eq!(calls[0]["risk"], "none");
    let messages = env.query(
        "SELECT msg_id, polarity, sentiment_score, topics FROM feedback_messages ORDER BY msg_id",
    );
    assert_eq!(messages[0]["polarity"], "negative");
    assert!(messages[0]["topics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "quarantine"));
    // Each stored score is what `score` gives for the same (here PII-free) text.
    let scored = env.ok(&[
        "score",
        "--input",
        fixture("feedback_day1.csv").to_str().unwrap(),
        "--text-column",
        "留言内容",
        "--id-column",
        "留言编号",
    ]);
    let scored: Vec<serde_json::Value> = scored
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(scored.len(), messages.len());
    for (stored, fresh) in messages.iter().zip(&scored) {
        assert_eq!(stored["msg_id"], fresh["id"]);
        assert_eq!(stored["polarity"], fresh["polarity"]);
        assert_eq!(stored["sentiment_score"], fresh["score"]);
    }
    // Ingesting the same records again is no change, scores included.
    let out = env.ok(&[
        "ingest",
        "feedback",
        "--force",
        fixture("feedback_day1.csv").to_str().unwrap(),
    ]);
    assert!(out.contains("updated 0, unchanged 2"), "{out}");
}
