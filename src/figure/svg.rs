//! A small SVG writer: elements as strings with escaped attributes and text. The figure layout
//! writes millimetres as user units; numbers are printed with three decimals so the output is
//! byte-identical on every machine.

use std::fmt::Write;

/// Escape text and attribute values for XML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A number for an attribute: three decimals, trailing zeros dropped.
pub fn num(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".into()
    } else {
        s.into()
    }
}

/// An SVG document under construction.
pub struct Svg {
    body: String,
}

/// Attributes of an element: `(name, value)`; values are escaped when written.
pub type Attrs<'a> = &'a [(&'a str, String)];

impl Svg {
    pub fn new() -> Self {
        Self {
            body: String::new(),
        }
    }

    fn attrs(&mut self, attrs: Attrs) {
        for (k, v) in attrs {
            let _ = write!(self.body, " {k}=\"{}\"", escape(v));
        }
    }

    /// `<name attrs/>`
    pub fn empty(&mut self, name: &str, attrs: Attrs) {
        self.body.push('<');
        self.body.push_str(name);
        self.attrs(attrs);
        self.body.push_str("/>\n");
    }

    /// `<name attrs>`
    pub fn open(&mut self, name: &str, attrs: Attrs) {
        self.body.push('<');
        self.body.push_str(name);
        self.attrs(attrs);
        self.body.push_str(">\n");
    }

    pub fn close(&mut self, name: &str) {
        let _ = writeln!(self.body, "</{name}>");
    }

    /// `<text attrs>content</text>`
    pub fn text(&mut self, attrs: Attrs, content: &str) {
        self.body.push_str("<text");
        self.attrs(attrs);
        let _ = writeln!(self.body, ">{}</text>", escape(content));
    }

    /// The finished document, `width_mm × height_mm` with millimetre user units.
    pub fn finish(self, width_mm: f64, height_mm: f64, background: &str) -> String {
        let (w, h) = (num(width_mm), num(height_mm));
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
             width=\"{w}mm\" height=\"{h}mm\" viewBox=\"0 0 {w} {h}\">\n\
             <rect class=\"background\" x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"{background}\"/>\n\
             {}</svg>\n",
            self.body
        )
    }
}

impl Default for Svg {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.23456), "1.235");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(f64::NAN), "0");
        let mut s = Svg::new();
        s.text(&[("x", num(1.5))], "x<y");
        let doc = s.finish(10.0, 5.0, "#fff");
        assert!(doc.contains("<text x=\"1.5\">x&lt;y</text>"));
        assert!(doc.contains("width=\"10mm\""));
        assert!(roxmltree::Document::parse(&doc).is_ok());
    }
}
