//! `robustdx data export`: a data set's images as PNG files, one folder per class.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use robustdx_core::Label;
use robustdx_core::robustness::finding_names;

use crate::data_args::{DataArgs, Split};
use crate::files::write_atomic;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Directory to write: one sub-folder per class (readable again as folder:DIR); multi-label
    /// sets get flat files and a labels.csv
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "test")]
    split: Split,
    /// At most this many images, from the start of the split
    #[arg(long)]
    limit: Option<usize>,
}

/// Writes a data set's images as PNG files: a synthetic set becomes an ordinary image folder
/// (for other tools, for the browser page's samples).
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let splits = args.data.open()?;
    let dataset = match args.split {
        Split::Train => splits.train,
        Split::Test => splits.test,
    };
    let info = dataset.info().clone();
    let count = args.limit.unwrap_or(usize::MAX).min(dataset.len());
    let mut csv = String::from("image,labels\n");
    for i in 0..count {
        let sample = dataset.get(i)?;
        let file = format!("{i:05}.png");
        let path = match &sample.label {
            Label::Class(c) => args.out.join(&info.class_names[*c]).join(&file),
            Label::Findings(f) => {
                let on = finding_names(f, &info.class_names);
                csv.push_str(&format!("{file},{}\n", on.join("|")));
                args.out.join(&file)
            }
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create the directory", dir.display()))?;
        }
        write_atomic(&path, &sample.image.encode_png())?;
    }
    if info.task.is_multi_label() {
        write_atomic(&args.out.join("labels.csv"), csv.as_bytes())?;
    }
    println!("{count} images of {} -> {}", info.name, args.out.display());
    Ok(())
}
