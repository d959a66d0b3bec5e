//! The `reachcheck` binary: parse the command line, start logging, run the library.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = reachcheck::cli::Cli::parse();
    // The daemon tells operators what it does; one-shot commands only warn.
    let default = match cli.command {
        reachcheck::cli::Command::Serve(_) => "info",
        _ => "warn",
    };
    let filter =
        EnvFilter::try_from_env("REACHCHECK_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only on a terminal (and never with NO_COLOR): logs sent to a file or a
    // journal stay plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    if std::env::var("REACHCHECK_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    reachcheck::cli::run(cli)
}
