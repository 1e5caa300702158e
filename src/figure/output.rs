//! The figure's SVG as files: SVG (text converted to paths by default, as matplotlib does, or
//! kept as editable text), PNG rasterised by resvg at a chosen DPI, PDF by svg2pdf. Text is set
//! in the DejaVu Sans bundled in `assets/fonts/` and nothing else: system fonts are never
//! consulted, so every machine writes the same figure.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use resvg::usvg;

use super::FigureError;

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// The output format, from the file name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
    Pdf,
}

impl Format {
    pub fn of(path: &Path) -> Result<Format, FigureError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            Some("pdf") => Ok(Format::Pdf),
            _ => Err(FigureError::Format(path.display().to_string())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputOptions {
    /// PNG resolution: the PNG is `width_mm / 25.4 · dpi` pixels wide.
    pub dpi: f32,
    /// Keep SVG text as `<text>` (editable in Inkscape/Illustrator, but set in whatever font
    /// the viewer has) instead of paths.
    pub svg_text: bool,
}

impl Default for OutputOptions {
    fn default() -> Self {
        Self {
            dpi: 300.0,
            svg_text: false,
        }
    }
}

fn fontdb() -> Arc<usvg::fontdb::Database> {
    static DB: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(REGULAR.to_vec());
        db.load_font_data(BOLD.to_vec());
        db.set_sans_serif_family("DejaVu Sans");
        Arc::new(db)
    })
    .clone()
}

fn tree(svg: &str) -> Result<usvg::Tree, FigureError> {
    let opt = usvg::Options {
        font_family: "DejaVu Sans".into(),
        fontdb: fontdb(),
        ..Default::default()
    };
    usvg::Tree::from_str(svg, &opt).map_err(|e| FigureError::Svg(e.to_string()))
}

/// The SVG with its text as paths in the bundled font (ids kept).
pub fn svg_with_paths(svg: &str) -> Result<String, FigureError> {
    Ok(tree(svg)?.to_string(&usvg::WriteOptions::default()))
}

/// The figure as PNG at `dpi`, with the resolution stored in the file (pHYs), so a paper's
/// `\includegraphics` places it at its size in mm.
pub fn png(svg: &str, dpi: f32) -> Result<Vec<u8>, FigureError> {
    if !(dpi.is_finite() && (10.0..=2400.0).contains(&dpi)) {
        return Err(FigureError::Png(format!("{dpi} DPI: use 10 to 2400")));
    }
    let tree = tree(svg)?;
    // usvg sizes the tree in CSS pixels (96 per inch).
    let scale = dpi / 96.0;
    let (w, h) = (
        (tree.size().width() * scale).round() as u32,
        (tree.size().height() * scale).round() as u32,
    );
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| FigureError::Png(format!("{w}×{h} px: empty or too large")))?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    let png = pixmap
        .encode_png()
        .map_err(|e| FigureError::Png(e.to_string()))?;
    Ok(with_phys(png, dpi))
}

/// Insert a pHYs chunk (pixels per metre) after the IHDR chunk of a PNG.
fn with_phys(png: Vec<u8>, dpi: f32) -> Vec<u8> {
    // Signature (8) + IHDR: length (4), type (4), data (13), CRC (4).
    const AFTER_IHDR: usize = 8 + 4 + 4 + 13 + 4;
    if png.len() < AFTER_IHDR || &png[12..16] != b"IHDR" {
        return png;
    }
    let ppm = (dpi as f64 / 0.0254).round() as u32;
    let mut chunk = Vec::with_capacity(21);
    chunk.extend_from_slice(&9u32.to_be_bytes());
    let body_start = chunk.len();
    chunk.extend_from_slice(b"pHYs");
    chunk.extend_from_slice(&ppm.to_be_bytes());
    chunk.extend_from_slice(&ppm.to_be_bytes());
    chunk.push(1); // unit: metre
    let crc = crc32fast::hash(&chunk[body_start..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let mut out = Vec::with_capacity(png.len() + chunk.len());
    out.extend_from_slice(&png[..AFTER_IHDR]);
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[AFTER_IHDR..]);
    out
}

/// The figure as a one-page PDF of its size in mm, fonts embedded (subset).
pub fn pdf(svg: &str) -> Result<Vec<u8>, FigureError> {
    let tree = tree(svg)?;
    // The tree is in CSS pixels: 96 per inch, so the page comes out at the figure's size.
    svg2pdf::to_pdf(
        &tree,
        svg2pdf::ConversionOptions::default(),
        svg2pdf::PageOptions { dpi: 96.0 },
    )
    .map_err(|e| FigureError::Pdf(e.to_string()))
}

/// Write `svg` to `path` in the format its extension names, atomically (a temporary file
/// beside it, then a rename), so a failed export never leaves half a figure.
pub fn save(svg: &str, path: &Path, out: &OutputOptions) -> Result<(), FigureError> {
    let bytes = match Format::of(path)? {
        Format::Svg if out.svg_text => svg.as_bytes().to_vec(),
        Format::Svg => svg_with_paths(svg)?.into_bytes(),
        Format::Png => png(svg, out.dpi)?,
        Format::Pdf => pdf(svg)?,
    };
    crate::fsutil::write_atomic(path, &bytes).map_err(|source| FigureError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phys_chunk_is_valid_png() {
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"25.4mm\" height=\"12.7mm\" \
                   viewBox=\"0 0 25.4 12.7\"><text x=\"1\" y=\"8\" font-size=\"5\">Ag</text></svg>";
        let bytes = png(svg, 200.0).unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (200, 100));
        // The text was drawn: some pixels are not transparent.
        assert!(img.to_rgba8().pixels().any(|p| p.0[3] > 0));
        assert!(Format::of(Path::new("a.jpg")).is_err());
        assert_eq!(Format::of(Path::new("a.PDF")).unwrap(), Format::Pdf);
    }
}
