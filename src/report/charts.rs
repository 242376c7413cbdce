//! The bulletin's charts, drawn once per backend: PNG for print and slides, SVG for the HTML.
//! Every label is drawn from the embedded font (see `glyphs`), so Chinese renders anywhere.

use super::glyphs::{finish_svg, OutlinedText, TextSink};
use crate::analytics::{Bulletin, Cell, Fig};
use ab_glyph::FontRef;
use anyhow::{Context, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

const FAMILY: &str = "sans-serif";
const POSITIVE: RGBColor = RGBColor(46, 125, 50);
const NEUTRAL: RGBColor = RGBColor(150, 150, 150);
const NEGATIVE: RGBColor = RGBColor(198, 40, 40);
const BAR: RGBColor = RGBColor(38, 98, 160);
const PALETTE: [RGBColor; 7] = [
    RGBColor(38, 98, 160),
    RGBColor(230, 126, 34),
    RGBColor(46, 125, 50),
    RGBColor(142, 68, 173),
    RGBColor(198, 40, 40),
    RGBColor(22, 160, 133),
    RGBColor(120, 120, 120),
];

/// One chart of the bulletin.
#[derive(Debug, Clone, Copy)]
pub enum Chart {
    Trend,
    Emotions,
    Topics,
    Prevalence,
    HotlineHours,
    HotlineWeekday,
}

impl Chart {
    pub const ALL: [Chart; 6] = [
        Chart::Trend,
        Chart::Emotions,
        Chart::Topics,
        Chart::Prevalence,
        Chart::HotlineHours,
        Chart::HotlineWeekday,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Chart::Trend => "polarity_trend",
            Chart::Emotions => "emotions",
            Chart::Topics => "topics",
            Chart::Prevalence => "prevalence",
            Chart::HotlineHours => "hotline_hours",
            Chart::HotlineWeekday => "hotline_weekday",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Chart::Trend => "近30日情绪极性占比",
            Chart::Emotions => "当日七类情绪构成",
            Chart::Topics => "当日热点话题（条数，红色为负面）",
            Chart::Prevalence => "重点人群筛查阳性率及95%置信区间",
            Chart::HotlineHours => "当日热线来电分时分布",
            Chart::HotlineWeekday => "近28日热线日均来电（按星期）",
        }
    }

    fn size(self) -> (u32, u32) {
        match self {
            Chart::Topics | Chart::Prevalence => (900, 420),
            _ => (900, 340),
        }
    }
}

pub struct Rendered {
    pub chart: Chart,
    pub svg: String,
}

fn plot_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {e}")
}

/// Draws `chart` as PNG into `png_path` and returns its SVG text.
pub fn render(
    chart: Chart,
    b: &Bulletin,
    font: FontRef<'static>,
    png_path: &Path,
) -> Result<Rendered> {
    let size = chart.size();
    {
        let backend = OutlinedText::new(
            BitMapBackend::new(png_path, size),
            font.clone(),
            TextSink::Pixels,
        );
        let root = backend.into_drawing_area();
        draw(chart, b, &root)?;
        root.present()
            .map_err(plot_err)
            .with_context(|| format!("writing {}", png_path.display()))?;
    }
    let mut svg = String::new();
    let paths = Rc::new(RefCell::new(String::new()));
    {
        let backend = OutlinedText::new(
            SVGBackend::with_string(&mut svg, size),
            font,
            TextSink::Paths(paths.clone()),
        );
        let root = backend.into_drawing_area();
        draw(chart, b, &root)?;
        root.present().map_err(plot_err)?;
    }
    finish_svg(&mut svg, &paths.borrow());
    Ok(Rendered { chart, svg })
}

fn draw<DB: DrawingBackend>(
    chart: Chart,
    b: &Bulletin,
    root: &DrawingArea<DB, Shift>,
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let title = chart.title();
    let root = root
        .titled(title, (FAMILY, 22).into_font().color(&BLACK))
        .map_err(plot_err)?;
    match chart {
        Chart::Trend => trend(b, &root),
        Chart::Emotions => emotions(b, &root),
        Chart::Topics => topics(b, &root),
        Chart::Prevalence => prevalence(b, &root),
        Chart::HotlineHours => bars(
            &root,
            &(0..24).map(|h| format!("{h}")).collect::<Vec<_>>(),
            &b.hotline
                .by_hour
                .iter()
                .map(|c| cell_value(*c))
                .collect::<Vec<_>>(),
            "来电数（通）",
            "时",
        ),
        Chart::HotlineWeekday => bars(
            &root,
            &["一", "二", "三", "四", "五", "六", "日"].map(|d| format!("周{d}")),
            &b.hotline
                .by_weekday
                .iter()
                .map(|f| fig_value(*f))
                .collect::<Vec<_>>(),
            "日均来电（通）",
            "",
        ),
    }
}

/// The series legend, in the same place and style on every chart that has one.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(plot_err)
}

/// A bar's height, or `None` when the cell is suppressed (drawn as a marked stub).
fn cell_value(c: Cell) -> Option<f64> {
    c.value().map(|n| n as f64)
}

fn fig_value(f: Fig) -> Option<f64> {
    match f {
        Fig::V(v) => Some(v),
        Fig::Na => Some(0.0),
        Fig::Suppressed => None,
    }
}

fn no_data<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, what: &str) -> Result<()> {
    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        format!("当日无{what}数据"),
        (w as i32 / 2 - 80, h as i32 / 2 - 10),
        (FAMILY, 20).into_font().color(&NEUTRAL),
    ))
    .map_err(plot_err)
}

fn trend<DB: DrawingBackend>(b: &Bulletin, root: &DrawingArea<DB, Shift>) -> Result<()> {
    let days = &b.sentiment.trend;
    if days.is_empty() {
        return no_data(root, "文本");
    }
    let n = days.len();
    let labels: Vec<String> = days.iter().map(|d| d.date[5..].to_string()).collect();
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..(n.max(2) - 1) as f64, 0f64..100f64)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_labels(n.min(10))
        .x_label_formatter(&|x| {
            let i = x.round() as usize;
            labels.get(i).cloned().unwrap_or_default()
        })
        .y_desc("占比（%）")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .y_labels(6)
        .light_line_style(RGBColor(242, 242, 242))
        .draw()
        .map_err(plot_err)?;
    let series = [
        (
            "正面",
            POSITIVE,
            days.iter()
                .map(|d| fig_value(d.positive))
                .collect::<Vec<_>>(),
        ),
        (
            "中性",
            NEUTRAL,
            days.iter().map(|d| fig_value(d.neutral)).collect(),
        ),
        (
            "负面",
            NEGATIVE,
            days.iter().map(|d| fig_value(d.negative)).collect(),
        ),
    ];
    for (label, color, values) in series {
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i as f64, v * 100.0)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
            .map_err(plot_err)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(plot_err)?;
    }
    legend(&mut chart)
}

/// The label of the category centred on `x`, when `x` is a whole index (the axis ticks).
fn category(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Vertical bars over categories; `None` values are suppressed and marked "<5".
fn bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    labels: &[String],
    values: &[Option<f64>],
    y_desc: &str,
    unit: &str,
) -> Result<()> {
    let max = values
        .iter()
        .flatten()
        .cloned()
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.15;
    let n = labels.len();
    let shown: Vec<String> = labels.iter().map(|l| format!("{l}{unit}")).collect();
    // Category i is centred on x = i, where the axis puts its ticks.
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..max)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| category(&shown, *x))
        .y_desc(y_desc)
        .y_labels(6)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .light_line_style(RGBColor(242, 242, 242))
        .draw()
        .map_err(plot_err)?;
    for (i, v) in values.iter().enumerate() {
        let x = i as f64;
        match v {
            Some(v) => {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.35, 0.0), (x + 0.35, *v)],
                        BAR.filled(),
                    )))
                    .map_err(plot_err)?;
            }
            None => {
                chart
                    .draw_series(std::iter::once(Text::new(
                        "<5",
                        (x - 0.2, max * 0.06),
                        (FAMILY, 12).into_font().color(&NEUTRAL),
                    )))
                    .map_err(plot_err)?;
            }
        }
    }
    Ok(())
}

fn emotions<DB: DrawingBackend>(b: &Bulletin, root: &DrawingArea<DB, Shift>) -> Result<()> {
    let e = &b.sentiment.emotions;
    if e.iter().all(|s| s.n == Cell::N(0)) {
        return no_data(root, "情绪");
    }
    let labels: Vec<String> = e.iter().map(|s| s.label.clone()).collect();
    let values: Vec<Option<f64>> = e
        .iter()
        .map(|s| fig_value(s.share).map(|v| v * 100.0))
        .collect();
    bars(root, &labels, &values, "占有情绪文本的比例（%）", "")
}

fn topics<DB: DrawingBackend>(b: &Bulletin, root: &DrawingArea<DB, Shift>) -> Result<()> {
    let rows: Vec<_> = b.topics.rows.iter().filter(|r| r.n != Cell::N(0)).collect();
    if rows.is_empty() {
        return no_data(root, "话题");
    }
    let n = rows.len();
    let max = rows
        .iter()
        .filter_map(|r| r.n.value())
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.1;
    // The largest topic at the top: row i of `rows` sits at y = n − 1 − i.
    let labels: Vec<String> = rows.iter().rev().map(|r| r.name.clone()).collect();
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..max, -0.5f64..n as f64 - 0.5)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| category(&labels, *y))
        .x_desc("条数")
        .x_labels(8)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .light_line_style(RGBColor(242, 242, 242))
        .draw()
        .map_err(plot_err)?;
    for (i, r) in rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        match r.n.value() {
            Some(total) => {
                let total = total as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y - 0.35), (total, y + 0.35)],
                        BAR.mix(0.45).filled(),
                    )))
                    .map_err(plot_err)?;
                if let Some(neg) = r.negative_share.value() {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(0.0, y - 0.35), (total * neg, y + 0.35)],
                            NEGATIVE.mix(0.85).filled(),
                        )))
                        .map_err(plot_err)?;
                }
            }
            None => {
                chart
                    .draw_series(std::iter::once(Text::new(
                        "<5",
                        (max * 0.01, y + 0.2),
                        (FAMILY, 12).into_font().color(&NEUTRAL),
                    )))
                    .map_err(plot_err)?;
            }
        }
    }
    Ok(())
}

fn prevalence<DB: DrawingBackend>(b: &Bulletin, root: &DrawingArea<DB, Shift>) -> Result<()> {
    let rows: Vec<_> = b
        .groups
        .rows
        .iter()
        .filter(|r| r.prevalence.value().is_some())
        .collect();
    if rows.is_empty() {
        return no_data(root, "可发布的筛查");
    }
    let mut groups: Vec<&str> = Vec::new();
    let mut instruments: Vec<&str> = Vec::new();
    for r in &rows {
        if !groups.contains(&r.label) {
            groups.push(r.label);
        }
        if !instruments.contains(&r.instrument.as_str()) {
            instruments.push(&r.instrument);
        }
    }
    let top = rows
        .iter()
        .filter_map(|r| r.ci_high.value())
        .fold(0.0f64, f64::max)
        .max(0.05)
        * 100.0
        * 1.15;
    let n = groups.len();
    let group_labels: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..top)
        .map_err(plot_err)?;
    // Group i is centred on x = i, where the axis puts its ticks.
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| category(&group_labels, *x))
        .y_desc("阳性率（%）")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .y_labels(6)
        .light_line_style(RGBColor(242, 242, 242))
        .draw()
        .map_err(plot_err)?;
    let k = instruments.len() as f64;
    for (j, instrument) in instruments.iter().enumerate() {
        let color = PALETTE[j % PALETTE.len()];
        let offset = (j as f64 + 1.0) / (k + 1.0) - 0.5;
        let points: Vec<(f64, f64, f64, f64)> = rows
            .iter()
            .filter(|r| r.instrument == *instrument)
            .filter_map(|r| {
                let g = groups.iter().position(|g| *g == r.label)? as f64;
                Some((
                    g + offset,
                    r.prevalence.value()? * 100.0,
                    r.ci_low.value()? * 100.0,
                    r.ci_high.value()? * 100.0,
                ))
            })
            .collect();
        chart
            .draw_series(points.iter().map(|&(x, p, lo, hi)| {
                ErrorBar::new_vertical(x, lo, p, hi, color.filled().stroke_width(2), 8)
            }))
            .map_err(plot_err)?
            .label(instrument.to_string())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
    }
    legend(&mut chart)
}
