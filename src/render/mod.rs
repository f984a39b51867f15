//! The neutral base every output renders from: `Text` made of spans (plain,
//! code, strong) and `Table`s of such text, with one writer per format that
//! escapes in one place (`markdown`, `html`, `terminal`; SVG shares the HTML escape);
//! the charts drawn as inline SVG (`svg`'s line charts, `forest`'s plots of
//! ratios against a noise band), the HTML pages' `style`, and the small
//! formatting helpers the tables share (`mean_sd`, `short`). The report, the
//! comparison and the reference comparison build these; no format reads
//! another's output back. Nothing here knows a manifest, a comparison or a
//! report: it takes their figures as plain values.

pub mod forest;
pub mod html;
pub mod markdown;
pub mod style;
pub mod svg;
pub mod terminal;

use crate::stats::Summary;

/// One run of text with one look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Plain(String),
    /// A command, path, hash or other literal.
    Code(String),
    /// A word that carries the verdict.
    Strong(String),
}

/// Text as spans; each writer escapes and marks them up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub Vec<Span>);

impl Text {
    pub fn plain(s: impl Into<String>) -> Self {
        Text(vec![Span::Plain(s.into())])
    }

    pub fn code(s: impl Into<String>) -> Self {
        Text(vec![Span::Code(s.into())])
    }

    pub fn strong(s: impl Into<String>) -> Self {
        Text(vec![Span::Strong(s.into())])
    }

    /// This text followed by plain `s`.
    pub fn then(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Plain(s.into()));
        self
    }

    /// This text followed by code `s`.
    pub fn then_code(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Code(s.into()));
        self
    }

    /// This text followed by strong `s`.
    pub fn then_strong(mut self, s: impl Into<String>) -> Self {
        self.0.push(Span::Strong(s.into()));
        self
    }

    /// The words without markup (a chart's label, a test's comparison).
    pub fn words(&self) -> String {
        self.0
            .iter()
            .map(|s| match s {
                Span::Plain(t) | Span::Code(t) | Span::Strong(t) => t.as_str(),
            })
            .collect()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::plain(s)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::plain(s)
    }
}

/// A table: a header and rows of text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<Text>,
    pub rows: Vec<Vec<Text>>,
}

impl Table {
    /// A table with these column headings and no rows yet.
    pub fn new<T: Into<Text>>(header: impl IntoIterator<Item = T>) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn push<T: Into<Text>>(&mut self, row: impl IntoIterator<Item = T>) {
        self.rows.push(row.into_iter().map(Into::into).collect());
    }

    /// This table with these rows added.
    pub fn with_rows<T: Into<Text>, R: IntoIterator<Item = T>>(
        mut self,
        rows: impl IntoIterator<Item = R>,
    ) -> Self {
        for r in rows {
            self.push(r);
        }
        self
    }
}

/// "mean ± sd" with `decimals` places; the mean alone when n < 2.
pub fn mean_sd(s: &Summary, decimals: usize) -> String {
    match s.sd {
        Some(sd) => format!("{:.*} ± {:.*}", decimals, s.mean, decimals, sd),
        None => format!("{:.*}", decimals, s.mean),
    }
}

/// A setup value shortened for a table cell: at most 90 characters (87 and
/// "…" when longer), "—" when there is none.
pub fn short(v: Option<&String>) -> String {
    match v {
        None => "—".to_string(),
        Some(s) if s.chars().count() > 90 => {
            let head: String = s.chars().take(87).collect();
            format!("{head}…")
        }
        Some(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_built_of_spans_and_reads_as_words() {
        let t = Text::plain("id ")
            .then_code("sha256:ab|c")
            .then(", ")
            .then_strong("same");
        assert_eq!(t.0.len(), 4);
        assert_eq!(t.words(), "id sha256:ab|c, same");
        let table = Table::new(["a", "b"]).with_rows([["1", "2"]]);
        assert_eq!(table.rows[0][1], Text::plain("2"));
    }

    #[test]
    fn a_value_over_90_characters_is_cut_to_87_and_an_ellipsis() {
        assert_eq!(short(None), "—");
        let ninety = "é".repeat(90);
        assert_eq!(short(Some(&ninety)), ninety);
        let cut = short(Some(&format!("{ninety}x")));
        assert_eq!(cut, format!("{}…", "é".repeat(87)));
        assert_eq!(cut.chars().count(), 88);
    }
}
