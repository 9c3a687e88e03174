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
}

/// The estimation copies certified images per second are reported at (with n0 = 100): the
/// page's 1 000 and the reference's 100 000.
const REPORTED_N: [u64; 2] = [1_000, 100_000];

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
    let pixels = (0..input.values())
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
        args.copies >= 2 && args.batch.iter().all(|&b| b > 0),
        "--copies must be at least 2 and --batch positive"
    );
    println!(
        "{:<27} {:<5} {:>6} {:>9} {:>16} {:>18}",
        "model",
        "back",
        "batch",
        "copies/s",
        format!("images/s n={}", REPORTED_N[0]),
        format!("images/s n={}", REPORTED_N[1])
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
                    "{:<27} {:<5} {:>6} {:>9.0} {:>16.3} {:>18.5}",
                    format!("{name} (width {width}, 64px)"),
                    backend_name,
                    batch,
                    copies_per_second,
                    copies_per_second / (100 + REPORTED_N[0]) as f64,
                    copies_per_second / (100 + REPORTED_N[1]) as f64
                );
            }
        }
    }
    Ok(())
}
