//! `robustdx bench speed`: PGD-10 images/s on the models the PyTorch + torchattacks script times.

use clap::Args;

use crate::speed::{SPEED_MODELS, bench_device, pgd_seconds};

#[derive(Debug, Args)]
pub struct BenchSpeedArgs {
    /// cpu and/or wgpu
    #[arg(long, value_delimiter = ',', default_value = "cpu,wgpu")]
    backends: Vec<String>,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Timed PGD-10 runs after one warm-up
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// `robustdx bench speed`: PGD-10 (L∞, ε 8/255, step 2/255, random start) images/s on the
/// models `tests/fixtures/attacks/speed_torchattacks.py` times in PyTorch + torchattacks.
pub fn run(args: BenchSpeedArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.batch > 0 && args.runs > 0,
        "--batch and --runs must be positive"
    );
    println!(
        "{:<22} {:<5} {:>6} {:>12} {:>9}",
        "model", "back", "batch", "s / PGD-10", "img/s"
    );
    for backend_name in &args.backends {
        let Some(device) = bench_device(backend_name)? else {
            continue;
        };
        for (name, width) in SPEED_MODELS {
            let seconds = pgd_seconds(&device, (name, width, 64), args.batch, args.runs)?;
            println!(
                "{:<22} {:<5} {:>6} {:>12.3} {:>9.1}",
                format!("{name} (width {width}, 64px)"),
                backend_name,
                args.batch,
                seconds,
                args.batch as f64 / seconds
            );
        }
    }
    Ok(())
}
