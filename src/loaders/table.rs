//! torch's weights-only allowlist as data: what `torch.load(weights_only=True)` accepts
//! without `add_safe_globals`, and the result types of the calls it makes.
//!
//! Source: torch 2.15.0 (`2.15.0+cu132` wheel), `torch/_weights_only_unpickler.py`
//! (`_get_allowed_globals`, `_blocklisted_modules`, `Unpickler.load`) and
//! `torch/serialization.py` (`load`, `_load`, `_legacy_load`). [`ALLOWED_GLOBALS`] is the
//! sorted key list `_get_allowed_globals()` returned in that wheel (it is computed from
//! torch's dtype, tensor-class and storage-class lists, so another build may differ by a
//! few CUDA names).

/// The torch release the table was read from.
pub const SOURCE_VERSION: &str = "torch 2.15.0";

/// Where the table comes from.
pub const PROVENANCE: &str = "torch/_weights_only_unpickler.py: _get_allowed_globals(), \
                              _blocklisted_modules and Unpickler.load; torch/serialization.py: load, \
                              _load, _legacy_load";

/// The globals `torch.load(weights_only=True)` resolves by default (sorted, for binary
/// search): `module.name` as the GLOBAL opcode spells them.
pub const ALLOWED_GLOBALS: &[&str] = &[
    "_codecs.encode",
    "builtins.bytearray",
    "builtins.complex",
    "builtins.set",
    "collections.Counter",
    "collections.OrderedDict",
    "torch.BFloat16Storage",
    "torch.BFloat16Tensor",
    "torch.BoolStorage",
    "torch.BoolTensor",
    "torch.ByteStorage",
    "torch.ByteTensor",
    "torch.CharStorage",
    "torch.CharTensor",
    "torch.ComplexDoubleStorage",
    "torch.ComplexFloatStorage",
    "torch.DoubleStorage",
    "torch.DoubleTensor",
    "torch.FloatStorage",
    "torch.FloatTensor",
    "torch.HalfStorage",
    "torch.HalfTensor",
    "torch.IntStorage",
    "torch.IntTensor",
    "torch.LongStorage",
    "torch.LongTensor",
    "torch.QInt32Storage",
    "torch.QInt8Storage",
    "torch.QUInt2x4Storage",
    "torch.QUInt4x2Storage",
    "torch.QUInt8Storage",
    "torch.ShortStorage",
    "torch.ShortTensor",
    "torch.Size",
    "torch.Tensor",
    "torch._tensor._rebuild_from_type_v2",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_wrapper_subclass",
    "torch.bcomplex32",
    "torch.bfloat16",
    "torch.bits16",
    "torch.bits1x8",
    "torch.bits2x4",
    "torch.bits4x2",
    "torch.bits8",
    "torch.bool",
    "torch.complex128",
    "torch.complex32",
    "torch.complex64",
    "torch.cuda.BFloat16Storage",
    "torch.cuda.BFloat16Tensor",
    "torch.cuda.BoolStorage",
    "torch.cuda.BoolTensor",
    "torch.cuda.ByteStorage",
    "torch.cuda.ByteTensor",
    "torch.cuda.CharStorage",
    "torch.cuda.CharTensor",
    "torch.cuda.ComplexDoubleStorage",
    "torch.cuda.ComplexFloatStorage",
    "torch.cuda.DoubleStorage",
    "torch.cuda.DoubleTensor",
    "torch.cuda.FloatStorage",
    "torch.cuda.FloatTensor",
    "torch.cuda.HalfStorage",
    "torch.cuda.HalfTensor",
    "torch.cuda.IntStorage",
    "torch.cuda.IntTensor",
    "torch.cuda.LongStorage",
    "torch.cuda.LongTensor",
    "torch.cuda.ShortStorage",
    "torch.cuda.ShortTensor",
    "torch.cuda.sparse.BFloat16Tensor",
    "torch.cuda.sparse.ByteTensor",
    "torch.cuda.sparse.CharTensor",
    "torch.cuda.sparse.DoubleTensor",
    "torch.cuda.sparse.FloatTensor",
    "torch.cuda.sparse.HalfTensor",
    "torch.cuda.sparse.IntTensor",
    "torch.cuda.sparse.LongTensor",
    "torch.cuda.sparse.ShortTensor",
    "torch.device",
    "torch.float16",
    "torch.float32",
    "torch.float4_e2m1fn_x2",
    "torch.float64",
    "torch.float8_e4m3fn",
    "torch.float8_e4m3fnuz",
    "torch.float8_e5m2",
    "torch.float8_e5m2fnuz",
    "torch.float8_e8m0fnu",
    "torch.int1",
    "torch.int16",
    "torch.int2",
    "torch.int3",
    "torch.int32",
    "torch.int4",
    "torch.int5",
    "torch.int6",
    "torch.int64",
    "torch.int7",
    "torch.int8",
    "torch.nn.parameter.Parameter",
    "torch.per_channel_affine",
    "torch.per_channel_affine_float_qparams",
    "torch.per_channel_symmetric",
    "torch.per_tensor_affine",
    "torch.per_tensor_symmetric",
    "torch.qint32",
    "torch.qint8",
    "torch.quint2x4",
    "torch.quint4x2",
    "torch.quint8",
    "torch.serialization._get_layout",
    "torch.sparse.BFloat16Tensor",
    "torch.sparse.ByteTensor",
    "torch.sparse.CharTensor",
    "torch.sparse.DoubleTensor",
    "torch.sparse.FloatTensor",
    "torch.sparse.HalfTensor",
    "torch.sparse.IntTensor",
    "torch.sparse.LongTensor",
    "torch.sparse.ShortTensor",
    "torch.storage.TypedStorage",
    "torch.storage.UntypedStorage",
    "torch.uint1",
    "torch.uint16",
    "torch.uint2",
    "torch.uint3",
    "torch.uint32",
    "torch.uint4",
    "torch.uint5",
    "torch.uint6",
    "torch.uint64",
    "torch.uint7",
    "torch.uint8",
];

/// Modules torch never resolves a GLOBAL from, even when the user allows it.
pub const BLOCKED_MODULES: &[&str] = &["sys", "os", "posix", "nt"];

/// Names torch answers with "``torch.distributed.tensor`` must be imported to load
/// DTensors" (importing it allows them).
pub const DTENSOR_GLOBALS: &[&str] = &[
    "torch.distributed.device_mesh.DeviceMesh",
    "torch.distributed.tensor._dtensor_spec.DTensorSpec",
    "torch.distributed.tensor._dtensor_spec.TensorMeta",
    "torch.distributed.tensor.DTensor",
    "torch.distributed.tensor.placement_types.Partial",
    "torch.distributed.tensor.placement_types.Replicate",
    "torch.distributed.tensor.placement_types.Shard",
];

/// Types BUILD may give state to without an allowlist entry: `Tensor`, `Parameter`,
/// `OrderedDict` (by name), and the default allowlist's own classes.
pub const BUILD_TYPES: &[&str] = &[
    "torch.Tensor",
    "torch.nn.parameter.Parameter",
    "collections.OrderedDict",
];

/// Allowlisted types whose instances have neither `__setstate__` nor `__dict__`: BUILD
/// (`inst.__dict__.update(state)` when the state is truthy) fails on them unless the state
/// is empty (checked with torch 2.15.0 and CPython 3.11).
pub const NO_DICT_TYPES: &[&str] = &[
    "builtins.bytearray",
    "builtins.complex",
    "builtins.set",
    "torch.Size",
    "torch.device",
];

/// Types SETITEM/SETITEMS accept as their target (`_check_set_item_target`).
pub const SETITEM_TYPES: &[&str] = &[
    "builtins.dict",
    "collections.OrderedDict",
    "collections.Counter",
];

/// Python 2 module names torch maps to Python 3 ones before the lookup
/// (`torch._utils.IMPORT_MAPPING`).
pub const IMPORT_MAPPING: &[(&str, &str)] = &[
    ("__builtin__", "builtins"),
    ("copy_reg", "copyreg"),
    ("Queue", "queue"),
    ("repr", "reprlib"),
    ("_abcoll", "collections.abc"),
    ("UserDict", "collections"),
    ("UserList", "collections"),
    ("UserString", "collections"),
    ("whichdb", "dbm"),
    ("StringIO", "io"),
    ("cStringIO", "io"),
];

/// A `(module, name)` pair.
pub type Global = (&'static str, &'static str);

/// Python 2 `(module, name)` pairs torch maps first (`torch._utils.NAME_MAPPING`).
pub const NAME_MAPPING: &[(Global, Global)] = &[
    (("__builtin__", "xrange"), ("builtins", "range")),
    (("__builtin__", "reduce"), ("functools", "reduce")),
    (("__builtin__", "intern"), ("sys", "intern")),
    (("__builtin__", "unichr"), ("builtins", "chr")),
    (("__builtin__", "unicode"), ("builtins", "str")),
    (("__builtin__", "long"), ("builtins", "int")),
    (("itertools", "izip"), ("builtins", "zip")),
    (("itertools", "imap"), ("builtins", "map")),
    (("itertools", "ifilter"), ("builtins", "filter")),
    (("itertools", "ifilterfalse"), ("itertools", "filterfalse")),
    (("itertools", "izip_longest"), ("itertools", "zip_longest")),
    (
        ("UserDict", "IterableUserDict"),
        ("collections", "UserDict"),
    ),
    (("UserList", "UserList"), ("collections", "UserList")),
    (("UserString", "UserString"), ("collections", "UserString")),
    (("__builtin__", "basestring"), ("builtins", "str")),
    (("exceptions", "StandardError"), ("builtins", "Exception")),
    (("UserDict", "UserDict"), ("collections", "UserDict")),
];

/// What a call of an allowed (or allowlisted) global returns, as far as later opcodes care
/// (BUILD checks `type(inst)`; APPEND and SETITEM check the target's type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returns {
    /// An instance of this class (`module.name`).
    Type(&'static str),
    /// An instance of the class given as positional argument `i`.
    ArgClass(usize),
    /// A numpy dtype: its class is `numpy.dtypes.<Kind>DType`, from the dtype string given
    /// as the first argument.
    NumpyDType,
}

/// Result types of calls the unpickler makes, by the callable's `module.name` (after the
/// mappings above). Anything not here whose name starts with an upper-case letter is taken
/// to be a class that returns its own instances; anything else returns an unknown type.
pub const RETURNS: &[(&str, Returns)] = &[
    ("_codecs.encode", Returns::Type("builtins.bytes")),
    ("builtins.bytearray", Returns::Type("builtins.bytearray")),
    ("builtins.complex", Returns::Type("builtins.complex")),
    ("builtins.set", Returns::Type("builtins.set")),
    ("collections.Counter", Returns::Type("collections.Counter")),
    (
        "collections.OrderedDict",
        Returns::Type("collections.OrderedDict"),
    ),
    (
        "collections.defaultdict",
        Returns::Type("collections.defaultdict"),
    ),
    ("collections.deque", Returns::Type("collections.deque")),
    ("copyreg.__newobj__", Returns::ArgClass(0)),
    ("copyreg._reconstructor", Returns::ArgClass(0)),
    ("numpy._core.multiarray._reconstruct", Returns::ArgClass(0)),
    ("numpy.core.multiarray._reconstruct", Returns::ArgClass(0)),
    ("numpy.dtype", Returns::NumpyDType),
    ("torch.Size", Returns::Type("torch.Size")),
    ("torch._tensor._rebuild_from_type_v2", Returns::ArgClass(1)),
    (
        "torch._utils._rebuild_device_tensor_from_cpu_tensor",
        Returns::Type("torch.Tensor"),
    ),
    (
        "torch._utils._rebuild_device_tensor_from_numpy",
        Returns::Type("torch.Tensor"),
    ),
    (
        "torch._utils._rebuild_meta_tensor_no_storage",
        Returns::Type("torch.Tensor"),
    ),
    (
        "torch._utils._rebuild_parameter",
        Returns::Type("torch.nn.parameter.Parameter"),
    ),
    (
        "torch._utils._rebuild_parameter_with_state",
        Returns::Type("torch.nn.parameter.Parameter"),
    ),
    (
        "torch._utils._rebuild_qtensor",
        Returns::Type("torch.Tensor"),
    ),
    (
        "torch._utils._rebuild_sparse_tensor",
        Returns::Type("torch.Tensor"),
    ),
    (
        "torch._utils._rebuild_tensor",
        Returns::Type("torch.Tensor"),
    ),
    (
        "torch._utils._rebuild_tensor_v2",
        Returns::Type("torch.Tensor"),
    ),
    (
        "torch._utils._rebuild_tensor_v3",
        Returns::Type("torch.Tensor"),
    ),
    (
        "torch._utils._rebuild_wrapper_subclass",
        Returns::ArgClass(0),
    ),
    ("torch.device", Returns::Type("torch.device")),
    (
        "torch.serialization._get_layout",
        Returns::Type("torch.layout"),
    ),
];

/// What a call of an allowed global needs of its first argument before it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstArg {
    /// Anything (or nothing the model can check).
    Any,
    /// A storage from a persistent id (`storage.dtype` is read).
    Storage,
    /// A tensor (`data.detach()`, `data.to(...)`).
    Tensor,
    /// A layout's name, one of [`LAYOUTS`] (`_get_layout`'s cache lookup).
    Layout,
    /// A mapping or an iterable of pairs: not a string or a number
    /// (`collections.OrderedDict('ab')` raises ValueError).
    Pairs,
}

/// The positional arguments allowed calls take, `(name, min, max, first)`, sorted by name.
/// torch calls them with the pickled tuple (`func(*args)`), so any other count raises
/// TypeError and the load fails. Source: the signatures in torch 2.15.0's
/// `torch/_utils.py` (`_rebuild_*`), `torch/_tensor.py` (`_rebuild_from_type_v2`) and
/// `torch/serialization.py` (`_get_layout`).
pub const ARGS: &[(&str, usize, usize, FirstArg)] = &[
    ("collections.OrderedDict", 0, 1, FirstArg::Pairs),
    ("torch._tensor._rebuild_from_type_v2", 4, 4, FirstArg::Any),
    (
        "torch._utils._rebuild_device_tensor_from_cpu_tensor",
        4,
        4,
        FirstArg::Tensor,
    ),
    (
        "torch._utils._rebuild_device_tensor_from_numpy",
        4,
        4,
        FirstArg::Any,
    ),
    (
        "torch._utils._rebuild_meta_tensor_no_storage",
        4,
        4,
        FirstArg::Any,
    ),
    ("torch._utils._rebuild_parameter", 3, 3, FirstArg::Tensor),
    (
        "torch._utils._rebuild_parameter_with_state",
        4,
        4,
        FirstArg::Tensor,
    ),
    ("torch._utils._rebuild_qtensor", 7, 7, FirstArg::Storage),
    ("torch._utils._rebuild_sparse_tensor", 2, 2, FirstArg::Any),
    ("torch._utils._rebuild_tensor", 4, 4, FirstArg::Storage),
    ("torch._utils._rebuild_tensor_v2", 6, 7, FirstArg::Storage),
    ("torch._utils._rebuild_tensor_v3", 7, 8, FirstArg::Storage),
    (
        "torch._utils._rebuild_wrapper_subclass",
        8,
        8,
        FirstArg::Any,
    ),
    ("torch.serialization._get_layout", 1, 1, FirstArg::Layout),
];

/// The layouts `torch.serialization._get_layout` knows (`str()` of each `torch.layout` in
/// the `torch` namespace, torch 2.15.0).
pub const LAYOUTS: &[&str] = &[
    "torch._mkldnn",
    "torch.jagged",
    "torch.sparse_bsc",
    "torch.sparse_bsr",
    "torch.sparse_coo",
    "torch.sparse_csc",
    "torch.sparse_csr",
    "torch.strided",
];

/// Device backends whose storages `torch.serialization` restores, by the location tag a
/// persistent id gives: the backend's name alone or followed by `:` or a digit
/// (`_deserialize`, registered for these in torch 2.15.0). `cpu` and `meta` must match
/// whole, `mps` as a prefix. Whether the device exists where the file is loaded is not
/// the file's business (`cuda:0` fails on a machine without CUDA unless `map_location`).
pub const LOCATION_BACKENDS: &[&str] = &["cuda", "hpu", "mtia", "privateuseone", "xpu"];

/// Whether torch restores a storage tagged with `location` (see [`LOCATION_BACKENDS`]).
pub fn known_location(location: &str) -> bool {
    if matches!(location, "cpu" | "meta") || location.starts_with("mps") {
        return true;
    }
    LOCATION_BACKENDS.iter().any(|b| {
        location.strip_prefix(b).is_some_and(|rest| {
            rest.is_empty()
                || rest.starts_with(':')
                || rest.starts_with(|c: char| c.is_ascii_digit())
        })
    })
}

/// Globals never to suggest allowing whatever the classification says, and why.
pub const NEVER_ALLOW: &[(&str, &str)] = &[(
    "torch.storage._load_from_bytes",
    "it calls torch.load(weights_only=False) on the bytes it is given, running any code in them",
)];

/// The numpy dtype class (`numpy.dtypes.<Name>`) of a dtype string as `numpy.dtype(...)`
/// receives it in a pickle (`'f8'`, `'<i4'`, `'U5'`, `'O8'`), or `None` when it is not one
/// of numpy's fixed kinds.
pub fn numpy_dtype_class(spec: &str) -> Option<&'static str> {
    let body = spec.trim_start_matches(['<', '>', '=', '|']);
    let (kind, size) = body.split_at(body.len().min(1));
    let class = match (kind, size) {
        ("b", "1") => "BoolDType",
        ("i", "1") => "Int8DType",
        ("i", "2") => "Int16DType",
        ("i", "4") => "Int32DType",
        ("i", "8") => "Int64DType",
        ("u", "1") => "UInt8DType",
        ("u", "2") => "UInt16DType",
        ("u", "4") => "UInt32DType",
        ("u", "8") => "UInt64DType",
        ("f", "2") => "Float16DType",
        ("f", "4") => "Float32DType",
        ("f", "8") => "Float64DType",
        ("f", "16") => "LongDoubleDType",
        ("c", "8") => "Complex64DType",
        ("c", "16") => "Complex128DType",
        ("c", "32") => "CLongDoubleDType",
        ("O", _) => "ObjectDType",
        ("U", _) => "StrDType",
        ("S", _) => "BytesDType",
        ("V", _) => "VoidDType",
        ("M", _) => "DateTime64DType",
        ("m", _) => "TimeDelta64DType",
        _ => return None,
    };
    Some(class)
}

/// Top-level modules whose PyPI name differs from the module's (sorted by module).
pub const PIP_NAMES: &[(&str, &str)] = &[
    ("PIL", "Pillow"),
    ("Crypto", "pycryptodome"),
    ("attr", "attrs"),
    ("bs4", "beautifulsoup4"),
    ("cv2", "opencv-python"),
    ("dateutil", "python-dateutil"),
    ("google", "protobuf"),
    ("keras_preprocessing", "keras-preprocessing"),
    ("lightgbm", "lightgbm"),
    ("skimage", "scikit-image"),
    ("sklearn", "scikit-learn"),
    ("tensorflow_hub", "tensorflow-hub"),
    ("yaml", "PyYAML"),
];

/// The pip name of a top-level module: [`PIP_NAMES`], else the module with `_` as `-`.
pub fn pip_name(top: &str) -> String {
    match PIP_NAMES.iter().find(|(m, _)| *m == top) {
        Some((_, pip)) => (*pip).to_string(),
        None => top.replace('_', "-"),
    }
}

/// Whether `module.name` is in [`ALLOWED_GLOBALS`].
pub fn is_allowed(full: &str) -> bool {
    ALLOWED_GLOBALS.binary_search(&full).is_ok()
}

/// `(module, name)` after torch's Python 2 mappings.
pub fn mapped<'a>(module: &'a str, name: &'a str) -> (&'a str, &'a str) {
    if let Some((_, to)) = NAME_MAPPING
        .iter()
        .find(|(from, _)| *from == (module, name))
    {
        return *to;
    }
    match IMPORT_MAPPING.iter().find(|(from, _)| *from == module) {
        Some((_, to)) => (to, name),
        None => (module, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_globals_are_sorted_and_unique() {
        assert!(ALLOWED_GLOBALS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_allowed("torch._utils._rebuild_tensor_v2"));
        assert!(!is_allowed("argparse.Namespace"));
    }

    #[test]
    fn returns_table_is_sorted() {
        assert!(RETURNS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn args_table_is_sorted_and_names_allowed_globals() {
        assert!(ARGS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ARGS
            .iter()
            .all(|(n, min, max, _)| is_allowed(n) && min <= max));
    }

    #[test]
    fn storage_locations_torch_restores() {
        for ok in ["cpu", "meta", "mps", "cuda", "cuda:1", "cuda0", "xpu:0"] {
            assert!(known_location(ok), "{ok}");
        }
        for bad in ["bogus", "cpu:0", "cudax", "", "metal"] {
            assert!(!known_location(bad), "{bad}");
        }
    }

    #[test]
    fn dtype_classes_of_pickled_dtype_strings() {
        assert_eq!(numpy_dtype_class("f8"), Some("Float64DType"));
        assert_eq!(numpy_dtype_class("<i4"), Some("Int32DType"));
        assert_eq!(numpy_dtype_class("U5"), Some("StrDType"));
        assert_eq!(numpy_dtype_class("x"), None);
    }
}
