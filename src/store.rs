//! The embedded DuckDB store: one file, created on first use, schema versioned by migrations.
//!
//! Times are stored as TIMESTAMP in Asia/Shanghai local time (see `timefmt`), which is how every
//! report reads them; the bundled DuckDB has no time-zone extension and needs none.

use crate::error::{Failure, FailureKind};
use crate::schema::Kind;
use anyhow::{Context, Result};
use duckdb::{AccessMode, Config, Connection};
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "xinqing.duckdb";

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Where each stored row came from, and when it was first stored and last changed.
const PROVENANCE_COLUMNS: &str = "
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    first_seen_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL";

fn record_table_sql(kind: Kind) -> String {
    let mut sql = format!("CREATE TABLE {} (\n", kind.table());
    if kind == Kind::Screening {
        sql.push_str("    agg_key VARCHAR PRIMARY KEY,\n");
    }
    for c in kind.columns() {
        let not_null = if c.required { " NOT NULL" } else { "" };
        let pk = if c.name == kind.key_column() {
            " PRIMARY KEY"
        } else {
            ""
        };
        sql.push_str(&format!(
            "    {} {}{}{},\n",
            c.name,
            c.ty.sql_type(),
            not_null,
            pk
        ));
    }
    if kind.text_column().is_some() {
        for (name, ty) in crate::schema::ENGINE_COLUMNS {
            sql.push_str(&format!("    {name} {ty},\n"));
        }
    }
    sql.push_str(PROVENANCE_COLUMNS);
    sql.push_str("\n);\n");
    sql
}

fn migration_v1() -> String {
    let mut sql = String::new();
    for kind in Kind::ALL {
        sql.push_str(&record_table_sql(kind));
    }
    sql.push_str(
        "
CREATE TABLE rejects (
    source_sha256 VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    line BIGINT NOT NULL,
    kind VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    raw VARCHAR,
    rejected_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source_sha256, line)
);
CREATE SEQUENCE ingest_ledger_id START 1;
CREATE TABLE ingest_ledger (
    id BIGINT PRIMARY KEY DEFAULT nextval('ingest_ledger_id'),
    kind VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_sha256 VARCHAR NOT NULL,
    bytes BIGINT NOT NULL,
    format VARCHAR NOT NULL,
    encoding VARCHAR,
    rows_read BIGINT NOT NULL,
    rows_inserted BIGINT NOT NULL,
    rows_updated BIGINT NOT NULL,
    rows_unchanged BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL
);
CREATE INDEX ingest_ledger_sha ON ingest_ledger (source_sha256);
CREATE TABLE source_state (
    source VARCHAR PRIMARY KEY,
    cursor VARCHAR,
    page BIGINT,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX feedback_received ON feedback_messages (received_at);
CREATE INDEX hotline_started ON hotline_calls (started_at);
",
    );
    sql
}

/// Pipeline runs, crisis alerts and their delivery to each sink.
const MIGRATION_V2: &str = "
CREATE SEQUENCE runs_id START 1;
CREATE TABLE runs (
    id BIGINT PRIMARY KEY DEFAULT nextval('runs_id'),
    pipeline VARCHAR NOT NULL,
    pipeline_file VARCHAR NOT NULL,
    scheduled_for TIMESTAMP,
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    status VARCHAR NOT NULL,
    counts VARCHAR,
    error VARCHAR
);
CREATE SEQUENCE alerts_id START 1;
CREATE TABLE alerts (
    id BIGINT PRIMARY KEY DEFAULT nextval('alerts_id'),
    source VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    tier VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    assessed_by VARCHAR NOT NULL,
    region VARCHAR,
    caller_group VARCHAR,
    record_time TIMESTAMP,
    raised_at TIMESTAMP NOT NULL,
    run_id BIGINT,
    UNIQUE (source, record_id)
);
CREATE TABLE alert_deliveries (
    alert_id BIGINT NOT NULL,
    sink VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    attempts INTEGER NOT NULL,
    last_error VARCHAR,
    delivered_at TIMESTAMP,
    PRIMARY KEY (alert_id, sink)
);
";

/// Ordered migrations; a store records the versions it has applied.
fn migrations() -> Vec<(i32, &'static str, String)> {
    vec![
        (1, "initial schema", migration_v1()),
        (2, "runs and alerts", MIGRATION_V2.to_string()),
    ]
}

pub const SCHEMA_VERSION: i32 = 2;

impl Store {
    /// Opens (creating if needed) the store for writing and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
        }
        let conn = Connection::open(path).map_err(|e| open_error(path, e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store read-only (queries, reports).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(Failure::new(
                FailureKind::Input,
                format!(
                    "no store at {} (ingest something first, or pass --db)",
                    path.display()
                ),
            )
            .into());
        }
        let config = Config::default()
            .access_mode(AccessMode::ReadOnly)
            .context("configuring a read-only connection")?;
        let conn = Connection::open_with_flags(path, config).map_err(|e| open_error(path, e))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn migrate(&mut self) -> Result<()> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                description VARCHAR NOT NULL,
                applied_at TIMESTAMP NOT NULL
            )",
        )?;
        let current: i32 = self.conn.query_row(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        if current > SCHEMA_VERSION {
            return Err(Failure::new(
                FailureKind::Config,
                format!(
                    "the store {} has schema version {current}, newer than this xinqing ({SCHEMA_VERSION}); use a newer build",
                    self.path.display()
                ),
            )
            .into());
        }
        for (version, description, sql) in migrations() {
            if version <= current {
                continue;
            }
            let tx = self.conn.transaction()?;
            tx.execute_batch(&sql)
                .with_context(|| format!("applying migration {version} ({description})"))?;
            tx.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, CAST(? AS TIMESTAMP))",
                duckdb::params![version, description, crate::timefmt::now_text()],
            )?;
            tx.commit()?;
            tracing::info!(version, description, "applied store migration");
        }
        Ok(())
    }

    /// Row counts of the record tables and rejects, for summaries.
    pub fn table_counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut out = Vec::new();
        for table in [
            "hotline_calls",
            "feedback_messages",
            "screening_aggregates",
            "rejects",
            "ingest_ledger",
        ] {
            let n: i64 =
                self.conn
                    .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            out.push((table, n));
        }
        Ok(out)
    }
}

/// DuckDB refuses a second writer with a lock error; that case gets its own exit code.
fn open_error(path: &Path, e: duckdb::Error) -> anyhow::Error {
    let msg = e.to_string();
    if msg.contains("lock") {
        Failure::new(
            FailureKind::Locked,
            format!(
                "the store {} is in use by another xinqing process; try again when it has finished ({msg})",
                path.display()
            ),
        )
        .into()
    } else {
        anyhow::Error::new(e).context(format!("cannot open the store {}", path.display()))
    }
}
