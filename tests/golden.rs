//! Golden files for the text output of `explain` and `lint`: what a person reads, pinned
//! byte for byte, so that any change of wording, order or layout shows up as a diff of
//! `tests/golden/` in review.
//!
//! Each case runs the built binary with the repository root as its working directory and
//! relative fixture paths (so no absolute path reaches a golden file), `--color never` and
//! `NO_COLOR=1`, and compares its standard output with `tests/golden/<command>/<case>.stdout`
//! and its standard error with `<case>.stderr` (that file exists only when something is
//! printed there). The exit code is part of the contract (SPEC §2): it is written in the
//! case tables below and asserted, never blessed.
//!
//! **Re-blessing.** After an intended change of the text output, run
//!
//! ```sh
//! PKLINSPECT_BLESS=1 cargo test --locked --test golden
//! ```
//!
//! which rewrites the golden files (and deletes the ones no case produces any more), then
//! read `git diff tests/golden/` line by line before committing: the goldens are reviewed
//! text, not a copy of whatever the code printed the first time. Without the variable a
//! mismatch fails with the first differing line of each file and this hint.
//!
//! The `torch/*_legacy.pt` fixtures are not byte-reproducible (their storage keys are memory
//! addresses, see `fixtures/README.md`): after `fixtures/generate.sh` their offsets may move
//! and their golden file needs a re-bless.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Set (to anything but `0` or empty) to rewrite the golden files from the current output.
const BLESS_VAR: &str = "PKLINSPECT_BLESS";

/// One run of the binary.
struct Case {
    /// The golden files' stem: `tests/golden/<command>/<name>.stdout` (and `.stderr`).
    name: &'static str,
    /// Arguments after `<command> --color never`; paths relative to the repository root.
    args: &'static [&'static str],
    /// The expected exit code.
    exit: i32,
}

const fn case(name: &'static str, args: &'static [&'static str], exit: i32) -> Case {
    Case { name, args, exit }
}

/// `explain FILE`, one fixture each, chosen so that together they show every section of the
/// text report (imports by category, arrays, findings, portability hints, what to do) and
/// the main containers (raw, gzip, joblib plain and compressed, torch zip and legacy, npz).
const EXPLAIN: &[Case] = &[
    // Plain data only: the portable verdict and a single plain import.
    case("plain_all_p4", &["fixtures/plain/all_p4.pkl"], 0),
    // numpy 1 names at protocol 2: the array bytes go through _codecs.encode (no offset).
    case(
        "numpy1_float64_2d_p2",
        &["fixtures/numpy1/float64_2d_p2.pkl"],
        0,
    ),
    // numpy 2: every dtype, an object array with a nested array, Fortran order, 0-d, empty.
    case(
        "numpy2_all_dtypes_p4",
        &["fixtures/numpy2/all_dtypes_p4.pkl"],
        0,
    ),
    // Protocol 5 out of band: the data is not in the file.
    case(
        "numpy2_float64_2d_p5_oob",
        &["fixtures/numpy2/float64_2d_p5_oob.pkl"],
        0,
    ),
    // A library object holding arrays: the portability hint with the object's state.
    case(
        "keras_np2_timeseries_generator_p4",
        &["fixtures/keras/np2_timeseries_generator_p4.pkl"],
        0,
    ),
    // __main__ class at protocol 0 (copy_reg._reconstructor, an unreachable __builtin__.object).
    case(
        "main_np1_data_wrapper_p0",
        &["fixtures/main/np1_data_wrapper_p0.pkl"],
        0,
    ),
    // Nested library objects: one hint per object.
    case(
        "sklearn_np2_pipeline_p4",
        &["fixtures/sklearn/np2_pipeline_p4.pkl"],
        0,
    ),
    // joblib (uncompressed), numpy 1 names, structured tree nodes.
    case(
        "sklearn_np1_random_forest_joblib",
        &["fixtures/sklearn/np1_random_forest.joblib"],
        0,
    ),
    // gzip container, many pandas globals, long paths and object arrays.
    case(
        "pandas_np2_frame_to_pickle_gz",
        &["fixtures/pandas/np2_frame_to_pickle.pkl.gz"],
        0,
    ),
    // Compressed joblib (lz4), with an object array pickled inside the joblib stream.
    case(
        "joblib_np2_arrays_lz4",
        &["fixtures/joblib/np2_arrays.joblib.lz4"],
        0,
    ),
    // torch zip: arrays located in archive members.
    case("torch_state_dict_zip", &["fixtures/torch/state_dict.pt"], 0),
    // torch legacy: five pickles, a whole nn.Module (library classes through persistent ids).
    case(
        "torch_module_legacy",
        &["fixtures/torch/module_legacy.pt"],
        0,
    ),
    // npz: a plain member and an object member with a pickle inside.
    case(
        "npz_numpy2_with_object",
        &["fixtures/numpy2/with_object.npz"],
        0,
    ),
    // A runtime handle (TensorFlow eager tensor).
    case(
        "runtime_tf_eager_tensor_p4",
        &["fixtures/runtime/tf_eager_tensor_p4.pkl"],
        0,
    ),
    // Code execution hidden in the second of two pickles.
    case(
        "hostile_benign_then_system",
        &["fixtures/hostile/benign_then_system.pkl"],
        0,
    ),
    // Malformed: a FRAME longer than the file; one error on stderr, exit 2.
    case(
        "malformed_truncated_numpy_stream",
        &["fixtures/malformed/truncated_numpy_stream.pkl"],
        2,
    ),
    // Malformed container: a gzip stream cut in half.
    case(
        "malformed_truncated_gzip",
        &["fixtures/malformed/truncated_gzip.pkl"],
        2,
    ),
    // Several files: the separator between reports, and a bad file in the middle that is
    // reported on stderr without stopping the others (exit 2 at the end).
    case(
        "several_files",
        &[
            "fixtures/stdlib/all_p2.pkl",
            "fixtures/malformed/unknown_opcode.pkl",
            "fixtures/hostile/os_system_p0.pkl",
        ],
        2,
    ),
];

/// `explain -` reading [`trailing_with_hidden_payload`] from standard input.
const EXPLAIN_STDIN_TRAILING: &str = "stdin_trailing_hidden_payload";

/// `lint --no-config FILE...` over fixtures named on the command line (the policy is the
/// built-in one, whatever pklinspect.toml is found above the repository).
const LINT: &[Case] = &[case(
    "named_fixtures",
    &[
        "--no-config",
        "fixtures/plain/all_p4.pkl",
        "fixtures/numpy2/float64_2d_p5_oob.pkl",
        "fixtures/main/np2_data_wrapper_p4.pkl",
        "fixtures/keras/np2_timeseries_generator.joblib",
        "fixtures/sklearn/np1_pipeline_p4.pkl",
        "fixtures/pandas/np2_frame_to_pickle.pkl.gz",
        "fixtures/torch/state_dict.pt",
        "fixtures/hostile/os_system_p0.pkl",
        "fixtures/hostile/torch_with_system.pt",
        "fixtures/hostile/joblib_with_system.joblib",
        "fixtures/stdlib/ext_codes_p2.pkl",
        "fixtures/runtime/tf_eager_tensor_p2.pkl",
        "fixtures/numpy1/with_object.npz",
        "fixtures/malformed/truncated_binint.pkl",
        "fixtures/malformed/truncated_gzip.pkl",
    ],
    1,
)];

/// `lint --no-config` with no path, run inside the folder [`lint_tree`] builds.
const LINT_FOLDER: &str = "walked_folder";

#[test]
fn explain_text_matches_the_golden_files() {
    let mut goldens = Goldens::new();
    for case in EXPLAIN {
        let out = run("explain", case.args, repo(), None);
        goldens.check("explain", case.name, case.args, &out, case.exit);
    }
    let out = run(
        "explain",
        &["-"],
        repo(),
        Some(&trailing_with_hidden_payload()),
    );
    goldens.check("explain", EXPLAIN_STDIN_TRAILING, &["-"], &out, 0);
    goldens.finish();
}

#[test]
fn lint_text_of_named_files_matches_the_golden_files() {
    let mut goldens = Goldens::new();
    for case in LINT {
        let out = run("lint", case.args, repo(), None);
        goldens.check("lint", case.name, case.args, &out, case.exit);
    }
    goldens.finish();
}

#[test]
fn lint_text_of_a_walked_folder_matches_the_golden_file() {
    let dir = lint_tree();
    let out = run("lint", &["--no-config"], dir.path(), None);
    let mut goldens = Goldens::new();
    goldens.check("lint", LINT_FOLDER, &["--no-config"], &out, 1);
    goldens.finish();
}

/// A renamed or removed case must not leave its old golden file behind, unreviewed.
#[test]
fn every_golden_file_belongs_to_a_case() {
    let mut known: BTreeSet<(&str, &str)> = EXPLAIN.iter().map(|c| ("explain", c.name)).collect();
    known.insert(("explain", EXPLAIN_STDIN_TRAILING));
    known.extend(LINT.iter().map(|c| ("lint", c.name)));
    known.insert(("lint", LINT_FOLDER));
    let mut stale = Vec::new();
    for command in ["explain", "lint"] {
        let Ok(entries) = std::fs::read_dir(golden_dir().join(command)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let stem = name
                .strip_suffix(".stdout")
                .or_else(|| name.strip_suffix(".stderr"));
            if !stem.is_some_and(|s| known.contains(&(command, s))) {
                if blessing() {
                    std::fs::remove_file(&path).unwrap();
                } else {
                    stale.push(format!("tests/golden/{command}/{name}"));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "golden files that no case produces: {}\n\
         delete them, or run `{BLESS_VAR}=1 cargo test --test golden`",
        stale.join(", ")
    );
}

// ---------------------------------------------------------------------------------------
// Inputs made from fixtures

fn fixture_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(repo().join("fixtures").join(rel)).unwrap()
}

/// A clean pickle, bytes that start no pickle, then a pickle that calls `posix.system`:
/// a loader stops after the first pickle, so the payload sits where nothing reads it
/// (`trailing-data` and `unreachable-payload`). No fixture has this shape.
fn trailing_with_hidden_payload() -> Vec<u8> {
    let mut bytes = fixture_bytes("plain/ints_p4.pkl");
    bytes.extend_from_slice(b"\xff\xfe trailing junk ");
    bytes.extend_from_slice(&fixture_bytes("hostile/os_system_p4.pkl"));
    bytes
}

/// `hostile/os_system_p2.pkl` without its final STOP: CPython has already called
/// `posix.system` when it meets the end of the input.
fn truncated_system_call() -> Vec<u8> {
    let mut bytes = fixture_bytes("hostile/os_system_p2.pkl");
    assert_eq!(bytes.pop(), Some(b'.'), "the fixture ends with STOP");
    bytes
}

/// A small project folder: clean, library, compressed, hostile, trailing, truncated and
/// non-pickle files, and one hostile file excluded by an `.ignore` file.
fn lint_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |to: &str, bytes: &[u8]| {
        let path = dir.path().join(to);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write("clean.pkl", &fixture_bytes("plain/all_p2.pkl"));
    write(
        "models/pipeline.joblib",
        &fixture_bytes("sklearn/np1_pipeline.joblib"),
    );
    // bz2-compressed joblib under a misleading name: recognised by content.
    write(
        "models/arrays_bz2.pkl",
        &fixture_bytes("joblib/np1_arrays_bz2.pkl"),
    );
    write(
        "data/hostile.pkl",
        &fixture_bytes("hostile/os_system_p4.pkl"),
    );
    write("data/trailing.pkl", &trailing_with_hidden_payload());
    write("data/truncated_system.pkl", &truncated_system_call());
    // Looked at by content and skipped: counted in the summary.
    write("data/blob.bin", b"not a pickle\n");
    // Text: looked at by content and skipped, like `.ignore` (hidden files are walked).
    write("README.txt", b"hello\n");
    write("ignored.pkl", &fixture_bytes("hostile/eval_p0.pkl"));
    write(".ignore", b"ignored.pkl\n");
    dir
}

// ---------------------------------------------------------------------------------------
// Running and comparing

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn golden_dir() -> PathBuf {
    repo().join("tests").join("golden")
}

fn blessing() -> bool {
    std::env::var_os(BLESS_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

struct Output {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Runs `pklinspect <command> --color never ARGS` in `cwd` without colour, feeding `stdin`.
fn run(command: &str, args: &[&str], cwd: &Path, stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pklinspect"))
        .arg(command)
        .args(["--color", "never"])
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Output {
        stdout: normalise_duration(&String::from_utf8(out.stdout).unwrap()),
        stderr: normalise_duration(&String::from_utf8(out.stderr).unwrap()),
        code: out.status.code(),
    }
}

/// `lint`'s summary line says how long the run took (`6 files checked in 17 ms: …`), which
/// changes from run to run: the number becomes `N`. A plain search for `" checked in "`
/// followed by digits and `" ms"`, no regex.
fn normalise_duration(text: &str) -> String {
    const MARK: &str = " checked in ";
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if let Some(at) = line.find(MARK) {
            let (head, rest) = line.split_at(at + MARK.len());
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && rest[digits..].starts_with(" ms") {
                out.push_str(head);
                out.push('N');
                out.push_str(&rest[digits..]);
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

/// Compares outputs with golden files (or rewrites them), collecting every mismatch so
/// that one run shows them all.
struct Goldens {
    bless: bool,
    failures: Vec<String>,
}

impl Goldens {
    fn new() -> Self {
        Goldens {
            bless: blessing(),
            failures: Vec::new(),
        }
    }

    fn check(&mut self, command: &str, name: &str, args: &[&str], out: &Output, exit: i32) {
        let mut shown = format!("`pklinspect {command} --color never {}`", args.join(" "));
        if name == LINT_FOLDER {
            shown.push_str(" (run in the folder `lint_tree` builds)");
        }
        if out.code != Some(exit) {
            self.failures.push(format!(
                "{shown} exited with {:?}, expected {exit}; stderr:\n{}",
                out.code, out.stderr
            ));
        }
        let dir = golden_dir().join(command);
        // stdout always has a file (an empty one says "prints nothing"); stderr only when
        // something is printed there.
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        self.compare(&shown, &stdout, &out.stdout, true);
        self.compare(&shown, &stderr, &out.stderr, false);
    }

    fn compare(&mut self, shown: &str, path: &Path, actual: &str, always: bool) {
        let rel = path
            .strip_prefix(repo())
            .unwrap_or(path)
            .display()
            .to_string();
        let expected = std::fs::read_to_string(path).ok();
        if self.bless {
            if always || !actual.is_empty() {
                if expected.as_deref() != Some(actual) {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, actual).unwrap();
                }
            } else if expected.is_some() {
                std::fs::remove_file(path).unwrap();
            }
            return;
        }
        match expected {
            None if !always && actual.is_empty() => {}
            None => self.failures.push(format!(
                "{rel} is missing ({shown} printed {} lines)",
                actual.lines().count()
            )),
            Some(expected) if expected == actual => {}
            Some(expected) => self.failures.push(format!(
                "{rel} differs from what {shown} printed: {}",
                first_difference(&expected, actual)
            )),
        }
    }

    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{}\n\nIf the new output is intended, re-bless with `{BLESS_VAR}=1 cargo test \
             --test golden` and review `git diff tests/golden/`.",
            self.failures.join("\n\n")
        );
    }
}

/// The first line where two texts differ, both versions quoted, and the line counts.
fn first_difference(expected: &str, actual: &str) -> String {
    let show =
        |line: Option<&str>| line.map_or("<end of output>".to_string(), |l| format!("{l:?}"));
    let (mut e, mut a) = (expected.lines(), actual.lines());
    let mut number = 1;
    loop {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => number += 1,
            (None, None) => {
                return "only in line endings or the final newline".to_string();
            }
            (x, y) => {
                return format!(
                    "first at line {number} (golden {} lines, output {} lines)\n  \
                     golden: {}\n  output: {}",
                    expected.lines().count(),
                    actual.lines().count(),
                    show(x),
                    show(y)
                );
            }
        }
    }
}
