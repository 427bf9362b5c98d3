//! `vigil search`: the options are ausearch's (`-if`, `-k`, `-ui`, `-sc`, `-ts`, ...), parsed
//! by `vigil::search::args` since clap does not do single-dash long options.

use std::ffi::OsString;
use std::process::ExitCode;

/// Search audit logs with ausearch's options (`vigil search -h` lists them).
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct SearchArgs {
    /// ausearch options: -if FILE|DIR, -k KEY, -p PID, -pp PPID, -ui UID, -ua UID, -sc SYSCALL,
    /// -m TYPE, -sv yes|no, -ts/-te [DATE] [TIME], -a SERIAL, -i, --raw, --contid ID, --json.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

pub fn run(a: &SearchArgs) -> anyhow::Result<ExitCode> {
    vigil::search::run(&a.args)
}
