//! Tables for the terminal: cells padded to their column's widest, two spaces apart.

/// How cells sit in their column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text columns (names first).
    Left,
    /// Number columns.
    Right,
}

/// `head` and `rows` as lines of padded cells.
pub fn aligned(head: &[String], rows: &[Vec<String>], align: Align) -> String {
    let width = |i: usize| {
        rows.iter()
            .filter_map(|r| r.get(i))
            .chain([&head[i]])
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..head.len()).map(width).collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| match align {
                Align::Left => format!("{c:<w$}"),
                Align::Right => format!("{c:>w$}"),
            })
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(head);
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_take_their_widest_cell() {
        let head = vec!["σ".to_string(), "r = 0.25".to_string()];
        let rows = vec![vec!["0.25".to_string(), "0.9".to_string()]];
        assert_eq!(
            aligned(&head, &rows, Align::Right),
            "   σ  r = 0.25\n0.25       0.9\n"
        );
        assert_eq!(
            aligned(&head, &rows, Align::Left),
            "σ     r = 0.25\n0.25  0.9\n"
        );
    }
}
