//! The style sheet of rigbench's HTML pages (the report and the comparison):
//! the font and width of the page, the tables, the charts' frames and the
//! notes. Inline in each page, so that every page stays one self-contained file.

/// The CSS that every page inlines in its `<style>`.
pub const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:0.6em 0 1.4em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}code{font-size:12px}.wide{overflow-x:auto}\
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts svg{border:1px solid #eee;max-width:100%;height:auto}\
.note{color:#555;font-size:13px}";
