//! `robustdx attacks`: the registry, with each attack's settings and defaults.

use robustdx_core::attack::ATTACKS;

pub fn run() -> anyhow::Result<()> {
    for entry in ATTACKS {
        let settings = entry.defaults();
        println!("{:<6} {}", entry.name, entry.about);
        if !settings.is_empty() {
            println!(
                "       settings: {}",
                robustdx_core::attack::describe_settings(&settings)
            );
        }
    }
    Ok(())
}
