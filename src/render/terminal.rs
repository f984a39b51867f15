//! The terminal writer: a `Table` as the boxed text table the commands print
//! (comfy_table's look, sized to the text), spans as their bare words. With
//! `markdown`'s pipe tables, the only use of comfy_table.

use super::Table;

/// `t` as a boxed table, without a trailing newline.
pub fn table(t: &Table) -> String {
    let mut c = comfy_table::Table::new();
    c.set_header(t.header.iter().map(super::Text::words));
    for row in &t.rows {
        c.add_row(row.iter().map(super::Text::words));
    }
    c.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Text;

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
}
