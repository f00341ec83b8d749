//! `pklinspect dis` against CPython's `pickletools.dis`, byte for byte.
//!
//! The reference is `tests/support/pickletools_all.py`: pickletools over every pickle of
//! a file in turn. For a pickle that pickletools rejects, the lines it printed before
//! failing must match and both must fail (exit 2).

mod common;

use std::path::{Path, PathBuf};

fn support(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs the reference and pklinspect on `files` with `flags`; returns the file names
/// pickletools rejected (so callers can assert the malformed cases were exercised).
fn assert_parity(files: &[PathBuf], flags: &[&str]) -> Vec<String> {
    let Some(mut python) = common::python3() else {
        return Vec::new();
    };
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_string_lossy().into_owned();
    python
        .arg(support("pickletools_all.py"))
        .args(["--batch", &out_dir]);
    python.args(flags).args(files);
    let status = python.status().expect("python3 runs");
    assert!(status.success(), "reference script failed");

    let mut failures = Vec::new();
    let mut rejected = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let want = std::fs::read(out.path().join(format!("{i}.out"))).unwrap();
        let code_file = std::fs::read_to_string(out.path().join(format!("{i}.code"))).unwrap();
        let (want_code, want_err) = code_file.split_once('\n').unwrap();
        let got = common::pklinspect()
            .arg("dis")
            .args(flags)
            .arg(file)
            .output()
            .unwrap();
        let got_code = got.status.code().unwrap_or(-1).to_string();
        if want_code == "2" {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            rejected.push(name.into_owned());
        }
        if got.stdout != want || got_code != want_code {
            failures.push(format!(
                "{}: exit {} (pickletools {} {}), stdout {} bytes vs {}; first difference at byte {}\n{}",
                file.display(),
                got_code,
                want_code,
                want_err.trim(),
                got.stdout.len(),
                want.len(),
                got.stdout
                    .iter()
                    .zip(&want)
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.stdout.len().min(want.len())),
                String::from_utf8_lossy(&got.stderr)
            ));
        } else if want_code == "2" {
            // The error names the file and an offset.
            let stderr = String::from_utf8_lossy(&got.stderr);
            assert!(stderr.contains(&*file.to_string_lossy()), "{stderr}");
            assert!(stderr.contains("offset"), "{stderr}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    rejected
}

/// The fixtures that are pickles as they are: `dis` opens containers (compressed files,
/// archives, `.npy`) first, and `tests/dis_containers.rs` compares those with pickletools
/// on the pickle inside.
fn raw_pickle_fixtures() -> Vec<PathBuf> {
    use pklinspect::container::{sniff, ContainerKind};
    common::fixture_files()
        .into_iter()
        .filter(|f| sniff(&std::fs::read(f).unwrap_or_default()) == ContainerKind::Pickle)
        .collect()
}

#[test]
fn dis_matches_pickletools_on_every_fixture() {
    let files = raw_pickle_fixtures();
    assert!(
        files.len() >= 100,
        "fixtures missing: found {}",
        files.len()
    );
    let rejected = assert_parity(&files, &[]);
    if common::python3().is_some() {
        assert!(
            rejected.len() >= 10,
            "malformed fixtures not exercised: {rejected:?}"
        );
    }
}

#[test]
fn dis_annotate_matches_pickletools_on_every_fixture() {
    assert_parity(&raw_pickle_fixtures(), &["-a"]);
}

#[test]
fn dis_indentlevel_matches_pickletools_on_every_fixture() {
    assert_parity(&raw_pickle_fixtures(), &["-l", "1"]);
}

fn varied_pickles() -> Option<(tempfile::TempDir, Vec<PathBuf>)> {
    let python = common::python3()?;
    let dir = tempfile::tempdir().unwrap();
    common::run_python(
        python,
        &std::fs::read_to_string(support("varied_pickles.py")).unwrap(),
        &[&dir.path().to_string_lossy()],
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 60);
    Some((dir, files))
}

#[test]
fn dis_matches_pickletools_on_varied_python_pickles() {
    let Some((_dir, files)) = varied_pickles() else {
        return;
    };
    // shared_memo.pkl's second pickle refers to the first one's memo: pickletools fails.
    assert_eq!(assert_parity(&files, &[]), ["shared_memo.pkl"]);
    assert_parity(&files, &["-a", "-l", "2"]);
    // With the memo kept it lists cleanly, while files from separate picklers now clash.
    let rejected = assert_parity(&files, &["-m"]);
    assert!(
        !rejected.contains(&"shared_memo.pkl".to_string()),
        "{rejected:?}"
    );
    assert!(
        rejected.contains(&"three_p2.pkl".to_string()),
        "{rejected:?}"
    );
}

#[test]
fn dis_matches_pickletools_on_hand_written_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[u8])] = &[
        ("int_bools", b"(I00\nI01\nI-5\nI 7 \nI1_0\nt."),
        ("long_text", b"(L123L\nL-99999999999999999999999\nL0\nt."),
        ("float_text", b"(F1.5\nF-inf\nFnan\nF1e16\nF 2_0.5\nt."),
        (
            "string_quotes",
            b"(S'a\\'b'\nS\"dq\"\nS'\\x41\\n\\101'\nS'\nt.",
        ),
        ("string_no_quotes", b"S abc\n."),
        ("string_non_ascii", b"S'\\xe9'\n."),
        (
            "unicode_escapes",
            b"(Vplain\nV\\u00e9\\U0001f600\\\\u1234\nVbad\\x\nt.",
        ),
        ("unicode_truncated_escape", b"V\\u12\n."),
        ("global_escape", b"c__main__\nA\\x42\n."),
        ("persid", b"Pkey1\n."),
        ("int_bad", b"I12x\n."),
        ("get_bool_key", b"(lp00\ng0\nI01\np01\ng1\n0000."),
        ("memoize_twice_after_put", b"\x80\x04N\x94q\x00."),
        ("pop_mark", b"(N0N."),
        ("pop_mark_empty", b"0."),
        ("mark_without_close", b"(N."),
        ("underflow", b"a."),
        ("put_on_empty", b"p0\n."),
        ("put_mark", b"(p0\n."),
        ("put_twice", b"Np0\np0\n."),
        ("get_missing", b"g7\n."),
        ("stack_left_over", b"NN."),
        ("long1_negative", b"\x80\x02\x8a\x02\x00\x80."),
        ("long4_huge", &huge_long4()),
        (
            "bytearray_and_buffers",
            b"\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00ab\x97\x98.",
        ),
        (
            "ext",
            b"\x80\x02\x82\x01\x83\x02\x01\x84\x00\x00\x01\x00\x87.",
        ),
        ("obj_inst", b"(c__main__\nX\nN(I1\nio__main__\nY\n(N\x86."),
        (
            "frame",
            b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00N\x94.",
        ),
        ("proto_9", b"\x80\x09N."),
        ("empty", b""),
        ("unknown_opcode", b"N\xff."),
        ("trailing_newline", b"N.\n"),
        ("trailing_opcode_garbage", b"N.N"),
    ];
    let mut files = Vec::new();
    for (name, bytes) in cases {
        let path = dir.path().join(format!("{name}.pkl"));
        std::fs::write(&path, bytes).unwrap();
        files.push(path);
    }
    let rejected = assert_parity(&files, &[]);
    if common::python3().is_some() {
        assert!(rejected.len() >= 15, "{rejected:?}");
    }
    assert_parity(&files, &["-a"]);
}

/// LONG4 of 3000 bytes: over CPython's 4300-digit repr limit, so pickletools fails on it.
fn huge_long4() -> Vec<u8> {
    let mut p = vec![0x80, 2, 0x8b];
    p.extend_from_slice(&3000u32.to_le_bytes());
    p.extend(std::iter::repeat_n(0x11u8, 3000));
    p.push(b'.');
    p
}
