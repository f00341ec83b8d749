//! The pickle streams of an input, for tools that read the pickle bytes themselves (`dis`):
//! the same parts [`open`](super::open) gives the analysis — a compressed file's decoded
//! stream, a joblib dump's stream, a torch zip's `data.pkl` and other `.pkl` members, the
//! pickle after an object `.npy` header, every pickle member of an archive — each with the
//! member that holds it. Plain `.npy` arrays and other members hold no pickle and are left
//! out.

use std::borrow::Cow;

use super::{ContainerKind, Part};
use crate::error::Result;
use crate::limits::Limits;

/// One pickle stream of an input.
#[derive(Debug)]
pub struct PickleStream<'s> {
    /// The archive member holding it (`archive/data.pkl`, `outer.zip:inner.pkl`); `None` for
    /// the input itself or its decompressed bytes.
    pub member: Option<&'s str>,
    /// The stream, from its first opcode (after an `.npy` header or a legacy torch tar
    /// record's start).
    pub bytes: &'s [u8],
}

/// What [`each_pickle_stream`] saw of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamsSeen {
    /// The container, by content.
    pub kind: ContainerKind,
    /// How many pickle streams were handed to the callback.
    pub streams: usize,
}

/// Calls `f` with each pickle stream of `input`, in the order a loader meets them, until
/// `f` returns `Ok(false)`. Each stream is decoded when it is reached (one zip member at a
/// time). A compressed stream that fails part-way hands over what was decoded before the
/// failure, and the failure is then the error returned; so is a malformed container or a
/// limit.
pub fn each_pickle_stream(
    input: &[u8],
    limits: &Limits,
    mut f: impl FnMut(PickleStream<'_>) -> Result<bool>,
) -> Result<StreamsSeen> {
    let opened = super::open(input, limits)?;
    let mut seen = StreamsSeen {
        kind: opened.kind(),
        streams: 0,
    };
    for part in opened.parts() {
        let stream = match part? {
            Part::Stream(stream) => stream,
            Part::Npy(npy) if npy.header.descr.has_object() => npy.object_stream(),
            Part::Npy(_) | Part::Other => continue,
        };
        let bytes: &[u8] = match &stream.bytes {
            Cow::Borrowed(b) => b,
            Cow::Owned(b) => b,
        };
        let bytes = bytes.get(stream.start..).unwrap_or_default();
        seen.streams = seen.streams.saturating_add(1);
        let go_on = f(PickleStream {
            member: stream.member.as_deref(),
            bytes,
        })?;
        if !go_on {
            return Ok(seen);
        }
    }
    if let Some(e) = opened.decode_error() {
        return Err(e.clone());
    }
    Ok(seen)
}
