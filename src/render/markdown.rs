//! Markdown (GitHub's tables): `|` escaped in every span, code in backticks
//! (a longer fence when the code holds one), strong in `**`. The one place
//! Markdown is escaped.

use comfy_table::{Table as Grid, presets::ASCII_MARKDOWN};

use super::{Span, Table, Text};

/// A span's text as a table cell may hold it.
fn cell_safe(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Text as Markdown for a table cell or a line.
pub fn text(t: &Text) -> String {
    t.0.iter()
        .map(|s| match s {
            Span::Plain(x) => cell_safe(x),
            Span::Code(x) if x.contains('`') => format!("`` {} ``", cell_safe(x)),
            Span::Code(x) => format!("`{}`", cell_safe(x)),
            Span::Strong(x) => format!("**{}**", cell_safe(x)),
        })
        .collect()
}

/// A Markdown table, ending in a newline.
pub fn table(t: &Table) -> String {
    let mut g = Grid::new();
    g.load_style(ASCII_MARKDOWN);
    g.force_no_tty();
    g.set_header(t.header.iter().map(text).collect::<Vec<_>>());
    for r in &t.rows {
        g.add_row(r.iter().map(text).collect::<Vec<_>>());
    }
    format!("{g}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_span_is_escaped_and_marked() {
        let t = Text::plain("a|b ")
            .then_code("x|y")
            .then(" ")
            .then_strong("same");
        assert_eq!(text(&t), "a\\|b `x\\|y` **same**");
        assert_eq!(text(&Text::code("a`b")), "`` a`b ``");
        let table = Table::new(["k", "v"]).with_rows([["os", "Debian"]]);
        assert_eq!(
            super::table(&table),
            "| k  | v      |\n|----|--------|\n| os | Debian |\n"
        );
    }
}
