//! Pipeline definitions (`pipelines/*.toml`), read and validated in full before anything runs.
//! Every error names the file, the key and the problem.

use crate::error::{Failure, FailureKind};
use crate::http_source::HttpSourceConfig;
use crate::ingest::mapping::Mapping;
use crate::schema::Kind;
use anyhow::Result;
use chrono::FixedOffset;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Ingest,
    Score,
    Alert,
    Sla,
    Bulletin,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Ingest => "ingest",
            Step::Score => "score",
            Step::Alert => "alert",
            Step::Sla => "sla",
            Step::Bulletin => "bulletin",
        }
    }
}

/// What happens to a drop file once it is ingested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AfterIngest {
    /// Moved into `processed_dir`, so the next run sees only new files.
    #[default]
    Move,
    /// Left in place; the ingest ledger (by SHA-256) skips it on the next run.
    Keep,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// Export files matched by a glob.
    Files {
        kind: Kind,
        glob: String,
        mapping: Option<PathBuf>,
        sheet: Option<String>,
        #[serde(default)]
        after: AfterIngest,
        /// Where `after = "move"` puts files (default: `processed/` beside each file).
        processed_dir: Option<PathBuf>,
    },
    /// An HTTP source described by its own TOML file (see `xinqing fetch`).
    Http { config: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BulletinDay {
    #[default]
    Yesterday,
    Today,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulletinConfig {
    /// Which day a run without `--date` reports on, relative to its scheduled time.
    #[serde(default)]
    pub day: BulletinDay,
    /// Output directory; `{date}` is replaced by the day (default `reports/out/{date}`).
    #[serde(default = "default_bulletin_out")]
    pub out: String,
    pub templates: Option<PathBuf>,
}

fn default_bulletin_out() -> String {
    "reports/out/{date}".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Counsellor-assessed high risk without crisis language; ranked with ideation.
    AssessedHigh,
    Ideation,
    SelfHarm,
    HarmOthers,
    Imminent,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::AssessedHigh => "assessed_high",
            Tier::Ideation => "ideation",
            Tier::SelfHarm => "self_harm",
            Tier::HarmOthers => "harm_others",
            Tier::Imminent => "imminent",
        }
    }
    pub fn parse(s: &str) -> Option<Tier> {
        [
            Tier::AssessedHigh,
            Tier::Ideation,
            Tier::SelfHarm,
            Tier::HarmOthers,
            Tier::Imminent,
        ]
        .into_iter()
        .find(|t| t.name() == s)
    }
    /// Severity for the `min_tier` threshold: a counsellor's "high" counts as ideation.
    pub fn rank(self) -> u8 {
        match self {
            Tier::AssessedHigh | Tier::Ideation => 1,
            Tier::SelfHarm => 2,
            Tier::HarmOthers => 3,
            Tier::Imminent => 4,
        }
    }
    /// The category of what matched, for an alert (never the words themselves).
    pub fn category(self) -> &'static str {
        match self {
            Tier::AssessedHigh => "咨询师评估高风险",
            Tier::Ideation => "自杀意念表述",
            Tier::SelfHarm => "自伤行为表述",
            Tier::HarmOthers => "伤害他人表述",
            Tier::Imminent => "自杀计划/手段/时间表述",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SinkConfig {
    Webhook {
        name: String,
        url: String,
        /// The environment variable holding the HMAC-SHA256 signing secret.
        secret_env: String,
        #[serde(default = "default_sink_timeout")]
        timeout_secs: f64,
        /// Attempts per run before the alert is left pending for the next run.
        #[serde(default = "default_sink_attempts")]
        attempts: u32,
        #[serde(default = "default_sink_backoff_ms")]
        backoff_ms: u64,
    },
    Jsonl {
        name: String,
        path: PathBuf,
    },
}

impl SinkConfig {
    pub fn name(&self) -> &str {
        match self {
            SinkConfig::Webhook { name, .. } | SinkConfig::Jsonl { name, .. } => name,
        }
    }
}

fn default_sink_timeout() -> f64 {
    10.0
}
fn default_sink_attempts() -> u32 {
    3
}
fn default_sink_backoff_ms() -> u64 {
    500
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// The lowest tier that raises an alert (default: ideation, i.e. every tier).
    #[serde(default = "default_min_tier")]
    pub min_tier: Tier,
    pub sinks: Vec<SinkConfig>,
}

fn default_min_tier() -> Tier {
    Tier::Ideation
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// Unanswered feedback older than this is listed (the target is 24 hours).
    #[serde(default = "default_warn_after_hours")]
    pub warn_after_hours: u32,
    /// How far back to look (bounds the query; older messages are in the bulletin's list).
    #[serde(default = "default_lookback_days")]
    pub lookback_days: u32,
}

fn default_warn_after_hours() -> u32 {
    20
}
fn default_lookback_days() -> u32 {
    7
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    pub name: String,
    /// Cron expression (minute hour day month weekday), in `timezone`.
    pub schedule: Option<String>,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Relative paths are taken from here, itself relative to the pipeline file's directory.
    pub base_dir: Option<PathBuf>,
    /// The store; `--db` on the command line wins.
    pub store: Option<PathBuf>,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    pub bulletin: Option<BulletinConfig>,
    pub alerts: Option<AlertConfig>,
    pub sla: Option<SlaConfig>,
    /// After downtime, how many missed scheduled runs `schedule` makes up (latest first).
    #[serde(default = "default_catch_up")]
    pub catch_up: u32,
    pub dictionaries: Option<PathBuf>,
}

fn default_timezone() -> String {
    "Asia/Shanghai".into()
}
fn default_catch_up() -> u32 {
    1
}

/// A validated pipeline with its paths resolved.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub file: PathBuf,
    pub config: PipelineConfig,
    pub base: PathBuf,
    pub schedule: Option<croner::Cron>,
    pub offset: FixedOffset,
    pub http: Vec<HttpSourceConfig>,
}

fn config_error(origin: &str, key: &str, problem: impl std::fmt::Display) -> anyhow::Error {
    Failure::new(
        FailureKind::Config,
        format!("{origin}: key `{key}`: {problem}"),
    )
    .into()
}

/// `a/b/../c` as `a/c`, lexically, so messages show the path an operator would type.
fn normalise(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// The offsets this build knows by name; China has one time zone and no daylight saving.
fn parse_timezone(tz: &str) -> Option<FixedOffset> {
    match tz {
        "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "Asia/Urumqi" | "PRC" | "CST" => {
            FixedOffset::east_opt(8 * 3600)
        }
        "UTC" | "Etc/UTC" | "Z" => FixedOffset::east_opt(0),
        _ => {
            let (sign, rest) = match tz.as_bytes().first()? {
                b'+' => (1, &tz[1..]),
                b'-' => (-1, &tz[1..]),
                _ => return None,
            };
            let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
            let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
            if h > 14 || m > 59 {
                return None;
            }
            FixedOffset::east_opt(sign * (h * 3600 + m * 60))
        }
    }
}

impl Pipeline {
    pub fn load(path: &Path) -> Result<Pipeline> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::new(FailureKind::Config, format!("{origin}: cannot read: {e}"))
        })?;
        let config: PipelineConfig = toml::from_str(&text)
            .map_err(|e| Failure::new(FailureKind::Config, format!("{origin}: {e}")))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let base = match &config.base_dir {
            Some(b) => dir.join(b),
            None => dir.to_path_buf(),
        };
        let mut pipeline = Pipeline {
            file: path.to_path_buf(),
            base,
            schedule: None,
            offset: FixedOffset::east_opt(8 * 3600).expect("valid offset"),
            http: Vec::new(),
            config,
        };
        pipeline.validate(&origin)?;
        Ok(pipeline)
    }

    /// A path from the pipeline file, resolved against its base directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            normalise(&self.base.join(p))
        }
    }

    pub fn has(&self, step: Step) -> bool {
        self.config.steps.contains(&step)
    }

    fn validate(&mut self, origin: &str) -> Result<()> {
        let c = &self.config;
        if c.name.is_empty()
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(config_error(
                origin,
                "name",
                "must be non-empty letters, digits, '-' or '_'",
            ));
        }
        self.offset = parse_timezone(&c.timezone).ok_or_else(|| {
            config_error(
                origin,
                "timezone",
                format!(
                    "'{}' is not supported: use Asia/Shanghai, UTC or an offset such as +08:00",
                    c.timezone
                ),
            )
        })?;
        if let Some(s) = &c.schedule {
            // Five fields as in crontab; a sixth (seconds, first) is accepted too.
            let parser = croner::parser::CronParser::builder()
                .seconds(croner::parser::Seconds::Optional)
                .build();
            let cron = parser.parse(s).map_err(|e| {
                config_error(
                    origin,
                    "schedule",
                    format!("'{s}' is not a cron expression: {e}"),
                )
            })?;
            self.schedule = Some(cron);
        }
        if c.steps.is_empty() {
            return Err(config_error(origin, "steps", "lists no steps"));
        }
        let mut seen = Vec::new();
        for s in &c.steps {
            if seen.contains(s) {
                return Err(config_error(
                    origin,
                    "steps",
                    format!("'{}' is listed twice", s.name()),
                ));
            }
            seen.push(*s);
        }
        if c.steps.contains(&Step::Ingest) && c.sources.is_empty() {
            return Err(config_error(
                origin,
                "sources",
                "the ingest step needs at least one [[sources]] entry",
            ));
        }
        if !c.steps.contains(&Step::Ingest) && !c.sources.is_empty() {
            return Err(config_error(
                origin,
                "steps",
                "[[sources]] are given but 'ingest' is not a step",
            ));
        }
        if c.steps.contains(&Step::Alert) && c.alerts.is_none() {
            return Err(config_error(
                origin,
                "alerts",
                "the alert step needs an [alerts] table with sinks",
            ));
        }
        for (i, source) in c.sources.iter().enumerate() {
            let key = |k: &str| format!("sources[{i}].{k}");
            match source {
                SourceConfig::Files {
                    kind,
                    glob,
                    mapping,
                    ..
                } => {
                    glob::Pattern::new(glob).map_err(|e| config_error(origin, &key("glob"), e))?;
                    if let Some(m) = mapping {
                        let p = self.resolve(m);
                        Mapping::load(&p, *kind)
                            .map_err(|e| config_error(origin, &key("mapping"), format!("{e:#}")))?;
                    }
                }
                SourceConfig::Http { config } => {
                    let p = self.resolve(config);
                    let http = HttpSourceConfig::load(&p)
                        .map_err(|e| config_error(origin, &key("config"), format!("{e:#}")))?;
                    self.http.push(http);
                }
            }
        }
        if let Some(a) = &c.alerts {
            if a.sinks.is_empty() {
                return Err(config_error(origin, "alerts.sinks", "lists no sinks"));
            }
            let mut names = Vec::new();
            for (i, sink) in a.sinks.iter().enumerate() {
                let key = |k: &str| format!("alerts.sinks[{i}].{k}");
                if sink.name().is_empty() || names.contains(&sink.name()) {
                    return Err(config_error(
                        origin,
                        &key("name"),
                        "must be present and unique",
                    ));
                }
                names.push(sink.name());
                if let SinkConfig::Webhook {
                    url,
                    secret_env,
                    timeout_secs,
                    attempts,
                    ..
                } = sink
                {
                    let parsed = reqwest::Url::parse(url).map_err(|e| {
                        config_error(origin, &key("url"), format!("'{url}' is not a URL: {e}"))
                    })?;
                    if !matches!(parsed.scheme(), "http" | "https") {
                        return Err(config_error(
                            origin,
                            &key("url"),
                            "must be http:// or https://",
                        ));
                    }
                    match std::env::var(secret_env) {
                        Ok(v) if !v.is_empty() => {}
                        _ => {
                            return Err(config_error(
                                origin,
                                &key("secret_env"),
                                format!("the environment variable {secret_env} is not set"),
                            ))
                        }
                    }
                    if !(*timeout_secs > 0.0 && *timeout_secs <= 600.0) {
                        return Err(config_error(
                            origin,
                            &key("timeout_secs"),
                            "must be between 0 and 600",
                        ));
                    }
                    if *attempts == 0 {
                        return Err(config_error(origin, &key("attempts"), "must be at least 1"));
                    }
                }
            }
        }
        if let Some(s) = &c.sla {
            if s.warn_after_hours == 0 || s.warn_after_hours >= 24 {
                return Err(config_error(
                    origin,
                    "sla.warn_after_hours",
                    "must be between 1 and 23 (replies are due within 24 hours)",
                ));
            }
        }
        if c.steps.contains(&Step::Bulletin) {
            let out = c
                .bulletin
                .as_ref()
                .map_or_else(default_bulletin_out, |b| b.out.clone());
            if out.trim().is_empty() {
                return Err(config_error(origin, "bulletin.out", "is empty"));
            }
        }
        Ok(())
    }
}
