//! The `keel` command line. Parsing only: every subcommand calls into the library.
//!
//! Exit status: 0 success; 1 other failures; 2 bad usage or configuration (nothing touched on
//! disk); 3 data directory (not formatted, wrong node or cluster id, locked); 4 network (an
//! address that does not resolve, a port that cannot be bound); 5 fatal storage error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keel::config::Config;
use keel::node::datadir;
use keel::server;
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
    /// Prepare a node's metadata.log.dir: write meta.properties with the cluster id, the
    /// node id and a new directory id. Refuses a directory that is already formatted.
    Format {
        /// The node's server.properties.
        #[arg(long)]
        config: PathBuf,
        /// The cluster id, the same on every node (make one with `keel random-uuid`).
        #[arg(long)]
        cluster_id: String,
        /// Leave an already formatted directory as it is and succeed.
        #[arg(long)]
        ignore_formatted: bool,
    },
    /// Run a local quorum for trying keel: formats (first time only) and starts the
    /// controllers as child processes on 127.0.0.1, waits for a leader, prints the endpoints,
    /// streams their logs, and stops them all on Ctrl-C. Running it again reuses the data.
    Dev {
        /// Number of controllers.
        #[arg(long, default_value_t = 3)]
        controllers: u32,
        /// Directory for the configuration and data of every node.
        #[arg(long, default_value = "./keel-dev")]
        dir: PathBuf,
        /// Port of controller 1; controller N listens on base-port + N - 1.
        #[arg(long, default_value_t = 9093)]
        base_port: u16,
    },
    /// Show the state of the metadata quorum (Kafka's kafka-metadata-quorum.sh describe).
    Quorum {
        #[command(subcommand)]
        command: QuorumCommand,
    },
    /// Run a node until SIGTERM or SIGINT. Never formats: the directory must have been
    /// formatted for this node. On SIGTERM a leader hands over leadership, the log is flushed
    /// and the process exits 0.
    Start {
        /// The node's server.properties.
        #[arg(long)]
        config: PathBuf,
        /// Refuse to start unless the directory belongs to this cluster.
        #[arg(long)]
        cluster_id: Option<String>,
    },
}

#[derive(Subcommand)]
enum QuorumCommand {
    /// Leader, epoch, high watermark and voters of the quorum; with --replication one row per
    /// voter and observer with its log end offset, lag, last fetch and last caught-up time.
    Describe {
        /// Any controller, as host:port; the question is forwarded to the leader.
        #[arg(long, value_name = "HOST:PORT")]
        bootstrap_controller: String,
        /// One row per replica instead of the summary.
        #[arg(long)]
        replication: bool,
    },
}

const EXIT_CONFIG: u8 = 2;

fn load_config(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("keel: bad configuration {}: {e}", path.display());
        ExitCode::from(EXIT_CONFIG)
    })
}

fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
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
        Command::Format {
            config,
            cluster_id,
            ignore_formatted,
        } => {
            let config = match load_config(&config) {
                Ok(config) => config,
                Err(code) => return code,
            };
            match datadir::format(
                &config.metadata_log_dir,
                &cluster_id,
                config.node_id,
                ignore_formatted,
            ) {
                Ok(meta) => {
                    println!(
                        "formatted {} for node {} of cluster {} (directory id {})",
                        config.metadata_log_dir.display(),
                        meta.node_id,
                        meta.cluster_id,
                        meta.directory_id
                    );
                    ExitCode::SUCCESS
                }
                Err(e @ datadir::DataDirError::BadClusterId { .. }) => {
                    eprintln!("keel: {e}");
                    ExitCode::from(EXIT_CONFIG)
                }
                Err(e) => {
                    eprintln!("keel: {e}");
                    ExitCode::from(3)
                }
            }
        }
        Command::Dev {
            controllers,
            dir,
            base_port,
        } => {
            let keel = match std::env::current_exe() {
                Ok(path) => path,
                Err(e) => {
                    eprintln!("keel: cannot find the keel executable: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let options = keel::dev::DevOptions {
                controllers,
                dir,
                base_port,
            };
            match keel::dev::run(&options, &keel) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("keel dev: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Quorum {
            command:
                QuorumCommand::Describe {
                    bootstrap_controller,
                    replication,
                },
        } => match keel::admin::quorum::describe(&bootstrap_controller) {
            Ok(description) => {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                if replication {
                    print!("{}", description.replication_text());
                } else {
                    print!("{}", description.status_text(now_ms));
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("keel: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Start { config, cluster_id } => {
            let config = match load_config(&config) {
                Ok(config) => config,
                Err(code) => return code,
            };
            init_logging();
            match server::run_node(&config, cluster_id.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error!("{e}");
                    eprintln!("keel: {e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
    }
}
