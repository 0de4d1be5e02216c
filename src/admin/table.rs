//! Aligned text tables for the admin commands' human-readable output.
//!
//! Columns are separated by two spaces and padded to their widest cell (counted in characters),
//! the last one unpadded so no line ends in blanks. Text from the network goes through
//! [`printable`] first: a name holding terminal escape sequences cannot rewrite the screen.

/// A table: a header row and rows of the same width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; each cell is made [`printable`].
    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(
            cells.len(),
            self.header.len(),
            "a row has one cell per column"
        );
        self.rows.push(cells.iter().map(|c| printable(c)).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table, every line starting with `indent`.
    pub fn render(&self, indent: &str) -> String {
        let columns = self.header.len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|row| row[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::from(indent);
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if c + 1 < columns {
                    let pad = widths[c] - cell.chars().count();
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `text` with control characters written as escapes (`\n`, `\u{1b}`), for terminal output of
/// strings that came from the network.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A list of node ids as Kafka's tools print it (`1,2,3`), or `-` when empty.
pub fn id_list(ids: &[i32]) -> String {
    if ids.is_empty() {
        return "-".into();
    }
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_have_no_trailing_blanks() {
        let mut table = Table::new(&["ID", "HOST", "RACK"]);
        table.row(vec!["1".into(), "broker-one.example".into(), "-".into()]);
        table.row(vec!["10".into(), "b2".into(), "".into()]);
        assert_eq!(
            table.render("  "),
            "  ID  HOST                RACK\n  1   broker-one.example  -\n  10  b2\n"
        );
    }

    #[test]
    fn control_characters_from_the_network_are_escaped() {
        assert_eq!(printable("ok"), "ok");
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
        let mut table = Table::new(&["NAME"]);
        table.row(vec!["x\ty".into()]);
        assert_eq!(table.render(""), "NAME\nx\\ty\n");
    }

    #[test]
    fn id_lists_read_like_kafkas() {
        assert_eq!(id_list(&[1, 2, 3]), "1,2,3");
        assert_eq!(id_list(&[]), "-");
    }
}
