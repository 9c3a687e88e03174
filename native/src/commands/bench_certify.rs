//! `robustdx bench certify`: randomized smoothing's speed — noisy copies through the model per
//! second and certified images per second at n0 + n copies, per backend and batch of copies.

use clap::Args;
use robustdx_core::certify::{CertifySettings, NoiseKey, Smoothed, default_copies_per_batch};
use robustdx_core::data::Image;

use crate::speed::{SPEED_MODELS, bench_device};

#[derive(Debug, Args)]
pub struct BenchCertifyArgs {
    /// cpu and/or wgpu
    #[arg(long, value_delimiter = ',', default_value = "cpu,wgpu")]
    backends: Vec<String>,
    /// Noisy copies per forward pass, comma-separated [default: 64 and the default batch]
    #[arg(long, value_delimiter = ',')]
    batch: Vec<usize>,
    /// Copies per timed certificate (n0 = 10 % of them)
    #[arg(long, default_value_t = 2_000)]
    copies: u64,
    /// Certified images per second are reported at n0 = 100 and this n (the reference's 100 000;
    /// the page's 1 000)
    #[arg(long, default_value_t = 100_000)]
    n: u64,
}

/// Seconds to certify one 64-px image with `copies` copies in batches of `batch` (after a
/// warm-up certificate).
fn seconds_per_certificate(
    smoothed: &Smoothed,
    device: &burn::tensor::Device,
    copies: u64,
    batch: usize,
) -> anyhow::Result<f64> {
    let settings = CertifySettings {
        n0: (copies / 10).max(1),
        n: copies - (copies / 10).max(1),
        alpha: 0.001,
    };
    let input = &smoothed.model().card.input;
    let pixels = (0..input.channels * input.height * input.width)
        .map(|i| (i % 97) as f32 / 96.0)
        .collect();
    let image = Image::new(input.channels, input.height, input.width, pixels);
    let time = |seed| -> anyhow::Result<f64> {
        let start = std::time::Instant::now();
        futures_lite::future::block_on(smoothed.certify(
            image.clone(),
            NoiseKey { seed, index: 0 },
            &settings,
            batch,
            device,
            &mut |_| {},
        ))?;
        Ok(start.elapsed().as_secs_f64())
    };
    time(0)?;
    time(1)
}

pub fn run(args: BenchCertifyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.copies >= 2 && args.n > 0 && args.batch.iter().all(|&b| b > 0),
        "--copies must be at least 2, --n and --batch positive"
    );
    println!(
        "{:<24} {:<5} {:>6} {:>10} {:>14}",
        "model",
        "back",
        "batch",
        "copies/s",
        format!("images/s (n={})", args.n)
    );
    for backend_name in &args.backends {
        let Some(device) = bench_device(backend_name)? else {
            continue;
        };
        for (name, width) in SPEED_MODELS {
            let model = crate::speed::model(name, width, 64, &device)?;
            let smoothed = Smoothed::new(&model, 0.25)?;
            let batches = if args.batch.is_empty() {
                vec![64, default_copies_per_batch(3 * 64 * 64)]
            } else {
                args.batch.clone()
            };
            for batch in batches {
                let seconds = seconds_per_certificate(&smoothed, &device, args.copies, batch)?;
                let copies_per_second = args.copies as f64 / seconds;
                println!(
                    "{:<24} {:<5} {:>6} {:>10.0} {:>14.4}",
                    format!("{name} (width {width}, 64px)"),
                    backend_name,
                    batch,
                    copies_per_second,
                    copies_per_second / (100 + args.n) as f64
                );
            }
        }
    }
    Ok(())
}
