//! Resource limits: every count or size that input controls is bounded by one of these.
//!
//! Declared once, in the `limits!` table below: each row gives the [`Limit`] variant, its
//! name (`max_nodes`), the CLI flag and lint policy key that set it, its default, and the
//! lines the CLI help and `docs/limits.md` show. [`Limits`], lint's `[limits]` table
//! ([`LimitOverrides`]), the CLI flags (`src/cli/limits.rs`) and the docs table (checked by
//! a test here) are all derived from it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One row of the limits table.
#[derive(Debug)]
pub struct LimitInfo {
    /// The limit this row describes.
    pub limit: Limit,
    /// Its name in messages, in [`Limits`] and in the docs (`max_nodes`).
    pub name: &'static str,
    /// The CLI flag that sets it (`--max-nodes`), where one does.
    pub flag: Option<&'static str>,
    /// Its key in lint's `[limits]` policy table (`max-nodes`), where one does.
    pub policy_key: Option<&'static str>,
    /// What the flag's value is called in `--help` (`N`, `BYTES`).
    pub value_name: &'static str,
    /// Its default value.
    pub default: u64,
    /// The flag's one-line `--help` text.
    pub help: &'static str,
    /// What it bounds, as the docs say it.
    pub bounds: &'static str,
}

macro_rules! limits {
    (
        // Rows that are fields of [`Limits`]: set by a flag on `explain`/`extract` and by
        // lint's `[limits]` table.
        read: { $( $variant:ident => $field:ident: $ty:ty = $default:expr,
            $flag:literal, $key:literal, $value_name:literal, $help:literal, $bounds:literal; )* }
        // Rows that bound something else: their own flag, or none (fixed).
        other: { $( $ovariant:ident => $oname:literal = $odefault:expr,
            $oflag:expr, $ovalue_name:literal, $ohelp:literal, $obounds:literal; )* }
    ) => {
        /// A resource limit, as [`ErrorKind::LimitExceeded`](crate::ErrorKind) names it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Limit {
            $( #[doc = $help] $variant, )*
            $( #[doc = $ohelp] $ovariant, )*
        }

        /// The limits table, one row per [`Limit`], in declaration order.
        pub static LIMITS: &[LimitInfo] = &[
            $( LimitInfo {
                limit: Limit::$variant,
                name: stringify!($field),
                flag: Some($flag),
                policy_key: Some($key),
                value_name: $value_name,
                default: $default as u64,
                help: $help,
                bounds: $bounds,
            }, )*
            $( LimitInfo {
                limit: Limit::$ovariant,
                name: $oname,
                flag: $oflag,
                policy_key: None,
                value_name: $ovalue_name,
                default: $odefault as u64,
                help: $ohelp,
                bounds: $obounds,
            }, )*
        ];

        /// Hard limits applied while reading untrusted input. Hitting one is an error naming
        /// the limit, never a crash or an unbounded allocation.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct Limits {
            $( #[doc = $help] pub $field: $ty, )*
        }

        impl Default for Limits {
            /// Generous enough for real multi-GB checkpoints, whose pickles are small beside
            /// their array payloads; a 100 MB opcode-dense pickle builds about 10 million
            /// nodes.
            fn default() -> Self {
                Limits { $( $field: $default, )* }
            }
        }

        impl Limits {
            /// The limits that are fields of [`Limits`] (the ones flags and policies set).
            pub const READ: &'static [Limit] = &[ $( Limit::$variant, )* ];

            /// The value of `limit`, if it is a field of [`Limits`].
            pub fn get(&self, limit: Limit) -> Option<u64> {
                match limit {
                    $( Limit::$variant => u64::try_from(self.$field).ok(), )*
                    _ => None,
                }
            }

            /// Sets `limit` (a value past the field's type saturates); false if it is not
            /// a field of [`Limits`].
            pub fn set(&mut self, limit: Limit, value: u64) -> bool {
                match limit {
                    $( Limit::$variant => {
                        self.$field = <$ty>::try_from(value).unwrap_or(<$ty>::MAX);
                        true
                    } )*
                    _ => false,
                }
            }
        }

        /// lint's `[limits]` policy table: each limit of [`Limits`] optional, keyed by its
        /// policy key.
        #[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct LimitOverrides {
            $(
                #[doc = $help]
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl LimitOverrides {
            /// Applies the limits given to `limits`.
            pub fn apply(&self, limits: &mut Limits) {
                $( if let Some(v) = self.$field { limits.$field = v; } )*
            }

            /// Every limit of `limits`, given.
            pub fn of(limits: &Limits) -> LimitOverrides {
                LimitOverrides { $( $field: Some(limits.$field), )* }
            }
        }
    };
}

limits! {
    read: {
        Nodes => max_nodes: usize = 16_000_000, "--max-nodes", "max-nodes", "N",
            "Most objects built for one file.",
            "objects the symbolic machine builds for one file: at most 2 GiB at the 128 bytes each costs at its peak (an 89 MB pickle of 2 million dicts builds about 10 million, and peaks at 760 MB)";
        Memo => max_memo: usize = 16_000_000, "--max-memo", "max-memo", "N",
            "Most memo entries per pickle.",
            "memo entries per pickle (each names an object, so no file needs more than `max_nodes`)";
        Depth => max_depth: usize = 10_000_000, "--max-depth", "max-depth", "N",
            "Deepest MARK nesting.",
            "MARK nesting";
        Decompressed => max_decompressed: u64 = 4u64 << 30, "--max-decompressed",
            "max-decompressed", "BYTES",
            "Most bytes a compressed stream or zip member may expand to.",
            "what a gzip/bz2/xz/lzma/zlib/lz4/zstd stream, or a deflated zip member, may expand to, whatever its size";
        DecompressionRatio => max_decompression_ratio: u64 = 2_000,
            "--max-decompression-ratio", "max-decompression-ratio", "N",
            "Most times its own size a compressed stream may expand to (at least 1 MiB).",
            "what a compressed stream or a deflated zip member may expand to, as a multiple of its compressed size (but always 1 MiB): deflate (gzip, zlib, zip) cannot pass 1,032, so only bz2, xz, lzma, zstd and lz4 streams of almost nothing but repeats reach it (a 1.2 KB bz2 file that inflates to 2.6 GiB, a 4.7 KB xz file of 30 million objects)";
        Memory => max_memory: u64 = 8u64 << 30, "--max-memory", "max-memory", "BYTES",
            "Most memory lint's parallel checks may count on together.",
            "memory `lint`'s parallel checks may take together, as [estimated](#memory) from each file's size and the limits above: a check waits until the files being checked leave room for it, and a file whose estimate is larger than the whole budget is checked alone (`explain` and `extract` read one file at a time)";
        Pickles => max_pickles: usize = 100_000, "--max-pickles", "max-pickles", "N",
            "Most pickles one after another in a stream.",
            "pickles one after another in one stream";
        ZipMembers => max_zip_members: usize = crate::container::DEFAULT_MAX_ZIP_MEMBERS,
            "--max-zip-members", "max-zip-members", "N",
            "Most members of a zip archive.",
            "members of a zip (torch checkpoint, npz)";
    }
    other: {
        Bytes => "max_bytes" = crate::extract::DEFAULT_MAX_BYTES, Some("--max-bytes"), "BYTES",
            "Most bytes extract writes (array data, or the --to json document).",
            "array data written in all (a torch view with stride 0 can describe far more data than its storage holds), and the size of the `--to json` document, which is built in memory (a string shared a million times through the memo, or `$ref` paths along a chain of shared containers, can make it far larger than its input)";
        NpyHeaderDepth => "npy header nesting" = crate::container::MAX_NPY_HEADER_DEPTH, None, "N",
            "Deepest literal nesting of a .npy header (fixed).",
            "`.npy` header literal nesting";
        DisIndent => "max_indent" = crate::dis::DEFAULT_MAX_INDENT, Some("--max-indent"),
            "LEVELS",
            "Deepest MARK level dis indents a line by (0: no cap, as pickletools).",
            "MARK levels a `dis` line is indented by: pickletools indents by the full depth, so 100,000 nested MARKs would print tens of GB. Deeper lines are indented as at this level, and a warning on standard error says so; `--max-indent 0` prints what pickletools prints";
        NestedDepth => "nested payload depth" = crate::analysis::MAX_NESTED_DEPTH, None, "N",
            "Deepest nesting of pickles opened from bytes another pickle loads (fixed).",
            "pickles and archives opened from bytes passed to `pickle.loads`, `torch.load` of a `BytesIO`, `torch.storage._load_from_bytes` and the like, inside one another; deeper ones are a `limit-exceeded` finding";
    }
}

/// Peak bytes of memory one object of the symbolic machine's graph costs, with its share
/// of the stack, the memo, the walks over the graph and the report: measured at 118
/// (a file of 31 million empty tuples peaked at 3.7 GB), `size_of::<Node>()` being 32.
pub const NODE_BYTES: u64 = 128;

/// What a compressed stream may always expand to, whatever the ratio: tiny files of real
/// data can compress more than any ratio says.
pub const MIN_DECOMPRESSED: u64 = 1 << 20;

impl Limits {
    /// What a compressed stream (or deflated zip member) of `compressed` bytes may expand
    /// to, and the limit that says so: `max_decompression_ratio` times its size (at least
    /// [`MIN_DECOMPRESSED`]), within `max_decompressed`.
    pub fn decompression_cap(&self, compressed: u64) -> (u64, Limit) {
        let by_ratio = compressed
            .saturating_mul(self.max_decompression_ratio)
            .max(MIN_DECOMPRESSED);
        if by_ratio < self.max_decompressed {
            (by_ratio, Limit::DecompressionRatio)
        } else {
            (self.max_decompressed, Limit::Decompressed)
        }
    }

    /// The most memory reading an input of `len` bytes can take under these limits: its
    /// decoded bytes (half as much again while the buffer grows) and [`NODE_BYTES`] for
    /// each object it may build (at most one per decoded byte, within `max_nodes`). With
    /// `compressed` (a compressed stream or an archive whose members may be deflated), the
    /// decoded bytes are what [`Limits::decompression_cap`] allows; otherwise the input
    /// itself, which the caller already holds (or has mapped).
    pub fn worst_case_memory(&self, len: u64, compressed: bool) -> u64 {
        let decoded = if compressed {
            self.decompression_cap(len).0
        } else {
            len
        };
        let nodes = decoded.min(u64::try_from(self.max_nodes).unwrap_or(u64::MAX));
        let buffer = if compressed {
            decoded.saturating_add(decoded / 2)
        } else {
            0
        };
        buffer.saturating_add(nodes.saturating_mul(NODE_BYTES))
    }
}

impl Limit {
    /// This limit's row of [`LIMITS`].
    pub fn info(self) -> &'static LimitInfo {
        // Rows are declared in variant order, so the variant's index is its row; the
        // search is the fallback that keeps this total.
        match LIMITS.get(self as usize) {
            Some(info) if info.limit == self => info,
            _ => LIMITS
                .iter()
                .find(|info| info.limit == self)
                .unwrap_or(&UNKNOWN),
        }
    }

    /// Its name in messages (`max_nodes`).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The note a message about this limit ends with: `(limit max_nodes)`. The CLI finds it
    /// there to add the flag that raises the limit.
    pub fn note(self) -> String {
        format!("(limit {})", self.name())
    }

    /// The error for input that went past this limit: `what` followed by [`Limit::note`].
    #[cold]
    pub fn exceeded(self, offset: u64, what: impl fmt::Display) -> crate::Error {
        crate::Error::new(
            crate::ErrorKind::LimitExceeded(self),
            offset,
            format!("{what} {}", self.note()),
        )
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Never returned: every variant has a row (a test checks it).
static UNKNOWN: LimitInfo = LimitInfo {
    limit: Limit::NpyHeaderDepth,
    name: "unknown limit",
    flag: None,
    policy_key: None,
    value_name: "N",
    default: 0,
    help: "",
    bounds: "",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_is_its_own_row_and_names_follow_one_spelling() {
        for (i, info) in LIMITS.iter().enumerate() {
            assert_eq!(info.limit as usize, i, "{}", info.name);
            assert!(std::ptr::eq(info.limit.info(), info));
            if let Some(flag) = info.flag {
                assert_eq!(flag, format!("--{}", info.name.replace('_', "-")));
            }
            if let Some(key) = info.policy_key {
                assert_eq!(key, info.name.replace('_', "-"));
            }
        }
        let d = Limits::default();
        // One file's worst case fits the memory budget, under the default limits.
        assert!(d.worst_case_memory(u64::MAX, true) <= d.max_memory);
        assert!(d.worst_case_memory(u64::MAX, false) <= d.max_memory);
        for &limit in Limits::READ {
            assert_eq!(d.get(limit), Some(limit.info().default), "{limit}");
            assert!(limit.info().policy_key.is_some());
        }
    }

    #[test]
    fn the_policy_table_uses_the_policy_keys() {
        let all = LimitOverrides::of(&Limits::default());
        let text = serde_json::to_string(&all).unwrap_or_default();
        for &limit in Limits::READ {
            let key = limit.info().policy_key.unwrap_or_default();
            assert!(text.contains(&format!("\"{key}\":")), "{key} in {text}");
        }
        let mut limits = Limits::default();
        let one: LimitOverrides = serde_json::from_str(r#"{"max-depth": 7}"#).unwrap();
        one.apply(&mut limits);
        assert_eq!(limits.max_depth, 7);
        assert!(serde_json::from_str::<LimitOverrides>(r#"{"max-dept": 7}"#).is_err());
    }

    /// How docs/limits.md writes a default: `100,000,000`, `64 GiB`.
    fn doc_number(v: u64) -> String {
        if v >= 1 << 30 && v.is_multiple_of(1 << 30) {
            return format!("{} GiB", v >> 30);
        }
        let digits = v.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn docs_list_every_limit_with_a_flag_as_the_table_declares_it() {
        let docs = include_str!("../docs/limits.md");
        for info in LIMITS {
            let Some(flag) = info.flag else { continue };
            let row = format!(
                "| `{}` | {} | `{flag} {}` | {} |",
                info.name,
                doc_number(info.default),
                info.value_name,
                info.bounds
            );
            assert!(docs.contains(&row), "docs/limits.md lacks the row\n{row}");
        }
    }

    #[test]
    fn the_decompression_cap_is_the_ratio_within_the_ceiling() {
        let d = Limits::default();
        assert_eq!(
            d.decompression_cap(10),
            (MIN_DECOMPRESSED, Limit::DecompressionRatio)
        );
        assert_eq!(
            d.decompression_cap(1_000_000),
            (2_000_000_000, Limit::DecompressionRatio)
        );
        assert_eq!(d.decompression_cap(1 << 30), (4 << 30, Limit::Decompressed));
        assert_eq!(
            d.decompression_cap(u64::MAX),
            (4 << 30, Limit::Decompressed)
        );
    }

    #[test]
    fn a_node_costs_what_the_budget_assumes() {
        // NODE_BYTES was measured with a Node of 32 bytes: a larger one needs measuring again.
        assert!(std::mem::size_of::<crate::machine::Node<'_>>() <= 32);
    }

    #[test]
    fn a_limit_error_names_the_limit_not_a_flag() {
        let e = Limit::Depth.exceeded(3, "MARKs nested more than 2 deep");
        assert_eq!(e.kind(), crate::ErrorKind::LimitExceeded(Limit::Depth));
        assert_eq!(
            e.message(),
            "MARKs nested more than 2 deep (limit max_depth)"
        );
    }
}
