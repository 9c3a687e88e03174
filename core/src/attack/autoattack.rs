//! AutoAttack (Croce & Hein, ICML 2020): a fixed ensemble of diverse parameter-free attacks run
//! in turn, each only on the images every earlier one left standing, an image counting as robust
//! only if all of them fail. The standard version is APGD-CE, APGD-T, FAB-T and Square (5 000
//! queries, no gradients: it catches gradient masking); `rand`, for randomised models, is APGD-CE
//! and APGD-DLR averaging 20 gradient samples (EoT). Which member broke each image first is kept,
//! and the contribution table (AutoAttack's log) is computed from those records.
//!
//! Members are other registry entries, written `name` or `name:key=value:key=value` in the
//! `attacks` setting; the canonical form spells out every member setting, so a result names
//! exactly what ran and a changed member default is a changed identity.

use burn::Tensor;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::budget::{place_images, row_indices};
use super::registry::{AttackContext, AttackEntry, AttackInfo, AttackSpec};
use super::{Attack, AttackedModel, Goal, Perturbed, SampleKeys, attack_info};
use crate::registry::{Settings, parse_assignments, typed_settings};
use crate::robustness::{Decision, decision};
use crate::task::{probabilities, rows};
use crate::{Error, Label, Result};

/// Which members run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Version {
    /// APGD-CE, APGD-T, FAB-T, Square: the published standard evaluation.
    #[default]
    Standard,
    /// APGD-CE and APGD-DLR with 20 EoT gradient samples, for randomised models.
    Rand,
    /// The members given in `attacks`.
    Custom,
}

/// AutoAttack's settings in an [`AttackSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AutoAttackSettings {
    /// `standard`, `rand` or `custom`.
    pub version: Version,
    /// The members in running order, comma-separated, each `name` or `name:key=value:…`
    /// (filled in from `version` unless it is `custom`).
    pub attacks: String,
}

impl AutoAttackSettings {
    /// The standard members with Square's query budget cut to `queries` (a `custom` version):
    /// what a quick look on a CPU can afford, since Square's 5 000 model calls per standing
    /// image are most of the standard version's cost. Its robust accuracy is an upper bound on
    /// the standard version's.
    pub fn standard_with_square_queries(queries: usize) -> Self {
        let members: Vec<String> = Version::Standard
            .members()
            .split(',')
            .map(|member| match member == super::square::ENTRY.info.name {
                true => format!("{member}:queries={queries}"),
                false => member.to_string(),
            })
            .collect();
        Self {
            version: Version::Custom,
            attacks: members.join(","),
        }
    }
}

impl Version {
    /// The members a version runs, as AutoAttack's `set_version` lists them.
    fn members(self) -> &'static str {
        match self {
            Version::Standard => "apgd,apgd-t,fab-t,square",
            Version::Rand => "apgd:eot=20,apgd:loss=dlr:eot=20",
            Version::Custom => "",
        }
    }
}

pub(crate) const ENTRY: AttackEntry = AttackEntry {
    info: AttackInfo {
        name: "autoattack",
        about: "AutoAttack: APGD-CE, APGD-T, FAB-T and Square in turn, each on the images the \
                earlier left standing (Croce & Hein 2020); binary and multi-label tasks included",
        fixed_goal: None,
        revision: 0,
        stepwise: false,
        targeted: false,
        gradient_free: false,
        randomised: true,
        needs_generator: false,
        // It runs APGD-CE first, with the same keyed draws: it can only leave fewer images.
        dominates: Some(super::apgd::ENTRY.info.name),
        // A data-set evaluation: it reads back which images still stand after every member.
        on_page: false,
        canonical: canonical_autoattack,
    },
    build: |spec, context| Ok(Box::new(AutoAttack::from_spec(spec, context)?)),
};

/// One member: its label in the contribution table and the spec it runs.
struct Member {
    label: String,
    spec: AttackSpec,
}

/// The member list in `text` as specs at the suite's budget, each with its label (the name and
/// the settings that differ from the member's defaults).
fn parse_members(text: &str, suite: &AttackSpec) -> Result<Vec<Member>> {
    let mut members: Vec<Member> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut pieces = part.split(':');
        let name = pieces.next().unwrap_or_default().trim();
        let info = attack_info(name)?;
        if info.name == ENTRY.info.name || info.needs_generator || info.fixed_goal.is_some() {
            return Err(Error::invalid(format!(
                "autoattack: {name} cannot be a member (members are self-contained untargeted \
                 attacks)"
            )));
        }
        let pairs: Vec<String> = pieces.map(str::to_string).collect();
        let settings = parse_assignments(name, &info.defaults(), &pairs)?;
        let spec = AttackSpec::new(
            name,
            suite.eps,
            suite.norm,
            suite.convention,
            Goal::Untargeted,
            &settings,
        )?;
        let label = std::iter::once(info.name.to_string())
            .chain(spec.changed_settings())
            .collect::<Vec<_>>()
            .join(":");
        if members.iter().any(|m| m.spec == spec) {
            return Err(Error::invalid(format!(
                "autoattack: {label} is listed twice (each member runs once)"
            )));
        }
        members.push(Member { label, spec });
    }
    if members.is_empty() {
        return Err(Error::invalid(
            "autoattack: no members (version=custom needs attacks=name,name:key=value,…)",
        ));
    }
    Ok(members)
}

/// The settings with the version's members filled in and every member setting spelled out.
fn canonical_autoattack(given: &Settings) -> Result<Settings> {
    let mut settings: AutoAttackSettings = typed_settings(
        ENTRY.info.name,
        &crate::registry::canonical_settings::<AutoAttackSettings>(given)?,
    )?;
    let listed = settings.attacks.trim().to_string();
    let of_version = settings.version.members();
    settings.attacks = match (settings.version, listed.is_empty()) {
        (Version::Custom, true) => {
            return Err(Error::invalid(
                "version=custom needs attacks=name,name:key=value,… (e.g. attacks=apgd,square)",
            ));
        }
        (Version::Custom, false) => listed,
        (_, true) => of_version.to_string(),
        (version, false) => {
            // The listed members must be the version's (as written, or spelled out).
            let spelled = |text: &str| -> Result<Vec<AttackSpec>> {
                Ok(parse_members(text, &placeholder_suite())?
                    .into_iter()
                    .map(|m| m.spec)
                    .collect())
            };
            if spelled(&listed)? != spelled(of_version)? {
                return Err(Error::invalid(format!(
                    "attacks={listed} is not the {} version's list ({of_version}); \
                     set version=custom to choose the members",
                    serde_json::to_value(version).unwrap_or_default()
                )));
            }
            listed
        }
    };
    // Spell every member out: the result then names every setting that ran.
    let members = parse_members(&settings.attacks, &placeholder_suite())?;
    settings.attacks = members
        .iter()
        .map(|m| {
            std::iter::once(m.spec.attack.clone())
                .chain(m.spec.settings.iter().map(|(k, v)| {
                    format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_string))
                }))
                .collect::<Vec<_>>()
                .join(":")
        })
        .collect::<Vec<_>>()
        .join(",");
    match serde_json::to_value(&settings) {
        Ok(Value::Object(map)) => Ok(map),
        _ => unreachable!("settings serialise as an object"),
    }
}

/// A budget to check member settings against before the suite's own is known.
fn placeholder_suite() -> AttackSpec {
    AttackSpec {
        attack: ENTRY.info.name.into(),
        eps: 1.0,
        norm: super::Norm::Linf,
        convention: super::Convention::Pixel,
        goal: Goal::Untargeted,
        settings: Settings::new(),
        revision: ENTRY.info.revision,
    }
}

/// AutoAttack, ready to run: its members, built.
pub struct AutoAttack {
    members: Vec<(String, Box<dyn Attack>)>,
}

impl AutoAttack {
    /// Its registry name.
    pub const NAME: &'static str = ENTRY.info.name;

    /// The suite a spec describes, its members built at the spec's budget.
    pub fn from_spec(spec: &AttackSpec, context: &AttackContext) -> Result<Self> {
        if spec.goal != Goal::Untargeted {
            return Err(Error::invalid(
                "AutoAttack is untargeted (its targeted members pick their own target classes)",
            ));
        }
        let settings: AutoAttackSettings = spec.settings_as()?;
        let members = parse_members(&settings.attacks, spec)?
            .into_iter()
            .map(|m| Ok((m.label, m.spec.build(context)?)))
            .collect::<Result<_>>()?;
        Ok(Self { members })
    }
}

/// Whether each image's decision under `logits` is its truth.
fn still_correct(model: &AttackedModel, logits: Tensor<2>, labels: &[Label]) -> Result<Vec<bool>> {
    let task = model.task();
    Ok(rows(probabilities(task, logits))?
        .iter()
        .zip(labels)
        .map(|(probs, label)| decision(task, probs) == Decision::from(label))
        .collect())
}

impl Attack for AutoAttack {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn goal(&self) -> Goal {
        Goal::Untargeted
    }

    fn members(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|(label, _)| label.clone())
            .collect()
    }

    fn perturb(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        labels: &[Label],
        keys: &SampleKeys,
    ) -> Result<Tensor<4>> {
        Ok(self.perturb_detailed(model, images, labels, keys)?.images)
    }

    /// Runs the members in turn on the images still decided correctly; an image takes the first
    /// member's point that makes it wrong. Images wrong from the start are not attacked (they
    /// count as not robust, as in AutoAttack) and keep their clean pixels.
    fn perturb_detailed(
        &self,
        model: &AttackedModel,
        images: Tensor<4>,
        labels: &[Label],
        keys: &SampleKeys,
    ) -> Result<Perturbed> {
        let device = images.device();
        let batch = labels.len();
        let mut standing = still_correct(model, model.logits(images.clone()), labels)?;
        let mut adversarial = images.clone();
        let mut broken_by: Vec<Option<String>> = vec![None; batch];
        for (label, member) in &self.members {
            let rows: Vec<usize> = (0..batch).filter(|&i| standing[i]).collect();
            if rows.is_empty() {
                break;
            }
            let member_labels: Vec<Label> = rows.iter().map(|&i| labels[i].clone()).collect();
            // The images keep their own keys: a member draws the same numbers for an image
            // whatever else is still standing.
            let member_keys =
                SampleKeys::new(keys.seed, rows.iter().map(|&i| keys.indices[i]).collect());
            let out = member.perturb_detailed(
                model,
                images.clone().select(0, row_indices(&rows, &device)),
                &member_labels,
                &member_keys,
            )?;
            let now_correct =
                still_correct(model, model.logits(out.images.clone()), &member_labels)?;
            // The member's images where it broke them go back into the batch.
            let (mut from, mut into) = (vec![], vec![]);
            for (k, &i) in rows.iter().enumerate() {
                if !now_correct[k] {
                    standing[i] = false;
                    broken_by[i] = Some(label.clone());
                    from.push(k);
                    into.push(i);
                }
            }
            if !into.is_empty() {
                let taken = out.images.select(0, row_indices(&from, &device));
                adversarial = place_images(adversarial, taken, &into);
            }
        }
        Ok(Perturbed {
            images: adversarial,
            broken_by: Some(broken_by),
            // Square's queries are its own records' (an image it never saw spent none).
            queries: None,
        })
    }
}
