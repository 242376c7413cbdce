//! Crisis alerts: raised in the run that stores a record at or above the configured tier, once
//! per record however often it is re-ingested, and delivered to every sink. An alert carries
//! the record's source ID (so the source system can find the person), tier, category, region,
//! group, source and time — never its text or any personal data. A sink that cannot be reached
//! leaves the alert pending; the next run delivers it.

use super::config::{AlertConfig, SinkConfig, Tier};
use crate::store::Store;
use anyhow::{Context, Result};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The JSON an alert is delivered as.
#[derive(Debug, Clone, Serialize)]
pub struct AlertMessage {
    pub alert_id: i64,
    /// "hotline" (the ID is a call_id) or "feedback" (a msg_id).
    pub source: String,
    pub record_id: String,
    pub tier: String,
    pub category: String,
    /// "scored" (crisis language in the text) or "counsellor" (the counsellor's risk level).
    pub assessed_by: String,
    pub region: Option<String>,
    pub caller_group: Option<String>,
    pub record_time: Option<String>,
    pub raised_at: String,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct AlertCounts {
    pub raised: u64,
    pub delivered: u64,
    pub pending: u64,
}

/// The tier of a stored record: the higher of the scored risk and the counsellor's level.
fn tier_of(scored: Option<&str>, counsellor: Option<&str>) -> Option<(Tier, &'static str)> {
    let from_text = scored.and_then(Tier::parse).map(|t| (t, "scored"));
    let from_counsellor = match counsellor {
        Some("imminent") => Some((Tier::Imminent, "counsellor")),
        Some("high") => Some((Tier::AssessedHigh, "counsellor")),
        _ => None,
    };
    match (from_text, from_counsellor) {
        (Some(a), Some(b)) => Some(if b.0.rank() > a.0.rank() { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// A stored record that may need an alert: source, ID, scored risk, counsellor's level,
/// region, group, time.
type Candidate = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Raises alerts for records stored or changed since `since` that reach the threshold and
/// have none yet, with one pending delivery per sink. Returns how many were raised.
pub fn raise(
    store: &mut Store,
    config: &AlertConfig,
    since: &str,
    run_id: i64,
    now: &str,
) -> Result<u64> {
    let candidates: Vec<Candidate> = {
        let mut stmt = store.conn().prepare(
            "SELECT 'hotline', call_id, risk, risk_level, region, caller_group, strftime(started_at, '%Y-%m-%d %H:%M:%S')
             FROM hotline_calls
             WHERE (first_seen_at >= CAST(?1 AS TIMESTAMP) OR updated_at >= CAST(?1 AS TIMESTAMP))
               AND ((risk IS NOT NULL AND risk <> 'none') OR risk_level IN ('high', 'imminent'))
               AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.source = 'hotline' AND a.record_id = call_id)
             UNION ALL
             SELECT 'feedback', msg_id, risk, NULL, region, caller_group, strftime(received_at, '%Y-%m-%d %H:%M:%S')
             FROM feedback_messages
             WHERE (first_seen_at >= CAST(?1 AS TIMESTAMP) OR updated_at >= CAST(?1 AS TIMESTAMP))
               AND risk IS NOT NULL AND risk <> 'none'
               AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.source = 'feedback' AND a.record_id = msg_id)
             ORDER BY 7, 2",
        )?;
        let rows = stmt.query_map([since], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let tx = store.conn_mut().transaction()?;
    let mut raised = 0;
    for (source, record_id, risk, level, region, group, time) in candidates {
        let Some((tier, assessed_by)) = tier_of(risk.as_deref(), level.as_deref()) else {
            continue;
        };
        if tier.rank() < config.min_tier.rank() {
            continue;
        }
        let id: i64 = tx.query_row(
            "INSERT INTO alerts (source, record_id, tier, category, assessed_by, region, caller_group,
                                 record_time, raised_at, run_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?) RETURNING id",
            duckdb::params![
                source,
                record_id,
                tier.name(),
                tier.category(),
                assessed_by,
                region,
                group,
                time,
                now,
                run_id
            ],
            |r| r.get(0),
        )?;
        for sink in &config.sinks {
            tx.execute(
                "INSERT INTO alert_deliveries VALUES (?, ?, 'pending', 0, NULL, NULL)",
                duckdb::params![id, sink.name()],
            )?;
        }
        // Logged by ID and tier only: an alert never carries text.
        tracing::info!(alert_id = id, source = %source, record_id = %record_id, tier = tier.name(), "crisis alert raised");
        raised += 1;
    }
    tx.commit()?;
    if raised > 0 {
        tracing::warn!(raised, "crisis alerts raised");
    }
    Ok(raised)
}

fn pending_for(store: &Store, sink: &str) -> Result<Vec<AlertMessage>> {
    let mut stmt = store.conn().prepare(
        "SELECT a.id, a.source, a.record_id, a.tier, a.category, a.assessed_by, a.region, a.caller_group,
                strftime(a.record_time, '%Y-%m-%dT%H:%M:%S+08:00'), strftime(a.raised_at, '%Y-%m-%dT%H:%M:%S+08:00')
         FROM alerts a JOIN alert_deliveries d ON d.alert_id = a.id
         WHERE d.sink = ? AND d.status = 'pending' ORDER BY a.id",
    )?;
    let rows = stmt.query_map([sink], |r| {
        Ok(AlertMessage {
            alert_id: r.get(0)?,
            source: r.get(1)?,
            record_id: r.get(2)?,
            tier: r.get(3)?,
            category: r.get(4)?,
            assessed_by: r.get(5)?,
            region: r.get(6)?,
            caller_group: r.get(7)?,
            record_time: r.get(8)?,
            raised_at: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The signature header value for a body: `sha256=` and the hex HMAC-SHA256 under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub const SIGNATURE_HEADER: &str = "X-Xinqing-Signature";

fn mark(
    store: &Store,
    alert_id: i64,
    sink: &str,
    result: &Result<(), String>,
    now: &str,
) -> Result<()> {
    match result {
        Ok(()) => store.conn().execute(
            "UPDATE alert_deliveries SET status = 'delivered', attempts = attempts + 1, last_error = NULL,
                    delivered_at = CAST(? AS TIMESTAMP) WHERE alert_id = ? AND sink = ?",
            duckdb::params![now, alert_id, sink],
        )?,
        Err(e) => store.conn().execute(
            "UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ? WHERE alert_id = ? AND sink = ?",
            duckdb::params![e, alert_id, sink],
        )?,
    };
    Ok(())
}

/// Delivers every pending alert to every configured sink; what fails stays pending.
pub fn deliver(
    store: &mut Store,
    config: &AlertConfig,
    base: &Path,
    now: &str,
) -> Result<AlertCounts> {
    let mut counts = AlertCounts::default();
    for sink in &config.sinks {
        let pending = pending_for(store, sink.name())?;
        if pending.is_empty() {
            continue;
        }
        match sink {
            SinkConfig::Jsonl { name, path } => {
                let path = if path.is_absolute() {
                    path.clone()
                } else {
                    base.join(path)
                };
                let written = append_jsonl(&path, &pending);
                for a in &pending {
                    let r = written.as_ref().map(|_| ()).map_err(|e| format!("{e:#}"));
                    mark(store, a.alert_id, name, &r, now)?;
                    if r.is_ok() {
                        counts.delivered += 1;
                    } else {
                        counts.pending += 1;
                    }
                }
                if let Err(e) = written {
                    tracing::error!(sink = %name, "alert sink failed: {e:#}");
                }
            }
            SinkConfig::Webhook {
                name,
                url,
                secret_env,
                timeout_secs,
                attempts,
                backoff_ms,
            } => {
                let secret = std::env::var(secret_env).with_context(|| {
                    format!("the webhook secret variable {secret_env} is not set")
                })?;
                let results = post_all(
                    url,
                    secret.as_bytes(),
                    &pending,
                    *timeout_secs,
                    *attempts,
                    *backoff_ms,
                )?;
                for (a, r) in pending.iter().zip(results) {
                    if let Err(e) = &r {
                        tracing::error!(sink = %name, alert_id = a.alert_id, "alert not delivered, left pending: {e}");
                    }
                    mark(store, a.alert_id, name, &r, now)?;
                    if r.is_ok() {
                        counts.delivered += 1;
                    } else {
                        counts.pending += 1;
                    }
                }
            }
        }
    }
    Ok(counts)
}

fn append_jsonl(path: &Path, alerts: &[AlertMessage]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut text = String::new();
    for a in alerts {
        text.push_str(&serde_json::to_string(a)?);
        text.push('\n');
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_data())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn post_all(
    url: &str,
    secret: &[u8],
    alerts: &[AlertMessage],
    timeout_secs: f64,
    attempts: u32,
    backoff_ms: u64,
) -> Result<Vec<Result<(), String>>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs_f64(timeout_secs))
        .build()
        .context("building the HTTP client")?;
    Ok(runtime.block_on(async {
        let mut out = Vec::with_capacity(alerts.len());
        let mut reachable = true;
        for a in alerts {
            if !reachable {
                // The sink is down: the rest wait for the next run rather than each retrying.
                out.push(Err(
                    "not attempted: the sink did not answer for an earlier alert".into(),
                ));
                continue;
            }
            let body = serde_json::to_vec(a).expect("an alert serialises");
            let sig = signature(secret, &body);
            let mut last = String::new();
            let mut delivered = false;
            for attempt in 0..attempts {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(backoff_ms << (attempt - 1).min(6)))
                        .await;
                }
                let sent = client
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header(SIGNATURE_HEADER, &sig)
                    .header("X-Xinqing-Alert-Id", a.alert_id.to_string())
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status().is_success() => {
                        delivered = true;
                        break;
                    }
                    Ok(resp) => last = format!("HTTP {}", resp.status()),
                    Err(e) => last = e.to_string(),
                }
            }
            if delivered {
                out.push(Ok(()));
            } else {
                reachable = false;
                out.push(Err(last));
            }
        }
        out
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_higher_of_scored_and_counsellor_risk_decides() {
        assert_eq!(
            tier_of(Some("ideation"), Some("imminent")).unwrap().0,
            Tier::Imminent
        );
        assert_eq!(
            tier_of(Some("self_harm"), Some("high")).unwrap().0,
            Tier::SelfHarm
        );
        assert_eq!(
            tier_of(Some("none"), Some("high")).unwrap(),
            (Tier::AssessedHigh, "counsellor")
        );
        assert_eq!(tier_of(Some("none"), Some("low")), None);
        assert_eq!(tier_of(None, None), None);
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
