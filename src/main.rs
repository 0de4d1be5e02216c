//! The `keel` command line. Parsing only: every subcommand calls into the library.
//!
//! Exit status: 0 success; 1 other failures; 2 bad usage or configuration (nothing touched on
//! disk); 3 data directory (not formatted, wrong node or cluster id, locked); 4 network (an
//! address that does not resolve, a port that cannot be bound); 5 fatal error (storage, or a
//! committed record or snapshot that cannot be applied).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keel::config::{Config, parse_initial_controllers};
use keel::node::datadir;
use keel::protocol::Uuid;
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
    /// node id and a directory id. Refuses a directory that is already formatted.
    ///
    /// Format every controller of a new cluster with --initial-controllers (the same list on
    /// each), and a replaced disk with --no-initial-controllers. Without either, a controller is
    /// formatted as with --no-initial-controllers, with a warning.
    Format {
        /// The node's server.properties.
        #[arg(long)]
        config: PathBuf,
        /// The cluster id, the same on every node (make one with `keel random-uuid`).
        #[arg(long)]
        cluster_id: String,
        /// For a new cluster only: every voter as id@host:port:directory-id (the voters of
        /// controller.quorum.voters, each with a directory id made with `keel random-uuid`).
        /// This node takes its own directory id and pins the others', so no voter ever counts
        /// the vote of a disk that replaced one of them. Never use it for a replaced disk: it
        /// would give the empty disk its predecessor's identity.
        #[arg(long, value_name = "ID@HOST:PORT:DIRECTORY-ID,...")]
        initial_controllers: Option<String>,
        /// Format with a fresh directory id and nothing pinned, without a warning: for a
        /// replaced disk (which the other voters treat as a non-voter until re-admitted, see
        /// `keel pin-directory`), or a node of a cluster formatted without
        /// --initial-controllers.
        #[arg(long, conflicts_with = "initial_controllers")]
        no_initial_controllers: bool,
        /// Leave an already formatted directory as it is and succeed.
        #[arg(long)]
        ignore_formatted: bool,
    },
    /// Pin the directory id of another voter in this node's data directory (the node must be
    /// stopped). Re-admits a replaced disk once it has caught up: run it on each other voter in
    /// turn, stopping and starting one at a time.
    PinDirectory {
        /// This node's server.properties.
        #[arg(long)]
        config: PathBuf,
        /// The voter whose directory id is pinned.
        #[arg(long)]
        node_id: u32,
        /// Its new directory id (`directory.id` in its meta.properties, or the Observer row of
        /// `keel quorum describe --replication`).
        #[arg(long)]
        directory_id: String,
    },
    /// Run a local cluster for trying keel: formats (first time only) and starts the
    /// controllers and brokers as child processes on 127.0.0.1, waits for a leader, prints the
    /// endpoints and client examples, streams their logs, and stops them all on Ctrl-C.
    /// Running it again reuses the data.
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
        /// Number of brokers (Raft observers that serve Kafka clients).
        #[arg(long, default_value_t = 1)]
        brokers: u32,
        /// Port of broker 1, the bootstrap server for clients; further brokers take the ports
        /// after the last controller's.
        #[arg(long, default_value_t = 9092)]
        broker_port: u16,
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
            initial_controllers,
            no_initial_controllers,
            ignore_formatted,
        } => {
            let config = match load_config(&config) {
                Ok(config) => config,
                Err(code) => return code,
            };
            let initial = match initial_controllers {
                Some(text) => match parse_initial_controllers(&text, &config.voters) {
                    Ok(initial) => initial,
                    Err(e) => {
                        eprintln!("keel: {e}");
                        return ExitCode::from(EXIT_CONFIG);
                    }
                },
                None => {
                    if config.roles.controller && !no_initial_controllers {
                        eprintln!(
                            "keel: warning: formatted without --initial-controllers, so this \
                             node learns the other voters' directory ids on first contact and \
                             may count the vote of a disk that replaced one it never heard \
                             from. Format every controller of a new cluster with \
                             --initial-controllers; say --no-initial-controllers for a replaced \
                             disk (docs/operations.md, \"Replacing a disk\")."
                        );
                    }
                    Vec::new()
                }
            };
            match datadir::format(
                &config.metadata_log_dir,
                &cluster_id,
                config.node_id,
                ignore_formatted,
                &initial,
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
        Command::PinDirectory {
            config,
            node_id,
            directory_id,
        } => {
            let config = match load_config(&config) {
                Ok(config) => config,
                Err(code) => return code,
            };
            let directory_id = match directory_id.parse::<Uuid>() {
                Ok(id) if id != Uuid::ZERO => id,
                _ => {
                    eprintln!(
                        "keel: {directory_id:?} is not a directory id (22 characters of URL-safe base64)"
                    );
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            if node_id == config.node_id || !config.voters.iter().any(|v| v.id == node_id) {
                eprintln!("keel: node {node_id} is not another voter of controller.quorum.voters");
                return ExitCode::from(EXIT_CONFIG);
            }
            match datadir::pin_directory(
                &config.metadata_log_dir,
                config.node_id,
                node_id,
                directory_id,
            ) {
                Ok(previous) => {
                    match previous {
                        Some(previous) => println!(
                            "node {node_id}: pinned directory {directory_id} (was {previous})"
                        ),
                        None => println!("node {node_id}: pinned directory {directory_id}"),
                    }
                    ExitCode::SUCCESS
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
            brokers,
            broker_port,
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
                brokers,
                dir,
                base_port,
                broker_port,
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
                    // Once: in the log when logging is on (it goes to stderr too), else plainly.
                    if log::log_enabled!(log::Level::Error) {
                        log::error!("{e}");
                    } else {
                        eprintln!("keel: {e}");
                    }
                    ExitCode::from(e.exit_code())
                }
            }
        }
    }
}
