//! `robustdx bench models`: forward + backward throughput of every architecture, tiny and full,
//! on each backend. A benchmark, not a test: it prints a table and asserts nothing.

use clap::Args;
use robustdx_core::model::{ARCHITECTURES, architecture};

use crate::speed::{bench_device, model, time_step};

#[derive(Debug, Args)]
pub struct BenchModelsArgs {
    /// Architectures to time (default: all registered)
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// tiny (narrow width, small input) and/or full (the paper's width and input)
    #[arg(long, value_delimiter = ',', default_value = "tiny,full")]
    sizes: Vec<String>,
    /// cpu and/or wgpu
    #[arg(long, value_delimiter = ',', default_value = "cpu,wgpu")]
    backends: Vec<String>,
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Timed steps after one warm-up step
    #[arg(long, default_value_t = 3)]
    steps: usize,
}

pub fn run(args: BenchModelsArgs) -> anyhow::Result<()> {
    let names: Vec<String> = match args.models {
        Some(names) => names,
        None => ARCHITECTURES.iter().map(|a| a.name.to_string()).collect(),
    };
    anyhow::ensure!(
        args.batch > 0 && args.steps > 0,
        "--batch and --steps must be positive"
    );
    println!(
        "{:<16} {:<5} {:>6} {:>6} {:>11} {:<5} {:>10} {:>9}",
        "model", "size", "width", "input", "parameters", "back", "ms/step", "img/s"
    );
    for backend_name in &args.backends {
        let Some(device) = bench_device(backend_name)? else {
            continue;
        };
        for name in &names {
            let info = architecture(name)?;
            for size in &args.sizes {
                let (width, side) = match size.as_str() {
                    "tiny" => (info.tiny_width, info.tiny_size),
                    "full" => (info.full_width, info.input_size),
                    other => anyhow::bail!("unknown size '{other}' (tiny, full)"),
                };
                let model = model(name, width, side, &device)?;
                let seconds = time_step(&model, args.batch, args.steps, &device)?;
                println!(
                    "{:<16} {:<5} {:>6} {:>6} {:>11} {:<5} {:>10.1} {:>9.2}",
                    name,
                    size,
                    width,
                    side,
                    model.parameters(),
                    backend_name,
                    seconds * 1e3,
                    args.batch as f64 / seconds
                );
            }
        }
    }
    Ok(())
}
