//! The `keel` command line. Parsing only: every subcommand calls into the library.

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keel::protocol::Uuid;

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

fn random_uuid() -> std::io::Result<Uuid> {
    let mut urandom = std::fs::File::open("/dev/urandom")?;
    loop {
        let mut bytes = [0u8; 16];
        urandom.read_exact(&mut bytes)?;
        if let Some(id) = Uuid::from_random_bytes(bytes) {
            return Ok(id);
        }
    }
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
                eprintln!("keel: cannot read /dev/urandom: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
