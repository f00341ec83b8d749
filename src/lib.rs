//! pklinspect: open Python pickle files without executing them.
//!
//! Data flows one way: bytes ([`input`]) → containers ([`container`]: compressed streams,
//! joblib, torch, `.npy`/`.npz`) → opcodes ([`opcode`] table, [`reader`]; listings in
//! [`dis`]) → the symbolic machine ([`machine`]) → lifted arrays and values ([`lift`]) →
//! classified imports, findings and a verdict ([`inspect`](mod@inspect), a [`report::Report`]) →
//! renderers ([`render`]), extractors ([`extract`](mod@extract)) and the policy checks of [`lint`].
//! Nothing here imports, calls or evaluates anything from the input, prints, or exits: the
//! binary in `src/main.rs` does that. It is behind the default feature `cli`; a program
//! that only wants the library depends on `pklinspect` with `default-features = false`
//! and compiles no clap, indicatif, anstream or mimalloc.
//!
//! The crate root re-exports the entry points ([`inspect()`], [`extract()`], [`dis_all`]),
//! the error ([`Error`], [`ErrorKind`], [`Limit`]), the [`Limits`] every entry point reads
//! under, [`Input`] and the opcode table and reader. The modules [`analysis`],
//! [`container`], [`lift`], [`machine`] and [`pytext`] are lower-level stages, public for
//! tests, fuzz targets and callers that need one stage alone; they may change between
//! minor versions.
//!
//! # Explain: what is inside, and is it safe to load?
//!
//! [`inspect()`] reads one input's bytes (a file's, mapped or read with
//! [`input::Input`]) and returns an owned [`report::Report`]; [`render`] prints it as
//! `pklinspect explain` does.
//!
//! ```
//! use pklinspect::classify::Verdict;
//! use pklinspect::inspect::Options;
//! use pklinspect::rules::Rule;
//! use pklinspect::inspect;
//!
//! // pickle.dumps(R(), protocol=2), where R.__reduce__ returns (posix.system, ("echo pwned",))
//! let bytes = b"\x80\x02cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.";
//! let report = inspect("evil.pkl", bytes, &Options::default())?;
//! assert_eq!(report.verdict, Verdict::Dangerous);
//! let import = &report.pickles[0].imports[0];
//! assert_eq!((import.module.as_str(), import.name.as_str()), ("posix", "system"));
//! // Every finding has the byte offset of the opcode behind it.
//! assert_eq!(report.findings[0].rule, Rule::CodeExec);
//! assert_eq!(report.findings[0].offset, Some(2));
//!
//! // `explain --format json` (schema pklinspect.explain/1).
//! let json = pklinspect::render::json::explain_value(&report);
//! assert_eq!(json["verdict"], "dangerous");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A malformed input is an [`Error`] with an [`ErrorKind`] and the offset where reading
//! stopped:
//!
//! ```
//! use pklinspect::inspect::Options;
//! use pklinspect::{inspect, ErrorKind};
//!
//! let e = inspect("cut.pkl", b"\x80\x04\x95", &Options::default()).unwrap_err();
//! assert_eq!(e.kind(), ErrorKind::Truncated);
//! assert!(e.to_string().contains("(at offset 2 = 0x2)"), "{e}");
//! ```
//!
//! # Extract: arrays and plain data out, nothing loaded
//!
//! [`extract()`] writes the arrays as `.npy` files (or one `.npz`), or the whole
//! object tree as JSON. Files are written atomically: on an error nothing is left behind.
//!
//! ```
//! use pklinspect::extract::{ExtractOptions, Refusal, Target};
//! use pklinspect::extract;
//!
//! // pickle.dumps({"lr": 0.001, "layers": [64, 32]}, protocol=2)
//! let bytes = b"\x80\x02}q\x00(X\x02\x00\x00\x00lrq\x01G?PbM\xd2\xf1\xa9\xfc\
//!               X\x06\x00\x00\x00layersq\x02]q\x03(K@K eu.";
//! // No file: the document is returned (the CLI prints it). The other settings (force,
//! // bfloat16, max_bytes, limits) keep their defaults.
//! let mut options = ExtractOptions::new(Target::Json { file: None, arrays_as_files: false });
//! let extracted = extract("config.pkl", bytes, &options)?;
//! assert_eq!(extracted.json.as_deref(), Some(&b"{\"lr\":0.001,\"layers\":[64,32]}\n"[..]));
//!
//! // A plain .npy (numpy.save of numpy.array([1, 2, 3], dtype=numpy.int8)) to a folder of
//! // .npy files with an index.json.
//! let mut npy = b"\x93NUMPY\x01\x00v\x00{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }"
//!     .to_vec();
//! npy.resize(127, b' ');
//! npy.extend(b"\n\x01\x02\x03");
//! let out = tempfile::tempdir()?;
//! options.target = Target::Npy { dir: out.path().join("arrays") };
//! let extracted = extract("a.npy", &npy, &options)?;
//! let written = &extracted.index.arrays[0];
//! assert_eq!(written.shape, [3]);
//! let file = std::fs::read(out.path().join("arrays").join(&written.file))?;
//! assert_eq!(file, npy);
//!
//! // The folder is no longer empty: writing into it again is refused unless `force`.
//! let e = extract("a.npy", &npy, &options).unwrap_err();
//! assert_eq!(Refusal::of(&e), Some(Refusal::FolderNotEmpty));
//! options.force = true;
//! extract("a.npy", &npy, &options)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Lint: many files against a policy, for CI
//!
//! A [`lint::Linter`] walks paths as ripgrep does (`.gitignore` honoured), checks every
//! pickle it finds in parallel under a [`lint::Policy`] and returns a [`lint::Run`]: each
//! file's findings, the summary and the exit status `pklinspect lint` would have.
//!
//! ```
//! use pklinspect::lint::{Linter, Policy, Status};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(
//!     dir.path().join("evil.pkl"),
//!     b"\x80\x02cposix\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.",
//! )?;
//! std::fs::write(dir.path().join("empty.pkl"), b"\x80\x02}q\x00.")?;
//!
//! // The built-in policy; `Policy::discover` finds pklinspect.toml or pyproject.toml.
//! let policy = Policy::defaults(dir.path());
//! let run = Linter::new(policy).path(dir.path()).run()?;
//! let summary = run.summary();
//! assert_eq!((summary.files, summary.files_with_findings, summary.errors), (2, 1, 1));
//! let evil = &run.files[1];
//! assert!(evil.name.ends_with("evil.pkl"));
//! assert_eq!(evil.findings[0].rule.id(), "code-exec");
//! assert_eq!(run.status(), Status::Findings);
//! assert_eq!(run.status().exit_code(), 1);
//!
//! // The text `pklinspect lint` prints (with anstyle escapes; false: with the summary).
//! let mut text = Vec::new();
//! pklinspect::lint::output::write_text(&mut text, &run, false)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Dis: the opcodes, as `python -m pickletools` lists them
//!
//! ```
//! use pklinspect::dis::DisOptions;
//! use pklinspect::dis_all;
//!
//! let mut listing = Vec::new();
//! let summary = dis_all(b"\x80\x02K*.", &DisOptions::default(), &mut listing)?;
//! assert_eq!(summary.pickles, [0]);
//! assert_eq!(
//!     String::from_utf8(listing)?,
//!     "    0: \\x80 PROTO      2\n    2: K    BININT1    42\n    4: .    STOP\n\
//!      highest protocol among opcodes = 2\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

// Lower-level stages: public for the tests, fuzz targets and benches, and for callers who
// need a stage alone; each module's docs say it may change between minor versions.
pub mod analysis;
pub mod container;
pub mod lift;
pub mod machine;
pub mod pytext;
// Rebuild recipes and rebuild.py, for `extract --to python`.
mod rebuild;

// The API: the entry points and the model they return.
pub mod classify;
pub mod dis;
pub mod error;
pub mod extract;
pub mod input;
pub mod inspect;
pub mod limits;
pub mod lint;
pub mod loaders;
pub mod opcode;
pub mod reader;
pub mod render;
pub mod report;
pub mod rules;

pub use dis::dis_all;
pub use error::{Error, ErrorKind, Result};
pub use extract::extract;
pub use input::Input;
pub use inspect::{inspect, inspect_partial};
pub use limits::{Limit, Limits};
pub use opcode::{ArgKind, Opcode, OpcodeInfo, StackKind, OPCODES};
pub use reader::{Arg, Op, OpReader};
