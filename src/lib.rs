//! xinqing 心晴: the data pipeline behind psychological-support services in public-health
//! emergencies. Data flows one way: ingest → text engine → store → analytics → report.

pub mod advice;
pub mod analytics;
pub mod crisiscmd;
pub mod demo;
pub mod engine;
pub mod error;
pub mod http_source;
pub mod ingest;
pub mod pipeline;
pub mod query;
pub mod redact;
pub mod report;
pub mod schema;
pub mod store;
pub mod synth;
pub mod textcmd;
pub mod textio;
pub mod timefmt;
