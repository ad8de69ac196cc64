//! The `zkb` binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() {
    let cli = zkb::cli::Cli::parse();
    match zkb::cli::run(cli) {
        Ok(outcome) => std::process::exit(outcome.code),
        Err(e) => {
            eprintln!("zkb: error: {e:#}");
            std::process::exit(2);
        }
    }
}
