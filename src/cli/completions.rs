//! `pklinspect completions SHELL` and `pklinspect man`: generated from the clap definitions.

use std::io;

use clap::{Args, CommandFactory};

use super::{Cli, Status};

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub(crate) fn completions(args: &CompletionsArgs) -> Status {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "pklinspect", &mut io::stdout());
    Status::Success
}

pub(crate) fn man() -> Status {
    let page = clap_mangen::Man::new(Cli::command());
    match page.render(&mut io::stdout()) {
        Ok(()) => Status::Success,
        Err(e) if super::is_broken_pipe(&e) => Status::Success,
        Err(e) => {
            super::report("<stdout>", format!("cannot write output: {e}"));
            Status::Failure
        }
    }
}
