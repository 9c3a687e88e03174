//! `robustdx data preview`: a labelled contact sheet of a data set's images.

use std::path::PathBuf;

use clap::Args;
use robustdx_core::data::preview::contact_sheet;

use crate::data_args::{DataArgs, Split};
use crate::files::write_atomic;

#[derive(Debug, Args)]
pub struct PreviewArgs {
    #[command(flatten)]
    data: DataArgs,
    /// PNG file to write
    #[arg(long, default_value = "preview.png")]
    out: PathBuf,
    /// Number of images
    #[arg(long, default_value_t = 24)]
    count: usize,
    /// Images per row
    #[arg(long, default_value_t = 6)]
    columns: usize,
    #[arg(long, value_enum, default_value = "train")]
    split: Split,
}

pub fn run(args: PreviewArgs) -> anyhow::Result<()> {
    let splits = args.data.open()?;
    let dataset = match args.split {
        Split::Train => splits.train,
        Split::Test => splits.test,
    };
    let samples = (0..args.count.min(dataset.len()))
        .map(|i| dataset.get(i))
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(
        !samples.is_empty(),
        "{}: no images to preview",
        dataset.info().name
    );
    let sheet = contact_sheet(&samples, &dataset.info().class_names, args.columns.max(1));
    write_atomic(&args.out, &sheet.encode_png())?;
    println!(
        "{} images of {} -> {}",
        samples.len(),
        dataset.info().name,
        args.out.display()
    );
    Ok(())
}
