//! Helpers shared by the integration tests: a temporary store and the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const TEST_KEY: &str = "test-pseudonym-key-0123456789abcdef";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The JSON objects of JSON-lines output.
pub fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("store.duckdb");
        Env { dir, db }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xinqing"));
        cmd.env("XINQING_PSEUDONYM_KEY", TEST_KEY)
            .env_remove("XINQING_KEY_FILE")
            .env_remove("XINQING_DB")
            .arg("--db")
            .arg(&self.db)
            .current_dir(self.dir.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run xinqing")
    }

    /// Runs and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "xinqing {args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// A synthetic feedback export of one day with `rows` rows, written under the temp dir.
    pub fn synth_feedback(&self, rows: u32) -> PathBuf {
        let data = self.dir.path().join("synth");
        self.ok(&[
            "synth",
            "--days",
            "1",
            "--per-day",
            &rows.to_string(),
            "--kinds",
            "feedback",
            "--out",
            data.to_str().unwrap(),
        ]);
        data.join("feedback/feedback-2020-02-01.csv")
    }

    pub fn ingest(&self, kind: &str, files: &[PathBuf]) -> String {
        let mut args = vec!["ingest".to_string(), kind.to_string()];
        args.extend(files.iter().map(|f| f.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ok(&args)
    }

    /// Rows of a query as JSON objects, through `xinqing query --format json`.
    pub fn query(&self, sql: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
        self.ok(&["query", "--format", "json", sql])
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    pub fn count(&self, table: &str) -> i64 {
        self.query(&format!("SELECT count(*) AS n FROM {table}"))[0]["n"]
            .as_i64()
            .expect("count")
    }

    /// Every text value in every table of the store, one per line.
    pub fn all_text(&self) -> String {
        let columns = self.query(
            "SELECT table_name, column_name FROM information_schema.columns
             WHERE data_type LIKE 'VARCHAR%' ORDER BY table_name, column_name",
        );
        let mut text = String::new();
        for c in columns {
            let (t, col) = (
                c["table_name"].as_str().unwrap(),
                c["column_name"].as_str().unwrap(),
            );
            for row in self.query(&format!(
                "SELECT CAST({col} AS VARCHAR) AS v FROM {t} WHERE {col} IS NOT NULL"
            )) {
                text.push_str(row["v"].as_str().unwrap_or_default());
                text.push('\n');
            }
        }
        text
    }
}
