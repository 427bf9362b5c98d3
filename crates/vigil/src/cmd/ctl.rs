//! `vigil ctl`: auditctl's command line, sent to a running `vigil daemon` (docs/ctl.md).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use vigil::ctl::client::{call, request_for};
use vigil::ctl::proto::Op;

#[derive(Debug, Args)]
#[command(
    after_help = "Options after the socket are auditctl's: -s, -l [-k KEY], -a/-A/-d LIST,ACTION \
                  ..., -w/-W PATH ..., -D [-k KEY], -R FILE, -e 0|1|2, -b N, -f 0|1|2, -r N, \
                  --backlog_wait_time N, -m TEXT."
)]
pub struct CtlArgs {
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = "/run/vigil/control.sock")]
    pub socket: PathBuf,
    /// Rotate the daemon's log now (as SIGUSR1 does).
    #[arg(long)]
    pub rotate: bool,
    /// auditctl options.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "AUDITCTL-ARGS"
    )]
    pub args: Vec<String>,
}

pub fn run_ctl(a: &CtlArgs) -> anyhow::Result<ExitCode> {
    let op = if a.rotate {
        if !a.args.is_empty() {
            anyhow::bail!("--rotate takes no auditctl options");
        }
        Op::Rotate {}
    } else {
        request_for(&a.args).map_err(anyhow::Error::msg)?
    };
    let resp = call(&a.socket, op).map_err(anyhow::Error::msg)?;
    if let Some(st) = &resp.status {
        print!("{}", st.render());
    }
    print!("{}", resp.output);
    for m in &resp.messages {
        eprintln!("{m}");
    }
    Ok(if resp.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
