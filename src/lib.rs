//! pklinspect: open Python pickle files without executing them.
//!
//! Data flows one way: bytes ([`input`]) → opcodes ([`opcode`] table, [`reader`]) →
//! listings ([`dis`]). Nothing here imports, calls or evaluates anything from the input,
//! prints, or exits: the binary in `src/main.rs` does that.

pub mod analysis;
pub mod classify;
pub mod container;
pub mod dis;
pub mod error;
pub mod extract;
pub mod input;
pub mod inspect;
pub mod lift;
pub mod limits;
pub mod lint;
pub mod machine;
pub mod opcode;
pub mod pytext;
pub mod reader;
pub mod render;
pub mod report;
pub mod rules;

pub use error::{Error, ErrorKind, Result};
pub use opcode::{ArgKind, Opcode, OpcodeInfo, StackKind, OPCODES};
pub use reader::{Arg, Op, OpReader};
