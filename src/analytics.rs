//! The figures of the daily bulletin, computed in the store with SQL.
//!
//! Every query is bounded by a date window (the day, the week before it, 30 days for the
//! trend, the last four screening periods), so a bulletin costs the same however long the
//! stored history grows: DuckDB's per-row-group min/max skip what lies outside the window.
//!
//! Small cells are suppressed here, before anything is rendered: a count of 1–4 people, and
//! any share or mean resting on one, becomes "<5" in every output.

use crate::engine::Engine;
use crate::error::{Failure, FailureKind};
use crate::redact::Redactor;
use crate::schema::{group_label, CHANNEL, GROUP};
use anyhow::{Context, Result};
use chrono::{Datelike, Duration, NaiveDate};
use duckdb::{params_from_iter, Connection, ToSql};
use serde::Serialize;

/// Counts below this (and above zero) are suppressed in every published breakdown.
pub const MIN_CELL: i64 = 5;

/// A count of people or records as published: the number, or suppressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    N(i64),
    Suppressed,
}

impl Cell {
    pub fn of(n: i64) -> Cell {
        if n > 0 && n < MIN_CELL {
            Cell::Suppressed
        } else {
            Cell::N(n)
        }
    }
    pub fn value(self) -> Option<i64> {
        match self {
            Cell::N(n) => Some(n),
            Cell::Suppressed => None,
        }
    }
}

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::N(n) => s.serialize_i64(*n),
            Cell::Suppressed => s.serialize_str("<5"),
        }
    }
}

/// A derived figure (share, mean, change): a number, suppressed, or not applicable.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fig {
    V(f64),
    Suppressed,
    #[default]
    Na,
}

impl Fig {
    /// `num / den`, suppressed when either counts 1–4 people.
    pub fn share(num: i64, den: i64) -> Fig {
        if small(num) || small(den) {
            Fig::Suppressed
        } else if den == 0 {
            Fig::Na
        } else {
            Fig::V(num as f64 / den as f64)
        }
    }
    /// A mean over `n` people, suppressed when n is 1–4.
    pub fn mean(value: Option<f64>, n: i64) -> Fig {
        match value {
            _ if small(n) => Fig::Suppressed,
            Some(v) if n > 0 => Fig::V(v),
            _ => Fig::Na,
        }
    }
    pub fn value(self) -> Option<f64> {
        match self {
            Fig::V(v) => Some(v),
            _ => None,
        }
    }
    /// `self − other` when both are published.
    pub fn minus(self, other: Fig) -> Fig {
        match (self, other) {
            (Fig::V(a), Fig::V(b)) => Fig::V(a - b),
            (Fig::Suppressed, _) | (_, Fig::Suppressed) => Fig::Suppressed,
            _ => Fig::Na,
        }
    }
    /// Relative change `self / other − 1` when both are published and other is not zero.
    pub fn relative_to(self, other: Fig) -> Fig {
        match (self, other) {
            (Fig::V(a), Fig::V(b)) if b > 0.0 => Fig::V(a / b - 1.0),
            (Fig::Suppressed, _) | (_, Fig::Suppressed) => Fig::Suppressed,
            _ => Fig::Na,
        }
    }
}

impl Serialize for Fig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Fig::V(v) => s.serialize_f64((v * 10_000.0).round() / 10_000.0),
            Fig::Suppressed => s.serialize_str("<5"),
            Fig::Na => s.serialize_none(),
        }
    }
}

fn small(n: i64) -> bool {
    n > 0 && n < MIN_CELL
}

/// 95% Wilson score interval for `k` positives in `n`.
pub fn wilson(k: i64, n: i64) -> Option<(f64, f64)> {
    if n <= 0 {
        return None;
    }
    let z = 1.959_963_984_540_054_f64;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

// ---------------------------------------------------------------------------------------------
// The bulletin's data

#[derive(Debug, Serialize)]
pub struct Bulletin {
    pub date: String,
    pub weekday: &'static str,
    pub generated_at: String,
    pub suppression: String,
    pub coverage: Coverage,
    pub overview: Overview,
    pub sentiment: Sentiment,
    pub topics: Topics,
    pub crisis: Crisis,
    pub hotline: Hotline,
    pub groups: Groups,
    pub replies: Replies,
    pub advice: Vec<Advice>,
}

#[derive(Debug, Serialize)]
pub struct SourceCoverage {
    pub source: &'static str,
    pub label: &'static str,
    pub rows_on_day: i64,
    pub first: Option<String>,
    pub last: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Coverage {
    pub sources: Vec<SourceCoverage>,
    /// Labels of the sources with nothing on the day.
    pub missing: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct VolumeRow {
    pub source: &'static str,
    pub key: String,
    pub label: String,
    /// A total row (source level) rather than a channel or line under it.
    pub total: bool,
    pub day: Cell,
    pub previous_day: Cell,
    pub mean_7d: Fig,
    pub change_on_previous_day: Fig,
    pub change_on_mean_7d: Fig,
}

#[derive(Debug, Serialize)]
pub struct Overview {
    pub rows: Vec<VolumeRow>,
}

#[derive(Debug, Serialize)]
pub struct Share {
    pub key: String,
    pub label: String,
    pub n: Cell,
    pub share: Fig,
}

#[derive(Debug, Serialize)]
pub struct TrendDay {
    pub date: String,
    pub texts: i64,
    pub positive: Fig,
    pub neutral: Fig,
    pub negative: Fig,
}

#[derive(Debug, Serialize)]
pub struct Sentiment {
    pub texts: Cell,
    pub mean_score: Fig,
    pub polarity: Vec<Share>,
    pub emotions: Vec<Share>,
    pub negative_share_7d: Fig,
    pub trend: Vec<TrendDay>,
}

#[derive(Debug, Serialize)]
pub struct TopicRow {
    pub topic: String,
    pub name: String,
    pub n: Cell,
    pub negative_share: Fig,
    pub mean_7d: Fig,
    pub negative_share_7d: Fig,
    pub change_on_mean_7d: Fig,
}

#[derive(Debug, Serialize)]
pub struct Quote {
    pub source: &'static str,
    pub channel: String,
    pub polarity: String,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct TopicQuotes {
    pub topic: String,
    pub name: String,
    pub quotes: Vec<Quote>,
}

#[derive(Debug, Serialize)]
pub struct HotWord {
    pub word: String,
    pub texts: i64,
}

#[derive(Debug, Serialize)]
pub struct Topics {
    pub rows: Vec<TopicRow>,
    pub hot_words: Vec<HotWord>,
    /// How many of the day's texts the hot words were drawn from.
    pub hot_word_sample: i64,
    pub quotes: Vec<TopicQuotes>,
}

#[derive(Debug, Serialize)]
pub struct CrisisItem {
    pub source: &'static str,
    pub id: String,
    pub tier: String,
    pub tier_label: &'static str,
    pub time: String,
    pub status: String,
}

#[derive(Debug, Serialize)]
pub struct RegionTiers {
    pub region: String,
    pub tiers: Vec<Cell>,
    pub total: Cell,
}

#[derive(Debug, Serialize)]
pub struct Crisis {
    pub total: i64,
    pub tiers: Vec<Share>,
    pub tier_labels: Vec<&'static str>,
    pub by_region: Vec<RegionTiers>,
    pub items: Vec<CrisisItem>,
}

#[derive(Debug, Serialize, Default)]
pub struct Kpi {
    pub offered: Cell,
    pub answered: Cell,
    pub answer_rate: Fig,
    pub abandoned: Cell,
    pub abandonment_rate: Fig,
    pub speed_to_answer_s: Fig,
    pub handle_time_s: Fig,
    pub after_hours_offered: Cell,
    pub after_hours_coverage: Fig,
    pub referrals: Cell,
    pub follow_ups: Cell,
    pub high_risk: Cell,
}

impl Default for Cell {
    fn default() -> Self {
        Cell::N(0)
    }
}

#[derive(Debug, Serialize)]
pub struct KpiRow {
    pub key: String,
    #[serde(flatten)]
    pub kpi: Kpi,
    /// The answer rate over the seven days to the bulletin date.
    pub answer_rate_7d: Fig,
}

#[derive(Debug, Serialize)]
pub struct Hotline {
    pub total: Kpi,
    pub by_line: Vec<KpiRow>,
    pub by_provider: Vec<KpiRow>,
    /// Calls offered on the day by hour (0–23), suppressed when 1–4.
    pub by_hour: Vec<Cell>,
    /// Mean calls offered per weekday (Monday first) over the 28 days to the date.
    pub by_weekday: Vec<Fig>,
    pub after_hours_definition: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Prevalence {
    pub group: String,
    pub label: &'static str,
    pub instrument: String,
    pub screened: Cell,
    pub positive: Cell,
    pub prevalence: Fig,
    pub ci_low: Fig,
    pub ci_high: Fig,
    pub previous: Fig,
    pub change_pp: Fig,
    /// Prevalence over the last periods, oldest first (for the trend rules).
    pub history: Vec<Fig>,
}

#[derive(Debug, Serialize)]
pub struct GroupNegativity {
    pub group: String,
    pub label: &'static str,
    pub hotline_texts: Cell,
    pub hotline_negative: Fig,
    pub feedback_texts: Cell,
    pub feedback_negative: Fig,
}

#[derive(Debug, Serialize)]
pub struct Groups {
    pub period: Option<String>,
    pub previous_period: Option<String>,
    pub rows: Vec<Prevalence>,
    pub negativity: Vec<GroupNegativity>,
}

#[derive(Debug, Serialize)]
pub struct ReplyRow {
    pub key: String,
    pub label: String,
    pub due: Cell,
    pub within_24h: Cell,
    pub share_within_24h: Fig,
    pub late: Cell,
    pub unanswered: Cell,
}

#[derive(Debug, Serialize)]
pub struct Overdue {
    pub msg_id: String,
    pub channel: String,
    pub handler: String,
    pub received_at: String,
    pub hours_open: i64,
}

#[derive(Debug, Serialize)]
pub struct Replies {
    /// Messages received on the day before the bulletin date: their 24 hours end on the date.
    pub cohort: String,
    pub total: ReplyRow,
    pub by_channel: Vec<ReplyRow>,
    pub by_handler: Vec<ReplyRow>,
    pub overdue_total: i64,
    pub overdue: Vec<Overdue>,
    /// Received on the date, unanswered, and 20 hours old by its end.
    pub nearly_due: i64,
}

#[derive(Debug, Serialize)]
pub struct Advice {
    pub topic: &'static str,
    pub action: String,
    pub evidence: String,
}

// ---------------------------------------------------------------------------------------------

pub const TIERS: [(&str, &str); 5] = [
    ("imminent", "紧迫（有计划/手段/时间）"),
    ("ideation", "自杀意念"),
    ("self_harm", "自伤"),
    ("harm_others", "伤人风险"),
    ("assessed_high", "咨询师评估高风险"),
];

const POLARITY: [(&str, &str); 3] = [
    ("positive", "正面"),
    ("neutral", "中性"),
    ("negative", "负面"),
];

const EMOTIONS: [(&str, &str); 7] = [
    ("乐", "乐（快乐）"),
    ("好", "好（喜爱/感激）"),
    ("怒", "怒（愤怒）"),
    ("哀", "哀（悲伤）"),
    ("惧", "惧（恐惧）"),
    ("恶", "恶（厌恶）"),
    ("惊", "惊（惊讶）"),
];

const WEEKDAYS: [&str; 7] = [
    "星期一",
    "星期二",
    "星期三",
    "星期四",
    "星期五",
    "星期六",
    "星期日",
];

pub fn channel_label(code: &str) -> String {
    let label = match code {
        "wechat" => "微信公众号",
        "app" => "手机客户端",
        "email" => "电子邮件",
        "qq" => "QQ群",
        "web" => "网站留言板",
        "weibo" => "微博",
        "12345" => "12345热线",
        "other" => "其他",
        _ => return code.to_string(),
    };
    debug_assert!(CHANNEL.lookup(code).is_some());
    label.to_string()
}

fn tier_label(tier: &str) -> &'static str {
    TIERS
        .iter()
        .find(|(t, _)| *t == tier)
        .map(|(_, l)| *l)
        .unwrap_or("其他")
}

/// A day's window bounds as store timestamps.
fn ts(d: NaiveDate) -> String {
    format!("{d} 00:00:00")
}

/// Runs a query with text parameters and maps each row.
fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: &[&str],
    mut f: impl FnMut(&duckdb::Row<'_>) -> duckdb::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn
        .prepare(sql)
        .with_context(|| format!("preparing bulletin query: {}", first_line(sql)))?;
    let params: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
    let mapped = stmt.query_map(params_from_iter(params), |r| f(r))?;
    let mut out = Vec::new();
    for r in mapped {
        out.push(r?);
    }
    Ok(out)
}

/// A DATE column read as text (the store is queried without duckdb's chrono feature).
fn date_at(r: &duckdb::Row<'_>, i: usize) -> duckdb::Result<NaiveDate> {
    let text: String = r.get(i)?;
    text.parse().map_err(|e| {
        duckdb::Error::FromSqlConversionFailure(i, duckdb::types::Type::Text, Box::new(e))
    })
}

fn opt_date_at(r: &duckdb::Row<'_>, i: usize) -> duckdb::Result<Option<NaiveDate>> {
    match r.get::<_, Option<String>>(i)? {
        None => Ok(None),
        Some(_) => date_at(r, i).map(Some),
    }
}

fn first_line(sql: &str) -> &str {
    sql.trim().lines().next().unwrap_or("")
}

/// Where the bulletin's day stands against what is stored, so a date outside the stored
/// range fails clearly rather than printing an empty report.
pub fn stored_range(conn: &Connection) -> Result<Option<(NaiveDate, NaiveDate)>> {
    let r = rows(
        conn,
        "SELECT CAST(min(d) AS VARCHAR), CAST(max(d) AS VARCHAR) FROM (
            SELECT min(CAST(started_at AS DATE)) AS d FROM hotline_calls
            UNION ALL SELECT max(CAST(started_at AS DATE)) FROM hotline_calls
            UNION ALL SELECT min(CAST(received_at AS DATE)) FROM feedback_messages
            UNION ALL SELECT max(CAST(received_at AS DATE)) FROM feedback_messages
            UNION ALL SELECT min(period_start) FROM screening_aggregates
            UNION ALL SELECT max(period_end) FROM screening_aggregates)",
        &[],
        |r| Ok((opt_date_at(r, 0)?, opt_date_at(r, 1)?)),
    )?;
    Ok(match r.first() {
        Some((Some(a), Some(b))) => Some((*a, *b)),
        _ => None,
    })
}

pub struct BuildOptions<'a> {
    pub date: NaiveDate,
    pub engine: &'a Engine,
    /// Largest number of the day's texts read for hot words (a deterministic sample).
    pub hot_word_sample: usize,
}

pub fn build(conn: &Connection, opts: &BuildOptions<'_>) -> Result<Bulletin> {
    let date = opts.date;
    match stored_range(conn)? {
        None => {
            return Err(Failure::new(
                FailureKind::Input,
                "the store holds no records yet: ingest something before writing a bulletin",
            )
            .into())
        }
        Some((first, last)) if date < first || date > last => {
            return Err(Failure::new(
                FailureKind::Input,
                format!("{date} is outside the stored data, which runs from {first} to {last}"),
            )
            .into())
        }
        Some(_) => {}
    }
    let coverage = coverage(conn, date)?;
    let overview = overview(conn, date)?;
    let sentiment = sentiment(conn, date)?;
    let topics = topics(conn, opts)?;
    let crisis = crisis(conn, date)?;
    let hotline = hotline(conn, date)?;
    let groups = groups(conn, date)?;
    let replies = replies(conn, date)?;
    let mut bulletin = Bulletin {
        date: date.to_string(),
        weekday: WEEKDAYS[date.weekday().num_days_from_monday() as usize],
        generated_at: crate::timefmt::now_text(),
        suppression: format!(
            "少于{MIN_CELL}人的分项数据及由其计算的比例、均值已隐去，以“<5”标示。"
        ),
        coverage,
        overview,
        sentiment,
        topics,
        crisis,
        hotline,
        groups,
        replies,
        advice: Vec::new(),
    };
    bulletin.advice = crate::advice::recommend(&bulletin);
    Ok(bulletin)
}

fn coverage(conn: &Connection, date: NaiveDate) -> Result<Coverage> {
    let (a, b) = (ts(date), ts(date + Duration::days(1)));
    let specs: [(&str, &str, String); 3] = [
        (
            "hotline",
            "热线来电",
            "SELECT count(*) FILTER (WHERE started_at >= CAST(?1 AS TIMESTAMP) AND started_at < CAST(?2 AS TIMESTAMP)),
                    CAST(min(CAST(started_at AS DATE)) AS VARCHAR), CAST(max(CAST(started_at AS DATE)) AS VARCHAR)
             FROM hotline_calls".into(),
        ),
        (
            "feedback",
            "网络留言",
            "SELECT count(*) FILTER (WHERE received_at >= CAST(?1 AS TIMESTAMP) AND received_at < CAST(?2 AS TIMESTAMP)),
                    CAST(min(CAST(received_at AS DATE)) AS VARCHAR), CAST(max(CAST(received_at AS DATE)) AS VARCHAR)
             FROM feedback_messages".into(),
        ),
        (
            "screening",
            "重点人群筛查",
            // A screening period covers the day when it started on or before it and ended within the week before.
            "SELECT count(*) FILTER (WHERE period_end >= CAST(?1 AS DATE) - 6 AND period_start < CAST(?2 AS DATE)),
                    CAST(min(period_start) AS VARCHAR), CAST(max(period_end) AS VARCHAR)
             FROM screening_aggregates".into(),
        ),
    ];
    let mut sources = Vec::new();
    let mut missing = Vec::new();
    for (source, label, sql) in specs {
        let (n, first, last) = rows(conn, &sql, &[&a, &b], |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?))
        })?
        .pop()
        .unwrap_or((0, None, None));
        if n == 0 {
            missing.push(label);
        }
        sources.push(SourceCoverage {
            source,
            label,
            rows_on_day: n,
            first,
            last,
        });
    }
    Ok(Coverage { sources, missing })
}

/// Counts per day and key over the day and the seven before it, turned into volume rows.
fn volume_rows(
    source: &'static str,
    total_label: &str,
    counts: &[(NaiveDate, String, i64)],
    date: NaiveDate,
    label: impl Fn(&str) -> String,
) -> Vec<VolumeRow> {
    let mut keys: Vec<String> = counts.iter().map(|(_, k, _)| k.clone()).collect();
    keys.sort();
    keys.dedup();
    let figure = |key: Option<&str>, total: bool, label: String| {
        let sum_on = |d: NaiveDate| -> i64 {
            counts
                .iter()
                .filter(|(day, k, _)| *day == d && key.is_none_or(|key| k == key))
                .map(|(_, _, n)| n)
                .sum()
        };
        let day = sum_on(date);
        let previous = sum_on(date - Duration::days(1));
        let week: i64 = (1..=7).map(|i| sum_on(date - Duration::days(i))).sum();
        let mean_7d = if week == 0 {
            Fig::V(0.0)
        } else if small(week) {
            Fig::Suppressed
        } else {
            Fig::V(week as f64 / 7.0)
        };
        let day_fig = if small(day) {
            Fig::Suppressed
        } else {
            Fig::V(day as f64)
        };
        let previous_fig = if small(previous) {
            Fig::Suppressed
        } else {
            Fig::V(previous as f64)
        };
        VolumeRow {
            source,
            key: key.unwrap_or("all").to_string(),
            label,
            total,
            day: Cell::of(day),
            previous_day: Cell::of(previous),
            mean_7d,
            change_on_previous_day: day_fig.relative_to(previous_fig),
            change_on_mean_7d: day_fig.relative_to(mean_7d),
        }
    };
    let mut out = vec![figure(None, true, total_label.to_string())];
    let mut parts: Vec<VolumeRow> = keys
        .iter()
        .map(|k| figure(Some(k), false, label(k)))
        .collect();
    parts.sort_by(|a, b| {
        b.day
            .value()
            .unwrap_or(0)
            .cmp(&a.day.value().unwrap_or(0))
            .then(a.key.cmp(&b.key))
    });
    out.extend(parts);
    out
}

fn overview(conn: &Connection, date: NaiveDate) -> Result<Overview> {
    let (a, b) = (ts(date - Duration::days(7)), ts(date + Duration::days(1)));
    let map = |r: &duckdb::Row<'_>| Ok((date_at(r, 0)?, r.get::<_, String>(1)?, r.get(2)?));
    let hotline = rows(
        conn,
        "SELECT CAST(CAST(started_at AS DATE) AS VARCHAR), coalesce(line, '未注明'), count(*) FROM hotline_calls
         WHERE started_at >= CAST(?1 AS TIMESTAMP) AND started_at < CAST(?2 AS TIMESTAMP) GROUP BY ALL",
        &[&a, &b],
        map,
    )?;
    let feedback = rows(
        conn,
        "SELECT CAST(CAST(received_at AS DATE) AS VARCHAR), channel, count(*) FROM feedback_messages
         WHERE received_at >= CAST(?1 AS TIMESTAMP) AND received_at < CAST(?2 AS TIMESTAMP) GROUP BY ALL",
        &[&a, &b],
        map,
    )?;
    let mut out = volume_rows("hotline", "热线来电（合计）", &hotline, date, |k| {
        k.to_string()
    });
    out.extend(volume_rows(
        "feedback",
        "网络留言（合计）",
        &feedback,
        date,
        channel_label,
    ));
    Ok(Overview { rows: out })
}

/// The day's texts from both sources, with their scores.
const TEXTS: &str = "(
    SELECT 'hotline' AS source, call_id AS id, started_at AS event_at, coalesce(line, '') AS channel,
           caller_group, region, notes AS text, polarity, sentiment_score, emotion, risk, topics
    FROM hotline_calls
    WHERE notes IS NOT NULL AND started_at >= CAST(?1 AS TIMESTAMP) AND started_at < CAST(?2 AS TIMESTAMP)
    UNION ALL
    SELECT 'feedback', msg_id, received_at, channel, caller_group, region, text, polarity,
           sentiment_score, emotion, risk, topics
    FROM feedback_messages
    WHERE received_at >= CAST(?1 AS TIMESTAMP) AND received_at < CAST(?2 AS TIMESTAMP))";

fn sentiment(conn: &Connection, date: NaiveDate) -> Result<Sentiment> {
    let (a, b) = (ts(date), ts(date + Duration::days(1)));
    let (texts, mean): (i64, Option<f64>) = rows(
        conn,
        &format!("SELECT count(*), avg(sentiment_score) FROM {TEXTS} WHERE polarity IS NOT NULL"),
        &[&a, &b],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?
    .pop()
    .unwrap_or((0, None));
    let by = |column: &str| -> Result<Vec<(String, i64)>> {
        rows(
            conn,
            &format!(
                "SELECT {column}, count(*) FROM {TEXTS} WHERE {column} IS NOT NULL GROUP BY ALL"
            ),
            &[&a, &b],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    };
    let shares = |counts: &[(String, i64)], keys: &[(&str, &str)], denominator: i64| {
        keys.iter()
            .map(|(k, label)| {
                let n = counts.iter().find(|(c, _)| c == k).map_or(0, |(_, n)| *n);
                Share {
                    key: k.to_string(),
                    label: label.to_string(),
                    n: Cell::of(n),
                    share: Fig::share(n, denominator),
                }
            })
            .collect::<Vec<_>>()
    };
    let polarity = shares(&by("polarity")?, &POLARITY, texts);
    let emotion_counts = by("emotion")?;
    let with_emotion: i64 = emotion_counts.iter().map(|(_, n)| n).sum();
    let emotions = shares(&emotion_counts, &EMOTIONS, with_emotion);

    // 30 days to the date, one row per day with data.
    let (t0, t1) = (ts(date - Duration::days(29)), ts(date + Duration::days(1)));
    let daily = rows(
        conn,
        &format!(
            "SELECT CAST(CAST(event_at AS DATE) AS VARCHAR) AS day, count(*), count(*) FILTER (WHERE polarity = 'positive'),
                    count(*) FILTER (WHERE polarity = 'neutral'), count(*) FILTER (WHERE polarity = 'negative')
             FROM {TEXTS} WHERE polarity IS NOT NULL GROUP BY day ORDER BY day"
        ),
        &[&t0, &t1],
        |r| {
            Ok((
                date_at(r, 0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        },
    )?;
    let trend = daily
        .iter()
        .map(|&(day, n, pos, neu, neg)| TrendDay {
            date: day.to_string(),
            texts: n,
            positive: Fig::share(pos, n),
            neutral: Fig::share(neu, n),
            negative: Fig::share(neg, n),
        })
        .collect();
    let week: (i64, i64) = daily
        .iter()
        .filter(|(d, ..)| *d < date && *d >= date - Duration::days(7))
        .fold((0, 0), |acc, &(_, n, _, _, neg)| (acc.0 + n, acc.1 + neg));
    Ok(Sentiment {
        texts: Cell::of(texts),
        mean_score: Fig::mean(mean, texts),
        polarity,
        emotions,
        negative_share_7d: Fig::share(week.1, week.0),
        trend,
    })
}

fn topics(conn: &Connection, opts: &BuildOptions<'_>) -> Result<Topics> {
    let date = opts.date;
    let names: Vec<(String, String)> = opts.engine.topic_names();
    let (a, b) = (ts(date - Duration::days(7)), ts(date + Duration::days(1)));
    let counts = rows(
        conn,
        &format!(
            "SELECT topic, CAST(event_at AS DATE) = CAST(?2 AS DATE) - 1 AS today, count(*),
                    count(*) FILTER (WHERE polarity = 'negative')
             FROM (SELECT unnest(topics) AS topic, event_at, polarity FROM {TEXTS}) GROUP BY ALL"
        ),
        &[&a, &b],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        },
    )?;
    let mut out: Vec<TopicRow> = names
        .iter()
        .map(|(topic, name)| {
            let pick = |today: bool| {
                counts
                    .iter()
                    .filter(|(t, d, ..)| t == topic && *d == today)
                    .fold((0, 0), |acc, (_, _, n, neg)| (acc.0 + n, acc.1 + neg))
            };
            let (n, neg) = pick(true);
            let (n7, neg7) = pick(false);
            let n_fig = if small(n) {
                Fig::Suppressed
            } else {
                Fig::V(n as f64)
            };
            let mean_7d = if small(n7) {
                Fig::Suppressed
            } else {
                Fig::V(n7 as f64 / 7.0)
            };
            TopicRow {
                topic: topic.clone(),
                name: name.clone(),
                n: Cell::of(n),
                negative_share: Fig::share(neg, n),
                mean_7d,
                negative_share_7d: Fig::share(neg7, n7),
                change_on_mean_7d: n_fig.relative_to(mean_7d),
            }
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.n.value().unwrap_or(0)));

    // Hot words from a deterministic sample of the day's texts: the same day gives the same words.
    let (d0, d1) = (ts(date), ts(date + Duration::days(1)));
    let sample = rows(
        conn,
        &format!(
            "SELECT text FROM {TEXTS} WHERE text IS NOT NULL AND risk = 'none'
             ORDER BY hash(id), id LIMIT {}",
            opts.hot_word_sample
        ),
        &[&d0, &d1],
        |r| r.get::<_, String>(0),
    )?;
    let hot_words = opts
        .engine
        .hot_words(sample.iter().map(String::as_str), 20)
        .into_iter()
        .filter(|(_, n)| *n as i64 >= MIN_CELL)
        .map(|(word, texts)| HotWord {
            word,
            texts: texts as i64,
        })
        .collect();

    // Quotes: for the three leading topics, texts that carry the topic's prevailing polarity
    // most strongly, never a crisis text, of a readable length, and none twice: a text of two
    // leading topics is quoted under the first (it had been printed under both), and of notes
    // that differ only in their figures ("隔离第6天" / "隔离第27天") one is quoted.
    const QUOTES: usize = 3;
    let mut quotes = Vec::new();
    let mut quoted: std::collections::HashSet<String> = std::collections::HashSet::new();
    for row in out
        .iter()
        .filter(|r| r.n.value().unwrap_or(0) >= MIN_CELL)
        .take(3)
    {
        let prevailing = if row.negative_share.value().unwrap_or(0.0) >= 0.5 {
            "negative"
        } else {
            "positive"
        };
        let picked = rows(
            conn,
            &format!(
                "SELECT source, channel, polarity, text FROM {TEXTS}
                 WHERE list_contains(topics, ?3) AND risk = 'none' AND length(text) BETWEEN 12 AND 140
                 QUALIFY row_number() OVER (PARTITION BY text ORDER BY hash(id), id) = 1
                 ORDER BY polarity = ?4 DESC, text LIKE '%〔%' ASC, abs(sentiment_score) DESC, hash(id), id
                 LIMIT {}",
                QUOTES * 3
            ),
            &[&d0, &d1, &row.topic, prevailing],
            |r| {
                let source: String = r.get(0)?;
                let channel: String = r.get(1)?;
                Ok(Quote {
                    source: if source == "hotline" { "热线" } else { "留言" },
                    channel: if source == "hotline" { channel } else { channel_label(&channel) },
                    polarity: r.get(2)?,
                    text: r.get(3)?,
                })
            },
        )?;
        quotes.push(TopicQuotes {
            topic: row.topic.clone(),
            name: row.name.clone(),
            quotes: picked
                .into_iter()
                .filter(|q| quoted.insert(q.text.replace(|c: char| c.is_ascii_digit(), "")))
                .take(QUOTES)
                .map(|mut q| {
                    // Stored text is redacted at ingest; a quote is checked again before it is printed.
                    q.text = Redactor.redact(&q.text).into_owned();
                    q
                })
                .collect(),
        });
    }
    Ok(Topics {
        rows: out,
        hot_word_sample: sample.len() as i64,
        hot_words,
        quotes,
    })
}

fn crisis(conn: &Connection, date: NaiveDate) -> Result<Crisis> {
    let (a, b) = (ts(date), ts(date + Duration::days(1)));
    // Scored crisis language first; a counsellor's high or imminent assessment counts too.
    let items = rows(
        conn,
        "SELECT source, id, tier, region, strftime(event_at, '%H:%M'), status FROM (
            SELECT 'hotline' AS source, call_id AS id,
                   CASE WHEN risk IS NOT NULL AND risk <> 'none' THEN risk
                        WHEN risk_level = 'imminent' THEN 'imminent'
                        ELSE 'assessed_high' END AS tier,
                   coalesce(region, '未注明') AS region, started_at AS event_at,
                   CASE WHEN follow_up_at IS NOT NULL THEN '已回访'
                        WHEN referral IS NOT NULL AND referral <> 'no' THEN '已转介，待回访'
                        WHEN status = 'abandoned' THEN '未接通，需回拨'
                        ELSE '已接听，待转介/回访' END AS status
            FROM hotline_calls
            WHERE started_at >= CAST(?1 AS TIMESTAMP) AND started_at < CAST(?2 AS TIMESTAMP)
              AND ((risk IS NOT NULL AND risk <> 'none') OR risk_level IN ('high', 'imminent'))
            UNION ALL
            SELECT 'feedback', msg_id, risk, coalesce(region, '未注明'), received_at,
                   CASE WHEN replied_at IS NOT NULL THEN '已回复' ELSE '未回复，需立即联系' END
            FROM feedback_messages
            WHERE received_at >= CAST(?1 AS TIMESTAMP) AND received_at < CAST(?2 AS TIMESTAMP)
              AND risk IS NOT NULL AND risk <> 'none')
         ORDER BY CASE tier WHEN 'imminent' THEN 0 WHEN 'harm_others' THEN 1 WHEN 'self_harm' THEN 2
                            WHEN 'ideation' THEN 3 ELSE 4 END, event_at, id",
        &[&a, &b],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        },
    )?;
    let total = items.len() as i64;
    let tier_count = |t: &str, region: Option<&str>| {
        items
            .iter()
            .filter(|i| i.2 == t && region.is_none_or(|r| i.3 == r))
            .count() as i64
    };
    let tiers = TIERS
        .iter()
        .map(|(t, label)| {
            let n = tier_count(t, None);
            Share {
                key: t.to_string(),
                label: label.to_string(),
                n: Cell::of(n),
                share: Fig::share(n, total),
            }
        })
        .collect();
    let mut regions: Vec<&str> = items.iter().map(|i| i.3.as_str()).collect();
    regions.sort();
    regions.dedup();
    let by_region = regions
        .into_iter()
        .map(|region| RegionTiers {
            region: region.to_string(),
            tiers: TIERS
                .iter()
                .map(|(t, _)| Cell::of(tier_count(t, Some(region))))
                .collect(),
            total: Cell::of(items.iter().filter(|i| i.3 == region).count() as i64),
        })
        .collect();
    let items = items
        .into_iter()
        .map(|(source, id, tier, _region, at, status)| CrisisItem {
            source: if source == "hotline" {
                "热线"
            } else {
                "留言"
            },
            tier_label: tier_label(&tier),
            id,
            tier,
            time: at,
            status,
        })
        .collect();
    Ok(Crisis {
        total,
        tiers,
        tier_labels: TIERS.iter().map(|(_, l)| *l).collect(),
        by_region,
        items,
    })
}

/// Hotline KPI columns over any grouping.
const KPI_SELECT: &str = "count(*) AS offered,
    count(*) FILTER (WHERE status IN ('answered', 'transferred') OR (status IS NULL AND answered_at IS NOT NULL)) AS answered,
    count(*) FILTER (WHERE status = 'abandoned') AS abandoned,
    avg(epoch(answered_at - started_at)) FILTER (WHERE answered_at IS NOT NULL) AS asa,
    count(*) FILTER (WHERE answered_at IS NOT NULL) AS asa_n,
    avg(epoch(ended_at - answered_at)) FILTER (WHERE answered_at IS NOT NULL AND ended_at IS NOT NULL) AS aht,
    count(*) FILTER (WHERE answered_at IS NOT NULL AND ended_at IS NOT NULL) AS aht_n,
    count(*) FILTER (WHERE hour(started_at) < 8 OR hour(started_at) >= 18 OR isodow(started_at) >= 6) AS ah_offered,
    count(*) FILTER (WHERE (hour(started_at) < 8 OR hour(started_at) >= 18 OR isodow(started_at) >= 6)
                     AND (status IN ('answered', 'transferred') OR (status IS NULL AND answered_at IS NOT NULL))) AS ah_answered,
    count(*) FILTER (WHERE referral IS NOT NULL AND referral <> 'no') AS referrals,
    count(*) FILTER (WHERE follow_up_at IS NOT NULL) AS follow_ups,
    count(*) FILTER (WHERE risk_level IN ('high', 'imminent')) AS high_risk";

fn kpi_from(r: &duckdb::Row<'_>, at: usize) -> duckdb::Result<Kpi> {
    let n = |i: usize| r.get::<_, i64>(at + i);
    let (offered, answered, abandoned) = (n(0)?, n(1)?, n(2)?);
    let (asa, asa_n): (Option<f64>, i64) = (r.get(at + 3)?, n(4)?);
    let (aht, aht_n): (Option<f64>, i64) = (r.get(at + 5)?, n(6)?);
    let (ah_offered, ah_answered) = (n(7)?, n(8)?);
    Ok(Kpi {
        offered: Cell::of(offered),
        answered: Cell::of(answered),
        answer_rate: Fig::share(answered, offered),
        abandoned: Cell::of(abandoned),
        abandonment_rate: Fig::share(abandoned, offered),
        speed_to_answer_s: Fig::mean(asa, asa_n),
        handle_time_s: Fig::mean(aht, aht_n),
        after_hours_offered: Cell::of(ah_offered),
        after_hours_coverage: Fig::share(ah_answered, ah_offered),
        referrals: Cell::of(n(9)?),
        follow_ups: Cell::of(n(10)?),
        high_risk: Cell::of(n(11)?),
    })
}

fn hotline(conn: &Connection, date: NaiveDate) -> Result<Hotline> {
    let (a, b) = (ts(date), ts(date + Duration::days(1)));
    let w = ts(date - Duration::days(6));
    let window = "started_at >= CAST(?1 AS TIMESTAMP) AND started_at < CAST(?2 AS TIMESTAMP)";
    let total = rows(
        conn,
        &format!("SELECT {KPI_SELECT} FROM hotline_calls WHERE {window}"),
        &[&a, &b],
        |r| kpi_from(r, 0),
    )?
    .pop()
    .unwrap_or_default();
    let by = |column: &str| -> Result<Vec<KpiRow>> {
        let day = rows(
            conn,
            &format!(
                "SELECT coalesce({column}, '未注明') AS k, {KPI_SELECT} FROM hotline_calls
                 WHERE {window} GROUP BY k ORDER BY offered DESC, k"
            ),
            &[&a, &b],
            |r| Ok((r.get::<_, String>(0)?, kpi_from(r, 1)?)),
        )?;
        let week = rows(
            conn,
            &format!(
                "SELECT coalesce({column}, '未注明') AS k, count(*),
                        count(*) FILTER (WHERE status IN ('answered', 'transferred') OR (status IS NULL AND answered_at IS NOT NULL))
                 FROM hotline_calls WHERE {window} GROUP BY k"
            ),
            &[&w, &b],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
        )?;
        Ok(day
            .into_iter()
            .map(|(key, kpi)| {
                let answer_rate_7d = week
                    .iter()
                    .find(|(k, ..)| *k == key)
                    .map_or(Fig::Na, |(_, n, ans)| Fig::share(*ans, *n));
                KpiRow {
                    key,
                    kpi,
                    answer_rate_7d,
                }
            })
            .collect())
    };
    let by_line = by("line")?;
    let by_provider = by("provider")?;
    let hours = rows(
        conn,
        &format!(
            "SELECT hour(started_at), count(*) FROM hotline_calls WHERE {window} GROUP BY ALL"
        ),
        &[&a, &b],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    )?;
    let by_hour = (0..24)
        .map(|h| Cell::of(hours.iter().find(|(x, _)| *x == h).map_or(0, |(_, n)| *n)))
        .collect();
    let m = ts(date - Duration::days(27));
    let weekdays = rows(
        conn,
        &format!(
            "SELECT isodow(started_at), count(*) FROM hotline_calls WHERE {window} GROUP BY ALL"
        ),
        &[&m, &b],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    )?;
    let by_weekday = (1..=7)
        .map(|d| {
            let n = weekdays
                .iter()
                .find(|(x, _)| *x == d)
                .map_or(0, |(_, n)| *n);
            // Four of each weekday in 28 days.
            if small(n) {
                Fig::Suppressed
            } else {
                Fig::V(n as f64 / 4.0)
            }
        })
        .collect();
    Ok(Hotline {
        total,
        by_line,
        by_provider,
        by_hour,
        by_weekday,
        after_hours_definition: "工作日8时前、18时后及周末",
    })
}

fn groups(conn: &Connection, date: NaiveDate) -> Result<Groups> {
    let day = date.to_string();
    // The last four screening periods that ended by the date.
    let periods = rows(
        conn,
        "SELECT DISTINCT CAST(period_start AS VARCHAR), CAST(period_end AS VARCHAR) FROM screening_aggregates
         WHERE period_end <= CAST(?1 AS DATE) AND period_end > CAST(?1 AS DATE) - 120
         ORDER BY period_end DESC, period_start DESC LIMIT 4",
        &[&day],
        |r| Ok((date_at(r, 0)?, date_at(r, 1)?)),
    )?;
    let mut rows_out = Vec::new();
    if let Some(&(_, latest_end)) = periods.first() {
        let oldest = periods.last().map(|p| p.1).unwrap_or(latest_end);
        let data = rows(
            conn,
            "SELECT CAST(period_end AS VARCHAR), coalesce(caller_group, 'other'), instrument,
                    CAST(sum(screened) AS BIGINT), CAST(sum(positive) AS BIGINT)
             FROM screening_aggregates
             WHERE period_end >= CAST(?1 AS DATE) AND period_end <= CAST(?2 AS DATE)
             GROUP BY ALL",
            &[&oldest.to_string(), &latest_end.to_string()],
            |r| {
                Ok((
                    date_at(r, 0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            },
        )?;
        let ends: Vec<NaiveDate> = periods.iter().rev().map(|p| p.1).collect();
        let mut keys: Vec<(String, String)> = data
            .iter()
            .filter(|d| d.0 == latest_end)
            .map(|d| (d.1.clone(), d.2.clone()))
            .collect();
        keys.sort_by_key(|(g, i)| {
            (
                GROUP.codes.iter().position(|(c, _)| c == g).unwrap_or(99),
                i.clone(),
            )
        });
        keys.dedup();
        for (group, instrument) in keys {
            let at = |end: NaiveDate| {
                data.iter()
                    .find(|d| d.0 == end && d.1 == group && d.2 == instrument)
                    .map(|d| (d.3, d.4))
            };
            let history: Vec<Fig> = ends
                .iter()
                .map(|&e| at(e).map_or(Fig::Na, |(n, k)| Fig::share(k, n)))
                .collect();
            let (screened, positive) = at(latest_end).unwrap_or((0, 0));
            let prevalence = Fig::share(positive, screened);
            let (ci_low, ci_high) = match (prevalence, wilson(positive, screened)) {
                (Fig::V(_), Some((lo, hi))) => (Fig::V(lo), Fig::V(hi)),
                (Fig::Suppressed, _) => (Fig::Suppressed, Fig::Suppressed),
                _ => (Fig::Na, Fig::Na),
            };
            let previous = if history.len() >= 2 {
                history[history.len() - 2]
            } else {
                Fig::Na
            };
            rows_out.push(Prevalence {
                label: group_label(&group),
                group,
                instrument,
                screened: Cell::of(screened),
                positive: Cell::of(positive),
                prevalence,
                ci_low,
                ci_high,
                change_pp: prevalence.minus(previous),
                previous,
                history,
            });
        }
    }
    let period_text = |p: Option<&(NaiveDate, NaiveDate)>| p.map(|(s, e)| format!("{s} 至 {e}"));

    let (a, b) = (ts(date - Duration::days(6)), ts(date + Duration::days(1)));
    let neg = rows(
        conn,
        &format!(
            "SELECT coalesce(caller_group, 'other') AS g, source, count(*), count(*) FILTER (WHERE polarity = 'negative')
             FROM {TEXTS} WHERE polarity IS NOT NULL GROUP BY ALL"
        ),
        &[&a, &b],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        },
    )?;
    let mut group_keys: Vec<&str> = neg.iter().map(|n| n.0.as_str()).collect();
    group_keys.sort_by_key(|g| GROUP.codes.iter().position(|(c, _)| c == g).unwrap_or(99));
    group_keys.dedup();
    let negativity = group_keys
        .into_iter()
        .map(|g| {
            let get = |source: &str| {
                neg.iter()
                    .find(|n| n.0 == g && n.1 == source)
                    .map_or((0, 0), |n| (n.2, n.3))
            };
            let (hn, hneg) = get("hotline");
            let (fn_, fneg) = get("feedback");
            GroupNegativity {
                group: g.to_string(),
                label: group_label(g),
                hotline_texts: Cell::of(hn),
                hotline_negative: Fig::share(hneg, hn),
                feedback_texts: Cell::of(fn_),
                feedback_negative: Fig::share(fneg, fn_),
            }
        })
        .collect();
    Ok(Groups {
        period: period_text(periods.first()),
        previous_period: period_text(periods.get(1)),
        rows: rows_out,
        negativity,
    })
}

fn replies(conn: &Connection, date: NaiveDate) -> Result<Replies> {
    // The cohort whose 24 hours end on the date: messages received the day before.
    let (a, b) = (ts(date - Duration::days(1)), ts(date));
    let end = ts(date + Duration::days(1));
    let select = "count(*) AS due,
        count(*) FILTER (WHERE replied_at IS NOT NULL AND replied_at <= received_at + INTERVAL 24 HOUR) AS within,
        count(*) FILTER (WHERE replied_at > received_at + INTERVAL 24 HOUR) AS late,
        count(*) FILTER (WHERE replied_at IS NULL) AS open";
    let reply_row = |key: String, label: String, r: &duckdb::Row<'_>, at: usize| {
        let n = |i: usize| r.get::<_, i64>(at + i);
        let (due, within, late, open) = (n(0)?, n(1)?, n(2)?, n(3)?);
        Ok(ReplyRow {
            key,
            label,
            due: Cell::of(due),
            within_24h: Cell::of(within),
            share_within_24h: Fig::share(within, due),
            late: Cell::of(late),
            unanswered: Cell::of(open),
        })
    };
    let window = "received_at >= CAST(?1 AS TIMESTAMP) AND received_at < CAST(?2 AS TIMESTAMP)";
    let total = rows(
        conn,
        &format!("SELECT {select} FROM feedback_messages WHERE {window}"),
        &[&a, &b],
        |r| reply_row("all".into(), "合计".into(), r, 0),
    )?
    .pop()
    .context("reply totals")?;
    let by = |column: &str, label: &dyn Fn(&str) -> String| -> Result<Vec<ReplyRow>> {
        rows(
            conn,
            &format!(
                "SELECT coalesce({column}, '未注明') AS k, {select} FROM feedback_messages
                 WHERE {window} GROUP BY k ORDER BY due DESC, k"
            ),
            &[&a, &b],
            |r| {
                let k: String = r.get(0)?;
                let l = label(&k);
                reply_row(k, l, r, 1)
            },
        )
    };
    let by_channel = by("channel", &channel_label)?;
    let by_handler = by("handler", &|k: &str| k.to_string())?;
    // Overdue: unanswered at the end of the date and older than 24 hours, within the last week.
    let w = ts(date - Duration::days(7));
    let overdue_sql = "FROM feedback_messages
         WHERE received_at >= CAST(?1 AS TIMESTAMP) AND received_at < CAST(?2 AS TIMESTAMP) - INTERVAL 24 HOUR
           AND (replied_at IS NULL OR replied_at > CAST(?2 AS TIMESTAMP))";
    let overdue_total = rows(
        conn,
        &format!("SELECT count(*) {overdue_sql}"),
        &[&w, &end],
        |r| r.get::<_, i64>(0),
    )?
    .pop()
    .unwrap_or(0);
    let overdue = rows(
        conn,
        &format!(
            "SELECT msg_id, channel, coalesce(handler, '未注明'), strftime(received_at, '%m-%d %H:%M'),
                    CAST(epoch(CAST(?2 AS TIMESTAMP) - received_at) // 3600 AS BIGINT)
             {overdue_sql} ORDER BY received_at, msg_id LIMIT 50"
        ),
        &[&w, &end],
        |r| {
            Ok(Overdue {
                msg_id: r.get(0)?,
                channel: channel_label(&r.get::<_, String>(1)?),
                handler: r.get(2)?,
                received_at: r.get(3)?,
                hours_open: r.get(4)?,
            })
        },
    )?;
    let nearly_due = rows(
        conn,
        "SELECT count(*) FROM feedback_messages
         WHERE received_at >= CAST(?1 AS TIMESTAMP) AND received_at <= CAST(?2 AS TIMESTAMP) - INTERVAL 20 HOUR
           AND received_at > CAST(?2 AS TIMESTAMP) - INTERVAL 24 HOUR
           AND (replied_at IS NULL OR replied_at > CAST(?2 AS TIMESTAMP))",
        &[&ts(date), &end],
        |r| r.get::<_, i64>(0),
    )?
    .pop()
    .unwrap_or(0);
    Ok(Replies {
        cohort: format!(
            "{} 收到的留言（24小时时限止于 {date}）",
            date - Duration::days(1)
        ),
        total,
        by_channel,
        by_handler,
        overdue_total,
        overdue,
        nearly_due,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_values() {
        // 15 of 100: 0.0931–0.2328, as statsmodels' proportion_confint(15, 100, method="wilson").
        let (lo, hi) = wilson(15, 100).unwrap();
        assert!((lo - 0.0931).abs() < 5e-4, "{lo}");
        assert!((hi - 0.2328).abs() < 5e-4, "{hi}");
        let (lo, hi) = wilson(0, 20).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.1611).abs() < 5e-4, "{hi}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn small_cells_are_suppressed_with_what_rests_on_them() {
        assert_eq!(Cell::of(0), Cell::N(0));
        assert_eq!(Cell::of(4), Cell::Suppressed);
        assert_eq!(Cell::of(5), Cell::N(5));
        assert_eq!(Fig::share(3, 100), Fig::Suppressed);
        assert_eq!(Fig::share(10, 4), Fig::Suppressed);
        assert_eq!(Fig::share(0, 100), Fig::V(0.0));
        assert_eq!(Fig::share(0, 0), Fig::Na);
        assert_eq!(Fig::mean(Some(12.0), 3), Fig::Suppressed);
        assert_eq!(
            serde_json::to_string(&(Cell::Suppressed, Fig::V(0.123456), Fig::Na)).unwrap(),
            r#"["<5",0.1235,null]"#
        );
    }
}
