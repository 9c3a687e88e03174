//! One image, one attack, everything a person wants to see: predictions before and after, the
//! loss at every step, the perturbation, attention maps. The browser page and
//! `robustdx attack --image` both run this, so their numbers agree. Every device read is
//! asynchronous, the only kind WebGPU allows.

use crate::analysis::{CamTarget, grad_cam};
use crate::report::GradCamPair;
use burn::Tensor;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{Decision, decision};
use crate::attack::{
    AttackContext, AttackInfo, AttackSpec, AttackedModel, GenerativeAdversarialPerturbation,
    ProjectedGradientDescent, SampleKeys, Settings, applicable, attack_info,
};
use crate::data::{Image, images_to_tensor};
use crate::model::{Classifier, DiagnosticModel};
use crate::report::{SingleImageReport, SinglePrediction, amplified_perturbation, heatmap_overlay};
use crate::{Error, Result, TaskKind, readback, task};

/// How to attack the image. ε and the step size are in 1/255 pixel units, as everywhere a
/// person types them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SingleImageSettings {
    /// A name from the attack registry ([`crate::attack::ATTACKS`]).
    pub attack: String,
    /// 1/255 pixel units, 0 to 255.
    pub eps: f32,
    /// Iterations, for the attacks that take a number of steps (PGD, APGD).
    pub steps: usize,
    /// PGD step size; ε/4 when absent.
    pub step_size: Option<f32>,
    /// PGD from a random point of the ε-ball. Off by default: the same image gives the same
    /// numbers on every backend.
    pub random_start: bool,
    /// The attack's other settings (keys of its registry defaults, as the page's settings form
    /// and `--set` give them); the fields above win over the same keys here.
    #[serde(default)]
    pub settings: Settings,
}

/// Settings the one-image run decides itself: one start, from the clean image, so the same
/// image gives the same numbers on every backend; one gradient per point (APGD's `eot`), as the
/// models the page runs are deterministic.
pub const FIXED_SETTINGS: [&str; 3] = ["restarts", "random_start", "eot"];

/// The settings of `attack` a person may set for one image beyond ε and its steps, with their
/// defaults: the numbers and switches of its registry entry, less the fixed ones (what the
/// page's settings form shows; `null` is a number the attack chooses when absent).
pub fn open_settings(attack: &AttackInfo) -> Vec<(String, serde_json::Value)> {
    attack
        .defaults()
        .into_iter()
        .filter(|(key, value)| {
            key != "steps"
                && !FIXED_SETTINGS.contains(&key.as_str())
                && (value.is_number() || value.is_boolean() || value.is_null())
        })
        .collect()
}

/// The most PGD iterations one image may ask for: more is a typo, not a stronger attack.
pub const MAX_STEPS: usize = 1000;

impl SingleImageSettings {
    /// Checks the attack's name, ε in [0, 255], the step count (1 to [`MAX_STEPS`]) for stepwise
    /// attacks and a positive step size.
    pub fn validate(&self) -> Result<()> {
        let attack = attack_info(&self.attack)?;
        // Unknown or ill-typed keys are named, not dropped.
        (attack.canonical)(&self.settings)
            .map_err(|e| Error::invalid(format!("{}: {e}", attack.name)))?;
        if !self.eps.is_finite() || !(0.0..=255.0).contains(&self.eps) {
            return Err(Error::invalid(format!(
                "ε must be between 0 and 255 (in 1/255 pixel units), got {}",
                self.eps
            )));
        }
        if attack.default_steps().is_some() && !(1..=MAX_STEPS).contains(&self.steps) {
            return Err(Error::invalid(format!(
                "{} needs between 1 and {MAX_STEPS} steps, got {}",
                self.attack, self.steps
            )));
        }
        if let Some(a) = self.step_size
            && (!a.is_finite() || a <= 0.0)
        {
            return Err(Error::invalid(format!("step size must be > 0, got {a}")));
        }
        Ok(())
    }

    /// The number of steps the attack takes (what the loss curve has, plus its start).
    pub fn steps_taken(&self) -> usize {
        if self.is_stepwise() { self.steps } else { 1 }
    }

    /// A stepwise attack (PGD) is shown iterate by iterate; every other attack as one step.
    fn is_stepwise(&self) -> bool {
        attack_info(&self.attack).is_ok_and(|a| a.stepwise)
    }

    /// The registry spec these settings describe (L∞, pixel space, untargeted).
    pub fn spec(&self) -> Result<AttackSpec> {
        let entry = attack_info(&self.attack)?;
        let mut options = self.settings.clone();
        options.insert("steps".into(), self.steps.into());
        if self.step_size.is_some() {
            options.insert("step_size".into(), self.step_size.into());
        }
        options.insert("random_start".into(), self.random_start.into());
        AttackSpec::untargeted_linf(
            entry.name,
            self.eps,
            &applicable(&entry.defaults(), &options),
        )
    }
}

/// The state after one step, for animations.
#[derive(Debug, Clone)]
pub struct StepProgress {
    /// 0 for the clean image, then 1 to `steps`.
    pub step: usize,
    /// The steps the attack takes in all.
    pub steps: usize,
    /// The attack loss at the new point.
    pub loss: f32,
    /// The image after this step.
    pub adversarial: Image,
    /// The model's probabilities on it.
    pub probs: Vec<f32>,
}

/// What the attack did, as numbers ([`SingleImageReport`]) and pictures.
#[derive(Debug, Clone)]
pub struct SingleImageOutcome {
    /// The numbers, as written to JSON.
    pub report: SingleImageReport,
    /// The image as the model saw it (its channels and size).
    pub clean: Image,
    /// The attacked image, pixels in [0, 1].
    pub adversarial: Image,
    /// δ scaled so its largest entry is full black or white.
    pub perturbation: Image,
    /// One overlay per attention gate (empty for models without attention).
    pub attention_clean: Vec<Image>,
    /// The same overlays on the attacked image.
    pub attention_adversarial: Vec<Image>,
    /// The gates' own maps behind `attention_clean`, for drawing them in another colour scale.
    pub attention_maps_clean: Vec<Image>,
    /// The gates' own maps of the attacked image, behind `attention_adversarial` (drawn over the
    /// clean image, as those are).
    pub attention_maps_adversarial: Vec<Image>,
    /// Grad-CAM before and after, laid over the images (the maps are in the report).
    pub cam_clean: Image,
    /// Grad-CAM of the attacked image, explaining its own decision.
    pub cam_adversarial: Image,
}

/// The model's view of one image: probabilities, decision, attention overlays, and the loss
/// against `targets` (the clean decision; absent for the clean image itself), all from one
/// forward pass.
struct View {
    probs: Vec<f32>,
    decision: Decision,
    attention: Vec<Image>,
    /// The maps the overlays draw.
    maps: Vec<Image>,
    loss: Option<f32>,
}

async fn view(
    model: &AttackedModel,
    x: Tensor<4>,
    shown: &Image,
    targets: Option<Tensor<2>>,
) -> Result<View> {
    let output = model.model().forward_all(x);
    let (probs, loss) = match targets {
        Some(t) => {
            let Point { probs, loss } = point(model.task(), output.logits, t).await?;
            (probs, Some(loss))
        }
        None => (
            readback::floats(task::probabilities(model.task(), output.logits)).await?,
            None,
        ),
    };
    let mut attention = Vec::new();
    let mut maps = Vec::new();
    for map in output.attention {
        for m in readback::images(map).await? {
            attention.push(heatmap_overlay(shown, &m));
            maps.push(m);
        }
    }
    Ok(View {
        decision: decision(model.task(), &probs),
        probs,
        attention,
        maps,
        loss,
    })
}

/// One image's probabilities and its loss against `targets`, read from its logits.
struct Point {
    probs: Vec<f32>,
    loss: f32,
}

async fn point(task: TaskKind, logits: Tensor<2>, targets: Tensor<2>) -> Result<Point> {
    let loss = task::per_sample_loss(task, logits.clone(), targets);
    Ok(Point {
        loss: readback::floats(loss).await?[0],
        probs: readback::floats(task::probabilities(task, logits)).await?,
    })
}

/// Attacks `image` (any size and channel count: it is brought to the model's input first),
/// pushing the model away from its own clean decision. `generator` is needed for GAP.
/// `on_step` sees the clean image, every PGD iterate and the result. The loss curve holds the loss against the clean decision
/// at the clean image and after every step.
pub async fn attack_single_image(
    model: &DiagnosticModel,
    generator: Option<&GenerativeAdversarialPerturbation>,
    image: Image,
    settings: &SingleImageSettings,
    device: &Device,
    mut on_step: impl FnMut(StepProgress),
) -> Result<SingleImageOutcome> {
    settings.validate()?;
    let attacked = AttackedModel::new(model, device);
    let card = &model.card;
    let clean_image = card.input.prepare(image);
    let clean = images_to_tensor(&[&clean_image], device);
    let before = view(&attacked, clean.clone(), &clean_image, None).await?;
    let labels = [before.decision.as_label()];
    let targets = task::targets_tensor(&labels, card.task, card.num_classes(), device)?;
    // The clean image's loss needs its decision first: a second (small) forward pass.
    let clean_loss =
        task::per_sample_loss(card.task, attacked.logits(clean.clone()), targets.clone());
    let mut loss = vec![readback::floats(clean_loss).await?[0]];
    let steps = settings.steps_taken();
    on_step(StepProgress {
        step: 0,
        steps,
        loss: loss[0],
        adversarial: clean_image.clone(),
        probs: before.probs.clone(),
    });
    // One image, keyed as image 0 of seed 0: the same random start natively and in a browser.
    let keys = SampleKeys::sequential(0, 1);
    let spec = settings.spec()?;
    let mut queries = None;
    let adversarial = if settings.is_stepwise() {
        let pgd = ProjectedGradientDescent::from_spec(&spec)?;
        let mut run = pgd.start(&attacked, clean.clone(), &labels, &keys, 0)?;
        while !run.is_finished() {
            // Each step's forward pass is the model's view of the iterate it starts from: that
            // iterate is shown from it, one step late, instead of from a forward pass of its
            // own (a third of a step on the CPU). The clean image was shown above, the last
            // iterate is shown below with its attention maps.
            let (shown, before_step) = (run.steps_taken(), run.adversarial());
            let (logits, _) = run.step_with_logits()?;
            if shown == 0 {
                continue;
            }
            let now = point(attacked.task(), logits, targets.clone()).await?;
            loss.push(now.loss);
            on_step(StepProgress {
                step: shown,
                steps,
                loss: now.loss,
                adversarial: readback::images(before_step).await?.remove(0),
                probs: now.probs,
            });
        }
        run.adversarial()
    } else {
        // Awaited: an attack that reads back while it runs (Square) must not block in a browser.
        let out = spec
            .build(&AttackContext { generator })?
            .perturb_detailed_async(&attacked, clean.clone(), &labels, &keys)
            .await?;
        queries = out.queries.and_then(|q| q.first().copied());
        out.images
    };
    let after = view(&attacked, adversarial.clone(), &clean_image, Some(targets)).await?;
    loss.push(after.loss.expect("asked for"));
    let adversarial_image = readback::images(adversarial).await?.remove(0);
    on_step(StepProgress {
        step: steps,
        steps,
        loss: *loss.last().expect("the final loss"),
        adversarial: adversarial_image.clone(),
        probs: after.probs.clone(),
    });
    let delta: Vec<f32> = adversarial_image
        .pixels
        .iter()
        .zip(&clean_image.pixels)
        .map(|(a, c)| a - c)
        .collect();
    let linf = delta.iter().fold(0.0f32, |m, d| m.max(d.abs()));
    let l2 = delta.iter().map(|d| d * d).sum::<f32>().sqrt();
    let prediction = |v: &View| SinglePrediction {
        label: v.decision.describe(&card.class_names),
        probs: v.probs.clone(),
    };
    let mut report = SingleImageReport::new(
        settings.clone(),
        card.class_names.clone(),
        prediction(&before),
        prediction(&after),
        loss,
        linf * 255.0,
    );
    // Each map explains that image's own decision: where the model looks before and after.
    let pair = images_to_tensor(&[&clean_image, &adversarial_image], device);
    let (mut maps, _) = grad_cam(model, pair, CamTarget::Predicted, device).await?;
    let (cam_adversarial, cam_clean) =
        (maps.pop().expect("two maps"), maps.pop().expect("two maps"));
    report.l2 = Some(l2);
    report.queries = queries;
    report.grad_cam = Some(GradCamPair {
        height: cam_clean.height,
        width: cam_clean.width,
        clean: cam_clean.pixels.clone(),
        adversarial: cam_adversarial.pixels.clone(),
    });
    Ok(SingleImageOutcome {
        cam_clean: heatmap_overlay(&clean_image, &cam_clean),
        cam_adversarial: heatmap_overlay(&adversarial_image, &cam_adversarial),
        report,
        perturbation: amplified_perturbation(&clean_image, &adversarial_image),
        clean: clean_image,
        adversarial: adversarial_image,
        attention_clean: before.attention,
        attention_adversarial: after.attention,
        attention_maps_clean: before.maps,
        attention_maps_adversarial: after.maps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::test_support::{LeftRight, cpu, rng_lock, trained_left_right};

    fn image(i: usize) -> Image {
        LeftRight::new(i + 1, 16).get(i).unwrap().image
    }

    fn settings(attack: &str, eps: f32, steps: usize) -> SingleImageSettings {
        SingleImageSettings {
            attack: attack.into(),
            eps,
            steps,
            step_size: None,
            random_start: false,
            settings: Settings::new(),
        }
    }

    fn run(s: &SingleImageSettings, frames: &mut Vec<StepProgress>) -> Result<SingleImageOutcome> {
        let model = trained_left_right();
        futures_lite::future::block_on(attack_single_image(model, None, image(0), s, &cpu(), |p| {
            frames.push(p)
        }))
    }

    #[test]
    fn pgd_on_one_image_stays_in_budget_raises_the_loss_and_reports_every_step() {
        let mut frames = Vec::new();
        let outcome = run(&settings("pgd", 32.0, 6), &mut frames).unwrap();
        let report = &outcome.report;
        assert_eq!(report.loss.len(), 7, "the clean loss and one per step");
        assert!(report.loss[6] > report.loss[0], "{:?}", report.loss);
        assert!(report.linf <= 32.0 + 1e-3, "‖δ‖∞ = {}", report.linf);
        let delta = outcome
            .adversarial
            .pixels
            .iter()
            .zip(&outcome.clean.pixels)
            .fold(0.0f32, |m, (a, c)| m.max((a - c).abs()));
        assert!((delta * 255.0 - report.linf).abs() < 1e-3);
        let l2 = report.l2.expect("measured");
        let squares: f64 = (outcome.adversarial.pixels.iter())
            .zip(&outcome.clean.pixels)
            .map(|(a, c)| ((a - c) as f64).powi(2))
            .sum();
        assert!((l2 as f64 - squares.sqrt()).abs() < 1e-4, "‖δ‖₂ = {l2}");
        // Within the L∞ ball, ‖δ‖₂ ≤ ε·√d, and a change of ε' in one value is at least ε'.
        let d = outcome.clean.pixels.len() as f32;
        assert!(l2 <= 32.0 / 255.0 * d.sqrt() + 1e-4 && l2 >= delta - 1e-6);
        assert!(
            outcome
                .adversarial
                .pixels
                .iter()
                .all(|p| (0.0..=1.0).contains(p))
        );
        // Frames: the clean image, every iterate, the result; each with the loss of the curve.
        let steps: Vec<usize> = frames.iter().map(|f| f.step).collect();
        assert_eq!(steps, [0, 1, 2, 3, 4, 5, 6]);
        for f in &frames {
            assert_eq!(f.loss, report.loss[f.step]);
        }
        assert_eq!(frames[0].probs, report.clean.probs);
        assert_eq!(frames[6].probs, report.adversarial.probs);
        assert_eq!(frames[6].adversarial, outcome.adversarial);
        // A large budget flips this small model, and the report says so.
        assert!(report.flipped, "{report:?}");
        assert_ne!(report.clean.label, report.adversarial.label);
    }

    #[test]
    fn every_iterate_is_shown_with_its_own_probabilities_and_loss() {
        // The iterates' numbers come from the next step's forward pass: each frame's must be
        // the model's view of that frame's own image, not of its neighbour's.
        let mut frames = Vec::new();
        let outcome = run(&settings("pgd", 32.0, 6), &mut frames).unwrap();
        let model = trained_left_right();
        let clean_class = argmax(&outcome.report.clean.probs);
        let mut moved = 0;
        for f in &frames {
            let logits = model.logits(images_to_tensor(&[&f.adversarial], &cpu()));
            let probs = futures_lite::future::block_on(readback::floats(task::probabilities(
                model.card.task,
                logits,
            )))
            .unwrap();
            for (shown, own) in f.probs.iter().zip(&probs) {
                assert!(
                    (shown - own).abs() < 1e-5,
                    "step {}: {:?} vs {probs:?}",
                    f.step,
                    f.probs
                );
            }
            // Cross-entropy against the clean decision.
            assert!(
                (f.loss + probs[clean_class].ln()).abs() < 1e-4,
                "step {}: loss {} vs -ln {}",
                f.step,
                f.loss,
                probs[clean_class]
            );
            moved += usize::from(f.step > 0 && f.probs != frames[f.step - 1].probs);
        }
        assert_eq!(moved, 6, "every step moves the probabilities");
    }

    fn argmax(values: &[f32]) -> usize {
        (0..values.len())
            .max_by(|&a, &b| values[a].total_cmp(&values[b]))
            .expect("at least one value")
    }

    #[test]
    fn the_first_loss_is_the_cross_entropy_of_the_clean_decision() {
        let mut frames = Vec::new();
        let outcome = run(&settings("fgsm", 4.0, 1), &mut frames).unwrap();
        let r = &outcome.report;
        let best = r.clean.probs.iter().fold(0.0f32, |m, p| m.max(*p));
        assert!(
            (r.loss[0] + best.ln()).abs() < 1e-4,
            "{} vs -ln {best}",
            r.loss[0]
        );
        assert_eq!(r.loss.len(), 2);
        assert!(r.loss[1] > r.loss[0], "FGSM raises the loss: {:?}", r.loss);
        assert!((r.linf - 4.0).abs() < 1e-3, "FGSM uses the whole budget");
        // Every value moves by ε (or is clipped at 0 or 1): ‖δ‖₂ is at most ε·√d.
        let full = 4.0 / 255.0 * (outcome.clean.pixels.len() as f32).sqrt();
        let l2 = r.l2.expect("measured");
        assert!(
            l2 <= full + 1e-4 && l2 > 0.5 * full,
            "‖δ‖₂ = {l2}, ε·√d = {full}"
        );
    }

    #[test]
    fn the_same_image_gives_the_same_numbers() {
        let s = settings("pgd", 8.0, 3);
        let a = run(&s, &mut Vec::new()).unwrap().report;
        let b = run(&s, &mut Vec::new()).unwrap().report;
        assert_eq!(a.loss, b.loss);
        assert_eq!(a.adversarial, b.adversarial);
    }

    #[test]
    fn bad_settings_and_a_missing_generator_are_errors_not_panics() {
        for (s, expected) in [
            (settings("pgd", 300.0, 10), "between 0 and 255"),
            (settings("pgd", f32::NAN, 10), "between 0 and 255"),
            (settings("pgd", 8.0, 0), "steps"),
            (settings("gap", 8.0, 1), "gap needs a trained generator"),
        ] {
            let message = run(&s, &mut Vec::new()).unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
        }
        let message = run(&settings("cw", 8.0, 1), &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(message.contains("unknown attack 'cw'"), "{message}");
    }

    #[test]
    fn attention_models_show_one_overlay_per_gate_before_and_after() {
        let data = LeftRight::new(1, 32);
        let model = {
            let _rng = rng_lock();
            let device = cpu();
            device.seed(3);
            DiagnosticModel::create("attn-vgg", &data.info, 32, Some(4), &device).unwrap()
        };
        let outcome = futures_lite::future::block_on(attack_single_image(
            &model,
            None,
            data.get(0).unwrap().image,
            &settings("fgsm", 2.0, 1),
            &cpu(),
            |_| {},
        ))
        .unwrap();
        assert_eq!(outcome.attention_clean.len(), 2);
        assert_eq!(outcome.attention_adversarial.len(), 2);
        let shown = &outcome.attention_clean[0];
        assert_eq!((shown.channels, shown.height, shown.width), (3, 32, 32));
        // Each overlay is its map drawn over the image, so another scale can draw it again.
        assert_eq!(outcome.attention_maps_clean.len(), 2);
        assert_eq!(outcome.attention_maps_adversarial.len(), 2);
        assert_eq!(
            *shown,
            heatmap_overlay(&outcome.clean, &outcome.attention_maps_clean[0])
        );
        // The attacked image's maps are drawn over the clean image too, to compare like with like.
        assert_eq!(
            outcome.attention_adversarial[1],
            heatmap_overlay(&outcome.clean, &outcome.attention_maps_adversarial[1])
        );
        // Grad-CAM beside the attention maps: the maps in the record, their overlays drawn.
        let cam = outcome
            .report
            .grad_cam
            .as_ref()
            .expect("Grad-CAM before and after");
        assert_eq!((cam.height, cam.width), (32, 32));
        assert_eq!(cam.clean.len(), 32 * 32);
        assert!(
            cam.clean
                .iter()
                .chain(&cam.adversarial)
                .all(|v| (0.0..=1.0 + 1e-6).contains(v))
        );
        assert_eq!(outcome.cam_adversarial.channels, 3);
    }

    #[test]
    fn the_attacks_other_settings_reach_its_spec_and_unknown_ones_are_named() {
        let mut s = settings("apgd", 8.0, 5);
        s.settings.insert("restarts".into(), 3.into());
        s.validate().unwrap();
        let spec = s.spec().unwrap();
        assert_eq!(spec.settings["restarts"], 3);
        // The steps field wins over the same key in the map.
        s.settings.insert("steps".into(), 50.into());
        assert_eq!(s.spec().unwrap().settings["steps"], 5);
        s.settings.insert("momentum".into(), 0.5.into());
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("apgd") && err.contains("no setting 'momentum'"),
            "{err}"
        );
    }

    #[test]
    fn the_form_offers_what_one_image_can_change() {
        let keys = |name: &str| -> Vec<String> {
            open_settings(attack_info(name).unwrap())
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        // PGD's step size (its own rule when absent); one start, so no restarts or random start.
        assert_eq!(keys("pgd"), ["step_size"]);
        assert!(keys("apgd").is_empty() && keys("fgsm").is_empty());
        // GAP's generator and hash are files, not form fields.
        assert!(keys("gap").is_empty());
        let mut s = settings("pgd", 8.0, 4);
        s.settings.insert("step_size".into(), 0.5.into());
        assert_eq!(s.spec().unwrap().settings["step_size"], 0.5);
    }
}
