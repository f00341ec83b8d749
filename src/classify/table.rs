//! The one table of known globals: every `(module, name)` pklinspect knows, with its
//! SPEC §5 category and the reason `explain` prints next to the import.
//!
//! Laid out like the `opcodes` list of CPython's `Lib/pickletools.py`: one row per group of
//! names that share a category and a reason, grouped by category from most benign to
//! worst. A row's `name` is one of
//!
//! * an attribute name, `"OrderedDict"` — exactly that global; a dotted name such as
//!   `"torch.channels_last"` is an exact protocol-4 qualified name;
//! * `"*"` — every attribute of the module (but not its submodules);
//! * `"**"` — every attribute of the module and of all its submodules.
//!
//! A row written `… call "provenance" => "reason"` is also a **vetted call target**: a
//! pickle may call it (REDUCE, the copyreg routes) with arguments the file chooses. The
//! provenance says which pickler writes that call; rows without it may be referenced but
//! not called (SPEC §5). The vetted library rows were learned from real pickles of 14
//! libraries (the benign corpus) and reviewed one by one.
//!
//! The most specific row wins: an exact row beats `*`, `*` beats `**`, and a `**` row of
//! `a.b` beats one of `a`. So `os.**` can say "code-exec" while `os.stat_result` says
//! "plain". The rules that are not rows (Python 2 spellings, dotted names, module objects,
//! `__main__`-like modules) live in `super` (`mod.rs`).
//!
//! What the scanners know was read, not copied: picklescan's `_unsafe_globals` and
//! `_safe_globals` (`src/picklescan/scanner.py`), modelscan's `unsafe_globals`
//! (`modelscan/settings.py`), fickling's `UNSAFE_IMPORTS` and `SAFE_BUILTINS`
//! (`fickling/fickle.py`) and `ML_ALLOWLIST` (`fickling/ml.py`), and PyTorch's
//! `weights_only` allow-list (`torch/_weights_only_unpickler.py`). Every module they
//! flag is code-exec here too; the reasons are ours.

use super::Category;

/// One row of the table: a module, a name (or `*`/`**`), a category and a reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The module, as Python 3 spells it (Python 2 spellings are normalised before lookup).
    pub module: &'static str,
    /// An attribute name, a dotted qualified name, `*` or `**` (see the module docs).
    pub name: &'static str,
    /// The category every global this row covers gets.
    pub category: Category,
    /// Why: what the global does when the file is loaded, or what must be installed.
    pub reason: &'static str,
    /// `Some(provenance)` when the row is a **vetted call target** (SPEC §5): a pickle may
    /// call it with arguments the file chooses. The provenance says which pickler writes the
    /// call (whose `__reduce__`), and the reason why calling it is safe.
    pub vetted: Option<&'static str>,
}

/// One written row: a group of names sharing a category, a reason and (for vetted call
/// targets) a provenance. [`BUILTIN_TABLE`] flattens them at compile time.
#[derive(Clone, Copy)]
struct Group {
    module: &'static str,
    names: &'static [&'static str],
    category: Category,
    reason: &'static str,
    vetted: Option<&'static str>,
}

/// Expands the rows below into [`BUILTIN_TABLE`]: one `Entry` per name of each row. A row
/// written `… call "provenance" => "reason"` is a vetted call target.
macro_rules! known_globals {
    (@vetted) => { None };
    (@vetted $provenance:literal) => { Some($provenance) };
    ($( $cat:ident $module:literal [ $($name:literal),+ $(,)? ] $(call $provenance:literal)?
        => $reason:literal; )*) => {
        const GROUPS: &[Group] = &[
            $( Group {
                module: $module,
                names: &[$($name),+],
                category: Category::$cat,
                reason: $reason,
                vetted: known_globals!(@vetted $($provenance)?),
            }, )*
        ];
    };
}

/// How many names all groups hold.
const fn row_count(groups: &[Group]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < groups.len() {
        n += groups[i].names.len();
        i += 1;
    }
    n
}

const ROWS: usize = row_count(GROUPS);

/// One `Entry` per name, in the order written.
const fn flatten(groups: &[Group]) -> [Entry; ROWS] {
    let blank = Entry {
        module: "",
        name: "",
        category: Category::Unknown,
        reason: "",
        vetted: None,
    };
    let mut out = [blank; ROWS];
    let (mut g, mut k) = (0, 0);
    while g < groups.len() {
        let group = groups[g];
        let mut i = 0;
        while i < group.names.len() {
            out[k] = Entry {
                module: group.module,
                name: group.names[i],
                category: group.category,
                reason: group.reason,
                vetted: group.vetted,
            };
            k += 1;
            i += 1;
        }
        g += 1;
    }
    out
}

/// Every built-in row, in the order written: by category, then by topic.
pub static BUILTIN_TABLE: &[Entry] = &flatten(GROUPS);

known_globals! {
    // ════════════════════════════════════════════════════════════════════════════════
    // plain: builtins and standard-library value types
    // ════════════════════════════════════════════════════════════════════════════════

    Plain "builtins" [
        "bool", "int", "float", "complex", "str", "bytes", "bytearray", "list", "tuple",
        "dict", "set", "frozenset", "slice", "range", "object",
    ] call "CPython: reduce of builtin types and their subclasses (Lib/copyreg.py _reduce_ex, set/frozenset/bytearray/complex/range/slice __reduce__)"
        => "a built-in value type; building one runs no other code";
    Plain "builtins" ["None", "True", "False", "Ellipsis", "NotImplemented"]
        => "a built-in constant";
    // pickle writes type(None), type(...) and type(NotImplemented) as `builtins.type` + REDUCE
    // (Lib/pickle.py, save_type). A class built by type(name, bases, ns) gets its methods
    // only from other globals of the file, and those are classified on their own.
    Plain "builtins" ["type"]
        call "CPython Lib/pickle.py save_type (type(None), type(...), type(NotImplemented))"
        => "built-in `type`, which pickle uses for type(None) and friends; any class it builds gets its methods only from other globals, which are classified on their own";
    Plain "builtins" [
        "abs", "ascii", "bin", "callable", "chr", "divmod", "format", "hash", "hex", "id",
        "isinstance", "issubclass", "len", "oct", "ord", "pow", "repr", "round",
    ] => "a pure built-in function with no side effects";
    Plain "builtins" [
        "all", "any", "enumerate", "filter", "iter", "map", "max", "min", "next", "reversed",
        "sorted", "sum", "zip",
    ] => "a built-in that only iterates over or calls objects the file built; any function it calls is a separate global, classified on its own";
    Plain "builtins" [
        "ArithmeticError", "AssertionError", "AttributeError", "BaseException",
        "BaseExceptionGroup", "BlockingIOError", "BrokenPipeError", "BufferError",
        "BytesWarning", "ChildProcessError", "ConnectionAbortedError", "ConnectionError",
        "ConnectionRefusedError", "ConnectionResetError", "DeprecationWarning", "EOFError",
        "EncodingWarning", "EnvironmentError", "Exception", "ExceptionGroup",
        "FileExistsError", "FileNotFoundError", "FloatingPointError", "FutureWarning",
        "GeneratorExit", "IOError", "ImportError", "ImportWarning", "IndentationError",
        "IndexError", "InterruptedError", "IsADirectoryError", "KeyError",
        "KeyboardInterrupt", "LookupError", "MemoryError", "ModuleNotFoundError",
        "NameError", "NotADirectoryError", "NotImplementedError", "OSError", "OverflowError",
        "PendingDeprecationWarning", "PermissionError", "ProcessLookupError",
        "RecursionError", "ReferenceError", "ResourceWarning", "RuntimeError",
        "RuntimeWarning", "StopAsyncIteration", "StopIteration", "SyntaxError",
        "SyntaxWarning", "SystemError", "SystemExit", "TabError", "TimeoutError", "TypeError",
        "UnboundLocalError", "UnicodeDecodeError", "UnicodeEncodeError", "UnicodeError",
        "UnicodeTranslateError", "UnicodeWarning", "UserWarning", "ValueError", "Warning",
        "ZeroDivisionError",
    ] call "CPython BaseException.__reduce__ (Objects/exceptions.c): the class called with its args"
        => "a built-in exception class; building one only stores its arguments";

    // The object-construction helpers pickle itself emits (Lib/copyreg.py).
    Plain "copyreg" ["_reconstructor", "__newobj__", "__newobj_ex__"]
        call "CPython Lib/copyreg.py: _reduce_ex (protocols 0-1) and __reduce_ex__(2+)"
        => "pickle's own object-construction helper; the class it instantiates is a separate global, classified on its own";
    // Protocol 2 writes every bytes object as _codecs.encode(str, 'latin1') (Lib/pickle.py).
    Plain "_codecs" ["encode"]
        call "CPython Lib/pickle.py save_bytes at protocols below 3"
        => "turns text into bytes; protocol 2 writes every bytes object this way";

    Plain "collections" ["OrderedDict", "deque", "Counter", "ChainMap", "UserDict", "UserList", "UserString"]
        call "CPython: OrderedDict/deque/Counter/ChainMap __reduce__ and copyreg for the User* classes"
        => "a standard-library container type";
    Plain "collections" ["defaultdict"]
        call "CPython defaultdict.__reduce__ (Modules/_collectionsmodule.c)"
        => "a dict with a default factory, which a library's __setstate__ calls when it reads a missing key: pklinspect judges the factory as called";
    Plain "datetime" ["date", "time", "datetime", "timedelta", "timezone", "tzinfo"]
        call "CPython datetime __reduce__ (Lib/_pydatetime.py, Modules/_datetimemodule.c)"
        => "a datetime value type";
    Plain "time" ["struct_time"] call "CPython structseq __reduce__ (Objects/structseq.c)"
        => "a time tuple value";
    Plain "zoneinfo" ["ZoneInfo"]
        call "CPython ZoneInfo.__reduce__ (Lib/zoneinfo/_zoneinfo.py); pandas time zones"
        => "a time zone, looked up by key in the system's time-zone database";
    Plain "decimal" ["Decimal", "Context", "DecimalTuple"] call "CPython Decimal.__reduce__ and Context.__reduce__ (Lib/_pydecimal.py)"
        => "a decimal arithmetic value type";
    Plain "decimal" [
        "DecimalException", "Clamped", "InvalidOperation", "ConversionSyntax",
        "DivisionByZero", "DivisionImpossible", "DivisionUndefined", "Inexact",
        "InvalidContext", "Rounded", "Subnormal", "Overflow", "Underflow", "FloatOperation",
    ] call "CPython BaseException.__reduce__"
        => "a decimal arithmetic signal (an exception class)";
    Plain "fractions" ["Fraction"] call "CPython Fraction.__reduce__ (Lib/fractions.py)"
        => "a rational number value";
    Plain "uuid" ["UUID", "SafeUUID"]
        call "CPython: UUID pickles through copyreg and SafeUUID is an enum (Lib/uuid.py)"
        => "a UUID value; building one runs nothing (unlike uuid's node-lookup helpers, which run commands)";
    Plain "ipaddress" [
        "IPv4Address", "IPv6Address", "IPv4Network", "IPv6Network", "IPv4Interface",
        "IPv6Interface",
    ] call "CPython ipaddress _BaseAddress/_BaseNetwork __reduce__ (Lib/ipaddress.py)"
        => "an IP address or network value";
    Plain "pathlib" ["PurePath", "PurePosixPath", "PureWindowsPath"]
        call "CPython PurePath.__reduce__ (Lib/pathlib)"
        => "a pure path: string manipulation only, never touches the file system";
    Plain "pathlib" ["Path", "PosixPath", "WindowsPath"]
        call "CPython PurePath.__reduce__ (Lib/pathlib)"
        => "a concrete path; building one only stores the path string (its file methods are reachable only through a dotted name, which is classified on its own)";
    // CPython 3.13 defines the path classes in `pathlib._local` (their `__module__`, so
    // what 3.13's pickles name); `__reduce__` is the same `(cls, self.parts)`.
    Plain "pathlib._local" ["PurePath", "PurePosixPath", "PureWindowsPath"]
        call "CPython 3.13 PurePath.__reduce__ (Lib/pathlib/_local.py)"
        => "a pure path: string manipulation only, never touches the file system";
    Plain "pathlib._local" ["Path", "PosixPath", "WindowsPath"]
        call "CPython 3.13 PurePath.__reduce__ (Lib/pathlib/_local.py)"
        => "a concrete path; building one only stores the path string (its file methods are reachable only through a dotted name, which is classified on its own)";
    // Compiling a pattern runs no user code and matches nothing; its cost is bounded by the
    // pattern's length (the ReDoS risk is in matching, which loading never does).
    Plain "re" ["_compile"] call "CPython Pattern.__reduce__ (Modules/_sre/sre.c: (re._compile, (pattern, flags)))"
        => "compiles a regular expression; pickle writes compiled patterns this way";
    Plain "re" ["compile"]
        => "compiles a regular expression (pickle writes re._compile instead)";
    Plain "zoneinfo" ["ZoneInfo._unpickle"] call "CPython ZoneInfo.__reduce__ (Lib/zoneinfo/_zoneinfo.py: getattr(ZoneInfo, '_unpickle')); pandas >= 3 time zones"
        => "looks a time zone up by key in the system's time-zone database (keys are validated: no absolute or parent paths)";
    Plain "itertools" ["count"] call "CPython count.__reduce__ (Python < 3.14); matplotlib figures keep one"
        => "an iterator of numbers; it calls nothing";
    Plain "re" ["RegexFlag"] call "CPython Enum.__reduce_ex__ (Lib/enum.py): the class called with the member's value"
        => "the enum of regular-expression flags";
    Plain "enum" ["Enum", "IntEnum", "Flag", "IntFlag", "StrEnum", "ReprEnum"]
        => "a base class of enumerations; a pickled member is rebuilt through its own class, which is classified on its own";
    Plain "http" ["HTTPStatus", "HTTPMethod"] call "CPython Enum.__reduce_ex__ (Lib/enum.py): the class called with the member's value"
        => "an enum of HTTP constants; nothing connects";
    Plain "signal" ["Signals", "Handlers", "Sigmasks"]
        call "CPython Enum.__reduce_ex__ (Lib/enum.py): the class called with the member's value"
        => "an enum of signal constants; no handler is installed";
    Plain "socket" ["AddressFamily", "SocketKind", "MsgFlag", "AddressInfo"]
        call "CPython Enum.__reduce_ex__ (Lib/enum.py): the class called with the member's value"
        => "an enum of socket constants; no socket is created";
    Plain "types" ["SimpleNamespace"] call "CPython SimpleNamespace.__reduce__ (Objects/namespaceobject.c)"
        => "a plain attribute bag";
    Plain "argparse" ["Namespace"] call "CPython: a plain object pickled through copyreg (Lib/argparse.py)"
        => "argparse's plain attribute bag";
    Plain "array" ["array", "_array_reconstructor"] call "CPython array.__reduce_ex__ (Modules/arraymodule.c)"
        => "a typed array of numbers from the array module";
    Plain "string" ["Template"] => "a template string value; nothing is substituted on load";
    Plain "math" ["*"] => "pure math functions and constants";
    Plain "cmath" ["*"] => "pure complex-math functions and constants";
    Plain "itertools" [
        "accumulate", "batched", "chain", "combinations", "combinations_with_replacement",
        "compress", "cycle", "dropwhile", "filterfalse", "groupby", "islice",
        "pairwise", "permutations", "product", "repeat", "starmap", "takewhile",
        "zip_longest",
    ] => "an iterator building block; any function it calls is a separate global, classified on its own";
    Plain "_io" ["BytesIO", "StringIO"] call "CPython BytesIO/StringIO __reduce__ through __getstate__ (Modules/_io)"
        => "an in-memory buffer; no file is opened";
    Plain "io" ["BytesIO", "StringIO"] call "CPython BytesIO/StringIO __reduce__ through __getstate__ (Modules/_io)"
        => "an in-memory buffer; no file is opened";
    Plain "xml.etree.ElementTree" ["Element"] call "CPython Element __getstate__/__setstate__ (Modules/_elementtree.c)"
        => "an XML element value; nothing is parsed or read";
    // Pure string functions of the path modules; the rest of them (exists, getsize, the
    // `os` and `sys` attributes) is covered by the code-exec rows below.
    Plain "posixpath" [
        "basename", "commonpath", "commonprefix", "dirname", "isabs", "join", "normcase",
        "normpath", "split", "splitdrive", "splitext",
    ] call "no pickler writes it; vetted as a pure function of its string arguments"
        => "a pure path-string function; it never touches the file system";
    Plain "ntpath" [
        "basename", "commonpath", "commonprefix", "dirname", "isabs", "join", "normcase",
        "normpath", "split", "splitdrive", "splitext",
    ] call "no pickler writes it; vetted as a pure function of its string arguments"
        => "a pure path-string function; it never touches the file system";
    Plain "os.path" [
        "basename", "commonpath", "commonprefix", "dirname", "isabs", "join", "normcase",
        "normpath", "split", "splitdrive", "splitext",
    ] call "no pickler writes it; vetted as a pure function of its string arguments"
        => "a pure path-string function; it never touches the file system";
    Plain "genericpath" ["commonprefix"] => "a pure path-string function; it never touches the file system";
    // The only attributes of os/posix/nt a legitimate pickle holds: structseq records,
    // named tuples of numbers that os.stat() and friends return.
    Plain "os" ["stat_result", "statvfs_result", "terminal_size", "times_result", "uname_result", "sched_param"]
        call "CPython structseq __reduce__ (Objects/structseq.c)"
        => "an operating-system result record (a named tuple of numbers and strings); building one calls nothing";
    Plain "posix" ["stat_result", "statvfs_result", "terminal_size", "times_result", "uname_result", "sched_param"]
        call "CPython structseq __reduce__ (Objects/structseq.c)"
        => "an operating-system result record (a named tuple of numbers and strings); building one calls nothing";
    Plain "nt" ["stat_result", "statvfs_result", "terminal_size", "times_result", "uname_result"]
        call "CPython structseq __reduce__ (Objects/structseq.c)"
        => "an operating-system result record (a named tuple of numbers and strings); building one calls nothing";
    // Targets of _compat_pickle.NAME_MAPPING that are harmless.
    Plain "sys" ["intern"] => "interns a string (Python 2's `intern` builtin maps here)";
    Plain "multiprocessing.context" ["AuthenticationError", "BufferTooShort", "ProcessError", "TimeoutError"]
        call "CPython BaseException.__reduce__"
        => "an exception class of multiprocessing; building one starts nothing";
    Plain "urllib.parse" [
        "quote", "quote_plus", "quote_from_bytes", "unquote", "unquote_plus",
        "unquote_to_bytes", "urlencode", "urlparse", "urlunparse", "urlsplit", "urlunsplit",
        "urljoin", "urldefrag", "parse_qs", "parse_qsl", "ParseResult", "SplitResult",
        "DefragResult", "ParseResultBytes", "SplitResultBytes", "DefragResultBytes",
    ] => "a pure URL-string function or result type; it opens no connection";
    Plain "urllib.request" ["pathname2url", "url2pathname"]
        => "converts between a path and a URL string; it opens nothing";
    Plain "urllib.error" ["URLError", "HTTPError", "ContentTooShortError"]
        call "CPython BaseException.__reduce__"
        => "a urllib exception class; building one opens nothing";

    // ════════════════════════════════════════════════════════════════════════════════
    // array: machinery whose payload `extract` writes out without Python
    // ════════════════════════════════════════════════════════════════════════════════

    // numpy 1.x spells its array machinery numpy.core.*, numpy 2.x numpy._core.* (the
    // classifier marks the latter numpy2_only). See numpy/_core/numeric.py (_frombuffer,
    // protocol 5) and ndarray.__reduce__ (_reconstruct + BUILD).
    Array "numpy" ["ndarray"] call "numpy ndarray.__reduce__ (the class passed to _reconstruct)"
        => "the numpy array type; extract writes its data out without numpy";
    // _mareconstruct(subtype, …) returns subtype.__new__(subtype, data, mask=…, dtype=…):
    // a subtype other than MaskedArray is judged as called (analysis/calls.rs).
    Array "numpy.ma.core" ["_mareconstruct"]
        call "numpy MaskedArray.__reduce__ (numpy/ma/core.py)"
        => "numpy's masked array constructor; extract writes its data and mask out without numpy";
    // MaskedArray.__module__ is "numpy.ma": the class passed to _mareconstruct.
    Array "numpy.ma" ["MaskedArray"] => "the numpy masked array type; extract writes its data and mask out without numpy";
    Array "numpy.ma.core" ["MaskedArray"] => "the numpy masked array type; extract writes its data and mask out without numpy";
    Array "numpy" ["dtype"] call "numpy dtype.__reduce__ (numpy/_core/src/multiarray/descriptor.c)"
        => "a numpy dtype description; pklinspect reads it without numpy";
    Array "numpy.core.multiarray" ["_reconstruct"]
        call "numpy ndarray.__reduce__ (numpy 1.x)"
        => "numpy's array constructor (ndarray.__reduce__); the data that follows is extracted without numpy";
    Array "numpy._core.multiarray" ["_reconstruct"]
        call "numpy ndarray.__reduce__ (numpy 2.x)"
        => "numpy's array constructor (ndarray.__reduce__); the data that follows is extracted without numpy";
    Array "numpy.core.multiarray" ["scalar"] call "numpy generic.__reduce__ (scalars, numpy 1.x)"
        => "numpy's scalar constructor: a dtype plus raw bytes";
    Array "numpy._core.multiarray" ["scalar"] call "numpy generic.__reduce__ (scalars, numpy 2.x)"
        => "numpy's scalar constructor: a dtype plus raw bytes";
    Array "numpy.core.numeric" ["_frombuffer"] call "numpy ndarray.__reduce_ex__ at protocol 5 (numpy 1.x)"
        => "numpy's protocol-5 array constructor over a raw buffer";
    Array "numpy._core.numeric" ["_frombuffer"] call "numpy ndarray.__reduce_ex__ at protocol 5 (numpy 2.x)"
        => "numpy's protocol-5 array constructor over a raw buffer";
    Array "numpy" [
        "bool_", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
        "uint64", "intc", "uintc", "intp", "uintp", "int_", "uint", "longlong", "ulonglong",
        "short", "ushort", "byte", "ubyte", "half", "single", "double", "longdouble",
        "float16", "float32", "float64", "float96", "float128", "float_", "complex64",
        "complex128", "complex192", "complex256", "complex_", "csingle", "cdouble",
        "clongdouble", "object_", "str_", "unicode_", "bytes_", "string_", "void",
        "datetime64", "timedelta64", "generic", "number", "integer", "signedinteger",
        "unsignedinteger", "inexact", "floating", "complexfloating", "flexible", "character",
    ] => "a numpy scalar type object (for example a dtype= setting); it carries no data";
    Array "numpy.dtypes" ["*"] => "a numpy dtype class (numpy >= 1.25); it carries no data";

    // PyTorch tensors: torch/_utils.py rebuild functions and the typed storages whose bytes
    // live in the checkpoint (torch/serialization.py, persistent_load).
    Array "torch._utils" ["_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3"]
        call "torch Tensor.__reduce_ex__ and torch.save (torch/_tensor.py)"
        => "rebuilds a tensor from a storage, offset, shape and stride; extract writes the storage data out";
    Array "torch._utils" ["_rebuild_parameter", "_rebuild_parameter_with_state"]
        call "torch Parameter.__reduce_ex__ (torch/nn/parameter.py)"
        => "wraps a rebuilt tensor as an nn.Parameter; any hook or state in it is a separate global, classified on its own";
    Array "torch._utils" ["_rebuild_meta_tensor_no_storage"]
        call "torch Tensor.__reduce_ex__ for meta tensors"
        => "rebuilds a data-less meta tensor from its dtype, shape and stride; nothing else runs";
    // _rebuild_from_type_v2(func, new_type, args, state) calls func(*args): the analysis
    // judges that as a call of func (src/analysis/calls.rs, Special::RebuildFromType).
    Array "torch._tensor" ["_rebuild_from_type_v2"]
        call "torch Tensor.__reduce_ex__ for tensor subclasses (torch/_tensor.py)"
        => "rebuilds a tensor subclass by calling the rebuild function stored with it, which is judged as called";
    Array "torch" [
        "FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage",
        "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
        "ComplexFloatStorage", "ComplexDoubleStorage", "QUInt8Storage", "QInt8Storage",
        "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage", "UntypedStorage",
        "TypedStorage",
    ] => "a torch storage whose bytes are in the checkpoint; extract writes them out without torch";
    Array "torch.storage" ["UntypedStorage", "TypedStorage"]
        => "a torch storage whose bytes are in the checkpoint; extract writes them out without torch";
    Array "torch" ["Tensor", "Size"] call "torch Size.__reduce__ (a tuple subclass) and Tensor subclasses"
        => "the torch tensor type or a tensor shape; nothing runs";
    Array "torch.nn.parameter" ["Parameter", "Buffer"]
        call "torch Parameter and Buffer pickling (torch/nn/parameter.py)"
        => "the class of a model parameter tensor; nothing runs";
    // A device is a name: building torch.device('cuda:0') allocates nothing on a GPU.
    Array "torch" ["device"] call "torch device.__reduce__ (torch/csrc/Device.cpp)"
        => "a device name such as cpu or cuda:0; building one touches no device";
    // torch.dtype.__reduce__ returns the dtype's name, so each pickles as `torch` + name.
    Array "torch" [
        "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex32",
        "chalf", "complex64", "cfloat", "complex128", "cdouble", "uint8", "uint16", "uint32",
        "uint64", "int8", "int16", "short", "int32", "int", "int64", "long", "bool",
        "quint8", "qint8", "qint32", "quint4x2", "quint2x4", "float8_e4m3fn",
        "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
        "float4_e2m1fn_x2", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2",
    ] => "a torch dtype constant";
    Array "torch" [
        "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
        "per_channel_symmetric", "per_channel_affine_float_qparams",
    ] => "a torch quantisation-scheme constant";
    // torch.memory_format.__reduce__ returns "torch.channels_last", which pickle resolves
    // from the module that defines it, torch._utils, as a dotted name.
    Array "torch._utils" [
        "torch.contiguous_format", "torch.channels_last", "torch.channels_last_3d",
        "torch.preserve_format",
    ] => "a torch memory-format constant, which torch pickles as a name looked up through torch._utils";
    Array "torch.serialization" ["_get_layout"]
        call "torch layout.__reduce__ (torch/csrc/Layout.cpp)"
        => "maps a layout name such as torch.strided to torch's layout constant";

    // joblib (joblib/numpy_pickle.py, numpy_pickle_compat.py) and its copy vendored in
    // old scikit-learn releases.
    Array "joblib.numpy_pickle" ["NumpyArrayWrapper"]
        call "joblib NumpyArrayPickler.save (joblib/numpy_pickle.py)"
        => "joblib's wrapper for an array whose bytes follow it in the file; extract writes them out";
    Array "sklearn.externals.joblib.numpy_pickle" ["NumpyArrayWrapper"]
        call "joblib NumpyArrayPickler.save, vendored in scikit-learn < 0.23"
        => "joblib's wrapper for an array whose bytes follow it in the file; extract writes them out";

    // ════════════════════════════════════════════════════════════════════════════════
    // library: third-party packages that must be installed, in a compatible version
    // ════════════════════════════════════════════════════════════════════════════════

    Library "numpy" ["**"] => "needs numpy installed, in a version compatible with the one that wrote the file";
    Library "numpy.random._pickle" ["__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor"]
        call "numpy RandomState/Generator/BitGenerator __reduce__ (numpy/random/_pickle.py)"
        => "rebuilds a numpy random generator from its saved state; needs numpy";
    Library "pandas" ["**"] => "needs pandas installed, in a version compatible with the one that wrote the file";
    Library "pandas" ["DataFrame", "Series", "Index", "RangeIndex", "Categorical", "CategoricalDtype", "StringDtype"]
        call "pandas objects pickle through copyreg.__newobj__ and __setstate__ (pandas/core/generic.py)"
        => "needs pandas installed, in a version compatible with the one that wrote the file";
    Library "pandas.core.frame" ["DataFrame"] call "pandas objects pickle through copyreg.__newobj__ and __setstate__"
        => "needs pandas installed, in a version compatible with the one that wrote the file";
    Library "pandas.core.series" ["Series"] call "pandas objects pickle through copyreg.__newobj__ and __setstate__"
        => "needs pandas installed, in a version compatible with the one that wrote the file";
    Library "sklearn" ["**"] => "needs scikit-learn installed, in a version compatible with the one that wrote the file";
    Library "scipy" ["**"] => "needs scipy installed, in a version compatible with the one that wrote the file";
    // interp1d keeps the method it interpolates with as `self._call`; protocol 4 writes it
    // by its qualified name (scipy/interpolate/_interpolate.py, scipy 1.9.3-1.17.1). A
    // reference: the interpolator calls it only when the user evaluates it.
    Library "scipy.interpolate._interpolate" [
        "interp1d._call_linear", "interp1d._call_linear_np", "interp1d._call_nearest",
        "interp1d._call_previousnext", "interp1d._call_spline", "interp1d._call_nan_spline",
    ] => "the interpolation method of a scipy interp1d object, stored, not called at load; needs scipy";
    Library "statsmodels" ["**"] => "needs statsmodels installed, in a version compatible with the one that wrote the file";
    Library "xgboost" ["**"] => "needs xgboost installed, in a version compatible with the one that wrote the file";
    Library "lightgbm" ["**"] => "needs lightgbm installed, in a version compatible with the one that wrote the file";
    Library "catboost" ["**"] => "needs catboost installed, in a version compatible with the one that wrote the file";
    Library "imblearn" ["**"] => "needs imbalanced-learn installed, in a version compatible with the one that wrote the file";
    Library "keras" ["**"] => "needs keras installed, in a version compatible with the one that wrote the file";
    Library "tf_keras" ["**"] => "needs tf-keras installed, in a version compatible with the one that wrote the file";
    Library "keras_preprocessing" ["**"] => "needs keras-preprocessing installed, in a version compatible with the one that wrote the file";
    Library "tensorflow" ["**"] => "needs tensorflow installed, in a version compatible with the one that wrote the file";
    Library "transformers" ["**"] => "needs transformers installed, in a version compatible with the one that wrote the file";
    Library "tokenizers" ["**"] => "needs tokenizers installed, in a version compatible with the one that wrote the file";
    Library "sentence_transformers" ["**"] => "needs sentence-transformers installed, in a version compatible with the one that wrote the file";
    Library "accelerate" ["**"] => "needs accelerate installed, in a version compatible with the one that wrote the file";
    Library "peft" ["**"] => "needs peft installed, in a version compatible with the one that wrote the file";
    Library "datasets" ["**"] => "needs the Hugging Face datasets package installed, in a version compatible with the one that wrote the file";
    Library "gensim" ["**"] => "needs gensim installed, in a version compatible with the one that wrote the file";
    Library "spacy" ["**"] => "needs spacy installed, in a version compatible with the one that wrote the file";
    Library "thinc" ["**"] => "needs thinc installed, in a version compatible with the one that wrote the file";
    Library "nltk" ["**"] => "needs nltk installed, in a version compatible with the one that wrote the file";
    Library "matplotlib" ["**"] => "needs matplotlib installed, in a version compatible with the one that wrote the file";
    // Protocol 4 names nested classes by their qualified name: a figure's fancy boxes,
    // arrows and connectors (`patches.BoxStyle.Round`, matplotlib/patches.py; every
    // nested class of matplotlib 3.6.3 and 3.9.2). Referenced or instantiated, never called.
    Library "matplotlib.patches" [
        "BoxStyle.Square", "BoxStyle.Circle", "BoxStyle.Ellipse", "BoxStyle.LArrow",
        "BoxStyle.RArrow", "BoxStyle.DArrow", "BoxStyle.Round", "BoxStyle.Round4",
        "BoxStyle.Sawtooth", "BoxStyle.Roundtooth",
        "ArrowStyle.Curve", "ArrowStyle.CurveA", "ArrowStyle.CurveB", "ArrowStyle.CurveAB",
        "ArrowStyle.CurveFilledA", "ArrowStyle.CurveFilledB", "ArrowStyle.CurveFilledAB",
        "ArrowStyle.BracketA", "ArrowStyle.BracketB", "ArrowStyle.BracketAB",
        "ArrowStyle.BarAB", "ArrowStyle.BracketCurve", "ArrowStyle.CurveBracket",
        "ArrowStyle.Simple", "ArrowStyle.Fancy", "ArrowStyle.Wedge",
        "ConnectionStyle.Arc3", "ConnectionStyle.Angle3", "ConnectionStyle.Angle",
        "ConnectionStyle.Arc", "ConnectionStyle.Bar",
    ] => "a matplotlib box, arrow or connection style class, named by its qualified name; needs matplotlib";
    Library "seaborn" ["**"] => "needs seaborn installed, in a version compatible with the one that wrote the file";
    Library "PIL" ["**"] => "needs Pillow installed, in a version compatible with the one that wrote the file";
    Library "skimage" ["**"] => "needs scikit-image installed, in a version compatible with the one that wrote the file";
    Library "networkx" ["**"] => "needs networkx installed, in a version compatible with the one that wrote the file";
    Library "sympy" ["**"] => "needs sympy installed, in a version compatible with the one that wrote the file";
    Library "pyarrow" ["**"] => "needs pyarrow installed, in a version compatible with the one that wrote the file";
    Library "polars" ["**"] => "needs polars installed, in a version compatible with the one that wrote the file";
    Library "dateutil" ["**"] => "needs python-dateutil installed, in a version compatible with the one that wrote the file";
    Library "pytz" ["**"] => "needs pytz installed, in a version compatible with the one that wrote the file";
    Library "jax" ["**"] => "needs jax installed, in a version compatible with the one that wrote the file";
    Library "jaxlib" ["**"] => "needs jaxlib installed, in a version compatible with the one that wrote the file";
    Library "flax" ["**"] => "needs flax installed, in a version compatible with the one that wrote the file";
    Library "torchvision" ["**"] => "needs torchvision installed, in a version compatible with the one that wrote the file";
    Library "torchaudio" ["**"] => "needs torchaudio installed, in a version compatible with the one that wrote the file";
    Library "torchtext" ["**"] => "needs torchtext installed, in a version compatible with the one that wrote the file";
    Library "timm" ["**"] => "needs timm installed, in a version compatible with the one that wrote the file";
    Library "lightning" ["**"] => "needs lightning installed, in a version compatible with the one that wrote the file";
    Library "pytorch_lightning" ["**"] => "needs pytorch-lightning installed, in a version compatible with the one that wrote the file";
    Library "ultralytics" ["**"] => "needs ultralytics installed, in a version compatible with the one that wrote the file";
    // torch itself is not a `**` row: its top level and several subpackages load files,
    // compile code or import modules (see code-exec). These subpackages hold model classes.
    Library "torch.nn" ["**"] => "needs PyTorch installed, in a version compatible with the one that wrote the file";
    Library "torch.optim" ["**"] => "needs PyTorch installed, in a version compatible with the one that wrote the file";
    // nn.TransformerEncoderLayer/DecoderLayer keep their activation as a function
    // (torch/nn/modules/transformer.py `_get_activation_fn`: F.relu, F.gelu, or the one
    // given): `explain --emit torch-safe-globals` suggests only vetted call targets.
    Library "torch.nn.functional" [
        "relu", "relu6", "gelu", "silu", "mish", "elu", "selu", "celu", "leaky_relu",
        "hardswish", "hardsigmoid", "softplus", "softsign", "tanhshrink", "glu",
        "softmax", "log_softmax",
    ] call "torch Transformer layers' stored activation (torch/nn/modules/transformer.py)"
        => "a pure tensor function: computes on the tensors it is given, nothing else; needs PyTorch";
    // CyclicLR keeps its scale function as `_scale_fn_ref`: one of these static methods,
    // for mode 'exp_range' as `functools.partial(CyclicLR._exp_range_scale_fn, gamma)`
    // (torch/optim/lr_scheduler.py `_init_scale_fn`, read in torch 2.15.0); protocol 4
    // names them by their qualified names.
    Library "torch.optim.lr_scheduler" ["CyclicLR._triangular_scale_fn", "CyclicLR._triangular2_scale_fn"]
        => "a cyclic learning-rate scheduler's scale function (returns a number), stored, not called at load; needs PyTorch";
    Library "torch.optim.lr_scheduler" ["CyclicLR._exp_range_scale_fn"]
        call "torch CyclicLR(mode='exp_range') pickled whole: functools.partial(CyclicLR._exp_range_scale_fn, gamma)"
        => "a cyclic learning-rate scheduler's scale function, gamma ** x, which the partial calls only when the scheduler steps; needs PyTorch";
    Library "torch.distributions" ["**"] => "needs PyTorch installed, in a version compatible with the one that wrote the file";
    Library "torch.utils.data" ["**"] => "needs PyTorch installed, in a version compatible with the one that wrote the file";
    Library "torch.utils.hooks" ["**"] => "needs PyTorch installed, in a version compatible with the one that wrote the file";
    Library "torch.ao" ["**"] => "needs PyTorch installed, in a version compatible with the one that wrote the file";
    Library "torch._utils" ["_rebuild_sparse_tensor"]
        call "torch Tensor.__reduce_ex__ for sparse tensors"
        => "needs PyTorch to assemble a sparse tensor; its index and value tensors are ordinary tensors that extract can write";
    Library "torch._utils" ["_rebuild_qtensor"]
        call "torch Tensor.__reduce_ex__ for quantised tensors"
        => "needs PyTorch to rebuild a quantised tensor; pklinspect does not lift its integer storage as an array";
    Library "torch._utils" ["_rebuild_nested_tensor"]
        call "torch Tensor.__reduce_ex__ for nested tensors"
        => "needs PyTorch to assemble a nested tensor from its buffer and size tensors";
    Library "torch._utils" ["_rebuild_wrapper_subclass"]
        call "torch Tensor.__reduce_ex__ for wrapper subclasses"
        => "needs PyTorch to rebuild a tensor subclass (such as DTensor) whose class is a separate global, classified on its own";

    // ── Vetted library calls ─────────────────────────────────────────────────────────
    // Library callables that real pickles call at load (REDUCE, or wrapped by
    // functools.partial), found by pickling real objects of each library (the benign
    // corpus, fixtures/benign/ on branch i11a, and fixtures/*) and reviewed one by one: each
    // builds a value from its arguments and reaches no file, process, import or evaluator.
    // Cython's `__pyx_unpickle_<Class>(type, checksum, state)` checks the checksum, calls
    // `<Class>.__new__(type)` (which fails unless `type` subclasses it) and sets the state.
    Library "numpy.random.bit_generator" ["__pyx_unpickle_SeedSequence"] call "numpy SeedSequence.__reduce_cython__ (numpy/random/bit_generator.pyx)"
        => "rebuilds a numpy seed sequence (Cython pickle helper: class check, then state); needs numpy";
    Library "numpy.ma.core" ["MaskedConstant"] call "numpy MaskedConstant.__reduce__ (numpy/ma/core.py)"
        => "returns numpy's masked singleton; needs numpy";
    Library "numpy._core._internal" ["_convert_to_stringdtype_kwargs"] call "numpy StringDType.__reduce__ (numpy 2)"
        => "builds numpy's variable-width string dtype from its options; needs numpy >= 2";
    Library "pandas.core.indexes.base" ["_new_Index"] call "pandas Index.__reduce__ (pandas/core/indexes/base.py)"
        => "builds a pandas index by calling cls.__new__ with its saved attributes (the class is a separate global, classified on its own); needs pandas";
    Library "pandas.core.indexes.datetimes" ["_new_DatetimeIndex"] call "pandas DatetimeIndex.__reduce__"
        => "builds a pandas index by calling cls.__new__ with its saved attributes (the class is a separate global, classified on its own); needs pandas";
    Library "pandas.core.indexes.timedeltas" ["_new_TimedeltaIndex"] call "pandas TimedeltaIndex.__reduce__"
        => "builds a pandas index by calling cls.__new__ with its saved attributes (the class is a separate global, classified on its own); needs pandas";
    Library "pandas.core.indexes.interval" ["_new_IntervalIndex"] call "pandas IntervalIndex.__reduce__"
        => "builds a pandas index by calling cls.__new__ with its saved attributes (the class is a separate global, classified on its own); needs pandas";
    Library "pandas.core.indexes.period" ["_new_PeriodIndex"] call "pandas PeriodIndex.__reduce__"
        => "builds a pandas index by calling cls.__new__ with its saved attributes (the class is a separate global, classified on its own); needs pandas";
    Library "pandas._libs.arrays" ["__pyx_unpickle_NDArrayBacked"] call "pandas NDArrayBacked.__reduce_cython__ (pandas/_libs/arrays.pyx)"
        => "rebuilds a pandas extension array (Cython pickle helper: class check, then state); needs pandas";
    Library "pandas._libs.interval" ["__pyx_unpickle_IntervalMixin"] call "pandas IntervalMixin.__reduce_cython__ (pandas/_libs/interval.pyx)"
        => "rebuilds a pandas interval array (Cython pickle helper: class check, then state); needs pandas";
    Library "pandas._libs.internals" ["_unpickle_block"] call "pandas Block.__reduce__ (pandas/_libs/internals.pyx)"
        => "rebuilds a pandas data block from its values and placement; needs pandas";
    Library "pandas.core.internals.managers" ["BlockManager", "SingleBlockManager"] call "pandas BlockManager.__reduce__ through copyreg (pandas/core/internals/managers.py)"
        => "holds a frame's blocks and axes; building one runs no other code; needs pandas";
    Library "pandas._libs.tslibs.timestamps" ["_unpickle_timestamp"] call "pandas Timestamp.__reduce__ (pandas/_libs/tslibs/timestamps.pyx)"
        => "rebuilds a timestamp from its integer value, time zone and unit; needs pandas";
    Library "pandas._libs.tslibs.timedeltas" ["_timedelta_unpickle"] call "pandas Timedelta.__reduce__ (pandas/_libs/tslibs/timedeltas.pyx)"
        => "rebuilds a timedelta from its integer value and unit; needs pandas";
    Library "pandas._libs.tslibs.nattype" ["_nat_unpickle"] call "pandas NaT.__reduce__ (pandas/_libs/tslibs/nattype.pyx)"
        => "returns pandas' NaT singleton; needs pandas";
    Library "pandas._libs.sparse" ["IntIndex", "BlockIndex"] call "pandas SparseIndex.__reduce__ (pandas/_libs/sparse.pyx)"
        => "a sparse-array index built from its length and integer arrays; needs pandas";
    Library "pandas._libs.tslibs.offsets" [
        "DateOffset", "Day", "Hour", "Minute", "Second", "Milli", "Micro", "Nano",
        "BusinessDay", "BusinessHour", "CustomBusinessDay", "CustomBusinessHour", "MonthEnd",
        "MonthBegin", "BusinessMonthEnd", "BusinessMonthBegin", "CustomBusinessMonthEnd",
        "CustomBusinessMonthBegin", "SemiMonthEnd", "SemiMonthBegin", "Week", "WeekOfMonth",
        "LastWeekOfMonth", "QuarterEnd", "QuarterBegin", "BQuarterEnd", "BQuarterBegin",
        "YearEnd", "YearBegin", "BYearEnd", "BYearBegin", "HalfYearEnd", "HalfYearBegin",
        "BHalfYearEnd", "BHalfYearBegin", "FY5253", "FY5253Quarter", "Easter",
    ] call "pandas BaseOffset.__reduce__ (pandas/_libs/tslibs/offsets.pyx)"
        => "a pandas date offset built from its count and options; needs pandas";
    Library "pandas" [
        "DateOffset", "Interval", "Period", "PeriodDtype", "IntervalDtype", "DatetimeTZDtype",
        "SparseDtype", "Timestamp", "Timedelta",
    ] call "pandas scalar and dtype __reduce__ methods (pandas/_libs/interval.pyx, period.pyx, core/dtypes/dtypes.py)"
        => "a pandas scalar or dtype value built from its fields; needs pandas";
    Library "pandas" [
        "DatetimeIndex", "TimedeltaIndex", "PeriodIndex", "IntervalIndex", "CategoricalIndex",
        "MultiIndex",
    ] call "pandas Index.__reduce__: _new_Index(cls, d) runs cls.__new__(cls, **d) (pandas/core/indexes/base.py)"
        => "a pandas index built from its saved data and name; needs pandas";
    Library "pandas.core.indexes.datetimes" ["DatetimeIndex"] call "pandas Index.__reduce__ (_new_DatetimeIndex)"
        => "a pandas index built from its saved data and name; needs pandas";
    Library "pandas.core.indexes.timedeltas" ["TimedeltaIndex"] call "pandas Index.__reduce__ (_new_TimedeltaIndex)"
        => "a pandas index built from its saved data and name; needs pandas";
    Library "pandas.core.indexes.period" ["PeriodIndex"] call "pandas Index.__reduce__ (_new_Index)"
        => "a pandas index built from its saved data and name; needs pandas";
    Library "pandas.core.indexes.interval" ["IntervalIndex"] call "pandas Index.__reduce__ (_new_IntervalIndex)"
        => "a pandas index built from its saved data and name; needs pandas";
    Library "pandas.core.indexes.category" ["CategoricalIndex"] call "pandas Index.__reduce__ (_new_Index)"
        => "a pandas index built from its saved data and name; needs pandas";
    Library "pandas.core.indexes.multi" ["MultiIndex"] call "pandas Index.__reduce__ (_new_Index)"
        => "a pandas index built from its saved data and name; needs pandas";
    Library "pandas.core.indexes.base" ["Index"] call "pandas Index.__reduce__ (_new_Index)"
        => "a pandas index built from its saved data and name; needs pandas";
    Library "pandas.core.indexes.range" ["RangeIndex"] call "pandas RangeIndex.__reduce__ (_new_Index with start, stop, step, name; pandas/core/indexes/range.py)"
        => "a pandas range index built from its start, stop, step and name; needs pandas";
    Library "pandas.core.indexes.numeric" ["Int64Index", "UInt64Index", "Float64Index", "NumericIndex"] call "pandas < 2.0 NumericIndex.__reduce__ (_new_Index; pandas/core/indexes/numeric.py, removed in 2.0)"
        => "a pandas < 2 numeric index built from its saved data and name; pandas 2+ reads it only through pandas.read_pickle; needs pandas";
    // pandas 1.x and 2.x name these classes by the module that defines them (pandas 3 sets
    // `__module__ = "pandas"`, the rows above). Found in pickles written by pandas 1.5.3,
    // 2.0.3, 2.1.4, 2.2.2 and 2.2.3 (fixtures/benign/versions/) and read in those versions.
    Library "pandas._libs.interval" ["Interval"] call "pandas 1.x-2.x Interval.__reduce__: (Interval, (left, right, closed)) (pandas/_libs/interval.pyx)"
        => "a pandas interval built from its two ends and a closed side that is checked against a fixed list of four strings; needs pandas";
    Library "pandas._libs.tslibs.period" ["Period"] call "pandas 1.x-2.x Period.__reduce__: (Period, (None, freq, ordinal)) (pandas/_libs/tslibs/period.pyx)"
        => "a pandas period built from an integer ordinal and a frequency (an offset of the file, or a string read by pandas' frequency parser); needs pandas";
    Library "pandas._libs.tslibs.nattype" ["__nat_unpickle"] call "pandas 1.x-2.x NaT.__reduce__ (pandas/_libs/tslibs/nattype.pyx: `__nat_unpickle(*args)` returns the module's NaT)"
        => "returns pandas' NaT singleton and ignores its arguments; needs pandas";
    Library "pandas.core.dtypes.dtypes" ["PeriodDtype"] call "pandas 1.x-2.x PeriodDtype.__reduce__: (PeriodDtype, (freq,)) (pandas/core/dtypes/dtypes.py)"
        => "a pandas period dtype built from a frequency (an offset of the file, or a string read by pandas' frequency parser); needs pandas";
    // pandas' ArrowStringArray / ArrowExtensionArray pickle their pyarrow arrays; pyarrow's
    // Array.__reduce__ writes `_restore_array((type, length, null_count, offset, buffers,
    // children, dictionary))` with `py_buffer(bytes)` buffers and `type_for_alias(name)`
    // types (pyarrow/array.pxi, types.pxi, io.pxi; read in pyarrow 26.0.1).
    Library "pyarrow.lib" ["type_for_alias"] call "pyarrow DataType.__reduce__ (pyarrow/types.pxi)"
        => "looks an Arrow type up by its alias ('large_string', 'int64', …); needs pyarrow";
    Library "pyarrow.lib" ["py_buffer"] call "pyarrow Buffer.__reduce_ex__ (pyarrow/io.pxi)"
        => "wraps bytes of the file as an Arrow buffer; needs pyarrow";
    Library "pyarrow.lib" ["_restore_array"] call "pyarrow Array.__reduce__ (pyarrow/array.pxi: _restore_array, _reconstruct_array_data)"
        => "an Arrow array made from its pickled type, length and buffers (runs no Python code, but pyarrow does not check the buffers against the length here: a crafted file can make pyarrow read out of bounds later); needs pyarrow";
    // Arrow types, fields, schemas, chunked arrays, tables and scalars pickle through
    // constructors of pyarrow.lib (the `__reduce__` methods of pyarrow/types.pxi,
    // table.pxi and scalar.pxi, read in pyarrow 26.0.1; the same calls are written by
    // pyarrow 14.0.2 and 18.1.0): pandas ArrowDtype columns of list, struct, dictionary,
    // timestamp and decimal types, and pyarrow objects pickled by themselves.
    Library "pyarrow.lib" [
        "timestamp", "binary", "decimal32", "decimal64", "decimal128", "decimal256", "list_",
        "large_list", "list_view", "large_list_view", "map_", "struct", "dictionary",
        "union", "run_end_encoded",
    ] call "pyarrow DataType subclasses' __reduce__ (pyarrow/types.pxi: timestamp(unit, tz), list_(value_field), struct(fields), dictionary(index, value, ordered), …)"
        => "an Arrow data type built from numbers, unit and time-zone strings and other Arrow types or fields; needs pyarrow";
    Library "pyarrow.lib" ["field", "schema"] call "pyarrow Field.__reduce__ and Schema.__reduce__ (pyarrow/types.pxi: field(name, type, nullable, metadata), schema(fields, metadata))"
        => "an Arrow field or schema built from names, types and a metadata mapping of strings; needs pyarrow";
    Library "pyarrow.lib" ["chunked_array", "_reconstruct_table", "_reconstruct_record_batch"]
        call "pyarrow ChunkedArray, Table and RecordBatch __reduce__ (pyarrow/table.pxi: chunked_array(chunks, type), _reconstruct_table(columns, schema) = Table.from_arrays)"
        => "an Arrow chunked array, table or record batch assembled from Arrow arrays of the file and a schema; needs pyarrow";
    Library "pyarrow.lib" ["scalar"] call "pyarrow Scalar.__reduce__ (pyarrow/scalar.pxi: scalar(self.as_py(), self.type))"
        => "an Arrow scalar converted from a plain Python value (number, text, bytes, date, decimal, list or dict) to the given type; needs pyarrow";
    // pytz's tzinfo.__reduce__ writes `pytz._p(zone, utcoffset, dst, tzname)`: `unpickler` calls
    // `pytz.timezone(zone)`, which refuses any name outside `all_timezones_set` before it
    // opens the zone's resource inside the pytz package (pytz/__init__.py, tzinfo.py).
    Library "pytz" ["_p"] call "pytz DstTzInfo/StaticTzInfo.__reduce__ (pytz/tzinfo.py: unpickler)"
        => "looks a zone name up in pytz's own zone list (any other name is refused) and returns that zone; needs pytz";
    Library "pytz" ["_UTC"] call "pytz UTC.__reduce__ (pytz/__init__.py)"
        => "returns pytz's UTC singleton; needs pytz";
    Library "pytz" ["FixedOffset"] call "pytz _FixedOffset.__reduce__ (pytz/__init__.py)"
        => "a fixed offset from UTC in minutes; needs pytz";
    // dateutil 4's tzfile.__reduce_ex__ pickles the zone by value; `_unpickle` makes the object
    // with `cls.__new__` and loads the pickled transitions: the file name is stored, not
    // opened (analysis/calls.rs judges the class argument).
    Library "dateutil.tz._tzfile" ["_unpickle"] call "python-dateutil 4 tzfile.__reduce_ex__ (dateutil/tz/_tzfile.py)"
        => "rebuilds a dateutil tz-file zone from its pickled transitions (no file is opened); needs python-dateutil";
    // numpy.random._pickle.__bit_generator_ctor(cls) calls the class with no arguments.
    Library "numpy.random._mt19937" ["MT19937"] call "numpy BitGenerator.__reduce__ (numpy/random/bit_generator.pyx): __bit_generator_ctor(cls)"
        => "a numpy bit generator, made unseeded and then given its saved state; needs numpy";
    Library "numpy.random._pcg64" ["PCG64", "PCG64DXSM"] call "numpy BitGenerator.__reduce__ (numpy/random/bit_generator.pyx): __bit_generator_ctor(cls)"
        => "a numpy bit generator, made unseeded and then given its saved state; needs numpy";
    Library "numpy.random._philox" ["Philox"] call "numpy BitGenerator.__reduce__ (numpy/random/bit_generator.pyx): __bit_generator_ctor(cls)"
        => "a numpy bit generator, made unseeded and then given its saved state; needs numpy";
    Library "numpy.random._sfc64" ["SFC64"] call "numpy BitGenerator.__reduce__ (numpy/random/bit_generator.pyx): __bit_generator_ctor(cls)"
        => "a numpy bit generator, made unseeded and then given its saved state; needs numpy";
    Library "numpy.random.mtrand" ["RandomState"] call "numpy RandomState.__reduce__ (numpy < 2 wrote the class itself)"
        => "a numpy random state, given its saved state afterwards; needs numpy";
    Library "numpy.random._generator" ["Generator"] call "numpy Generator.__reduce__"
        => "a numpy random generator around a bit generator object of the file; needs numpy";
    // sympy's Basic.__reduce_ex__ writes NEWOBJ(cls, args); other classes' __new__ sympify
    // their arguments (a string is evaluated), so only objects of sympy itself pass as
    // arguments without a row (analysis/calls.rs). These take text that is never evaluated.
    Library "sympy.core.symbol" ["Symbol", "Dummy", "Wild"] call "sympy Symbol.__getnewargs_ex__ (sympy/core/symbol.py)"
        => "a sympy symbol: its name is stored, never parsed or evaluated; needs sympy";
    Library "sympy.core.numbers" ["Float"] call "sympy Float.__getnewargs_ex__ (sympy/core/numbers.py: mpmath's (sign, hex mantissa, exponent, bits) tuple)"
        => "a sympy float built from mpmath's raw number tuple (strings are parsed as numbers, never evaluated); needs sympy";
    Library "matplotlib.artist" ["_XYPair"] call "a namedtuple's __getnewargs__ (matplotlib/artist.py)"
        => "a named pair of values (a tuple); needs matplotlib";
    Library "sklearn.tree._tree" ["Tree"] call "scikit-learn Tree.__reduce__ (sklearn/tree/_tree.pyx)"
        => "a fitted decision tree built from its sizes; its __setstate__ checks the node arrays' dtypes and shapes; needs scikit-learn";
    Library "sklearn.neighbors._kd_tree" ["newObj"] call "scikit-learn BinaryTree.__reduce__ (sklearn/neighbors/_binary_tree.pxi)"
        => "returns cls.__new__(cls) for a tree class that is a separate global, classified on its own; needs scikit-learn";
    Library "sklearn.neighbors._ball_tree" ["newObj"] call "scikit-learn BinaryTree.__reduce__ (sklearn/neighbors/_binary_tree.pxi)"
        => "returns cls.__new__(cls) for a tree class that is a separate global, classified on its own; needs scikit-learn";
    Library "sklearn.metrics._dist_metrics" ["newObj"] call "scikit-learn DistanceMetric.__reduce__ (sklearn/metrics/_dist_metrics.pyx.tp)"
        => "returns cls.__new__(cls) for a metric class that is a separate global, classified on its own; needs scikit-learn";
    Library "sklearn._loss._loss" [
        "CyHalfSquaredError", "CyAbsoluteError", "CyPinballLoss", "CyHuberLoss",
        "CyHalfPoissonLoss", "CyHalfGammaLoss", "CyHalfTweedieLoss",
        "CyHalfTweedieLossIdentity", "CyHalfBinomialLoss", "CyExponentialLoss",
        "CyHalfMultinomialLoss",
    ] call "scikit-learn loss __reduce__ (sklearn/_loss/_loss.pyx.tp)"
        => "a loss-function object built from its numeric parameters; needs scikit-learn";
    // scikit-learn 1.1-1.4 pickle these losses with Cython's own `__reduce_cython__`
    // (`__pyx_unpickle_<Class>(type, checksum, state)`, see above); 1.5-1.6 were built by
    // Cython 3 with the module named `_loss`, which `sklearn/_loss/_loss.pyx` registers in
    // `sys.modules` under that name when sklearn imports it (so the name resolves only once
    // scikit-learn is loaded): 1.5 writes `_loss.__pyx_unpickle_<Class>`, 1.6 the class
    // itself, called with its numeric parameters (read in 1.1.3, 1.2.2, 1.3.2, 1.5.2, 1.6.1).
    Library "sklearn._loss._loss" [
        "__pyx_unpickle_CyLossFunction", "__pyx_unpickle_CyHalfSquaredError",
        "__pyx_unpickle_CyAbsoluteError", "__pyx_unpickle_CyPinballLoss",
        "__pyx_unpickle_CyHuberLoss", "__pyx_unpickle_CyHalfPoissonLoss",
        "__pyx_unpickle_CyHalfGammaLoss", "__pyx_unpickle_CyHalfTweedieLoss",
        "__pyx_unpickle_CyHalfTweedieLossIdentity", "__pyx_unpickle_CyHalfBinomialLoss",
        "__pyx_unpickle_CyExponentialLoss", "__pyx_unpickle_CyHalfMultinomialLoss",
    ] call "scikit-learn 1.1-1.4 loss classes' Cython __reduce_cython__ (sklearn/_loss/_loss.pyx.tp)"
        => "rebuilds a loss-function object (Cython pickle helper: class check, then its numeric state); needs scikit-learn";
    Library "_loss" [
        "__pyx_unpickle_CyLossFunction", "__pyx_unpickle_CyHalfSquaredError",
        "__pyx_unpickle_CyAbsoluteError", "__pyx_unpickle_CyPinballLoss",
        "__pyx_unpickle_CyHuberLoss", "__pyx_unpickle_CyHalfPoissonLoss",
        "__pyx_unpickle_CyHalfGammaLoss", "__pyx_unpickle_CyHalfTweedieLoss",
        "__pyx_unpickle_CyHalfTweedieLossIdentity", "__pyx_unpickle_CyHalfBinomialLoss",
        "__pyx_unpickle_CyExponentialLoss", "__pyx_unpickle_CyHalfMultinomialLoss",
    ] call "scikit-learn 1.5 loss classes' Cython __reduce_cython__ (module registered as `_loss`, sklearn/_loss/_loss.pyx.tp)"
        => "scikit-learn's loss module under the short name its Cython 3 build registers: rebuilds a loss-function object (class check, then its numeric state); needs scikit-learn";
    Library "_loss" [
        "CyLossFunction", "CyHalfSquaredError", "CyAbsoluteError", "CyPinballLoss",
        "CyHuberLoss", "CyHalfPoissonLoss", "CyHalfGammaLoss", "CyHalfTweedieLoss",
        "CyHalfTweedieLossIdentity", "CyHalfBinomialLoss", "CyExponentialLoss",
        "CyHalfMultinomialLoss",
    ] call "scikit-learn 1.6 loss __reduce__ (module registered as `_loss`, sklearn/_loss/_loss.pyx.tp)"
        => "scikit-learn's loss module under the short name its Cython 3 build registers: a loss-function object built from its numeric parameters; needs scikit-learn";
    // A namedtuple (`collections.namedtuple`'s `__getnewargs__`): the tuple of its fields.
    Library "sklearn.impute._iterative" ["_ImputerTriplet"] call "scikit-learn IterativeImputer.imputation_sequence_ items, a namedtuple (sklearn/impute/_iterative.py, read in 1.1.3)"
        => "a named triple (feature index, neighbour indices, estimator): a tuple; needs scikit-learn";
    Library "sklearn.linear_model._sgd_fast" [
        "Hinge", "ModifiedHuber", "SquaredHinge", "Log", "SquaredLoss", "Huber",
        "EpsilonInsensitive", "SquaredEpsilonInsensitive",
    ] call "scikit-learn SGD loss __reduce__ (sklearn/linear_model/_sgd_fast.pyx.tp)"
        => "a loss-function object built from its numeric parameters; needs scikit-learn";
    Library "sklearn.utils.validation" ["check_array"] call "scikit-learn HistGradientBoosting* with categorical features (functools.partial(check_array, …))"
        => "validates and converts an array-like; it reads no file and calls nothing it is given; needs scikit-learn";
    Library "tensorflow.python.framework.dtypes" ["as_dtype"] call "TensorFlow DType.__reduce__ (as_dtype, (self.name,))"
        => "looks a TensorFlow dtype up by its name (a string); needs tensorflow";
    Library "matplotlib._enums" ["CapStyle", "JoinStyle"] call "Enum.__reduce_ex__ of matplotlib's enums (matplotlib/_enums.py)"
        => "a matplotlib enum member, looked up by value; needs matplotlib";
    Library "matplotlib.colors" ["_create_empty_object_of_class"] call "matplotlib's norm classes' __reduce__ (matplotlib/colors.py, _picklable_norm_constructor)"
        => "returns cls.__new__(cls) for a norm class that is a separate global, classified on its own; needs matplotlib";
    Library "matplotlib.axes._axes" ["Axes._unit_change_handler"] call "matplotlib Axes units callbacks (functools.partial(self._unit_change_handler, axis_name), matplotlib/axes/_base.py)"
        => "a figure callback that rescales an axis when its units change; needs matplotlib";
    // matplotlib 3.6 pickles every subplot (and mpl_toolkits its parasite, host, colorbar
    // and floating axes) as `_picklable_class_constructor(mixin, fmt, attr_name, base)`,
    // which builds `class _(mixin, base)` and returns `cls.__new__(cls)`; analysis/calls.rs
    // accepts only the mixins and attribute names matplotlib writes (read in 3.6.3).
    Library "matplotlib.cbook" ["_picklable_class_constructor"] call "matplotlib 3.6 subplot_class_factory classes' __reduce__ (matplotlib/cbook/__init__.py _make_class_factory; mpl_toolkits axes_grid1 and axisartist)"
        => "makes a subclass of a matplotlib axes mixin and an axes class of the file, and an instance of it without running __init__; needs matplotlib";
    Library "matplotlib.colorbar" ["_remove_cbar_axes"] call "matplotlib colorbars (functools.partial(_remove_cbar_axes, …) as a callback)"
        => "a callback that removes a colorbar's axes when the figure calls it; needs matplotlib";
    Library "statsmodels.tsa.statespace._initialization" ["sInitialization", "dInitialization", "cInitialization", "zInitialization"] call "statsmodels state-space Cython classes' __reduce__ (statsmodels/tsa/statespace/*.pyx.in)"
        => "a state-space model component built from numbers and arrays; needs statsmodels";
    Library "statsmodels.tsa.statespace._representation" ["sStatespace", "dStatespace", "cStatespace", "zStatespace"] call "statsmodels state-space Cython classes' __reduce__ (statsmodels/tsa/statespace/*.pyx.in)"
        => "a state-space model component built from numbers and arrays; needs statsmodels";
    Library "statsmodels.tsa.statespace._kalman_filter" ["sKalmanFilter", "dKalmanFilter", "cKalmanFilter", "zKalmanFilter"] call "statsmodels state-space Cython classes' __reduce__ (statsmodels/tsa/statespace/*.pyx.in)"
        => "a state-space model component built from numbers and arrays; needs statsmodels";
    Library "statsmodels.tsa.statespace._kalman_smoother" ["sKalmanSmoother", "dKalmanSmoother", "cKalmanSmoother", "zKalmanSmoother"] call "statsmodels state-space Cython classes' __reduce__ (statsmodels/tsa/statespace/*.pyx.in)"
        => "a state-space model component built from numbers and arrays; needs statsmodels";
    Library "sympy.core.function" ["_rebuild_undef"] call "sympy UndefinedFunction.__reduce__ (sympy/core/function.py)"
        => "rebuilds an undefined sympy function class from its name and assumptions; nothing is parsed or evaluated; needs sympy";
    Library "sympy.polys.matrices.domainmatrix" ["DomainMatrix"] call "sympy DomainMatrix.__reduce__ (sympy/polys/matrices/domainmatrix.py)"
        => "a sympy matrix over a domain, built from its elements, shape and domain objects; needs sympy";

    // ════════════════════════════════════════════════════════════════════════════════
    // runtime-handle: objects tied to a live runtime (threads, files, devices, sessions)
    // ════════════════════════════════════════════════════════════════════════════════

    RuntimeHandle "_thread" ["lock", "RLock", "LockType", "allocate_lock", "_local"]
        => "a thread lock or thread-local store: a live handle of the process that wrote the file";
    RuntimeHandle "threading" ["Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore", "Event", "Barrier", "local"]
        => "a thread synchronisation object: a live handle of the process that wrote the file";
    RuntimeHandle "queue" ["Queue", "LifoQueue", "PriorityQueue", "SimpleQueue"]
        => "a thread-safe queue holding live locks of the process that wrote the file";
    RuntimeHandle "_queue" ["SimpleQueue"]
        => "a thread-safe queue holding live locks of the process that wrote the file";
    RuntimeHandle "multiprocessing.synchronize" ["**"]
        => "a multiprocessing lock or semaphore: a handle to an operating-system semaphore of the writing process";
    RuntimeHandle "_io" ["TextIOWrapper", "BufferedReader", "BufferedWriter", "BufferedRandom", "BufferedRWPair"]
        => "an open-file wrapper: a live file handle of the process that wrote the file";
    RuntimeHandle "io" ["TextIOWrapper", "BufferedReader", "BufferedWriter", "BufferedRandom", "BufferedRWPair"]
        => "an open-file wrapper: a live file handle of the process that wrote the file";
    RuntimeHandle "tensorflow.python.framework.ops" ["EagerTensor"]
        => "a TensorFlow eager tensor: holds a live TensorFlow runtime object, so it only loads inside a TF runtime of the same version";
    // What TensorFlow's own __reduce__ methods write: the tensor or variable rebuilt from
    // a numpy array that follows in the file. These load wherever tensorflow is installed
    // (no live runtime state is pickled), and their values are that array.
    RuntimeHandle "tensorflow.python.framework.ops" ["convert_to_tensor"]
        call "TensorFlow EagerTensor.__reduce__ (convert_to_tensor, (self._numpy(),))"
        => "a TensorFlow tensor rebuilt from the numpy array that follows: loads only where tensorflow is installed, but its values are that array, which `pklinspect extract` writes without TensorFlow";
    // ResourceVariable(initial_value) calls a callable initial_value: analysis/calls.rs
    // judges its arguments as called (Special::ClassArgument), directly or through partial.
    RuntimeHandle "tensorflow.python.ops.resource_variable_ops" ["ResourceVariable"]
        call "TensorFlow BaseResourceVariable.__reduce__ (functools.partial(ResourceVariable, trainable=…, name=…, dtype=…), (self.numpy(),))"
        => "a TensorFlow variable rebuilt from the numpy array that follows: loads only where tensorflow is installed, but its value is that array, which `pklinspect extract` writes without TensorFlow";
    RuntimeHandle "tensorflow.python.framework.ops" ["**"]
        => "holds a live TensorFlow runtime object (graph, operation or tensor); only loads inside a TF runtime of the same version";
    RuntimeHandle "tensorflow.python.framework.tensor" ["**"]
        => "holds a live TensorFlow runtime object; only loads inside a TF runtime of the same version";
    RuntimeHandle "tensorflow.python.ops.resource_variable_ops" ["**"]
        => "holds a live TensorFlow runtime object; only loads inside a TF runtime of the same version";
    RuntimeHandle "tensorflow.python.ops.variables" ["**"]
        => "holds a live TensorFlow runtime object; only loads inside a TF runtime of the same version";
    RuntimeHandle "tensorflow.python.eager" ["**"]
        => "holds a live TensorFlow eager-runtime object; only loads inside a TF runtime of the same version";
    RuntimeHandle "tensorflow.python.client" ["**"]
        => "a TensorFlow session: tied to a live runtime and its devices";
    RuntimeHandle "tensorflow.python.distribute" ["**"]
        => "a TensorFlow distribution strategy object: tied to the devices and workers of a live runtime";
    RuntimeHandle "torch.cuda" ["**"]
        => "a CUDA storage or CUDA state: loads only on a machine with a CUDA GPU (or with map_location)";
    RuntimeHandle "torch._utils" ["_rebuild_device_tensor_from_numpy", "_rebuild_device_tensor_from_cpu_tensor", "_rebuild_xla_tensor"]
        call "torch Tensor.__reduce_ex__ for accelerator tensors"
        => "rebuilds a tensor on an accelerator device (XLA, MPS and the like); without map_location it loads only where that device exists";
    RuntimeHandle "torch.distributed" ["**"]
        => "distributed-training state tied to a process group that exists only in the job that wrote the file";
    RuntimeHandle "cupy" ["**"]
        => "a CuPy array or handle living on a CUDA GPU; loads only where CUDA and CuPy are available";
    RuntimeHandle "pycuda" ["**"]
        => "a PyCUDA handle to GPU memory or a CUDA context of the process that wrote the file";

    // ════════════════════════════════════════════════════════════════════════════════
    // user-defined: code that exists only where the writing script ran
    // ════════════════════════════════════════════════════════════════════════════════

    // Classes defined in a script, a notebook cell or an IPython session all have
    // __module__ == "__main__".
    UserDefined "__main__" ["*"]
        => "defined in the script or notebook that wrote the file (__main__): loads only where that exact code is importable";
    UserDefined "__mp_main__" ["*"]
        => "defined in the main script of a multiprocessing child (__mp_main__): loads only where that exact code is importable";
    UserDefined "__parents_main__" ["*"]
        => "defined in the main script of a Python 2 multiprocessing child: loads only where that exact code is importable";
    UserDefined "__console__" ["*"]
        => "defined in an interactive console session (code.InteractiveConsole): loads only where that exact code is importable";

    // ════════════════════════════════════════════════════════════════════════════════
    // code-exec: runs code or touches the system when the file is loaded
    // ════════════════════════════════════════════════════════════════════════════════

    // builtins: the named ones, then everything not listed as plain above.
    CodeExec "builtins" ["eval"] => "evaluates a Python expression from the file when it is loaded";
    CodeExec "builtins" ["exec", "execfile"] => "executes Python source from the file when it is loaded";
    CodeExec "builtins" ["compile"] => "compiles source text into a code object that can then be run";
    CodeExec "builtins" ["__import__", "reload"] => "imports any module the file names, running its top-level code";
    CodeExec "builtins" ["getattr"] => "fetches any attribute of any object, such as os.system from the os module";
    CodeExec "builtins" ["setattr", "delattr"]
        => "changes attributes of any object, such as replacing a function of a loaded module";
    CodeExec "builtins" ["open", "file"] => "opens, creates or truncates a file the pickle names";
    CodeExec "builtins" ["breakpoint"] => "starts a debugger, which can run any command";
    CodeExec "builtins" ["input", "raw_input"] => "reads from the terminal of whoever loads the file";
    CodeExec "builtins" ["globals", "locals", "vars"]
        => "exposes the interpreter's namespaces, from which builtins such as eval are one lookup away";
    CodeExec "builtins" ["help"] => "starts the interactive help, whose pager runs an external command";
    CodeExec "builtins" ["exit", "quit"] => "ends the interpreter that is loading the file";
    CodeExec "builtins" ["apply"] => "calls any function with any arguments (Python 2's apply)";
    CodeExec "builtins" ["__build_class__"] => "runs a class body supplied as a function";
    CodeExec "builtins" ["memoryview"]
        => "gives raw read and write access to another object's buffer; no pickler writes it";
    CodeExec "builtins" ["*"]
        => "a builtin not on pklinspect's list of harmless ones; builtins such as exec, open, help and exit reach the interpreter or the system";

    // The operating system.
    CodeExec "os" ["**"]
        => "the os module runs commands, starts processes and changes files (os.system, popen, exec*, spawn*, remove)";
    CodeExec "posix" ["**"]
        => "the operating-system layer behind os runs commands, starts processes and changes files (system, exec*, spawn*)";
    CodeExec "nt" ["**"]
        => "the Windows layer behind os runs commands, starts processes and changes files (system, startfile, spawn*)";
    CodeExec "posixpath" ["**"]
        => "outside its pure string functions the path module queries the file system and exposes the os and sys modules";
    CodeExec "ntpath" ["**"]
        => "outside its pure string functions the path module queries the file system and exposes the os and sys modules";
    CodeExec "genericpath" ["**"]
        => "outside its pure string functions the path module queries the file system and exposes the os module";
    CodeExec "subprocess" ["**"] => "runs a shell command or program when the file is loaded";
    CodeExec "_posixsubprocess" ["**"] => "starts a program (the engine behind subprocess)";
    CodeExec "pty" ["**"] => "starts a program on a pseudo-terminal (pty.spawn)";
    CodeExec "pipes" ["**"] => "builds and runs shell pipelines";
    CodeExec "pexpect" ["**"] => "starts and drives programs";
    CodeExec "sh" ["**"] => "runs programs as function calls";
    CodeExec "paramiko" ["**"] => "opens SSH connections and runs remote commands";
    CodeExec "fabric" ["**"] => "runs local and remote shell commands";
    CodeExec "platform" ["**"] => "probes the system, in places by running external commands";
    CodeExec "uuid" ["**"]
        => "uuid's node-lookup helpers run external commands (ifconfig, ip, arp); only UUID values are plain";
    CodeExec "_osx_support" ["**"] => "runs compiler and system commands";
    CodeExec "_aix_support" ["**"] => "runs system commands";
    CodeExec "signal" ["**"] => "installs signal handlers, sends signals or sets alarms in the loading process";
    CodeExec "_signal" ["**"] => "installs signal handlers, sends signals or sets alarms in the loading process";
    CodeExec "atexit" ["**"] => "registers a function to run when the interpreter exits";
    CodeExec "faulthandler" ["**"] => "writes tracebacks to files or crashes the interpreter on purpose";
    CodeExec "resource" ["**"] => "changes the resource limits of the loading process";
    CodeExec "gc" ["**"] => "hands out every live object of the interpreter (get_objects, get_referrers)";
    CodeExec "inspect" ["**"] => "reaches the frames, globals and source of live code";
    CodeExec "sys" ["**"]
        => "reaches the interpreter itself: sys.modules, sys.path, tracing hooks and exit";
    CodeExec "getpass" ["**"] => "reads a password from the terminal of whoever loads the file";
    CodeExec "pwd" ["**"] => "reads the system's user database";
    CodeExec "grp" ["**"] => "reads the system's group database";
    CodeExec "spwd" ["**"] => "reads the system's shadow password database";
    CodeExec "fcntl" ["**"] => "performs low-level operations on file descriptors";
    CodeExec "termios" ["**"] => "reconfigures the terminal";
    CodeExec "tty" ["**"] => "reconfigures the terminal";
    CodeExec "curses" ["**"] => "takes over the terminal";
    CodeExec "msvcrt" ["**"] => "performs low-level console and file operations on Windows";
    CodeExec "winreg" ["**"] => "reads and writes the Windows registry";
    CodeExec "_winapi" ["**"] => "calls the Windows API directly (CreateProcess and friends)";
    CodeExec "ctypes" ["**"] => "loads native libraries, calls C functions and writes raw memory";
    CodeExec "_ctypes" ["**"] => "loads native libraries, calls C functions and writes raw memory";
    CodeExec "cffi" ["**"] => "loads native libraries and calls C functions";
    CodeExec "_testcapi" ["**"] => "the C-API test hooks of CPython reach raw memory and can crash the interpreter";
    CodeExec "_testinternalcapi" ["**"] => "the internal test hooks of CPython reach raw memory and interpreter state";
    CodeExec "_xxsubinterpreters" ["**"] => "runs source code in a fresh subinterpreter";
    CodeExec "_interpreters" ["**"] => "runs source code in a fresh subinterpreter";
    CodeExec "_xxinterpchannels" ["**"] => "passes data between subinterpreters that run code";
    CodeExec "_interpchannels" ["**"] => "passes data between subinterpreters that run code";
    CodeExec "_interpqueues" ["**"] => "passes data between subinterpreters that run code";
    CodeExec "multiprocessing" ["**"] => "starts processes and runs functions in them (Process, Pool)";
    CodeExec "concurrent" ["**"] => "runs functions in thread and process pools";
    CodeExec "_thread" ["**"] => "starts threads that run functions, or interrupts the main thread";
    CodeExec "threading" ["**"]
        => "starts threads (Thread and Timer call a target with keyword arguments the file chooses) or installs trace hooks";
    CodeExec "asyncio" ["**"] => "runs coroutines, starts subprocesses and opens connections";

    // Running code: interpreters, debuggers, profilers, importers.
    CodeExec "runpy" ["**"] => "runs a module or script as __main__ (run_module, run_path, _run_code)";
    CodeExec "code" ["**"] => "compiles and runs Python source (InteractiveInterpreter.runsource)";
    CodeExec "codeop" ["**"] => "compiles Python source into code objects";
    CodeExec "pdb" ["**"] => "runs statements under the debugger (pdb.run)";
    CodeExec "bdb" ["**"] => "runs statements under the debugger framework (Bdb.run)";
    CodeExec "timeit" ["**"] => "compiles and runs the statement it is given";
    CodeExec "cProfile" ["**"] => "runs the statement it is given under the profiler";
    CodeExec "profile" ["**"] => "runs the statement it is given under the profiler";
    CodeExec "trace" ["**"] => "runs the statement it is given under the tracer";
    CodeExec "doctest" ["**"] => "runs the examples in docstrings (debug_script, run_docstring_examples)";
    CodeExec "unittest" ["**"] => "discovers and runs test modules (unittest.main)";
    CodeExec "test" ["**"] => "the test package of CPython runs scripts and subprocesses";
    CodeExec "pydoc" ["**"] => "imports modules by name (locate) and pipes text through an external pager";
    CodeExec "rlcompleter" ["**"] => "evaluates expressions to complete them";
    CodeExec "cmd" ["**"] => "dispatches command strings to methods by name";
    CodeExec "idlelib" ["**"] => "the shell and debugger of IDLE run code";
    CodeExec "lib2to3" ["**"] => "its grammar loader unpickles files and its parser generator evaluates text";
    CodeExec "tkinter" ["**"] => "opens windows and runs Tcl, which can run programs";
    CodeExec "_tkinter" ["**"] => "runs a Tcl interpreter, which can run programs";
    CodeExec "turtle" ["**"] => "opens a Tk window";
    CodeExec "turtledemo" ["**"] => "opens a Tk window and runs demo scripts";
    CodeExec "antigravity" ["**"] => "importing it opens a web browser";
    CodeExec "importlib" ["**"] => "imports any module by name, running its code";
    CodeExec "_imp" ["**"] => "loads modules and native extensions (the engine behind importlib)";
    CodeExec "imp" ["**"] => "loads modules and native extensions from arbitrary paths";
    CodeExec "_frozen_importlib" ["**"] => "the import system itself: imports any module";
    CodeExec "_frozen_importlib_external" ["**"] => "the import system itself: loads modules from arbitrary paths";
    CodeExec "pkgutil" ["**"] => "imports modules by name (resolve_name, iter_modules)";
    CodeExec "zipimport" ["**"] => "imports modules from a zip file";
    CodeExec "site" ["**"] => "processes .pth files, which can run code";
    CodeExec "modulefinder" ["**"] => "compiles and scans scripts";
    CodeExec "compileall" ["**"] => "compiles source trees and writes .pyc files";
    CodeExec "py_compile" ["**"] => "compiles a source file and writes a .pyc file";
    CodeExec "types" ["**"]
        => "builds functions from raw bytecode (CodeType, FunctionType) and binds them as methods";
    CodeExec "operator" ["**"]
        => "getattr, getitem and call primitives (attrgetter, itemgetter, methodcaller) that reach and run any attribute of any object";
    CodeExec "_operator" ["**"]
        => "getattr, getitem and call primitives (attrgetter, itemgetter, methodcaller) that reach and run any attribute of any object";
    // partial is the one way to add keyword arguments to a call in a pickle, so it turns
    // harmless-looking functions into dangerous ones (numpy.load(..., allow_pickle=True)).
    CodeExec "functools" ["**"]
        => "wraps callables so they run later with arguments the file chooses, keyword arguments included (partial, reduce)";
    CodeExec "_functools" ["**"]
        => "wraps callables so they run later with arguments the file chooses, keyword arguments included (partial, reduce)";
    CodeExec "IPython" ["**"] => "the shell and process helpers of IPython run commands";
    CodeExec "numexpr" ["**"] => "evaluates expression strings";
    CodeExec "jsonpickle" ["**"] => "imports and builds arbitrary classes named in JSON text";
    CodeExec "yaml" ["**"] => "builds arbitrary Python objects from YAML tags (load, unsafe_load)";

    // Nested deserialisation: a pickle (or code) inside the pickle.
    CodeExec "pickle" ["**"] => "unpickles bytes embedded in the file: a second pickle that can run anything";
    CodeExec "_pickle" ["**"] => "unpickles bytes embedded in the file: a second pickle that can run anything";
    CodeExec "pickle5" ["**"] => "unpickles bytes embedded in the file: a second pickle that can run anything";
    CodeExec "marshal" ["**"] => "rebuilds code objects from bytes, which can then be run";
    CodeExec "dill" ["**"] => "rebuilds functions and code objects from bytes and imports modules";
    CodeExec "cloudpickle" ["**"] => "rebuilds functions from pickled bytecode and imports modules";
    CodeExec "srsly.cloudpickle" ["**"] => "rebuilds functions from pickled bytecode and imports modules";
    CodeExec "ray.cloudpickle" ["**"] => "rebuilds functions from pickled bytecode and imports modules";
    CodeExec "joblib" ["**"]
        => "loads other pickles from disk (joblib.load), writes cache directories or starts worker processes";
    CodeExec "sklearn.externals.joblib" ["**"]
        => "loads other pickles from disk (joblib.load), writes cache directories or starts worker processes";
    // scikit-learn 0.21+ re-exports joblib's load/dump/Parallel here (sklearn/utils/_joblib.py).
    CodeExec "sklearn.utils._joblib" ["**"]
        => "joblib re-exported by scikit-learn: loads other pickles from disk (joblib.load), writes files or starts worker processes";
    CodeExec "copyreg" ["**"]
        => "registers reducers and extension codes that change how later pickles load";
    CodeExec "shelve" ["**"] => "opens a pickle database on disk and unpickles its values";
    CodeExec "dbm" ["**"] => "opens or creates database files";
    CodeExec "sqlite3" ["**"] => "opens or creates database files and runs SQL";
    CodeExec "_sqlite3" ["**"] => "opens or creates database files and runs SQL";

    // Files.
    CodeExec "io" ["**"] => "opens files by name (open, open_code, FileIO)";
    CodeExec "_io" ["**"] => "opens files by name (open, open_code, FileIO)";
    CodeExec "_pyio" ["**"] => "opens files by name (open, FileIO)";
    CodeExec "codecs" ["**"]
        => "opens files (codecs.open) or registers a codec search function that later decoding calls";
    CodeExec "_codecs" ["**"] => "registers codec search functions that later decoding calls";
    CodeExec "shutil" ["**"] => "copies, moves and deletes files and directory trees, or runs archivers";
    CodeExec "tempfile" ["**"] => "creates files and directories";
    CodeExec "glob" ["**"] => "lists the file system";
    CodeExec "fileinput" ["**"] => "reads files, or rewrites them in place";
    CodeExec "filecmp" ["**"] => "reads and compares files";
    CodeExec "linecache" ["**"] => "reads any file into memory (getline)";
    CodeExec "tabnanny" ["**"] => "reads and checks source files";
    CodeExec "mmap" ["**"] => "maps files into memory";
    CodeExec "tarfile" ["**"] => "reads, writes and extracts tar archives on disk";
    CodeExec "zipfile" ["**"] => "reads, writes and extracts zip archives on disk";
    CodeExec "zipapp" ["**"] => "writes executable zip archives";
    CodeExec "gzip" ["**"] => "opens files by name";
    CodeExec "bz2" ["**"] => "opens files by name";
    CodeExec "lzma" ["**"] => "opens files by name";
    CodeExec "logging" ["**"]
        => "creates log files, opens sockets, and its config module evaluates configuration text";
    CodeExec "syslog" ["**"] => "writes to the system log";
    CodeExec "netrc" ["**"] => "reads the user's stored network credentials";
    CodeExec "mailcap" ["**"] => "looks up and runs commands from mailcap files";
    CodeExec "venv" ["**"] => "creates virtual environments and runs pip";
    CodeExec "ensurepip" ["**"] => "runs pip to install packages";
    CodeExec "pip" ["**"] => "installs packages, running their build code";
    CodeExec "distutils" ["**"] => "builds and installs packages and writes files";
    CodeExec "setuptools" ["**"] => "builds and installs packages, running their setup code";
    CodeExec "pkg_resources" ["**"] => "loads entry points, importing the modules they name";
    CodeExec "_distutils_hack" ["**"] => "rewires the import system";

    // Network.
    CodeExec "socket" ["**"] => "opens network connections";
    CodeExec "_socket" ["**"] => "opens network connections";
    CodeExec "ssl" ["**"] => "opens TLS connections (get_server_certificate leaks data over DNS)";
    CodeExec "_ssl" ["**"] => "opens TLS connections";
    CodeExec "select" ["**"] => "waits on sockets and file descriptors";
    CodeExec "selectors" ["**"] => "waits on sockets and file descriptors";
    CodeExec "socketserver" ["**"] => "binds and listens on network ports";
    CodeExec "http" ["**"] => "opens HTTP connections or starts HTTP servers";
    CodeExec "urllib" ["**"] => "downloads from URLs the file names (urlopen, urlretrieve)";
    CodeExec "urllib3" ["**"] => "opens HTTP connections";
    CodeExec "requests" ["**"] => "sends HTTP requests";
    CodeExec "httpx" ["**"] => "sends HTTP requests";
    CodeExec "aiohttp" ["**"] => "sends HTTP requests or starts servers";
    CodeExec "ftplib" ["**"] => "opens FTP connections";
    CodeExec "smtplib" ["**"] => "sends email";
    CodeExec "smtpd" ["**"] => "starts a mail server";
    CodeExec "imaplib" ["**"] => "opens mail connections";
    CodeExec "poplib" ["**"] => "opens mail connections";
    CodeExec "nntplib" ["**"] => "opens news-server connections";
    CodeExec "telnetlib" ["**"] => "opens telnet connections";
    CodeExec "xmlrpc" ["**"] => "calls remote procedures or serves them";
    CodeExec "wsgiref" ["**"] => "starts a web server";
    CodeExec "webbrowser" ["**"] => "opens a URL in a browser, or runs the browser command it is given";
    CodeExec "huggingface_hub" ["**"] => "downloads files from the Hugging Face Hub";

    // numpy functions that read, write or fetch files, or run code.
    CodeExec "numpy" ["load"]
        => "loads a .npy/.npz file from disk, and with allow_pickle unpickles what it holds";
    CodeExec "numpy.lib.npyio" ["**"] => "loads and saves array files on disk (with allow_pickle, unpickles them)";
    CodeExec "numpy.lib._npyio_impl" ["**"] => "loads and saves array files on disk (with allow_pickle, unpickles them)";
    CodeExec "numpy.lib.format" ["**"] => "reads and writes .npy files and memory maps (with allow_pickle, unpickles them)";
    CodeExec "numpy" ["save", "savez", "savez_compressed", "savetxt"] => "writes a file on disk";
    CodeExec "numpy" ["fromfile", "loadtxt", "genfromtxt", "fromregex", "memmap"]
        => "reads or maps a file on disk (text loaders also fetch URLs)";
    CodeExec "numpy.core.multiarray" ["fromfile"] => "reads a file on disk";
    CodeExec "numpy._core.multiarray" ["fromfile"] => "reads a file on disk";
    CodeExec "numpy.core.records" ["fromfile"] => "reads a file on disk";
    CodeExec "numpy._core.records" ["fromfile"] => "reads a file on disk";
    CodeExec "numpy.rec" ["fromfile"] => "reads a file on disk";
    CodeExec "numpy.core.memmap" ["**"] => "maps a file on disk into memory, creating it if asked";
    CodeExec "numpy._core.memmap" ["**"] => "maps a file on disk into memory, creating it if asked";
    CodeExec "numpy" ["DataSource"] => "downloads and opens files from URLs";
    CodeExec "numpy.lib._datasource" ["**"] => "downloads and opens files from URLs";
    CodeExec "numpy" ["lookfor"] => "imports modules to search their docstrings";
    CodeExec "numpy.lib.utils" ["lookfor"] => "imports modules to search their docstrings";
    CodeExec "numpy" ["test"] => "runs numpy's test suite through pytest";
    CodeExec "numpy._pytesttester" ["**"] => "runs a test suite through pytest";
    CodeExec "numpy.testing" ["**"] => "numpy's test helpers run code strings (runstring is exec)";
    CodeExec "numpy.f2py" ["**"] => "compiles Fortran and evaluates strings (getlincoef, _eval_length)";
    CodeExec "numpy.distutils" ["**"] => "runs compilers and build commands";
    CodeExec "numpy.ctypeslib" ["**"] => "loads native libraries (load_library)";

    // pandas readers, writers and expression evaluation.
    CodeExec "pandas" ["read_pickle", "to_pickle"]
        => "reads or writes a pickle file on disk (read_pickle unpickles it)";
    CodeExec "pandas" [
        "read_csv", "read_table", "read_fwf", "read_excel", "read_json", "read_html",
        "read_xml", "read_hdf", "read_feather", "read_parquet", "read_orc", "read_sas",
        "read_spss", "read_stata", "read_sql", "read_sql_query", "read_sql_table",
        "read_gbq", "read_clipboard",
    ] => "reads a file, URL or database the pickle names (read_clipboard runs a system command)";
    CodeExec "pandas.io" ["**"] => "pandas' readers and writers open files, URLs and databases (read_pickle unpickles)";
    CodeExec "pandas" ["eval"] => "evaluates an expression string";
    CodeExec "pandas.core.computation" ["**"] => "evaluates expression strings (pandas.eval, DataFrame.query)";
    CodeExec "pandas" ["test"] => "runs pandas' test suite through pytest";
    CodeExec "pandas.util._tester" ["**"] => "runs a test suite through pytest";

    // scipy / scikit-learn loaders.
    CodeExec "scipy.io" ["**"] => "reads and writes data files on disk (loadmat, savemat, mmread)";
    CodeExec "scipy.datasets" ["**"] => "downloads data sets";
    CodeExec "scipy.weave" ["**"] => "compiles and runs C++ code";
    CodeExec "scipy" ["LowLevelCallable"] => "calls a native function pointer";
    CodeExec "scipy" ["test"] => "runs scipy's test suite through pytest";
    CodeExec "scipy._lib._ccallback" ["LowLevelCallable"] => "calls a native function pointer";
    CodeExec "scipy._lib._testutils" ["**"] => "runs a test suite through pytest";
    CodeExec "sklearn.datasets" ["**"] => "reads data files or downloads data sets (fetch_*, load_svmlight_file)";

    // PyTorch: loaders, compilers and the C++ core.
    CodeExec "torch" ["load"] => "loads another checkpoint, whose pickle can run anything";
    CodeExec "torch" ["save"] => "writes a file on disk";
    CodeExec "torch" ["from_file"] => "reads or maps a file on disk";
    CodeExec "torch" ["compile"] => "compiles a function, generating, building and running C++ or Triton code";
    CodeExec "torch.storage" ["_load_from_bytes"]
        => "runs torch.load on bytes embedded in the file: a nested pickle that can run anything";
    CodeExec "torch.serialization" ["**"] => "loads or saves checkpoints, running their pickles";
    CodeExec "torch._utils" ["**"]
        => "outside its tensor-rebuild functions torch._utils imports modules by name (_import_dotted_name)";
    CodeExec "torch.hub" ["**"] => "downloads and runs code from GitHub repositories";
    CodeExec "torch.jit" ["**"] => "loads and compiles TorchScript programs";
    CodeExec "torch.package" ["**"] => "imports code packaged inside an archive";
    CodeExec "torch._inductor" ["**"] => "generates, compiles and runs C++ or Triton code (compile_file runs a compiler command)";
    CodeExec "torch._dynamo" ["**"] => "rewrites and runs Python bytecode and evaluates guard expressions";
    CodeExec "torch.fx" ["**"] => "rebuilds a GraphModule by exec-ing its generated source (reduce_graph_module)";
    CodeExec "torch.utils.cpp_extension" ["**"] => "compiles and loads C++ extensions";
    CodeExec "torch.utils.collect_env" ["**"] => "runs system commands to describe the environment";
    CodeExec "torch.utils.bottleneck" ["**"] => "runs a script under the profilers";
    CodeExec "torch.utils._config_module" ["**"] => "loads configuration from a pickle inside the pickle";
    CodeExec "torch.utils.data.datapipes" ["**"]
        => "data pipes open files and URLs and decode pickles inside the pickle";
    CodeExec "torch.ops" ["**"] => "loads native operator libraries (torch.ops.load_library)";
    CodeExec "torch._ops" ["**"] => "loads native operator libraries";
    CodeExec "torch.library" ["**"] => "defines and registers operators with native kernels";
    CodeExec "torch.classes" ["**"] => "loads native libraries of TorchScript classes";
    CodeExec "torch._classes" ["**"] => "loads native libraries of TorchScript classes";
    CodeExec "torch._C" ["**"] => "torch's C++ core, including TorchScript loaders and raw memory access";
    CodeExec "torch.multiprocessing" ["**"] => "starts processes and runs functions in them";
    CodeExec "torch.distributed.rpc" ["**"] => "calls functions on remote workers";
    CodeExec "torch.testing" ["**"] => "torch's test helpers run code and subprocesses";
    CodeExec "torchvision.datasets" ["**"] => "data-set classes download and write files when they are built";
    CodeExec "torchvision.io" ["**"] => "reads and writes image and video files";

    // Keras / TensorFlow: whole models inside the pickle, and file access.
    CodeExec "keras.saving" ["**"]
        => "loads a whole Keras model, whose config can import modules and run Lambda code (CVE-2024-3660, CVE-2025-1550)";
    CodeExec "keras.src.saving" ["**"]
        => "loads a whole Keras model, whose config can import modules and run Lambda code (CVE-2024-3660, CVE-2025-1550)";
    CodeExec "keras.src.legacy.saving" ["**"]
        => "loads a whole Keras model, whose config can import modules and run Lambda code";
    CodeExec "keras.models" ["load_model", "model_from_json", "model_from_yaml", "model_from_config"]
        => "loads a whole Keras model, whose config can import modules and run Lambda code";
    CodeExec "keras.utils" ["get_file"] => "downloads a file";
    CodeExec "keras.src.utils.python_utils" ["func_load"] => "rebuilds a function from marshalled bytecode";
    CodeExec "keras.utils.generic_utils" ["func_load"] => "rebuilds a function from marshalled bytecode";
    CodeExec "tf_keras.src.saving" ["**"] => "loads a whole Keras model, whose config can import modules and run Lambda code";
    CodeExec "tensorflow.python.keras.saving" ["**"] => "loads a whole Keras model, whose config can import modules and run Lambda code";
    CodeExec "tensorflow.io" ["**"] => "reads and writes files (gfile)";
    CodeExec "tensorflow.python.lib.io" ["**"] => "reads and writes files";
    CodeExec "tensorflow.python.platform.gfile" ["**"] => "reads and writes files";
    CodeExec "tensorflow.saved_model" ["**"] => "loads a SavedModel from disk, whose graph can read and write files";
    CodeExec "tensorflow.python.saved_model" ["**"] => "loads a SavedModel from disk, whose graph can read and write files";
    CodeExec "tensorflow.python.ops.script_ops" ["**"] => "wraps Python callables as graph operations (py_func)";

    // Other libraries: downloads, remote code, evaluation.
    CodeExec "transformers.dynamic_module_utils" ["**"] => "downloads and imports model code from the Hub (trust_remote_code)";
    CodeExec "transformers.utils.hub" ["**"] => "downloads files from the Hugging Face Hub";
    CodeExec "transformers" ["pipeline"] => "downloads and loads models, possibly with remote code";
    CodeExec "transformers.pipelines" ["**"] => "downloads and loads models, possibly with remote code";
    CodeExec "datasets" ["load_dataset", "load_from_disk"] => "downloads data sets and runs their loading scripts, or reads files";
    CodeExec "datasets.load" ["**"] => "downloads data sets and runs their loading scripts";
    CodeExec "gensim.utils" ["unpickle", "pickle"] => "reads or writes a pickle file on disk (unpickle unpickles it)";
    CodeExec "nltk.data" ["**"] => "loads resources from disk or URLs, pickles included";
    CodeExec "nltk.downloader" ["**"] => "downloads resources";
    CodeExec "nltk" ["download"] => "downloads resources";
    CodeExec "PIL.Image" ["open"] => "opens an image file by name";
    CodeExec "sympy" ["sympify", "S", "lambdify", "parse_expr"] => "evaluates expression strings as Python code";
    // Most sympy functions sympify their arguments first: given a string, they evaluate it.
    CodeExec "sympy" [
        "simplify", "nsimplify", "expand", "factor", "solve", "integrate", "diff", "N",
        "limit", "series", "latex", "pprint", "Matrix", "Poly", "evaluate",
    ] => "sympifies its arguments, evaluating strings as Python code";
    CodeExec "sympy.simplify" ["**"] => "sympifies its arguments, evaluating strings as Python code";
    CodeExec "sympy.solvers" ["**"] => "sympifies its arguments, evaluating strings as Python code";
    CodeExec "pandas.compat.pickle_compat" ["**"]
        => "unpickles bytes embedded in the file (loads, load): a second pickle that can run anything";
    CodeExec "pandas" ["show_versions"] => "writes a JSON report to a path the pickle names";
    CodeExec "numpy" ["info"] => "imports modules by name to find an object's documentation (toplevel=)";
    CodeExec "numpy.lib.utils" ["info"] => "imports modules by name to find an object's documentation (toplevel=)";
    CodeExec "numpy.lib._utils_impl" ["info"] => "imports modules by name to find an object's documentation (toplevel=)";
    // joblib < 0.10 (joblib/numpy_pickle_compat.py): read_array opens the file named in
    // the wrapper's `filename`, joined to the pickle's folder (`../` and absolute paths
    // included), and np.load()s it with allow_pickle=True: a second pickle.
    CodeExec "joblib.numpy_pickle" ["NDArrayWrapper", "ZNDArrayWrapper"]
        => "joblib < 0.10's wrapper: joblib.load opens the file the pickle names (any path) and loads it with numpy.load(allow_pickle=True), a second pickle";
    CodeExec "joblib.numpy_pickle_compat" ["NDArrayWrapper", "ZNDArrayWrapper"]
        => "joblib < 0.10's wrapper: joblib.load opens the file the pickle names (any path) and loads it with numpy.load(allow_pickle=True), a second pickle";
    CodeExec "sklearn.externals.joblib.numpy_pickle" ["NDArrayWrapper", "ZNDArrayWrapper"]
        => "joblib < 0.10's wrapper: joblib.load opens the file the pickle names (any path) and loads it with numpy.load(allow_pickle=True), a second pickle";
    CodeExec "sklearn.externals.joblib.numpy_pickle_compat" ["NDArrayWrapper", "ZNDArrayWrapper"]
        => "joblib < 0.10's wrapper: joblib.load opens the file the pickle names (any path) and loads it with numpy.load(allow_pickle=True), a second pickle";
    CodeExec "sympy.core.sympify" ["**"] => "evaluates expression strings as Python code";
    CodeExec "sympy.core.singleton" ["S"] => "sympifies its argument, evaluating strings as Python code";
    CodeExec "sympy.parsing" ["**"] => "evaluates expression strings as Python code";
    CodeExec "sympy.utilities.lambdify" ["**"] => "compiles expression strings into Python functions";
    // Third-party gadgets: library functions that run code, unpickle files or write them
    // when called with file-chosen arguments (sklearn/utils/_testing.py, networkx 2.x
    // readwrite/gpickle.py, jinja2/environment.py, torch/export/__init__.py). A call of any
    // of them is already an unvetted call; these rows make the verdict `dangerous` and say why.
    CodeExec "sklearn.utils._testing" ["**"] => "scikit-learn's test helpers: assert_run_python_script runs Python source in a subprocess";
    CodeExec "networkx.readwrite.gpickle" ["**"] => "networkx < 3.0's read_gpickle unpickles a file the pickle names (write_gpickle writes one)";
    CodeExec "networkx" ["read_gpickle", "write_gpickle"] => "networkx < 3.0's read_gpickle unpickles a file the pickle names (write_gpickle writes one)";
    CodeExec "jinja2" ["**"] => "compiles template text into Python code, which runs when the template is rendered";
    CodeExec "torch.export" ["load", "save"] => "reads or writes an exported program at a path the pickle names";
    CodeExec "xml.etree.ElementTree" ["parse", "iterparse"] => "parses XML from files the pickle names";
    CodeExec "xml.etree.ElementInclude" ["**"] => "reads the files an XML document includes";
    CodeExec "xml.dom.minidom" ["parse"] => "parses XML from files or URLs the pickle names";
    CodeExec "xml.dom.pulldom" ["parse"] => "parses XML from files or URLs the pickle names";
    CodeExec "xml.sax" ["**"] => "parses XML from files or URLs the pickle names";
}
