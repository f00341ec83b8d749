//! Bytes after the last pickle of a stream: a `trailing-data` finding, and a search for
//! pickles hidden there that would run code if some tool read them
//! (`unreachable-payload`).

#![warn(clippy::arithmetic_side_effects)]

use crate::classify::Category;
use crate::error::Error;
use crate::limits::Limits;
use crate::machine;
use crate::report::Detected;
use crate::rules::Rule;

use super::Analysis;

/// At most this many candidate pickles are parsed in trailing bytes.
const MAX_CANDIDATES: usize = 256;
/// Only this many bytes after the last pickle are searched.
const SCAN_WINDOW: usize = 64 << 20;
/// Nodes a candidate may build: hidden payloads are small.
const CANDIDATE_MAX_NODES: usize = 1_000_000;

impl Analysis<'_> {
    /// Reports the bytes from `offset` to the end of `bytes` (`why`: the error that ended
    /// the last pickle there, if one started), and the code-running pickles among them.
    pub(crate) fn trailing(
        &mut self,
        bytes: &[u8],
        offset: usize,
        why: Option<&Error>,
        member: Option<&str>,
    ) {
        let len = bytes.len().saturating_sub(offset);
        let reason = match why {
            None => "do not start with a pickle opcode".to_string(),
            Some(e) => format!("are not a pickle: {}", e.message()),
        };
        let message = format!("{len} bytes after the last pickle {reason}");
        self.detected.push(
            Detected::new(Rule::TrailingData, message)
                .at(Some(offset as u64))
                .member(member),
        );
        self.scan_unreachable(bytes, offset, member);
    }

    /// Looks for pickles hidden in bytes no loader reads; reports those that would run code.
    fn scan_unreachable(&mut self, bytes: &[u8], from: usize, member: Option<&str>) {
        let end = bytes.len().min(from.saturating_add(SCAN_WINDOW));
        let limits = Limits {
            max_nodes: CANDIDATE_MAX_NODES,
            ..self.options.limits.clone()
        };
        // A candidate is parsed until it fails, which can be the end of the input: all of
        // them together parse at most four windows' worth, or a file of false starts
        // before a long run of opcodes would cost candidates × its size.
        let mut budget = end.saturating_sub(from).saturating_mul(4);
        let mut pos = from;
        let mut tried = 0;
        while pos < end && tried < MAX_CANDIDATES && budget > 0 {
            let candidate = if pos == from {
                Some(pos)
            } else {
                bytes
                    .get(pos..end)
                    .and_then(|window| memchr::memchr(0x80, window))
                    .map(|i| pos.saturating_add(i))
            };
            let Some(at) = candidate else { break };
            pos = at.saturating_add(1);
            // A hidden pickle of protocol 2 to 5 starts with PROTO.
            if at != from && !matches!(bytes.get(at.saturating_add(1)), Some(2..=5)) {
                continue;
            }
            tried = tried.saturating_add(1);
            let result = machine::run_stream(bytes, at, &limits, None);
            let reached = match &result {
                Ok(stream) => stream.pickles.last().map_or(at, |p| p.end),
                Err(e) => usize::try_from(e.offset()).unwrap_or(usize::MAX),
            };
            budget = budget.saturating_sub(reached.saturating_sub(at).max(1));
            let Ok(stream) = result else {
                continue;
            };
            for global in &stream.graph.globals {
                let class = self.options.known.classify(&global.module, &global.name);
                if class.category == Category::CodeExec {
                    let message = format!(
                        "a pickle hidden at offset {at}, after data loaders stop at, imports {}.{}: {}",
                        global.module, global.name, class.reason
                    );
                    self.detected.push(
                        Detected::new(Rule::UnreachablePayload, message)
                            .at(Some(global.offset as u64))
                            .member(member)
                            .global(&global.module, &global.name),
                    );
                }
            }
            pos = stream.pickles.last().map_or(pos, |p| p.end.max(pos));
        }
    }
}
