//! Golden values from PyTorch + torchattacks (`tests/fixtures/attacks/make_golden.py`): FGSM,
//! PGD L∞, PGD L2 and targeted PGD on the tiny ResNet-18 fixture must give the same adversarial
//! images — the L∞ attacks bit for bit. Images whose attack goal the clean model already meets
//! (p ≈ 1, gradients at rounding level) are "fragile" — any f32 implementation may walk
//! elsewhere — and are only checked against the budget. The golden batch is 8 images, attacked
//! at once on a two-thread pool, so the two-halves path of the CPU backend is what is compared.
//! The AutoAttack members have a module each.

mod apgd_targeted;
mod autoattack;
mod fab;
mod square;

use std::collections::HashMap;

use burn::Tensor;
use burn::tensor::{Device, TensorData};
use robustdx_core::Label;
use robustdx_core::attack::{
    Attack, AttackedModel, AutoProjectedGradientDescent, Budget, Convention,
    FastGradientSignMethod, Goal, Norm, ProjectedGradientDescent, SampleKeys,
};
use robustdx_core::model::{DiagnosticModel, read_safetensors};
use robustdx_tests::{fixture_resnet18, fixtures};

const PIXEL_TOLERANCE: f32 = 1e-5;
/// PGD L2 goes through per-image sums and square roots, whose rounding differs from PyTorch's
/// (see `tests/fixtures/attacks/README.md`).
const L2_TOLERANCE: f32 = 1.2e-7;

fn model(device: &Device) -> DiagnosticModel {
    burns_convolution();
    fixture_resnet18(&fixtures("torch").join("resnet-18.safetensors"), device)
}

/// The 10-class ResNet-18 of `tests/fixtures/attacks/make_models.py`, for the attacks that aim
/// at the 9 runner-up classes (APGD-T, FAB-T) and AutoAttack.
fn model_10_classes(device: &Device) -> DiagnosticModel {
    burns_convolution();
    fixture_resnet18(
        &fixtures("attacks").join("resnet-18-10.safetensors"),
        device,
    )
}

/// These goldens follow torchattacks' runs step by step for up to 100 iterations, where a sign
/// taken of a gradient entry near zero or a ReLU crossed at its kink turns on the last bit of a
/// sum; the images were chosen where burn's own convolution keeps that bit as PyTorch does.
/// Our kernels (cpu-kernels) sum in another order (equal to burn's within 1e-5, tested in
/// `cpu-kernels/tests/equal_to_burn.rs`, and to PyTorch's logits and gradients within 1e-4 in
/// `torch_fixtures`), which moved two of these trajectories (APGD-CE N = 100 image 3, FAB-T
/// image 1); so the attacks are checked here on burn's convolution, the same for every test of
/// this binary.
fn burns_convolution() {
    robustdx_cpu_kernels::set_enabled(false);
}

fn golden() -> HashMap<String, Vec<f32>> {
    golden_tensors("golden.safetensors")
}

const PLANE: usize = 3 * 64 * 64;

/// The script's fixed input of `batch` images: a multiplicative hash of the flat index.
fn input(batch: usize) -> Vec<f32> {
    (0..batch * PLANE)
        .map(|i| ((i as u64 * 2_654_435_761) % (1 << 32)) as f64 / (1u64 << 32) as f64)
        .map(|x| x as f32)
        .collect()
}

/// The golden file's labels (one per image of its batch).
fn labels(index: &serde_json::Value) -> Vec<usize> {
    let labels: Vec<usize> = index["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(index["input"]["shape"][0], labels.len());
    labels
}

/// Runs `work` on a pool of two threads, as on the two-core machines the tests run on, so a
/// batch of 8 or more takes the CPU backend's two-halves path wherever the test runs.
fn on_two_threads<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(work)
}

fn image(values: &[f32], i: usize, device: &Device) -> Tensor<4> {
    let data = TensorData::new(values[i * PLANE..(i + 1) * PLANE].to_vec(), [1, 3, 64, 64]);
    Tensor::from_data(data, device)
}

struct Case {
    name: &'static str,
    robust: Vec<usize>,
    fragile: Vec<usize>,
    norm: Norm,
    eps: f32,
    attack: Box<dyn Fn(Goal) -> Box<dyn Attack> + Sync>,
    /// The goal of the whole batch; `None`: per image, (label + 1) mod 3 (targeted).
    goal: Option<Goal>,
    /// How far a robust image may be from torchattacks' (0: bit for bit).
    tolerance: f32,
}

#[test]
fn attacks_match_torchattacks_on_the_fixture_model() {
    let device = Device::flex();
    let attacked = AttackedModel::new(&model(&device), &device);
    let golden = golden();
    let index = std::fs::read_to_string(fixtures("attacks").join("golden.json")).unwrap();
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    let labels = labels(&index);
    let batch = labels.len();
    assert!(
        batch >= 8,
        "a golden batch of {batch} never takes the two-thread path"
    );
    let lists = |name: &str, key: &str| -> Vec<usize> {
        let attack = index["attacks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap();
        attack[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    };
    let eps = 8.0 / 255.0;
    let linf = Budget::linf(eps);
    let pgd = move |goal| -> Box<dyn Attack> {
        Box::new(ProjectedGradientDescent {
            budget: linf,
            step_size: 2.0 / 255.0,
            steps: 10,
            random_start: false,
            restarts: 1,
            goal,
        })
    };
    let cases = [
        Case {
            name: "fgsm",
            robust: lists("fgsm", "robust_images"),
            fragile: lists("fgsm", "fragile_images"),
            norm: Norm::Linf,
            eps,
            attack: Box::new(move |goal| Box::new(FastGradientSignMethod { budget: linf, goal })),
            goal: Some(Goal::Untargeted),
            tolerance: 0.0,
        },
        Case {
            name: "pgd",
            robust: lists("pgd", "robust_images"),
            fragile: lists("pgd", "fragile_images"),
            norm: Norm::Linf,
            eps,
            attack: Box::new(pgd),
            goal: Some(Goal::Untargeted),
            tolerance: 0.0,
        },
        Case {
            name: "pgdl2",
            robust: lists("pgdl2", "robust_images"),
            fragile: lists("pgdl2", "fragile_images"),
            norm: Norm::L2,
            eps: 0.5,
            attack: Box::new(|goal| {
                Box::new(ProjectedGradientDescent {
                    budget: Budget {
                        norm: Norm::L2,
                        eps: 0.5,
                        convention: Convention::Pixel,
                    },
                    step_size: 0.1,
                    steps: 10,
                    random_start: false,
                    restarts: 1,
                    goal,
                })
            }),
            goal: Some(Goal::Untargeted),
            tolerance: L2_TOLERANCE,
        },
        Case {
            name: "pgd_targeted",
            robust: lists("pgd_targeted", "robust_images"),
            fragile: lists("pgd_targeted", "fragile_images"),
            norm: Norm::Linf,
            eps,
            attack: Box::new(pgd),
            goal: None,
            tolerance: 0.0,
        },
    ];
    let clean = input(batch);
    let truth: Vec<Label> = labels.iter().map(|&l| Label::Class(l)).collect();
    for case in &cases {
        let expected = &golden[&format!("{}.adversarial", case.name)];
        let adversarial: Vec<f32> = match case.goal {
            // The whole batch at once: two halves on two threads.
            Some(goal) => on_two_threads(|| {
                let images = Tensor::<4>::from_data(
                    TensorData::new(clean.clone(), [batch, 3, 64, 64]),
                    &device,
                );
                (case.attack)(goal)
                    .perturb(&attacked, images, &truth, &SampleKeys::sequential(0, batch))
                    .unwrap()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
            }),
            // Samples are independent, so each image can carry its own target.
            None => (0..batch)
                .flat_map(|i| {
                    (case.attack)(Goal::Class((labels[i] + 1) % 3))
                        .perturb(
                            &attacked,
                            image(&clean, i, &device),
                            &truth[i..=i],
                            &SampleKeys::sequential(0, 1),
                        )
                        .unwrap()
                        .into_data()
                        .try_to_vec::<f32>()
                        .unwrap()
                })
                .collect(),
        };
        for i in case.robust.iter().chain(&case.fragile).copied() {
            let ours = &adversarial[i * PLANE..(i + 1) * PLANE];
            let theirs = &expected[i * PLANE..(i + 1) * PLANE];
            let original = &clean[i * PLANE..(i + 1) * PLANE];
            let delta: Vec<f32> = ours.iter().zip(original).map(|(a, c)| a - c).collect();
            let size = match case.norm {
                Norm::Linf => delta.iter().fold(0.0f32, |m, d| m.max(d.abs())),
                Norm::L2 => delta.iter().map(|d| d * d).sum::<f32>().sqrt(),
            };
            assert!(
                size <= case.eps * (1.0 + 1e-5),
                "{} image {i}: |δ| {size}",
                case.name
            );
            assert!(ours.iter().all(|p| (0.0..=1.0).contains(p)));
            if case.robust.contains(&i) {
                let diff = ours
                    .iter()
                    .zip(theirs)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                eprintln!(
                    "{} image {i}: max |ours - torchattacks| = {diff:.2e}",
                    case.name
                );
                assert!(
                    diff <= case.tolerance,
                    "{} image {i}: differs from torchattacks by {diff} (allowed {})",
                    case.name,
                    case.tolerance
                );
            }
        }
    }
}

/// A golden file's f32 tensors by name.
fn golden_tensors(file: &str) -> HashMap<String, Vec<f32>> {
    let bytes = std::fs::read(fixtures("attacks").join(file)).unwrap();
    read_safetensors(&bytes, file)
        .unwrap()
        .into_iter()
        .filter(|t| t.dtype == burn::tensor::DType::F32)
        .map(|t| {
            let values = t
                .to_bytes()
                .unwrap()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            (t.name.clone(), values)
        })
        .collect()
}

/// APGD-CE from torchattacks' own start point (`make_apgd_golden.py` saves it): the
/// highest-loss point, the last fooling point, the best loss, which images were fooled and the
/// step size of every iteration match torchattacks on the images whose run does not hinge on
/// f32 rounding; on the fragile ones, the budget and the pixel range hold. The N = 100 case is
/// AutoAttack's own budget: its step-size history checks the checkpoint schedule (after
/// iterations 21, 40, 56, 69, 79, 86, 92, 98) through the real loop.
#[test]
fn apgd_matches_torchattacks_from_the_same_start() {
    let device = Device::flex();
    let attacked = AttackedModel::new(&model(&device), &device);
    let golden = golden_tensors("apgd_golden.safetensors");
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures("attacks").join("apgd_golden.json")).unwrap(),
    )
    .unwrap();
    let labels: Vec<Label> = labels(&index).into_iter().map(Label::Class).collect();
    let batch = labels.len();
    assert!(
        batch >= 8,
        "a golden batch of {batch} never takes the two-thread path"
    );
    let clean = input(batch);
    let x = Tensor::<4>::from_data(TensorData::new(clean.clone(), [batch, 3, 64, 64]), &device);
    let cases = index["cases"].as_array().unwrap();
    assert!(
        cases.iter().any(|c| c["settings"]["steps"] == 100),
        "no case at AutoAttack's N = 100"
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let images = |key: &str| -> Vec<usize> {
            case[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect()
        };
        let (robust, fragile) = (images("robust_images"), images("fragile_images"));
        let (norm, eps) = match case["settings"]["norm"].as_str().unwrap() {
            "Linf" => (Norm::Linf, 8.0 / 255.0),
            _ => (Norm::L2, 0.5),
        };
        let apgd = AutoProjectedGradientDescent {
            budget: Budget {
                norm,
                eps,
                convention: Convention::Pixel,
            },
            ..AutoProjectedGradientDescent::linf(
                eps,
                case["settings"]["steps"].as_u64().unwrap() as usize,
            )
        };
        let start = &golden[&format!("{name}.start")];
        let start =
            Tensor::<4>::from_data(TensorData::new(start.clone(), [batch, 3, 64, 64]), &device);
        let objective = apgd.objective(&attacked, &labels).unwrap();
        let outcome = on_two_threads(|| {
            apgd.run_from(&attacked, x.clone(), &objective, start)
                .unwrap()
        });
        let steps = apgd.steps;
        assert_eq!(outcome.step_sizes.dims(), [steps, batch]);
        let step_sizes: Vec<f32> = outcome.step_sizes.clone().into_data().try_to_vec().unwrap();
        let expected_step_sizes = &golden[&format!("{name}.step_size")];
        let read = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        let best_loss_point = read(outcome.best_loss_point.clone());
        let best_adv = read(outcome.best_adversarial.clone());
        let best_loss: Vec<f32> = outcome
            .best_loss
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let fooled: Vec<bool> = outcome
            .fooled
            .clone()
            .into_data()
            .try_to_vec::<bool>()
            .unwrap();
        let expected_acc: Vec<f64> = case["acc"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let expected_loss = &golden[&format!("{name}.loss_best")];
        for i in robust.iter().chain(&fragile).copied() {
            let plane = i * PLANE..(i + 1) * PLANE;
            for ours in [&best_loss_point[plane.clone()], &best_adv[plane.clone()]] {
                assert!(ours.iter().all(|p| (0.0..=1.0).contains(p)), "{name} {i}");
                let delta: Vec<f32> = ours
                    .iter()
                    .zip(&clean[plane.clone()])
                    .map(|(a, c)| a - c)
                    .collect();
                let size = match norm {
                    Norm::Linf => delta.iter().fold(0.0f32, |m, d| m.max(d.abs())),
                    Norm::L2 => delta.iter().map(|d| d * d).sum::<f32>().sqrt(),
                };
                assert!(size <= eps * (1.0 + 1e-5), "{name} image {i}: |δ| {size}");
            }
            assert_eq!(
                fooled[i],
                expected_acc[i] == 0.0,
                "{name} image {i}: fooled"
            );
            if robust.contains(&i) {
                for (ours, key) in [
                    (&best_loss_point, "best_loss_point"),
                    (&best_adv, "best_adv"),
                ] {
                    let theirs = &golden[&format!("{name}.{key}")][plane.clone()];
                    let diff = ours[plane.clone()]
                        .iter()
                        .zip(theirs)
                        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                    assert!(
                        diff <= PIXEL_TOLERANCE,
                        "{name} image {i} {key}: max |Δ| {diff}"
                    );
                }
                // η is 2ε halved at checkpoints: exact in f32, so compared exactly.
                let history = |all: &[f32]| -> Vec<f32> {
                    (0..steps).map(|step| all[step * batch + i]).collect()
                };
                assert_eq!(
                    history(&step_sizes),
                    history(expected_step_sizes),
                    "{name} image {i}: step size per iteration"
                );
                let relative =
                    (best_loss[i] - expected_loss[i]).abs() / expected_loss[i].abs().max(1e-3);
                assert!(
                    relative < 1e-4,
                    "{name} image {i}: loss {} vs {}",
                    best_loss[i],
                    expected_loss[i]
                );
            }
        }
    }
}
