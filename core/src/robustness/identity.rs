//! What makes a result the result it is, and which part of the split a run covers. `--resume`
//! reuses a cell only when its identity matches in full; `merge` only joins shards of one sweep.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::attack::{AttackSpec, Convention};
use crate::{Error, Result};

/// Everything that decides a cell's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultIdentity {
    /// The attack, its budget, convention, settings and revision.
    pub attack: AttackSpec,
    /// The model, the data and the seed (flattened: the keys files have always had).
    #[serde(flatten)]
    pub subject: Subject,
    /// Images per attack batch, for the paper convention only: it clips to the batch's min /
    /// max, so its numbers depend on the batch. Absent for the pixel convention, whose numbers
    /// do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
}

/// What a result was measured on: the model file, the data and the seed — the part of every
/// result's identity that is not the method's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// SHA-256 of the model file's bytes: a retrained model at the same path is another model.
    pub model_sha256: String,
    /// The data as the user named it, with the options that decide what is in the split.
    pub data: String,
    /// The [fingerprint](crate::data::fingerprint) of the whole split (every sample's id and
    /// file size and modification time, or a hash of its bytes): an image added, removed or
    /// replaced under the same `data` is other data. Absent in files written before it existed,
    /// whose results are then recomputed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_fingerprint: Option<String>,
    /// `train` or `test`.
    pub split: String,
    /// Seeds every random draw (keyed by image).
    pub seed: u64,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    lower_hex(&Sha256::digest(bytes))
}

/// `digest` as lower-case hex, as identities write hashes.
pub fn lower_hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl ResultIdentity {
    /// The identity of `attack` on `subject`, run `batch_size` images at a time: the batch size
    /// is part of it for the paper convention only.
    pub fn new(attack: AttackSpec, subject: Subject, batch_size: usize) -> Self {
        let batch_size = (attack.convention == Convention::Paper).then_some(batch_size);
        Self {
            attack,
            subject,
            batch_size,
        }
    }

    /// What differs between `self` (recorded) and `now`, in words, for "recomputed because …".
    pub fn differences(&self, now: &ResultIdentity) -> Vec<String> {
        let mut out = attack_differences(&self.attack, &now.attack);
        if self.batch_size != now.batch_size {
            let show = |b: Option<usize>| b.map_or("-".into(), |b| b.to_string());
            out.push(format!(
                "batch size {} → {}",
                show(self.batch_size),
                show(now.batch_size)
            ));
        }
        out.extend(self.subject.differences(&now.subject));
        out
    }
}

/// How two attack specs differ, in words ("ε 4 → 8", "steps 2 → 3").
pub(crate) fn attack_differences(a: &AttackSpec, b: &AttackSpec) -> Vec<String> {
    let mut out = Vec::new();
    let mut differ = |what: &str, was: String, is: String| {
        if was != is {
            out.push(format!("{what} {was} → {is}"));
        }
    };
    differ("attack", a.attack.clone(), b.attack.clone());
    differ("ε", a.eps.to_string(), b.eps.to_string());
    differ("norm", format!("{:?}", a.norm), format!("{:?}", b.norm));
    differ(
        "convention",
        format!("{:?}", a.convention),
        format!("{:?}", b.convention),
    );
    differ("goal", format!("{:?}", a.goal), format!("{:?}", b.goal));
    differ(
        "revision of the attack",
        a.revision.to_string(),
        b.revision.to_string(),
    );
    let keys: std::collections::BTreeSet<&String> =
        a.settings.keys().chain(b.settings.keys()).collect();
    for key in keys {
        let show = |v: Option<&serde_json::Value>| v.map_or("-".into(), |v| v.to_string());
        differ(key, show(a.settings.get(key)), show(b.settings.get(key)));
    }
    out
}

#[cfg(test)]
impl Subject {
    /// Nothing recorded but the test split: for tests of what is built on a result.
    pub(crate) fn unrecorded() -> Self {
        Self {
            model_sha256: String::new(),
            data: String::new(),
            data_fingerprint: None,
            split: "test".into(),
            seed: 0,
        }
    }
}

impl Subject {
    /// How `self` (recorded) and `now` differ, in words ("seed 0 → 1", "model sha256 3f2a… →
    /// 9c41…", "data fingerprint not recorded → 5d0e…").
    pub fn differences(&self, now: &Subject) -> Vec<String> {
        let short = |h: &str| h.chars().take(12).collect::<String>();
        let fingerprint = |f: &Option<String>| {
            f.as_deref()
                .map_or("not recorded".into(), |f| format!("{}…", short(f)))
        };
        [
            (
                "model sha256",
                short(&self.model_sha256),
                short(&now.model_sha256),
            ),
            ("data", self.data.clone(), now.data.clone()),
            (
                "data fingerprint",
                fingerprint(&self.data_fingerprint),
                fingerprint(&now.data_fingerprint),
            ),
            ("split", self.split.clone(), now.split.clone()),
            ("seed", self.seed.to_string(), now.seed.to_string()),
        ]
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(what, a, b)| format!("{what} {a} → {b}"))
        .collect()
    }
}

/// Part `index` (zero-based) of `count` disjoint, contiguous parts of a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which part, 0 ≤ `index` < `count`.
    pub index: usize,
    /// How many parts the split is cut into (≥ 1).
    pub count: usize,
}

impl Shard {
    /// The most parts a run is cut into: above any cluster's job-array limit (Slurm's
    /// MaxArraySize is at most 4 000 001), so a larger count is a typo.
    pub const MAX_COUNT: usize = 1_000_000;

    /// Parses `i/n` (0 ≤ i < n ≤ [`Shard::MAX_COUNT`]), as `--shard` takes it.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "--shard {text}: expected i/n with 0 ≤ i < n ≤ {} (e.g. 0/4 … 3/4; \
                 Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)",
                Self::MAX_COUNT
            ))
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let shard = Shard {
            index: i.trim().parse().map_err(|_| bad())?,
            count: n.trim().parse().map_err(|_| bad())?,
        };
        if !shard.is_valid() {
            return Err(bad());
        }
        Ok(shard)
    }

    /// 0 ≤ index < count ≤ [`Shard::MAX_COUNT`]: what [`Shard::parse`] accepts, and what a
    /// shard read from a result file must be.
    pub fn is_valid(&self) -> bool {
        self.count <= Self::MAX_COUNT && self.index < self.count
    }

    /// The images of a split of `len` this shard covers. Computed in 128 bits: `len × index`
    /// cannot overflow, whatever a result file says.
    pub fn range(&self, len: usize) -> Range<usize> {
        let at = |part: usize| {
            // A count of 0 (only from a file) covers nothing.
            let count = self.count as u128;
            if count == 0 {
                return 0;
            }
            // ≤ len, so it fits back into usize.
            (len as u128 * (part as u128).min(count) / count) as usize
        };
        at(self.index)..at(self.index.saturating_add(1))
    }

    /// The images this shard covers when it may only cut between the batches of `batch_size`
    /// images a single run makes (the paper convention, whose numbers depend on the batch):
    /// this shard's part of the batches, so that its batches are the single run's.
    pub fn range_in_batches(&self, len: usize, batch_size: usize) -> Range<usize> {
        let batch_size = batch_size.max(1);
        let batches = self.range(len.div_ceil(batch_size));
        (batches.start * batch_size).min(len)..(batches.end * batch_size).min(len)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_a_split() {
        for len in [0, 1, 7, 10, 33] {
            for count in 1..6 {
                let mut covered = vec![];
                for index in 0..count {
                    covered.extend(Shard { index, count }.range(len));
                }
                assert_eq!(covered, (0..len).collect::<Vec<_>>(), "{len} {count}");
            }
        }
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        for bad in ["4/4", "1", "a/b", "0/0", "-1/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    /// Cut on batch boundaries, the shards still partition the split, and every shard but the
    /// last covers whole batches: 10 images in batches of 4 are [0..4), [4..8), [8..10).
    #[test]
    fn shards_in_batches_cut_only_between_batches() {
        for len in [0, 1, 7, 10, 33] {
            for batch in [1, 3, 4, 8] {
                for count in 1..6 {
                    let mut covered = vec![];
                    for index in 0..count {
                        let range = Shard { index, count }.range_in_batches(len, batch);
                        assert!(
                            range.start.is_multiple_of(batch) || range.is_empty(),
                            "{range:?}"
                        );
                        assert!(
                            range.end.is_multiple_of(batch) || range.end == len,
                            "{range:?}"
                        );
                        covered.extend(range);
                    }
                    assert_eq!(
                        covered,
                        (0..len).collect::<Vec<_>>(),
                        "{len} {batch} {count}"
                    );
                }
            }
        }
        let cut = |index| Shard { index, count: 3 }.range_in_batches(10, 4);
        assert_eq!([cut(0), cut(1), cut(2)], [0..4, 4..8, 8..10]);
        // Shards by image would have cut at 3 and 6, inside the first and second batch.
        assert_eq!(Shard { index: 0, count: 3 }.range(10), 0..3);
    }

    #[test]
    fn the_batch_size_is_part_of_the_paper_conventions_identity_only() {
        let subject = Subject {
            model_sha256: "ab".repeat(32),
            data: "synth-derm".into(),
            data_fingerprint: Some("cd".repeat(32)),
            split: "test".into(),
            seed: 0,
        };
        let spec = |convention| {
            AttackSpec::new(
                "pgd",
                4.0,
                crate::attack::Norm::Linf,
                convention,
                crate::attack::Goal::Untargeted,
                &Default::default(),
            )
            .unwrap()
        };
        let pixel = |batch| ResultIdentity::new(spec(Convention::Pixel), subject.clone(), batch);
        let paper = |batch| ResultIdentity::new(spec(Convention::Paper), subject.clone(), batch);
        assert_eq!(pixel(8), pixel(32));
        assert_eq!(pixel(8).batch_size, None);
        assert_ne!(paper(8), paper(32));
        assert_eq!(paper(8).differences(&paper(32)), ["batch size 8 → 32"]);
    }

    /// A result recorded before fingerprints existed is read, and differs from one with a
    /// fingerprint, saying so.
    #[test]
    fn a_missing_fingerprint_counts_as_different() {
        let now = Subject {
            model_sha256: "ab".repeat(32),
            data: "folder:x".into(),
            data_fingerprint: Some("5d0e".repeat(16)),
            split: "test".into(),
            seed: 0,
        };
        let json = r#"{"model_sha256": "abababababababababababababababababababababababababababababababab",
            "data": "folder:x", "split": "test", "seed": 0}"#;
        let old: Subject = serde_json::from_str(json).unwrap();
        assert_eq!(old.data_fingerprint, None);
        assert_ne!(old, now);
        assert_eq!(
            old.differences(&now),
            ["data fingerprint not recorded → 5d0e5d0e5d0e…"]
        );
    }

    /// Huge numbers: an error naming the flag (beyond usize, or over the cap), never an
    /// overflow; a shard read from a file with absurd numbers still covers a sane range.
    #[test]
    fn huge_shard_numbers_are_refused_and_never_overflow() {
        let max = usize::MAX;
        for bad in [
            format!("{}/{}", max - 1, max),
            "1/1000001".to_string(),
            "99999999999999999999999/99999999999999999999999999".to_string(),
        ] {
            let e = Shard::parse(&bad).unwrap_err().to_string();
            assert!(
                e.contains(&format!("--shard {bad}")) && e.contains("1000000"),
                "{e}"
            );
        }
        assert!(Shard::parse("999999/1000000").is_ok());
        let last = Shard {
            index: max - 1,
            count: max,
        };
        assert_eq!(last.range(max), (max - 1)..max);
        assert_eq!(last.range(10), 9..10);
        let absurd = Shard {
            index: max,
            count: 3,
        };
        assert!(!absurd.is_valid());
        assert_eq!(absurd.range(10), 10..10);
        assert_eq!(Shard { index: 0, count: 0 }.range(10), 0..0);
    }

    #[test]
    fn sha256_of_a_known_string() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
