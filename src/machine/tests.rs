//! Unit tests of the machine: small streams whose outcome CPython's unpickler decides.

use super::*;

fn run(data: &[u8]) -> Result<Stream<'_>> {
    run_stream(data, 0, &Limits::default(), None)
}

fn kind_of(data: &[u8]) -> ErrorKind {
    match run(data) {
        Err(e) => e.kind(),
        Ok(s) => panic!("expected an error, got {} pickles", s.pickles.len()),
    }
}

#[test]
fn opcodes_cannot_reach_below_a_mark() {
    // [list, MARK, None] then APPEND: CPython reports a stack underflow.
    assert_eq!(kind_of(b"](Na."), ErrorKind::Inconsistent);
    // POP with nothing above the MARK pops the MARK itself.
    let s = run(b"N(0.").unwrap();
    assert!(matches!(s.graph.node(s.pickles[0].root), Node::None));
}

#[test]
fn memo_references_share_the_node() {
    // protocol 2: [x, x] where x = []
    let s = run(b"\x80\x02](]q\x00h\x00e.").unwrap();
    let Node::List(items) = s.graph.node(s.pickles[0].root) else {
        panic!()
    };
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], items[1]);
}

#[test]
fn a_list_can_contain_itself() {
    let s = run(b"\x80\x02]q\x00h\x00a.").unwrap();
    let root = s.pickles[0].root;
    assert_eq!(s.graph.node(root), Node::List(&[root]));
}

#[test]
fn a_memo_bomb_costs_what_its_bytes_cost() {
    // Each level: a list holding the previous level ten times, through the memo.
    let mut p = b"\x80\x02]q\x00".to_vec();
    for level in 0..60u8 {
        p.extend_from_slice(b"(");
        for _ in 0..10 {
            p.extend_from_slice(&[b'h', level]);
        }
        p.extend_from_slice(&[b'l', b'q', level + 1]);
    }
    p.push(b'.');
    let s = run(&p).unwrap();
    // 10**60 elements when expanded; here one node per level.
    assert!(s.graph.len() <= 61, "{} nodes", s.graph.len());
}

#[test]
fn reduce_becomes_a_call_with_its_global() {
    let s = run(b"cposix\nsystem\n(S'echo hi'\ntR.").unwrap();
    let call = s.graph.call(s.pickles[0].root).unwrap();
    assert_eq!(call.kind, CallKind::Reduce);
    let global = s.graph.global(call.callable).unwrap();
    assert_eq!((&*global.module, &*global.name), ("posix", "system"));
    assert_eq!(global.offset, 0);
}

#[test]
fn build_setitems_and_appends_attach_to_calls() {
    // NEWOBJ of __main__.C with dict items, list items and state.
    let p = b"\x80\x02c__main__\nC\n)\x81X\x01\x00\x00\x00aK\x01s(K\x02e}b.";
    let s = run(p).unwrap();
    let call = s.graph.call(s.pickles[0].root).unwrap();
    assert_eq!(call.kind, CallKind::NewObj);
    assert_eq!(call.dict_items.len(), 1);
    assert_eq!(call.list_items.len(), 1);
    assert!(call.state.is_some());
}

#[test]
fn stack_global_needs_strings() {
    assert_eq!(kind_of(b"\x80\x04K\x01K\x02\x93."), ErrorKind::Unsupported);
    let s = run(b"\x80\x04\x8c\x02os\x8c\x06system\x93.").unwrap();
    assert_eq!(&*s.graph.globals[0].name, "system");
}

#[test]
fn cpython_refusals_are_errors() {
    assert_eq!(kind_of(b"\x80\x09N."), ErrorKind::Unsupported);
    assert_eq!(kind_of(b"(K\x01d."), ErrorKind::Unsupported);
    assert_eq!(kind_of(b"}(K\x01u."), ErrorKind::Unsupported);
    assert_eq!(kind_of(b"h\x05."), ErrorKind::MissingMemoKey);
    assert_eq!(kind_of(b"1."), ErrorKind::Inconsistent);
    assert_eq!(kind_of(b"]K\x01\x81."), ErrorKind::Unsupported);
    assert_eq!(kind_of(b"c__main__\nf\n]R."), ErrorKind::Unsupported);
}

#[test]
fn what_cpython_only_rejects_by_type_is_kept_as_data() {
    // BUILD on a global and APPEND to a persistent object: recorded, not refused.
    let s = run(b"cmod\nCls\n}b.").unwrap();
    assert_eq!(s.graph.mutations.len(), 1);
    let s = run(b"Pid\nK\x01a.").unwrap();
    assert!(matches!(s.graph.mutations[0].kind, MutationKind::Items(_)));
}

#[test]
fn big_and_text_integers() {
    let s = run(b"(I00\nI01\nL12345678901234567890123L\n\x8a\x01\xfft.").unwrap();
    let Node::Tuple(items) = s.graph.node(s.pickles[0].root) else {
        panic!()
    };
    assert_eq!(s.graph.node(items[0]), Node::Bool(false));
    assert_eq!(s.graph.node(items[1]), Node::Bool(true));
    assert!(matches!(s.graph.node(items[2]), Node::BigInt(_)));
    assert_eq!(s.graph.node(items[3]), Node::Int(-1));
}

#[test]
fn out_of_band_buffers_and_extensions_are_references() {
    let s = run(b"\x80\x05(\x97\x98\x82\x07t.").unwrap();
    let Node::Tuple(items) = s.graph.node(s.pickles[0].root) else {
        panic!()
    };
    assert!(matches!(
        s.graph.node(items[0]),
        Node::Buffer {
            index: 0,
            readonly: true,
            ..
        }
    ));
    assert!(matches!(
        s.graph.node(items[1]),
        Node::Extension { code: 7, .. }
    ));
}

#[test]
fn concatenated_pickles_and_trailing_bytes() {
    let s = run(b"N.K\x01.\x00\x00").unwrap();
    assert_eq!(s.pickles.len(), 2);
    assert_eq!(s.trailing, Some((5, None)));
    // A later "pickle" that fails is trailing data, with the reason.
    let s = run(b"N.N").unwrap();
    assert_eq!(s.pickles.len(), 1);
    assert!(matches!(&s.trailing, Some((2, Some(_)))));
}

#[test]
fn a_failing_pickle_keeps_what_it_read_when_asked() {
    // posix.system('id'), its result POPped, then a byte that is no opcode.
    let data = b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R0\xff";
    assert!(run(data).is_err());
    let s = run_stream_partial(data, 0, &Limits::default(), None).unwrap();
    let [p] = s.pickles.as_slice() else { panic!() };
    assert_eq!(p.error.as_ref().map(|e| e.offset()), Some(26));
    assert_eq!((p.end, p.protocol, p.opcode_count), (26, 2, 6));
    assert_eq!(p.globals.len(), 1);
    assert_eq!(s.graph.globals[0].name, "system");
    let [call] = p.calls.as_slice() else { panic!() };
    assert_eq!((call.offset, call.opcode), (24, Opcode::REDUCE));
    assert!(matches!(s.graph.node(call.node), Node::Call(_)));
    // The root of a failed pickle is what its stack held: nothing, after the POP.
    assert_eq!(s.graph.node(p.root), Node::Tuple(&[]));
}

#[test]
fn a_later_pickle_retried_with_the_memo_keeps_the_retry() {
    // Pickle 1 memoizes a list; pickle 2 reads it (fresh memo: missing key at 4), then
    // imports posix.system and breaks at 21: the carried reading is the one kept.
    let data = b"]q\x00.h\x00cposix\nsystem\n\x86\xff";
    let s = run_stream_partial(data, 0, &Limits::default(), None).unwrap();
    let [_, second] = s.pickles.as_slice() else {
        panic!()
    };
    assert!(second.memo_carried);
    assert_eq!(second.error.as_ref().map(|e| e.offset()), Some(21));
    assert_eq!(second.globals.len(), 1);
    assert!(matches!(&s.trailing, Some((4, Some(_)))));
    // Without keeping, the stream is the first pickle and trailing bytes.
    let s = run(data).unwrap();
    assert_eq!(s.pickles.len(), 1);
    assert!(s.graph.globals.is_empty());
}

#[test]
fn stack_global_reads_python_2_strs_and_computed_names() {
    let s = run(b"\x80\x04U\x05posixU\x06system\x93.").unwrap();
    assert_eq!(s.graph.globals[0].module, "posix");
    // A call's result as the module name: an opaque global, traced.
    let s = run(b"\x80\x04\x8c\x01m)R\x8c\x01n\x93.").unwrap();
    let p = &s.pickles[0];
    assert_eq!(
        s.graph.global(p.root).map(|g| g.module.as_ref()),
        Some(COMPUTED)
    );
    assert_eq!(p.calls.last().map(|c| c.opcode), Some(Opcode::STACK_GLOBAL));
    // Not ASCII, or not a str at all: CPython fails.
    assert_eq!(
        kind_of(b"\x80\x04U\x01\xe9U\x01x\x93."),
        ErrorKind::Unsupported
    );
    assert_eq!(kind_of(b"\x80\x04K\x01U\x01x\x93."), ErrorKind::Unsupported);
}

#[test]
fn limits_are_errors_naming_the_limit() {
    let limits = Limits {
        max_nodes: 3,
        ..Limits::default()
    };
    let e = run_stream(b"(\x8c\x01a\x8c\x01b\x8c\x01c\x8c\x01dt.", 0, &limits, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded(Limit::Nodes));
    assert!(e.message().contains("max_nodes"), "{e}");
    let limits = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    let e = run_stream(b"(((", 0, &limits, None).unwrap_err();
    assert!(e.message().contains("max_depth"), "{e}");
}

#[test]
fn none_bools_and_small_ints_are_one_node_each_as_in_cpython() {
    // (None, None, True, True, 7, 7, 300, 300, -2**63, 2**63 - 1)
    let s = run(b"(NN\x88\x88K\x07K\x07M\x2c\x01M\x2c\x01\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7ft.").unwrap();
    let Node::Tuple(items) = s.graph.node(s.pickles[0].root) else {
        panic!()
    };
    assert_eq!(items[0], items[1]);
    assert_eq!(items[2], items[3]);
    assert_eq!(items[4], items[5]);
    assert_ne!(items[6], items[7]);
    assert_eq!(s.graph.node(items[7]), Node::Int(300));
    assert_eq!(s.graph.node(items[8]), Node::Int(i64::MIN));
    assert_eq!(s.graph.node(items[9]), Node::Int(i64::MAX));
}

#[test]
fn a_huge_memo_key_costs_one_entry() {
    let s = run(b"Nr\xff\xff\xff\xffj\xff\xff\xff\xff.").unwrap();
    assert_eq!(s.graph.len(), 1);
}

#[test]
fn a_million_nested_lists_need_no_recursion() {
    let depth = 1_000_000;
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b'(', depth));
    p.push(b']');
    p.extend(std::iter::repeat_n(b'l', depth));
    p.push(b'.');
    let s = run(&p).unwrap();
    assert_eq!(s.graph.len(), depth + 1);
}

#[test]
fn lists_filled_in_turn_keep_their_own_items() {
    // a = [], b = [], then APPEND to each in turn (through the memo), 300 times, then
    // (a, b, a dict filled in turn with them): every container's children stay its own.
    let mut data = b"\x80\x04]\x94]\x94}\x94".to_vec();
    for i in 0..300u16 {
        let [lo, hi] = i.to_le_bytes();
        data.extend_from_slice(&[b'h', 0, b'M', lo, hi, b'a', b'0']);
        data.extend_from_slice(&[b'h', 1, b'M', lo, hi, b'a', b'0']);
        data.extend_from_slice(&[b'h', 2, b'M', lo, hi, b'M', lo, hi, b's', b'0']);
    }
    data.extend_from_slice(b"h\x00h\x01h\x02\x87.");
    let s = run(&data).unwrap();
    let Some([a, b, d]) = s.graph.tuple(s.pickles[0].root) else {
        panic!("{:?}", s.graph.node(s.pickles[0].root))
    };
    let ints =
        |items: &[NodeId]| -> Vec<i64> { items.iter().map(|&i| s.graph.int(i).unwrap()).collect() };
    let want: Vec<i64> = (0..300).collect();
    assert_eq!(ints(s.graph.list(*a).unwrap()), want);
    assert_eq!(ints(s.graph.list(*b).unwrap()), want);
    let pairs = s.graph.dict(*d).unwrap();
    assert_eq!(pairs.len(), 300);
    assert!(pairs
        .iter()
        .enumerate()
        .all(|(i, &(k, v))| s.graph.int(k) == Some(i as i64) && s.graph.int(v) == Some(i as i64)));
}

#[test]
fn text_is_validated_once_by_the_machine() {
    // The reader defers BINUNICODE's check to the machine: bad UTF-8 is still an error at
    // the opcode, with the reader's message.
    let e = run(b"\x80\x04\x8c\x02\xc3(.").unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::InvalidUtf8, 2));
    assert!(
        e.message()
            .contains("SHORT_BINUNICODE is not valid UTF-8 (bad byte at argument offset 0)"),
        "{e}"
    );
    // Encoded surrogates pass (`surrogatepass`), kept exactly on the side.
    let s = run(b"\x8c\x03\xed\xa0\x80.").unwrap();
    let root = s.pickles[0].root;
    assert_eq!(s.graph.str(root), Some("\u{fffd}"));
    assert_eq!(
        s.graph.surrogate_strs.get(&root).map(|c| &c[..]),
        Some(&[0xD800][..])
    );
    // Plain text is borrowed from the input, not copied.
    let data = b"\x8c\x03abc.";
    let s = run(data).unwrap();
    let text = s.graph.str(s.pickles[0].root).unwrap();
    assert_eq!(text.as_ptr(), data[2..].as_ptr());
}

#[test]
fn a_failed_later_pickle_puts_back_the_list_it_appended_to() {
    // Pickle 1: a list, memoised. Pickle 2 (needs the carried memo): APPENDS to it, then
    // fails, so it is trailing data, rolled back. The list of pickle 1 must hold its own
    // item only (its children were moved when pickle 2 appended).
    let data = b"]\x94(K\x01e.h\x00(K\x02K\x03ecos\nsystem\n\xff";
    let s = run(data).unwrap();
    assert_eq!(s.pickles.len(), 1);
    assert!(s.trailing.is_some());
    let list = s.graph.list(s.pickles[0].root).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(s.graph.int(list[0]), Some(1));
}
