//! Chart text drawn from the embedded font's own outlines, on any plotters backend.
//!
//! Plotters' SVG backend writes `<text>` elements that name a font family, so on a machine
//! without a CJK font the Chinese labels of an SVG chart come out as boxes. This wrapper draws
//! every label from the embedded subset font instead: as `<path>` outlines for SVG (collected
//! and appended to the document) and as anti-aliased pixels for PNG, so both look the same and
//! need nothing installed.

use ab_glyph::{Font, FontRef, GlyphId, OutlineCurve, Point, PxScale, ScaleFont};
use plotters_backend::{
    text_anchor::{HPos, VPos},
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontTransform,
};
use std::cell::RefCell;
use std::fmt::Write;
use std::rc::Rc;

/// Where drawn text goes.
pub enum TextSink {
    /// Rasterised into the wrapped backend's pixels (PNG).
    Pixels,
    /// Written as SVG `<path>` elements into this buffer (appended to the SVG afterwards).
    Paths(Rc<RefCell<String>>),
}

pub struct OutlinedText<B> {
    inner: B,
    font: FontRef<'static>,
    sink: TextSink,
}

impl<B> OutlinedText<B> {
    pub fn new(inner: B, font: FontRef<'static>, sink: TextSink) -> Self {
        OutlinedText { inner, font, sink }
    }
}

struct Layout {
    glyphs: Vec<(GlyphId, f32)>,
    width: f32,
    height: f32,
    baseline: f32,
    scale: PxScale,
}

/// Lays a line of text out as plotters does (advance widths; a box `size / 1.24` high, the
/// height plotters reserves), with the baseline placed so the glyphs sit centred in that box.
fn layout(font: &FontRef<'static>, text: &str, size: f64) -> Layout {
    let scale = PxScale::from(size as f32);
    let scaled = font.as_scaled(scale);
    let mut x = 0.0f32;
    let mut prev: Option<GlyphId> = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        glyphs.push((id, x));
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    let height = (size / 1.24) as f32;
    let baseline = height / 2.0 + (scaled.ascent() + scaled.descent()) / 2.0;
    Layout {
        glyphs,
        width: x,
        height,
        baseline,
        scale,
    }
}

fn rotate(t: &FontTransform, x: f32, y: f32) -> (f32, f32) {
    match t {
        FontTransform::None => (x, y),
        FontTransform::Rotate90 => (-y, x),
        FontTransform::Rotate180 => (-x, -y),
        FontTransform::Rotate270 => (y, -x),
    }
}

fn svg_color(c: BackendColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.rgb.0, c.rgb.1, c.rgb.2)
}

impl<B: DrawingBackend> DrawingBackend for OutlinedText<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let l = layout(&self.font, text, style.size());
        Ok((l.width.ceil() as u32, l.height.ceil() as u32))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let l = layout(&self.font, text, style.size());
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Right => -l.width,
            HPos::Center => -l.width / 2.0,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0.0,
            VPos::Center => -l.height / 2.0,
            VPos::Bottom => -l.height,
        };
        let t = style.transform();
        let place = |x: f32, y: f32| {
            let (x, y) = rotate(&t, x + dx, y + dy);
            (pos.0 as f32 + x, pos.1 as f32 + y)
        };
        match &self.sink {
            TextSink::Paths(buffer) => {
                let units = self.font.height_unscaled();
                let k = l.scale.y / units;
                let mut d = String::new();
                for &(id, x0) in &l.glyphs {
                    let Some(outline) = self.font.outline(id) else {
                        continue;
                    };
                    let mut at: Option<Point> = None;
                    let pt = |p: Point| place(x0 + p.x * k, l.baseline - p.y * k);
                    for curve in &outline.curves {
                        let (start, end) = match *curve {
                            OutlineCurve::Line(a, b) => (a, b),
                            OutlineCurve::Quad(a, _, c) => (a, c),
                            OutlineCurve::Cubic(a, _, _, e) => (a, e),
                        };
                        if at != Some(start) {
                            if at.is_some() {
                                d.push('Z');
                            }
                            let (x, y) = pt(start);
                            let _ = write!(d, "M{x:.2} {y:.2}");
                        }
                        match *curve {
                            OutlineCurve::Line(_, b) => {
                                let (x, y) = pt(b);
                                let _ = write!(d, "L{x:.2} {y:.2}");
                            }
                            OutlineCurve::Quad(_, b, c) => {
                                let ((x1, y1), (x, y)) = (pt(b), pt(c));
                                let _ = write!(d, "Q{x1:.2} {y1:.2} {x:.2} {y:.2}");
                            }
                            OutlineCurve::Cubic(_, b, c, e) => {
                                let ((x1, y1), (x2, y2), (x, y)) = (pt(b), pt(c), pt(e));
                                let _ = write!(d, "C{x1:.2} {y1:.2} {x2:.2} {y2:.2} {x:.2} {y:.2}");
                            }
                        }
                        at = Some(end);
                    }
                    if at.is_some() {
                        d.push('Z');
                    }
                }
                if !d.is_empty() {
                    let mut out = buffer.borrow_mut();
                    let _ = write!(out, "<path d=\"{d}\" fill=\"{}\"", svg_color(color));
                    if color.alpha < 1.0 {
                        let _ = write!(out, " fill-opacity=\"{:.3}\"", color.alpha);
                    }
                    out.push_str("/>\n");
                }
                Ok(())
            }
            TextSink::Pixels => {
                let (w, h) = self.inner.get_size();
                for &(id, x0) in &l.glyphs {
                    let glyph =
                        id.with_scale_and_position(l.scale, ab_glyph::point(x0, l.baseline));
                    let Some(outlined) = self.font.outline_glyph(glyph) else {
                        continue;
                    };
                    let bounds = outlined.px_bounds();
                    let mut pixels = Vec::new();
                    outlined.draw(|gx, gy, coverage| {
                        if coverage > 0.0 {
                            pixels.push((gx, gy, coverage));
                        }
                    });
                    for (gx, gy, coverage) in pixels {
                        let (x, y) = place(bounds.min.x + gx as f32, bounds.min.y + gy as f32);
                        let (x, y) = (x.round() as i32, y.round() as i32);
                        if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                            let c = BackendColor {
                                alpha: color.alpha * f64::from(coverage.min(1.0)),
                                rgb: color.rgb,
                            };
                            self.inner.draw_pixel((x, y), c)?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// Inserts collected text paths just before the closing tag of an SVG document.
pub fn finish_svg(svg: &mut String, paths: &str) {
    match svg.rfind("</svg>") {
        Some(at) => svg.insert_str(at, paths),
        None => svg.push_str(paths),
    }
}
