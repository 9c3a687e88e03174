//! The web page's state as a query string, so that a link opens exactly the view it was copied
//! from: a lecturer's link shows the class the same model, image, attack, ε and chapter, and the
//! browser's back and forward walk the states the reader went through. The codec lives here,
//! platform-free, so its round trip is tested with the rest of the core.

use crate::attack::attack_info;
use crate::report::ColourScale;

/// The page's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageTab {
    /// The guided tour, the page's first tab.
    Learn,
    /// The lab: any model, image and attack.
    Attack,
    /// The shipped zoo's cards.
    Leaderboard,
    /// A native result file or card, opened.
    Viewer,
    /// The synthetic data sets.
    Data,
}

/// What a chapter or the lab puts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageView {
    /// One attack's outcome: images, bars, Grad-CAM, loss.
    Outcome,
    /// A stepwise attack replayed step by step.
    Steps,
    /// A perturbation sequence beside an attack of the same size.
    Sequence,
    /// One attack on two models, side by side.
    Compare,
    /// The image's certificate.
    Certify,
}

/// The image a link names: a shipped sample, or a placeholder for the reader's own upload
/// (its bytes never leave the browser, so a link cannot carry them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleRef {
    /// A sample of the manifest, by id.
    Shipped(String),
    /// The reader's own image.
    Upload,
}

/// Every setting a link carries; `None` leaves the page's default (or the chapter's preset).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageLink {
    /// The tab shown.
    pub tab: Option<PageTab>,
    /// The tour's chapter, from 1.
    pub chapter: Option<usize>,
    /// A shipped model's id.
    pub model: Option<String>,
    /// The image attacked.
    pub sample: Option<SampleRef>,
    /// An attack of the registry.
    pub attack: Option<String>,
    /// ε in 1/255 units.
    pub eps: Option<f32>,
    /// Steps of a stepwise attack.
    pub steps: Option<usize>,
    /// Keys the random draws (perturbation sequences, certificates).
    pub seed: Option<u64>,
    /// What the chapter or lab puts first.
    pub view: Option<PageView>,
    /// The second model of a side-by-side comparison.
    pub compare: Option<String>,
    /// The colour scale of heat maps.
    pub scale: Option<ColourScale>,
    /// Presenter mode: large type, high contrast, keys walk the tour.
    pub present: bool,
}

const TABS: [(PageTab, &str); 5] = [
    (PageTab::Learn, "learn"),
    (PageTab::Attack, "attack"),
    (PageTab::Leaderboard, "leaderboard"),
    (PageTab::Viewer, "viewer"),
    (PageTab::Data, "data"),
];

const VIEWS: [(PageView, &str); 5] = [
    (PageView::Outcome, "outcome"),
    (PageView::Steps, "steps"),
    (PageView::Sequence, "sequence"),
    (PageView::Compare, "compare"),
    (PageView::Certify, "certify"),
];

/// The word a link writes for an upload (no shipped sample is called so).
const UPLOAD: &str = "upload";

fn name_of<T: PartialEq + Copy>(table: &[(T, &'static str)], value: T) -> &'static str {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, n)| *n)
        .expect("every value is in its table")
}

fn lookup<T: Copy>(table: &[(T, &'static str)], key: &str, word: &str) -> Result<T, String> {
    table
        .iter()
        .find(|(_, n)| *n == word)
        .map(|(v, _)| *v)
        .ok_or_else(|| {
            let known: Vec<&str> = table.iter().map(|(_, n)| *n).collect();
            format!("{key}={word}: not one of {}", known.join(", "))
        })
}

impl PageTab {
    /// Its word in a link.
    pub fn name(self) -> &'static str {
        name_of(&TABS, self)
    }
}

impl PageView {
    /// Its word in a link.
    pub fn name(self) -> &'static str {
        name_of(&VIEWS, self)
    }
}

impl PageLink {
    /// The query string (without `?`): only the settings that are set, in a fixed order.
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(t) = self.tab {
            pairs.push(("tab", t.name().into()));
        }
        if let Some(c) = self.chapter {
            pairs.push(("chapter", c.to_string()));
        }
        if let Some(m) = &self.model {
            pairs.push(("model", m.clone()));
        }
        match &self.sample {
            Some(SampleRef::Shipped(id)) => pairs.push(("sample", id.clone())),
            Some(SampleRef::Upload) => pairs.push(("sample", UPLOAD.into())),
            None => {}
        }
        if let Some(a) = &self.attack {
            pairs.push(("attack", a.clone()));
        }
        if let Some(e) = self.eps {
            // Rust writes the shortest decimal that reads back as the same f32.
            pairs.push(("eps", e.to_string()));
        }
        if let Some(s) = self.steps {
            pairs.push(("steps", s.to_string()));
        }
        if let Some(s) = self.seed {
            pairs.push(("seed", s.to_string()));
        }
        if let Some(v) = self.view {
            pairs.push(("view", v.name().into()));
        }
        if let Some(c) = &self.compare {
            pairs.push(("compare", c.clone()));
        }
        if let Some(s) = self.scale {
            pairs.push(("scale", s.name().into()));
        }
        if self.present {
            pairs.push(("present", "1".into()));
        }
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Reads a query string (with or without its `?`). A bad value is left out and named in the
    /// second part, so the page opens with what it could read and says what it could not.
    /// Keys this codec does not know (`embed`, `src`) belong to other modes and are skipped.
    pub fn parse(query: &str) -> (Self, Vec<String>) {
        let mut link = PageLink::default();
        let mut problems = Vec::new();
        let query = query.strip_prefix('?').unwrap_or(query);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(raw);
            if let Err(e) = link.set(key, &value) {
                problems.push(e);
            }
        }
        (link, problems)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let word = || -> Result<String, String> {
            match value.trim() {
                "" => Err(format!("{key}: empty")),
                v => Ok(v.to_string()),
            }
        };
        fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
            value
                .trim()
                .parse()
                .map_err(|_| format!("{key}={value}: not a whole number"))
        }
        match key {
            "tab" => self.tab = Some(lookup(&TABS, key, value)?),
            "chapter" => match number::<usize>(key, value)? {
                0 => return Err("chapter=0: chapters count from 1".into()),
                c => self.chapter = Some(c),
            },
            "model" => self.model = Some(word()?),
            "compare" => self.compare = Some(word()?),
            "sample" => {
                self.sample = Some(match word()?.as_str() {
                    UPLOAD => SampleRef::Upload,
                    id => SampleRef::Shipped(id.into()),
                })
            }
            "attack" => {
                let entry = attack_info(value).map_err(|e| format!("attack={value}: {e}"))?;
                self.attack = Some(entry.name.into());
            }
            "eps" => {
                let eps: f32 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("eps={value}: not a number"))?;
                if !(0.0..=255.0).contains(&eps) {
                    return Err(format!("eps={value}: ε is between 0 and 255 (1/255 units)"));
                }
                self.eps = Some(eps);
            }
            "steps" => match number::<usize>(key, value)? {
                0 => return Err("steps=0: at least one step".into()),
                s => self.steps = Some(s),
            },
            "seed" => self.seed = Some(number(key, value)?),
            "view" => self.view = Some(lookup(&VIEWS, key, value)?),
            "scale" => {
                self.scale =
                    Some(ColourScale::parse(value).map_err(|e| format!("scale={value}: {e}"))?)
            }
            "present" => self.present = !matches!(value, "0" | "false"),
            _ => {}
        }
        Ok(())
    }
}

/// Percent-encodes everything but URL-safe letters, digits and `-_.~`.
fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Undoes [`encode`] (and a form's `+` for a space); a broken escape stays as written.
fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> PageLink {
        PageLink {
            tab: Some(PageTab::Learn),
            chapter: Some(5),
            model: Some("small-cnn-derm".into()),
            sample: Some(SampleRef::Shipped("derm-3".into())),
            attack: Some("pgd".into()),
            eps: Some(2.5),
            steps: Some(10),
            seed: Some(7),
            view: Some(PageView::Compare),
            compare: Some("small-cnn-derm-pgd-at".into()),
            scale: Some(ColourScale::Cividis),
            present: true,
        }
    }

    #[test]
    fn a_link_reads_back_as_the_same_state() {
        let link = full();
        let query = link.to_query();
        assert_eq!(
            query,
            "tab=learn&chapter=5&model=small-cnn-derm&sample=derm-3&attack=pgd&eps=2.5&steps=10\
             &seed=7&view=compare&compare=small-cnn-derm-pgd-at&scale=cividis&present=1"
        );
        assert_eq!(PageLink::parse(&query), (link, vec![]));
        let upload = PageLink {
            sample: Some(SampleRef::Upload),
            eps: Some(1.0 / 3.0),
            ..PageLink::default()
        };
        assert_eq!(PageLink::parse(&upload.to_query()).0, upload);
        assert_eq!(PageLink::default().to_query(), "");
        assert_eq!(PageLink::parse("?"), (PageLink::default(), vec![]));
    }

    #[test]
    fn every_tab_and_view_round_trips() {
        for (tab, _) in TABS {
            let link = PageLink {
                tab: Some(tab),
                ..PageLink::default()
            };
            assert_eq!(PageLink::parse(&link.to_query()).0, link);
        }
        for (view, _) in VIEWS {
            let link = PageLink {
                view: Some(view),
                ..PageLink::default()
            };
            assert_eq!(PageLink::parse(&link.to_query()).0, link);
        }
    }

    #[test]
    fn odd_characters_are_escaped_and_read_back() {
        let link = PageLink {
            model: Some("my model&co=1%".into()),
            ..PageLink::default()
        };
        assert_eq!(link.to_query(), "model=my%20model%26co%3D1%25");
        assert_eq!(PageLink::parse(&link.to_query()).0, link);
        assert_eq!(PageLink::parse("model=a+b").0.model.as_deref(), Some("a b"));
        assert_eq!(PageLink::parse("model=a%2").0.model.as_deref(), Some("a%2"));
    }

    #[test]
    fn bad_values_are_named_and_the_rest_is_kept() {
        let (link, problems) = PageLink::parse(
            "tab=lab&eps=lots&steps=0&attack=nope&chapter=0&scale=jet&view=x&model=m&eps=300&seed=-1",
        );
        assert_eq!(
            link,
            PageLink {
                model: Some("m".into()),
                ..PageLink::default()
            }
        );
        let said = problems.join("\n");
        for needle in [
            "tab=lab: not one of learn, attack",
            "eps=lots: not a number",
            "steps=0",
            "attack=nope",
            "chapter=0",
            "scale=jet",
            "view=x: not one of outcome",
            "eps=300: ε is between 0 and 255",
            "seed=-1: not a whole number",
        ] {
            assert!(said.contains(needle), "{needle} missing from:\n{said}");
        }
        assert_eq!(problems.len(), 9);
    }

    #[test]
    fn other_modes_keys_are_left_alone() {
        let (link, problems) = PageLink::parse("embed=card&src=a.json&present=0&model=m");
        assert!(problems.is_empty());
        assert_eq!(
            link,
            PageLink {
                model: Some("m".into()),
                ..PageLink::default()
            }
        );
    }
}
