//! The `pklinspect` binary: argument parsing, output and exit codes live in `cli`;
//! all the work is in the library.

mod cli;

/// mimalloc: many small, short-lived allocations per file (lint checks thousands).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
