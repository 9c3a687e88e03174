//! `robustdx defenses`: the registry with each defense's settings and defaults.

use robustdx_core::defense::DEFENSES;

use super::train::describe_settings;

pub fn run() -> anyhow::Result<()> {
    for entry in DEFENSES {
        println!("{:<8} {}", entry.name, entry.about);
        println!(
            "{:<8} settings: {}",
            "",
            describe_settings(&entry.defaults())
        );
    }
    Ok(())
}
