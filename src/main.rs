//! The `zkb` binary: parses the command line, reads the config files, runs the command.

use clap::{CommandFactory, FromArgMatches};

fn main() {
    let mut command = zkb::cli::Cli::command();
    if std::env::args_os().any(|a| a == "--version" || a == "-V") {
        let text: &'static str = Box::leak(zkb::cli::version_text().into_boxed_str());
        command = command.version(text).long_version(text);
    }
    let matches = command.get_matches();
    let mut cli = match zkb::cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Err(e) = zkb::cli::apply_config(&mut cli) {
        eprintln!("zkb: error: {e:#}");
        std::process::exit(2);
    }
    match zkb::cli::run(cli) {
        Ok(outcome) => std::process::exit(outcome.code),
        Err(e) => {
            eprintln!("zkb: error: {e:#}");
            std::process::exit(2);
        }
    }
}
