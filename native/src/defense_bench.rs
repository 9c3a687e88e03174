//! `robustdx bench defenses`: the seed study's finding, measured — the same small model trained
//! clean and with every defense, each attacked with PGD-10 and APGD-CE at growing ε, one table.
//! A benchmark (minutes to hours), not a test. Runs the same code paths as `train` and `attack`;
//! finished models and cells are reused, so an interrupted run continues.

use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use maud::{Markup, html};
use robustdx_core::metrics::Metrics;
use robustdx_core::report::{AttackReport, models_against_eps};
use robustdx_core::train::selection_score;

use crate::attack::AttackArgs;
use crate::backend::BackendChoice;
use crate::files::write_atomic;
use crate::report::parts::{about_table, chart, page};
use crate::result_file::read_result;
use crate::train::TrainArgs;

#[derive(Debug, Args)]
pub struct DefenseBenchArgs {
    /// Data set (a synthetic one, or your own)
    #[arg(long, default_value = "synth-derm:n=800,test=200")]
    data: String,
    /// Directory for the models and results (reused: finished steps are skipped)
    #[arg(long, default_value = "robustdx-defenses")]
    out: PathBuf,
    /// Defenses to train, in table order
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "none,pgd-at,mpadvt,mart,trades"
    )]
    defenses: Vec<String>,
    /// Epochs of every training run
    #[arg(long, default_value_t = 6)]
    epochs: usize,
    /// The training ε of pgd-at, mart and trades, in 1/255 (mpadvt draws its own)
    #[arg(long, default_value_t = 4.0)]
    eps: f32,
    /// Inner-attack steps of pgd-at and trades (mart keeps its 4)
    #[arg(long, default_value_t = 5)]
    attack_steps: usize,
    /// Budgets of the evaluation, in 1/255
    #[arg(long, default_value = "0,1,2,4,8")]
    test_eps: String,
    /// Steps of the evaluating PGD
    #[arg(long, default_value_t = 10)]
    pgd_steps: usize,
    /// Steps of the evaluating APGD-CE
    #[arg(long, default_value_t = 25)]
    apgd_steps: usize,
    /// The evaluating attacks: pgd and/or apgd
    #[arg(long, value_delimiter = ',', default_value = "pgd,apgd")]
    attacks: Vec<String>,
    /// Extra `robustdx train` flags for every run (e.g. "--tiny"), space-separated
    #[arg(long, default_value = "")]
    train_flags: String,
}

#[derive(Parser)]
struct Train {
    #[command(flatten)]
    args: TrainArgs,
}

#[derive(Parser)]
struct Attack {
    #[command(flatten)]
    args: AttackArgs,
}

pub fn run(args: DefenseBenchArgs, backend: BackendChoice) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let path = |name: String| args.out.join(name).to_string_lossy().into_owned();
    let mut rows = Vec::new();
    for defense in &args.defenses {
        let model = path(format!("{defense}.bpk"));
        if Path::new(&model).exists() {
            eprintln!("bench defenses: reusing {model} (delete it to train again)");
        } else {
            let mut flags: Vec<String> = [
                "train",
                "--data",
                &args.data,
                "--out",
                &model,
                "--defense",
                defense,
            ]
            .map(String::from)
            .to_vec();
            flags.extend(["--epochs".into(), args.epochs.to_string()]);
            // Every defense with a training ε gets the bench's (MPAdvT draws its own).
            let entry = robustdx_core::defense::defense_entry(defense)?;
            if entry.defaults().contains_key("eps") {
                flags.extend(["--eps".into(), args.eps.to_string()]);
            }
            if matches!(defense.as_str(), "pgd-at" | "trades") {
                flags.extend(["--attack-steps".into(), args.attack_steps.to_string()]);
            }
            if defense == "trades" {
                // α = ε/4, so the inner attack can reach the boundary in its steps.
                flags.extend(["--attack-step-size".into(), (args.eps / 4.0).to_string()]);
            }
            flags.extend(args.train_flags.split_whitespace().map(String::from));
            if Path::new(&format!("{model}.ckpt")).exists() {
                flags.push("--resume".into());
            }
            eprintln!("bench defenses: {}", flags[1..].join(" "));
            crate::train::run(Train::try_parse_from(&flags)?.args, backend)?;
        }
        let mut reports = Vec::new();
        for (attack, steps) in [("pgd", args.pgd_steps), ("apgd", args.apgd_steps)] {
            if !args.attacks.iter().any(|a| a == attack) {
                continue;
            }
            let json = path(format!("{defense}-{attack}.json"));
            let flags = [
                "attack",
                "--model",
                &model,
                "--data",
                &args.data,
                "--attack",
                attack,
                "--eps",
                &args.test_eps,
                "--steps",
                &steps.to_string(),
                "--json",
                &json,
                "--resume",
            ];
            crate::attack::run(Attack::try_parse_from(flags)?.args, backend)?;
            reports.push(read_result::<AttackReport>(Path::new(&json))?);
        }
        rows.push((defense.clone(), reports));
    }
    let table = table(&args, &rows);
    println!("{table}");
    let page = write_comparison(&args, &rows, &table)?;
    println!("comparison report: {}", page.display());
    Ok(())
}

/// `OUT/comparison.html`: score against ε per model for each attack, side by side, the table
/// and how each model was trained.
fn write_comparison(
    args: &DefenseBenchArgs,
    rows: &[(String, Vec<AttackReport>)],
    table: &str,
) -> anyhow::Result<PathBuf> {
    let html = comparison(args, rows, table)?;
    let path = args.out.join("comparison.html");
    write_atomic(&path, html.into_string().as_bytes())?;
    Ok(path)
}

/// The comparison's template.
fn comparison(
    args: &DefenseBenchArgs,
    rows: &[(String, Vec<AttackReport>)],
    table: &str,
) -> anyhow::Result<Markup> {
    let mut charts = Vec::new();
    for attack in &args.attacks {
        let models: Vec<(String, &AttackReport)> = rows
            .iter()
            .filter_map(|(defense, reports)| {
                let report = reports
                    .iter()
                    .find(|r| r.results.iter().any(|c| &c.attack == attack))?;
                Some((defense.clone(), report))
            })
            .collect();
        let multi_label = models
            .first()
            .is_some_and(|(_, r)| r.model.task.is_multi_label());
        let title = format!(
            "{} under {attack}",
            if multi_label { "macro AUC" } else { "accuracy" }
        );
        charts.push(models_against_eps(&models, attack, &title, &|r| {
            Some(selection_score(&r.metrics.adversarial))
        })?);
    }
    let recipes = rows.iter().filter_map(|(defense, reports)| {
        let training = reports.first()?.model.training.as_ref()?;
        Some((defense, training.describe()))
    });
    let body = html! {
        h1 { "Defenses compared on " (args.data) }
        p {
            "The same architecture trained clean and with each defense (same seed, same epochs), "
            "attacked over the test split. Higher is more robust."
        }
        div.charts { @for svg in &charts { (chart(svg)) } }
        h2 { "Table" }
        pre { (table) }
        h2 { "How each model was trained" }
        (about_table(recipes))
    };
    Ok(page("robustdx: defenses compared", COMPARISON_STYLE, body))
}

/// The table is the terminal's, as text.
const COMPARISON_STYLE: &str = "pre { background: #f6f6f6; padding: 1em; overflow: auto; }\n";

/// What a cell is scored by, with its name.
type Score = (&'static str, fn(&Metrics) -> f64);

fn table(args: &DefenseBenchArgs, rows: &[(String, Vec<AttackReport>)]) -> String {
    let budgets: Vec<f32> = args
        .test_eps
        .split(',')
        .filter_map(|e| e.trim().parse().ok())
        .filter(|&e| e > 0.0)
        .collect();
    let multi_label = rows
        .first()
        .and_then(|(_, r)| r.first())
        .is_some_and(|r| r.model.task.is_multi_label());
    // Multi-label: macro AUC first (it carries the masking check), then the share of (image,
    // finding) pairs decided right.
    let scores: Vec<Score> = match multi_label {
        true => vec![
            ("macro AUC", selection_score),
            ("per-label accuracy", |m| m.accuracy),
        ],
        false => vec![("accuracy", selection_score)],
    };
    let mut out = String::new();
    for (index, (name, score)) in scores.into_iter().enumerate() {
        let attacks: Vec<String> = args
            .attacks
            .iter()
            .map(|a| match a.as_str() {
                "apgd" => format!("APGD-CE-{}", args.apgd_steps),
                _ => format!("PGD-{}", args.pgd_steps),
            })
            .collect();
        out += &format!(
            "{name} on {} under {} (ε in 1/255)\n",
            args.data,
            attacks.join(" and ")
        );
        if index == 0 && args.attacks.len() > 1 {
            out += "(flags: the sanity checks', and APGD more than 5 points below PGD, a sign of gradient masking)\n";
        } else if index == 0 {
            out += "(flags: the sanity checks')\n";
        }
        out += &score_table(args, rows, &budgets, score, index == 0);
        out += "\n";
    }
    out
}

fn score_table(
    args: &DefenseBenchArgs,
    rows: &[(String, Vec<AttackReport>)],
    budgets: &[f32],
    score: fn(&Metrics) -> f64,
    with_flags: bool,
) -> String {
    let mut out = String::new();
    let mut header = format!("{:<8} {:>6}", "defense", "clean");
    for attack in ["pgd", "apgd"]
        .iter()
        .filter(|a| args.attacks.iter().any(|b| b == *a))
    {
        let attack = attack.to_uppercase();
        for eps in budgets {
            header += &format!(" {:>8}", format!("{attack}@{eps}"));
        }
    }
    out += &header;
    out += if with_flags { "  flags\n" } else { "\n" };
    for (defense, reports) in rows {
        let value = |report: &AttackReport, eps: f32| {
            report
                .results
                .iter()
                .find(|r| r.eps == eps)
                .map(|r| score(&r.metrics.adversarial))
        };
        let clean = reports.first().and_then(|r| value(r, 0.0));
        let mut line = format!(
            "{defense:<8} {:>6}",
            clean.map_or("-".into(), |v| format!("{v:.3}"))
        );
        let mut flags: Vec<String> = Vec::new();
        for report in reports {
            for eps in budgets {
                line += &format!(
                    " {:>8}",
                    value(report, *eps).map_or("-".into(), |v| format!("{v:.3}"))
                );
            }
            flags.extend(report.sanity.iter().map(|f| f.message.clone()));
        }
        if let [pgd, apgd] = &reports[..] {
            for eps in budgets {
                // In whole points, so that 0.28 against 0.23 is not flagged by rounding.
                if let (Some(p), Some(a)) = (value(pgd, *eps), value(apgd, *eps))
                    && ((p - a) * 100.0).round() > 5.0
                {
                    flags.push(format!(
                        "APGD {:.0} points below PGD at {eps}",
                        100.0 * (p - a)
                    ));
                }
            }
        }
        flags.dedup();
        if with_flags {
            line += "  ";
            line += &match flags.is_empty() {
                true => "none".to_string(),
                false => flags.join("; "),
            };
        }
        out += &line;
        out += "\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parts::{HOSTILE, assert_escaped, hostile_sweep};

    #[derive(Parser)]
    struct Bench {
        #[command(flatten)]
        args: DefenseBenchArgs,
    }

    #[test]
    fn hostile_names_come_out_escaped() {
        let flags = ["bench", "--data", HOSTILE, "--attacks", "pgd,apgd"];
        let args = Bench::parse_from(flags).args;
        let rows = vec![(HOSTILE.to_string(), vec![hostile_sweep()])];
        let table = table(&args, &rows);
        let html = comparison(&args, &rows, &table).unwrap().into_string();
        assert_escaped(&html);
        assert!(html.contains("How each model was trained") && html.contains("<svg"));
    }
}
