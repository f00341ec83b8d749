//! Command-line conventions (issue 15), as ripgrep and ruff keep them: a closed pipe ends a
//! run quietly with the exit code it would have had, every command takes `--color`, the
//! help shows examples and limit defaults, the man page is whole, an unreadable file is
//! reported once, output problems name the output and no temporary file, and `extract`
//! never overwrites what is there without `--force`.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use predicates::prelude::*;

fn pklinspect() -> Command {
    Command::cargo_bin("pklinspect").unwrap()
}

/// Runs pklinspect with its standard output a pipe whose reader is already gone; returns
/// the exit code and standard error.
fn with_closed_pipe(args: &[&str]) -> (i32, String) {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("pklinspect"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr).unwrap();
    }
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), stderr)
}

#[test]
fn completions_and_man_into_a_closed_pipe_exit_quietly() {
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["man"],
    ] {
        let (code, stderr) = with_closed_pipe(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[test]
fn lint_into_a_closed_pipe_exits_with_the_same_code_in_every_format() {
    let hostile = common::fixture("hostile/os_system_p4.pkl");
    let clean = common::fixture("numpy2/float64_2d_p4.pkl");
    for (file, expected) in [(&hostile, 1), (&clean, 0)] {
        for format in ["text", "json", "sarif", "github"] {
            let args = ["lint", "--no-config", "--format", format, file.as_str()];
            let (code, stderr) = with_closed_pipe(&args);
            assert_eq!(code, expected, "{format} {file}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}

#[test]
fn explain_and_dis_into_a_closed_pipe_exit_quietly() {
    let file = common::fixture("plain/all_p4.pkl");
    for args in [
        &["explain", file.as_str()][..],
        &["explain", "--format", "json", file.as_str()],
        &["dis", file.as_str()],
        &["rules"],
    ] {
        let (code, stderr) = with_closed_pipe(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[test]
fn every_command_takes_color() {
    let file = common::fixture("numpy2/float64_2d_p4.pkl");
    let out = tempfile::tempdir().unwrap();
    let npz = out.path().join("a.npz");
    let npz = npz.to_str().unwrap();
    for args in [
        &["explain", "--color", "never", file.as_str()][..],
        &["dis", "--color", "never", file.as_str()],
        &[
            "extract",
            "--color",
            "never",
            file.as_str(),
            "--to",
            "npz",
            "-o",
            npz,
        ],
        &["lint", "--no-config", "--color", "always", file.as_str()],
        &["rules", "--color", "never"],
        &["--color", "never", "completions", "fish"],
    ] {
        pklinspect().args(args).assert().success();
    }
}

#[test]
fn lint_of_a_missing_file_prints_the_error_once() {
    let out = pklinspect()
        .args(["lint", "--no-config", "nosuch.pkl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(all.matches("No such file").count(), 1, "{all}");
    // JSON is for programs: the person reading the terminal still sees it, once.
    let out = pklinspect()
        .args(["lint", "--no-config", "--format", "json", "nosuch.pkl"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
}

#[test]
fn help_lists_man_shows_examples_and_limit_defaults() {
    let help = pklinspect().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("\n  man "), "{help}");
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("Exit codes:"), "{help}");
    let explain = pklinspect().args(["explain", "--help"]).output().unwrap();
    let explain = String::from_utf8_lossy(&explain.stdout);
    let nodes = pklinspect::Limits::default().max_nodes.to_string();
    assert!(
        explain.contains(&format!("[default: {nodes}]")),
        "{explain}"
    );
    for command in ["explain", "extract", "dis"] {
        let help = pklinspect().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        assert!(help.contains("Examples:"), "{command}: {help}");
    }
}

#[test]
fn the_man_page_is_whole() {
    let out = pklinspect().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        "PKLINSPECT EXPLAIN",
        "PKLINSPECT EXTRACT",
        "PKLINSPECT LINT",
        "PKLINSPECT DIS",
        "EXIT STATUS",
        ".SH EXAMPLES",
    ] {
        assert!(page.contains(section), "no {section}");
    }
    // Options of the subcommands, limits included.
    for option in ["fail\\-on", "max\\-nodes", "arrays", "member", "depth"] {
        assert!(page.contains(option), "no {option}");
    }
    // No sub-pages that are never generated.
    assert!(!page.contains("pklinspect\\-explain(1)"), "{page}");
    assert!(!page.contains("pklinspect-explain(1)"), "{page}");
}

#[test]
fn output_errors_lead_with_the_output_and_name_no_temporary_file() {
    let out = tempfile::tempdir().unwrap();
    let file = common::fixture("numpy2/float64_2d_p4.pkl");
    let blocker = out.path().join("plain-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    for (to, target) in [
        ("json", blocker.join("x.json")),
        ("npz", blocker.join("x.npz")),
        ("npy", blocker.join("x")),
    ] {
        let result = pklinspect()
            .args(["extract", &file, "--to", to, "-o"])
            .arg(&target)
            .output()
            .unwrap();
        assert_eq!(result.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&result.stderr);
        let expected = format!("pklinspect: {}: ", target.display());
        assert!(stderr.starts_with(&expected), "{to}: {stderr}");
        assert!(!stderr.contains(".pklinspect-"), "{to}: {stderr}");
        assert!(!stderr.contains("at path"), "{to}: {stderr}");
        assert!(!stderr.contains("offset"), "{to}: {stderr}");
    }
    // An existing output: its path first, and how to override.
    let taken = out.path().join("taken.npz");
    std::fs::write(&taken, "mine").unwrap();
    pklinspect()
        .args(["extract", &file, "--to", "npz", "-o"])
        .arg(&taken)
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(format!(
            "pklinspect: {}: exists (use --force",
            taken.display()
        )));
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The README's scenario: two documents with their arrays in one folder.
#[test]
fn json_array_files_of_two_runs_do_not_collide() {
    let out = tempfile::tempdir().unwrap();
    let run = |input: &str, json: &str| {
        pklinspect()
            .current_dir(out.path())
            .args([
                "extract",
                &common::fixture(input),
                "--to",
                "json",
                "-o",
                json,
            ])
            .args(["--arrays", "npy"])
            .output()
            .unwrap()
    };
    assert!(run("main/np2_data_wrapper_p4.pkl", "a.json")
        .status
        .success());
    assert!(run("keras/np2_timeseries_generator_p4.pkl", "b.json")
        .status
        .success());
    let names = listing(out.path());
    assert!(names.contains(&"a.data.npy".to_string()), "{names:?}");
    assert!(names.contains(&"b.data.npy".to_string()), "{names:?}");
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("a.json")).unwrap()).unwrap();
    let named = a["state"]["data"]["$array"]["file"].as_str().unwrap();
    assert_eq!(named, "a.data.npy");
    // a.json still points at A's array: the second run did not overwrite it.
    let a_array = std::fs::read(out.path().join(named)).unwrap();
    let b_array = std::fs::read(out.path().join("b.data.npy")).unwrap();
    assert_ne!(a_array, b_array);
}

#[test]
fn an_existing_array_file_is_refused_before_anything_is_written() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("a.data.npy"), "mine").unwrap();
    let result = pklinspect()
        .current_dir(out.path())
        .args(["extract", &common::fixture("main/np2_data_wrapper_p4.pkl")])
        .args(["--to", "json", "-o", "a.json", "--arrays", "npy"])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("a.data.npy: exists (use --force"),
        "{stderr}"
    );
    // Nothing else was written, and what was there is untouched.
    assert_eq!(listing(out.path()), ["a.data.npy"]);
    assert_eq!(
        std::fs::read_to_string(out.path().join("a.data.npy")).unwrap(),
        "mine"
    );
    // --force replaces it.
    pklinspect()
        .current_dir(out.path())
        .args(["extract", &common::fixture("main/np2_data_wrapper_p4.pkl")])
        .args(["--to", "json", "-o", "a.json", "--arrays", "npy", "--force"])
        .assert()
        .success();
    assert_ne!(
        std::fs::read(out.path().join("a.data.npy")).unwrap(),
        b"mine"
    );
}

#[test]
fn every_extract_mode_refuses_an_existing_output() {
    let out = tempfile::tempdir().unwrap();
    let file = common::fixture("numpy2/float64_2d_p4.pkl");
    let dir = out.path().join("arrays");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("index.json"), "mine").unwrap();
    let json = out.path().join("doc.json");
    std::fs::write(&json, "mine").unwrap();
    let npz = out.path().join("a.npz");
    std::fs::write(&npz, "mine").unwrap();
    for (to, target) in [("npy", &dir), ("json", &json), ("npz", &npz)] {
        pklinspect()
            .args(["extract", &file, "--to", to, "-o"])
            .arg(target)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--force"));
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("index.json")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "mine");
    assert_eq!(std::fs::read_to_string(&npz).unwrap(), "mine");
}
