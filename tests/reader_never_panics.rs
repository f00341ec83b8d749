//! No input makes the reader or `dis` panic: random bytes, and real pickles cut short or
//! with one byte changed. Every failure must be an error whose offset lies in the input.

use pklinspect::dis::{dis_all, DisError, DisOptions};
use pklinspect::OpReader;
use proptest::prelude::*;

/// A pickle with every family of opcode argument (protocol 5 with frames, buffers, big
/// ints, text forms), built by hand so this test needs no Python.
fn seed() -> Vec<u8> {
    let mut p = b"\x80\x05\x95\x40\x00\x00\x00\x00\x00\x00\x00".to_vec();
    p.extend_from_slice(b"(\x8c\x05hello\x94X\x02\x00\x00\x00\xc3\xa9C\x03abcB\x01\x00\x00\x00z");
    p.extend_from_slice(
        b"\x8a\x02\xff\x7fJ\xff\xff\xff\xffK\x07M\x01\x02G?\xf8\x00\x00\x00\x00\x00\x00",
    );
    p.extend_from_slice(b"\x96\x01\x00\x00\x00\x00\x00\x00\x00q\x97\x98\x88\x89N");
    p.extend_from_slice(b"cbuiltins\nset\n\x8c\x01a\x8c\x01b\x93(I01\nL5L\nF1.5\nS'x'\nVy\nt");
    p.extend_from_slice(b"h\x00j\x00\x00\x00\x00g0\np1\n\x82\x01\x83\x01\x00\x84\x01\x00\x00\x00");
    p.extend_from_slice(b"lt.");
    p
}

fn check(data: &[u8]) {
    for op in OpReader::new(data, 0) {
        if let Err(e) = op {
            assert!(e.offset() <= data.len() as u64, "{e}");
        }
    }
    match dis_all(data, &DisOptions::default(), &mut std::io::sink()) {
        Ok(_) | Err(DisError::Write(_)) => {}
        Err(DisError::Pickle(e)) => assert!(e.offset() <= data.len() as u64, "{e}"),
    }
}

#[test]
fn every_prefix_of_the_seed_is_handled() {
    let seed = seed();
    for len in 0..=seed.len() {
        check(&seed[..len]);
    }
}

#[test]
fn every_single_byte_change_of_the_seed_is_handled() {
    let seed = seed();
    for i in 0..seed.len() {
        for value in [0x00, 0x01, 0x0a, 0x28, 0x2e, 0x7f, 0x80, 0x95, 0xff] {
            let mut data = seed.clone();
            data[i] = value;
            check(&data);
        }
    }
}

/// Opcodes that build, mark, memoize and pop: the ones whose interplay can go wrong.
const SOUP: &[u8] = b"(.Naelt012}]usqh\x94\x93Rb\x81K\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        check(&data);
    }

    #[test]
    fn random_opcode_soup_never_panics(
        data in proptest::collection::vec(
            prop_oneof![3 => proptest::sample::select(SOUP), 1 => any::<u8>()],
            0..200,
        )
    ) {
        check(&data);
    }
}
