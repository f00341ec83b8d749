//! The symbolic machine against CPython's own view of every raw-pickle fixture, taken
//! from the generator's sidecars: the globals `find_class` saw, in order; where each pickle
//! starts; and whether `pickle.load` accepts the file at all.

mod common;

use pklinspect::limits::Limits;
use pklinspect::machine::run_stream;

#[test]
fn machine_agrees_with_cpython_on_every_raw_pickle_fixture() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in common::fixture_files() {
        let truth = common::sidecar(&file);
        if truth["container"] != "pickle" {
            continue;
        }
        checked += 1;
        let data = std::fs::read(&file).unwrap();
        let result = run_stream(&data, 0, &Limits::default(), None);
        let name = file.display();
        if truth["status"] == "malformed" {
            // CPython's verdict: `error` is what pickle.load raised, null if it loaded.
            let cpython_fails = !truth["error"].is_null();
            let we_fail = match &result {
                Err(_) => true,
                Ok(stream) => stream.trailing.as_ref().is_some_and(|(_, e)| e.is_some()),
            };
            if cpython_fails != we_fail {
                failures.push(format!(
                    "{name}: CPython {} ({}), we {:?}",
                    if cpython_fails { "fails" } else { "loads" },
                    truth["error"],
                    result
                        .as_ref()
                        .map(|s| s.pickles.len())
                        .map_err(|e| e.to_string())
                ));
            }
            continue;
        }
        let stream = match result {
            Ok(stream) => stream,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let starts: Vec<u64> = stream.pickles.iter().map(|p| p.start as u64).collect();
        let want_starts: Vec<u64> = truth["pickle_offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        if starts != want_starts {
            failures.push(format!(
                "{name}: pickles at {starts:?}, CPython {want_starts:?}"
            ));
        }
        if stream.trailing.is_some() {
            failures.push(format!(
                "{name}: unexpected trailing data {:?}",
                stream.trailing
            ));
        }
        // EXT fixtures: CPython resolved the codes through a registry the file lacks.
        let described_ext = common::uses_extension_codes(&truth);
        if !described_ext {
            let ours: Vec<(String, String)> = stream
                .graph
                .globals
                .iter()
                .map(|g| (g.module.to_string(), g.name.to_string()))
                .collect();
            let theirs = common::sidecar_globals(&truth);
            if ours != theirs {
                failures.push(format!("{name}: globals {ours:?}\n   CPython {theirs:?}"));
            }
        }
    }
    assert!(checked >= 150, "only {checked} raw pickle fixtures");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_pickle_reading_the_previous_pickles_memo_is_run_with_it() {
    let file = common::fixtures_dir().join("multi/memo_shared_p4.pkl");
    let data = std::fs::read(file).unwrap();
    let stream = run_stream(&data, 0, &Limits::default(), None).unwrap();
    assert_eq!(stream.pickles.len(), 2);
    assert!(!stream.pickles[0].memo_carried);
    assert!(stream.pickles[1].memo_carried);
}
