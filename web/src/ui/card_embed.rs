//! Embed mode for one robustness card (`?embed=card&src=URL`, the URL relative to the page or
//! absolute): a web report shows a model's verdict live — its model, level, verdict sentences and
//! robustness curve — from the card file it links to. No worker starts: nothing is computed.

use leptos::prelude::*;
use robustdx_core::card::{RobustnessCard, all_verdicts, card_charts};

use super::card::CardHeading;
use super::files::fetch_text;
use super::query;

/// What the widget shows, or why it cannot.
#[derive(Clone)]
struct Shown {
    card: RobustnessCard,
    attack_chart: String,
}

async fn load(src: Option<String>) -> Result<Shown, String> {
    let src = src.ok_or("embed=card needs src=URL, the card.json to show")?;
    let text = fetch_text(&src).await?;
    let card = RobustnessCard::from_json(&text, &src).map_err(|e| e.to_string())?;
    let charts = card_charts(&card).map_err(|e| format!("{src}: {e}"))?;
    Ok(Shown {
        card,
        attack_chart: charts.attacks,
    })
}

#[component]
pub fn CardEmbed() -> impl IntoView {
    let shown = RwSignal::new(None::<Result<Shown, String>>);
    let src = query().get("src").filter(|s| !s.is_empty());
    leptos::task::spawn_local(async move { shown.set(Some(load(src).await)) });
    let body = move || {
        shown.get().map(|s| match s {
            Err(e) => view! { <p class="error" data-testid="error" role="alert">{e}</p> }.into_any(),
            Ok(Shown { card, attack_chart }) => {
                let verdicts: Vec<String> =
                    all_verdicts(&card).into_iter().map(String::from).collect();
                view! {
                    <div data-testid="card-embed" data-model=card.model.file.clone() data-level=card.level.name()>
                        <CardHeading card=card.clone()/>
                        <div class="verdict-box">
                            <ul data-testid="card-verdicts">
                                {verdicts.into_iter().map(|v| view! { <li>{v}</li> }).collect_view()}
                            </ul>
                        </div>
                        <div class="chart" data-testid="card-attack-chart" inner_html=attack_chart></div>
                    </div>
                }
                .into_any()
            }
        })
    };
    view! {
        <div class="embed">
            {move || shown.get().is_none().then(|| view! { <p class="note">"Fetching the card…"</p> })}
            {body}
        </div>
    }
}
