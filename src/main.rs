//! The `keel` command line. Parsing only: every subcommand calls into the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keel::storage::meta_properties::random_uuid;

/// keel: a KRaft-style metadata quorum that speaks the Kafka wire protocol.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a new random id in Kafka's text form (22 characters of URL-safe base64), for
    /// example to use as a cluster id.
    RandomUuid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::RandomUuid => match random_uuid() {
            Ok(id) => {
                println!("{id}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("keel: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
