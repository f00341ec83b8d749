//! The `pklinspect` binary: argument parsing, output and exit codes live in `cli`;
//! all the work is in the library.

mod alloc;
mod cli;

/// mimalloc for the many small, short-lived allocations per file (lint checks thousands);
/// large blocks mapped from the kernel (see `alloc`).
#[global_allocator]
static GLOBAL: alloc::Allocator = alloc::Allocator;

fn main() -> std::process::ExitCode {
    cli::run()
}
