//! `xinqing query`: read-only SQL on the store, printed as an aligned table, CSV or JSON lines.

use anyhow::Result;
use duckdb::types::{TimeUnit, Value};
use duckdb::Connection;
use std::io::Write;
use unicode_width::UnicodeWidthStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

/// The result of a query with every value as display text (`None` for NULL).
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// The same values typed, for JSON.
    pub typed: Vec<Vec<serde_json::Value>>,
}

pub fn run(conn: &Connection, sql: &str) -> Result<QueryResult> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    // Column names are known once the statement has run.
    let columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let mut out_rows = Vec::new();
    let mut typed = Vec::new();
    while let Some(row) = rows.next()? {
        let mut text_row = Vec::with_capacity(columns.len());
        let mut json_row = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let v: Value = row.get(i)?;
            text_row.push(display(&v));
            json_row.push(to_json(&v));
        }
        out_rows.push(text_row);
        typed.push(json_row);
    }
    Ok(QueryResult {
        columns,
        rows: out_rows,
        typed,
    })
}

fn timestamp_text(unit: TimeUnit, n: i64) -> String {
    let micros = match unit {
        TimeUnit::Second => n.saturating_mul(1_000_000),
        TimeUnit::Millisecond => n.saturating_mul(1_000),
        TimeUnit::Microsecond => n,
        TimeUnit::Nanosecond => n / 1_000,
    };
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| {
            let naive = d.naive_utc();
            if naive.and_utc().timestamp_subsec_micros() == 0 {
                naive.format("%Y-%m-%d %H:%M:%S").to_string()
            } else {
                naive.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
            }
        })
        .unwrap_or_else(|| n.to_string())
}

/// Display text of a value; `None` for NULL.
pub fn display(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Boolean(b) => b.to_string(),
        Value::TinyInt(n) => n.to_string(),
        Value::SmallInt(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::BigInt(n) => n.to_string(),
        Value::HugeInt(n) => n.to_string(),
        Value::UHugeInt(n) => n.to_string(),
        Value::UTinyInt(n) => n.to_string(),
        Value::USmallInt(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::UBigInt(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(f) => f.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Timestamp(unit, n) => timestamp_text(*unit, *n),
        Value::Text(s) | Value::Enum(s) => s.clone(),
        Value::Date32(days) => chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|d| d.checked_add_signed(chrono::Duration::days(*days as i64)))
            .map_or_else(|| days.to_string(), |d| d.to_string()),
        Value::Time64(unit, n) => {
            let micros = match unit {
                TimeUnit::Second => n * 1_000_000,
                TimeUnit::Millisecond => n * 1_000,
                TimeUnit::Microsecond => *n,
                TimeUnit::Nanosecond => n / 1_000,
            };
            let secs = micros / 1_000_000;
            format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
        }
        Value::Interval {
            months,
            days,
            nanos,
        } => format!("{months} months {days} days {} s", nanos / 1_000_000_000),
        Value::List(items) | Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| display(i).unwrap_or_else(|| "NULL".into()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => format!("{other:?}"),
    })
}

fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::TinyInt(n) => (*n).into(),
        Value::SmallInt(n) => (*n).into(),
        Value::Int(n) => (*n).into(),
        Value::BigInt(n) => (*n).into(),
        Value::UTinyInt(n) => (*n).into(),
        Value::USmallInt(n) => (*n).into(),
        Value::UInt(n) => (*n).into(),
        Value::UBigInt(n) => (*n).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f as f64).map_or(J::Null, J::Number),
        Value::Double(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::List(items) | Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        other => display(other).map_or(J::Null, J::String),
    }
}

pub fn print(result: &QueryResult, format: OutputFormat, out: &mut dyn Write) -> Result<()> {
    match format {
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(&result.columns)?;
            for row in &result.rows {
                w.write_record(row.iter().map(|v| v.as_deref().unwrap_or("")))?;
            }
            w.flush()?;
        }
        OutputFormat::Json => {
            for row in &result.typed {
                let object: serde_json::Map<String, serde_json::Value> = result
                    .columns
                    .iter()
                    .cloned()
                    .zip(row.iter().cloned())
                    .collect();
                writeln!(out, "{}", serde_json::Value::Object(object))?;
            }
        }
        OutputFormat::Table => print_table(result, out)?,
    }
    Ok(())
}

/// An aligned table; CJK characters count as two columns wide.
fn print_table(result: &QueryResult, out: &mut dyn Write) -> Result<()> {
    const MAX_CELL: usize = 60;
    let cell = |v: &Option<String>| -> String {
        let s = v.as_deref().unwrap_or("NULL").replace('\n', " ");
        if s.width() <= MAX_CELL {
            return s;
        }
        let mut cut = String::new();
        for c in s.chars() {
            if cut.width() >= MAX_CELL - 1 {
                break;
            }
            cut.push(c);
        }
        cut.push('…');
        cut
    };
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    let mut widths: Vec<usize> = result.columns.iter().map(|c| c.width()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.width());
        }
    }
    let line = |out: &mut dyn Write, values: &[String]| -> std::io::Result<()> {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v}{}", " ".repeat(w - v.width())))
            .collect();
        writeln!(out, "{}", padded.join("  ").trim_end())
    };
    line(out, &result.columns)?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(out, &rule)?;
    for row in &cells {
        line(out, row)?;
    }
    writeln!(
        out,
        "({} row{})",
        result.rows.len(),
        if result.rows.len() == 1 { "" } else { "s" }
    )?;
    Ok(())
}
