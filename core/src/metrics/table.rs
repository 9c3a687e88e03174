//! A plain-text rendering of [`Metrics`] for the terminal.

use super::Metrics;

/// Shown where a value is undefined.
const MISSING: &str = "-";

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| MISSING.to_string(), |v| format!("{v:.3}"))
}

impl Metrics {
    /// An aligned table: a line naming the task, the overall scores, then one row per class (or
    /// label) with its support, AUC, sensitivity and specificity.
    pub fn table(&self) -> String {
        let mut overall = Vec::new();
        if self.task.is_multi_label() {
            overall.push(("accuracy (per label)", Some(self.accuracy)));
            overall.push(("exact match", self.exact_match));
        } else {
            overall.push(("accuracy", Some(self.accuracy)));
            overall.push(("balanced accuracy", self.balanced_accuracy));
        }
        overall.push(("AUC", self.auc_macro));
        if self.sensitivity.is_some() || self.specificity.is_some() {
            overall.push(("sensitivity", self.sensitivity));
            overall.push(("specificity", self.specificity));
        }

        let mut out = format!("{} task, {} samples\n", self.task, self.samples);
        let overall: Vec<String> = overall
            .into_iter()
            .map(|(name, value)| format!("{name} {}", number(value)))
            .collect();
        out.push_str(&overall.join("   "));
        out.push_str("\n\n");

        let first = if self.task.is_multi_label() {
            "label"
        } else {
            "class"
        };
        let headers = [first, "support", "AUC", "sensitivity", "specificity"];
        let rows: Vec<[String; 5]> = self
            .per_class
            .iter()
            .map(|c| {
                [
                    c.name.clone(),
                    c.support.to_string(),
                    number(c.auc),
                    number(c.sensitivity),
                    number(c.specificity),
                ]
            })
            .collect();
        let mut widths = headers.map(|h| h.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }

        let header = headers.map(str::to_string);
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = format!("{:<w$}", row[0], w = widths[0]);
            for (cell, &width) in row.iter().zip(&widths).skip(1) {
                line.push_str(&format!("  {cell:>width$}"));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::{Predictions, evaluate};
    use crate::{Label, TaskKind};

    #[test]
    fn rows_are_aligned_and_undefined_values_shown_as_a_dash() {
        let predictions = Predictions {
            task: TaskKind::MultiClass,
            class_names: vec!["no DR".into(), "mild".into(), "proliferative DR".into()],
            probs: vec![
                vec![0.7, 0.2, 0.1],
                vec![0.2, 0.5, 0.3],
                vec![0.3, 0.3, 0.4],
            ],
            labels: vec![Label::Class(0), Label::Class(1), Label::Class(1)],
        };
        let table = evaluate(&predictions).unwrap().table();
        let lines: Vec<&str> = table.lines().collect();

        assert_eq!(lines[0], "multi-class task, 3 samples");
        assert!(lines[1].starts_with("accuracy 0.667   balanced accuracy 0.750   AUC "));
        assert!(lines[3].starts_with("class             support"));
        let rows = &lines[3..];
        assert_eq!(rows.len(), 4);
        assert!(
            rows.iter()
                .all(|r| r.chars().count() == rows[0].chars().count())
        );
        // The absent class: no AUC, no sensitivity.
        assert!(rows[3].starts_with("proliferative DR"));
        assert_eq!(
            rows[3].split_whitespace().collect::<Vec<_>>()[2..],
            ["0", "-", "-", "0.667"]
        );
    }

    #[test]
    fn multi_label_and_binary_headlines() {
        let multi = Predictions {
            task: TaskKind::MultiLabel,
            class_names: vec!["a".into(), "b".into()],
            probs: vec![vec![0.8, 0.1], vec![0.3, 0.9]],
            labels: vec![
                Label::Findings(vec![true, false]),
                Label::Findings(vec![false, false]),
            ],
        };
        let table = evaluate(&multi).unwrap().table();
        assert!(table.contains("accuracy (per label) 0.750   exact match 0.500   AUC 1.000"));
        assert!(table.contains("\nlabel  support"));

        let binary = Predictions {
            task: TaskKind::Binary,
            class_names: vec!["benign".into(), "melanoma".into()],
            probs: vec![vec![0.8, 0.2], vec![0.3, 0.7]],
            labels: vec![Label::Class(0), Label::Class(1)],
        };
        let table = evaluate(&binary).unwrap().table();
        assert!(table.contains("sensitivity 1.000   specificity 1.000\n"));
    }
}
