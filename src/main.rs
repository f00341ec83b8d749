//! The `pklinspect` binary: argument parsing, output and exit codes live in `cli`;
//! all the work is in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
