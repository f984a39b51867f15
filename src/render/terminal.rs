//! The terminal writer: a `Table` as the boxed text table the commands print
//! (comfy_table's look, sized to the text), or as bare aligned columns for a
//! listing inside other text (doctor's backends); spans as their bare words.
//! With `markdown`'s pipe tables, the only use of comfy_table.

use super::{Table, Text};

/// `t` as a boxed table, without a trailing newline.
pub fn table(t: &Table) -> String {
    let mut c = comfy_table::Table::new();
    c.set_header(t.header.iter().map(Text::words));
    for row in &t.rows {
        c.add_row(row.iter().map(Text::words));
    }
    c.to_string()
}

/// `t` as columns without borders, each line indented by `indent` spaces and
/// ended by a newline: the header first where it has one, every cell but a
/// row's last padded to its column's widest and followed by two spaces. A row
/// that goes on from the one above leaves its first cell empty.
pub fn columns(t: &Table, indent: usize) -> String {
    let lines: Vec<Vec<String>> = std::iter::once(&t.header)
        .filter(|h| !h.is_empty())
        .chain(&t.rows)
        .map(|r| r.iter().map(Text::words).collect())
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for line in &lines {
        for (i, cell) in line.iter().enumerate() {
            let n = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(n),
                None => widths.push(n),
            }
        }
    }
    let mut out = String::new();
    for line in &lines {
        out.push_str(&" ".repeat(indent));
        for (i, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < line.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written out by hand: borders, padding of one space, the header rule,
    /// markup dropped.
    #[test]
    fn a_table_is_boxed_with_its_header_ruled_and_its_words_only() {
        let mut t = Table::new(["cell", "n"]);
        t.push([Text::code("p31"), Text::strong("4")]);
        t.push([Text::plain("p461"), Text::plain("12")]);
        assert_eq!(
            table(&t),
            "+------+----+\n\
             | cell | n  |\n\
             +===========+\n\
             | p31  | 4  |\n\
             |------+----|\n\
             | p461 | 12 |\n\
             +------+----+"
        );
    }

    /// Written out by hand: no borders, the first column as wide as its
    /// widest cell and two spaces, the last column unpadded, a row that goes
    /// on under the one above.
    #[test]
    fn columns_are_aligned_without_borders_and_the_last_is_not_padded() {
        let mut t = Table::default();
        t.push(["cpu", "ok: no devices"]);
        t.push(["vulkan", "ok: /dev/dri/renderD128"]);
        t.push(["", "note: software"]);
        assert_eq!(
            columns(&t, 2),
            "  cpu     ok: no devices\n\
             \x20 vulkan  ok: /dev/dri/renderD128\n\
             \x20         note: software\n"
        );
        let t = Table::new(["k", "value"]).with_rows([[Text::code("a|b"), Text::strong("1")]]);
        assert_eq!(columns(&t, 0), "k    value\na|b  1\n");
    }
}
