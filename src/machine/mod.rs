//! The symbolic unpickler: runs one pickle's opcodes on a stack, memo and mark stack of
//! node ids, building an object graph. Nothing is imported, called or evaluated.
//!
//! It follows CPython's C unpickler (`Modules/_pickle.c`) where the two loaders differ,
//! and fails where it fails on the stream's structure (underflow, missing MARK, unknown
//! memo key, unsupported protocol). Where CPython would fail only because of what an
//! object turns out to be (APPEND to an object without `append`), the operation is kept
//! as data instead: we cannot know what a global is, so we never guess that it fails.
//!
//! This file owns the machine's state and the one `match` that sends each opcode to its
//! family (private submodules): `stack` (MARK, POP, POP_MARK, DUP), `values` (numbers,
//! strings, None and bools), `containers`, `memo`, `calls` (globals and the opcodes that
//! call them), `build` (BUILD and the bytes a container writes after an object),
//! `references` (persistent ids, extensions, out-of-band buffers). `stream` runs the
//! pickles of a stream one after another ([`run_stream`]); `effect` checks, in debug
//! builds, each opcode's stack effect against the opcode table.
//!
//! A lower-level stage: public ([`run_stream`], the [`Graph`] and its [`Node`]s, a
//! [`BuildHook`]) for the tests that check the machine against CPython and for callers that
//! need the object graph alone, and it may change between minor versions.
//! [`crate::inspect()`] runs it itself.

mod args;
mod build;
mod calls;
mod containers;
#[cfg(debug_assertions)]
mod effect;
mod graph;
mod memo;
mod references;
mod stack;
mod stream;
mod values;

pub use build::{BuildHook, Trailing};
use graph::Slot;
pub use graph::{BytesKind, Call, CallKind, GlobalRef, Graph, Node, NodeId, Traced, COMPUTED};
pub(crate) use graph::{Mutation, MutationKind, Payload};
pub use stream::{run_stream, run_stream_partial, Pickle, Stream};

use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;

use crate::error::{Error, ErrorKind, Result};
use crate::limits::{Limit, Limits};
use crate::opcode::{Opcode, HIGHEST_PROTOCOL};
use crate::reader::{Arg, Op, OpReader};
use args::OpArgs;
use memo::Memo;
use stack::Stack;

struct Machine<'data, 'a> {
    data: &'data [u8],
    limits: &'a Limits,
    hook: Option<&'a mut dyn BuildHook>,
    graph: Graph<'data>,
    global_index: HashMap<(Cow<'data, str>, Cow<'data, str>), u32>,
    /// Globals of the pickle being run, in order of first appearance in it, with offsets.
    pickle_globals: Vec<(u32, usize)>,
    /// Per global index, the number of the last attempt to run a pickle that named it: an
    /// O(1) "already listed for this pickle" test.
    listed_in: Vec<u64>,
    /// The number of the attempt being run (a pickle retried with a carried memo is run
    /// twice); 0 is never an attempt.
    run_number: u64,
    /// One node each for None, False, True and the ints -5..=256, as CPython shares those
    /// objects: a stream of a million small ints builds a few hundred nodes, not a million.
    shared: Vec<Option<NodeId>>,
    buffers: u32,
    /// Nested pickles being run (joblib object arrays, [`Trailing::Pickle`]).
    nested: u32,
    /// Some opcode may read differently in another of CPython's loaders: one runs past the
    /// end of its FRAME, a FRAME starts inside another, or an INT, LONG, FLOAT, GET or PUT
    /// line is not spelled plainly ([`plain_numeric_line`]). Only then does the analysis
    /// read the stream again the other loaders' ways.
    irregular: bool,
    /// The execution trace of the pickle being run (at most [`MAX_TRACED`] entries).
    pickle_calls: Vec<Traced>,
    /// How many entries the trace of the pickle being run has in all.
    pickle_calls_total: u64,
    /// What the last pickle that failed had read when it stopped.
    stopped: Option<Stopped>,
    /// SETITEMS' pairs, reused from one opcode to the next.
    scratch_pairs: Vec<(NodeId, NodeId)>,
}

/// At most this many trace entries are kept per pickle (the count goes on): a file of a
/// million objects would otherwise print a million calls (the findings read the graph,
/// not the trace, so none is lost).
pub const MAX_TRACED: usize = 1_000;

/// What a pickle that failed had read when it stopped.
#[derive(Clone, Debug)]
struct Stopped {
    /// Items on its stack, bottom first.
    stack: Vec<NodeId>,
    /// Its protocol so far.
    protocol: u8,
    /// Opcodes it completed (the failing one not counted).
    opcode_count: u64,
}

/// What running one pickle gave.
#[derive(Clone, Copy, Debug)]
struct Outcome {
    /// The object STOP returned.
    root: NodeId,
    /// Offset just past STOP.
    end: usize,
    /// The PROTO argument, or the highest protocol of its opcodes (0 or 1).
    protocol: u8,
    /// Opcodes executed, nested pickles included.
    opcode_count: u64,
    /// Items left below the root at STOP.
    leftover: usize,
}

/// What the run loop does after an opcode.
enum Flow {
    Next,
    /// PROTO gave the protocol.
    Protocol(u8),
    /// STOP returned this object.
    Stop(NodeId),
    /// BUILD's hook stepped over bytes after the object: opcodes resume at `at`, after
    /// `nested_opcodes` opcodes of a nested pickle.
    Resume {
        at: usize,
        nested_opcodes: u64,
    },
}

#[cold]
fn invalid(op: &Op<'_>, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        op.offset as u64,
        format!("{} argument: {message}", op.opcode),
    )
}

#[cold]
fn unsupported(op: &Op<'_>, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unsupported, op.offset as u64, message)
}

/// An opcode sent to a family function that does not handle it: a bug in [`Machine::step`].
#[cold]
fn misrouted(op: &Op<'_>) -> Error {
    Error::new(
        ErrorKind::Internal,
        op.offset as u64,
        format!(
            "internal error: {} sent to the wrong opcode family",
            op.opcode
        ),
    )
}

impl<'data, 'a> Machine<'data, 'a> {
    fn new(
        data: &'data [u8],
        limits: &'a Limits,
        hook: Option<&'a mut dyn BuildHook>,
    ) -> Machine<'data, 'a> {
        Machine {
            data,
            limits,
            hook,
            graph: Graph::default(),
            global_index: HashMap::default(),
            pickle_globals: Vec::new(),
            listed_in: Vec::new(),
            run_number: 0,
            shared: vec![None; values::SHARED_SLOTS],
            buffers: 0,
            nested: 0,
            irregular: false,
            pickle_calls: Vec::new(),
            pickle_calls_total: 0,
            stopped: None,
            scratch_pairs: Vec::new(),
        }
    }

    /// How many nodes the input may make ([`size_hint`]).
    fn size_hint(&self) -> usize {
        size_hint(self.data, self.limits)
    }

    /// Adds a trace entry (the first [`MAX_TRACED`] are kept; all are counted).
    fn trace(&mut self, op: &Op<'_>, node: NodeId) {
        self.pickle_calls_total = self.pickle_calls_total.saturating_add(1);
        if self.pickle_calls.len() < MAX_TRACED {
            self.pickle_calls.push(Traced {
                offset: op.offset,
                opcode: op.opcode,
                node,
            });
        }
    }

    /// Adds a node, within `max_nodes` (and the `u32` a [`NodeId`] holds).
    #[inline]
    fn push_node(&mut self, node: Slot, op: &Op<'_>) -> Result<NodeId> {
        self.check_room(op)?;
        Ok(self.graph.push(node))
    }

    /// Whether one more node fits `max_nodes` (and the `u32` a [`NodeId`] holds). A
    /// stream that has made [`EARLY_NODES`] nodes is a dense one: the graph then reserves
    /// room for what the input may make ([`size_hint`]).
    #[inline(always)]
    fn check_room(&mut self, op: &Op<'_>) -> Result<()> {
        let len = self.graph.len();
        if len >= self.limits.max_nodes || u32::try_from(len).is_err() {
            return Err(Limit::Nodes.exceeded(
                op.offset as u64,
                format_args!("more than {} objects", self.limits.max_nodes.min(len)),
            ));
        }
        if len == EARLY_NODES {
            self.reserve();
        }
        Ok(())
    }

    /// See [`Machine::check_room`].
    #[cold]
    #[inline(never)]
    fn reserve(&mut self) {
        self.graph.reserve(self.size_hint());
    }

    /// Runs one pickle from `start` with `memo`.
    fn run(&mut self, start: usize, memo: &mut Memo) -> Result<Outcome> {
        let mut reader = OpReader::new(self.data, start).deferring_text_check();
        let mut stack = Stack::new();
        let mut protocol: Option<u8> = None;
        let mut highest_opcode_proto = 0u8;
        let mut count = 0u64;
        // End of the last FRAME's bytes (0: none yet).
        let mut frame_end = 0usize;

        loop {
            // The opcode is borrowed where the reader returned it: moving it out (`op?`)
            // copied it with wide loads over the reader's narrow stores, a store-forwarding
            // stall on every opcode (+20% user time on opcode-dense input).
            let next = reader.next_op();
            let op = match next {
                Some(Ok(ref op)) => op,
                Some(Err(e)) => {
                    self.stop(
                        &stack,
                        protocol.unwrap_or(highest_opcode_proto.min(1)),
                        count,
                    );
                    return Err(e);
                }
                None => break,
            };
            count = count.saturating_add(1);
            highest_opcode_proto = highest_opcode_proto.max(op.opcode.info().proto);
            self.note_reading(op, &mut frame_end);
            #[cfg(debug_assertions)]
            let shape = effect::Shape::of(&stack);
            let flow = match self.step(op, &mut stack, memo) {
                Ok(flow) => flow,
                Err(e) => {
                    // The failing opcode did not complete.
                    let proto = protocol.unwrap_or(highest_opcode_proto.min(1));
                    self.stop(&stack, proto, count.saturating_sub(1));
                    return Err(e);
                }
            };
            #[cfg(debug_assertions)]
            effect::check(op, shape, &stack, &self.graph);
            match flow {
                Flow::Next => {}
                Flow::Protocol(n) => protocol = Some(n),
                Flow::Resume { at, nested_opcodes } => {
                    count = count.saturating_add(nested_opcodes);
                    reader = OpReader::new(self.data, at).deferring_text_check();
                }
                Flow::Stop(root) => {
                    return Ok(Outcome {
                        root,
                        end: op.end,
                        protocol: protocol.unwrap_or(highest_opcode_proto.min(1)),
                        opcode_count: count,
                        leftover: stack.len(),
                    })
                }
            }
        }
        // The reader ends only after STOP (handled above) or with an error.
        self.stop(
            &stack,
            protocol.unwrap_or(highest_opcode_proto.min(1)),
            count,
        );
        Err(Error::new(
            ErrorKind::Truncated,
            reader.position() as u64,
            "pickle ended before STOP",
        ))
    }

    /// Keeps what a pickle that fails had read (a nested pickle's failure is overwritten
    /// by the pickle around it, which fails with it).
    #[cold]
    fn stop(&mut self, stack: &Stack, protocol: u8, opcode_count: u64) {
        self.stopped = Some(Stopped {
            stack: stack.items().to_vec(),
            protocol,
            opcode_count,
        });
    }

    /// Notes an opcode that another CPython loader may read differently ([`Machine::irregular`]).
    #[inline]
    fn note_reading(&mut self, op: &Op<'_>, frame_end: &mut usize) {
        if op.end > *frame_end && op.offset < *frame_end {
            self.irregular = true;
        }
        match (op.opcode, &op.arg) {
            (Opcode::FRAME, Arg::UInt(len)) => {
                self.irregular |= op.offset < *frame_end;
                *frame_end = usize::try_from(*len)
                    .ok()
                    .and_then(|len| op.end.checked_add(len))
                    .unwrap_or(usize::MAX);
            }
            (opcode, Arg::Line(line)) if !plain_numeric_line(opcode, line) => self.irregular = true,
            _ => {}
        }
    }

    /// Runs one opcode: sends it to its family.
    #[inline]
    fn step(&mut self, op: &Op<'data>, stack: &mut Stack, memo: &mut Memo) -> Result<Flow> {
        use Opcode::*;
        match op.opcode {
            PROTO => return self.protocol(op).map(Flow::Protocol),
            // Frames only group opcodes for buffered reading (PEP 3154); the reader has
            // checked the length against the input.
            FRAME => {}
            STOP => return stack.pop(op).map(Flow::Stop),
            MARK => stack.mark(op, self.limits.max_depth)?,
            POP => stack.pop_item_or_mark(op)?,
            POP_MARK => {
                stack.pop_mark(op)?;
            }
            DUP => stack.dup(op)?,
            NONE => stack.push(self.none(op)?),
            NEWTRUE | NEWFALSE => stack.push(self.bool(op.opcode == NEWTRUE, op)?),
            INT | BININT | BININT1 | BININT2 | LONG | LONG1 | LONG4 | FLOAT | BINFLOAT => {
                stack.push(self.number(op)?)
            }
            STRING | BINSTRING | SHORT_BINSTRING | BINBYTES | SHORT_BINBYTES | BINBYTES8
            | BYTEARRAY8 | UNICODE | SHORT_BINUNICODE | BINUNICODE | BINUNICODE8 => {
                stack.push(self.string(op)?)
            }
            EMPTY_LIST | EMPTY_TUPLE | EMPTY_DICT | EMPTY_SET | LIST | TUPLE | TUPLE1 | TUPLE2
            | TUPLE3 | DICT | FROZENSET => {
                let id = self.container(op, stack)?;
                stack.push(id);
            }
            APPEND | APPENDS | SETITEM | SETITEMS | ADDITEMS => self.add_to(op, stack)?,
            GET | BINGET | LONG_BINGET => stack.push(self.memo_get(op, memo)?),
            PUT | BINPUT | LONG_BINPUT | MEMOIZE => self.memo_put(op, stack, memo)?,
            GLOBAL | STACK_GLOBAL => {
                let id = self.global_op(op, stack)?;
                stack.push(id);
            }
            REDUCE | NEWOBJ | NEWOBJ_EX | INST | OBJ => {
                let id = self.call_op(op, stack)?;
                self.trace(op, id);
                stack.push(id);
            }
            BUILD => return self.build(op, stack),
            PERSID | BINPERSID | EXT1 | EXT2 | EXT4 | NEXT_BUFFER => {
                let id = self.reference(op, stack)?;
                stack.push(id);
            }
            READONLY_BUFFER => self.readonly_buffer(op, stack)?,
        }
        Ok(Flow::Next)
    }

    /// PROTO: CPython refuses a protocol it does not know (`Modules/_pickle.c`, load_proto).
    fn protocol(&self, op: &Op<'_>) -> Result<u8> {
        let n = op.uint()?;
        match u8::try_from(n) {
            Ok(n) if n <= HIGHEST_PROTOCOL => Ok(n),
            _ => Err(unsupported(op, format!("unsupported pickle protocol: {n}"))),
        }
    }
}

/// How many nodes an input of this size may make, to reserve room for: a node takes at
/// least one opcode byte, and opcode-dense pickles average about nine bytes a node
/// (within `max_nodes`). Room reserved and never touched costs address space, not memory;
/// it is reserved only once a stream has made [`EARLY_NODES`] nodes (a stream of a few
/// big payloads never does, and pays nothing for it).
fn size_hint(data: &[u8], limits: &Limits) -> usize {
    (data.len() / 8).min(limits.max_nodes)
}

/// See [`size_hint`].
const EARLY_NODES: usize = 1 << 14;

/// Whether a text line is spelled so plainly that every CPython loader reads it alike: for
/// INT `00`, `01`, `0` or a decimal without a leading zero (at most 18 digits, optionally
/// negative); for LONG the same with an optional `L`; for FLOAT digits with an optional
/// fraction; for GET and PUT at most 18 digits. Lines of other opcodes are not numbers.
/// Anything else (signs, spaces, underscores, NULs, octal-looking zeros, exponents,
/// `inf`) is left to `analysis::differential` to compare.
pub(crate) fn plain_numeric_line(opcode: Opcode, line: &[u8]) -> bool {
    fn decimal(line: &[u8]) -> bool {
        if line == b"0" {
            return true;
        }
        match line.strip_prefix(b"-").unwrap_or(line) {
            [b'1'..=b'9', rest @ ..] => rest.len() < 18 && rest.iter().all(u8::is_ascii_digit),
            _ => false,
        }
    }
    match opcode {
        Opcode::INT => matches!(line, b"00" | b"01") || decimal(line),
        Opcode::LONG => decimal(line.strip_suffix(b"L").unwrap_or(line)),
        Opcode::FLOAT => {
            let body = line.strip_prefix(b"-").unwrap_or(line);
            let (whole, fraction) = match body.iter().position(|&b| b == b'.') {
                Some(dot) => (&body[..dot], &body[dot + 1..]),
                None => (body, &b"0"[..]),
            };
            !whole.is_empty()
                && !fraction.is_empty()
                && whole.len() + fraction.len() <= 40
                && whole.iter().chain(fraction).all(u8::is_ascii_digit)
        }
        Opcode::GET | Opcode::PUT => {
            !line.is_empty() && line.len() <= 18 && line.iter().all(u8::is_ascii_digit)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests;
