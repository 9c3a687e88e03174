//! Sorting a card table by one of its columns, as a reader clicking its header expects: numbers
//! by value (not "10" before "9"), words alphabetically, and the cells a card has no number for
//! ("–") last whichever way, so that a missing score never tops a ranking.

use std::cmp::Ordering;

/// What a cell sorts by.
#[derive(Debug)]
enum SortKey<'a> {
    /// Its leading number ("0.500 (σ 0.25)" sorts by 0.5).
    Number(f64),
    Text(&'a str),
}

fn key(cell: &str) -> Option<SortKey<'_>> {
    let cell = cell.trim();
    if cell.is_empty() || cell == "–" {
        return None;
    }
    let leading = cell.split_whitespace().next().unwrap_or(cell);
    Some(match leading.parse::<f64>() {
        Ok(v) if v.is_finite() => SortKey::Number(v),
        _ => SortKey::Text(cell),
    })
}

fn compare(a: &SortKey, b: &SortKey) -> Ordering {
    match (a, b) {
        (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
        // A column mixing both: numbers first.
        (SortKey::Number(_), SortKey::Text(_)) => Ordering::Less,
        (SortKey::Text(_), SortKey::Number(_)) => Ordering::Greater,
        (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
    }
}

/// The indices of `rows` ordered by their cells in `column`, ascending or descending; missing
/// cells ("–", empty, or a row too short) last, and equal cells in their given order (the
/// ranking's).
pub fn column_order(rows: &[Vec<String>], column: usize, descending: bool) -> Vec<usize> {
    let keys: Vec<Option<SortKey>> = rows
        .iter()
        .map(|r| r.get(column).and_then(|c| key(c)))
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&i, &j| match (&keys[i], &keys[j]) {
        (Some(a), Some(b)) if descending => compare(b, a),
        (Some(a), Some(b)) => compare(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[&str]) -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|c| vec!["x".into(), c.to_string()])
            .collect()
    }

    #[test]
    fn numbers_sort_by_value_not_by_their_text() {
        let table = rows(&["9", "10", "0.5", "1e-3"]);
        assert_eq!(column_order(&table, 1, false), vec![3, 2, 0, 1]);
        assert_eq!(column_order(&table, 1, true), vec![1, 0, 2, 3]);
    }

    #[test]
    fn a_cell_sorts_by_its_leading_number() {
        let table = rows(&["0.900 (σ 0.25)", "0.125 (σ 0.5)", "0.500 (σ 0.25)"]);
        assert_eq!(column_order(&table, 1, false), vec![1, 2, 0]);
    }

    #[test]
    fn missing_cells_come_last_in_both_directions() {
        let table = rows(&["–", "0.2", "", "0.7"]);
        assert_eq!(column_order(&table, 1, false), vec![1, 3, 0, 2]);
        assert_eq!(column_order(&table, 1, true), vec![3, 1, 0, 2]);
        // A row without the column at all is missing too.
        let short = vec![vec!["only".to_string()], vec!["a".into(), "1".into()]];
        assert_eq!(column_order(&short, 1, true), vec![1, 0]);
    }

    #[test]
    fn words_sort_alphabetically_after_numbers_and_ties_keep_the_ranking() {
        let table = rows(&["pgd-at", "clean", "4", "clean"]);
        assert_eq!(column_order(&table, 1, false), vec![2, 1, 3, 0]);
        assert_eq!(column_order(&table, 1, true), vec![0, 1, 3, 2]);
    }

    #[test]
    fn non_finite_numbers_sort_as_words() {
        let table = rows(&["NaN", "0.1"]);
        assert_eq!(column_order(&table, 1, false), vec![1, 0]);
    }
}
