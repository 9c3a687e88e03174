//! One analysis of a model under one attack over the first images of a split: feature shift per
//! stage, class separation of the penultimate feature clean and adversarial, label correlation
//! (multi-label), and Grad-CAM before and after for the first few images.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::feature_shift::{Stages, stage_shifts};
use super::tsne::TsneMap;
use super::{CamTarget, LabelCorrelation, StageShift, fisher_ratio, grad_cam, silhouette};
use crate::attack::{Attack, AttackedModel, SampleKeys};
use crate::data::{BatchLoader, Dataset, Image, images_to_tensor};
use crate::model::DiagnosticModel;
use crate::robustness::{Decision, decision};
use crate::{Label, Result, readback};

/// How well one condition's penultimate features separate the classes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Separation {
    /// Share of images decided right (multi-label: every finding right).
    pub accuracy: f64,
    pub silhouette: Option<f64>,
    pub fisher_ratio: Option<f64>,
}

/// One shown image: its Grad-CAM maps (at the input's size, row-major, in [0, 1]) before and
/// after the attack, each explaining that image's own decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CamExample {
    pub index: usize,
    pub id: String,
    pub height: usize,
    pub width: usize,
    pub clean_decision: String,
    pub adversarial_decision: String,
    pub clean_cam: Vec<f32>,
    pub adversarial_cam: Vec<f32>,
}

/// What an analysis found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisFindings {
    pub samples: usize,
    /// Per stage, the mean relative L2 shift over the images.
    pub feature_shift: Vec<StageShift>,
    pub clean: Separation,
    pub adversarial: Separation,
    /// Multi-label models only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_correlation: Option<LabelCorrelation>,
    /// The joint t-SNE map of the penultimate features; absent where robustdx was built without
    /// it (the page) or for fewer than `tsne::MIN_POINTS` images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsne: Option<TsneMap>,
    pub cams: Vec<CamExample>,
}

/// The images behind `AnalysisFindings::cams`, for reports: (clean, adversarial) at the input's
/// size.
pub type ShownImages = Vec<(Image, Image)>;

/// Grouping for the separation scores: the class, or (multi-label) the set of findings.
fn group(label: &Label) -> Vec<bool> {
    match label {
        Label::Class(c) => (0..=*c).map(|i| i == *c).collect(),
        Label::Findings(f) => f.clone(),
    }
}

/// Each label's group (the class, or the set of findings) as an index, and the groups in order
/// of first appearance.
fn grouping(labels: &[Label]) -> (Vec<usize>, Vec<Vec<bool>>) {
    let mut groups: Vec<Vec<bool>> = Vec::new();
    let ids = labels
        .iter()
        .map(|l| {
            let g = group(l);
            groups.iter().position(|x| *x == g).unwrap_or_else(|| {
                groups.push(g);
                groups.len() - 1
            })
        })
        .collect();
    (ids, groups)
}

/// A group's name: its class, its findings joined by " + ", or "no finding".
fn group_name(group: &[bool], class_names: &[String]) -> String {
    let named: Vec<&str> = group
        .iter()
        .enumerate()
        .filter(|&(_, &on)| on)
        .map(|(i, _)| class_names.get(i).map_or("?", String::as_str))
        .collect();
    if named.is_empty() {
        "no finding".into()
    } else {
        named.join(" + ")
    }
}

fn separation(features: &[Vec<f32>], ids: &[usize], right: &[bool]) -> Separation {
    Separation {
        accuracy: right.iter().filter(|&&r| r).count() as f64 / right.len().max(1) as f64,
        silhouette: silhouette(features, ids),
        fisher_ratio: fisher_ratio(features, ids),
    }
}

/// Analyses `model` under `attack` on the first `limit` images of `data`, `batch_size` at a time
/// (random draws keyed by `seed` and each image's index), showing Grad-CAM for the first `shown`.
/// Asynchronous reads only: the page can run it too.
#[allow(clippy::too_many_arguments)]
pub async fn analyze(
    model: &DiagnosticModel,
    data: &dyn Dataset,
    attack: &dyn Attack,
    limit: usize,
    shown: usize,
    seed: u64,
    batch_size: usize,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(AnalysisFindings, ShownImages)> {
    let card = &model.card;
    let attacked = AttackedModel::new(model, device);
    let valid = model.valid();
    let total = limit.min(data.len());
    let (mut clean_features, mut adversarial_features) = (Vec::new(), Vec::new());
    let (mut labels, mut clean_decisions, mut adversarial_decisions) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut shift_sums: Vec<f64> = Vec::new();
    let (mut cams, mut images) = (Vec::new(), Vec::new());
    let mut next = 0;
    for samples in BatchLoader::new(data, batch_size, &card.input, None).only(0..total) {
        let samples = samples?;
        let indices: Vec<usize> = (next..next + samples.len()).collect();
        next += samples.len();
        let refs: Vec<&Image> = samples.iter().map(|s| &s.image).collect();
        let clean = images_to_tensor(&refs, device);
        let batch_labels: Vec<Label> = samples.iter().map(|s| s.label.clone()).collect();
        let keys = SampleKeys::new(seed, indices.iter().map(|&i| i as u64).collect());
        let adversarial = attack.perturb(&attacked, clean.clone(), &batch_labels, &keys)?;
        // One pass per condition gives the decision, the penultimate feature and every stage.
        let mut stages = Vec::with_capacity(2);
        for (tensor, features, decisions) in [
            (&clean, &mut clean_features, &mut clean_decisions),
            (
                &adversarial,
                &mut adversarial_features,
                &mut adversarial_decisions,
            ),
        ] {
            let mut probe = Stages::default();
            let out = valid.forward_probed(tensor.clone(), &mut probe);
            stages.push(probe.0);
            let probs = crate::task::probabilities(card.task, out.logits);
            let [_, k] = probs.dims();
            let probs = readback::floats(probs).await?;
            decisions.extend(probs.chunks(k).map(|p| decision(card.task, p)));
            let [_, f] = out.feature.dims();
            features.extend(
                readback::floats(out.feature)
                    .await?
                    .chunks(f)
                    .map(<[f32]>::to_vec),
            );
        }
        let after = stages.pop().expect("the adversarial pass");
        let shift = stage_shifts(stages.pop().expect("the clean pass"), after).await?;
        shift_sums.resize(shift.len(), 0.0);
        for (sum, s) in shift_sums.iter_mut().zip(&shift) {
            *sum += s.relative_l2 * samples.len() as f64;
        }
        let wanted = shown.saturating_sub(cams.len()).min(samples.len());
        if wanted > 0 {
            let head = |t: &burn::Tensor<4>| t.clone().narrow(0, 0, wanted);
            let (clean_maps, _) =
                grad_cam(model, head(&clean), CamTarget::Predicted, device).await?;
            let (adversarial_maps, _) =
                grad_cam(model, head(&adversarial), CamTarget::Predicted, device).await?;
            let adversarial_images = readback::images(head(&adversarial)).await?;
            let first = labels.len();
            for (j, ((cm, am), adv)) in clean_maps
                .into_iter()
                .zip(adversarial_maps)
                .zip(adversarial_images)
                .enumerate()
            {
                let index = indices[j];
                cams.push(CamExample {
                    index,
                    id: data.id(index),
                    height: cm.height,
                    width: cm.width,
                    clean_decision: clean_decisions[first + j].describe(&card.class_names),
                    adversarial_decision: adversarial_decisions[first + j]
                        .describe(&card.class_names),
                    clean_cam: cm.pixels,
                    adversarial_cam: am.pixels,
                });
                images.push((samples[j].image.clone(), adv));
            }
        }
        labels.extend(batch_labels);
        progress(next, total);
    }
    let label_correlation = card.task.is_multi_label().then(|| {
        let flags = |ds: &[Decision]| -> Vec<Vec<bool>> {
            ds.iter()
                .map(|d| match d {
                    Decision::Findings(f) => f.clone(),
                    Decision::Class(_) => Vec::new(),
                })
                .collect()
        };
        let truth: Vec<Vec<bool>> = labels.iter().map(group).collect();
        LabelCorrelation::new(
            &truth,
            &flags(&clean_decisions),
            &flags(&adversarial_decisions),
        )
    });
    let (ids, groups) = grouping(&labels);
    let right = |ds: &[Decision]| -> Vec<bool> {
        labels
            .iter()
            .zip(ds)
            .map(|(l, d)| Decision::from(l) == *d)
            .collect()
    };
    let (clean_right, adversarial_right) = (right(&clean_decisions), right(&adversarial_decisions));
    let tsne = tsne_map(
        &clean_features,
        &adversarial_features,
        seed,
        TsneMap {
            perplexity: super::tsne::perplexity_for(2 * labels.len()),
            epochs: super::tsne::EPOCHS,
            seed,
            clean: Vec::new(),
            adversarial: Vec::new(),
            groups: ids.clone(),
            group_names: groups
                .iter()
                .map(|g| group_name(g, &card.class_names))
                .collect(),
            clean_right: clean_right.clone(),
            adversarial_right: adversarial_right.clone(),
        },
    )?;
    let findings = AnalysisFindings {
        samples: labels.len(),
        feature_shift: shift_sums
            .iter()
            .enumerate()
            .map(|(i, s)| StageShift {
                stage: i + 1,
                relative_l2: s / labels.len().max(1) as f64,
            })
            .collect(),
        clean: separation(&clean_features, &ids, &clean_right),
        adversarial: separation(&adversarial_features, &ids, &adversarial_right),
        label_correlation,
        tsne,
        cams,
    };
    Ok((findings, images))
}

/// Fills `map` with the joint embedding of the clean and adversarial features (clean first).
#[cfg(feature = "tsne")]
fn tsne_map(
    clean: &[Vec<f32>],
    adversarial: &[Vec<f32>],
    seed: u64,
    mut map: TsneMap,
) -> Result<Option<TsneMap>> {
    let points: Vec<Vec<f32>> = clean.iter().chain(adversarial).cloned().collect();
    let Some(mut embedded) = super::tsne::embed(&points, seed, map.epochs)? else {
        return Ok(None);
    };
    map.adversarial = embedded.split_off(clean.len());
    map.clean = embedded;
    Ok(Some(map))
}

/// Built without t-SNE (the page): no map.
#[cfg(not(feature = "tsne"))]
fn tsne_map(_: &[Vec<f32>], _: &[Vec<f32>], _: u64, _: TsneMap) -> Result<Option<TsneMap>> {
    Ok(None)
}
