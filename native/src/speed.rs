//! Timing for the `bench` commands: fresh seeded models, random images, and the median seconds of
//! a training step, a PGD-10 batch or any attack, per device.

use std::time::Instant;

use burn::Tensor;
use burn::tensor::{Device, Distribution};
use robustdx_core::attack::{Attack, AttackedModel, ProjectedGradientDescent, SampleKeys};
use robustdx_core::data::{Dataset, DatasetInfo, Image, Sample};
use robustdx_core::defense::{DefenseSpec, PgdAdversarialTraining};
use robustdx_core::model::{
    ArchitectureConfig, Classifier, DiagnosticModel, InputSpec, ModelCard, ModelOptions,
};
use robustdx_core::train::{OptimizerKind, TrainConfig, Trainer, TrainingRecipe};
use robustdx_core::{Label, TaskKind, task};

use crate::backend::{self, BackendChoice};

/// The device named `cpu` or `wgpu`; `None` (with a note) when wgpu has no adapter here.
pub fn bench_device(name: &str) -> anyhow::Result<Option<Device>> {
    let choice = match name {
        "cpu" => BackendChoice::Cpu,
        "wgpu" => BackendChoice::Wgpu,
        other => anyhow::bail!("unknown backend '{other}' (cpu, wgpu)"),
    };
    Ok(backend::select(choice)
        .map_err(|e| eprintln!("skipping {name}: {e:#}"))
        .ok())
}

/// A fresh 3-channel, 2-class model of `name` at `width` taking `size` pixels.
pub fn model(
    name: &str,
    width: usize,
    size: usize,
    device: &Device,
) -> anyhow::Result<DiagnosticModel> {
    let options = ModelOptions {
        channels: 3,
        classes: 2,
        width: Some(width),
        input_size: size,
    };
    let architecture = ArchitectureConfig::from_name(name, &options)?;
    architecture.check_input_size(size)?;
    let card = ModelCard {
        architecture,
        input: InputSpec::with_default_stats(3, size),
        task: TaskKind::Binary,
        class_names: vec!["a".into(), "b".into()],
        training: None,
    };
    Ok(DiagnosticModel::from_card(card, device))
}

/// Seconds per forward + backward step (weights and input both take gradients, as in
/// adversarial training), the median of `steps` after a warm-up.
pub fn time_step(
    model: &DiagnosticModel,
    batch: usize,
    steps: usize,
    device: &Device,
) -> anyhow::Result<f64> {
    let trainable = model.trainable(device);
    let ad = device.clone().autodiff();
    let input = &model.card.input;
    let labels = vec![Label::Class(1); batch];
    let targets = task::targets_tensor(&labels, model.card.task, 2, &ad)?;
    let shape = [batch, input.channels, input.height, input.width];
    // Drawn before timing: each step gets its own input, and the draw is not timed.
    let inputs: Vec<Tensor<4>> = (0..=steps)
        .map(|_| Tensor::random(shape, Distribution::Uniform(0.0, 1.0), &ad))
        .collect();
    median_seconds(steps, |step| {
        let x = inputs[step].clone().require_grad();
        let loss = task::loss(
            model.card.task,
            trainable.logits(x.clone()),
            targets.clone(),
        );
        let grads = loss.backward();
        // Reading a value waits for the device to finish the step.
        let grad = x.grad(&grads).expect("the input takes gradients");
        let _: f32 = grad.sum().into_scalar();
        Ok(())
    })
}

/// Median seconds of `run(i)` over calls 1 to `runs`, after the warm-up call 0.
fn median_seconds(
    runs: usize,
    mut run: impl FnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(runs);
    for i in 0..=runs {
        let start = Instant::now();
        run(i)?;
        if i > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// The models `bench speed` and `bench compare` time, as `speed_torchattacks.py` builds them:
/// (architecture, width), 64 px, 3 channels, 2 classes.
pub const SPEED_MODELS: [(&str, usize); 2] = [("small-cnn", 32), ("attn-vgg", 8)];

/// The full-size networks `bench compare --large` times: (architecture, width), 224 px, batch 8.
pub const LARGE_MODELS: [(&str, usize); 4] = [
    ("resnet-18", 64),
    ("densenet-121", 64),
    ("resnet-50", 64),
    ("vit-b-16", 768),
];

/// Median seconds of one PGD-10 batch (L∞, ε 8/255, step 2/255, random start) of `batch`
/// uniform random `size`-px images on a fresh seeded `name` of `width`, over `runs` timed runs
/// after one warm-up.
pub fn pgd_seconds(
    device: &Device,
    model: (&str, usize, usize),
    batch: usize,
    runs: usize,
) -> anyhow::Result<f64> {
    let pgd = ProjectedGradientDescent {
        step_size: 2.0 / 255.0,
        ..ProjectedGradientDescent::linf(8.0 / 255.0, 10)
    };
    attack_seconds(device, model, batch, runs, &pgd)
}

/// Median seconds of one `attack` batch, as [`pgd_seconds`] times PGD-10.
pub fn attack_seconds(
    device: &Device,
    (name, width, size): (&str, usize, usize),
    batch: usize,
    runs: usize,
    attack: &dyn Attack,
) -> anyhow::Result<f64> {
    device.seed(0);
    let model = model(name, width, size, device)?;
    let attacked = AttackedModel::new(&model, device);
    let labels = vec![Label::Class(1); batch];
    let images = Tensor::<4>::random(
        [batch, 3, size, size],
        Distribution::Uniform(0.0, 1.0),
        device,
    );
    median_seconds(runs, |_| {
        let keys = SampleKeys::sequential(0, labels.len());
        let adversarial = attack.perturb(&attacked, images.clone(), &labels, &keys)?;
        // Reading a value waits for the device.
        let _: f32 = adversarial.sum().into_scalar();
        Ok(())
    })
}

/// `batch` fixed uniform random images, labels alternating 0, 1: what a training step is timed
/// on (no decoding, as PyTorch's side has none).
struct RandomImages {
    info: DatasetInfo,
    samples: Vec<Sample>,
}

impl RandomImages {
    fn new(batch: usize, size: usize, device: &Device) -> anyhow::Result<Self> {
        let pixels = 3 * size * size;
        let values: Vec<f32> =
            Tensor::<2>::random([batch, pixels], Distribution::Uniform(0.0, 1.0), device)
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let samples = values
            .chunks(pixels)
            .enumerate()
            .map(|(i, pixels)| Sample {
                image: Image::new(3, size, size, pixels.to_vec()),
                label: Label::Class(i % 2),
            })
            .collect();
        Ok(Self {
            info: DatasetInfo {
                name: format!("random:{batch}x{size}"),
                task: TaskKind::Binary,
                class_names: vec!["a".into(), "b".into()],
                channels: 3,
            },
            samples,
        })
    }
}

impl Dataset for RandomImages {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn len(&self) -> usize {
        self.samples.len()
    }

    fn get(&self, index: usize) -> robustdx_core::Result<Sample> {
        Ok(self.samples[index].clone())
    }
}

/// Median seconds of one PGD adversarial-training step (`speed_torchattacks.py`'s `pgd-at` row):
/// PGD-10 (L∞, ε 8/255, step 2/255, random start) on the batch, then one SGD step (lr 0.01,
/// momentum 0.9) on the adversarial batch, through the trainer `robustdx train --defense pgd-at`
/// runs. One epoch of one batch per run, after one warm-up.
pub fn train_step_seconds(
    device: &Device,
    (name, width, size): (&str, usize, usize),
    batch: usize,
    runs: usize,
) -> anyhow::Result<f64> {
    device.seed(0);
    let model = model(name, width, size, device)?;
    let settings = serde_json::json!({"eps": 8.0, "steps": 10, "step_size": 2.0});
    let config = TrainConfig {
        epochs: runs + 1,
        batch_size: batch,
        learning_rate: 0.01,
        optimizer: OptimizerKind::Sgd,
        recipe: TrainingRecipe {
            defense: DefenseSpec::new(
                PgdAdversarialTraining::NAME,
                settings.as_object().expect("an object"),
            )?,
            ..TrainingRecipe::default()
        },
        ..TrainConfig::default()
    };
    let data = RandomImages::new(batch, size, device)?;
    let mut trainer = Trainer::new(model, config, &data.info.name, device)?;
    median_seconds(runs, |_| {
        // The epoch ends with a read of its loss: the step has finished.
        trainer.train_epoch(&data, &mut |_| {})?;
        Ok(())
    })
}
