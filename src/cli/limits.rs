//! Flags that raise (or lower) the resource limits of `src/limits.rs`.

use clap::Args;
use pklinspect::limits::Limits;

/// Limit flags shared by the commands that read pickles.
#[derive(Args, Debug, Clone)]
pub(crate) struct LimitArgs {
    /// Most objects built for one file.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    max_nodes: Option<usize>,
    /// Most memo entries per pickle.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    max_memo: Option<usize>,
    /// Deepest MARK nesting.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    max_depth: Option<usize>,
    /// Most bytes a compressed stream or zip member may expand to.
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    max_decompressed: Option<u64>,
    /// Most pickles one after another in a stream.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    max_pickles: Option<usize>,
    /// Most members of a zip archive.
    #[arg(long, value_name = "N", help_heading = "Limits")]
    max_zip_members: Option<usize>,
}

impl LimitArgs {
    /// The defaults with these flags applied.
    pub fn limits(&self) -> Limits {
        let d = Limits::default();
        Limits {
            max_nodes: self.max_nodes.unwrap_or(d.max_nodes),
            max_memo: self.max_memo.unwrap_or(d.max_memo),
            max_depth: self.max_depth.unwrap_or(d.max_depth),
            max_decompressed: self.max_decompressed.unwrap_or(d.max_decompressed),
            max_pickles: self.max_pickles.unwrap_or(d.max_pickles),
            max_zip_members: self.max_zip_members.unwrap_or(d.max_zip_members),
        }
    }
}
