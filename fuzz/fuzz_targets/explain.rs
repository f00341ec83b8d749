//! `explain` end to end on bytes: sniffing, containers, the symbolic machine, lifting, the
//! walk, classification, findings and both renderers. No panic; errors carry an offset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pklinspect::inspect::{inspect, Options};
use pklinspect::limits::Limits;
use pklinspect::render;

fuzz_target!(|data: &[u8]| {
    let options = Options {
        limits: Limits {
            // Keep one execution small: the decompressed-size limit is what a bomb hits.
            max_decompressed: 16 << 20,
            ..Limits::default()
        },
        ..Options::default()
    };
    match inspect("fuzz.pkl", data, &options) {
        Ok(report) => {
            let mut text = Vec::new();
            render::text::write_report(&mut text, &report).expect("writing to a Vec");
            let json = render::json::explain_value(&report);
            assert!(json.is_object());
        }
        Err(e) => {
            // Offsets are into the input, a decoded stream or a zip member: all bounded by
            // the decompression limit.
            assert!(e.offset() <= (data.len() as u64).max(16 << 20), "{e}");
            let _ = render::json::error_value("fuzz.pkl", &e);
        }
    }
});
