//! Resource limits: every count or size that input controls is bounded by one of these.

/// Hard limits applied while reading untrusted input. Hitting one is an error naming the
/// limit, never a crash or an unbounded allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Objects (nodes) the symbolic machine may build for one file.
    pub max_nodes: usize,
    /// Memo entries per pickle.
    pub max_memo: usize,
    /// MARK nesting depth.
    pub max_depth: usize,
    /// Bytes a compressed stream may expand to.
    pub max_decompressed: u64,
    /// Pickles one after another in one file.
    pub max_pickles: usize,
    /// Members of a zip archive (torch checkpoints, npz).
    pub max_zip_members: usize,
}

impl Default for Limits {
    /// Generous enough for real multi-GB checkpoints, whose pickles are small beside their
    /// array payloads; a 100 MB opcode-dense pickle builds about 10 million nodes.
    fn default() -> Self {
        Limits {
            max_nodes: 100_000_000,
            max_memo: 100_000_000,
            max_depth: 10_000_000,
            max_decompressed: 64 << 30,
            max_pickles: 100_000,
            max_zip_members: crate::container::DEFAULT_MAX_ZIP_MEMBERS,
        }
    }
}
