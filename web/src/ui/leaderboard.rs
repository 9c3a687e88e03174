//! The Leaderboard tab: the shipped zoo's robustness cards, ranked by the core's leaderboard
//! (one table per data set and level, the cells `robustdx leaderboard` prints), every column
//! sortable, and a model's whole card under the tables when its row is clicked.

use leptos::prelude::*;
use robustdx_core::card::leaderboard::{Leaderboard, LeaderboardGroup};
use robustdx_core::card::{RobustnessCard, column_order};

use super::card::CardView;
use super::files::fetch_text;
use crate::manifest::{Manifest, asset_url};

/// The zoo as fetched: its leaderboard, the cards by model id, and the cards that failed.
#[derive(Clone)]
struct Zoo {
    leaderboard: Leaderboard,
    cards: Vec<(String, RobustnessCard)>,
    problems: Vec<String>,
}

/// Fetches every card the manifest lists; one that fails is named, the others still ranked.
async fn fetch_zoo(manifest: &Manifest) -> Result<Zoo, String> {
    let mut cards = Vec::new();
    let mut problems = Vec::new();
    for shipped in &manifest.cards {
        let url = asset_url(&shipped.file);
        let card = fetch_text(&url)
            .await
            .and_then(|text| RobustnessCard::from_json(&text, &url).map_err(|e| e.to_string()));
        match card {
            Ok(card) => cards.push((shipped.model.clone(), card)),
            Err(e) => problems.push(e),
        }
    }
    let leaderboard = Leaderboard::new(&cards).map_err(|e| e.to_string())?;
    Ok(Zoo {
        leaderboard,
        cards,
        problems,
    })
}

/// "synth-derm:… · quick level (battery revision 1)" and how its rows are ranked.
fn group_heading(group: &LeaderboardGroup) -> (String, String) {
    let title = format!(
        "{} · {} level (battery revision {})",
        group.data, group.level, group.battery_revision
    );
    let ranking = match group.ranked_at {
        Some(eps) => format!(
            "Ranked by robust accuracy under AutoAttack at ε = {eps}/255, the largest budget every \
             card here ran, then by clean accuracy. Every card here read the same images \
             (fingerprint {}…).",
            group.data_fingerprint.get(..12).unwrap_or("")
        ),
        None => "Ranked by clean accuracy: no AutoAttack budget was run by every card here.".into(),
    };
    (title, ranking)
}

/// One group's table; its header buttons sort it, a row opens its card.
#[component]
fn GroupTable(group: LeaderboardGroup, selected: RwSignal<Option<String>>) -> impl IntoView {
    let (head, rows) = group.table();
    let ids: Vec<String> = group.rows.iter().map(|r| r.card.clone()).collect();
    // (column, descending); the ranking is column 0 ascending.
    let sort = RwSignal::new((0usize, false));
    let columns = head.len();
    let header = head
        .into_iter()
        .enumerate()
        .map(|(column, name)| {
            let aria = move || match sort.get() {
                (c, false) if c == column => "ascending",
                (c, true) if c == column => "descending",
                _ => "none",
            };
            let arrow = move || match sort.get() {
                (c, false) if c == column => " ▲",
                (c, true) if c == column => " ▼",
                _ => "",
            };
            let click = move |_| {
                sort.update(|s| *s = (column, s.0 == column && !s.1));
            };
            view! {
                <th aria-sort=aria>
                    <button class="sort" data-testid="leaderboard-sort" on:click=click>{name}{arrow}</button>
                </th>
            }
        })
        .collect_view();
    let body = move || {
        let (column, descending) = sort.get();
        column_order(&rows, column.min(columns - 1), descending)
            .into_iter()
            .map(|i| {
                let id = ids[i].clone();
                let open = {
                    let id = id.clone();
                    move |_| selected.set(Some(id.clone()))
                };
                let is_selected = {
                    let id = id.clone();
                    move || selected.get().as_deref() == Some(id.as_str())
                };
                let cells = rows[i].clone();
                view! {
                    <tr class="clickable" class:active=is_selected data-testid="leaderboard-row" data-model=id on:click=open>
                        {cells.into_iter().enumerate().map(|(c, cell)| if c == 1 {
                            // The model's name is a button, so the row opens from the keyboard too.
                            view! { <td class="left"><button class="link">{cell}</button></td> }.into_any()
                        } else {
                            view! { <td>{cell}</td> }.into_any()
                        }).collect_view()}
                    </tr>
                }
            })
            .collect_view()
    };
    let (title, ranking) = group_heading(&group);
    view! {
        <h3>{title}</h3>
        <p class="note">{ranking}</p>
        <div class="table-scroll">
            <table class="leaderboard" data-testid="leaderboard-table">
                <thead><tr>{header}</tr></thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
}

#[component]
pub fn LeaderboardTab(manifest: RwSignal<Option<Result<Manifest, String>>>) -> impl IntoView {
    let zoo = RwSignal::new(None::<Result<Zoo, String>>);
    let selected = RwSignal::new(None::<String>);
    let requested = RwSignal::new(false);
    Effect::new(move || {
        if requested.get() {
            return;
        }
        match manifest.get() {
            None => {}
            Some(Err(e)) => zoo.set(Some(Err(e))),
            Some(Ok(m)) => {
                requested.set(true);
                leptos::task::spawn_local(async move { zoo.set(Some(fetch_zoo(&m).await)) });
            }
        }
    });
    let card_section = NodeRef::<leptos::html::Section>::new();
    Effect::new(move || {
        if selected.get().is_some()
            && let Some(section) = card_section.get()
        {
            section.scroll_into_view();
        }
    });
    let tables = move || {
        zoo.get().map(|z| match z {
            Err(e) => view! { <p class="error" data-testid="leaderboard-error" role="alert">{e}</p> }.into_any(),
            Ok(zoo) if zoo.leaderboard.groups.is_empty() && zoo.problems.is_empty() => {
                view! { <p class="note" data-testid="leaderboard-empty">"This page ships no robustness cards."</p> }.into_any()
            }
            Ok(zoo) => view! {
                {zoo.problems.into_iter().map(|p| view! { <p class="error" data-testid="leaderboard-error" role="alert">{p}</p> }).collect_view()}
                {zoo.leaderboard.groups.into_iter().map(|group| view! { <GroupTable group selected/> }).collect_view()}
            }
            .into_any(),
        })
    };
    let card = move || {
        let id = selected.get()?;
        zoo.with(|z| {
            let zoo = z.as_ref()?.as_ref().ok()?;
            zoo.cards
                .iter()
                .find(|(model, _)| *model == id)
                .map(|(_, card)| view! { <CardView card=card.clone()/> })
        })
    };
    view! {
        <section class="leaderboard-tab">
            <h2>"Leaderboard"</h2>
            <p class="note">"Each shipped model's robustness card ("<code>"robustdx card --level quick"</code>"), ranked as RobustBench ranks: "
                "robust accuracy under AutoAttack, then clean accuracy. Cards of other data or other levels are never ranked "
                "together: each data set and level has a table of its own. Click a column's header to sort by it, a model to open its card."</p>
            {move || zoo.get().is_none().then(|| view! { <p class="note">"Fetching the cards…"</p> })}
            {tables}
            <section node_ref=card_section data-testid="leaderboard-card">{card}</section>
        </section>
    }
}
