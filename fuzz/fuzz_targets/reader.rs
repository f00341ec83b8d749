//! The opcode reader and `dis` on arbitrary bytes: no panic, and every error's offset lies
//! inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pklinspect::dis::{dis_all, DisError, DisOptions};
use pklinspect::OpReader;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let mut start = 0;
    // Every pickle of a concatenated stream, as `dis` walks them.
    while start < data.len() {
        let mut reader = OpReader::new(data, start);
        let mut failed = false;
        for op in reader.by_ref() {
            match op {
                Ok(op) => assert!(op.offset < op.end && op.end <= data.len()),
                Err(e) => {
                    assert!(e.offset() <= len, "{e}");
                    failed = true;
                }
            }
        }
        if failed || reader.position() <= start {
            break;
        }
        start = reader.position();
    }
    for options in [
        DisOptions::default(),
        DisOptions {
            indent_level: 0,
            annotate: 1,
            keep_memo: true,
        },
    ] {
        match dis_all(data, &options, &mut std::io::sink()) {
            Ok(summary) => {
                if let Some((at, n)) = summary.trailing {
                    assert!(at + n == data.len());
                }
            }
            Err(DisError::Pickle(e)) => assert!(e.offset() <= len, "{e}"),
            Err(DisError::Write(e)) => panic!("sink failed: {e}"),
        }
    }
});
