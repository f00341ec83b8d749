//! Arrays and their object paths against numpy's own view of every fixture: the sidecars
//! list each array's path, dtype, shape, order, size and the sha256 of its C-order bytes.

mod common;

use pklinspect::analysis::object_paths::object_paths;
use pklinspect::lift::{lift_stream, run_stream};
use pklinspect::lift::{ArrayData, ArrayInfo};
use pklinspect::limits::Limits;
use pklinspect::machine::Node;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Bytes in Fortran order rearranged to C order.
fn fortran_to_c(data: &[u8], shape: &[u64], itemsize: usize) -> Vec<u8> {
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let count: usize = dims.iter().product();
    let mut out = vec![0u8; data.len()];
    let mut index = vec![0usize; dims.len()];
    for c in 0..count {
        // index is the multi-index of C-order element c; find its Fortran position.
        let mut f = 0;
        let mut stride = 1;
        for (i, &d) in dims.iter().enumerate() {
            f += index[i] * stride;
            stride *= d;
        }
        out[c * itemsize..(c + 1) * itemsize]
            .copy_from_slice(&data[f * itemsize..(f + 1) * itemsize]);
        for i in (0..dims.len()).rev() {
            index[i] += 1;
            if index[i] < dims[i] {
                break;
            }
            index[i] = 0;
        }
    }
    out
}

fn array_bytes(
    graph: &pklinspect::machine::Graph<'_>,
    stream: &[u8],
    info: &ArrayInfo,
) -> Option<Vec<u8>> {
    match &info.data {
        ArrayData::Stream { offset, len } => {
            Some(stream[*offset..*offset + *len as usize].to_vec())
        }
        ArrayData::Decoded(node) => match graph.node(*node) {
            Node::Bytes(b, _) => Some(b.to_vec()),
            _ => None,
        },
        ArrayData::Latin1(node) => match graph.node(*node) {
            Node::Str(s) => s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect(),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn arrays_and_paths_match_numpy_on_raw_pickle_and_joblib_fixtures() {
    let mut checked_arrays = 0;
    let mut checked_hashes = 0;
    let mut failures = Vec::new();
    for file in common::fixture_files() {
        let truth = common::sidecar(&file);
        let raw_joblib = truth["container"] == "joblib" && truth["compression"].is_null();
        if !(truth["container"] == "pickle" || raw_joblib) || truth["status"] == "malformed" {
            continue;
        }
        let data = std::fs::read(&file).unwrap();
        let stream = match run_stream(&data, 0, &Limits::default()) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        let lifted = lift_stream(&stream.graph, &data);
        let mut found = Vec::new();
        let mut visited = Vec::new();
        for (index, pickle) in stream.pickles.iter().enumerate() {
            if !pickle.memo_carried {
                visited = Vec::new();
            }
            let w = object_paths(&stream.graph, &lifted, pickle.root, "$", &mut visited);
            found.extend(w.arrays.into_iter().map(|a| (index, a)));
        }
        let want = truth["arrays"].as_array().unwrap();
        let got_paths: Vec<String> = found
            .iter()
            .map(|(i, a)| format!("{i}:{}", a.path))
            .collect();
        let want_paths: Vec<String> = want
            .iter()
            .map(|a| {
                format!(
                    "{}:{}",
                    a["pickle"].as_u64().unwrap_or(0),
                    a["path"].as_str().unwrap()
                )
            })
            .collect();
        if got_paths != want_paths {
            failures.push(format!(
                "{}: paths\n   ours  {got_paths:?}\n   numpy {want_paths:?}",
                file.display()
            ));
            continue;
        }
        for ((_, array), want) in found.iter().zip(want) {
            let info = match &array.info {
                Ok(info) => info,
                Err(e) => {
                    failures.push(format!("{} {}: {e}", file.display(), array.path));
                    continue;
                }
            };
            checked_arrays += 1;
            let ours = json!({
                "dtype": info.dtype.descr().to_json(),
                "shape": info.shape,
                "fortran_order": info.fortran_order,
                "nbytes": if info.dtype.has_object() { Value::Null } else { json!(info.nbytes()) },
                "out_of_band": matches!(info.data, ArrayData::OutOfBand { .. }),
            });
            let theirs = json!({
                "dtype": want["dtype"],
                "shape": want["shape"],
                "fortran_order": want["fortran_order"],
                "nbytes": want["nbytes"],
                "out_of_band": want["out_of_band"],
            });
            if ours != theirs {
                failures.push(format!(
                    "{} {}:\n   ours  {ours}\n   numpy {theirs}",
                    file.display(),
                    array.path
                ));
                continue;
            }
            if let (Some(bytes), Some(sha)) = (
                array_bytes(&stream.graph, &data, info),
                want["sha256"].as_str(),
            ) {
                let bytes = if info.fortran_order {
                    fortran_to_c(&bytes, &info.shape, info.dtype.itemsize() as usize)
                } else {
                    bytes
                };
                let digest: String = Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if digest != sha {
                    failures.push(format!("{} {}: sha256 differs", file.display(), array.path));
                }
                checked_hashes += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked_arrays > 300, "{checked_arrays}");
    assert!(checked_hashes > 250, "{checked_hashes}");
    eprintln!("{checked_arrays} arrays, {checked_hashes} hashes checked");
}
