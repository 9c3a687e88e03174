//! Data parallelism on the devices of one machine: each batch cut into parts, one per device;
//! each part's forward and backward (the defense's inner attack included, it is per image) on a
//! replica of the model, on a thread of its own; the parts' gradients moved to the first device
//! and summed, each weighted by its share of the batch, for one optimiser step there. This is
//! burn-train's multi-device strategy (`GradientsParams::to_device`, `GradientsAccumulator`) in
//! our own loop, which runs the defenses and runs in the browser, where burn-train does not.
//!
//! Every random draw is keyed by image (`SampleKeys`) or by batch, so a part draws what its images
//! drew in the whole batch: without batch norm a step equals the one-device step up to the order
//! of float sums. Batch norm normalises each part by the part's own statistics (as PyTorch's DDP
//! without SyncBatchNorm), and the running statistics become the mean of the parts'.

use std::ops::Range;

use burn::Tensor;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Device;
use burn::tensor::container::TensorContainer;

use crate::Result;
use crate::attack::SampleKeys;
use crate::defense::{DefenseSpec, TrainingBatch};
use crate::model::{DiagnosticModel, Network};

/// The rows of each part when a batch of `rows` images is cut over `devices` replicas: as equal
/// as can be, the first `rows % parts` one image larger. A batch smaller than the number of
/// devices (an epoch's last) is cut into one-image parts and leaves the other devices idle.
pub(super) fn part_rows(rows: usize, devices: usize) -> Vec<Range<usize>> {
    let parts = devices.min(rows).max(1);
    let (size, larger) = (rows / parts, rows % parts);
    let mut start = 0;
    (0..parts)
        .map(|part| {
            let end = start + size + usize::from(part < larger);
            let range = start..end;
            start = end;
            range
        })
        .collect()
}

/// What one data-parallel step gives the optimiser.
pub(super) struct Step {
    /// The batch's mean loss, without autodiff, on the first device.
    pub loss: Tensor<1>,
    /// Its gradients, on the first device.
    pub grads: GradientsParams,
    /// The parts' mean batch-norm running statistics, for the trained model.
    pub statistics: RunningStatistics,
}

/// One part's results, on its own device.
struct Part {
    /// Its mean loss times its share of the batch.
    loss: Tensor<1>,
    grads: GradientsParams,
    replica: DiagnosticModel,
}

/// The gradients of `batch`'s loss under `defense`, from replicas of `batch.model` on
/// `devices` (the first is `batch.device`), each part of the batch on its own thread.
pub(super) fn step(
    batch: &TrainingBatch,
    defense: &DefenseSpec,
    devices: &[Device],
) -> Result<Step> {
    let rows = batch.labels.len();
    // A replica per part, made here, one after another: each gets its own autodiff leaves and
    // running statistics (burn's `RunningState` is shared between clones of a module and keyed
    // by thread, which would make the statistics depend on the order the threads run in).
    let jobs: Vec<_> = part_rows(rows, devices.len())
        .into_iter()
        .zip(devices)
        .map(|(range, device)| (range, device, batch.model.valid().trainable(device)))
        .collect();
    // The shared pieces of the batch (`TrainingBatch` itself holds a cell and stays here).
    let (images, targets, labels, keys) = (&batch.images, &batch.targets, batch.labels, batch.keys);
    let (batch_key, loss) = (batch.batch_key, batch.loss);
    let run = |(range, device, replica): (Range<usize>, &Device, DiagnosticModel)| {
        let share = range.len() as f32 / rows as f32;
        let (start, len) = (range.start, range.len());
        let keys = SampleKeys::new(keys.seed, keys.indices[range.clone()].to_vec());
        let part = TrainingBatch {
            model: &replica,
            device,
            images: images.clone().narrow(0, start, len).to_device(device),
            targets: targets.clone().narrow(0, start, len).to_device(device),
            labels: &labels[range],
            keys: &keys,
            batch_key,
            loss,
            attacked: Default::default(),
        };
        let loss = defense.build()?.loss(&part)?.mul_scalar(share);
        let grads = GradientsParams::from_grads(loss.backward(), &replica.network);
        Ok(Part {
            loss: loss.detach().without_autodiff(),
            grads,
            replica,
        })
    };
    let parts = each_on_its_own_thread(jobs, run)
        .into_iter()
        .collect::<Result<Vec<_>>>()?;

    let (main, network) = (batch.device, &batch.model.network);
    let mut accumulator = GradientsAccumulator::new();
    let mut loss = Tensor::<1>::zeros([1], main);
    let mut statistics = RunningStatistics::of(network);
    for part in parts {
        accumulator.accumulate(network, part.grads.to_device(main, &part.replica.network));
        loss = loss + part.loss.to_device(main);
        statistics.add(&part.replica, main);
    }
    Ok(Step {
        loss,
        grads: accumulator.grads(),
        statistics,
    })
}

/// `run` on each job, in order, each on a thread of its own where threads exist (native), one
/// after another otherwise (the browser's core): the same numbers either way.
fn each_on_its_own_thread<J: Send, T: Send>(jobs: Vec<J>, run: impl Fn(J) -> T + Sync) -> Vec<T> {
    #[cfg(feature = "parallel")]
    {
        std::thread::scope(|scope| {
            let run = &run;
            let threads: Vec<_> = jobs
                .into_iter()
                .map(|job| scope.spawn(move || run(job)))
                .collect();
            threads
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }
    #[cfg(not(feature = "parallel"))]
    jobs.into_iter().map(run).collect()
}

/// The sums of the replicas' running statistics (batch norm's mean and variance: the model's
/// float tensors that take no gradient), on the first device, and how many replicas they sum.
pub(super) struct RunningStatistics {
    ids: Vec<ParamId>,
    sums: TensorContainer<ParamId>,
    replicas: usize,
}

impl RunningStatistics {
    /// None yet, for the running statistics of `network` (on the autodiff device, in training).
    fn of(network: &Network) -> Self {
        let mut untrained = Untrained(Vec::new());
        network.visit(&mut untrained);
        Self {
            ids: untrained.0,
            sums: TensorContainer::new(),
            replicas: 0,
        }
    }

    /// Adds `replica`'s statistics as its part left them.
    fn add(&mut self, replica: &DiagnosticModel, device: &Device) {
        self.replicas += 1;
        if self.ids.is_empty() {
            return;
        }
        // `valid` settles what the part's thread wrote into the statistics.
        replica.network.valid().visit(&mut Summing {
            statistics: self,
            device,
        });
    }

    /// `network` with the replicas' mean statistics. burn's running statistics live behind a
    /// shared handle: every clone of `network` gets them too.
    pub(super) fn apply(self, network: Network) -> Network {
        match self.ids.is_empty() {
            true => network,
            false => network.map(&mut Averaging(self)),
        }
    }
}

/// Collects the ids of the float tensors that take no gradient: running statistics.
struct Untrained(Vec<ParamId>);

impl ModuleVisitor for Untrained {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !param.val().is_require_grad() {
            self.0.push(param.id);
        }
    }
}

/// Adds a replica's statistics to the sums.
struct Summing<'a> {
    statistics: &'a mut RunningStatistics,
    device: &'a Device,
}

impl ModuleVisitor for Summing<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.statistics.ids.contains(&param.id) {
            return;
        }
        let value = param.val().to_device(self.device);
        let sums = &mut self.statistics.sums;
        let sum = match sums.remove::<Tensor<D>>(&param.id) {
            Some(sum) => sum + value,
            None => value,
        };
        sums.register(param.id, sum);
    }
}

/// Replaces each running statistic by the replicas' mean.
struct Averaging(RunningStatistics);

impl ModuleMapper for Averaging {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        match self.0.sums.remove::<Tensor<D>>(&param.id) {
            Some(sum) => {
                let mean = sum.div_scalar(self.0.replicas as f32).autodiff();
                Param::initialized(param.id, mean)
            }
            None => param,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::data::{Dataset, batch_targets};
    use crate::defense::PgdAdversarialTraining;
    use crate::model::{Architecture, ConvNeXtTinyArchitecture};
    use crate::test_support::{LeftRight, cpu, rng_lock, seeded_small_cnn};
    use crate::train::{EpochStats, OptimizerKind, TrainConfig, Trainer, TrainingRecipe};

    /// Every float of a module (weights and running statistics), in visiting order.
    struct Floats(Vec<f32>);

    impl ModuleVisitor for Floats {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .extend(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }

    fn floats(model: &DiagnosticModel) -> Vec<f32> {
        let mut floats = Floats(Vec::new());
        model.network.visit(&mut floats);
        floats.0
    }

    fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// A ConvNeXt (layer norm, no batch norm) at width 4 for 32-pixel images, the same weights
    /// every call.
    fn convnext(data: &LeftRight) -> DiagnosticModel {
        let _rng = rng_lock();
        let device = cpu();
        device.seed(7);
        let name = ConvNeXtTinyArchitecture::INFO.name;
        DiagnosticModel::create(name, &data.info, data.size, Some(4), &device).unwrap()
    }

    /// One epoch of `model` on `data` with `devices` replicas sharing the CPU: its floats after,
    /// and the epoch's stats. SGD, whose step is linear in the gradient (Adam's m/√v would
    /// magnify float noise in near-zero gradients to whole steps).
    fn one_epoch(
        model: DiagnosticModel,
        data: &LeftRight,
        batch_size: usize,
        devices: usize,
        defense: DefenseSpec,
    ) -> (Vec<f32>, EpochStats) {
        let config = TrainConfig {
            epochs: 1,
            batch_size,
            learning_rate: 0.05,
            optimizer: OptimizerKind::Sgd,
            recipe: TrainingRecipe {
                defense,
                devices,
                ..TrainingRecipe::default()
            },
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(model, config, &data.info.name, &cpu()).unwrap();
        let stats = trainer.train_epoch(data, &mut |_| {}).unwrap();
        let model = trainer.finish(data.len());
        assert_eq!(
            model.card.training.as_ref().unwrap().recipe.devices,
            devices
        );
        (floats(&model), stats)
    }

    /// `devices` replicas train as one device on the same global batches: the same weights to
    /// float rounding, the same loss, and weights that did move.
    fn assert_as_one_device(
        data: &LeftRight,
        batch_size: usize,
        devices: usize,
        defense: DefenseSpec,
    ) {
        let before = floats(&convnext(data));
        let (one, one_stats) = one_epoch(convnext(data), data, batch_size, 1, defense.clone());
        let (many, many_stats) = one_epoch(convnext(data), data, batch_size, devices, defense);
        let what = format!("{devices} devices, batches of {batch_size}");
        assert!(
            largest_difference(&before, &one) > 1e-3,
            "{what}: no training"
        );
        let difference = largest_difference(&one, &many);
        assert!(difference < 2e-6, "{what}: weights differ by {difference}");
        assert_eq!(one_stats.samples, many_stats.samples);
        let (a, b) = (one_stats.mean_loss, many_stats.mean_loss);
        assert!(
            (a - b).abs() < 1e-6 * a.abs().max(1.0),
            "{what}: loss {a} vs {b}"
        );
    }

    #[test]
    fn two_devices_train_as_one_on_the_same_global_batch() {
        let data = LeftRight::new(16, 32);
        assert_as_one_device(&data, 8, 2, DefenseSpec::default());
    }

    /// PGD-AT's inner attack starts each image from its own keyed draw: a part draws what the
    /// image drew in the whole batch.
    #[test]
    fn two_devices_train_pgd_at_as_one() {
        let data = LeftRight::new(16, 32);
        let settings = json!({"eps": 8.0, "steps": 2});
        let pgd_at = DefenseSpec::new(PgdAdversarialTraining::NAME, settings.as_object().unwrap());
        assert_as_one_device(&data, 8, 2, pgd_at.unwrap());
    }

    /// Parts of 4 and 3 images (and 3, 3 and 2; the epoch's last batch of 2 in two parts of
    /// one): each part's gradient weighs by its share of the batch.
    #[test]
    fn an_uneven_split_trains_as_one_device() {
        assert_as_one_device(&LeftRight::new(14, 32), 7, 2, DefenseSpec::default());
        assert_as_one_device(&LeftRight::new(10, 32), 8, 3, DefenseSpec::default());
    }

    /// The running statistics of `model` (settled), in visiting order.
    fn running_statistics(model: &DiagnosticModel) -> Vec<f32> {
        let ids = RunningStatistics::of(&model.valid().trainable(&cpu()).network).ids;
        let mut floats = Floats(Vec::new());
        model
            .valid()
            .network
            .visit(&mut Selected(&ids, &mut floats));
        floats.0
    }

    struct Selected<'a>(&'a [ParamId], &'a mut Floats);

    impl ModuleVisitor for Selected<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0.contains(&param.id) {
                self.1.visit_float(param);
            }
        }
    }

    /// After a two-part step the model's running statistics are the mean of what each part's
    /// forward pass alone leaves.
    #[test]
    fn running_statistics_are_the_mean_of_the_parts() {
        let data = LeftRight::new(8, 16);
        let model = seeded_small_cnn(&data.info, 16, 4, 5).trainable(&cpu());
        let samples = (0..8).map(|i| data.get(i).unwrap()).collect();
        let whole = batch_targets(samples, data.info.task, 2, &cpu()).unwrap();
        let keys = SampleKeys::sequential(0, 8);
        let batch = TrainingBatch {
            model: &model,
            device: &cpu(),
            images: whole.images.clone(),
            targets: whole.targets,
            labels: &whole.labels,
            keys: &keys,
            batch_key: 0,
            loss: Default::default(),
            attacked: Default::default(),
        };
        // Each part alone, from the model's statistics before the step.
        let part = |start| {
            use crate::model::Classifier;
            let replica = model.valid().trainable(&cpu());
            let _ = replica.logits(whole.images.clone().narrow(0, start, 4).autodiff());
            running_statistics(&replica)
        };
        let (before, first, second) = (running_statistics(&model), part(0), part(4));
        assert!(
            largest_difference(&before, &first) > 1e-3,
            "the statistics move"
        );
        let step = step(&batch, &DefenseSpec::default(), &[cpu(), cpu()]).unwrap();
        let network = step.statistics.apply(model.network.clone());
        let stepped = running_statistics(&DiagnosticModel {
            card: model.card.clone(),
            network,
        });
        let mean: Vec<f32> = first
            .iter()
            .zip(&second)
            .map(|(a, b)| (a + b) / 2.0)
            .collect();
        let difference = largest_difference(&mean, &stepped);
        assert!(difference < 1e-6, "differ by {difference}");
    }

    /// With batch norm each part is normalised by its own statistics, so the numbers may differ
    /// from one device's; they are still the same from run to run, whichever thread finishes
    /// first.
    #[test]
    fn batch_norm_runs_per_part_and_the_same_every_run() {
        let data = LeftRight::new(16, 16);
        let model = || seeded_small_cnn(&data.info, 16, 4, 11);
        let before = floats(&model());
        let (first, _) = one_epoch(model(), &data, 8, 2, DefenseSpec::default());
        let (second, _) = one_epoch(model(), &data, 8, 2, DefenseSpec::default());
        assert_eq!(first, second);
        let (one, _) = one_epoch(model(), &data, 8, 1, DefenseSpec::default());
        assert!(largest_difference(&before, &first) > 1e-3);
        assert_ne!(first, one, "per-part statistics");
    }

    /// A data-parallel run interrupted after its first epoch and resumed from the checkpoint
    /// ends with the weights of the uninterrupted run.
    #[test]
    fn a_resumed_data_parallel_run_continues_exactly() {
        let data = LeftRight::new(8, 32);
        let config = TrainConfig {
            epochs: 2,
            batch_size: 4,
            optimizer: OptimizerKind::Sgd,
            learning_rate: 0.05,
            recipe: TrainingRecipe {
                devices: 2,
                ..TrainingRecipe::default()
            },
            ..TrainConfig::default()
        };
        let fresh = || Trainer::new(convnext(&data), config.clone(), &data.info.name, &cpu());
        let mut straight = fresh().unwrap();
        straight.train_epoch(&data, &mut |_| {}).unwrap();
        straight.train_epoch(&data, &mut |_| {}).unwrap();

        let mut interrupted = fresh().unwrap();
        interrupted.train_epoch(&data, &mut |_| {}).unwrap();
        let bytes = interrupted.checkpoint().unwrap();
        let mut resumed = Trainer::resume(&bytes, "run.ckpt", &cpu()).unwrap();
        assert_eq!(resumed.config.recipe.devices, 2);
        resumed.train_epoch(&data, &mut |_| {}).unwrap();
        assert_eq!(resumed.history, straight.history);
        assert_eq!(floats(&resumed.finish(8)), floats(&straight.finish(8)));
    }

    #[test]
    fn replicas_go_where_the_recipe_says() {
        let data = LeftRight::new(4, 16);
        let config = TrainConfig {
            batch_size: 4,
            recipe: TrainingRecipe {
                devices: 2,
                ..TrainingRecipe::default()
            },
            ..TrainConfig::default()
        };
        let model = seeded_small_cnn(&data.info, 16, 4, 1);
        let mut trainer = Trainer::new(model, config, &data.info.name, &cpu()).unwrap();
        let err = trainer.place_replicas(vec![cpu()]).unwrap_err();
        assert!(
            err.to_string()
                .contains("trains on 2 devices, 1 were given"),
            "{err}"
        );
        trainer.place_replicas(vec![cpu(), cpu()]).unwrap();
    }

    #[test]
    fn parts_are_as_equal_as_can_be_and_cover_the_batch_once() {
        assert_eq!(part_rows(8, 2), vec![0..4, 4..8]);
        assert_eq!(part_rows(7, 2), vec![0..4, 4..7]);
        assert_eq!(part_rows(10, 4), vec![0..3, 3..6, 6..8, 8..10]);
        assert_eq!(part_rows(5, 1), vec![0..5]);
        // An epoch's last batch, smaller than the number of devices.
        assert_eq!(part_rows(2, 3), vec![0..1, 1..2]);
        for rows in 1..20 {
            for devices in 1..6 {
                let parts = part_rows(rows, devices);
                assert_eq!(parts.len(), devices.min(rows));
                assert_eq!(parts[0].start, 0);
                assert_eq!(parts.last().unwrap().end, rows);
                assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
                let sizes: Vec<usize> = parts.iter().map(|p| p.len()).collect();
                let (min, max) = (sizes.iter().min(), sizes.iter().max());
                assert!(
                    min.unwrap() >= &1 && max.unwrap() - min.unwrap() <= 1,
                    "{sizes:?}"
                );
            }
        }
    }
}
