//! "Certify this image": randomized smoothing (Cohen, Rosenfeld & Kolter 2019) of the chosen
//! model on the chosen image. The worker runs the core's `certify_image`, as `robustdx certify
//! --image` does natively; the page shows the votes, p̲_A, the radius, the largest radius the
//! chosen n allows, and the certified ball drawn against the attack just run.

use leptos::prelude::*;
use robustdx_core::certify::{
    AttackAgainstBall, ImageCertificateReport, alpha_per_head, max_certifiable_radius,
};

use super::attack::Chosen;
use super::client::{Certified, WorkerClient};
use crate::manifest::{ShippedModel, asset_url};
use crate::protocol::{BackendKind, CertifyJob};

/// The noise levels offered (Cohen et al.'s, with 1.0 for very noisy smoothing).
const SIGMAS: [f64; 4] = [0.12, 0.25, 0.5, 1.0];
const DEFAULT_SIGMA: f64 = 0.25;
/// The certificate's failure probability (the reference's).
const ALPHA: f64 = 0.001;
/// Estimation copies the visitor may ask for: fewer than 10 can never certify at α = 0.001,
/// more than 100 000 is hours on a CPU.
const MIN_N: u64 = 10;
const MAX_N: u64 = 100_000;

/// Selection and estimation copies by default: 100 + 1 000 on WebGPU (radii up to 2.46 σ); on
/// the CPU fallback 32 + 100 (a few seconds for the derm small CNN, radii up to 1.50 σ).
fn default_copies(backend: Option<BackendKind>) -> (u64, u64) {
    match backend {
        Some(BackendKind::Cpu) => (32, 100),
        _ => (100, 1_000),
    }
}

fn certify_job(
    model: &ShippedModel,
    image: &Chosen,
    sigma: f64,
    (n0, n): (u64, u64),
    seed: u64,
) -> (CertifyJob, Option<Vec<u8>>) {
    let (image_name, source, upload) = image.for_job();
    let job = CertifyJob {
        id: 0,
        model_url: asset_url(&model.file),
        image_name,
        image: source,
        sigma,
        n0,
        n,
        alpha: ALPHA,
        seed,
    };
    (job, upload)
}

/// The number of heads α is shared over: one class choice, or one per finding.
fn heads(report: &ImageCertificateReport) -> usize {
    report.heads.len()
}

/// The largest radius `n` copies can certify with α shared over `heads`; `None` when even
/// unanimous copies leave p̲_A below ½.
fn largest_radius(sigma: f64, n: u64, heads: usize) -> Option<f64> {
    let r = max_certifiable_radius(sigma, n, alpha_per_head(ALPHA, heads));
    (r >= 0.0).then_some(r)
}

/// What the largest radius of `n` copies means, or that no image can be certified with so few.
fn largest_words(sigma: f64, n: u64, heads: usize) -> String {
    match largest_radius(sigma, n, heads) {
        Some(r) => format!(
            "With n = {n} copies no image can be certified beyond R = {r:.3} (σ·Φ⁻¹(α^(1/n)), \
             reached when every copy agrees): fewer copies are an honest but smaller guarantee."
        ),
        None => format!("With n = {n} copies nothing can ever be certified at α = {ALPHA}."),
    }
}

#[component]
pub fn CertifyPanel(
    client: WorkerClient,
    model: Signal<ShippedModel>,
    chosen: RwSignal<Option<Chosen>>,
) -> impl IntoView {
    let sigma = RwSignal::new(DEFAULT_SIGMA);
    let seed = RwSignal::new(0u64);
    // None until the visitor types a number: the backend's default.
    let typed_n = RwSignal::new(None::<u64>);
    let copies = move || {
        let (n0, n) = default_copies(client.backend.get().map(|b| b.kind));
        (n0, typed_n.get().unwrap_or(n))
    };
    let n_ok = move || (MIN_N..=MAX_N).contains(&copies().1);
    let state = client.certify;
    let run = move |_| {
        let Some(image) = chosen.get_untracked() else {
            return;
        };
        let (n0, n) = default_copies(client.backend.get_untracked().map(|b| b.kind));
        let copies = (n0, typed_n.get_untracked().unwrap_or(n));
        if !(MIN_N..=MAX_N).contains(&copies.1) {
            return;
        }
        let (job, upload) = certify_job(
            &model.get_untracked(),
            &image,
            sigma.get_untracked(),
            copies,
            seed.get_untracked(),
        );
        client.submit_certify(job, upload);
    };
    let progress =
        move || {
            state.with(|c| {
                (c.running).then(|| view! {
                <div class="row" data-testid="certify-progress">
                    <progress max=c.total.to_string() value=c.counted.to_string()></progress>
                    <span>{format!("{} of {} noisy copies", c.counted, c.total)}</span>
                </div>
            })
            })
        };
    let result = move || {
        state.with(|c| {
            if let Some(e) = &c.error {
                return view! { <p class="error" data-testid="certify-error" role="alert">{e.clone()}</p> }.into_any();
            }
            match &c.finished {
                Some(done) => view! { <CertificateView done=done.clone() client/> }.into_any(),
                None => ().into_any(),
            }
        })
    };
    view! {
        <section class="certify" data-testid="certify" data-run=move || state.with(|c| c.id)>
            <h3>"Certify this image (randomized smoothing)"</h3>
            <p class="note">
                "An attack that fails proves nothing: a stronger one might succeed. A certificate is a proof. "
                "The model is asked about many copies of the image, each with random noise of strength σ added, "
                "and the majority vote is the smoothed model's decision. If the vote is lopsided enough, a theorem "
                "(Cohen, Rosenfeld & Kolter, 2019) guarantees that no change of the image shorter than the radius R "
                "(its L2 length, ‖δ‖₂, in pixel units) can change that decision, whatever the attack; "
                "the guarantee holds with probability 1 − α = 99.9 % over the noise drawn."
            </p>
            <div class="row">
                <label>"noise σ "
                    <select data-testid="certify-sigma" on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse() { sigma.set(v) }
                    }>
                        {SIGMAS.map(|s| view! { <option value=s.to_string() selected=s == DEFAULT_SIGMA>{s.to_string()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"copies n "
                    <input type="number" min=MIN_N.to_string() max=MAX_N.to_string() class="narrow" data-testid="certify-n"
                        prop:value=move || copies().1.to_string()
                        on:input=move |ev| { if let Ok(v) = event_target_value(&ev).trim().parse() { typed_n.set(Some(v)) } }/>
                </label>
                <label>"seed "
                    <input type="number" min="0" class="narrow" data-testid="certify-seed" prop:value=move || seed.get().to_string()
                        on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { seed.set(v) } }/>
                </label>
                <button class="run" data-testid="certify-run" on:click=run
                    disabled=move || client.backend.get().is_none() || state.with(|c| c.running) || chosen.get().is_none() || !n_ok()>
                    {move || if state.with(|c| c.running) { "Certifying…" } else { "Certify" }}
                </button>
                <button data-testid="certify-cancel" class:hidden=move || !state.with(|c| c.running)
                    on:click=move |_| client.cancel()>"Cancel"</button>
            </div>
            <p class="note" data-testid="certify-plan">
                {move || {
                    let (n0, n) = copies();
                    if !n_ok() {
                        return format!("n must be {MIN_N} to {MAX_N}.");
                    }
                    let largest = |n| largest_radius(sigma.get(), n, 1).map_or("none".into(), |r| format!("{r:.3}"));
                    format!("{n0} copies choose the guess, {n} fresh ones bound its probability; α = {ALPHA}. \
                        The largest radius {n} copies can certify at this σ: {} (1 000 copies: {}, 100 000: {}).",
                        largest(n), largest(1_000), largest(100_000))
                }}
            </p>
            {progress}
            {result}
        </section>
    }
}

/// A finished certificate: decision, votes, bound, radius, the ball and the noisy copies.
#[component]
fn CertificateView(done: Certified, client: WorkerClient) -> impl IntoView {
    let report = done.report;
    let names = &report.class_names;
    let decision = match (&report.decision, report.radius) {
        (Some(d), Some(r)) => format!("Certified: {d}, within R = {r:.3}."),
        _ => {
            let unsure: Vec<String> = report
                .heads
                .iter()
                .enumerate()
                .filter(|(_, h)| h.radius.is_none())
                .map(|(i, h)| {
                    let what = if report.multi_label {
                        names[i].clone()
                    } else {
                        "the top class".into()
                    };
                    format!("p̲_A = {:.3} < ½ for {what}", h.p_lower)
                })
                .collect();
            format!(
                "Abstains: {}. The noisy copies do not agree enough to certify anything.",
                unsure.join(", ")
            )
        }
    };
    let n = report.n;
    let heads_view = report
        .heads
        .iter()
        .enumerate()
        .map(|(i, head)| {
            let votes = report.estimation.heads[i].clone();
            let outcomes: Vec<String> = if report.multi_label {
                vec![format!("{}: absent", names[i]), format!("{}: present", names[i])]
            } else {
                names.clone()
            };
            let title = if report.multi_label {
                format!("{}: votes of {n} copies", names[i])
            } else {
                format!("votes of {n} noisy copies")
            };
            let radius = head.radius;
            view! {
                <div class="bars votes" data-testid="certify-votes" data-head=i.to_string()>
                    <h4>{title}</h4>
                    {outcomes.into_iter().zip(votes).enumerate().map(|(k, (name, count))| view! {
                        <div class="bar" class:top=k == head.guess data-votes=count.to_string()>
                            <span class="name">{name}</span>
                            <span class="track"><span class="fill" style=format!("width:{:.1}%", 100.0 * count as f64 / n.max(1) as f64)></span></span>
                            <span class="value">{count.to_string()}</span>
                        </div>
                    }).collect_view()}
                    <p class="bound" data-testid="certify-p-lower" data-value=head.p_lower.to_string()
                        data-guess=head.guess.to_string() data-votes=head.votes_for_guess.to_string()>
                        {format!("p̲_A = {:.4}: with 99.9 % confidence the guess wins at least this share of all noisy copies ({} of {n} here). ",
                            head.p_lower, head.votes_for_guess)}
                        {match radius {
                            Some(r) => format!("R = σ·Φ⁻¹(p̲_A) = {r:.3}."),
                            None => "Below ½: no radius.".to_string(),
                        }}
                    </p>
                </div>
            }
        })
        .collect_view();
    let radius_value = report.radius.map_or(String::new(), |r| r.to_string());
    let largest = largest_words(report.sigma, n, heads(&report));
    let timing = format!(
        "{} noisy copies in {:.0} ms on {} ({:.1} ms a copy).",
        report.n0 + n,
        done.timing.total_ms,
        report.backend,
        done.timing.per_step_ms
    );
    let copies = done
        .copies
        .iter()
        .enumerate()
        .map(|(k, src)| view! {
            <figure data-testid="certify-copy">
                <img src=src.clone() width="96" height="96" alt=format!("noisy copy {}", k + 1)/>
                <figcaption>{format!("copy {}", k + 1)}</figcaption>
            </figure>
        })
        .collect_view();
    let sigma = report.sigma;
    let certified_radius = report.radius;
    let (model, image) = (report.model.clone(), report.image.clone());
    let values = done.input_values;
    // The attack of the same model and image, when one has run.
    let against = move || {
        client.run.with(|r| {
            let attack = &r.finished.as_ref()?.report;
            if attack.model != model || attack.image != image {
                return None;
            }
            let eps = attack.settings.eps as f64 / 255.0;
            let cmp = AttackAgainstBall::new(certified_radius, attack.l2? as f64, eps, values);
            let name = attack.settings.attack.to_uppercase();
            Some((cmp, name, attack.settings.eps, attack.clean.label.clone()))
        })
    };
    let smoothed = report.decision.clone();
    let ball = move || {
        match against() {
        Some((cmp, attack, eps, plain)) => view! {
            <div class="ball" data-testid="certify-ball"
                data-inside=cmp.attack_inside().map_or("none".to_string(), |b| b.to_string())
                data-delta=cmp.delta_l2.to_string() data-budget=cmp.budget_l2.to_string()>
                {ball_drawing(&cmp)}
                <p data-testid="certify-ball-words">
                    {format!("{attack} at ε = {eps}/255, run above on this image. ")}{cmp.describe()}
                    " (The attack was aimed at the plain model; the certificate is about the smoothed one.)"
                </p>
                {smoothed.clone().filter(|s| *s != plain).map(|s| view! {
                    <p class="note" data-testid="certify-differs">
                        {format!("The smoothed model decides {s} where the plain model decides {plain} on the clean \
                            image: noise alone changes the plain model's mind. A model trained on noisy images \
                            (Gaussian augmentation at the same σ) learns to keep its decision under noise.")}
                    </p>
                })}
            </div>
        }
        .into_any(),
        None => view! {
            <p class="note" data-testid="certify-ball-missing">
                "Run an attack on this model and image above to see where it lies against the certified ball."
            </p>
        }
        .into_any(),
    }
    };
    // "benign 0, malignant 32" (per finding: "absent 12, present 20").
    let selection = report
        .selection
        .heads
        .iter()
        .enumerate()
        .map(|(i, votes)| {
            let outcome = |k: usize| match report.multi_label {
                true => format!("{} {}", names[i], ["absent", "present"][k]),
                false => names[k].clone(),
            };
            (votes.iter().enumerate())
                .map(|(k, v)| format!("{} {v}", outcome(k)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect::<Vec<_>>()
        .join("; ");
    let json = report.to_json();
    view! {
        <div data-testid="certificate">
            <p class="verdict" class:abstains=report.radius.is_none() data-testid="certify-decision"
                data-radius=radius_value data-decision=report.decision.clone().unwrap_or_default()>
                <strong>{decision}</strong>
            </p>
            <div class="numbers">{heads_view}</div>
            <p class="note" data-testid="certify-largest">{largest}</p>
            <p class="note">{format!("σ = {sigma}; the guess came from {} other copies ({selection}); seed {}. {timing}",
                report.n0, report.seed)}</p>
            {ball}
            <h4>"Some of the noisy copies the model saw"</h4>
            <div class="pictures">{copies}</div>
            <pre class="hidden" data-testid="certify-json">{json}</pre>
        </div>
    }
}

/// The certified ball around the clean image drawn to scale with the attack's change and the
/// farthest change its L∞ budget allows (ε·√d), as one SVG: the largest of the three is 100 px.
fn ball_drawing(cmp: &AttackAgainstBall) -> AnyView {
    let (cx, cy) = (112.0, 112.0);
    let radius = cmp.radius.unwrap_or(0.0);
    let far = radius.max(cmp.delta_l2).max(cmp.budget_l2).max(1e-9);
    let scale = 100.0 / far;
    let px = |v: f64| format!("{v:.1}");
    let attack_x = px(cx + cmp.delta_l2 * scale);
    let inside = cmp.attack_inside() == Some(true);
    let ball = match cmp.radius {
        Some(r) => format!("certified ball: R = {r:.3}"),
        None => "no ball: the smoothed model abstains".into(),
    };
    let place = match cmp.attack_inside() {
        Some(true) => " (inside)",
        Some(false) => " (outside)",
        None => "",
    };
    view! {
        <svg viewBox="0 0 460 224" class="ball-drawing" role="img"
            aria-label="the certified ball around the image and the attack's change">
            <circle cx=px(cx) cy=px(cy) r=px(cmp.budget_l2 * scale) class="budget"/>
            <circle cx=px(cx) cy=px(cy) r=px(radius * scale) class="certified"/>
            <line x1=px(cx) y1=px(cy) x2=attack_x.clone() y2=px(cy) class="delta"/>
            <circle cx=px(cx) cy=px(cy) r="3" class="clean"/>
            <circle cx=attack_x cy=px(cy) r="4" class="attack" class:inside=inside/>
            <circle cx="228" cy="40" r="6" class="certified"/>
            <text x="240" y="44">{ball}</text>
            <circle cx="228" cy="64" r="3" class="clean"/>
            <text x="240" y="68">"the clean image"</text>
            <circle cx="228" cy="88" r="4" class="attack" class:inside=inside/>
            <text x="240" y="92" class="attack-label">{format!("attack: ‖δ‖₂ = {:.3}{place}", cmp.delta_l2)}</text>
            <line x1="220" y1="112" x2="236" y2="112" class="budget"/>
            <text x="240" y="116" class="budget-label">{format!("ε·√d = {:.3}: the farthest", cmp.budget_l2)}</text>
            <text x="240" y="130" class="budget-label">"change its L∞ budget allows"</text>
        </svg>
    }
    .into_any()
}
