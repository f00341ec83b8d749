//! The flags that raise (or lower) the resource limits, built from the library's limits
//! table (`pklinspect::limits::LIMITS`), and the hint that names the flag when a limit is hit.

use clap::{value_parser, Arg, ArgMatches, Args, Command, FromArgMatches};
use pklinspect::limits::{Limit, Limits};
use pklinspect::{Error, ErrorKind};

/// Limit flags shared by the commands that read pickles: one `--max-…` per field of
/// [`Limits`], as the table declares it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LimitArgs {
    given: Vec<(Limit, u64)>,
}

impl LimitArgs {
    /// The defaults with these flags applied.
    pub fn limits(&self) -> Limits {
        let mut limits = Limits::default();
        self.apply(&mut limits);
        limits
    }

    /// Sets the limits these flags give in `limits` (lint's, from its policy).
    pub fn apply(&self, limits: &mut Limits) {
        for &(limit, value) in &self.given {
            limits.set(limit, value);
        }
    }
}

impl FromArgMatches for LimitArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = LimitArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for &limit in Limits::READ {
            let info = limit.info();
            if let Ok(Some(&value)) = matches.try_get_one::<u64>(info.name) {
                self.given.retain(|(l, _)| *l != limit);
                self.given.push((limit, value));
            }
        }
        Ok(())
    }
}

impl Args for LimitArgs {
    fn augment_args(cmd: Command) -> Command {
        let defaults = Limits::default();
        Limits::READ.iter().fold(cmd, |cmd, &limit| {
            let info = limit.info();
            let Some(flag) = info.flag else { return cmd };
            // The default is shown in the help but not given to clap: a flag that is not
            // given must leave the policy's value in place (lint's `[limits]`).
            let help = info.help.strip_suffix('.').unwrap_or(info.help);
            let help = match defaults.get(limit) {
                Some(value) => format!("{help} [default: {value}]"),
                None => help.to_string(),
            };
            cmd.arg(
                Arg::new(info.name)
                    .long(flag.trim_start_matches("--"))
                    .value_name(info.value_name)
                    .help(help)
                    .help_heading("Limits")
                    .value_parser(value_parser!(u64)),
            )
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// The error as the CLI shows it: a limit's `(limit max_nodes)` note gains the flag that
/// raises it, `(limit max_nodes; raise it with --max-nodes)`. The library's messages name
/// limits, never flags: a library user sets [`Limits`], not flags.
pub(crate) fn with_hint(e: &Error) -> Error {
    let ErrorKind::LimitExceeded(limit) = e.kind() else {
        return e.clone();
    };
    let Some(flag) = limit.info().flag else {
        return e.clone();
    };
    let message = e.message();
    if message.contains(flag) {
        return e.clone();
    }
    let note = limit.note();
    let hinted = if message.contains(&note) {
        let with_flag = format!("(limit {limit}; raise it with {flag})");
        message.replacen(&note, &with_flag, 1)
    } else {
        format!("{message} (raise it with {flag})")
    };
    Error::new(e.kind(), e.offset(), hinted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_names_the_flag_inside_the_note() {
        let e = Limit::Depth.exceeded(1002, "MARKs nested more than 1000 deep");
        assert_eq!(
            with_hint(&e).to_string(),
            "MARKs nested more than 1000 deep (limit max_depth; raise it with --max-depth) (at offset 1002 = 0x3ea)"
        );
    }

    #[test]
    fn every_limit_of_limits_has_a_flag() {
        let cmd = LimitArgs::augment_args(Command::new("t"));
        let m = cmd
            .try_get_matches_from(["t", "--max-nodes", "5", "--max-decompressed", "7"])
            .unwrap();
        let limits = LimitArgs::from_arg_matches(&m).unwrap().limits();
        assert_eq!(limits.max_nodes, 5);
        assert_eq!(limits.max_decompressed, 7);
        assert_eq!(limits.max_depth, Limits::default().max_depth);
        for &limit in Limits::READ {
            assert!(limit.info().flag.is_some(), "{limit}");
        }
    }

    #[test]
    fn flags_win_over_limits_already_set() {
        let cmd = LimitArgs::augment_args(Command::new("t"));
        let m = cmd
            .try_get_matches_from(["t", "--max-memory", "1000"])
            .unwrap();
        let mut from_policy = Limits {
            max_memory: 5,
            max_nodes: 9,
            ..Limits::default()
        };
        LimitArgs::from_arg_matches(&m)
            .unwrap()
            .apply(&mut from_policy);
        assert_eq!(from_policy.max_memory, 1000);
        assert_eq!(from_policy.max_nodes, 9);
    }
}
