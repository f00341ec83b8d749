//! A stream of pickles, one after another: runs each, carries memos over where a later
//! pickle needs them, and rolls a failed attempt back — or, for [`run_stream_partial`],
//! keeps what a failed pickle built before it stopped (the loader ran it), as a pickle
//! with an [`Pickle::error`].
//!
//! A pickle retried with a carried memo is a different reading of the same bytes; when
//! both readings fail, the retry is kept: the two are the same up to the GET the fresh
//! reading failed on, so the retry ran everything the other ran, and more.

use super::graph::{Lengths, Seq};
use super::memo::Memo;
use super::{BuildHook, Graph, Machine, NodeId, Outcome, Traced};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::{Limit, Limits};
use crate::opcode::Opcode;

/// One pickle of a stream, run.
#[derive(Clone, Debug, PartialEq)]
pub struct Pickle {
    /// Offset of its first opcode in the stream.
    pub start: usize,
    /// Offset just past its STOP.
    pub end: usize,
    /// The PROTO argument, or for pickles without one the highest protocol of their
    /// opcodes (0 or 1).
    pub protocol: u8,
    /// Opcodes executed (nested joblib pickles included); for a pickle that failed, those
    /// completed before the failure.
    pub opcode_count: u64,
    /// The object STOP returned.
    pub root: NodeId,
    /// The globals this pickle references, in order of first appearance in it: index into
    /// [`Graph::globals`] and the offset of the first opcode in this pickle that names it.
    pub globals: Vec<(u32, usize)>,
    /// Items left on the stack below the root at STOP (CPython ignores them).
    pub leftover: usize,
    /// Whether it needed the previous pickles' memo (one `Unpickler` calling `load()`
    /// repeatedly); a fresh `pickle.load` of it alone would fail.
    pub memo_carried: bool,
    /// The execution trace: every call the loader makes running it, in stream order (the
    /// first [`super::MAX_TRACED`]).
    pub calls: Vec<Traced>,
    /// How many trace entries there are in all.
    pub calls_total: u64,
    /// Why the loader stops in it ([`run_stream_partial`] only): then `end` is the
    /// offset where it stops, and `root` a tuple of what its stack held.
    pub error: Option<Error>,
}

/// All the pickles of one stream, one after another.
#[derive(Debug)]
pub struct Stream<'data> {
    /// The objects of every pickle.
    pub graph: Graph<'data>,
    /// The pickles, in stream order (at least one).
    pub pickles: Vec<Pickle>,
    /// Bytes after the last pickle that are not one: their offset, and why they are not
    /// (`None` when they do not even start with an opcode).
    pub trailing: Option<(usize, Option<Error>)>,
    /// Some opcode may read differently in another of CPython's loaders (a FRAME overrun or
    /// nested, a numeric line not spelled plainly): worth reading again their ways.
    pub irregular: bool,
    /// The limit on the number of pickles, hit before the later ones were read (only
    /// [`run_stream_partial`] keeps what came before it; [`run_stream`] fails).
    pub limit: Option<Error>,
}

impl Machine<'_, '_> {
    /// What the graph holds before an attempt to run a pickle: a failed attempt is cut
    /// back to it.
    fn snapshot(&self) -> Lengths {
        self.graph.lengths()
    }

    /// Runs the pickle at `pos` with `memo`, as a new attempt: its globals are listed afresh.
    fn attempt(&mut self, pos: usize, memo: &mut Memo) -> Result<Outcome> {
        self.pickle_globals.clear();
        self.pickle_calls.clear();
        self.pickle_calls_total = 0;
        self.stopped = None;
        self.run_number = self.run_number.checked_add(1).ok_or_else(|| {
            Error::new(ErrorKind::Internal, pos as u64, "more than 2**64 attempts")
        })?;
        self.buffers = 0;
        self.graph.begin_attempt();
        self.run(pos, memo)
    }

    /// Undoes a failed attempt: drops what it added and restores what it changed.
    fn rollback(&mut self, to: Lengths) {
        self.graph.truncate(to);
        // Shared nodes made by the attempt are gone; their ids are about to be reused.
        for slot in &mut self.shared {
            if slot.is_some_and(|id| id.index() >= to.nodes()) {
                *slot = None;
            }
        }
        self.global_index
            .retain(|_, index| (*index as usize) < to.globals());
        self.pickle_globals.clear();
        self.pickle_calls.clear();
        self.pickle_calls_total = 0;
        self.stopped = None;
    }

    /// Runs the pickle at `pos`: with a fresh memo, as `pickle.load` gives it, then, if it
    /// failed only for a memo key it never stored, again with `carried`. Returns the
    /// outcome, the memo it ran with, and whether that was the carried one. When it fails
    /// and `keep` is set, what the last reading built stays in the graph and in
    /// [`Machine::stopped`]; otherwise it is rolled back.
    fn run_one(
        &mut self,
        pos: usize,
        carried: &mut Memo,
        keep: bool,
    ) -> Result<(Outcome, Memo, bool)> {
        let snapshot = self.snapshot();
        // Room for a memo entry per node the input may hold (see `Graph::reserve`).
        let mut memo = Memo::with_hint(self.size_hint().min(self.limits.max_memo));
        let first = match self.attempt(pos, &mut memo) {
            Ok(outcome) => return Ok((outcome, memo, false)),
            Err(e) if e.kind() == ErrorKind::MissingMemoKey && carried.len() > 0 => e,
            Err(e) => {
                if !keep {
                    self.rollback(snapshot);
                }
                return Err(e);
            }
        };
        self.rollback(snapshot);
        let mut memo = std::mem::take(carried);
        let second = match self.attempt(pos, &mut memo) {
            Ok(outcome) => return Ok((outcome, memo, true)),
            Err(e) => e,
        };
        // Both readings are the same up to the GET the fresh one failed on (a memo only
        // changes what GET finds), so the retry reads at least as far: it is kept.
        debug_assert!(second.offset() >= first.offset());
        if !keep {
            self.rollback(snapshot);
        }
        Err(second)
    }

    /// A failed pickle kept: its trace and globals, and a tuple of what its stack held
    /// as its root (one node past `max_nodes` at most).
    fn partial(&mut self, start: usize, error: Error, memo_carried: bool) -> Pickle {
        let stopped = self.stopped.take();
        let (stack, protocol, opcode_count) = match stopped {
            Some(s) => (s.stack, s.protocol, s.opcode_count),
            None => (Vec::new(), 0, 0),
        };
        let slot = self.graph.seq_slot(Seq::Tuple, &stack).ok();
        let root = match slot {
            Some(slot) if u32::try_from(self.graph.len()).is_ok_and(|n| n < u32::MAX) => {
                self.graph.push(slot)
            }
            _ => NodeId(0),
        };
        Pickle {
            start,
            end: usize::try_from(error.offset()).unwrap_or(start).max(start),
            protocol,
            opcode_count,
            root,
            globals: std::mem::take(&mut self.pickle_globals),
            leftover: 0,
            memo_carried,
            calls: std::mem::take(&mut self.pickle_calls),
            calls_total: self.pickle_calls_total,
            error: Some(error),
        }
    }
}

/// Runs every pickle of `data` from `start`: the first must succeed; after it, pickles
/// follow while bytes remain that start with an opcode. Bytes that do not, or a later
/// pickle that fails, end the stream as [`Stream::trailing`].
///
/// Each pickle gets a fresh memo, as `pickle.load` gives it; a later pickle that fails
/// only because it reads an earlier pickle's memo is run again with that memo carried
/// over (the file was written by one `Pickler` calling `dump()` repeatedly).
pub fn run_stream<'data, 'a>(
    data: &'data [u8],
    start: usize,
    limits: &'a Limits,
    hook: Option<&'a mut dyn BuildHook>,
) -> Result<Stream<'data>> {
    run(data, start, limits, hook, false)
}

/// [`run_stream`], keeping what a pickle that fails built before it stopped: the loader
/// ran those opcodes (and the calls among them) before it raised. That pickle is the
/// last of [`Stream::pickles`], with its [`Pickle::error`] set; if it is not the first,
/// [`Stream::trailing`] also starts at it, as for [`run_stream`]. The limit on the
/// number of pickles ends the stream with [`Stream::limit`] set, the pickles before it
/// kept.
pub fn run_stream_partial<'data, 'a>(
    data: &'data [u8],
    start: usize,
    limits: &'a Limits,
    hook: Option<&'a mut dyn BuildHook>,
) -> Result<Stream<'data>> {
    run(data, start, limits, hook, true)
}

fn run<'data, 'a>(
    data: &'data [u8],
    start: usize,
    limits: &'a Limits,
    hook: Option<&'a mut dyn BuildHook>,
    keep: bool,
) -> Result<Stream<'data>> {
    let mut machine = Machine::new(data, limits, hook);
    let mut pickles: Vec<Pickle> = Vec::new();
    let mut carried = Memo::default();
    let mut pos = start;
    let mut trailing = None;
    let mut limit = None;
    loop {
        if !pickles.is_empty() {
            let Some(&byte) = data.get(pos) else { break };
            if Opcode::from_byte(byte).is_none() {
                trailing = Some((pos, None));
                break;
            }
            if pickles.len() >= limits.max_pickles {
                let e = Limit::Pickles.exceeded(
                    pos as u64,
                    format_args!("more than {} pickles in one stream", limits.max_pickles),
                );
                if !keep {
                    return Err(e);
                }
                limit = Some(e);
                break;
            }
        }
        let carried_before = carried.len() > 0;
        let (outcome, memo, memo_carried) = match machine.run_one(pos, &mut carried, keep) {
            Ok(run) => run,
            Err(e) if keep => {
                let later = !pickles.is_empty();
                let memo_carried = carried_before && carried.len() == 0;
                pickles.push(machine.partial(pos, e.clone(), memo_carried));
                if later {
                    trailing = Some((pos, Some(e)));
                }
                break;
            }
            Err(e) if pickles.is_empty() => return Err(e),
            Err(e) => {
                trailing = Some((pos, Some(e)));
                break;
            }
        };
        pickles.push(Pickle {
            start: pos,
            end: outcome.end,
            protocol: outcome.protocol,
            opcode_count: outcome.opcode_count,
            root: outcome.root,
            globals: std::mem::take(&mut machine.pickle_globals),
            leftover: outcome.leftover,
            memo_carried,
            calls: std::mem::take(&mut machine.pickle_calls),
            calls_total: machine.pickle_calls_total,
            error: None,
        });
        // Keep the union of memos for a later pickle that might need it.
        // (Nothing carried yet: the union is this memo, taken instead of copied.)
        if memo_carried || carried.len() == 0 {
            carried = memo;
        } else {
            carried.absorb(&memo);
        }
        pos = outcome.end;
    }
    machine.graph.end_attempts();
    Ok(Stream {
        graph: machine.graph,
        pickles,
        trailing,
        irregular: machine.irregular,
        limit,
    })
}
