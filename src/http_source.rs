//! HTTP sources: a JSON API paged by cursor or page number, fetched page by page. Each page's
//! rows and the advanced cursor are committed in one transaction, so a run stopped at any point
//! resumes where the store says, with no row lost or stored twice.
//!
//! ```toml
//! name = "wechat-feedback"
//! url = "http://10.1.2.3/api/messages"
//! kind = "feedback"                  # default
//! items_field = "data.items"         # where the page's array is ("" for a bare array)
//! [pagination]
//! type = "cursor"                    # or "page"
//! cursor_param = "cursor"
//! next_cursor_field = "next_cursor"
//! [auth]
//! header = "Authorization"
//! prefix = "Bearer "
//! env = "WECHAT_API_TOKEN"           # the secret itself is never in the file
//! ```

use crate::error::{Failure, FailureKind};
use crate::ingest::mapping::Mapping;
use crate::ingest::{
    read, record_ledger, store_rejects, LedgerEntry, Merge, MergeCounts, Validator,
};
use crate::schema::Kind;
use crate::store::Store;
use crate::timefmt;
use anyhow::{Context, Result};
use duckdb::params;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    /// Names the source in the store's cursor table and in rejects.
    pub name: String,
    pub url: String,
    #[serde(default = "default_kind")]
    pub kind: Kind,
    #[serde(default = "default_items_field")]
    pub items_field: String,
    pub pagination: Pagination,
    pub auth: Option<AuthConfig>,
    /// Extra query parameters sent with every request.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Pages fetched in one run at most, so that one run cannot go on for ever.
    #[serde(default = "default_max_pages")]
    pub max_pages: u64,
    /// A mapping file for the items' field names (relative to the config file).
    pub mapping: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Pagination {
    Cursor {
        #[serde(default = "default_cursor_param")]
        cursor_param: String,
        #[serde(default = "default_next_cursor_field")]
        next_cursor_field: String,
        limit_param: Option<String>,
        limit: Option<u64>,
    },
    Page {
        #[serde(default = "default_page_param")]
        page_param: String,
        #[serde(default = "default_first_page")]
        first_page: u64,
        size_param: Option<String>,
        #[serde(default = "default_page_size")]
        page_size: u64,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default = "default_auth_header")]
    pub header: String,
    #[serde(default)]
    pub prefix: String,
    /// The environment variable that holds the secret.
    pub env: String,
}

fn default_kind() -> Kind {
    Kind::Feedback
}
fn default_items_field() -> String {
    "items".into()
}
fn default_timeout_secs() -> f64 {
    30.0
}
fn default_max_retries() -> u32 {
    5
}
fn default_backoff_initial_ms() -> u64 {
    500
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_max_pages() -> u64 {
    10_000
}
fn default_cursor_param() -> String {
    "cursor".into()
}
fn default_next_cursor_field() -> String {
    "next_cursor".into()
}
fn default_page_param() -> String {
    "page".into()
}
fn default_first_page() -> u64 {
    1
}
fn default_page_size() -> u64 {
    100
}
fn default_auth_header() -> String {
    "Authorization".into()
}

/// A configuration problem, naming the file and key.
fn config_error(origin: &str, key: &str, problem: impl std::fmt::Display) -> anyhow::Error {
    Failure::new(
        FailureKind::Config,
        format!("{origin}: key `{key}`: {problem}"),
    )
    .into()
}

impl HttpSourceConfig {
    pub fn load(path: &Path) -> Result<HttpSourceConfig> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::new(FailureKind::Config, format!("{origin}: cannot read: {e}"))
        })?;
        let mut config: HttpSourceConfig = toml::from_str(&text)
            .map_err(|e| Failure::new(FailureKind::Config, format!("{origin}: {e}")))?;
        if let Some(m) = &config.mapping {
            if m.is_relative() {
                config.mapping = Some(path.parent().unwrap_or(Path::new(".")).join(m));
            }
        }
        config.validate(&origin)?;
        Ok(config)
    }

    /// Every check that can be made before a request is sent.
    pub fn validate(&self, origin: &str) -> Result<()> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(config_error(
                origin,
                "name",
                "must be non-empty letters, digits, '-' or '_'",
            ));
        }
        let url = reqwest::Url::parse(&self.url).map_err(|e| {
            config_error(origin, "url", format!("'{}' is not a URL: {e}", self.url))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(config_error(origin, "url", "must be http:// or https://"));
        }
        if !(self.timeout_secs > 0.0 && self.timeout_secs <= 3600.0) {
            return Err(config_error(
                origin,
                "timeout_secs",
                "must be between 0 and 3600",
            ));
        }
        if self.backoff_initial_ms == 0 || self.backoff_initial_ms > self.backoff_max_ms {
            return Err(config_error(
                origin,
                "backoff_initial_ms",
                "must be above 0 and at most backoff_max_ms",
            ));
        }
        if self.max_pages == 0 {
            return Err(config_error(origin, "max_pages", "must be at least 1"));
        }
        if let Pagination::Page { page_size: 0, .. } = self.pagination {
            return Err(config_error(
                origin,
                "pagination.page_size",
                "must be at least 1",
            ));
        }
        if let Some(auth) = &self.auth {
            match std::env::var(&auth.env) {
                Ok(v) if !v.is_empty() => {}
                _ => {
                    return Err(config_error(
                        origin,
                        "auth.env",
                        format!("the environment variable {} is not set", auth.env),
                    ))
                }
            }
        }
        if let Some(m) = &self.mapping {
            Mapping::load(m, self.kind)?;
        }
        Ok(())
    }
}

/// Where a source left off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceState {
    pub cursor: Option<String>,
    pub page: Option<u64>,
}

pub fn load_state(store: &Store, source: &str) -> Result<SourceState> {
    let mut stmt = store
        .conn()
        .prepare("SELECT cursor, page FROM source_state WHERE source = ?")?;
    let mut rows = stmt.query(params![source])?;
    Ok(match rows.next()? {
        Some(row) => SourceState {
            cursor: row.get(0)?,
            page: row.get::<_, Option<i64>>(1)?.map(|p| p as u64),
        },
        None => SourceState::default(),
    })
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct FetchReport {
    pub source: String,
    pub pages: u64,
    pub requests: u64,
    pub retries: u64,
    pub counts: MergeCounts,
}

/// A page as received: its items and where the next one is.
struct Page {
    items: Vec<serde_json::Value>,
    next_cursor: Option<String>,
    sha256: String,
    bytes: u64,
}

/// Fetches pages until the source has no more (or `max_pages`), committing each page.
pub fn fetch(
    store: &mut Store,
    config: &HttpSourceConfig,
    validator: &Validator<'_>,
) -> Result<FetchReport> {
    // rustls needs a process-wide crypto provider; ring is the one this build carries.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    runtime.block_on(fetch_async(store, config, validator))
}

async fn fetch_async(
    store: &mut Store,
    config: &HttpSourceConfig,
    validator: &Validator<'_>,
) -> Result<FetchReport> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs_f64(config.timeout_secs))
        .connect_timeout(Duration::from_secs_f64(config.timeout_secs.min(10.0)))
        .build()
        .context("building the HTTP client")?;
    let mut report = FetchReport {
        source: config.name.clone(),
        ..Default::default()
    };
    let mut state = load_state(store, &config.name)?;
    for _ in 0..config.max_pages {
        let url = page_url(config, &state)?;
        let page = get_page(&client, config, &url, &mut report).await?;
        let item_count = page.items.len() as u64;
        // Decide where the next run starts before committing, so both land together.
        let (next_state, done) = match &config.pagination {
            Pagination::Cursor { .. } => match &page.next_cursor {
                Some(next) if item_count > 0 && Some(next) != state.cursor.as_ref() => (
                    SourceState {
                        cursor: Some(next.clone()),
                        page: None,
                    },
                    false,
                ),
                // The last page: next time, ask again from the same cursor for newer items.
                _ => (state.clone(), true),
            },
            Pagination::Page {
                first_page,
                page_size,
                ..
            } => {
                let current = state.page.unwrap_or(*first_page);
                if item_count >= *page_size {
                    (
                        SourceState {
                            cursor: None,
                            page: Some(current + 1),
                        },
                        false,
                    )
                } else {
                    // A short page may still grow: read it again next time.
                    (
                        SourceState {
                            cursor: None,
                            page: Some(current),
                        },
                        true,
                    )
                }
            }
        };
        let counts = commit_page(store, config, validator, &url, page, &next_state)?;
        report.pages += 1;
        report.counts += &counts;
        tracing::info!(
            source = %config.name,
            items = item_count,
            inserted = counts.inserted,
            updated = counts.updated,
            rejected = counts.rejected,
            "page committed"
        );
        state = next_state;
        if done || item_count == 0 {
            break;
        }
    }
    Ok(report)
}

fn page_url(config: &HttpSourceConfig, state: &SourceState) -> Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(&config.url)?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in &config.query {
            q.append_pair(k, v);
        }
        match &config.pagination {
            Pagination::Cursor {
                cursor_param,
                limit_param,
                limit,
                ..
            } => {
                if let Some(c) = &state.cursor {
                    q.append_pair(cursor_param, c);
                }
                if let (Some(p), Some(n)) = (limit_param, limit) {
                    q.append_pair(p, &n.to_string());
                }
            }
            Pagination::Page {
                page_param,
                first_page,
                size_param,
                page_size,
            } => {
                q.append_pair(page_param, &state.page.unwrap_or(*first_page).to_string());
                if let Some(p) = size_param {
                    q.append_pair(p, &page_size.to_string());
                }
            }
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    Ok(url)
}

/// Why one attempt failed, and whether another may succeed.
enum Attempt {
    Retry { why: String, wait: Option<Duration> },
    Fatal(String),
}

async fn get_page(
    client: &reqwest::Client,
    config: &HttpSourceConfig,
    url: &reqwest::Url,
    report: &mut FetchReport,
) -> Result<Page> {
    let mut last_problem = String::new();
    for attempt in 0..=config.max_retries {
        if attempt > 0 {
            report.retries += 1;
        }
        report.requests += 1;
        match try_once(client, config, url).await {
            Ok(page) => return Ok(page),
            Err(Attempt::Fatal(why)) => {
                return Err(Failure::new(
                    FailureKind::Source,
                    format!("source {}: GET {url}: {why}", config.name),
                )
                .into())
            }
            Err(Attempt::Retry { why, wait }) => {
                let backoff = config
                    .backoff_initial_ms
                    .saturating_mul(1u64 << attempt.min(20))
                    .min(config.backoff_max_ms);
                // Retry-After is honoured as the server asks, up to five minutes.
                let wait = wait
                    .map(|w| w.min(Duration::from_secs(300)))
                    .unwrap_or(Duration::from_millis(backoff));
                if attempt < config.max_retries {
                    tracing::warn!(
                        source = %config.name,
                        attempt = attempt + 1,
                        wait_ms = wait.as_millis() as u64,
                        problem = %why,
                        "request failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                last_problem = why;
            }
        }
    }
    Err(Failure::new(
        FailureKind::Source,
        format!(
            "source {}: GET {url} failed after {} retries: {last_problem}",
            config.name, config.max_retries
        ),
    )
    .into())
}

async fn try_once(
    client: &reqwest::Client,
    config: &HttpSourceConfig,
    url: &reqwest::Url,
) -> Result<Page, Attempt> {
    let mut request = client.get(url.clone()).header("Accept", "application/json");
    if let Some(auth) = &config.auth {
        let secret = std::env::var(&auth.env).unwrap_or_default();
        request = request.header(auth.header.as_str(), format!("{}{secret}", auth.prefix));
    }
    let response = request.send().await.map_err(|e| Attempt::Retry {
        why: describe_reqwest_error(&e),
        wait: None,
    })?;
    let status = response.status();
    if status.as_u16() == 429 || status.is_server_error() {
        let wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        return Err(Attempt::Retry {
            why: format!("HTTP {status}"),
            wait,
        });
    }
    if !status.is_success() {
        return Err(Attempt::Fatal(format!("HTTP {status}")));
    }
    let body = response.bytes().await.map_err(|e| Attempt::Retry {
        why: describe_reqwest_error(&e),
        wait: None,
    })?;
    // A truncated or garbled body is worth another try; it is often a proxy's doing.
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| Attempt::Retry {
        why: format!("malformed JSON in the response: {e}"),
        wait: None,
    })?;
    let items_value = if config.items_field.is_empty() {
        Some(&json)
    } else {
        config
            .items_field
            .split('.')
            .try_fold(&json, |v, key| v.get(key))
    };
    let items = match items_value {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(serde_json::Value::Null) | None if config.items_field.is_empty() => {
            return Err(Attempt::Retry {
                why: "the response is not a JSON array".into(),
                wait: None,
            })
        }
        _ => {
            return Err(Attempt::Retry {
                why: format!("the response has no array at '{}'", config.items_field),
                wait: None,
            })
        }
    };
    let next_cursor = match &config.pagination {
        Pagination::Cursor {
            next_cursor_field, ..
        } => next_cursor_field
            .split('.')
            .try_fold(&json, |v, key| v.get(key))
            .and_then(|v| match v {
                serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
        Pagination::Page { .. } => None,
    };
    Ok(Page {
        items,
        next_cursor,
        sha256: hex::encode(Sha256::digest(&body)),
        bytes: body.len() as u64,
    })
}

fn describe_reqwest_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        // Strip the URL reqwest appends; the caller prints it once.
        let text = e.to_string();
        match e.url() {
            Some(url) => text.replace(&format!(" ({url})"), ""),
            None => text,
        }
    }
}

fn commit_page(
    store: &mut Store,
    config: &HttpSourceConfig,
    validator: &Validator<'_>,
    url: &reqwest::Url,
    page: Page,
    next_state: &SourceState,
) -> Result<MergeCounts> {
    let label = format!("http:{}", config.name);
    let now = timefmt::now_text();
    let tx = store.conn_mut().transaction()?;
    let mut merge = Merge::begin(&tx, config.kind, validator.scores())?;
    let mut rejects = Vec::new();
    let read = page.items.len() as u64;
    for (i, item) in page.items.into_iter().enumerate() {
        let line = i as u64 + 1;
        let row = match item {
            serde_json::Value::Object(object) => read::object_row(line, object),
            other => read::RawRow {
                line,
                keys: None,
                cells: vec![other.to_string()],
                problem: Some("not a JSON object".into()),
            },
        };
        validator.take_row(&mut merge, &mut rejects, &row, &[])?;
    }
    let mut counts = merge.finish(&label, &now)?;
    counts.read = read;
    counts.rejected = rejects.len() as u64;
    store_rejects(&tx, config.kind, &label, &page.sha256, &rejects, &now)?;
    let source_file = format!("{label} {}", url.query().unwrap_or(""));
    record_ledger(
        &tx,
        &LedgerEntry {
            kind: config.kind,
            source_file: source_file.trim_end(),
            sha256: &page.sha256,
            bytes: page.bytes,
            format: "http",
            encoding: Some("UTF-8"),
            counts: &counts,
            started_at: &now,
        },
    )?;
    tx.execute(
        "INSERT OR REPLACE INTO source_state (source, cursor, page, updated_at)
         VALUES (?, ?, ?, CAST(? AS TIMESTAMP))",
        params![
            config.name,
            next_state.cursor,
            next_state.page.map(|p| p as i64),
            now
        ],
    )?;
    tx.commit().context("committing a page")?;
    Ok(counts)
}
