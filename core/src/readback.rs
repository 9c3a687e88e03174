//! Tensors back to the host, asynchronously: the only kind of read WebGPU allows (a blocking read
//! panics in a browser), and as good as a blocking one everywhere else.

use burn::Tensor;

use crate::data::Image;
use crate::{Error, Result};

/// The values of `t`, in row-major order.
pub async fn floats<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| Error::invalid(format!("cannot read a tensor back: {e:?}")))?;
    data.try_to_vec_as::<f32>()
        .map_err(|e| Error::invalid(format!("cannot read a tensor back: {e:?}")))
}

/// The images of a `[batch, channels, height, width]` tensor of pixels in [0, 1].
pub async fn images(t: Tensor<4>) -> Result<Vec<Image>> {
    let dims = t.dims();
    Ok(split_images(&floats(t).await?, dims))
}

/// Row-major `[batch, channels, height, width]` values as images.
pub(crate) fn split_images(values: &[f32], [b, c, h, w]: [usize; 4]) -> Vec<Image> {
    values
        .chunks(c * h * w)
        .take(b)
        .map(|p| Image::new(c, h, w, p.to_vec()))
        .collect()
}
