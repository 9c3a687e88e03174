//! `robustdx bench kernels`: our CPU convolution kernels (cpu-kernels/) against burn's own, op by
//! op, on the layer shapes of the models `bench compare` times. A benchmark: it prints a table.

use burn::tensor::ops::ConvOptions;
use clap::Args;
use robustdx_cpu_kernels::op_timing::time_conv2d;

#[derive(Debug, Args)]
pub struct BenchKernelsArgs {
    /// Timed runs per op after one warm-up (the median is shown)
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Add the 224-px layers of the large models (ResNet-50 at batch 8)
    #[arg(long)]
    large: bool,
}

/// A layer: what it is, input `[n, c, h, w]`, weight `[out, in / groups, kh, kw]`, stride,
/// padding, groups.
type Layer = (&'static str, [usize; 4], [usize; 4], usize, usize, usize);

/// Layers of the 64-px models at batch 32 (`bench compare`'s), and of the AutoAttack fixture.
const LAYERS: &[Layer] = &[
    (
        "small CNN block 1: 3x3, 3→32, 64 px",
        [32, 3, 64, 64],
        [32, 3, 3, 3],
        1,
        1,
        1,
    ),
    (
        "small CNN block 2: 3x3, 32→64, 32 px",
        [32, 32, 32, 32],
        [64, 32, 3, 3],
        1,
        1,
        1,
    ),
    (
        "small CNN block 3: 3x3, 64→128, 16 px",
        [32, 64, 16, 16],
        [128, 64, 3, 3],
        1,
        1,
        1,
    ),
    (
        "small CNN block 4: 3x3, 128→128, 8 px",
        [32, 128, 8, 8],
        [128, 128, 3, 3],
        1,
        1,
        1,
    ),
    (
        "AttnVGG-8 stage 1: 3x3, 8→8, 64 px",
        [32, 8, 64, 64],
        [8, 8, 3, 3],
        1,
        1,
        1,
    ),
    (
        "AttnVGG-8 stage 3: 3x3, 32→32, 16 px",
        [32, 32, 16, 16],
        [32, 32, 3, 3],
        1,
        1,
        1,
    ),
    (
        "AttnVGG-8 attention: 1x1, 32→32, 16 px",
        [32, 32, 16, 16],
        [32, 32, 1, 1],
        1,
        0,
        1,
    ),
    (
        "ResNet-18-4 stem: 7x7 stride 2, 3→4, 64 px",
        [32, 3, 64, 64],
        [4, 3, 7, 7],
        2,
        3,
        1,
    ),
    (
        "ResNet-18-4 layer 1: 3x3, 4→4, 16 px",
        [32, 4, 16, 16],
        [4, 4, 3, 3],
        1,
        1,
        1,
    ),
    (
        "ResNet-18-4 layer 2: 3x3 stride 2, 4→8, 16 px",
        [32, 4, 16, 16],
        [8, 4, 3, 3],
        2,
        1,
        1,
    ),
    (
        "depthwise 7x7, 32 channels, 16 px",
        [32, 32, 16, 16],
        [32, 1, 7, 7],
        1,
        3,
        32,
    ),
];

const LARGE_LAYERS: &[Layer] = &[
    (
        "ResNet-50 stem: 7x7 stride 2, 3→64, 224 px",
        [8, 3, 224, 224],
        [64, 3, 7, 7],
        2,
        3,
        1,
    ),
    (
        "ResNet-50 layer 1: 3x3, 64→64, 56 px",
        [8, 64, 56, 56],
        [64, 64, 3, 3],
        1,
        1,
        1,
    ),
    (
        "ResNet-50 layer 1: 1x1, 64→256, 56 px",
        [8, 64, 56, 56],
        [256, 64, 1, 1],
        1,
        0,
        1,
    ),
    (
        "ResNet-50 layer 2: 3x3 stride 2, 128→128, 56 px",
        [8, 128, 56, 56],
        [128, 128, 3, 3],
        2,
        1,
        1,
    ),
];

pub fn run(args: BenchKernelsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.runs > 0, "--runs must be positive");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "CPU backend (flex), {threads} threads; median of {} runs",
        args.runs
    );
    println!("\n| layer | op | burn ms | ours ms | speed-up |\n|---|---|---|---|---|");
    let large = if args.large { LARGE_LAYERS } else { &[] };
    for &(what, x, weight, stride, padding, groups) in LAYERS.iter().chain(large) {
        let options = ConvOptions::new([stride; 2], [padding; 2], [1, 1], groups);
        let timings = time_conv2d(x, weight, &options, args.runs)
            .ok_or_else(|| anyhow::anyhow!("{what}: the shapes make no convolution"))?;
        for t in timings {
            let (burn, ours) = (t.burn.as_secs_f64() * 1e3, t.ours.as_secs_f64() * 1e3);
            println!(
                "| {what} | {} | {burn:.2} | {ours:.2} | {:.2}x |",
                t.op,
                burn / ours
            );
        }
    }
    Ok(())
}
