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
        Nodes => max_nodes: usize = 100_000_000, "--max-nodes", "max-nodes", "N",
            "Most objects built for one file.",
            "objects the symbolic machine builds for one file (a 100 MB opcode-dense pickle builds about 10 million)";
        Memo => max_memo: usize = 100_000_000, "--max-memo", "max-memo", "N",
            "Most memo entries per pickle.",
            "memo entries per pickle";
        Depth => max_depth: usize = 10_000_000, "--max-depth", "max-depth", "N",
            "Deepest MARK nesting.",
            "MARK nesting";
        Decompressed => max_decompressed: u64 = 64u64 << 30, "--max-decompressed",
            "max-decompressed", "BYTES",
            "Most bytes a compressed stream or zip member may expand to.",
            "what a gzip/bz2/xz/lzma/zlib/lz4 stream, or a deflated zip member, may expand to";
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
        NestedDepth => "nested payload depth" = crate::analysis::MAX_NESTED_DEPTH, None, "N",
            "Deepest nesting of pickles opened from bytes another pickle loads (fixed).",
            "pickles and archives opened from bytes passed to `pickle.loads`, `torch.load` of a `BytesIO`, `torch.storage._load_from_bytes` and the like, inside one another; deeper ones are a `limit-exceeded` finding";
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
        if v >= 1 << 30 && v % (1 << 30) == 0 {
            return format!("{} GiB", v >> 30);
        }
        let digits = v.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
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
    fn a_limit_error_names_the_limit_not_a_flag() {
        let e = Limit::Depth.exceeded(3, "MARKs nested more than 2 deep");
        assert_eq!(e.kind(), crate::ErrorKind::LimitExceeded(Limit::Depth));
        assert_eq!(
            e.message(),
            "MARKs nested more than 2 deep (limit max_depth)"
        );
    }
}
