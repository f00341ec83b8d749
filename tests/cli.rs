//! The command line as a user meets it: help, exit codes, errors, stdin, pipes.

mod common;

use std::io::{Read, Write};
use std::process::Stdio;

use assert_cmd::Command;
use predicates::prelude::*;

fn pklinspect() -> Command {
    Command::cargo_bin("pklinspect").unwrap()
}

/// `pickle.dumps([1, 2], protocol=2)`.
const SMALL: &[u8] = b"\x80\x02]q\x00(K\x01K\x02e.";

fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

#[test]
fn help_and_version_exit_zero() {
    pklinspect()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("dis"));
    pklinspect()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
    pklinspect()
        .args(["dis", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--annotate").and(predicate::str::contains("--indentlevel")),
        );
}

#[test]
fn usage_errors_exit_two() {
    pklinspect().assert().code(2);
    pklinspect().arg("frobnicate").assert().code(2);
    pklinspect().args(["dis"]).assert().code(2);
    pklinspect().args(["dis", "-l", "minus"]).assert().code(2);
}

#[test]
fn missing_file_is_named_and_exits_two() {
    pklinspect()
        .args(["dis", "/no/such/file.pkl"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("/no/such/file.pkl"));
}

#[test]
fn a_directory_is_not_a_pickle() {
    let dir = tempfile::tempdir().unwrap();
    pklinspect()
        .arg("dis")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("directory"));
}

#[test]
fn dis_lists_a_small_pickle() {
    let f = file_with(SMALL);
    pklinspect().arg("dis").arg(f.path()).assert().success().stdout(
        "    0: \\x80 PROTO      2\n    2: ]    EMPTY_LIST\n    3: q    BINPUT     0\n    5: (    MARK\n    6: K        BININT1    1\n    8: K        BININT1    2\n   10: e        APPENDS    (MARK at 5)\n   11: .    STOP\nhighest protocol among opcodes = 2\n",
    );
}

#[test]
fn dis_reads_standard_input() {
    let f = file_with(SMALL);
    let from_file = pklinspect().arg("dis").arg(f.path()).output().unwrap();
    pklinspect()
        .args(["dis", "-"])
        .write_stdin(SMALL)
        .assert()
        .success()
        .stdout(from_file.stdout);
}

#[test]
fn truncated_input_prints_lines_then_error_with_offset() {
    // BINUNICODE claiming 16 bytes with 3 left.
    let f = file_with(b"\x80\x04(X\x10\x00\x00\x00abc");
    pklinspect()
        .arg("dis")
        .arg(f.path())
        .assert()
        .code(2)
        .stdout("    0: \\x80 PROTO      4\n    2: (    MARK\n")
        .stderr(
            predicate::str::contains("BINUNICODE claims 16 bytes, but only 3 remain")
                .and(predicate::str::contains("offset 3"))
                .and(predicate::str::contains(&*f.path().to_string_lossy())),
        );
}

#[test]
fn inconsistent_stack_prints_the_offending_line_then_fails() {
    let f = file_with(b"\x80\x02a.");
    pklinspect()
        .arg("dis")
        .arg(f.path())
        .assert()
        .code(2)
        .stdout(predicate::str::ends_with("    2: a    APPEND\n"))
        .stderr(predicate::str::contains(
            "tries to pop 2 items from stack with only 0 items",
        ));
}

#[test]
fn unknown_opcode_names_the_byte_and_offset() {
    let f = file_with(b"N\xfe.");
    pklinspect()
        .arg("dis")
        .arg(f.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("0xfe").and(predicate::str::contains("offset 1")));
}

#[test]
fn several_pickles_are_listed_in_turn() {
    let mut bytes = SMALL.to_vec();
    bytes.extend_from_slice(b"N.");
    let f = file_with(&bytes);
    pklinspect()
        .arg("dis")
        .arg(f.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "highest protocol among opcodes = 2\n\n==> pickle 2 at offset 12 <==\n   12: N    NONE\n   13: .    STOP\nhighest protocol among opcodes = 0\n",
        ));
}

#[test]
fn trailing_bytes_that_are_not_a_pickle_are_reported_not_hidden() {
    let mut bytes = SMALL.to_vec();
    bytes.extend_from_slice(b"\n\x00\x00");
    let f = file_with(&bytes);
    pklinspect()
        .arg("dis")
        .arg(f.path())
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "3 bytes after the last pickle (at offset 12)",
        ));
}

#[test]
fn empty_input_is_an_error() {
    let f = file_with(b"");
    pklinspect()
        .arg("dis")
        .arg(f.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ended before STOP"));
}

/// A big pickle: a list of 300,000 small ints, about 600 KB of listing per 100 KB.
fn big_pickle() -> Vec<u8> {
    let mut p = vec![0x80, 2, b']', b'('];
    for i in 0..300_000u32 {
        p.push(b'K');
        p.push((i % 256) as u8);
        if i % 1000 == 999 {
            p.extend_from_slice(b"e(");
        }
    }
    p.extend_from_slice(b"e.");
    p
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let f = file_with(&big_pickle());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pklinspect"))
        .arg("dis")
        .arg(f.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the first few lines, as `| head` would, then close our end.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 200];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(first.starts_with(b"    0: \\x80 PROTO      2\n"));
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn a_frame_longer_than_the_input_is_listed_with_a_warning() {
    // pickletools lists it (exit 0); pickle.load would reject it, so we say so.
    let f = file_with(b"\x80\x04\x95\x40\x00\x00\x00\x00\x00\x00\x00N.");
    pklinspect()
        .arg("dis")
        .arg(f.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("   12: .    STOP"))
        .stderr(
            predicate::str::contains("warning: FRAME of 64 bytes runs past the end of input")
                .and(predicate::str::contains("offset 2")),
        );
}
