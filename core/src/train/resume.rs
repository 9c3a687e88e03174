//! The rules of resuming a training run. The recipe — objective, loss, schedule, sampling,
//! selection, optimiser — is the run's: changed mid-run it would train a model no card
//! describes, so a resumed run refuses it. The length, batch size and learning rate may change,
//! and the run says how.

use super::{TrainConfig, Trainer};

/// A recipe setting asked for differently than the run has it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeChange {
    /// The setting, as the training options name it (`defense`, `lr-schedule`).
    pub setting: &'static str,
    /// The value this invocation asks for.
    pub asked: String,
    /// The value the run was started with (and keeps).
    pub run: String,
}

/// A setting a resumed run may change, as it continues.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuedSetting {
    /// The setting, as the training options name it (`epochs`, `lr`).
    pub setting: &'static str,
    /// The value the run continues with.
    pub now: String,
    /// The value it had until now.
    pub was: String,
}

impl ContinuedSetting {
    /// Whether the resumed run changes it.
    pub fn changed(&self) -> bool {
        self.now != self.was
    }
}

/// What a resumed run does not continue with.
#[derive(Debug, Clone, PartialEq)]
pub enum ResumeRefusal {
    /// It trained on another data set.
    OtherData {
        /// The data set the run trained on.
        run: String,
        /// The data set asked for now.
        asked: String,
    },
    /// A recipe setting differs.
    Recipe(RecipeChange),
}

type Setting = (&'static str, fn(&TrainConfig) -> String);

/// The recipe: what a run keeps from its first epoch to its last.
const RECIPE: [Setting; 11] = [
    // Before the defense, whose description also shows it: the refusal names the flag.
    ("convention", |c| {
        format!("{:?}", c.recipe.defense.convention).to_lowercase()
    }),
    ("defense", |c| c.recipe.defense.describe()),
    ("loss", |c| c.recipe.loss.describe()),
    ("lr-schedule", |c| format!("{:?}", c.recipe.schedule)),
    ("weight-decay", |c| c.recipe.weight_decay.to_string()),
    ("nesterov", |c| c.recipe.nesterov.to_string()),
    ("augment", |c| c.recipe.augment.to_string()),
    ("balance", |c| c.recipe.balance.to_string()),
    ("select", |c| c.select.describe()),
    ("optimizer", |c| c.optimizer.to_string()),
    // Batch norm normalises each device's part by its own statistics.
    ("devices", |c| c.recipe.devices.to_string()),
];

/// What may change between sessions of one run.
const ADJUSTABLE: [Setting; 3] = [
    ("epochs", |c| c.epochs.to_string()),
    ("batch-size", |c| c.batch_size.to_string()),
    ("lr", |c| c.learning_rate.to_string()),
];

impl Trainer {
    /// Continues this resumed run on `data_name` with `asked` (the run's configuration with
    /// whatever was asked for now laid over it): the same data and recipe, or a refusal naming
    /// what differs; the adjustable settings, as they were and are now.
    pub fn continue_with(
        &mut self,
        data_name: &str,
        asked: TrainConfig,
    ) -> Result<Vec<ContinuedSetting>, ResumeRefusal> {
        if self.data_name != data_name {
            return Err(ResumeRefusal::OtherData {
                run: self.data_name.clone(),
                asked: data_name.to_string(),
            });
        }
        if let Some(change) = RECIPE.into_iter().find_map(|(setting, value)| {
            let (asked, run) = (value(&asked), value(&self.config));
            (asked != run).then_some(RecipeChange {
                setting,
                asked,
                run,
            })
        }) {
            return Err(ResumeRefusal::Recipe(change));
        }
        let continued = ADJUSTABLE
            .into_iter()
            .map(|(setting, value)| ContinuedSetting {
                setting,
                now: value(&asked),
                was: value(&self.config),
            })
            .collect();
        self.config = asked;
        Ok(continued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::Convention;
    use crate::data::synthetic::{self, SyntheticConfig, SyntheticKind};
    use crate::defense::DefenseSpec;
    use crate::test_support::{cpu, seeded_small_cnn};

    fn trainer() -> Trainer {
        let data = synthetic::open(
            SyntheticKind::Derm,
            &SyntheticConfig {
                n: 4,
                test: 2,
                size: 16,
                seed: 1,
            },
        );
        let model = seeded_small_cnn(data.train.info(), 16, 4, 1);
        let config = TrainConfig {
            epochs: 2,
            ..TrainConfig::default()
        };
        Trainer::new(model, config, "synth-derm", &cpu()).unwrap()
    }

    #[test]
    fn the_recipe_is_the_runs_and_the_length_may_change() {
        let mut run = trainer();
        let mut asked = run.config.clone();
        asked.recipe.defense = DefenseSpec::new("mart", &Default::default()).unwrap();
        let refusal = run.continue_with("synth-derm", asked).unwrap_err();
        let ResumeRefusal::Recipe(change) = refusal else {
            panic!("{refusal:?}")
        };
        assert_eq!(change.setting, "defense");
        assert_eq!(change.run, "clean");
        assert!(change.asked.starts_with("mart"), "{change:?}");

        let refusal = run
            .continue_with("synth-chest", run.config.clone())
            .unwrap_err();
        assert!(matches!(refusal, ResumeRefusal::OtherData { .. }));

        let asked = TrainConfig {
            epochs: 5,
            ..run.config.clone()
        };
        let continued = run.continue_with("synth-derm", asked).unwrap();
        let epochs = &continued[0];
        assert_eq!((epochs.setting, epochs.was.as_str()), ("epochs", "2"));
        assert!(epochs.changed() && !continued[1].changed());
        assert_eq!(run.config.epochs, 5);
    }

    #[test]
    fn a_resumed_run_keeps_its_number_of_devices() {
        let mut run = trainer();
        let mut asked = run.config.clone();
        asked.recipe.devices = 2;
        assert_eq!(
            run.continue_with("synth-derm", asked).unwrap_err(),
            ResumeRefusal::Recipe(RecipeChange {
                setting: "devices",
                asked: "2".into(),
                run: "1".into(),
            })
        );
    }

    #[test]
    fn a_resumed_run_keeps_the_units_of_its_inner_attack() {
        let mut run = trainer();
        let pixel = DefenseSpec::new("pgd-at", &Default::default()).unwrap();
        run.config.recipe.defense = pixel.clone();
        let mut asked = run.config.clone();
        asked.recipe.defense =
            DefenseSpec::in_convention("pgd-at", Convention::Paper, &Default::default()).unwrap();
        let refusal = run.continue_with("synth-derm", asked).unwrap_err();
        assert_eq!(
            refusal,
            ResumeRefusal::Recipe(RecipeChange {
                setting: "convention",
                asked: "paper".into(),
                run: "pixel".into(),
            })
        );
        assert_eq!(run.config.recipe.defense, pixel);
    }
}
