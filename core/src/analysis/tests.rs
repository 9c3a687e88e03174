//! Grad-CAM on hand-built activations and gradients, on a model that learned where to look, and
//! on every architecture; feature shift's invariants.

use burn::Tensor;
use burn::tensor::TensorData;

use super::*;
use crate::data::Dataset;
use crate::data::images_to_tensor;
use crate::model::{Classifier, DiagnosticModel};
use crate::test_support::{LeftRight, cpu, rng_lock, trained_left_right, trained_left_right_32};

fn tensor4(values: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), &cpu())
}

/// Two channels on a 2 × 2 map: A1 = [[1, 0], [0, 0]], A2 = [[0, 0], [0, 2]]; gradients 0.5 and
/// −0.25 everywhere, so w = (0.5, −0.25) and Σ w·A = [[0.5, 0], [0, −0.5]], ReLU [[0.5, 0], [0, 0]].
#[test]
fn cam_by_hand() {
    let activation = tensor4(vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0], [1, 2, 2, 2]);
    let gradient = tensor4(
        vec![0.5, 0.5, 0.5, 0.5, -0.25, -0.25, -0.25, -0.25],
        [1, 2, 2, 2],
    );
    let cam: Vec<f32> = cam_from(activation, gradient)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(cam, [0.5, 0.0, 0.0, 0.0]);
}

/// Every weight made positive: each conv sums its inputs, the head sums the pooled features, so
/// the logits read where the image is bright (its normalised value positive) and nothing else.
struct Positive;

impl burn::module::ModuleMapper for Positive {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        param.map(|t| t.abs())
    }
}

/// A hand-built model whose logits read one region: a black image with a bright 8 × 8 patch in
/// one quadrant. Its map peaks in that quadrant, wherever the patch is.
#[test]
fn grad_cam_peaks_where_a_hand_built_model_reads() {
    use burn::module::Module;
    let data = LeftRight::new(1, 32);
    let mut model = {
        let _rng = rng_lock();
        cpu().seed(5);
        DiagnosticModel::create("small-cnn", &data.info, 32, Some(4), &cpu()).unwrap()
    };
    model.network = model.network.map(&mut Positive);
    for (qy, qx) in [(0, 1), (1, 0), (1, 1)] {
        let mut image = crate::data::Image::zeros(3, 32, 32);
        for c in 0..3 {
            for y in 0..8 {
                for x in 0..8 {
                    image.pixels[(c * 32 + 16 * qy + 4 + y) * 32 + 16 * qx + 4 + x] = 1.0;
                }
            }
        }
        let images = images_to_tensor(&[&image], &cpu());
        let (maps, _) =
            futures_lite::future::block_on(grad_cam(&model, images, CamTarget::Class(1), &cpu()))
                .unwrap();
        let quadrant = |qy: usize, qx: usize| -> f32 {
            (0..16)
                .flat_map(|y| (0..16).map(move |x| (y, x)))
                .map(|(y, x)| maps[0].at(0, 16 * qy + y, 16 * qx + x))
                .sum()
        };
        let inside = quadrant(qy, qx);
        for (oy, ox) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            if (oy, ox) != (qy, qx) {
                assert!(
                    inside > 2.0 * quadrant(oy, ox),
                    "patch in quadrant {qy},{qx}: {inside} there, {} in {oy},{ox}",
                    quadrant(oy, ox)
                );
            }
        }
    }
}

/// The predicted class is the one explained, and a class out of range is an error.
#[test]
fn grad_cam_explains_the_decision() {
    let model = trained_left_right_32();
    let data = LeftRight::new(4, 32);
    let samples: Vec<_> = (0..4).map(|i| data.get(i).unwrap().image).collect();
    let refs: Vec<_> = samples.iter().collect();
    let images = images_to_tensor(&refs, &cpu());
    let (maps, explained) =
        futures_lite::future::block_on(grad_cam(model, images, CamTarget::Predicted, &cpu()))
            .unwrap();
    assert_eq!(
        explained,
        [0, 1, 0, 1],
        "the model decides each image right"
    );
    assert!(maps.iter().all(|m| (m.height, m.width) == (32, 32)));
    // A class out of range is an error, not a panic.
    let images = images_to_tensor(&refs[..1], &cpu());
    let err = futures_lite::future::block_on(grad_cam(model, images, CamTarget::Class(5), &cpu()));
    assert!(err.unwrap_err().to_string().contains("class 5"));
}

/// Every architecture shows a Grad-CAM layer and stages; the map is finite and normalised.
#[test]
fn every_architecture_has_a_grad_cam_layer_and_stages() {
    let data = LeftRight::new(2, 32);
    for (name, size) in [
        ("small-cnn", 32),
        ("resnet-18", 32),
        ("attn-vgg", 32),
        ("densenet-121", 32),
        ("inception-v3", 75),
    ] {
        let model = {
            let _rng = rng_lock();
            cpu().seed(3);
            DiagnosticModel::create(name, &data.info, size, Some(2), &cpu()).unwrap()
        };
        let image = data.get(1).unwrap().image.resized(size, size);
        let images = images_to_tensor(&[&image], &cpu());
        let (maps, _) = futures_lite::future::block_on(grad_cam(
            &model,
            images.clone(),
            CamTarget::Class(1),
            &cpu(),
        ))
        .unwrap();
        assert_eq!((maps[0].height, maps[0].width), (size, size), "{name}");
        assert!(
            maps[0]
                .pixels
                .iter()
                .all(|v| v.is_finite() && (0.0..=1.0 + 1e-6).contains(v)),
            "{name}"
        );
        // The probed pass gives the plain pass's logits.
        let plain: Vec<f32> = model
            .valid()
            .logits(images.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let probed: Vec<f32> = model
            .valid()
            .forward_probed(images.clone(), &mut crate::model::NoProbe)
            .logits
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(plain, probed, "{name}");
        let shift =
            futures_lite::future::block_on(feature_shift(&model, images.clone(), images.clone()))
                .unwrap();
        assert!(shift.len() >= 3, "{name}: {} stages", shift.len());
        assert!(
            shift.iter().all(|s| s.relative_l2 == 0.0),
            "{name}: no change, no shift"
        );
    }
}

/// Feature shift grows with the perturbation and is relative: an image and its twice-as-far
/// perturbation give a larger shift at the first stage.
#[test]
fn feature_shift_grows_with_the_perturbation() {
    let model = trained_left_right();
    let data = LeftRight::new(4, 16);
    let samples: Vec<_> = (0..4).map(|i| data.get(i).unwrap().image).collect();
    let refs: Vec<_> = samples.iter().collect();
    let clean = images_to_tensor(&refs, &cpu());
    let noise = clean.random_like(burn::tensor::Distribution::Uniform(-1.0, 1.0));
    let near = (clean.clone() + noise.clone() * 0.02).clamp(0.0, 1.0);
    let far = (clean.clone() + noise * 0.08).clamp(0.0, 1.0);
    let shift = |x: Tensor<4>| {
        futures_lite::future::block_on(feature_shift(model, clean.clone(), x)).unwrap()
    };
    let (near, far) = (shift(near), shift(far));
    assert_eq!(near.len(), 4, "four blocks");
    for (n, f) in near.iter().zip(&far) {
        assert!(
            n.relative_l2 > 0.0 && f.relative_l2 > n.relative_l2,
            "{near:?} {far:?}"
        );
    }
}

/// Silhouette and Fisher ratio by hand: two groups on a line, {0, 1} and {4, 5}.
/// Point 0: a = 1, b = mean(4, 5) = 4.5 → 1 − 1/4.5; point 1: a = 1, b = 3.5 → 1 − 1/3.5; by
/// symmetry the other two the same. Fisher: means 0.5 and 4.5, overall 2.5: between 2·4 + 2·4 =
/// 16, within 4 · 0.25 = 1.
#[test]
fn silhouette_and_fisher_by_hand() {
    let points: Vec<Vec<f32>> = [0.0, 1.0, 4.0, 5.0].iter().map(|&v| vec![v]).collect();
    let labels = [0, 0, 1, 1];
    let expected = ((1.0 - 1.0 / 4.5) + (1.0 - 1.0 / 3.5)) / 2.0;
    assert!((silhouette(&points, &labels).unwrap() - expected).abs() < 1e-12);
    assert!((fisher_ratio(&points, &labels).unwrap() - 16.0).abs() < 1e-12);
    // Mixed groups score lower; one group has no score.
    let mixed = [0, 1, 0, 1];
    assert!(silhouette(&points, &mixed).unwrap() < 0.0);
    assert!(fisher_ratio(&points, &mixed).unwrap() < 0.1);
    assert_eq!(silhouette(&points, &[0, 0, 0, 0]), None);
    assert_eq!(fisher_ratio(&points, &[0, 0, 0, 0]), None);
}

/// Correlation of 0/1 columns by hand: A = (1, 1, 0, 0), B = A, C = not A, D constant.
#[test]
fn label_correlation_by_hand() {
    let rows = |cols: [[u8; 4]; 4]| -> Vec<Vec<bool>> {
        (0..4)
            .map(|i| cols.iter().map(|c| c[i] == 1).collect())
            .collect()
    };
    let truth = rows([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1]]);
    let m = correlation_matrix(&truth);
    assert_eq!(m[0][1], 1.0);
    assert_eq!(m[0][2], -1.0);
    assert_eq!(m[0][3], 0.0, "a constant finding correlates 0");
    assert_eq!(m[3][3], 1.0);
    // A = (1, 0, 1, 0) against B = (1, 1, 0, 0): phi = 0.
    let other = rows([[1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1]]);
    let c = LabelCorrelation::new(&truth, &truth, &other);
    assert_eq!(c.clean_distance, 0.0);
    // Entries (0,1), (1,0) move from 1 to 0 and (0,2), (2,0) from −1 to 0: √4 = 2.
    assert!((c.adversarial_distance - 2.0).abs() < 1e-12, "{c:?}");
}

/// Two tight blobs in 16-d, `n` points each, far apart; a seeded draw so the test is fixed.
#[cfg(feature = "tsne")]
fn two_blobs(n: usize) -> (Vec<Vec<f32>>, Vec<usize>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut points = Vec::new();
    let mut labels = Vec::new();
    for blob in 0..2 {
        for _ in 0..n {
            points.push(
                (0..16)
                    .map(|k| rng.random::<f32>() * 0.2 + if k % 2 == blob { 3.0 } else { 0.0 })
                    .collect(),
            );
            labels.push(blob);
        }
    }
    (points, labels)
}

/// The map keeps separate what is separate, and a seed fixes it bit for bit.
#[cfg(feature = "tsne")]
#[test]
fn tsne_separates_two_blobs_and_is_repeatable() {
    let (points, labels) = two_blobs(30);
    let map = tsne::embed(&points, 3, 300).unwrap().unwrap();
    assert_eq!(map.len(), 60);
    let as_rows: Vec<Vec<f32>> = map.iter().map(|p| p.to_vec()).collect();
    let s = silhouette(&as_rows, &labels).unwrap();
    assert!(s > 0.8, "the blobs mix in the map: silhouette {s}");
    assert_eq!(tsne::embed(&points, 3, 300).unwrap().unwrap(), map);
    assert_ne!(tsne::embed(&points, 4, 300).unwrap().unwrap(), map);
}

#[cfg(feature = "tsne")]
#[test]
fn tsne_refuses_what_it_cannot_map() {
    let (mut points, _) = two_blobs(4);
    assert_eq!(tsne::embed(&points[..6], 0, 10).unwrap(), None, "too few");
    assert_eq!(tsne::perplexity_for(7), 2.0);
    assert_eq!(tsne::perplexity_for(400), 30.0);
    points[2][5] = f32::NAN;
    let e = tsne::embed(&points, 0, 10).unwrap_err().to_string();
    assert!(e.contains("point 2") && e.contains("not finite"), "{e}");
    points[2] = vec![1.0; 3];
    let e = tsne::embed(&points, 0, 10).unwrap_err().to_string();
    assert!(e.contains("point 2 has 3 values"), "{e}");
    // A dead feature (every image the same) still gives a map, not a panic or NaN.
    let same = vec![vec![0.5f32; 4]; 8];
    let map = tsne::embed(&same, 0, 50).unwrap().unwrap();
    assert!(map.iter().flatten().all(|v| v.is_finite()), "{map:?}");
}

/// The chart draws every clean point, the clean map faintly behind the adversarial panel, a dot
/// for each adversarial point not fooled and a cross (two lines) for each fooled one.
#[test]
fn tsne_chart_marks_the_fooled() {
    let map = TsneMap {
        perplexity: 2.0,
        epochs: 10,
        seed: 0,
        clean: vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        adversarial: vec![[0.1, 0.0], [0.9, 0.2], [0.5, 0.5], [1.0, 0.9]],
        groups: vec![0, 1, 0, 1],
        group_names: vec!["benign".into(), "malignant".into()],
        clean_right: vec![true, true, false, true],
        adversarial_right: vec![false, true, false, false],
    };
    assert_eq!(map.fooled().collect::<Vec<_>>(), [true, false, false, true]);
    let svg = crate::report::tsne_chart(&map).unwrap();
    assert_eq!(svg.matches("<circle").count(), 4 + 4 + 2 + 2, "{svg}");
    assert!(svg.contains("2 of 4 fooled") && svg.contains("malignant"));
}

/// The analysis as a run: a resumed analysis with the same identity computes nothing; one with a
/// changed setting says why it recomputes; shards merge into the single run's findings (the
/// whole-split ones — separation, t-SNE, label correlation — included).
mod analysis_runs {
    use super::*;
    use crate::attack::{AttackContext, AttackSpec, Convention, Goal, Norm};
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
    use crate::report::{AnalysisReport, DataSummary, ModelSummary};
    use crate::robustness::Shard;
    use crate::run::{Identity, Plan, merge};
    use crate::test_support::{Recorded, seeded_small_cnn};

    fn identity(steps: usize, limit: usize) -> AnalysisIdentity {
        AnalysisIdentity {
            attack: AttackSpec::new(
                "pgd",
                8.0,
                Norm::Linf,
                Convention::Pixel,
                Goal::Untargeted,
                serde_json::json!({ "steps": steps }).as_object().unwrap(),
            )
            .unwrap(),
            subject: crate::test_support::subject("synth-chest", 3),
            limit,
            shown: 3,
            revisions: Default::default(),
        }
    }

    #[test]
    fn resume_reuses_the_same_analysis_and_shards_merge_to_the_single_run() {
        let device = cpu();
        let splits = synthetic::open(
            SyntheticKind::Chest,
            &SyntheticConfig {
                n: 4,
                test: 11,
                size: 32,
                seed: 2,
            },
        );
        let test = splits.test.as_ref();
        let model = seeded_small_cnn(test.info(), 32, 4, 5);
        let run = |id: &AnalysisIdentity, previous: &[AnalysisFindings], batch, shard| {
            let header = AnalysisReport::new(
                ModelSummary::new("m.bpk", &model.card),
                DataSummary {
                    name: "synth-chest".into(),
                    split: "test".into(),
                    samples: test.len(),
                    shard,
                    skipped: Vec::new(),
                },
                id.attack.clone(),
                id.subject.seed,
                AnalysisFindings::default(),
            );
            let mut events = Recorded::<AnalysisReport>::default();
            let (report, shown) = futures_lite::future::block_on(
                Analyzer {
                    model: &model,
                    data: test,
                    shard,
                    batch_size: batch,
                    context: AttackContext::default(),
                    device: &device,
                }
                .run(id, previous, header, &mut events),
            )
            .unwrap();
            (report, shown, events)
        };
        let id = identity(2, 10);
        let (whole, shown, events) = run(&id, &[], 4, None);
        assert_eq!(events.written, 1);
        assert!(events.progress > 0);
        assert_eq!(whole.findings.samples, 10, "the first --limit images");
        assert_eq!(whole.findings.cams.len(), 3);
        assert_eq!(shown.len(), 3);
        assert!(whole.findings.records.is_empty(), "a whole run keeps none");
        assert!(whole.findings.label_correlation.is_some());
        assert_eq!(whole.findings.identity.as_ref(), Some(&id));

        // Resumed with the same identity: reused whole, nothing computed.
        let previous = std::slice::from_ref(&whole.findings);
        let (again, shown, events) = run(&id, previous, 4, None);
        assert!(matches!(events.plans[0], Plan::Reuse(_)));
        assert_eq!(events.progress, 0, "no image analysed");
        assert!(shown.is_empty());
        assert_eq!(again.findings, whole.findings);
        // Another setting: recomputed, saying which.
        let (_, _, events) = run(&identity(3, 10), previous, 4, None);
        match &events.plans[0] {
            Plan::Run { because: Some(why) } => assert_eq!(why, "steps 2 → 3"),
            other => panic!("{other:?}"),
        }

        // Three shards of the ten images, merged: the single run's findings, bit for bit.
        let shards: Vec<(String, AnalysisReport)> = (0..3)
            .map(|index| {
                let shard = Some(Shard { index, count: 3 });
                let (part, _, _) = run(&id, &[], 2, shard);
                assert_eq!(part.findings.records.len(), part.findings.samples);
                (format!("s{index}.json"), part)
            })
            .collect();
        let merged = merge(shards.clone()).unwrap();
        assert_eq!(merged.findings, whole.findings);
        assert_eq!(merged.data, whole.data);
        let err = merge(shards[1..].to_vec()).unwrap_err().to_string();
        assert!(err.contains("shard 0/3 missing"), "{err}");
        let mut other = shards.clone();
        other[2].1.findings.identity = Some(identity(3, 10));
        let err = merge(other).unwrap_err().to_string();
        assert!(
            err.contains("s2.json")
                && err.contains("other settings")
                && err.contains("steps 2 → 3"),
            "{err}"
        );
    }

    /// The analyses' revisions are part of the identity: a result of an older t-SNE is
    /// recomputed, saying so; the revisions of this build are the registry's.
    #[test]
    fn an_analysis_revision_is_part_of_the_identity() {
        let now = identity(2, 10);
        let built = AnalysisIdentity::new(now.attack.clone(), now.subject.clone(), 10, 3);
        let bumped: Vec<(String, u32)> = ANALYSES
            .iter()
            .filter(|a| a.revision > 0)
            .map(|a| (a.name.to_string(), a.revision))
            .collect();
        assert_eq!(
            built.revisions.clone().into_iter().collect::<Vec<_>>(),
            bumped
        );
        assert!(ANALYSES.get("t-sne").is_ok() && ANALYSES.get("tsne-3d").is_err());

        let mut newer = now.clone();
        newer.revisions.insert("t-sne".into(), 1);
        assert_ne!(newer, now);
        assert_eq!(now.differences(&newer), ["revision of t-sne 0 → 1"]);
        assert_eq!(newer.differences(&now), ["revision of t-sne 1 → 0"]);
        // Written only where it is not 0, so files of unchanged analyses keep their form.
        let json = |id: &AnalysisIdentity| serde_json::to_value(id).unwrap();
        assert!(json(&now).get("revisions").is_none());
        assert_eq!(json(&newer)["revisions"]["t-sne"], 1);
        assert_eq!(json(&now)["data_fingerprint"], "cd".repeat(32));
    }

    /// An identity written before fingerprints and revisions (with the robustdx version it then
    /// held) still reads, and is recomputed because its data fingerprint is unknown.
    #[test]
    fn an_older_analysis_identity_reads_and_is_not_reused() {
        let mut old = serde_json::to_value(identity(2, 10)).unwrap();
        let fields = old.as_object_mut().unwrap();
        fields.remove("data_fingerprint");
        fields.insert("version".into(), "0.1.0".into());
        let old: AnalysisIdentity = serde_json::from_value(old).unwrap();
        assert_eq!(old.subject.data_fingerprint, None);
        assert_eq!(
            old.differences(&identity(2, 10)),
            ["data fingerprint not recorded → cdcdcdcdcdcd…"]
        );
    }
}
