//! The synthetic data sets, drawn in the browser by the same generators the native binary
//! trains on.

use leptos::prelude::*;
use robustdx_core::data::preview::caption;
use robustdx_core::data::synthetic::{self, SyntheticConfig, SyntheticKind};
use robustdx_core::report::png_data_url;

const KINDS: [SyntheticKind; 3] = [
    SyntheticKind::Derm,
    SyntheticKind::Fundus,
    SyntheticKind::Chest,
];
const TILES: usize = 12;
const SIZE: usize = 128;

/// One rendered sample: a PNG data URL and its label text.
struct Tile {
    src: String,
    label: String,
}

fn tiles(kind: SyntheticKind, seed: u64) -> Vec<Tile> {
    let config = SyntheticConfig {
        n: TILES,
        test: 1,
        size: SIZE,
        seed,
    };
    let splits = synthetic::open(kind, &config);
    let names = kind.class_names();
    (0..TILES)
        .filter_map(|i| splits.train.get(i).ok())
        .map(|sample| {
            let label = caption(&sample.label, &names);
            Tile {
                src: png_data_url(&sample.image),
                label,
            }
        })
        .collect()
}

#[component]
pub fn SyntheticGallery() -> impl IntoView {
    let (kind, set_kind) = signal(SyntheticKind::Derm);
    let (seed, set_seed) = signal(0u64);
    let gallery = move || tiles(kind.get(), seed.get());
    view! {
        <section>
            <h2>"Synthetic data sets"</h2>
            <p class="note">"Deterministic stand-ins for dermoscopy (ISIC), fundus photography (Messidor) and "
               "chest films (ChestX-ray14), drawn by the same robustdx core the command line trains on. "
               "They carry learnable, clinically motivated signs; they are not real patients."</p>
            <nav>
                {KINDS.into_iter().map(|k| view! {
                    <button data-testid=k.name() class:active=move || kind.get() == k
                        on:click=move |_| set_kind.set(k)>{k.name()}</button>
                }).collect_view()}
                <button data-testid="reseed" on:click=move |_| set_seed.update(|s| *s += 1)>"new seed"</button>
                <span class="seed">{move || format!("seed {}", seed.get())}</span>
            </nav>
            <div class="gallery" data-testid="gallery">
                {move || gallery().into_iter().map(|t| view! {
                    <figure><img src=t.src width=SIZE height=SIZE alt=t.label.clone()/><figcaption>{t.label}</figcaption></figure>
                }).collect_view()}
            </div>
        </section>
    }
}
