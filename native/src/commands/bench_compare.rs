//! `robustdx bench compare`: robustdx's PGD-10, APGD-CE, PGD adversarial-training step and
//! AutoAttack, and
//! PyTorch + torchattacks' on the same models,
//! sizes, batch and threads, in one run on one machine, with their ratio. The PyTorch side is
//! `tests/fixtures/attacks/speed_torchattacks.py`; where torchattacks cannot be imported, the
//! table has robustdx's side and says how to get the other. A benchmark: it asserts nothing.

use std::path::PathBuf;
use std::process::Command;

use clap::Args;
use serde::Deserialize;

use burn::Tensor;
use burn::tensor::{Device, TensorData};
use robustdx_core::Label;
use robustdx_core::attack::{
    AttackSpec, AttackedModel, AutoAttack, AutoProjectedGradientDescent, ProjectedGradientDescent,
    SampleKeys,
};
use robustdx_core::defense::PgdAdversarialTraining;
use robustdx_core::model::{ImportOptions, import_torch, read_safetensors};

use crate::speed::{
    LARGE_MODELS, SPEED_MODELS, attack_seconds, bench_device, pgd_seconds, train_step_seconds,
};

#[derive(Debug, Args)]
pub struct BenchCompareArgs {
    /// cpu and/or wgpu (PyTorch runs where --torch-device says)
    #[arg(long, value_delimiter = ',', default_value = "cpu")]
    backends: Vec<String>,
    /// Timed PGD-10 runs after one warm-up (PyTorch's side: 3)
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The Python that has torch and torchattacks
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// Also ResNet-18 and DenseNet-121 at full width, 224 px, batch 8 (minutes on a CPU)
    #[arg(long)]
    large: bool,
    /// Where PyTorch runs: cpu, or cuda on a GPU machine (bench/gpu.sh)
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda"])]
    torch_device: String,
    /// Batch of the 224-px models (--large)
    #[arg(long, default_value_t = 8, value_parser = crate::data_args::positive)]
    large_batch: usize,
    /// The script timing PyTorch (run from the repository root, the default finds it)
    #[arg(long, default_value = "tests/fixtures/attacks/speed_torchattacks.py")]
    script: PathBuf,
    /// Time robustdx with burn's own convolution ops instead of ours (cpu-kernels): the
    /// "before" of a before / after comparison, in the same program
    #[arg(long)]
    burn_conv: bool,
}

/// The script's `--json` line.
#[derive(Debug, Deserialize)]
struct TorchTimes {
    torch: String,
    torchattacks: String,
    threads: usize,
    batch: usize,
    #[serde(default = "cpu")]
    device: String,
    /// The GPU's name, when `device` is cuda.
    #[serde(default)]
    gpu: Option<String>,
    rows: Vec<TorchRow>,
}

fn cpu() -> String {
    "cpu".into()
}

#[derive(Debug, Deserialize)]
struct TorchRow {
    model: String,
    /// What was timed, by the registry name of the attack or defense ([`Timed::name`]); PGD when
    /// absent.
    #[serde(default = "pgd")]
    attack: String,
    images_per_s: f64,
    /// AutoAttack's row: the images left standing.
    #[serde(default)]
    robust: Option<usize>,
}

fn pgd() -> String {
    ProjectedGradientDescent::NAME.into()
}

/// What a row of the table times.
#[derive(Debug, Clone, Copy)]
enum Timed {
    /// PGD-10.
    Pgd,
    /// APGD-CE, 10 iterations (torchattacks' default).
    Apgd,
    /// One PGD adversarial-training step: PGD-10 and an SGD step on its images.
    PgdAtStep,
}

impl Timed {
    /// The registry name the PyTorch side's rows use.
    fn name(self) -> &'static str {
        match self {
            Timed::Pgd => ProjectedGradientDescent::NAME,
            Timed::Apgd => AutoProjectedGradientDescent::NAME,
            Timed::PgdAtStep => PgdAdversarialTraining::NAME,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Timed::Pgd => "PGD-10",
            Timed::Apgd => "APGD-CE-10",
            Timed::PgdAtStep => "PGD-AT step (PGD-10 + SGD)",
        }
    }
}

/// PyTorch's side, or why there is none.
fn torch_times(args: &BenchCompareArgs, threads: usize) -> Result<TorchTimes, String> {
    let (python, script) = (args.python.as_path(), args.script.as_path());
    let importable = Command::new(python)
        .args(["-c", "import torch, torchattacks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !importable {
        return Err(format!(
            "{} cannot import torch and torchattacks: python3 -m venv v && v/bin/pip install torch torchattacks, then --python v/bin/python",
            python.display()
        ));
    }
    if !script.exists() {
        return Err(format!(
            "{}: no such script (run from the repository root or pass --script)",
            script.display()
        ));
    }
    let out = Command::new(python)
        .arg(script)
        .arg("--json")
        .args(args.large.then_some("--large"))
        .args(["--device", &args.torch_device])
        .args(["--large-batch", &args.large_batch.to_string()])
        .env("ROBUSTDX_THREADS", threads.to_string())
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .map_err(|e| format!("{}: unreadable output ({e}): {line}", script.display()))
}

pub fn run(args: BenchCompareArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.runs > 0, "--runs must be positive");
    robustdx_cpu_kernels::set_enabled(!args.burn_conv);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // PyTorch first: robustdx's timing then runs on a quiet machine too.
    let torch = torch_times(&args, threads);
    let batch = torch.as_ref().map_or(32, |t| t.batch);
    match &torch {
        Ok(t) => println!(
            "PGD-10 (L∞, ε 8/255, step 2/255, random start), {} threads; PyTorch {} + torchattacks {} on {}",
            threads,
            t.torch,
            t.torchattacks,
            match &t.gpu {
                Some(gpu) => format!("{} ({gpu})", t.device),
                None => format!("{} threads of the CPU", t.threads),
            }
        ),
        Err(why) => println!("PGD-10; no PyTorch side: {why}"),
    }
    if args.burn_conv {
        println!("robustdx with burn's own convolution ops (--burn-conv), not cpu-kernels");
    }
    // Devices first: their notes go to stderr before the table starts.
    let mut devices = Vec::new();
    for backend in &args.backends {
        if let Some(device) = bench_device(backend)? {
            devices.push((backend, device));
        }
    }
    println!(
        "\n| attack | model | backend | robustdx img/s | PyTorch img/s | ratio |\n|---|---|---|---|---|---|"
    );
    // PGD-10, APGD-CE (10 iterations, torchattacks' default) and the PGD-AT step on the 64-px
    // models; PGD-10 and the PGD-AT step on the large ones.
    let small = SPEED_MODELS.map(|(name, width)| (name, width, 64, batch));
    let large = LARGE_MODELS.map(|(name, width)| (name, width, 224, args.large_batch));
    let mut rows: Vec<_> = small.iter().map(|&m| (Timed::Pgd, m)).collect();
    rows.extend(small.iter().map(|&m| (Timed::Apgd, m)));
    rows.extend(small.iter().map(|&m| (Timed::PgdAtStep, m)));
    if args.large {
        rows.extend(large.iter().map(|&m| (Timed::Pgd, m)));
        rows.extend(large.iter().map(|&m| (Timed::PgdAtStep, m)));
    }
    let apgd = AutoProjectedGradientDescent::linf(8.0 / 255.0, 10);
    for (backend, device) in devices {
        for &(attack, (name, width, size, batch)) in &rows {
            let model = (name, width, size);
            let seconds = match attack {
                Timed::Pgd => pgd_seconds(&device, model, batch, args.runs)?,
                Timed::Apgd => attack_seconds(&device, model, batch, args.runs, &apgd)?,
                Timed::PgdAtStep => train_step_seconds(&device, model, batch, args.runs)?,
            };
            let ours = batch as f64 / seconds;
            let theirs = torch
                .as_ref()
                .ok()
                .and_then(|t| {
                    t.rows
                        .iter()
                        .find(|r| r.model == name && r.attack == attack.name())
                })
                .map(|r| r.images_per_s);
            println!(
                "| {} | {name} (width {width}, {size} px, batch {batch}) | {backend} | {ours:.2} | {} | {} |",
                attack.label(),
                theirs.map_or("–".into(), |t| format!("{t:.2}")),
                theirs.map_or("–".into(), |t| format!("{:.2}", ours / t)),
            );
        }
        autoattack_row(&args, backend, &device, torch.as_ref().ok())?;
    }
    Ok(())
}

/// AutoAttack (as torchattacks runs it) on the golden's 10-class ResNet-18 and 32 photo crops
/// (`tests/fixtures/attacks/make_autoattack_golden.py`), one run on each side: images/s, and the
/// images left standing, which should agree within about one image (the members draw different
/// random numbers on each side).
fn autoattack_row(
    args: &BenchCompareArgs,
    backend: &str,
    device: &Device,
    torch: Option<&TorchTimes>,
) -> anyhow::Result<()> {
    // The golden sits next to the PyTorch script.
    let dir = args.script.parent().unwrap_or(std::path::Path::new("."));
    let index = dir.join("autoattack_golden.json");
    let Ok(text) = std::fs::read_to_string(&index) else {
        println!(
            "| AutoAttack | – | {backend} | – | – | – |\n(no AutoAttack row: {} not found; run from the repository root or pass --script)",
            index.display()
        );
        return Ok(());
    };
    let golden: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", index.display()))?;
    let eps = golden["eps_255"].as_f64().unwrap_or(1.0) as f32;
    let bytes = |file: &str| {
        std::fs::read(dir.join(file))
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join(file).display()))
    };
    let options = ImportOptions {
        input_size: Some(64),
        ..Default::default()
    };
    let weights = read_safetensors(&bytes("resnet-18-10.safetensors")?, "resnet-18-10")?;
    let model = import_torch("resnet-18", weights, "resnet-18-10", &options, device)?.model;
    let file = "autoattack_golden.safetensors";
    let tensors = read_safetensors(&bytes(file)?, file)?;
    // Little-endian words of the tensor `name`: its f32 images or i64 labels.
    let words = |name: &str, width: usize| -> anyhow::Result<Vec<Vec<u8>>> {
        let tensor = (tensors.iter().find(|t| t.name == name))
            .ok_or_else(|| anyhow::anyhow!("{file} has no {name}"))?;
        let raw = tensor
            .to_bytes()
            .map_err(|e| anyhow::anyhow!("{file}: {name}: {e:?}"))?;
        Ok(raw.chunks_exact(width).map(<[u8]>::to_vec).collect())
    };
    let labels: Vec<Label> = words("labels", 8)?
        .into_iter()
        .map(|w| Label::Class(i64::from_le_bytes(w.try_into().expect("8 bytes")) as usize))
        .collect();
    let pixels: Vec<f32> = words("images", 4)?
        .into_iter()
        .map(|w| f32::from_le_bytes(w.try_into().expect("4 bytes")))
        .collect();
    let batch = labels.len();
    anyhow::ensure!(
        pixels.len() == batch * 3 * 64 * 64,
        "{file}: images do not match the labels"
    );
    let images = Tensor::<4>::from_data(TensorData::new(pixels, [batch, 3, 64, 64]), device);
    // torchattacks' AutoAttack runs APGD, APGD-T and FAB at its default of 10 iterations: the
    // same work on both sides.
    let settings = serde_json::json!({
        "version": "custom",
        "attacks": "apgd:steps=10,apgd-t:steps=10,fab-t:steps=10,square",
    });
    let settings = settings.as_object().cloned().unwrap_or_default();
    let spec = AttackSpec::untargeted_linf(AutoAttack::NAME, eps, &settings)?;
    let suite = spec.build(&Default::default())?;
    let attacked = AttackedModel::new(&model, device);
    let start = std::time::Instant::now();
    let adversarial = suite.perturb(
        &attacked,
        images,
        &labels,
        &SampleKeys::sequential(0, batch),
    )?;
    let decided: Vec<i64> = attacked
        .logits(adversarial)
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .collect();
    let seconds = start.elapsed().as_secs_f64();
    let robust = decided
        .iter()
        .zip(&labels)
        .filter(|(d, l)| l.class() == Some(**d as usize))
        .count();
    let theirs = torch.and_then(|t| t.rows.iter().find(|r| r.attack == AutoAttack::NAME));
    let ours = batch as f64 / seconds;
    println!(
        "| AutoAttack (torchattacks' settings: 10 iterations, Square 5 000 queries; ε {eps}/255; robust: robustdx {robust}, torchattacks {}) | ResNet-18 10-class fixture (width 4, 64 px, {batch} photo crops) | {backend} | {ours:.2} | {} | {} |",
        theirs
            .and_then(|t| t.robust)
            .map_or("–".into(), |r| r.to_string()),
        theirs.map_or("–".into(), |t| format!("{:.2}", t.images_per_s)),
        theirs.map_or("–".into(), |t| format!("{:.2}", ours / t.images_per_s)),
    );
    Ok(())
}
