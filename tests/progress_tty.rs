//! `extract`'s progress bar on a real terminal: run under a pseudo-terminal (util-linux
//! `script -qec CMD /dev/null`, whose output is what the terminal showed), the bar is drawn
//! on standard error with the total known up front, fits the terminal's width, is cleared,
//! and the one summary line follows it; piped, there is only the summary line; with `-q`
//! nothing at all. Skipped (with a message) where `script` is not installed.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

/// Size of the array the tests extract: big enough for the bar to be drawn several times.
const ARRAY_MIB: usize = 16;

/// Big enough for `100.00 MiB/100.00 MiB` to make a bar of fixed width wider than the
/// terminal (80 columns under `script` without a terminal of its own).
const WIDE_MIB: usize = 100;

fn have_script() -> bool {
    let found = Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped: the `script` utility (util-linux) is not installed");
    }
    found
}

/// A float32 `.npy` of `mib` MiB.
fn write_npy(path: &Path, mib: usize) {
    let count = mib * (1 << 20) / 4;
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({count},), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend(u16::try_from(header.len()).unwrap_or(0).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend((0..count).flat_map(|i| (i as f32).to_le_bytes()));
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{e}"));
}

fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// What a terminal shows while `pklinspect ARGS` runs on it.
fn on_terminal(args: &[&str]) -> String {
    let bin = env!("CARGO_BIN_EXE_pklinspect");
    let command: Vec<String> = std::iter::once(bin)
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let output = Command::new("script")
        .args(["-qec", &command.join(" "), "/dev/null"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn setup(mib: usize) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = dir.path().join("big.npy");
    write_npy(&input, mib);
    let input = input.to_string_lossy().into_owned();
    (dir, input)
}

/// The bar was drawn with its total, then cleared, and the summary line came last.
fn assert_bar_then_summary(shown: &str, summary: &str, mib: usize) {
    let total = format!("/{mib}.00 MiB");
    assert!(
        shown.contains(&total),
        "no bar with its total {total:?}: {shown:?}"
    );
    assert!(shown.contains("ETA"), "no ETA: {shown:?}");
    let bar = shown.rfind("ETA").unwrap_or(0);
    let at = shown
        .rfind(summary)
        .unwrap_or_else(|| panic!("no summary: {shown:?}"));
    assert!(bar < at, "the summary is not after the bar: {shown:?}");
    // The bar is cleared (erase line) before the summary is printed.
    assert!(shown[bar..at].contains("\x1b[2K"), "{shown:?}");
    assert_eq!(
        shown[at..].trim_end(),
        shown[at..].lines().next().unwrap_or("").trim_end()
    );
    // One line at a time: a bar wider than the terminal wraps, and the bar is then
    // redrawn by moving the cursor up.
    assert!(!shown.contains("\x1b[1A"), "the bar wrapped: {shown:?}");
}

#[test]
fn a_terminal_shows_the_bar_then_the_summary() {
    if !have_script() {
        return;
    }
    let (dir, input) = setup(WIDE_MIB);
    let out = dir.path().join("out.npz").to_string_lossy().into_owned();
    let shown = on_terminal(&["extract", &input, "--to", "npz", "-o", &out]);
    let summary = format!("wrote 1 array, {WIDE_MIB}.00 MiB to {out} in ");
    assert_bar_then_summary(&shown, &summary, WIDE_MIB);
}

#[test]
fn json_with_array_files_shows_the_bar_too() {
    if !have_script() {
        return;
    }
    let (dir, input) = setup(ARRAY_MIB);
    let out = dir.path().join("out.json").to_string_lossy().into_owned();
    let shown = on_terminal(&[
        "extract", &input, "--to", "json", "-o", &out, "--arrays", "npy",
    ]);
    let summary = format!("wrote 1 array, {ARRAY_MIB}.00 MiB to {out} in ");
    assert_bar_then_summary(&shown, &summary, ARRAY_MIB);
}

#[test]
fn quiet_on_a_terminal_shows_nothing() {
    if !have_script() {
        return;
    }
    let (dir, input) = setup(ARRAY_MIB);
    let out = dir.path().join("out.npz").to_string_lossy().into_owned();
    let shown = on_terminal(&["extract", &input, "--to", "npz", "-o", &out, "-q"]);
    assert_eq!(shown, "");
    assert!(Path::new(&out).exists());
}

#[test]
fn piped_there_is_only_the_summary_and_with_q_nothing() {
    let (dir, input) = setup(ARRAY_MIB);
    let out = dir.path().join("out.npz").to_string_lossy().into_owned();
    let output = common::pklinspect()
        .args(["extract", &input, "--to", "npz", "-o", &out])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = format!("wrote 1 array, {ARRAY_MIB}.00 MiB to {out} in ");
    assert!(stderr.starts_with(&summary), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(!stderr.contains(['\r', '\x1b']), "{stderr:?}");
    assert!(output.stdout.is_empty());
    let out = dir.path().join("quiet.npz").to_string_lossy().into_owned();
    let output = common::pklinspect()
        .args(["extract", &input, "--to", "npz", "-o", &out, "-q"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success());
    assert!(output.stderr.is_empty(), "{:?}", output.stderr);
    assert!(output.stdout.is_empty());
}

/// A table has no arrays: its summary names the table and the file's size (it said
/// `wrote 0 arrays, 0 B`).
#[test]
fn a_table_gets_a_summary_of_its_own() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = common::fixtures_dir().join("pandas/frames/pd31_zones_p4.pkl");
    for to in ["csv", "parquet"] {
        let out = dir.path().join(format!("frame.{to}"));
        let output = common::pklinspect()
            .arg("extract")
            .arg(&input)
            .args(["--to", to, "-o"])
            .arg(&out)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(output.status.success(), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let size = std::fs::metadata(&out).map_or(0, |m| m.len());
        assert!(size > 0);
        let want = format!("wrote 1 table, {size} B to {} in ", out.display());
        let want_kib = format!(
            "wrote 1 table, {:.2} KiB to {} in ",
            size as f64 / 1024.0,
            out.display()
        );
        assert!(
            stderr.starts_with(&want) || stderr.starts_with(&want_kib),
            "{stderr:?}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    }
}
