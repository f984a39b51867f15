//! HTML (and SVG, which shares its escape): `&`, `<`, `>` and `"` escaped in
//! every span, code in `<code>`, strong in `<strong>`. The one place HTML is
//! escaped.

use std::fmt::Write as _;

use super::{Span, Table, Text};

/// Text for HTML or SVG content or a quoted attribute.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained page's start, up to and with `<body>`: its title, the
/// viewport and the inline style every page of rigbench's shares.
pub fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{}</style></head><body>\n",
        esc(title),
        super::style::STYLE
    )
}

/// Text as HTML.
pub fn text(t: &Text) -> String {
    t.0.iter()
        .map(|s| match s {
            Span::Plain(x) => esc(x),
            Span::Code(x) => format!("<code>{}</code>", esc(x)),
            Span::Strong(x) => format!("<strong>{}</strong>", esc(x)),
        })
        .collect()
}

/// A table in a horizontally scrolling block.
pub fn table(out: &mut String, t: &Table) {
    out.push_str("<div class=\"wide\"><table><thead><tr>");
    for h in &t.header {
        let _ = write!(out, "<th>{}</th>", text(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", text(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_become_elements_and_text_is_escaped() {
        let t = Text::plain("a<b & \"c\" ")
            .then_code("x|y")
            .then_strong("same");
        assert_eq!(
            text(&t),
            "a&lt;b &amp; &quot;c&quot; <code>x|y</code><strong>same</strong>"
        );
        let mut out = String::new();
        table(&mut out, &Table::new(["k"]).with_rows([["<v>"]]));
        assert_eq!(
            out,
            "<div class=\"wide\"><table><thead><tr><th>k</th></tr></thead><tbody><tr><td>&lt;v&gt;</td></tr></tbody></table></div>\n"
        );
    }
}
