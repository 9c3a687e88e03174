//! `robustdx leaderboard CARD.json… --out DIR`: robustness cards side by side — a sortable HTML
//! table and a JSON, one group per data set and level (cards of other data or levels are never
//! ranked together), each ranked as RobustBench ranks.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use maud::{Markup, PreEscaped, html};
use robustdx_core::card::RobustnessCard;
use robustdx_core::card::leaderboard::{Leaderboard, LeaderboardGroup};

use crate::files::{read, write_atomic};
use crate::report::parts::page;
use crate::text_table::{Align, aligned};

#[derive(Debug, Args)]
pub struct LeaderboardArgs {
    /// Robustness cards (card.json, written by `robustdx card`)
    #[arg(required = true)]
    pub cards: Vec<PathBuf>,
    /// Directory of leaderboard.html and leaderboard.json
    #[arg(long, default_value = "robustdx-leaderboard")]
    pub out: PathBuf,
}

/// Reads a card file.
pub fn read_card(path: &Path) -> anyhow::Result<RobustnessCard> {
    let text =
        String::from_utf8(read(path)?).with_context(|| format!("{}: not text", path.display()))?;
    Ok(RobustnessCard::from_json(&text, &path.to_string_lossy())?)
}

/// A group's heading: its data, level and what it is ranked by.
pub fn group_heading(group: &LeaderboardGroup) -> String {
    let ranked = match group.ranked_at {
        Some(eps) => format!(
            "ranked by robust accuracy under AutoAttack at ε = {eps}/255, then clean accuracy"
        ),
        None => "ranked by clean accuracy (no AutoAttack budget every card ran)".into(),
    };
    format!(
        "{} — {} level, data fingerprint {}… — {ranked}",
        group.data,
        group.level,
        group
            .data_fingerprint
            .get(..12)
            .unwrap_or(&group.data_fingerprint)
    )
}

/// The leaderboard for the terminal: a heading and aligned table per group.
pub fn text(board: &Leaderboard) -> String {
    let mut out = String::new();
    for group in &board.groups {
        let (head, rows) = group.table();
        out.push_str(&format!("\n{}\n", group_heading(group)));
        out.push_str(&aligned(&head, &rows, Align::Left));
    }
    out
}

/// Sorts a table by the clicked column: numbers as numbers ("–" last), text as text; a second
/// click reverses. Keyboard users reach the header buttons with Tab.
const SORT_SCRIPT: &str = r#"
document.querySelectorAll('table.board').forEach(function (table) {
  table.querySelectorAll('th button').forEach(function (button, column) {
    button.addEventListener('click', function () {
      var th = button.parentElement;
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var text = row.cells[column].textContent.trim();
        var number = parseFloat(text);
        return isNaN(number) ? text : number;
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var missing = (typeof x === 'string') - (typeof y === 'string');
        if (missing !== 0 && (typeof x === 'number' || typeof y === 'number')) return missing;
        var order = x < y ? -1 : x > y ? 1 : 0;
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"#;

const STYLE: &str = "
table.board th button { font: inherit; font-weight: bold; background: none; border: none;
  cursor: pointer; padding: 0; }
table.board th[aria-sort=ascending] button::after { content: ' ▲'; }
table.board th[aria-sort=descending] button::after { content: ' ▼'; }
.scroll { overflow-x: auto; }
";

fn group_table(group: &LeaderboardGroup) -> Markup {
    let (head, rows) = group.table();
    html! {
        h2 { (group_heading(group)) }
        div.scroll {
            table.board {
                thead { tr { @for h in &head { th { button type="button" { (h) } } } } }
                tbody {
                    @for (row, cells) in group.rows.iter().zip(&rows) {
                        tr title=(row.card) {
                            @for cell in cells { td { (cell) } }
                        }
                    }
                }
            }
        }
    }
}

fn render(board: &Leaderboard) -> Markup {
    let body = html! {
        h1 { "Robustness leaderboard" }
        p.note {
            "One row per robustness card. Cards are ranked only beside cards of the same images (data "
            "fingerprint) and level; others form groups of their own. AA: robust accuracy under "
            "AutoAttack (at quick level, Square cut to 1 000 queries); mean FP: mean Flip Probability "
            "of the Robust-Benchmark; cert.: certified accuracy at L2 radius r by randomized smoothing "
            "at the σ given. Click a column's header to sort by it."
        }
        @for group in &board.groups { (group_table(group)) }
        script { (PreEscaped(SORT_SCRIPT)) }
    };
    page("robustdx leaderboard", STYLE, body)
}

pub fn run(args: LeaderboardArgs) -> anyhow::Result<()> {
    let cards = args
        .cards
        .iter()
        .map(|path| Ok((path.to_string_lossy().into_owned(), read_card(path)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let board = Leaderboard::new(&cards)?;
    print!("{}", text(&board));
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the directory", args.out.display()))?;
    let json = args.out.join("leaderboard.json");
    let html = args.out.join("leaderboard.html");
    write_atomic(&json, board.to_json().as_bytes())?;
    write_atomic(&html, render(&board).into_string().as_bytes())?;
    println!(
        "\n{} groups of {} cards → {}, {}",
        board.groups.len(),
        cards.len(),
        json.display(),
        html.display()
    );
    Ok(())
}
