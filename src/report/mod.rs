//! `xinqing bulletin`: the daily 舆情快报 as HTML (self-contained, A4 print), Markdown, JSON
//! and PNG/SVG charts, rendered from the figures `analytics` computes.
//!
//! Templates and the font are embedded; a directory given by `--templates` or
//! XINQING_TEMPLATES overrides them file by file (`bulletin.html.j2`, `bulletin.md.j2`,
//! `fonts/report.otf` or `fonts/report.ttf`).

pub mod charts;
pub mod glyphs;

use crate::analytics::Bulletin;
use crate::redact::Redactor;
use ab_glyph::FontRef;
use anyhow::{Context, Result};
use minijinja::value::Value;
use minijinja::Environment;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const HTML_TEMPLATE: &str = include_str!("../../reports/bulletin.html.j2");
const MD_TEMPLATE: &str = include_str!("../../reports/bulletin.md.j2");
static EMBEDDED_FONT: &[u8] = include_bytes!("../../reports/fonts/NotoSansSC-Regular-subset.otf");

/// Templates and font, embedded or overridden from a directory.
pub struct Assets {
    html: String,
    markdown: String,
    font: FontRef<'static>,
    font_bytes: &'static [u8],
}

impl Assets {
    pub fn load(dir: Option<&Path>) -> Result<Assets> {
        let from_env = std::env::var_os("XINQING_TEMPLATES").map(PathBuf::from);
        let dir = dir.or(from_env.as_deref());
        let read = |name: &str, embedded: &str| -> Result<String> {
            match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(p) => std::fs::read_to_string(&p)
                    .with_context(|| format!("reading the template {}", p.display())),
                None => Ok(embedded.to_string()),
            }
        };
        let font_bytes: &'static [u8] = match dir
            .into_iter()
            .flat_map(|d| [d.join("fonts/report.otf"), d.join("fonts/report.ttf")])
            .find(|p| p.exists())
        {
            // Plotters keeps fonts for the life of the process, so an override is leaked once.
            Some(p) => Box::leak(
                std::fs::read(&p)
                    .with_context(|| format!("reading the font {}", p.display()))?
                    .into_boxed_slice(),
            ),
            None => EMBEDDED_FONT,
        };
        let font = FontRef::try_from_slice(font_bytes)
            .context("the report font is not a valid OpenType font")?;
        register_plot_font(font_bytes)?;
        Ok(Assets {
            html: read("bulletin.html.j2", HTML_TEMPLATE)?,
            markdown: read("bulletin.md.j2", MD_TEMPLATE)?,
            font,
            font_bytes,
        })
    }
}

/// Plotters measures text through its own font registry; it gets the same font once.
fn register_plot_font(bytes: &'static [u8]) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes)
            .is_ok()
    });
    anyhow::ensure!(ok, "the report font could not be registered for charts");
    Ok(())
}

const FONT_MARKER: &str = "xinqing-font-data-uri";

/// What a bulletin run wrote.
pub struct Written {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

fn pct(v: Value, digits: Option<usize>) -> String {
    match number(&v) {
        Some(f) => format!("{:.*}%", digits.unwrap_or(1), f * 100.0),
        None => passthrough(&v),
    }
}

/// A relative change as "+12.3%" / "−4.0%".
fn change(v: Value) -> String {
    match number(&v) {
        Some(f) if f >= 0.0 => format!("+{:.1}%", f * 100.0),
        Some(f) => format!("−{:.1}%", -f * 100.0),
        None => passthrough(&v),
    }
}

/// A difference of two shares in percentage points.
fn pp(v: Value) -> String {
    match number(&v) {
        Some(f) if f >= 0.0 => format!("+{:.1}", f * 100.0),
        Some(f) => format!("−{:.1}", -f * 100.0),
        None => passthrough(&v),
    }
}

fn num(v: Value, digits: Option<usize>) -> String {
    match number(&v) {
        Some(f) => format!("{:.*}", digits.unwrap_or(0), f),
        None => passthrough(&v),
    }
}

fn secs(v: Value) -> String {
    match number(&v) {
        Some(f) if f >= 60.0 => {
            let s = f.round() as i64;
            format!("{}分{:02}秒", s / 60, s % 60)
        }
        Some(f) => format!("{f:.0}秒"),
        None => passthrough(&v),
    }
}

fn number(v: &Value) -> Option<f64> {
    if v.is_number() {
        f64::try_from(v.clone()).ok()
    } else {
        None
    }
}

fn passthrough(v: &Value) -> String {
    if v.is_none() || v.is_undefined() {
        "—".into()
    } else {
        v.to_string()
    }
}

fn environment(assets: &Assets) -> Result<Environment<'_>> {
    let mut env = Environment::new();
    env.add_template("bulletin.html.j2", &assets.html)
        .context("reports/bulletin.html.j2")?;
    env.add_template("bulletin.md.j2", &assets.markdown)
        .context("reports/bulletin.md.j2")?;
    env.add_filter("pct", pct);
    env.add_filter("change", change);
    env.add_filter("pp", pp);
    env.add_filter("num", num);
    env.add_filter("secs", secs);
    Ok(env)
}

/// The last check before anything is written: stored text was redacted at ingest, but a
/// pattern that slipped through (or a template that prints a new field) is caught here.
fn guard(what: &str, text: String) -> String {
    match Redactor.redact(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(clean) => {
            tracing::warn!(
                output = what,
                "personal-data pattern found while rendering; redacted"
            );
            clean
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

pub fn write(bulletin: &Bulletin, assets: &Assets, dir: &Path) -> Result<Written> {
    let chart_dir = dir.join("charts");
    std::fs::create_dir_all(&chart_dir)
        .with_context(|| format!("cannot create {}", chart_dir.display()))?;
    let mut files = Vec::new();
    let mut charts = Vec::new();
    for chart in charts::Chart::ALL {
        let png = chart_dir.join(format!("{}.png", chart.name()));
        let rendered = charts::render(chart, bulletin, assets.font.clone(), &png)
            .with_context(|| format!("chart {}", chart.name()))?;
        let svg = chart_dir.join(format!("{}.svg", chart.name()));
        write_file(&svg, rendered.svg.as_bytes())?;
        files.push(png);
        files.push(svg);
        charts.push(rendered);
    }
    let chart_meta: Vec<serde_json::Value> = charts
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.chart.name(),
                "title": c.chart.title(),
                "png": format!("charts/{}.png", c.chart.name()),
                "svg": format!("charts/{}.svg", c.chart.name()),
            })
        })
        .collect();

    let env = environment(assets)?;
    let mut context = serde_json::to_value(bulletin)?;
    // In the HTML each chart is a marker first, so the privacy guard reads text, not outlines.
    let with_markers: Vec<serde_json::Value> = chart_meta
        .iter()
        .zip(&charts)
        .map(|(meta, c)| {
            let mut m = meta.clone();
            m["inline"] = format!("<!--chart:{}-->", c.chart.name()).into();
            m
        })
        .collect();
    context["charts"] = serde_json::Value::Array(with_markers);
    // The font goes in after the guard too: base64 is not text to check.
    context["font_data_uri"] = FONT_MARKER.into();
    let ctx = Value::from_serialize(&context);

    let mut html = guard(
        "bulletin.html",
        env.get_template("bulletin.html.j2")?
            .render(&ctx)
            .context("rendering bulletin.html")?,
    );
    for c in &charts {
        html = html.replace(&format!("<!--chart:{}-->", c.chart.name()), &c.svg);
    }
    if html.contains(FONT_MARKER) {
        use base64::Engine as _;
        let uri = format!(
            "data:font/otf;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(assets.font_bytes)
        );
        html = html.replacen(FONT_MARKER, &uri, 1);
    }
    let markdown = guard(
        "bulletin.md",
        env.get_template("bulletin.md.j2")?
            .render(&ctx)
            .context("rendering bulletin.md")?,
    );
    let mut json = serde_json::to_value(bulletin)?;
    json["charts"] = serde_json::Value::Array(chart_meta);
    let json = guard("bulletin.json", serde_json::to_string_pretty(&json)? + "\n");

    for (name, text) in [
        ("bulletin.html", html),
        ("bulletin.md", markdown),
        ("bulletin.json", json),
    ] {
        let path = dir.join(name);
        write_file(&path, text.as_bytes())?;
        files.push(path);
    }
    Ok(Written {
        dir: dir.to_path_buf(),
        files,
    })
}

/// Options of one bulletin run.
pub struct BulletinOptions<'a> {
    pub date: chrono::NaiveDate,
    /// Output directory; default `reports/out/<date>/`.
    pub out: Option<&'a Path>,
    pub templates: Option<&'a Path>,
    pub dictionaries: Option<&'a Path>,
}

/// Computes and writes the bulletin for one day from an open store.
pub fn bulletin(
    conn: &duckdb::Connection,
    opts: &BulletinOptions<'_>,
) -> Result<(Bulletin, Written)> {
    let assets = Assets::load(opts.templates)?;
    let engine = crate::engine::Engine::load(opts.dictionaries)?;
    let figures = crate::analytics::build(
        conn,
        &crate::analytics::BuildOptions {
            date: opts.date,
            engine: &engine,
            hot_word_sample: 20_000,
        },
    )?;
    let dir = match opts.out {
        Some(d) => d.to_path_buf(),
        None => Path::new("reports/out").join(opts.date.to_string()),
    };
    let written = write(&figures, &assets, &dir)?;
    Ok((figures, written))
}
