//! Plain values that pickle writes as calls: `collections.OrderedDict`, `set`/`frozenset`
//! (protocols < 4), `bytearray` (< 5), `complex`, bytes as `_codecs.encode(text, 'latin1')`
//! (< 3), and objects made by `copyreg._reconstructor` (< 2). Recognised here so that
//! later stages (JSON extraction) render them as the values they are.

#![warn(clippy::arithmetic_side_effects)]

use std::borrow::Cow;

use crate::machine::{Graph, Node, NodeId};

use super::{Known, Names};

/// A plain value built by a known call.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PlainValue<'g> {
    /// A mapping: pairs from the call's argument (`OrderedDict([(k, v)])`) then its
    /// SETITEM(S) items.
    OrderedDict(Vec<(NodeId, NodeId)>),
    Set(Vec<NodeId>),
    FrozenSet(Vec<NodeId>),
    ByteArray(Cow<'g, [u8]>),
    Bytes(Vec<u8>),
    Complex(f64, f64),
    /// An instance of `class` (a global), its state given by BUILD.
    Object {
        class: NodeId,
    },
}

fn number(graph: &Graph<'_>, id: NodeId) -> Option<f64> {
    match graph.node(id) {
        Node::Float(x) => Some(x),
        Node::Int(v) => Some(v as f64),
        Node::Bool(b) => Some(f64::from(u8::from(b))),
        _ => None,
    }
}

/// `_codecs.encode(text, 'latin1')`: the text's code points as bytes.
fn latin1_encoded(graph: &Graph<'_>, args: &[NodeId]) -> Option<Vec<u8>> {
    let [text, encoding] = args else { return None };
    let encoding = graph
        .str(*encoding)?
        .to_ascii_lowercase()
        .replace(['-', '_'], "");
    if encoding != "latin1" && encoding != "iso88591" {
        return None;
    }
    graph
        .str(*text)?
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// The items of a list or tuple node.
fn sequence<'g>(graph: &'g Graph<'_>, id: NodeId) -> Option<&'g [NodeId]> {
    match graph.node(id) {
        Node::List(items) | Node::Tuple(items) => Some(items),
        _ => None,
    }
}

/// Recognises the plain value built at `node`, if it is one (through
/// [`super::Lifted::plain`]).
pub(crate) fn plain_at<'g>(
    graph: &'g Graph<'_>,
    names: Names<'_>,
    node: NodeId,
) -> Option<PlainValue<'g>> {
    let (call, known) = names.call(graph, node)?;
    let args = graph.tuple(call.args).unwrap_or(&[]);
    match known {
        Known::OrderedDict => {
            let mut pairs = Vec::new();
            if let Some(&items) = args.first() {
                for &pair in sequence(graph, items)? {
                    let [k, v] = sequence(graph, pair)? else {
                        return None;
                    };
                    pairs.push((*k, *v));
                }
            }
            pairs.extend(call.dict_items.iter().copied());
            Some(PlainValue::OrderedDict(pairs))
        }
        Known::Set | Known::FrozenSet => {
            let items = match args.first() {
                Some(&items) => sequence(graph, items)?.to_vec(),
                None => Vec::new(),
            };
            Some(if known == Known::Set {
                PlainValue::Set(items)
            } else {
                PlainValue::FrozenSet(items)
            })
        }
        Known::ByteArray => bytearray(graph, names, args),
        Known::Complex => match args {
            [re] => Some(PlainValue::Complex(number(graph, *re)?, 0.0)),
            [re, im] => Some(PlainValue::Complex(
                number(graph, *re)?,
                number(graph, *im)?,
            )),
            _ => None,
        },
        Known::CodecsEncode => latin1_encoded(graph, args).map(PlainValue::Bytes),
        // protocols < 3 write an empty bytes as bytes()
        Known::Bytes if args.is_empty() => Some(PlainValue::Bytes(Vec::new())),
        Known::CopyregReconstructor => {
            let class = *args.first()?;
            matches!(graph.node(class), Node::Global { .. }).then_some(PlainValue::Object { class })
        }
        _ => None,
    }
}

/// `bytearray(…)` of nothing, of bytes, of bytes written as a call, or of text and an
/// encoding.
fn bytearray<'g>(
    graph: &'g Graph<'_>,
    names: Names<'_>,
    args: &[NodeId],
) -> Option<PlainValue<'g>> {
    match args {
        [] => Some(PlainValue::ByteArray(Cow::Borrowed(&[]))),
        [inner] => match graph.node(*inner) {
            Node::Bytes(bytes, _) => Some(PlainValue::ByteArray(Cow::Borrowed(bytes))),
            // Only bytes count, and a bytearray is not bytes: stopping here keeps
            // bytearray(bytearray(…)) nested a million deep from recursing as deep.
            _ if names.call(graph, *inner).map(|(_, k)| k) == Some(Known::ByteArray) => None,
            _ => match plain_at(graph, names, *inner)? {
                PlainValue::Bytes(bytes) => Some(PlainValue::ByteArray(Cow::Owned(bytes))),
                _ => None,
            },
        },
        // bytearray(text, 'latin-1')
        [_, _] => latin1_encoded(graph, args).map(|b| PlainValue::ByteArray(Cow::Owned(b))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lift::{lift_stream, Lifted};
    use crate::limits::Limits;
    use crate::machine::run_stream;

    fn plain<'g>(lifted: &Lifted, g: &'g Graph<'_>, node: NodeId) -> Option<PlainValue<'g>> {
        lifted.plain(g, node)
    }

    /// `pickle.dumps([OrderedDict([('a', 1)]), {1, 2}, frozenset({3}), bytearray(b'xy'), 2+3j],
    /// protocol=p)` as CPython 3.11 writes it, for p = 0, 2, 4.
    const FORMS: [&[u8]; 3] = [
        b"(lp0\x0accollections\x0aOrderedDict\x0ap1\x0a(tRp2\x0aVa\x0ap3\x0aI1\x0asac__builtin__\x0aset\x0ap4\x0a((lp5\x0aI1\x0aaI2\x0aatp6\x0aRp7\x0aac__builtin__\x0afrozenset\x0ap8\x0a((lp9\x0aI3\x0aatp10\x0aRp11\x0aac__builtin__\x0abytearray\x0ap12\x0a(c_codecs\x0aencode\x0ap13\x0a(Vxy\x0ap14\x0aVlatin1\x0ap15\x0atp16\x0aRp17\x0atp18\x0aRp19\x0aac__builtin__\x0acomplex\x0ap20\x0a(F2.0\x0aF3.0\x0atp21\x0aRp22\x0aa.",
        b"\x80\x02]q\x00(ccollections\x0aOrderedDict\x0aq\x01)Rq\x02X\x01\x00\x00\x00aq\x03K\x01sc__builtin__\x0aset\x0aq\x04]q\x05(K\x01K\x02e\x85q\x06Rq\x07c__builtin__\x0afrozenset\x0aq\x08]q\x09K\x03a\x85q\x0aRq\x0bc__builtin__\x0abytearray\x0aq\x0cc_codecs\x0aencode\x0aq\x0dX\x02\x00\x00\x00xyq\x0eX\x06\x00\x00\x00latin1q\x0f\x86q\x10Rq\x11\x85q\x12Rq\x13c__builtin__\x0acomplex\x0aq\x14G@\x00\x00\x00\x00\x00\x00\x00G@\x08\x00\x00\x00\x00\x00\x00\x86q\x15Rq\x16e.",
        b"\x80\x04\x95\x80\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94\x8c\x01a\x94K\x01s\x8f\x94(K\x01K\x02\x90(K\x03\x91\x94\x8c\x08builtins\x94\x8c\x09bytearray\x94\x93\x94C\x02xy\x94\x85\x94R\x94h\x08\x8c\x07complex\x94\x93\x94G@\x00\x00\x00\x00\x00\x00\x00G@\x08\x00\x00\x00\x00\x00\x00\x86\x94R\x94e.",
    ];

    #[test]
    fn every_protocol_form_lifts_to_the_same_values() {
        for (form, bytes) in FORMS.iter().enumerate() {
            let s = run_stream(bytes, 0, &Limits::default(), None).unwrap();
            let g = &s.graph;
            let l = lift_stream(g, bytes);
            let Node::List(items) = g.node(s.pickles[0].root) else {
                panic!()
            };
            let Some(PlainValue::OrderedDict(pairs)) = plain(&l, g, items[0]) else {
                panic!("form {form}: OrderedDict")
            };
            assert_eq!(pairs.len(), 1);
            assert_eq!(g.str(pairs[0].0), Some("a"));
            assert_eq!(g.int(pairs[0].1), Some(1));
            // Protocol 4 has native EMPTY_SET/FROZENSET opcodes; older ones call set().
            let set_len = match (g.node(items[1]), plain(&l, g, items[1])) {
                (Node::Set(v), _) => v.len(),
                (_, Some(PlainValue::Set(v))) => v.len(),
                other => panic!("form {form}: set {other:?}"),
            };
            assert_eq!(set_len, 2);
            let frozen_len = match (g.node(items[2]), plain(&l, g, items[2])) {
                (Node::FrozenSet(v), _) => v.len(),
                (_, Some(PlainValue::FrozenSet(v))) => v.len(),
                other => panic!("form {form}: frozenset {other:?}"),
            };
            assert_eq!(frozen_len, 1);
            assert_eq!(
                plain(&l, g, items[3]),
                Some(PlainValue::ByteArray(Cow::Borrowed(b"xy"))),
                "form {form}"
            );
            assert_eq!(plain(&l, g, items[4]), Some(PlainValue::Complex(2.0, 3.0)));
        }
    }

    #[test]
    fn reconstructor_objects_name_their_class() {
        // protocol 0 of a plain-class instance: copyreg._reconstructor(cls, object, None)
        let bytes =
            b"ccopy_reg\n_reconstructor\n(c__main__\nC\nc__builtin__\nobject\nNtR(dVx\nI1\nsb.";
        let s = run_stream(bytes, 0, &Limits::default(), None).unwrap();
        let l = lift_stream(&s.graph, bytes);
        let Some(PlainValue::Object { class }) = plain(&l, &s.graph, s.pickles[0].root) else {
            panic!()
        };
        assert_eq!(&*s.graph.global(class).unwrap().name, "C");
    }
}
