//! vigil's command line: wiring only; each subcommand lives in `cmd/`.

mod cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = cmd::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("vigil: {err:#}");
            std::process::ExitCode::from(1)
        }
    }
}
