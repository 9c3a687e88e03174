//! The tour's chapters: a few plain sentences, what to notice, and the settings of the live view
//! beside them. The text is data; `mod.rs` draws it.

use robustdx_core::attack::{FastGradientSignMethod, ProjectedGradientDescent};
use robustdx_core::defense::GaussianAugmentation;
use robustdx_core::page_link::PageView;

/// What a chapter's live view runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demo {
    /// The model's decision on the clean image, with its Grad-CAM.
    Decision,
    /// One FGSM step at the slider's ε.
    SmallestChange,
    /// PGD, replayed step by step.
    Steps,
    /// A perturbation sequence beside FGSM at ε.
    Everyday,
    /// The same attack on a clean and a defended model.
    Defending,
    /// The image's certificate.
    Certify,
}

/// A chapter's settings before the reader changes them.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub attack: &'static str,
    pub eps: f32,
    pub steps: usize,
    /// Which of the model's samples it starts on (the first when there are fewer): the
    /// defending chapter opens on one the clean model loses and the defended one keeps (the
    /// browser test checks it does).
    pub sample: usize,
    /// The training of the model it starts on (the first such model), when not the first
    /// model's: a certificate needs a model trained with noise.
    pub trained_with: Option<&'static str>,
}

pub struct Chapter {
    pub title: &'static str,
    pub text: &'static str,
    pub notice: &'static str,
    pub demo: Demo,
    pub preset: Preset,
}

impl Demo {
    /// What the lab puts first when a chapter opens it.
    pub fn lab_view(self) -> PageView {
        match self {
            Demo::Decision | Demo::SmallestChange => PageView::Outcome,
            Demo::Steps => PageView::Steps,
            Demo::Everyday => PageView::Sequence,
            Demo::Defending => PageView::Compare,
            Demo::Certify => PageView::Certify,
        }
    }

    /// Whether the reader moves ε in this chapter.
    pub fn has_eps(self) -> bool {
        !matches!(self, Demo::Decision | Demo::Certify)
    }
}

const FGSM: &str = FastGradientSignMethod::NAME;
const PGD: &str = ProjectedGradientDescent::NAME;

pub const CHAPTERS: [Chapter; 6] = [
    Chapter {
        title: "The model and its decision",
        text: "A small network trained on dermoscopy-like images looks at a lesion and gives each \
               class a probability. Grad-CAM colours the places whose evidence pushed that decision \
               the most.",
        notice: "Which class wins, and by how much; whether the warm colours sit on the lesion or \
                 on the skin around it.",
        demo: Demo::Decision,
        preset: Preset {
            attack: FGSM,
            eps: 0.0,
            steps: 1,
            sample: 0,
            trained_with: None,
        },
    },
    Chapter {
        title: "The smallest change that flips it",
        text: "FGSM moves every pixel by at most ε/255, each in the direction that raises the \
               model's loss fastest: one gradient, one step. Move the slider and watch the \
               probabilities.",
        notice: "The attacked image looks like the clean one; the amplified perturbation is a \
                 pattern, not noise; at some ε the bars swap.",
        demo: Demo::SmallestChange,
        preset: Preset {
            attack: FGSM,
            eps: 8.0,
            steps: 1,
            sample: 0,
            trained_with: None,
        },
    },
    Chapter {
        title: "Why gradients find it",
        text: "PGD takes FGSM's step many times in smaller strides and pulls the image back within \
               ε after each. Every step follows the gradient of the loss, so the loss climbs. \
               Play it, pause it, or walk it one step at a time.",
        notice: "The loss curve rises with each step while the image hardly changes; the wrong \
                 class gains a little every time until it wins.",
        demo: Demo::Steps,
        preset: Preset {
            attack: PGD,
            eps: 4.0,
            steps: 10,
            sample: 0,
            trained_with: None,
        },
    },
    Chapter {
        title: "Everyday changes and adversarial ones",
        text: "Real images change too: noise, blur, light, a turned camera. The Robust-Benchmark \
               makes ten ever stronger frames of one kind and counts the flips. Beside it, FGSM \
               changes each pixel by ε/255 at most.",
        notice: "Noise that changes pixels by far more than ε seldom flips the model; the small \
                 adversarial change does. The direction matters, not the size.",
        demo: Demo::Everyday,
        preset: Preset {
            attack: FGSM,
            eps: 8.0,
            steps: 1,
            sample: 0,
            trained_with: None,
        },
    },
    Chapter {
        title: "Defending",
        text: "Adversarial training (PGD-AT) trains the model on attacked images. The same PGD \
               attack runs here on the clean model (left) and on a defended one (right), on the \
               same image.",
        notice: "Where the clean model flips, the defended one holds its decision and its loss \
                 rises less. Raise ε: every defense has a budget it was trained for.",
        demo: Demo::Defending,
        preset: Preset {
            attack: PGD,
            eps: 2.0,
            steps: 10,
            sample: 1,
            trained_with: None,
        },
    },
    Chapter {
        title: "How sure can we be?",
        text: "An attack that fails proves nothing: a stronger one might succeed. Randomized \
               smoothing asks the model about many noisy copies of the image and certifies a \
               radius within which no change at all can flip their vote, with a stated \
               probability of being wrong.",
        notice: "The radius is an L2 distance in pixel units, a proof rather than a failed \
                 attempt, and small beside the attacks above. The model shown was trained with \
                 noise; pick a clean-trained one and its noisy copies may vote for another class \
                 than the image's own.",
        demo: Demo::Certify,
        preset: Preset {
            attack: PGD,
            eps: 2.0,
            steps: 10,
            sample: 0,
            trained_with: Some(GaussianAugmentation::NAME),
        },
    },
];
