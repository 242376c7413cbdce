//! Pipelines: TOML job definitions run once (`xinqing run`, for cron) or on their schedules
//! (`xinqing schedule`), with run history and crisis alerts in the store.

pub mod alerts;
pub mod config;
pub mod run;
pub mod schedule;

pub use config::Pipeline;
pub use run::{run, RunOptions, RunOutcome};
