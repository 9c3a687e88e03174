//! `robustdx perturbations`: the kinds of the Robust-Benchmark, what each does and its schedule.

use robustdx_core::perturb::PERTURBATIONS;

pub fn run() -> anyhow::Result<()> {
    for kind in PERTURBATIONS {
        println!(
            "{:<15} {:<12} {}\n{:<28} frame i: {}",
            kind.name(),
            format!("vs {}", kind.reference().name()),
            kind.about(),
            "",
            kind.schedule().describe()
        );
    }
    Ok(())
}
