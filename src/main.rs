//! The `xinqing` command. Each subcommand is one function below; errors are printed once, by
//! `main`, and mapped to the exit codes documented in the README.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use xinqing::engine::Engine;
use xinqing::error::{exit_code, Failure, FailureKind};
use xinqing::ingest::mapping::Mapping;
use xinqing::ingest::{ingest_file, FileOptions, FileReport, Validator};
use xinqing::query::OutputFormat;
use xinqing::redact::{Pseudonymizer, Redactor};

/// Scoring allocates a few small vectors and strings per text; with mimalloc `score` took 10–15%
/// less CPU than with the system allocator (and starts in 0.11 s, not 0.15), for a higher peak
/// RSS (about 200 MB against 113 on 11.6 MB of reviews). DuckDB keeps its own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use xinqing::schema::Kind;
use xinqing::store::{Store, DEFAULT_PATH};
use xinqing::{demo, http_source, query, synth, textcmd};

#[derive(Parser)]
#[command(
    name = "xinqing",
    version,
    about = "心晴: psychological-support data pipeline"
)]
struct Cli {
    /// The store (DuckDB file). Default ./xinqing.duckdb.
    #[arg(long, global = true, env = "XINQING_DB")]
    db: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest export files (CSV in UTF-8 or GB18030, XLSX, JSONL) into the store.
    Ingest {
        #[arg(value_parser = parse_kind)]
        kind: Kind,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Spreadsheet sheet to read (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// A mapping file for headers and values the built-in aliases do not cover.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Read a file again even if the ledger shows it was ingested.
        #[arg(long)]
        force: bool,
        /// Print the per-file report as JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Fetch an HTTP source described by a TOML file, committing page by page.
    Fetch { config: PathBuf },
    /// Run read-only SQL on the store.
    Query {
        sql: String,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Write realistic synthetic exports of all three kinds, deterministic by seed.
    Synth {
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Feedback messages per day (hotline calls are half as many).
        #[arg(long, default_value_t = 200)]
        per_day: u32,
        #[arg(long, default_value_t = 20200201)]
        seed: u64,
        /// First day.
        #[arg(long, default_value = "2020-02-01")]
        start: chrono::NaiveDate,
        /// Directory to write the exports into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Which kinds to write (comma-separated).
        #[arg(long, value_delimiter = ',', value_parser = parse_kind)]
        kinds: Option<Vec<Kind>>,
    },
    /// Score texts: polarity, seven emotions, crisis risk, topics, keywords, explanations.
    Score {
        #[command(flatten)]
        text: TextArgs,
    },
    /// Segment texts into tokens as the engine sees them.
    Segment {
        #[command(flatten)]
        text: TextArgs,
    },
    /// Measure polarity (and emotion) against a labelled file.
    Eval {
        #[arg(long)]
        input: String,
        #[arg(long)]
        text_column: String,
        #[arg(long)]
        label_column: String,
        #[arg(long, value_enum)]
        labels: xinqing::textio::LabelScheme,
        /// K-fold: learn weights on K−1 folds (plus --train-also) and test on the held-out fold.
        #[arg(long)]
        folds: Option<usize>,
        /// More training data for each fold, as FILE:TEXT_COLUMN:LABEL_COLUMN:binary|smp2020.
        #[arg(long)]
        train_also: Vec<xinqing::textio::DataSpec>,
        /// Dictionaries directory overriding the embedded files.
        #[arg(long)]
        dictionaries: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Learn polarity weights from labelled files and write them (dictionaries/polarity_learned.tsv).
    Train {
        /// Labelled data as FILE:TEXT_COLUMN:LABEL_COLUMN:binary|smp2020 (repeatable).
        #[arg(long, required = true)]
        data: Vec<xinqing::textio::DataSpec>,
        /// Where to write the polarity weights (dictionaries/polarity_learned.tsv).
        #[arg(long)]
        out: PathBuf,
        /// Also learn emotion weights from the data labelled with emotions (smp2020) and write
        /// them here (dictionaries/emotions_learned.tsv).
        #[arg(long)]
        emotions_out: Option<PathBuf>,
        /// Dictionaries directory overriding the embedded files.
        #[arg(long)]
        dictionaries: Option<PathBuf>,
    },
    /// Write the segmenter's dictionary (dictionaries/segmenter.txt): jieba's dictionary less
    /// its rare words, keeping single characters and every word the curated dictionaries name.
    PruneSegmenter {
        /// jieba's dictionary, `word freq [tag]` lines (src/data/dict.txt of the jieba-rs crate).
        #[arg(long)]
        jieba_dict: PathBuf,
        /// Words of lower frequency are left out.
        #[arg(long, default_value_t = 20)]
        min_freq: u64,
        /// Where to write the pruned dictionary (dictionaries/segmenter.txt).
        #[arg(long)]
        out: PathBuf,
        /// Dictionaries directory overriding the embedded files.
        #[arg(long)]
        dictionaries: Option<PathBuf>,
    },
    /// Learn the crisis screen from crisis sets and ordinary text (dictionaries/crisis_model.tsv).
    TrainCrisis {
        #[command(flatten)]
        crisis: CrisisArgs,
        /// Where to write the screen's weights (dictionaries/crisis_model.tsv).
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure the crisis screen set by set, each learned without the set it is tested on.
    EvalCrisis {
        #[command(flatten)]
        crisis: CrisisArgs,
    },
    /// Benchmark the engine in process beside a bare jieba-rs cut (see benches/engine.sh).
    #[command(hide = true)]
    BenchEngine {
        #[arg(long)]
        input: String,
        #[arg(long)]
        text_column: String,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Run one side alone, a warm-up pass and then `rounds` passes on one thread, and print
        /// the seconds a pass took (for a profiler; see benches/instructions.sh).
        #[arg(long, value_enum)]
        only: Option<textcmd::BenchPart>,
        /// Directory overriding the embedded dictionaries (to time a change without a rebuild).
        #[arg(long)]
        dictionaries: Option<PathBuf>,
    },
    /// Write the daily bulletin (舆情快报) for a date: HTML, Markdown, JSON and PNG/SVG charts.
    Bulletin {
        /// The day the bulletin covers (YYYY-MM-DD).
        #[arg(long)]
        date: chrono::NaiveDate,
        /// Output directory (default reports/out/<date>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Directory overriding the embedded templates and font.
        #[arg(long, env = "XINQING_TEMPLATES")]
        templates: Option<PathBuf>,
        /// Dictionaries directory overriding the embedded files.
        #[arg(long)]
        dictionaries: Option<PathBuf>,
    },
    /// Run a pipeline once (for cron): its steps in order, under the store's lock.
    Run {
        pipeline: PathBuf,
        /// The day to report on (bulletin) and to watch replies to the end of; default from the clock.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// Run every pipeline in DIR on its schedule until SIGTERM or SIGINT.
    Schedule {
        #[arg(default_value = "pipelines")]
        dir: PathBuf,
    },
    /// List pipeline runs, latest first.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        pipeline: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Write a month of synthetic data into ./xinqing-demo/, ingest it and show what was stored.
    Demo {
        #[arg(long, default_value = "xinqing-demo")]
        dir: PathBuf,
    },
}

/// This run's command line, for the provenance header of a learned file.
fn command_line() -> String {
    std::iter::once("xinqing".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(clap::Args)]
struct CrisisArgs {
    /// Crisis sets: tier<TAB>text lines (repeatable; tests/data/crisis_*.tsv).
    #[arg(long = "set", required = true)]
    sets: Vec<PathBuf>,
    /// Ordinary text to learn "not a crisis" from, as FILE:TEXT_COLUMN (repeatable).
    #[arg(long)]
    background: Vec<xinqing::crisiscmd::TextSpec>,
    /// Texts sampled from each background file (the rest measure false alarms).
    #[arg(long, default_value_t = 1500)]
    sample: usize,
    /// A sentence this likely to be a crisis statement flags its text.
    #[arg(long, default_value_t = 0.6)]
    threshold: f32,
    /// Dictionaries directory overriding the embedded files.
    #[arg(long)]
    dictionaries: Option<PathBuf>,
}

#[derive(clap::Args)]
struct TextArgs {
    /// CSV (UTF-8 or GB18030), JSONL, or - for standard input.
    #[arg(long)]
    input: String,
    /// The column (CSV) or key (JSONL) holding the text.
    #[arg(long)]
    text_column: String,
    /// The column or key holding each row's id [default: "id" where the input has it, else the
    /// row's line number].
    #[arg(long)]
    id_column: Option<String>,
    /// Output file: JSONL, or CSV by extension (default: JSONL on standard output).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Dictionaries directory overriding the embedded files.
    #[arg(long)]
    dictionaries: Option<PathBuf>,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    s.parse()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.verbose);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("xinqing: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

fn init_logging(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("XINQING_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(cli: Cli) -> Result<u8> {
    let db = cli.db;
    let store_path = || db.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
    match cli.command {
        Command::Ingest {
            kind,
            files,
            sheet,
            mapping,
            force,
            json,
        } => cmd_ingest(
            &store_path(),
            kind,
            &files,
            sheet.as_deref(),
            mapping.as_deref(),
            force,
            json,
        ),
        Command::Fetch { config } => cmd_fetch(&store_path(), &config),
        Command::Query { sql, format } => cmd_query(&store_path(), &sql, format),
        Command::Synth {
            days,
            per_day,
            seed,
            start,
            out,
            kinds,
        } => cmd_synth(days, per_day, seed, start, out, kinds),
        Command::Score { text } => cmd_score(&text, false),
        Command::Segment { text } => cmd_score(&text, true),
        Command::Eval {
            input,
            text_column,
            label_column,
            labels,
            folds,
            train_also,
            dictionaries,
            json,
        } => {
            let mut engine = Engine::load(dictionaries.as_deref())?;
            let report = textcmd::eval(
                &mut engine,
                &textcmd::EvalOptions {
                    input: &input,
                    text_column: &text_column,
                    label_column: &label_column,
                    labels,
                    folds,
                    train_also: &train_also,
                },
            )?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                textcmd::print_eval(&report, &mut std::io::stdout())?;
            }
            Ok(0)
        }
        Command::Train {
            data,
            out,
            emotions_out,
            dictionaries,
        } => {
            let mut engine = Engine::load(dictionaries.as_deref())?;
            // Learn from scratch on top of the curated weights.
            engine.set_learned(Default::default());
            engine.set_learned_emotions(Default::default());
            let command_line = command_line();
            let n = textcmd::train(&mut engine, &data, &out, &command_line)?;
            println!(
                "wrote {n} learned weights (terms and pairs) to {}",
                out.display()
            );
            if let Some(path) = emotions_out {
                let n = textcmd::train_emotions(&engine, &data, &path, &command_line)?;
                println!("wrote {n} learned emotion rows to {}", path.display());
            }
            Ok(0)
        }
        Command::PruneSegmenter {
            jieba_dict,
            min_freq,
            out,
            dictionaries,
        } => {
            let engine = Engine::load(dictionaries.as_deref())?;
            let (kept, total) =
                textcmd::prune_segmenter(&engine, &jieba_dict, min_freq, &out, &command_line())?;
            println!("wrote {kept} of {total} words to {}", out.display());
            Ok(0)
        }
        Command::TrainCrisis { crisis, out } => {
            let engine = Engine::load(crisis.dictionaries.as_deref())?;
            let command_line = command_line();
            let n = xinqing::crisiscmd::train_crisis(
                &engine,
                &crisis.sets,
                &crisis.background,
                crisis.sample,
                crisis.threshold,
                &out,
                &command_line,
            )?;
            println!("wrote {n} n-gram weights to {}", out.display());
            Ok(0)
        }
        Command::EvalCrisis { crisis } => {
            let engine = Engine::load(crisis.dictionaries.as_deref())?;
            xinqing::crisiscmd::eval_crisis(
                &engine,
                &crisis.sets,
                &crisis.background,
                crisis.sample,
                crisis.threshold,
                &mut std::io::stdout(),
            )?;
            Ok(0)
        }
        Command::BenchEngine {
            input,
            text_column,
            rounds,
            threads,
            only,
            dictionaries,
        } => {
            let engine = Engine::load(dictionaries.as_deref())?;
            let texts: Vec<String> = xinqing::textio::read_texts(&input, &text_column)?;
            if let Some(part) = only {
                let secs = textcmd::bench_part(&engine, &texts, rounds, part);
                println!("{part:?}: {secs:.3} s a pass over {} texts", texts.len());
                return Ok(0);
            }
            print!(
                "{}",
                textcmd::bench_engine(&engine, &texts, rounds, threads)?
            );
            Ok(0)
        }
        Command::Bulletin {
            date,
            out,
            templates,
            dictionaries,
        } => cmd_bulletin(
            &store_path(),
            date,
            out.as_deref(),
            templates.as_deref(),
            dictionaries.as_deref(),
        ),
        Command::Run { pipeline, date } => cmd_run(db.clone(), &pipeline, date),
        Command::Schedule { dir } => {
            let mut stdout = std::io::stdout();
            xinqing::pipeline::schedule::schedule(
                &dir,
                &xinqing::pipeline::schedule::ScheduleOptions { db: db.clone() },
                &mut stdout,
            )
        }
        Command::Runs {
            limit,
            pipeline,
            format,
        } => cmd_runs(&store_path(), limit, pipeline.as_deref(), format),
        Command::Demo { dir } => {
            let db = db.clone().unwrap_or_else(|| dir.join("xinqing.duckdb"));
            demo::run(&dir, &db, &mut std::io::stdout())?;
            Ok(0)
        }
    }
}

fn cmd_run(db: Option<PathBuf>, file: &Path, date: Option<chrono::NaiveDate>) -> Result<u8> {
    let pipeline = xinqing::pipeline::Pipeline::load(file)?;
    let outcome = xinqing::pipeline::run(
        &pipeline,
        &xinqing::pipeline::RunOptions {
            date,
            db,
            ..Default::default()
        },
        &mut std::io::stdout(),
    )?;
    println!(
        "{}: run {} {} ({})",
        pipeline.config.name, outcome.run_id, outcome.status, outcome.counts
    );
    Ok(outcome.exit_code)
}

fn cmd_runs(db: &Path, limit: u32, pipeline: Option<&str>, format: OutputFormat) -> Result<u8> {
    let store = Store::open_read_only(db)?;
    let filter = match pipeline {
        Some(p) => format!("WHERE pipeline = '{}'", p.replace('\'', "''")),
        None => String::new(),
    };
    let sql = format!(
        "SELECT id, pipeline, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started,
                strftime(ended_at, '%Y-%m-%d %H:%M:%S') AS ended, status, counts, error
         FROM runs {filter} ORDER BY id DESC LIMIT {limit}"
    );
    let result = query::run(store.conn(), &sql)?;
    query::print(&result, format, &mut std::io::stdout().lock())?;
    Ok(0)
}

fn cmd_bulletin(
    db: &Path,
    date: chrono::NaiveDate,
    out: Option<&Path>,
    templates: Option<&Path>,
    dictionaries: Option<&Path>,
) -> Result<u8> {
    let store = Store::open_read_only(db)?;
    let (_, written) = xinqing::report::bulletin(
        store.conn(),
        &xinqing::report::BulletinOptions {
            date,
            out,
            templates,
            dictionaries,
        },
    )?;
    println!("{}", written.dir.join("bulletin.html").display());
    Ok(0)
}

/// The text engine, for kinds with text to score.
fn engine_for(kind: Kind) -> Result<Option<Engine>> {
    Ok(match kind.text_column() {
        Some(_) => Some(Engine::load(None)?),
        None => None,
    })
}

/// The pseudonym key, required before any hotline or feedback row is read.
fn pseudonyms_for(kind: Kind) -> Result<Option<Pseudonymizer>> {
    if kind == Kind::Screening {
        return Ok(None);
    }
    Pseudonymizer::from_env()
        .map(Some)
        .map_err(|e| Failure::new(FailureKind::Config, e).into())
}

fn cmd_ingest(
    db: &Path,
    kind: Kind,
    files: &[PathBuf],
    sheet: Option<&str>,
    mapping: Option<&Path>,
    force: bool,
    json: bool,
) -> Result<u8> {
    let mapping = mapping.map(|m| Mapping::load(m, kind)).transpose()?;
    let pseudonyms = pseudonyms_for(kind)?;
    let engine = engine_for(kind)?;
    let mut store = Store::open(db)?;
    let mut validator = Validator::new(kind, &Redactor, pseudonyms.as_ref(), mapping.as_ref());
    if let Some(engine) = &engine {
        validator = validator.with_engine(engine);
    }
    let options = FileOptions { sheet, force };
    let mut worst = 0u8;
    let mut total = xinqing::ingest::MergeCounts::default();
    for file in files {
        match ingest_file(&mut store, &validator, file, &options) {
            Ok(report) => {
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    print_report(&report);
                }
                if report.nothing_usable() {
                    eprintln!(
                        "xinqing: {}: none of its {} rows could be stored",
                        report.path, report.counts.read
                    );
                    worst = worst.max(FailureKind::Input.exit_code());
                }
                total += &report.counts;
            }
            Err(err) => {
                // One unusable file does not stop the others.
                eprintln!("xinqing: {err:#}");
                worst = worst.max(exit_code(&err));
                if exit_code(&err) == FailureKind::Locked.exit_code() {
                    break;
                }
            }
        }
    }
    if files.len() > 1 && !json {
        println!(
            "total: {} files, read {}, new {}, updated {}, unchanged {}, rejected {}",
            files.len(),
            total.read,
            total.inserted,
            total.updated,
            total.unchanged,
            total.rejected
        );
    }
    Ok(worst)
}

fn print_report(r: &FileReport) {
    if let Some(when) = &r.already_ingested_at {
        println!(
            "{}: already ingested at {when} (same SHA-256); skipped (--force reads it again)",
            r.path
        );
        return;
    }
    let c = &r.counts;
    println!(
        "{}: {} {}{}: read {}, new {}, updated {}, unchanged {}{}, rejected {}",
        r.path,
        r.kind,
        r.format,
        r.encoding
            .as_deref()
            .map(|e| format!(" {e}"))
            .unwrap_or_default(),
        c.read,
        c.inserted,
        c.updated,
        c.unchanged,
        if c.duplicate > 0 {
            format!(" (+{} repeated in the file)", c.duplicate)
        } else {
            String::new()
        },
        c.rejected
    );
    for (category, (count, lines)) in &r.reject_summary {
        let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
        println!(
            "  rejected {count} × {category} (line{} {}{})",
            if *count == 1 { "" } else { "s" },
            lines.join(", "),
            if *count as usize > lines.len() {
                ", …"
            } else {
                ""
            }
        );
    }
    if !r.ignored_columns.is_empty() {
        println!("  ignored columns: {}", r.ignored_columns.join(", "));
    }
}

fn cmd_score(args: &TextArgs, tokens_only: bool) -> Result<u8> {
    let engine = Engine::load(args.dictionaries.as_deref())?;
    let run = if tokens_only {
        textcmd::segment
    } else {
        textcmd::score
    };
    let (_, bad) = run(
        &engine,
        &args.input,
        &args.text_column,
        args.id_column.as_deref(),
        args.output.as_deref(),
    )?;
    if bad > 0 {
        eprintln!("xinqing: {bad} unreadable rows were skipped (lines above)");
    }
    // The process ends here: freeing the engine's tables one by one takes as long as
    // scoring two hundred texts (26M instructions, measured with callgrind).
    std::mem::forget(engine);
    Ok(0)
}

fn cmd_fetch(db: &Path, config_path: &Path) -> Result<u8> {
    let config = http_source::HttpSourceConfig::load(config_path)?;
    let mapping = config
        .mapping
        .as_deref()
        .map(|m| Mapping::load(m, config.kind))
        .transpose()?;
    let pseudonyms = pseudonyms_for(config.kind)?;
    let engine = engine_for(config.kind)?;
    let mut store = Store::open(db)?;
    let mut validator = Validator::new(
        config.kind,
        &Redactor,
        pseudonyms.as_ref(),
        mapping.as_ref(),
    );
    if let Some(engine) = &engine {
        validator = validator.with_engine(engine);
    }
    let report = http_source::fetch(&mut store, &config, &validator)?;
    let c = &report.counts;
    println!(
        "{}: {} pages ({} requests, {} retries): read {}, new {}, updated {}, unchanged {}, rejected {}",
        report.source, report.pages, report.requests, report.retries, c.read, c.inserted, c.updated, c.unchanged, c.rejected
    );
    Ok(0)
}

fn cmd_query(db: &Path, sql: &str, format: OutputFormat) -> Result<u8> {
    let store = Store::open_read_only(db)?;
    let result = query::run(store.conn(), sql).context("query failed")?;
    let stdout = std::io::stdout();
    query::print(&result, format, &mut stdout.lock())?;
    Ok(0)
}

fn cmd_synth(
    days: u32,
    per_day: u32,
    seed: u64,
    start: chrono::NaiveDate,
    out: PathBuf,
    kinds: Option<Vec<Kind>>,
) -> Result<u8> {
    let kinds = match kinds {
        None => synth::KindsToWrite::default(),
        Some(list) => synth::KindsToWrite {
            hotline: list.contains(&Kind::Hotline),
            feedback: list.contains(&Kind::Feedback),
            screening: list.contains(&Kind::Screening),
        },
    };
    let summary = synth::generate(&synth::SynthOptions {
        days,
        per_day,
        seed,
        start,
        out: out.clone(),
        kinds,
    })?;
    println!(
        "wrote {} hotline calls in {} files, {} feedback rows in {} files, {} screening rows in {} files under {}",
        summary.hotline_rows,
        summary.hotline_files.len(),
        summary.feedback_rows,
        summary.feedback_files.len(),
        summary.screening_rows,
        summary.screening_files.len(),
        out.display()
    );
    Ok(0)
}
