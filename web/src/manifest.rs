//! What the page ships: `assets/manifest.json` lists the models (trained by `robustdx` on the
//! synthetic sets, see `web/make-assets.sh`), the sample images and the models' robustness
//! cards. Their bytes are fetched when used, never compiled into the wasm.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippedModel {
    /// Short id used in URLs (`?model=…`).
    pub id: String,
    pub title: String,
    /// Path under `assets/`.
    pub file: String,
    /// The data set it was trained on; samples of the same set suit it.
    pub data: String,
    /// `clean` or the defense that hardened it (its registry name).
    pub training: String,
    /// How it was trained, in words: the model card's own line (`robustdx models FILE`).
    #[serde(default)]
    pub recipe: Option<String>,
    /// A GAP generator trained against it (path under `assets/`).
    pub generator: Option<String>,
    /// Whether it draws attention maps.
    pub attention: bool,
    pub about: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Short id used in URLs (`?image=…`).
    pub id: String,
    pub file: String,
    pub data: String,
    /// The ground truth of the synthetic image.
    pub truth: String,
}

/// A shipped model's robustness card (`robustdx card`), for the Leaderboard tab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippedCard {
    /// The id of the shipped model it is the card of.
    pub model: String,
    /// Path under `assets/`.
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub models: Vec<ShippedModel>,
    pub samples: Vec<Sample>,
    /// The zoo's cards; a manifest written before cards has none.
    #[serde(default)]
    pub cards: Vec<ShippedCard>,
}

/// Where the shipped files live, relative to the page.
pub const ASSETS: &str = "assets";

pub fn asset_url(file: &str) -> String {
    format!("./{ASSETS}/{file}")
}

impl ShippedModel {
    pub fn is_defended(&self) -> bool {
        self.training != "clean"
    }
}

impl Manifest {
    /// Reads `manifest.json`: a manifest without models, or with a model no sample suits, is an
    /// error the page shows (its Lab starts from the first model and its samples).
    pub fn parse(text: &str, url: &str) -> Result<Self, String> {
        let manifest: Manifest = serde_json::from_str(text)
            .map_err(|e| format!("{url}: not a robustdx asset manifest: {e}"))?;
        if manifest.models.is_empty() {
            return Err(format!(
                "{url}: the manifest lists no models, so there is nothing to attack"
            ));
        }
        if let Some(m) = manifest
            .models
            .iter()
            .find(|m| manifest.samples_for(m).next().is_none())
        {
            return Err(format!(
                "{url}: model '{}' has no sample images of its data set '{}'",
                m.id, m.data
            ));
        }
        if let Some(c) = manifest
            .cards
            .iter()
            .find(|c| manifest.model(&c.model).is_none())
        {
            return Err(format!(
                "{url}: card {} is of model '{}', which the manifest does not list",
                c.file, c.model
            ));
        }
        Ok(manifest)
    }

    pub fn model(&self, id: &str) -> Option<&ShippedModel> {
        self.models.iter().find(|m| m.id == id)
    }

    pub fn sample(&self, id: &str) -> Option<&Sample> {
        self.samples.iter().find(|s| s.id == id)
    }

    /// The samples that suit `model` (drawn from its data set).
    pub fn samples_for<'a>(&'a self, model: &'a ShippedModel) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |s| s.data == model.data)
    }
}
