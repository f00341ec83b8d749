//! Every container decoder on its own: zip central directory and members (stored and
//! deflated, CRC), the torch zip and legacy layouts, every decompressor, and `.npy` headers.
//! The first byte picks the decoder so each one sees the rest of the input unfiltered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pklinspect::container::{self, ContainerKind};

const LIMIT: u64 = 16 << 20;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let len = data.len() as u64;
    // Sniffing runs trial decodes of its own.
    let _ = container::sniff(data);
    match selector % 9 {
        0 => zip(data),
        1 => decode(ContainerKind::Gzip, data),
        2 => decode(ContainerKind::Bz2, data),
        3 => decode(ContainerKind::Xz, data),
        4 => decode(ContainerKind::Lzma, data),
        5 => decode(ContainerKind::Zlib, data),
        6 => decode(ContainerKind::Lz4, data),
        7 => {
            if let Err(e) = container::parse_npy_header(data) {
                assert!(e.offset() <= len, "{e}");
            } else if let Ok(header) = container::parse_npy_header(data) {
                assert!(header.data_offset <= data.len());
                let _ = header.nbytes();
                let _ = container::descr_itemsize(&header.descr);
                // The writer must round-trip what the reader accepted.
                let bytes =
                    container::npy_header_bytes(&header.descr, header.fortran_order, &header.shape);
                let again = container::parse_npy_header(&bytes).expect("our own header parses");
                assert_eq!(again.shape, header.shape);
                assert_eq!(again.fortran_order, header.fortran_order);
            }
        }
        _ => {
            // Legacy torch storages: keys and element sizes from the first bytes.
            let keys: Vec<(String, u64)> = data
                .iter()
                .take(8)
                .enumerate()
                .map(|(i, &b)| (format!("k{i}"), u64::from(b % 9)))
                .collect();
            let start = data.len().min(8);
            match container::legacy_storages(data, start, &keys) {
                Ok(storages) => {
                    for s in storages {
                        assert!(s.end() <= data.len());
                    }
                }
                Err(e) => assert!(e.offset() <= len, "{e}"),
            }
        }
    }
});

fn decode(kind: ContainerKind, data: &[u8]) {
    match container::decompress(kind, data, LIMIT) {
        Ok(out) => assert!(out.len() as u64 <= LIMIT),
        Err(e) => assert!(e.offset() <= data.len() as u64, "{kind}: {e}"),
    }
}

fn zip(data: &[u8]) {
    let len = data.len() as u64;
    let members = match container::zip_members_with_limit(data, 10_000) {
        Ok(m) => m,
        Err(e) => {
            assert!(e.offset() <= len, "{e}");
            return;
        }
    };
    for member in &members {
        assert!(member.data_end() <= len, "{member:?}");
        match container::member_bytes(data, member, LIMIT) {
            Ok(bytes) => assert!(bytes.len() as u64 <= LIMIT),
            Err(e) => assert!(e.offset() <= len, "{e}"),
        }
        if let Err(e) = container::check_crc(data, member, LIMIT) {
            assert!(e.offset() <= len, "{e}");
        }
    }
    if let Err(e) = container::torch_zip(data, &members) {
        assert!(e.offset() <= len, "{e}");
    }
}
