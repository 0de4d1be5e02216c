//! The `keel` command line. Parsing only: every subcommand calls into the library, and each
//! handler returns the command's [`ExitStatus`] (`keel::exit`, where every status's meaning is
//! written once).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use keel::admin::configs::EntityType;
use keel::admin::error::AdminError;
use keel::admin::output::{Output, emit};
use keel::admin::session::ConnectOptions;
use keel::admin::{cluster, configs, quorum, topics};
use keel::config::keys::CONTROLLER_QUORUM_VOTERS;
use keel::config::{Config, parse_initial_controllers};
use keel::constants::{ADMIN_TIMEOUT_MS_DEFAULT, ADMIN_TIMEOUT_MS_MAX, HELP_WIDTH_COLUMNS};
use keel::exit::ExitStatus;
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
    /// Create, delete, list, describe and grow topics (Kafka's kafka-topics.sh). Talks to a
    /// broker; `keel dev --brokers N` starts some.
    #[command(after_help = admin_after_help())]
    Topics {
        #[command(subcommand)]
        command: TopicsCommand,
    },
    /// Show and change the dynamic configs of topics and brokers (Kafka's kafka-configs.sh).
    /// Talks to a broker.
    #[command(after_help = admin_after_help())]
    Configs {
        #[command(subcommand)]
        command: ConfigsCommand,
    },
    /// Show the cluster id, the controller and the brokers (Kafka's kafka-cluster.sh).
    /// Talks to a broker.
    #[command(after_help = admin_after_help())]
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Run a node (controller, broker, or both, as process.roles says) until SIGTERM or SIGINT.
    /// Never formats: the directory must have been formatted for this node. On SIGTERM a
    /// leader hands over leadership, a broker asks for a controlled shutdown (its leaderships
    /// move first), the log is flushed and the process exits 0.
    Start {
        /// The node's server.properties.
        #[arg(long)]
        config: PathBuf,
        /// Refuse to start unless the directory belongs to this cluster.
        #[arg(long)]
        cluster_id: Option<String>,
    },
}

/// What the admin commands print, and their exit statuses, shown after their help.
fn admin_after_help() -> String {
    format!(
        "Every command prints text, or with --json one JSON document (shapes in README.md, \"Admin CLI\").\n{}",
        ExitStatus::help_text(&ExitStatus::ADMIN, HELP_WIDTH_COLUMNS)
    )
}

#[derive(Subcommand)]
enum QuorumCommand {
    /// Leader, epoch, high watermark and voters of the quorum; with --replication one row per
    /// voter and observer with its log end offset, lag, last fetch and last caught-up time.
    ///
    /// Ask a controller (--bootstrap-controller; followed to the leader) or a broker
    /// (--bootstrap-server; the broker forwards DescribeQuorum to the active controller, as
    /// Kafka's brokers do).
    #[command(
        group(ArgGroup::new("bootstrap").required(true).args(["bootstrap_controller", "bootstrap_server"])),
        after_help = "Examples:\n  keel quorum describe --bootstrap-controller 127.0.0.1:9093\n  \
                      keel quorum describe --bootstrap-server 127.0.0.1:9092 --replication\n\n\
                      --json prints {\"cluster_id\", \"leader_id\", \"leader_epoch\", \"high_watermark\", \
                      \"max_follower_lag\", \"max_follower_lag_time_ms\", \"voters\": [...], \"observers\": [...]}, \
                      each replica {\"id\", \"directory_id\", \"log_end_offset\", \"lag\", \
                      \"last_fetch_timestamp_ms\", \"last_caught_up_timestamp_ms\", \"status\", \"endpoints\"}."
    )]
    Describe {
        /// Any controller, as host:port; the question is forwarded to the leader.
        #[arg(long, value_name = "HOST:PORT")]
        bootstrap_controller: Option<String>,
        /// A broker (or several, host:port,host:port); it forwards the question to the active
        /// controller.
        #[arg(long, value_name = "HOST:PORT[,...]")]
        bootstrap_server: Option<String>,
        /// One row per replica instead of the summary.
        #[arg(long)]
        replication: bool,
        /// Give up after this many milliseconds in all.
        #[arg(long, value_name = "MS", default_value_t = ADMIN_TIMEOUT_MS_DEFAULT,
              value_parser = clap::value_parser!(u64).range(1..=ADMIN_TIMEOUT_MS_MAX))]
        timeout_ms: u64,
        /// Print one JSON document (both the summary and every replica) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// How an admin command reaches the cluster, and how it prints.
#[derive(Args)]
struct BrokerArgs {
    /// One or more brokers to bootstrap from, as host:port[,host:port...]. Requests that only
    /// the controller can serve go to the broker that Metadata names as controller, at the
    /// address it advertises.
    #[arg(long, value_name = "HOST:PORT[,...]")]
    bootstrap_server: String,
    /// Give up after this many milliseconds in all (connects, requests, retries); the time
    /// left is also what the controller is given for the request.
    #[arg(long, value_name = "MS", default_value_t = ADMIN_TIMEOUT_MS_DEFAULT,
          value_parser = clap::value_parser!(u64).range(1..=ADMIN_TIMEOUT_MS_MAX))]
    timeout_ms: u64,
    /// Print one JSON document instead of text (also on failure:
    /// {"error": {"message", "exit_code"}}).
    #[arg(long)]
    json: bool,
}

impl BrokerArgs {
    fn connect(&self) -> ConnectOptions {
        ConnectOptions {
            bootstrap_servers: self.bootstrap_server.clone(),
            timeout_ms: self.timeout_ms,
        }
    }
}

#[derive(Subcommand)]
enum TopicsCommand {
    /// Create a topic (CreateTopics, sent to the controller). Without --partitions or
    /// --replication-factor the cluster's defaults apply (num.partitions,
    /// default.replication.factor).
    #[command(after_help = "Examples:\n  \
        keel topics create --bootstrap-server 127.0.0.1:9092 --topic orders --partitions 3 --replication-factor 3 --config retention.ms=86400000\n  \
        keel topics create --bootstrap-server 127.0.0.1:9092 --topic audit --replica-assignment 1:2,2:3,3:1 --if-not-exists\n\n\
        --json prints {\"validate_only\", \"topics\": [{\"name\", \"status\" (created, validated, exists, failed), \
        \"topic_id\", \"partitions\", \"replication_factor\", \"error\"}]}.")]
    Create {
        #[command(flatten)]
        broker: BrokerArgs,
        /// Name of the new topic.
        #[arg(long)]
        topic: String,
        /// Number of partitions.
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        partitions: Option<i32>,
        /// Replicas per partition.
        #[arg(long, value_parser = clap::value_parser!(i16).range(1..))]
        replication_factor: Option<i16>,
        /// Replicas of each partition, in partition order: broker ids separated by colons
        /// (preferred leader first), partitions by commas. Replaces --partitions and
        /// --replication-factor.
        #[arg(long, value_name = "B1:B2,B2:B3,...")]
        replica_assignment: Option<String>,
        /// A topic config, key=value (repeat for several).
        #[arg(long, value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Succeed, doing nothing, if the topic already exists.
        #[arg(long)]
        if_not_exists: bool,
        /// Only check that the topic could be created; create nothing.
        #[arg(long)]
        validate_only: bool,
    },
    /// Delete topics (DeleteTopics, sent to the controller).
    #[command(after_help = "Example:\n  \
        keel topics delete --bootstrap-server 127.0.0.1:9092 --topic orders --topic audit --if-exists\n\n\
        --json prints {\"topics\": [{\"name\", \"status\" (deleted, absent, failed), \"error\"}]}.")]
    Delete {
        #[command(flatten)]
        broker: BrokerArgs,
        /// A topic to delete (repeat for several).
        #[arg(long, required = true)]
        topic: Vec<String>,
        /// Succeed, doing nothing, for a topic that does not exist.
        #[arg(long)]
        if_exists: bool,
    },
    /// List the names of every topic, one per line (Metadata).
    #[command(
        after_help = "Example:\n  keel topics list --bootstrap-server 127.0.0.1:9092\n\n\
        --json prints {\"topics\": [{\"name\", \"topic_id\", \"internal\", \"partitions\", \"error\"}]}."
    )]
    List {
        #[command(flatten)]
        broker: BrokerArgs,
        /// Leave out Kafka's internal topics (such as __consumer_offsets).
        #[arg(long)]
        exclude_internal: bool,
    },
    /// Describe topics: id, partition count, replication factor, configs that are not at
    /// their default, and per partition its leader, leader epoch, replicas, in-sync replicas
    /// and offline replicas (Metadata and DescribeConfigs).
    #[command(
        after_help = "Example:\n  keel topics describe --bootstrap-server 127.0.0.1:9092 --topic orders\n\n\
        --json prints {\"topics\": [{\"name\", \"topic_id\", \"internal\", \"partition_count\", \
        \"replication_factor\", \"configs\": {KEY: VALUE}, \"configs_error\", \"error\", \"partitions\": \
        [{\"partition\", \"leader\", \"leader_epoch\", \"replicas\", \"isr\", \"offline_replicas\", \"error\"}]}]}; \
        a field the server's Metadata version does not carry is null."
    )]
    Describe {
        #[command(flatten)]
        broker: BrokerArgs,
        /// A topic to describe (repeat for several); none: every topic.
        #[arg(long)]
        topic: Vec<String>,
    },
    /// Grow a topic to a new total number of partitions (CreatePartitions, sent to the
    /// controller).
    #[command(
        after_help = "Example:\n  keel topics alter --bootstrap-server 127.0.0.1:9092 --topic orders --partitions 6\n\n\
        --json prints {\"validate_only\", \"topics\": [{\"name\", \"status\" (altered, validated, absent, failed), \
        \"partitions\", \"error\"}]}."
    )]
    Alter {
        #[command(flatten)]
        broker: BrokerArgs,
        /// The topic to grow.
        #[arg(long)]
        topic: String,
        /// The total number of partitions it should have.
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        partitions: i32,
        /// Replicas of each new partition, in order (as for create).
        #[arg(long, value_name = "B1:B2,B2:B3,...")]
        replica_assignment: Option<String>,
        /// Succeed, doing nothing, if the topic does not exist.
        #[arg(long)]
        if_exists: bool,
        /// Only check that the partitions could be added; change nothing.
        #[arg(long)]
        validate_only: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum EntityTypeArg {
    Topics,
    Brokers,
}

impl From<EntityTypeArg> for EntityType {
    fn from(kind: EntityTypeArg) -> EntityType {
        match kind {
            EntityTypeArg::Topics => EntityType::Topics,
            EntityTypeArg::Brokers => EntityType::Brokers,
        }
    }
}

/// Which entity a configs command is about.
#[derive(Args)]
struct EntityArgs {
    /// The kind of entity.
    #[arg(long, value_enum)]
    entity_type: EntityTypeArg,
    /// The topic's name or the broker's id.
    #[arg(long, conflicts_with = "entity_default")]
    entity_name: Option<String>,
    /// The cluster-wide default of every broker (brokers only).
    #[arg(long)]
    entity_default: bool,
}

#[derive(Subcommand)]
enum ConfigsCommand {
    /// Show the configs of a topic or broker (DescribeConfigs): those set dynamically, or with
    /// --all every entry with its source. Without --entity-name, every topic or every broker.
    #[command(after_help = "Examples:\n  \
        keel configs describe --bootstrap-server 127.0.0.1:9092 --entity-type topics --entity-name orders\n  \
        keel configs describe --bootstrap-server 127.0.0.1:9092 --entity-type brokers --entity-default\n\n\
        --json prints {\"entity_type\", \"all\", \"entities\": [{\"name\" (null for the broker default), \
        \"configs\": [{\"name\", \"value\", \"source\", \"read_only\", \"sensitive\"}], \"error\"}]}.")]
    Describe {
        #[command(flatten)]
        broker: BrokerArgs,
        #[command(flatten)]
        entity: EntityArgs,
        /// Every entry, defaults and static ones included.
        #[arg(long)]
        all: bool,
    },
    /// Set configs of a topic or broker (IncrementalAlterConfigs SET, sent to the
    /// controller; all or nothing).
    #[command(after_help = "Example:\n  \
        keel configs set --bootstrap-server 127.0.0.1:9092 --entity-type topics --entity-name orders --add-config retention.ms=86400000,cleanup.policy=[compact,delete]\n\n\
        --json prints {\"validate_only\", \"changes\": [{\"entity_type\", \"entity_name\", \"status\" \
        (updated, validated, failed), \"set\": {KEY: VALUE}, \"deleted\": [KEY], \"error\"}]}.")]
    Set {
        #[command(flatten)]
        broker: BrokerArgs,
        #[command(flatten)]
        entity: EntityArgs,
        /// key=value pairs separated by commas; a list value in brackets: k=[a,b].
        #[arg(long, required = true, value_name = "K=V,K2=V2")]
        add_config: Vec<String>,
        /// Only check the change; change nothing.
        #[arg(long)]
        validate_only: bool,
    },
    /// Remove configs of a topic or broker, back to their defaults (IncrementalAlterConfigs
    /// DELETE, sent to the controller).
    #[command(after_help = "Example:\n  \
        keel configs delete --bootstrap-server 127.0.0.1:9092 --entity-type brokers --entity-name 1 --delete-config log.cleaner.threads\n\n\
        --json prints the same document as set.")]
    Delete {
        #[command(flatten)]
        broker: BrokerArgs,
        #[command(flatten)]
        entity: EntityArgs,
        /// Keys separated by commas.
        #[arg(long, required = true, value_name = "K,K2")]
        delete_config: Vec<String>,
        /// Only check the change; change nothing.
        #[arg(long)]
        validate_only: bool,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Cluster id, controller id, and every broker with its address and rack (DescribeCluster,
    /// or Metadata where the broker does not offer it).
    #[command(
        after_help = "Example:\n  keel cluster describe --bootstrap-server 127.0.0.1:9092\n\n\
        --json prints {\"cluster_id\", \"controller_id\", \"source\", \"brokers\": [{\"id\", \"host\", \"port\", \
        \"rack\", \"fenced\" (null when the answer does not say)}]}."
    )]
    Describe {
        #[command(flatten)]
        broker: BrokerArgs,
    },
}

/// Prints an admin command's result (text, or JSON) and returns its exit status.
fn finish(result: Result<Output, AdminError>, json: bool) -> ExitStatus {
    emit(
        &result,
        json,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

fn run_topics(command: TopicsCommand) -> ExitStatus {
    match command {
        TopicsCommand::Create {
            broker,
            topic,
            partitions,
            replication_factor,
            replica_assignment,
            config,
            if_not_exists,
            validate_only,
        } => {
            let options = topics::CreateOptions {
                topic,
                partitions,
                replication_factor,
                replica_assignment,
                configs: config,
                if_not_exists,
                validate_only,
            };
            finish(topics::create(&broker.connect(), &options), broker.json)
        }
        TopicsCommand::Delete {
            broker,
            topic,
            if_exists,
        } => finish(
            topics::delete(&broker.connect(), &topic, if_exists),
            broker.json,
        ),
        TopicsCommand::List {
            broker,
            exclude_internal,
        } => finish(
            topics::list(&broker.connect(), exclude_internal),
            broker.json,
        ),
        TopicsCommand::Describe { broker, topic } => {
            finish(topics::describe(&broker.connect(), &topic), broker.json)
        }
        TopicsCommand::Alter {
            broker,
            topic,
            partitions,
            replica_assignment,
            if_exists,
            validate_only,
        } => {
            let options = topics::AlterOptions {
                topic,
                partitions,
                replica_assignment,
                if_exists,
                validate_only,
            };
            finish(topics::alter(&broker.connect(), &options), broker.json)
        }
    }
}

fn run_configs(command: ConfigsCommand) -> ExitStatus {
    match command {
        ConfigsCommand::Describe {
            broker,
            entity,
            all,
        } => {
            let options = configs::DescribeOptions {
                kind: entity.entity_type.into(),
                name: entity.entity_name,
                default: entity.entity_default,
                all,
            };
            finish(configs::describe(&broker.connect(), &options), broker.json)
        }
        ConfigsCommand::Set {
            broker,
            entity,
            add_config,
            validate_only,
        } => {
            let options = configs::AlterOptions {
                kind: entity.entity_type.into(),
                name: entity.entity_name,
                default: entity.entity_default,
                add: add_config,
                delete: Vec::new(),
                validate_only,
            };
            finish(configs::alter(&broker.connect(), &options), broker.json)
        }
        ConfigsCommand::Delete {
            broker,
            entity,
            delete_config,
            validate_only,
        } => {
            let options = configs::AlterOptions {
                kind: entity.entity_type.into(),
                name: entity.entity_name,
                default: entity.entity_default,
                add: Vec::new(),
                delete: delete_config,
                validate_only,
            };
            finish(configs::alter(&broker.connect(), &options), broker.json)
        }
    }
}

fn run_quorum_describe(
    bootstrap_controller: Option<String>,
    bootstrap_server: Option<String>,
    replication: bool,
    timeout_ms: u64,
    json: bool,
) -> ExitStatus {
    let result = match bootstrap_controller {
        Some(controller) => quorum::describe_within(&controller, timeout_ms),
        None => quorum::describe_via_broker(&bootstrap_server.unwrap_or_default(), timeout_ms),
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let output = result.map(|description| Output {
        text: if replication {
            description.replication_text()
        } else {
            description.status_text(now_ms)
        },
        errors: Vec::new(),
        json: description.json(now_ms),
    });
    emit(
        &output,
        json,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

fn load_config(path: &Path) -> Result<Config, ExitStatus> {
    Config::load(path).map_err(|e| {
        eprintln!("keel: bad configuration {}: {e}", path.display());
        ExitStatus::Usage
    })
}

fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
}

fn run_random_uuid() -> ExitStatus {
    match random_uuid() {
        Ok(id) => {
            println!("{id}");
            ExitStatus::Success
        }
        Err(e) => {
            eprintln!("keel: {e}");
            ExitStatus::Failed
        }
    }
}

/// `keel format`: the voters' directory ids from `--initial-controllers`, then
/// meta.properties.
fn run_format(
    config_path: &Path,
    cluster_id: &str,
    initial_controllers: Option<&str>,
    no_initial_controllers: bool,
    ignore_formatted: bool,
) -> ExitStatus {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(status) => return status,
    };
    let initial = match initial_controllers {
        Some(text) => match parse_initial_controllers(text, &config.voters) {
            Ok(initial) => initial,
            Err(e) => {
                eprintln!("keel: {e}");
                return ExitStatus::Usage;
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
        cluster_id,
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
            ExitStatus::Success
        }
        Err(e @ datadir::DataDirError::BadClusterId { .. }) => {
            eprintln!("keel: {e}");
            ExitStatus::Usage
        }
        Err(e) => {
            eprintln!("keel: {e}");
            ExitStatus::DataDir
        }
    }
}

/// `keel pin-directory`: checks the arguments against the configuration, then pins.
fn run_pin_directory(config_path: &Path, node_id: u32, directory_id: &str) -> ExitStatus {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(status) => return status,
    };
    let directory_id = match directory_id.parse::<Uuid>() {
        Ok(id) if id != Uuid::ZERO => id,
        _ => {
            eprintln!(
                "keel: {directory_id:?} is not a directory id (22 characters of URL-safe base64)"
            );
            return ExitStatus::Usage;
        }
    };
    if node_id == config.node_id || !config.voters.iter().any(|v| v.id == node_id) {
        eprintln!(
            "keel: node {node_id} is not another voter of {}",
            CONTROLLER_QUORUM_VOTERS.name
        );
        return ExitStatus::Usage;
    }
    match datadir::pin_directory(
        &config.metadata_log_dir,
        config.node_id,
        node_id,
        directory_id,
    ) {
        Ok(previous) => {
            match previous {
                Some(previous) => {
                    println!("node {node_id}: pinned directory {directory_id} (was {previous})")
                }
                None => println!("node {node_id}: pinned directory {directory_id}"),
            }
            ExitStatus::Success
        }
        Err(e) => {
            eprintln!("keel: {e}");
            ExitStatus::DataDir
        }
    }
}

fn run_dev(options: &keel::dev::DevOptions) -> ExitStatus {
    let keel = match std::env::current_exe() {
        Ok(path) => path,
        Err(e) => {
            eprintln!("keel: cannot find the keel executable: {e}");
            return ExitStatus::Failed;
        }
    };
    match keel::dev::run(options, &keel) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            eprintln!("keel dev: {e}");
            ExitStatus::Failed
        }
    }
}

/// `keel start`: the configuration, one warning naming the Kafka keys keel ignores, then the
/// node until it stops.
fn run_start(config_path: &Path, cluster_id: Option<&str>) -> ExitStatus {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(status) => return status,
    };
    init_logging();
    if !config.kafka_keys_ignored.is_empty() {
        log::warn!(
            "{}: {} Kafka setting(s) that keel does not use are ignored: {}",
            config_path.display(),
            config.kafka_keys_ignored.len(),
            config.kafka_keys_ignored.join(", ")
        );
    }
    match server::run_node(&config, cluster_id) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            // Once: in the log when logging is on (it goes to stderr too), else plainly.
            if log::log_enabled!(log::Level::Error) {
                log::error!("{e}");
            } else {
                eprintln!("keel: {e}");
            }
            e.exit_status()
        }
    }
}

fn main() -> ExitCode {
    let status = match Cli::parse().command {
        Command::RandomUuid => run_random_uuid(),
        Command::Format {
            config,
            cluster_id,
            initial_controllers,
            no_initial_controllers,
            ignore_formatted,
        } => run_format(
            &config,
            &cluster_id,
            initial_controllers.as_deref(),
            no_initial_controllers,
            ignore_formatted,
        ),
        Command::PinDirectory {
            config,
            node_id,
            directory_id,
        } => run_pin_directory(&config, node_id, &directory_id),
        Command::Dev {
            controllers,
            dir,
            base_port,
            brokers,
            broker_port,
        } => run_dev(&keel::dev::DevOptions {
            controllers,
            brokers,
            dir,
            base_port,
            broker_port,
        }),
        Command::Quorum {
            command:
                QuorumCommand::Describe {
                    bootstrap_controller,
                    bootstrap_server,
                    replication,
                    timeout_ms,
                    json,
                },
        } => run_quorum_describe(
            bootstrap_controller,
            bootstrap_server,
            replication,
            timeout_ms,
            json,
        ),
        Command::Topics { command } => run_topics(command),
        Command::Configs { command } => run_configs(command),
        Command::Cluster {
            command: ClusterCommand::Describe { broker },
        } => finish(cluster::describe(&broker.connect()), broker.json),
        Command::Start { config, cluster_id } => run_start(&config, cluster_id.as_deref()),
    };
    ExitCode::from(status.code())
}
