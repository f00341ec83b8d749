//! Every top-level module name of CPython's standard library, 3.8 to 3.14, public and
//! private: the data behind default-deny (SPEC §5: a standard-library global without an
//! explicit safe row of the table is code-exec).
//!
//! Provenance: the union of `sys.stdlib_module_names` (CPython 3.11, which generates it
//! from `Python/stdlib_module_names.h`) and the lists of the `stdlib-list` package 0.12.0
//! (`stdlib_list/lists/3.8.txt` … `3.14.txt`, built from each release's documentation
//! and `sys.stdlib_module_names`), cut to the first component. `__main__` is left out (it
//! is the script that wrote the file: user-defined), and so is `lib` (a stray entry of
//! the 3.8 list, not a module). Modules that exist only on some platforms or builds
//! (`_winapi`, `_sysconfigdata_*`, `_testcapi`) are kept: a file may name them anywhere.

/// Sorted, so lookups are a binary search; a test checks the order.
pub(super) const STDLIB_MODULES: &[&str] = &[
    "__future__", "__phello__", "_abc", "_aix_support", "_android_support", "_apple_support",
    "_ast", "_ast_unparse", "_asyncio", "_bisect", "_blake2", "_bootlocale", "_bootsubprocess",
    "_bz2", "_codecs", "_codecs_cn", "_codecs_hk", "_codecs_iso2022", "_codecs_jp",
    "_codecs_kr", "_codecs_tw", "_collections", "_collections_abc", "_colorize",
    "_compat_pickle", "_compression", "_contextvars", "_crypt", "_csv", "_ctypes",
    "_ctypes_test", "_curses", "_curses_panel", "_datetime", "_dbm", "_decimal",
    "_dummy_thread", "_elementtree", "_frozen_importlib", "_frozen_importlib_external",
    "_functools", "_gdbm", "_hashlib", "_heapq", "_hmac", "_imp", "_interpchannels",
    "_interpqueues", "_interpreters", "_io", "_ios_support", "_json", "_locale", "_lsprof",
    "_lzma", "_markupbase", "_md5", "_msi", "_multibytecodec", "_multiprocessing", "_opcode",
    "_opcode_metadata", "_operator", "_osx_support", "_overlapped", "_peg_parser", "_pickle",
    "_posixshmem", "_posixsubprocess", "_py_abc", "_py_warnings", "_pydatetime", "_pydecimal",
    "_pyio", "_pylong", "_pyrepl", "_queue", "_random", "_remote_debugging", "_scproxy",
    "_sha1", "_sha2", "_sha256", "_sha3", "_sha512", "_signal", "_sitebuiltins", "_socket",
    "_sqlite3", "_sre", "_ssl", "_stat", "_statistics", "_string", "_strptime", "_struct",
    "_suggestions", "_symtable", "_sysconfig", "_sysconfigdata_x86_64_conda_cos6_linux_gnu",
    "_sysconfigdata_x86_64_conda_linux_gnu", "_testbuffer", "_testcapi", "_testimportmultiple",
    "_testinternalcapi", "_testmultiphase", "_thread", "_threading_local", "_tkinter",
    "_tokenize", "_tracemalloc", "_types", "_typing", "_uuid", "_warnings", "_weakref",
    "_weakrefset", "_winapi", "_wmi", "_xxsubinterpreters", "_xxtestfuzz", "_zoneinfo", "_zstd",
    "abc", "aifc", "annotationlib", "antigravity", "argparse", "array", "ast", "asynchat",
    "asyncio", "asyncore", "atexit", "audioop", "base64", "bdb", "binascii", "binhex", "bisect",
    "builtins", "bz2", "cProfile", "calendar", "cgi", "cgitb", "chunk", "cmath", "cmd", "code",
    "codecs", "codeop", "collections", "colorsys", "compileall", "compression", "concurrent",
    "configparser", "contextlib", "contextvars", "copy", "copyreg", "crypt", "csv", "ctypes",
    "curses", "dataclasses", "datetime", "dbm", "decimal", "difflib", "dis", "distutils",
    "doctest", "dummy_threading", "email", "encodings", "ensurepip", "enum", "errno",
    "faulthandler", "fcntl", "filecmp", "fileinput", "fnmatch", "formatter", "fractions",
    "ftplib", "functools", "gc", "genericpath", "getopt", "getpass", "gettext", "glob",
    "graphlib", "grp", "gzip", "hashlib", "heapq", "hmac", "html", "http", "idlelib", "imaplib",
    "imghdr", "imp", "importlib", "inspect", "io", "ipaddress", "itertools", "json", "keyword",
    "lib2to3", "linecache", "locale", "logging", "lzma", "mailbox", "mailcap", "marshal",
    "math", "mimetypes", "mmap", "modulefinder", "msilib", "msvcrt", "multiprocessing", "netrc",
    "nis", "nntplib", "nt", "ntpath", "nturl2path", "numbers", "opcode", "operator", "optparse",
    "os", "ossaudiodev", "parser", "pathlib", "pdb", "pickle", "pickletools", "pipes",
    "pkgutil", "platform", "plistlib", "poplib", "posix", "posixpath", "pprint", "profile",
    "pstats", "pty", "pwd", "py_compile", "pyclbr", "pydoc", "pydoc_data", "pyexpat", "queue",
    "quopri", "random", "re", "readline", "reprlib", "resource", "rlcompleter", "runpy",
    "sched", "secrets", "select", "selectors", "shelve", "shlex", "shutil", "signal", "site",
    "smtpd", "smtplib", "sndhdr", "socket", "socketserver", "spwd", "sqlite3", "sre_compile",
    "sre_constants", "sre_parse", "ssl", "stat", "statistics", "string", "stringprep", "struct",
    "subprocess", "sunau", "symbol", "symtable", "sys", "sysconfig", "syslog", "tabnanny",
    "tarfile", "telnetlib", "tempfile", "termios", "test", "textwrap", "this", "threading",
    "time", "timeit", "tkinter", "token", "tokenize", "tomllib", "trace", "traceback",
    "tracemalloc", "tty", "turtle", "turtledemo", "types", "typing", "unicodedata", "unittest",
    "urllib", "uu", "uuid", "venv", "warnings", "wave", "weakref", "webbrowser", "winreg",
    "winsound", "wsgiref", "xdrlib", "xml", "xmlrpc", "xxlimited", "xxsubtype", "zipapp",
    "zipfile", "zipimport", "zlib", "zoneinfo",
];

/// Whether `module` (a dotted path) belongs to the standard library: its first component
/// is one of [`STDLIB_MODULES`].
pub(super) fn is_stdlib(module: &str) -> bool {
    let top = module.split('.').next().unwrap_or(module);
    STDLIB_MODULES.binary_search(&top).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_unique() {
        assert!(STDLIB_MODULES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn names_modules_of_every_version() {
        // 3.8 only (binhex, parser, symbol), 3.11 (tomllib), 3.13 (_pyrepl), 3.14
        // (annotationlib, compression), and private ones.
        for m in [
            "binhex", "parser", "symbol", "tomllib", "_pyrepl", "annotationlib", "compression",
            "_bootsubprocess", "_sitebuiltins", "warnings", "cgitb", "wave", "tokenize",
            "pstats", "mimetypes", "mailbox", "os.path", "xml.dom.minidom",
        ] {
            assert!(is_stdlib(m), "{m}");
        }
        for m in ["numpy", "__main__", "lib", "sklearn.tree", "osx"] {
            assert!(!is_stdlib(m), "{m}");
        }
    }
}
