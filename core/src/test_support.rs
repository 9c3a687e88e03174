//! Small fixtures shared by the crate's unit tests.

use burn::tensor::Device;

use crate::data::{Dataset, DatasetInfo, Image, Sample};
use crate::{Label, Result, TaskKind};

/// The CPU backend every unit test runs on.
pub fn cpu() -> Device {
    Device::flex()
}

/// A tiny learnable task: class 1 images are bright on the left, class 0 on the right, with a
/// deterministic texture so that no two images are alike.
pub struct LeftRight {
    pub info: DatasetInfo,
    pub n: usize,
    pub size: usize,
}

impl LeftRight {
    pub fn new(n: usize, size: usize) -> Self {
        Self {
            info: DatasetInfo {
                name: format!("left-right:{n}"),
                task: TaskKind::Binary,
                class_names: vec!["right".into(), "left".into()],
                channels: 3,
            },
            n,
            size,
        }
    }
}

impl Dataset for LeftRight {
    fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn len(&self) -> usize {
        self.n
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let class = index % 2;
        let s = self.size;
        let mut pixels = Vec::with_capacity(3 * s * s);
        for c in 0..3 {
            for y in 0..s {
                for x in 0..s {
                    let left = x < s / 2;
                    let bright = if class == 1 { left } else { !left };
                    let texture = ((x * 7 + y * 13 + index * 31 + c * 5) % 17) as f32 / 17.0;
                    pixels.push(if bright {
                        0.6 + 0.3 * texture
                    } else {
                        0.1 + 0.3 * texture
                    });
                }
            }
        }
        Ok(Sample {
            image: Image::new(3, s, s, pixels),
            label: Label::Class(class),
        })
    }
}
