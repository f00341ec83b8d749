//! `pklinspect dis` on containers (issue 15): a compressed file, a torch zip, an object
//! `.npy` and an archive of several pickles are opened as the other commands open them,
//! and the listing of the pickle inside is byte-identical to `python -m pickletools` run on
//! that pickle's bytes (which Python's `zipfile`, `gzip`, `bz2`, `lzma` give it).

mod common;

use std::path::Path;

use assert_cmd::Command;

fn pklinspect() -> Command {
    Command::cargo_bin("pklinspect").unwrap()
}

/// pickletools' listing of the pickle Python reads from `file`: the whole decompressed
/// stream, a zip member, or the pickle after an `.npy` header.
const PICKLETOOLS_OF: &str = r#"
import bz2, gzip, io, lzma, pickletools, sys, zipfile, zlib
path, member = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
if member:
    data = zipfile.ZipFile(path).read(member)
elif raw[:2] == b"\x1f\x8b":
    data = gzip.decompress(raw)
elif raw[:3] == b"BZh":
    data = bz2.decompress(raw)
elif raw[:6] == b"\xfd7zXZ\x00" or raw[:1] == b"\x5d":
    data = lzma.decompress(raw)
elif raw[:1] == b"\x78":
    data = zlib.decompress(raw)
elif raw[:6] == b"\x93NUMPY":
    major = raw[6]
    n = int.from_bytes(raw[8:10] if major == 1 else raw[8:12], "little")
    data = raw[(10 if major == 1 else 12) + n:]
else:
    data = raw
out = io.StringIO()
pickletools.dis(data, out)
sys.stdout.write(out.getvalue())
"#;

fn pickletools_of(file: &str, member: &str) -> Option<String> {
    let python = common::python3()?;
    let out = common::run_python(python, PICKLETOOLS_OF, &[file, member]);
    Some(String::from_utf8(out.stdout).unwrap())
}

fn dis(args: &[&str]) -> (i32, String, String) {
    let out = pklinspect().arg("dis").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_torch_zip_is_listed_from_its_data_pkl() {
    let file = common::fixture("torch/tensors.pt");
    let Some(expected) = pickletools_of(&file, "tensors/data.pkl") else {
        return;
    };
    let (code, listing, stderr) = dis(&[&file]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(listing, expected);
    let (code, by_member, _) = dis(&["--member", "data.pkl", &file]);
    assert_eq!(code, 0);
    assert_eq!(by_member, expected);
}

#[test]
fn compressed_streams_are_listed_decompressed() {
    for rel in [
        "compressed/gzip_payload.pkl",
        "compressed/payload.pkl.bz2",
        "compressed/xz_payload.pkl",
        "compressed/payload.pkl.lzma",
        "compressed/zlib_payload.pkl",
    ] {
        let file = common::fixture(rel);
        let Some(expected) = pickletools_of(&file, "") else {
            return;
        };
        let (code, listing, stderr) = dis(&[&file]);
        assert_eq!(code, 0, "{rel}: {stderr}");
        assert_eq!(listing, expected, "{rel}");
    }
}

#[test]
fn an_object_npy_is_listed_from_its_pickle() {
    let file = common::fixture("numpy2/object.npy");
    let Some(expected) = pickletools_of(&file, "") else {
        return;
    };
    let (code, listing, stderr) = dis(&[&file]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(listing, expected);
}

#[test]
fn member_chooses_among_the_pickles_of_an_archive() {
    let Some(python) = common::python3() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("two.zip");
    let zip = zip.to_str().unwrap();
    common::run_python(
        python,
        r#"
import pickle, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("first.pkl", pickle.dumps({"a": 1}, protocol=2))
    z.writestr("sub/second.pkl", pickle.dumps([1, 2, 3], protocol=4))
"#,
        &[zip],
    );
    let Some(first) = pickletools_of(zip, "first.pkl") else {
        return;
    };
    let Some(second) = pickletools_of(zip, "sub/second.pkl") else {
        return;
    };
    let (code, listing, stderr) = dis(&[zip]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(listing, first);
    assert!(stderr.contains("not listed: sub/second.pkl"), "{stderr}");
    assert!(stderr.contains("--member"), "{stderr}");
    for name in ["sub/second.pkl", "second.pkl"] {
        let (code, listing, _) = dis(&["--member", name, zip]);
        assert_eq!(code, 0);
        assert_eq!(listing, second);
    }
    let (code, _, stderr) = dis(&["--member", "nope.pkl", zip]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no pickle member named nope.pkl"),
        "{stderr}"
    );
    assert!(stderr.contains("first.pkl, sub/second.pkl"), "{stderr}");
}

#[test]
fn member_on_a_plain_pickle_is_a_usage_error() {
    let file = common::fixture("plain/all_p4.pkl");
    assert!(Path::new(&file).exists());
    let (code, listing, stderr) = dis(&["--member", "data.pkl", &file]);
    assert_eq!(code, 2);
    assert!(listing.is_empty());
    assert!(stderr.contains("plain pickle"), "{stderr}");
}

#[test]
fn a_joblib_stream_stops_at_its_first_array_and_says_why() {
    // joblib writes array bytes into the stream: pickletools stops there, and so does the
    // listing (exit 2), with a note naming the array whose data starts there.
    for rel in ["joblib/np2_arrays.joblib", "joblib/np2_arrays.joblib.gz"] {
        let (code, listing, stderr) = dis(&[&common::fixture(rel)]);
        assert_eq!(code, 2, "{rel}");
        assert!(listing.ends_with("BUILD\n"), "{rel}: {listing}");
        assert!(
            stderr.contains("the raw data of joblib's array $[\"f8\"] starts here"),
            "{rel}: {stderr}"
        );
    }
}
