//! The one authoritative table of pickle opcodes (protocols 0–5).
//!
//! Every row gives what CPython's `pickletools.opcodes` gives: name, byte, argument
//! kind, stack before and after, the protocol that introduced it, and the first line
//! of its documentation (printed by `dis --annotate`, so it matches pickletools word
//! for word). The reader, the symbolic machine and `dis` are all driven from here;
//! `tests/opcode_table.rs` diffs the table against the running CPython.

use std::fmt;

/// How an opcode's argument is encoded in the stream (pickletools' `ArgumentDescriptor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// The opcode has no argument.
    None,
    /// One-byte unsigned integer.
    Uint1,
    /// Two-byte unsigned integer, little-endian.
    Uint2,
    /// Four-byte signed integer, little-endian.
    Int4,
    /// Four-byte unsigned integer, little-endian.
    Uint4,
    /// Eight-byte unsigned integer, little-endian.
    Uint8,
    /// A quoted, backslash-escaped string terminated by a newline (protocol 0 STRING).
    Stringnl,
    /// A raw string terminated by a newline (PERSID).
    StringnlNoescape,
    /// Two raw newline-terminated strings: module and name (GLOBAL, INST).
    StringnlNoescapePair,
    /// Bytes with a one-byte length prefix, decoded as latin-1.
    String1,
    /// Bytes with a signed four-byte length prefix, decoded as latin-1.
    String4,
    /// Bytes with a one-byte length prefix.
    Bytes1,
    /// Bytes with an unsigned four-byte length prefix.
    Bytes4,
    /// Bytes with an unsigned eight-byte length prefix.
    Bytes8,
    /// Bytearray with an unsigned eight-byte length prefix.
    Bytearray8,
    /// Raw-unicode-escape text terminated by a newline (protocol 0 UNICODE).
    Unicodestringnl,
    /// UTF-8 with a one-byte length prefix.
    Unicodestring1,
    /// UTF-8 with an unsigned four-byte length prefix.
    Unicodestring4,
    /// UTF-8 with an unsigned eight-byte length prefix.
    Unicodestring8,
    /// Decimal integer terminated by a newline (`00`/`01` mean False/True).
    DecimalnlShort,
    /// Decimal integer terminated by a newline, with an optional trailing `L`.
    DecimalnlLong,
    /// Decimal float literal terminated by a newline.
    Floatnl,
    /// Big-endian IEEE-754 double.
    Float8,
    /// Two's-complement little-endian integer with a one-byte length prefix.
    Long1,
    /// Two's-complement little-endian integer with a signed four-byte length prefix.
    Long4,
}

impl ArgKind {
    /// The name pickletools gives this argument kind (`None` for no argument).
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            ArgKind::None => return None,
            ArgKind::Uint1 => "uint1",
            ArgKind::Uint2 => "uint2",
            ArgKind::Int4 => "int4",
            ArgKind::Uint4 => "uint4",
            ArgKind::Uint8 => "uint8",
            ArgKind::Stringnl => "stringnl",
            ArgKind::StringnlNoescape => "stringnl_noescape",
            ArgKind::StringnlNoescapePair => "stringnl_noescape_pair",
            ArgKind::String1 => "string1",
            ArgKind::String4 => "string4",
            ArgKind::Bytes1 => "bytes1",
            ArgKind::Bytes4 => "bytes4",
            ArgKind::Bytes8 => "bytes8",
            ArgKind::Bytearray8 => "bytearray8",
            ArgKind::Unicodestringnl => "unicodestringnl",
            ArgKind::Unicodestring1 => "unicodestring1",
            ArgKind::Unicodestring4 => "unicodestring4",
            ArgKind::Unicodestring8 => "unicodestring8",
            ArgKind::DecimalnlShort => "decimalnl_short",
            ArgKind::DecimalnlLong => "decimalnl_long",
            ArgKind::Floatnl => "floatnl",
            ArgKind::Float8 => "float8",
            ArgKind::Long1 => "long1",
            ArgKind::Long4 => "long4",
        })
    }
}

/// The kinds of object pickletools uses to describe stack effects (its `StackObject`s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StackKind {
    /// `int`.
    Int,
    /// `int_or_bool` (protocol 0–1 text ints that may be `True`/`False`).
    IntOrBool,
    /// `bool`.
    Bool,
    /// `float`.
    Float,
    /// `bytes_or_str` (protocol 0–2 string opcodes).
    BytesOrStr,
    /// `bytes`.
    Bytes,
    /// `bytearray`.
    Bytearray,
    /// `str`.
    Str,
    /// `None`.
    NoneValue,
    /// `tuple`.
    Tuple,
    /// `list`.
    List,
    /// `dict`.
    Dict,
    /// `set`.
    Set,
    /// `frozenset`.
    Frozenset,
    /// `buffer` (an out-of-band `PickleBuffer`).
    Buffer,
    /// `any`: any object.
    Any,
    /// The special MARK object.
    Mark,
    /// Everything above the topmost MARK.
    StackSlice,
}

impl StackKind {
    /// The name pickletools prints for this kind (its `repr`).
    pub fn name(self) -> &'static str {
        match self {
            StackKind::Int => "int",
            StackKind::IntOrBool => "int_or_bool",
            StackKind::Bool => "bool",
            StackKind::Float => "float",
            StackKind::BytesOrStr => "bytes_or_str",
            StackKind::Bytes => "bytes",
            StackKind::Bytearray => "bytearray",
            StackKind::Str => "str",
            StackKind::NoneValue => "None",
            StackKind::Tuple => "tuple",
            StackKind::List => "list",
            StackKind::Dict => "dict",
            StackKind::Set => "set",
            StackKind::Frozenset => "frozenset",
            StackKind::Buffer => "buffer",
            StackKind::Any => "any",
            StackKind::Mark => "mark",
            StackKind::StackSlice => "stackslice",
        }
    }
}

impl fmt::Display for StackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One row of the opcode table.
#[derive(Debug)]
pub struct OpcodeInfo {
    /// The opcode this row describes.
    pub opcode: Opcode,
    /// Its name, as in pickletools (`SHORT_BINUNICODE`).
    pub name: &'static str,
    /// The byte that encodes it.
    pub code: u8,
    /// How its argument is encoded.
    pub arg: ArgKind,
    /// The top of the stack it consumes, bottom first.
    pub stack_before: &'static [StackKind],
    /// What it leaves on the stack, bottom first.
    pub stack_after: &'static [StackKind],
    /// The protocol that introduced it.
    pub proto: u8,
    /// One-line description (the first line of pickletools' doc).
    pub doc: &'static str,
}

macro_rules! opcode_table {
    ($( $name:ident = $code:literal, $arg:ident
        [$($before:ident),*] -> [$($after:ident),*], $proto:literal, $doc:literal; )*) => {
        /// A pickle opcode. Variants carry pickletools' names.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Opcode { $( #[doc = $doc] $name = $code, )* }

        const TABLE: &[OpcodeInfo] = &[ $( OpcodeInfo {
            opcode: Opcode::$name,
            name: stringify!($name),
            code: $code,
            arg: ArgKind::$arg,
            stack_before: &[$(StackKind::$before),*],
            stack_after: &[$(StackKind::$after),*],
            proto: $proto,
            doc: $doc,
        }, )* ];
    };
}

// Rows in pickletools' order. Columns: name = byte, argument, stack effect, protocol, doc.
opcode_table! {
    INT              = 0x49, DecimalnlShort       [] -> [IntOrBool], 0, "Push an integer or bool.";
    BININT           = 0x4a, Int4                 [] -> [Int], 1, "Push a four-byte signed integer.";
    BININT1          = 0x4b, Uint1                [] -> [Int], 1, "Push a one-byte unsigned integer.";
    BININT2          = 0x4d, Uint2                [] -> [Int], 1, "Push a two-byte unsigned integer.";
    LONG             = 0x4c, DecimalnlLong        [] -> [Int], 0, "Push a long integer.";
    LONG1            = 0x8a, Long1                [] -> [Int], 2, "Long integer using one-byte length.";
    LONG4            = 0x8b, Long4                [] -> [Int], 2, "Long integer using found-byte length.";
    STRING           = 0x53, Stringnl             [] -> [BytesOrStr], 0, "Push a Python string object.";
    BINSTRING        = 0x54, String4              [] -> [BytesOrStr], 1, "Push a Python string object.";
    SHORT_BINSTRING  = 0x55, String1              [] -> [BytesOrStr], 1, "Push a Python string object.";
    BINBYTES         = 0x42, Bytes4               [] -> [Bytes], 3, "Push a Python bytes object.";
    SHORT_BINBYTES   = 0x43, Bytes1               [] -> [Bytes], 3, "Push a Python bytes object.";
    BINBYTES8        = 0x8e, Bytes8               [] -> [Bytes], 4, "Push a Python bytes object.";
    BYTEARRAY8       = 0x96, Bytearray8           [] -> [Bytearray], 5, "Push a Python bytearray object.";
    NEXT_BUFFER      = 0x97, None                 [] -> [Buffer], 5, "Push an out-of-band buffer object.";
    READONLY_BUFFER  = 0x98, None                 [Buffer] -> [Buffer], 5, "Make an out-of-band buffer object read-only.";
    NONE             = 0x4e, None                 [] -> [NoneValue], 0, "Push None on the stack.";
    NEWTRUE          = 0x88, None                 [] -> [Bool], 2, "Push True onto the stack.";
    NEWFALSE         = 0x89, None                 [] -> [Bool], 2, "Push False onto the stack.";
    UNICODE          = 0x56, Unicodestringnl      [] -> [Str], 0, "Push a Python Unicode string object.";
    SHORT_BINUNICODE = 0x8c, Unicodestring1       [] -> [Str], 4, "Push a Python Unicode string object.";
    BINUNICODE       = 0x58, Unicodestring4       [] -> [Str], 1, "Push a Python Unicode string object.";
    BINUNICODE8      = 0x8d, Unicodestring8       [] -> [Str], 4, "Push a Python Unicode string object.";
    FLOAT            = 0x46, Floatnl              [] -> [Float], 0, "Newline-terminated decimal float literal.";
    BINFLOAT         = 0x47, Float8               [] -> [Float], 1, "Float stored in binary form, with 8 bytes of data.";
    EMPTY_LIST       = 0x5d, None                 [] -> [List], 1, "Push an empty list.";
    APPEND           = 0x61, None                 [List, Any] -> [List], 0, "Append an object to a list.";
    APPENDS          = 0x65, None                 [List, Mark, StackSlice] -> [List], 1, "Extend a list by a slice of stack objects.";
    LIST             = 0x6c, None                 [Mark, StackSlice] -> [List], 0, "Build a list out of the topmost stack slice, after markobject.";
    EMPTY_TUPLE      = 0x29, None                 [] -> [Tuple], 1, "Push an empty tuple.";
    TUPLE            = 0x74, None                 [Mark, StackSlice] -> [Tuple], 0, "Build a tuple out of the topmost stack slice, after markobject.";
    TUPLE1           = 0x85, None                 [Any] -> [Tuple], 2, "Build a one-tuple out of the topmost item on the stack.";
    TUPLE2           = 0x86, None                 [Any, Any] -> [Tuple], 2, "Build a two-tuple out of the top two items on the stack.";
    TUPLE3           = 0x87, None                 [Any, Any, Any] -> [Tuple], 2, "Build a three-tuple out of the top three items on the stack.";
    EMPTY_DICT       = 0x7d, None                 [] -> [Dict], 1, "Push an empty dict.";
    DICT             = 0x64, None                 [Mark, StackSlice] -> [Dict], 0, "Build a dict out of the topmost stack slice, after markobject.";
    SETITEM          = 0x73, None                 [Dict, Any, Any] -> [Dict], 0, "Add a key+value pair to an existing dict.";
    SETITEMS         = 0x75, None                 [Dict, Mark, StackSlice] -> [Dict], 1, "Add an arbitrary number of key+value pairs to an existing dict.";
    EMPTY_SET        = 0x8f, None                 [] -> [Set], 4, "Push an empty set.";
    ADDITEMS         = 0x90, None                 [Set, Mark, StackSlice] -> [Set], 4, "Add an arbitrary number of items to an existing set.";
    FROZENSET        = 0x91, None                 [Mark, StackSlice] -> [Frozenset], 4, "Build a frozenset out of the topmost slice, after markobject.";
    POP              = 0x30, None                 [Any] -> [], 0, "Discard the top stack item, shrinking the stack by one item.";
    DUP              = 0x32, None                 [Any] -> [Any, Any], 0, "Push the top stack item onto the stack again, duplicating it.";
    MARK             = 0x28, None                 [] -> [Mark], 0, "Push markobject onto the stack.";
    POP_MARK         = 0x31, None                 [Mark, StackSlice] -> [], 1, "Pop all the stack objects at and above the topmost markobject.";
    GET              = 0x67, DecimalnlShort       [] -> [Any], 0, "Read an object from the memo and push it on the stack.";
    BINGET           = 0x68, Uint1                [] -> [Any], 1, "Read an object from the memo and push it on the stack.";
    LONG_BINGET      = 0x6a, Uint4                [] -> [Any], 1, "Read an object from the memo and push it on the stack.";
    PUT              = 0x70, DecimalnlShort       [] -> [], 0, "Store the stack top into the memo.  The stack is not popped.";
    BINPUT           = 0x71, Uint1                [] -> [], 1, "Store the stack top into the memo.  The stack is not popped.";
    LONG_BINPUT      = 0x72, Uint4                [] -> [], 1, "Store the stack top into the memo.  The stack is not popped.";
    MEMOIZE          = 0x94, None                 [Any] -> [Any], 4, "Store the stack top into the memo.  The stack is not popped.";
    EXT1             = 0x82, Uint1                [] -> [Any], 2, "Extension code.";
    EXT2             = 0x83, Uint2                [] -> [Any], 2, "Extension code.";
    EXT4             = 0x84, Int4                 [] -> [Any], 2, "Extension code.";
    GLOBAL           = 0x63, StringnlNoescapePair [] -> [Any], 0, "Push a global object (module.attr) on the stack.";
    STACK_GLOBAL     = 0x93, None                 [Str, Str] -> [Any], 4, "Push a global object (module.attr) on the stack.";
    REDUCE           = 0x52, None                 [Any, Any] -> [Any], 0, "Push an object built from a callable and an argument tuple.";
    BUILD            = 0x62, None                 [Any, Any] -> [Any], 0, "Finish building an object, via __setstate__ or dict update.";
    INST             = 0x69, StringnlNoescapePair [Mark, StackSlice] -> [Any], 0, "Build a class instance.";
    OBJ              = 0x6f, None                 [Mark, Any, StackSlice] -> [Any], 1, "Build a class instance.";
    NEWOBJ           = 0x81, None                 [Any, Any] -> [Any], 2, "Build an object instance.";
    NEWOBJ_EX        = 0x92, None                 [Any, Any, Any] -> [Any], 4, "Build an object instance.";
    PROTO            = 0x80, Uint1                [] -> [], 2, "Protocol version indicator.";
    STOP             = 0x2e, None                 [Any] -> [], 0, "Stop the unpickling machine.";
    FRAME            = 0x95, Uint8                [] -> [], 4, "Indicate the beginning of a new frame.";
    PERSID           = 0x50, StringnlNoescape     [] -> [Any], 0, "Push an object identified by a persistent ID.";
    BINPERSID        = 0x51, None                 [Any] -> [Any], 1, "Push an object identified by a persistent ID.";
}

/// Row index by byte; `NO_OPCODE` where the byte is not an opcode. Built at compile time,
/// which also proves that no two rows share a byte.
const NO_OPCODE: u8 = u8::MAX;
const INDEX_BY_BYTE: [u8; 256] = {
    let mut index = [NO_OPCODE; 256];
    let mut row = 0;
    while row < TABLE.len() {
        let code = TABLE[row].code as usize;
        assert!(index[code] == NO_OPCODE, "two opcodes share a byte");
        assert!(
            TABLE[row].opcode as usize == code,
            "variant and byte disagree"
        );
        index[code] = row as u8;
        row += 1;
    }
    index
};

/// Every opcode, in pickletools' order.
pub static OPCODES: &[OpcodeInfo] = TABLE;

/// The highest protocol this table knows (PEP 574).
pub const HIGHEST_PROTOCOL: u8 = 5;

impl Opcode {
    /// The opcode encoded by `byte`, if any.
    #[inline]
    pub fn from_byte(byte: u8) -> Option<Opcode> {
        match INDEX_BY_BYTE[byte as usize] {
            NO_OPCODE => None,
            row => TABLE.get(row as usize).map(|info| info.opcode),
        }
    }

    /// This opcode's row in the table.
    #[inline]
    pub fn info(self) -> &'static OpcodeInfo {
        // Every variant has a row: INDEX_BY_BYTE was built from the same list.
        &TABLE[INDEX_BY_BYTE[self as usize] as usize]
    }

    /// Its pickletools name.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The byte that encodes it.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_round_trips_through_its_byte() {
        assert_eq!(OPCODES.len(), 68);
        for info in OPCODES {
            assert_eq!(Opcode::from_byte(info.code), Some(info.opcode));
            assert_eq!(info.opcode.info().name, info.name);
        }
        let known = (0..=255u8)
            .filter(|&b| Opcode::from_byte(b).is_some())
            .count();
        assert_eq!(known, OPCODES.len());
    }

    #[test]
    fn mark_consumers_end_with_a_stack_slice() {
        // dis relies on this, as pickletools asserts it.
        for info in OPCODES {
            if info.stack_before.contains(&StackKind::Mark) {
                assert_eq!(info.stack_before.last(), Some(&StackKind::StackSlice));
                assert!(!info.stack_after.contains(&StackKind::Mark));
            }
        }
    }
}
