//! Square Attack (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020, "Square Attack: a
//! query-efficient black-box adversarial attack via random search"), as AutoAttack runs it:
//! fra31/auto-attack's `square.py`, the same code as torchattacks 3.5.1 `Square`. It reads the
//! model's logits only, never a gradient, so a model whose gradients are masked (saturated,
//! shattered, randomised) cannot hide from it: the last member of AutoAttack's suite.
//!
//! A random search at the corners of the ε-ball. L∞ starts from vertical stripes of ±ε; each
//! query moves one random square window to a corner of the box (one random sign per channel) and
//! keeps the result if the loss fell or the model is fooled. L2 starts from a grid of pairs of
//! opposite bumps; each query redraws one window's bumps and empties a second window to pay for
//! them, the whole perturbation rescaled to norm ε. The window shrinks over the query budget on
//! the reference's schedule of p, the share of the image a window covers
//! ([`SquareAttack::p_selection`]).
//!
//! Two choices differ from the reference, neither in distribution per image: every image draws
//! its own windows and signs from its keyed stream (stream 1000 + restart; the reference draws
//! one window per query for the whole batch from torch's generator, the paper's own code one per
//! image), so the batch size and shards change no number; and an image the search does not
//! break keeps its lowest-margin point (the reference returns the clean image), as APGD keeps
//! its strongest. Images the model gets wrong before the attack cost no query; the others cost
//! one for the start and one per query until they break, as the reference's `n_queries` counts.
//!
//! Dropping the broken images takes one read of a `[batch]` score per query. It is written as
//! an asynchronous read ([`SquareAttack::search_async`], what a browser's WebGPU backend must
//! await); [`SquareAttack::search`] and the [`Attack`] methods block on it.

mod windows;

use burn::Tensor;
use burn::tensor::{Device, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::budget::{l2_norms, place_images, row_indices, where_images};
use super::registry::{AttackEntry, AttackInfo};
use super::{
    Attack, AttackedModel, Budget, Convention, Goal, Norm, Objective, Perturbed, SampleKeys, Stream,
};
use crate::readback::floats;
use crate::registry::canonical_settings;
use crate::{Error, Label, Result, TaskKind};
use windows::{Window, eta, start_tiles, transposed};

/// Square, ready to run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SquareAttack {
    /// The threat model, in pixel space ([`Convention::Pixel`]).
    pub budget: Budget,
    /// Queries per restart after the start (5 000 in AutoAttack); the schedule of p is laid out
    /// over them.
    pub queries: usize,
    /// The share of the image the first windows cover (0.8).
    pub p_init: f64,
    /// Runs from fresh starts, each on the images the earlier ones left standing.
    pub restarts: usize,
    /// What a query must lower to be kept.
    pub loss: SquareLoss,
}

/// The score Square's search lowers; either way, an image is broken once its margin is ≤ 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SquareLoss {
    /// The logit margin `z_y − max_{j≠y} z_j` (multi-label: the smallest finding margin
    /// `min_j (2y_j − 1) z_j`), the reference's default.
    Margin,
    /// Minus the task's loss (cross-entropy, or BCE over findings).
    Ce,
}

/// Square's own settings in an [`AttackSpec`](super::AttackSpec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SquareSettings {
    /// Queries per restart after the start.
    pub queries: usize,
    /// The share of the image the first windows cover, in (0, 1].
    pub p_init: f64,
    /// Runs from fresh starts on the images still standing.
    pub restarts: usize,
    /// `margin` or `ce`.
    pub loss: SquareLoss,
}

impl Default for SquareSettings {
    fn default() -> Self {
        Self {
            queries: 5000,
            p_init: 0.8,
            restarts: 1,
            loss: SquareLoss::Margin,
        }
    }
}

pub(crate) const ENTRY: AttackEntry = AttackEntry {
    info: AttackInfo {
        name: "square",
        about: "Square: score-only random search over square windows at the corners of the \
                ε-ball, 5 000 queries, no gradients (Andriushchenko et al. 2020)",
        fixed_goal: None,
        revision: 0,
        stepwise: false,
        targeted: false,
        gradient_free: true,
        randomised: true,
        needs_generator: false,
        dominates: None,
        on_page: true,
        canonical: canonical_settings::<SquareSettings>,
    },
    build: |spec, _| {
        if spec.goal != Goal::Untargeted {
            return Err(Error::invalid("Square is untargeted here"));
        }
        let s: SquareSettings = spec.settings_as()?;
        let attack = SquareAttack {
            budget: spec.budget(),
            queries: s.queries,
            p_init: s.p_init,
            restarts: s.restarts,
            loss: s.loss,
        };
        attack.validate()?;
        Ok(Box::new(attack))
    },
};

/// The most queries one image may cost (restarts × queries): ten times the Square paper's
/// ImageNet budget of 10 000, so more is a typo that would run for days.
pub const MAX_SQUARE_QUERIES: usize = 100_000;

/// Restart r draws from keyed stream `1000 + r`, clear of the random starts' small ones.
const STREAM_BASE: Stream = 1000;

/// The reference's guard against dividing by a zero norm.
const NORM_GUARD: f32 = 1e-12;

/// On the reference's rescaled clock (0..10 000 over the query budget), p halves after each of
/// these.
const P_HALVINGS: [usize; 9] = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];

/// What a search left each image with.
#[derive(Debug, Clone)]
pub struct SquareOutcome {
    /// The adversarial images: the fooling point where one was found, else the lowest-loss one
    /// (the clean image where the model was already wrong).
    pub images: Tensor<4>,
    /// The model queries each image cost.
    pub queries: Vec<u32>,
    /// Whether each returned image is decided wrongly (margin ≤ 0), the model's own mistakes
    /// included.
    pub broken: Vec<bool>,
}

impl SquareAttack {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    /// L∞ Square at `eps` (pixel units) with `queries` queries, AutoAttack's other settings.
    pub fn linf(eps: f32, queries: usize) -> Self {
        let defaults = SquareSettings::default();
        Self {
            budget: Budget::linf(eps),
            queries,
            p_init: defaults.p_init,
            restarts: defaults.restarts,
            loss: defaults.loss,
        }
    }

    /// Checks the budget (pixel space), p_init in (0, 1], and at least one query and one restart
    /// within [`MAX_SQUARE_QUERIES`].
    pub fn validate(&self) -> Result<()> {
        self.budget.validate()?;
        if self.budget.convention != Convention::Pixel {
            return Err(Error::invalid(
                "Square is defined in pixel space (--convention pixel)",
            ));
        }
        if !(self.p_init > 0.0 && self.p_init <= 1.0) {
            return Err(Error::invalid(format!(
                "square: p_init is the share of the image a window covers, in (0, 1]; got {}",
                self.p_init
            )));
        }
        if self.queries == 0 || self.restarts == 0 {
            return Err(Error::invalid(
                "square needs at least 1 query and 1 restart",
            ));
        }
        if self.queries.saturating_mul(self.restarts) > MAX_SQUARE_QUERIES {
            return Err(Error::invalid(format!(
                "square: {} restarts × {} queries is over the cap of {MAX_SQUARE_QUERIES} \
                 queries per image (--set queries=N, --set restarts=N)",
                self.restarts, self.queries
            )));
        }
        Ok(())
    }

    /// The share of the image a window covers at query `iteration` (0-based): `p_init`, halved
    /// once the query passes 0.1, 0.5, 2, 5, 10, 20, 40, 60 and 80 % of the budget — the
    /// reference's `p_selection` with its schedule rescaled to the budget, in the same f64
    /// arithmetic.
    pub fn p_selection(&self, iteration: usize) -> f64 {
        let clock = (iteration as f64 / self.queries as f64 * 10_000.0) as usize;
        let halvings = P_HALVINGS.iter().filter(|&&at| clock > at).count();
        self.p_init / f64::from(1u32 << halvings)
    }

    /// The side of the window at query `iteration` for images of `[channels, height, width]`:
    /// √(p·h·w) rounded half to even (Python's `round`), at least 1 (L∞), or at least 3 and odd
    /// (L2); never wider than the image (where the reference would fail).
    pub fn window_side(&self, iteration: usize, [c, h, w]: [usize; 3]) -> usize {
        let p = self.p_selection(iteration);
        let side = (p * (c * h * w) as f64 / c as f64).sqrt().round_ties_even() as usize;
        let side = match self.budget.norm {
            Norm::Linf => side.max(1),
            Norm::L2 => side.max(3) | 1,
        };
        side.min(h.min(w))
    }

    /// What an L2 window of `side` holds before its random transpose and signs (the reference's
    /// `eta(s)`), row-major, unit L2 norm.
    pub fn l2_window_pattern(side: usize) -> Vec<f32> {
        eta(side)
    }

    /// The tiles of the L2 start for `height × width` images, as `[top, left, side]`.
    pub fn l2_start_tiles(height: usize, width: usize) -> Vec<[usize; 3]> {
        start_tiles(height, width)
            .into_iter()
            .map(|t| [t.top, t.left, t.side])
            .collect()
    }

    /// The search against any score-only model: `logits_of` maps images to `[batch, classes]`
    /// logits of a `task` model, `labels` are the truth, `keys` name the images. Blocks on the
    /// search's reads; where a backend cannot block (WebGPU in a browser), await
    /// [`search_async`](Self::search_async) instead.
    pub fn search(
        &self,
        logits_of: &dyn Fn(Tensor<4>) -> Tensor<2>,
        task: TaskKind,
        classes: usize,
        images: Tensor<4>,
        labels: &[Label],
        keys: &SampleKeys,
    ) -> Result<SquareOutcome> {
        let search = self.search_async(logits_of, task, classes, images, labels, keys);
        burn::tensor::try_read_sync(search).unwrap_or_else(|| {
            Err(Error::invalid(
                "Square reads the model's scores back after every query, which this backend \
                 cannot do blocking: await SquareAttack::search_async",
            ))
        })
    }

    /// [`search`](Self::search), reading each query's scores back asynchronously (the only
    /// kind of read WebGPU allows): one `[batch]` read per query, to drop the broken images.
    pub async fn search_async(
        &self,
        logits_of: &dyn Fn(Tensor<4>) -> Tensor<2>,
        task: TaskKind,
        classes: usize,
        images: Tensor<4>,
        labels: &[Label],
        keys: &SampleKeys,
    ) -> Result<SquareOutcome> {
        self.validate()?;
        let [b, _, _, _] = images.dims();
        if keys.len() != b || labels.len() != b {
            return Err(Error::invalid(format!(
                "square: {b} images with {} labels and {} keys",
                labels.len(),
                keys.len()
            )));
        }
        let device = images.device();
        let truth = Goal::Untargeted.targets(labels, task, classes, None, &device)?;
        let scores = Scores {
            logits_of,
            task,
            loss: self.loss,
        };
        let (clean_margin, _) = scores.of(images.clone(), &truth);
        // An image the model already gets wrong is not attacked (and costs no query).
        let mut broken: Vec<bool> = floats(clean_margin)
            .await?
            .iter()
            .map(|&m| m >= 0.0)
            .collect();
        let mut queries = vec![0u32; b];
        let mut adversarial = images.clone();
        if self.budget.eps == 0.0 {
            return Ok(SquareOutcome {
                images,
                queries,
                broken,
            });
        }
        let mut kept_loss = vec![f32::NEG_INFINITY; b];
        for restart in 0..self.restarts {
            let standing: Vec<usize> = (0..b).filter(|&i| !broken[i]).collect();
            if standing.is_empty() {
                break;
            }
            let rows = row_indices(&standing, &device);
            let run_keys = SampleKeys::new(
                keys.seed,
                standing.iter().map(|&i| keys.indices[i]).collect(),
            );
            let run = self
                .run(
                    &scores,
                    images.clone().select(0, rows.clone()),
                    truth.clone().select(0, rows),
                    run_keys.generators(STREAM_BASE + restart as u64),
                )
                .await?;
            // A run's point replaces the kept one where it breaks the image or scores higher.
            let (mut taken, mut taken_rows) = (Vec::new(), Vec::new());
            for (at, &id) in standing.iter().enumerate() {
                queries[id] += run.queries[at];
                if run.broken[at] || run.best_loss[at] > kept_loss[id] {
                    broken[id] = run.broken[at];
                    kept_loss[id] = run.best_loss[at];
                    taken.push(id);
                    taken_rows.push(at);
                }
            }
            if !taken.is_empty() {
                let points = run.points.select(0, row_indices(&taken_rows, &device));
                adversarial = place_images(adversarial, points, &taken);
            }
        }
        Ok(SquareOutcome {
            images: adversarial,
            queries,
            broken,
        })
    }

    /// One run of the search from a fresh start on images `x` (all standing), `rngs` one keyed
    /// generator per image.
    async fn run(
        &self,
        scores: &Scores<'_>,
        x: Tensor<4>,
        truth: Tensor<2>,
        mut rngs: Vec<ChaCha8Rng>,
    ) -> Result<Run> {
        let [k, c, h, w] = x.dims();
        let start = match self.budget.norm {
            Norm::Linf => self.linf_start(&x, &mut rngs),
            Norm::L2 => self.l2_start(&x, &mut rngs),
        };
        let (margin, loss) = scores.of(start.clone(), &truth);
        let mut active = Active {
            ids: (0..k).collect(),
            x,
            truth,
            best: start.clone(),
            margin,
            loss,
        };
        let mut run = Run {
            points: start,
            broken: vec![false; k],
            best_loss: vec![f32::NEG_INFINITY; k],
            queries: vec![1; k],
        };
        active.retire_broken(&mut run).await?;
        for iteration in 0..self.queries {
            if active.ids.is_empty() {
                break;
            }
            let side = self.window_side(iteration, [c, h, w]);
            let proposal = match self.budget.norm {
                Norm::Linf => self.linf_proposal(&active, side, &mut rngs),
                Norm::L2 => self.l2_proposal(&active, side, &mut rngs),
            };
            let (margin, loss) = scores.of(proposal.clone(), &active.truth);
            active.absorb(proposal, margin, loss);
            for &id in &active.ids {
                run.queries[id] += 1;
            }
            active.retire_broken(&mut run).await?;
        }
        let everyone = vec![true; active.ids.len()];
        active.retire(&mut run, &everyone).await?;
        Ok(run)
    }

    /// The L∞ start: a random sign per image, channel and column, ±ε down the whole column.
    fn linf_start(&self, x: &Tensor<4>, rngs: &mut [ChaCha8Rng]) -> Tensor<4> {
        let [k, c, h, w] = x.dims();
        let signs: Vec<f32> = rngs
            .iter_mut()
            .flat_map(|rng| (0..c * w).map(|_| sign(rng)).collect::<Vec<_>>())
            .collect();
        let stripes = Tensor::<4>::from_data(TensorData::new(signs, [k, c, 1, w]), &x.device())
            .expand([k, c, h, w]);
        (x.clone() + stripes.mul_scalar(self.budget.eps)).clamp(0.0, 1.0)
    }

    /// An L∞ query: each image's window jumps to ±ε (a sign per channel), the rest stays.
    fn linf_proposal(&self, active: &Active, side: usize, rngs: &mut [ChaCha8Rng]) -> Tensor<4> {
        let [m, c, h, w] = active.x.dims();
        let eps = self.budget.eps;
        let mut windows = WindowMasks::new(m, h, w);
        let mut signs = Vec::with_capacity(m * c);
        for (at, &id) in active.ids.iter().enumerate() {
            let rng = &mut rngs[id];
            windows.mark(at, Window::draw(rng, h, w, side));
            signs.extend((0..c).map(|_| sign(rng)));
        }
        let device = active.x.device();
        let signs = Tensor::<4>::from_data(TensorData::new(signs, [m, c, 1, 1]), &device)
            .expand([m, c, h, w]);
        let jump = (windows.mask(&device).expand([m, c, h, w]) * signs).mul_scalar(2.0 * eps);
        let x = &active.x;
        (active.best.clone() + jump)
            .max_pair(x.clone().sub_scalar(eps))
            .min_pair(x.clone().add_scalar(eps))
            .clamp(0.0, 1.0)
    }

    /// The L2 start: every tile of [`start_tiles`] holds eta (transposed on a coin) times a sign
    /// per channel; the whole scaled to norm ε.
    fn l2_start(&self, x: &Tensor<4>, rngs: &mut [ChaCha8Rng]) -> Tensor<4> {
        let [k, c, h, w] = x.dims();
        let tiles = start_tiles(h, w);
        let patterns = Patterns::new(tiles.first().map_or(1, |t| t.side));
        let mut delta = vec![0.0f32; k * c * h * w];
        for (image, rng) in delta.chunks_mut(c * h * w).zip(rngs.iter_mut()) {
            for tile in &tiles {
                let pattern = patterns.draw(rng);
                for plane in image.chunks_mut(h * w) {
                    let s = sign(rng);
                    let signed: Vec<f32> = pattern.iter().map(|v| v * s).collect();
                    tile.paint(plane, w, &signed);
                }
            }
        }
        let delta = Tensor::<4>::from_data(TensorData::new(delta, [k, c, h, w]), &x.device());
        self.l2_point(x, delta)
    }

    /// `x + ε·δ/‖δ‖`, clipped to the pixel range: every L2 point the reference queries.
    fn l2_point(&self, x: &Tensor<4>, delta: Tensor<4>) -> Tensor<4> {
        let unit = delta.clone() / l2_norms(delta).add_scalar(NORM_GUARD);
        (x.clone() + unit.mul_scalar(self.budget.eps)).clamp(0.0, 1.0)
    }

    /// An L2 query (the reference's loop body): window 1 gets fresh bumps plus its old content
    /// at unit norm per channel, scaled so that what windows 1 and 2 held, plus whatever the
    /// image's budget has left, goes into it; window 2 is emptied; the whole is rescaled to ε.
    fn l2_proposal(&self, active: &Active, side: usize, rngs: &mut [ChaCha8Rng]) -> Tensor<4> {
        let [m, c, h, w] = active.x.dims();
        let eps = self.budget.eps;
        let patterns = Patterns::new(side);
        let (mut first, mut second) = (WindowMasks::new(m, h, w), WindowMasks::new(m, h, w));
        let mut bumps = vec![0.0f32; m * h * w];
        let mut signs = Vec::with_capacity(m * c);
        for (at, &id) in active.ids.iter().enumerate() {
            let rng = &mut rngs[id];
            let window = Window::draw(rng, h, w, side);
            first.mark(at, window);
            second.mark(at, Window::draw(rng, h, w, side));
            window.paint(
                &mut bumps[at * h * w..(at + 1) * h * w],
                w,
                patterns.draw(rng),
            );
            signs.extend((0..c).map(|_| sign(rng)));
        }
        let device = active.x.device();
        let full = [m, c, h, w];
        let first = first.mask(&device).expand(full);
        let union = first.clone().max_pair(second.mask(&device).expand(full));
        let per_channel = |t: Tensor<4>| t.powi_scalar(2).sum_dims(&[2, 3]).sqrt();

        let delta = active.best.clone() - active.x.clone();
        let in_first = delta.clone() * first.clone();
        let first_norms = per_channel(in_first.clone());
        let image_norms = l2_norms(delta.clone());
        let windows_norms = l2_norms(delta.clone() * union.clone());
        let bumps = Tensor::<4>::from_data(TensorData::new(bumps, [m, 1, h, w]), &device)
            .expand(full)
            * Tensor::<4>::from_data(TensorData::new(signs, [m, c, 1, 1]), &device).expand(full);
        let fresh = bumps + in_first / first_norms.add_scalar(NORM_GUARD);
        let fresh_norms = per_channel(fresh.clone());
        let room = (image_norms.powi_scalar(2).neg().add_scalar(eps * eps))
            .clamp_min(0.0)
            .div_scalar(c as f32)
            + windows_norms.powi_scalar(2);
        let fresh = fresh / fresh_norms.add_scalar(NORM_GUARD) * room.sqrt();
        let delta = delta * union.neg().add_scalar(1.0) + fresh;
        self.l2_point(&active.x, delta)
    }
}

impl Attack for SquareAttack {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn goal(&self) -> Goal {
        Goal::Untargeted
    }

    fn perturb(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        labels: &[Label],
        keys: &SampleKeys,
    ) -> Result<Tensor<4>> {
        Ok(self.perturb_detailed(model, images, labels, keys)?.images)
    }

    fn perturb_detailed(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        labels: &[Label],
        keys: &SampleKeys,
    ) -> Result<Perturbed> {
        let outcome = self.search(
            &|x| model.logits(x),
            model.task(),
            model.classes(),
            images,
            labels,
            keys,
        )?;
        Ok(outcome.into())
    }

    fn perturb_detailed_async<'a>(
        &'a self,
        model: &'a AttackedModel,
        images: Tensor<4>,
        labels: &'a [Label],
        keys: &'a SampleKeys,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Perturbed>> + 'a>> {
        Box::pin(async move {
            let logits_of = |x| model.logits(x);
            let outcome = self
                .search_async(
                    &logits_of,
                    model.task(),
                    model.classes(),
                    images,
                    labels,
                    keys,
                )
                .await?;
            Ok(outcome.into())
        })
    }
}

impl From<SquareOutcome> for Perturbed {
    fn from(outcome: SquareOutcome) -> Self {
        Self {
            images: outcome.images,
            broken_by: None,
            queries: Some(outcome.queries),
        }
    }
}

/// The two numbers a query returns per image: the margin score (≥ 0: broken) and the loss the
/// search keeps, both "higher is nearer a wrong decision".
struct Scores<'a> {
    logits_of: &'a dyn Fn(Tensor<4>) -> Tensor<2>,
    task: TaskKind,
    loss: SquareLoss,
}

impl Scores<'_> {
    fn of(&self, images: Tensor<4>, truth: &Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        let logits = (self.logits_of)(images);
        let margin = Objective::margin(truth.clone()).per_sample(self.task, logits.clone());
        let loss = match self.loss {
            SquareLoss::Margin => margin.clone(),
            SquareLoss::Ce => Objective::task(truth.clone()).per_sample(self.task, logits),
        };
        (margin, loss)
    }
}

/// The images a run still queries (`ids`: their places in the run), with their clean images,
/// truth, best point and its scores.
struct Active {
    ids: Vec<usize>,
    x: Tensor<4>,
    truth: Tensor<2>,
    best: Tensor<4>,
    margin: Tensor<1>,
    loss: Tensor<1>,
}

/// A run's result by place: each image's best point, whether it broke, its best loss and its
/// queries.
struct Run {
    points: Tensor<4>,
    broken: Vec<bool>,
    best_loss: Vec<f32>,
    queries: Vec<u32>,
}

impl Active {
    /// Keeps a query where it raised the loss or broke the image (the reference's
    /// `idx_improved`, widened by `idx_miscl`); the loss kept rises only with the loss.
    fn absorb(&mut self, proposal: Tensor<4>, margin: Tensor<1>, loss: Tensor<1>) {
        let raised = loss.clone().greater(self.loss.clone());
        let kept = raised
            .clone()
            .bool_or(margin.clone().greater_equal_elem(0.0));
        self.loss = self.loss.clone().mask_where(raised, loss);
        self.margin = self.margin.clone().mask_where(kept.clone(), margin);
        self.best = where_images(&kept, proposal, self.best.clone());
    }

    /// Reads the margins (the one host read per query: who is broken) and retires the broken.
    async fn retire_broken(&mut self, run: &mut Run) -> Result<()> {
        let broken: Vec<bool> = floats(self.margin.clone())
            .await?
            .iter()
            .map(|&m| m >= 0.0)
            .collect();
        if !broken.iter().any(|&b| b) {
            return Ok(());
        }
        for (at, &b) in broken.iter().enumerate() {
            run.broken[self.ids[at]] = b;
        }
        self.retire(run, &broken).await
    }

    /// Writes the images `leaving` flags into the run's result and stops querying them.
    async fn retire(&mut self, run: &mut Run, leaving: &[bool]) -> Result<()> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let device = self.x.device();
        let losses = floats(self.loss.clone()).await?;
        let (gone, staying): (Vec<usize>, Vec<usize>) =
            (0..self.ids.len()).partition(|&at| leaving[at]);
        let gone_ids: Vec<usize> = gone.iter().map(|&at| self.ids[at]).collect();
        for (&at, &id) in gone.iter().zip(&gone_ids) {
            run.best_loss[id] = losses[at];
        }
        let points = self.best.clone().select(0, row_indices(&gone, &device));
        run.points = place_images(run.points.clone(), points, &gone_ids);
        if staying.is_empty() {
            self.ids.clear();
            return Ok(());
        }
        let rows = row_indices(&staying, &device);
        self.ids = staying.iter().map(|&at| self.ids[at]).collect();
        self.x = self.x.clone().select(0, rows.clone());
        self.truth = self.truth.clone().select(0, rows.clone());
        self.best = self.best.clone().select(0, rows.clone());
        self.margin = self.margin.clone().select(0, rows.clone());
        self.loss = self.loss.clone().select(0, rows);
        Ok(())
    }
}

/// The window of each image of a batch as separable masks: which rows, which columns.
struct WindowMasks {
    rows: Vec<f32>,
    columns: Vec<f32>,
    dims: [usize; 3],
}

impl WindowMasks {
    fn new(batch: usize, height: usize, width: usize) -> Self {
        Self {
            rows: vec![0.0; batch * height],
            columns: vec![0.0; batch * width],
            dims: [batch, height, width],
        }
    }

    fn mark(&mut self, at: usize, window: Window) {
        let [_, h, w] = self.dims;
        window.mark(
            &mut self.rows[at * h..(at + 1) * h],
            &mut self.columns[at * w..(at + 1) * w],
        );
    }

    /// `[batch, 1, height, width]`: 1 inside each image's window.
    fn mask(&self, device: &Device) -> Tensor<4> {
        let [b, h, w] = self.dims;
        let rows = Tensor::<4>::from_data(TensorData::new(self.rows.clone(), [b, 1, h, 1]), device);
        let columns =
            Tensor::<4>::from_data(TensorData::new(self.columns.clone(), [b, 1, 1, w]), device);
        rows.expand([b, 1, h, w]) * columns.expand([b, 1, h, w])
    }
}

/// eta for one window side, as drawn or transposed.
struct Patterns {
    upright: Vec<f32>,
    transposed: Vec<f32>,
}

impl Patterns {
    fn new(side: usize) -> Self {
        let upright = eta(side);
        let transposed = transposed(&upright, side);
        Self {
            upright,
            transposed,
        }
    }

    /// The reference's `eta(s)`: transposed on a fair coin.
    fn draw(&self, rng: &mut ChaCha8Rng) -> &[f32] {
        if rng.random::<bool>() {
            &self.transposed
        } else {
            &self.upright
        }
    }
}

/// ±1 on a fair coin (the reference's `random_choice`).
fn sign(rng: &mut ChaCha8Rng) -> f32 {
    if rng.random::<bool>() { 1.0 } else { -1.0 }
}

#[cfg(test)]
mod tests;
