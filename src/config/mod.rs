//! Node configuration: a Kafka-style `server.properties` file, parsed and validated in full
//! before anything touches the disk.
//!
//! Keys are Kafka's names where Kafka has one, with Kafka's defaults unless `constants.rs` gives
//! keel's reason to differ. Every key keel reads is one entry of the table in [`keys`] (name,
//! value type and bounds, default, doc line), which [`Config::parse`] reads through and the
//! documentation's table is generated from. Every problem is one [`ConfigError`] naming the key
//! (and the line) and what is wrong with it. A Kafka `server.properties` works as it is: a key
//! Kafka defines for a broker or controller that keel does not use is accepted and listed in
//! [`Config::kafka_keys_ignored`] (the node logs them in one line), unless ignoring it would
//! change what the operator asked for (a TLS or SASL listener, an authorizer), which is an
//! error (`kafka`). Any other unknown key is an error with the nearest known key as a
//! suggestion, so a typo never silently falls back to a default. Parsing is pure:
//! [`Config::parse`] takes the file's text.
//!
//! - [`keys`]: the table of keel's keys, and its Markdown for `docs/operations.md`.
//! - `properties`: the Java properties syntax.
//! - `values`: one file's keys, checked against the table and Kafka's keys; typed reads.
//! - `addresses`: voters, listeners, security protocols, advertised listeners, and
//!   `keel format --initial-controllers`.
//! - `kafka`: Kafka's keys that keel accepts, refuses, or suggests.

mod addresses;
mod kafka;
pub mod keys;
mod properties;
mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::constants::CONFIG_FILE_BYTES_MAX;

pub use self::addresses::{InitialController, Listener, VoterAddress, parse_initial_controllers};
use self::addresses::{advertised, check_plaintext_listeners, parse_listeners, parse_voters};
use self::kafka::CONTROLLER_QUORUM_BOOTSTRAP_SERVERS;
use self::keys::*;
pub use self::properties::parse_properties;
use self::values::Values;

/// One problem with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key at fault, if the problem is about one key.
    pub key: Option<String>,
    /// The 1-based line of the file, if known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.key, self.line) {
            (Some(key), Some(line)) => write!(f, "line {line}: {key}: {}", self.message),
            (Some(key), None) => write!(f, "{key}: {}", self.message),
            (None, Some(line)) => write!(f, "line {line}: {}", self.message),
            (None, None) => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

fn error(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: Some(key.to_owned()),
        line: None,
        message: message.into(),
    }
}

/// The roles a node plays (`process.roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub controller: bool,
    pub broker: bool,
}

/// A validated node configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub roles: Roles,
    pub node_id: u32,
    pub voters: Vec<VoterAddress>,
    pub listeners: Vec<Listener>,
    pub controller_listener_names: Vec<String>,
    pub metadata_log_dir: PathBuf,
    pub election_timeout_ms: u64,
    pub election_backoff_max_ms: u64,
    pub fetch_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub retry_backoff_ms: u64,
    pub append_linger_ms: u64,
    pub segment_bytes: u32,
    /// How often the active controller writes a NoOp record; 0 turns it off.
    pub max_idle_interval_ms: u64,
    pub socket_request_max_bytes: u32,
    /// Ordinary inbound connection slots (peers have a reserve beyond them).
    pub max_connections: usize,
    /// Inbound connections one address may hold at once.
    pub max_connections_per_ip: u32,
    /// An inbound connection that moved no byte for this long, and is owed no answer, is
    /// closed.
    pub connections_max_idle_ms: u64,
    /// Budget of bytes reserved for partly read large requests, node-wide.
    pub queued_max_request_bytes: u64,
    /// Log bytes applied since the last snapshot after which a node writes a new one.
    pub snapshot_max_record_bytes: u64,
    /// Age of the last snapshot after which a node writes a new one (if anything changed).
    pub snapshot_max_interval_ms: u64,
    /// A broker without a heartbeat for this long is fenced.
    pub broker_session_timeout_ms: u64,
    /// Partitions of a topic created without a count.
    pub num_partitions: i32,
    /// Replication factor of a topic created without one.
    pub default_replication_factor: i16,
    /// Brokers: the addresses clients are told to use, one per broker listener (Kafka's
    /// `advertised.listeners`; each defaults to the listener's own address).
    pub advertised_listeners: Vec<Listener>,
    /// Brokers: how often the broker heartbeats to the active controller.
    pub broker_heartbeat_interval_ms: u64,
    /// Brokers: the rack replicas are spread over (`broker.rack`), if any.
    pub rack: Option<String>,
    /// Every `key=value` of the file as given: what this node's DescribeConfigs shows as its
    /// static broker configuration (`STATIC_BROKER_CONFIG`), as Kafka's brokers do.
    pub properties: BTreeMap<String, String>,
    /// Keys of the file that Kafka defines but keel does not use, in file order.
    pub kafka_keys_ignored: Vec<String>,
}

impl Config {
    /// Reads and validates a properties file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let not_readable = |message: String| ConfigError {
            key: None,
            line: None,
            message,
        };
        let metadata = std::fs::metadata(path)
            .map_err(|e| not_readable(format!("cannot read {}: {e}", path.display())))?;
        if metadata.len() > CONFIG_FILE_BYTES_MAX {
            return Err(not_readable(format!(
                "{} is {} bytes, larger than any configuration file ({CONFIG_FILE_BYTES_MAX})",
                path.display(),
                metadata.len()
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| not_readable(format!("cannot read {}: {e}", path.display())))?;
        Config::parse(&text)
    }

    /// Validates properties text: the file's keys; the roles, ids, voters, listeners and
    /// directory, each with the keys it depends on; every integer key in the table's order;
    /// then the rules between keys.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let values = Values::read(text)?;
        let roles = read_roles(&values)?;
        let node_id = read_node_id(&values)?;
        let voters = read_voters(&values, roles, node_id)?;
        let listeners = ListenerSetup::read(&values, roles)?;
        let metadata_log_dir = read_metadata_log_dir(&values)?;
        // The casts narrow values that their key's range already bounds (asserted in `keys`).
        let config = Config {
            properties: values.properties(),
            kafka_keys_ignored: values.kafka_keys_ignored().to_vec(),
            roles,
            node_id,
            voters,
            listeners: listeners.listeners,
            controller_listener_names: listeners.controller_listener_names,
            metadata_log_dir,
            election_timeout_ms: values.integer(&CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS)?,
            fetch_timeout_ms: values.integer(&CONTROLLER_QUORUM_FETCH_TIMEOUT_MS)?,
            election_backoff_max_ms: values.integer(&CONTROLLER_QUORUM_ELECTION_BACKOFF_MAX_MS)?,
            request_timeout_ms: values.integer(&CONTROLLER_QUORUM_REQUEST_TIMEOUT_MS)?,
            retry_backoff_ms: values.integer(&CONTROLLER_QUORUM_RETRY_BACKOFF_MS)?,
            append_linger_ms: values.integer(&CONTROLLER_QUORUM_APPEND_LINGER_MS)?,
            segment_bytes: values.integer(&METADATA_LOG_SEGMENT_BYTES)? as u32,
            max_idle_interval_ms: values.integer(&METADATA_MAX_IDLE_INTERVAL_MS)?,
            socket_request_max_bytes: values.integer(&SOCKET_REQUEST_MAX_BYTES)? as u32,
            max_connections: values.integer(&MAX_CONNECTIONS)? as usize,
            max_connections_per_ip: values.integer(&MAX_CONNECTIONS_PER_IP)? as u32,
            connections_max_idle_ms: values.integer(&CONNECTIONS_MAX_IDLE_MS)?,
            queued_max_request_bytes: read_queued_max_request_bytes(&values)?,
            snapshot_max_record_bytes: values
                .integer(&METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS)?,
            snapshot_max_interval_ms: values.integer(&METADATA_LOG_MAX_SNAPSHOT_INTERVAL_MS)?,
            broker_session_timeout_ms: values.integer(&BROKER_SESSION_TIMEOUT_MS)?,
            num_partitions: values.integer(&NUM_PARTITIONS)? as i32,
            default_replication_factor: values.integer(&DEFAULT_REPLICATION_FACTOR)? as i16,
            advertised_listeners: listeners.advertised_listeners,
            broker_heartbeat_interval_ms: values.integer(&BROKER_HEARTBEAT_INTERVAL_MS)?,
            rack: values
                .get(BROKER_RACK.name)
                .map(str::trim)
                .filter(|rack| !rack.is_empty())
                .map(str::to_owned),
        };
        config.check_rules_between_keys(&values)?;
        Ok(config)
    }

    /// The rules that tie one key's value to another's.
    fn check_rules_between_keys(&self, values: &Values) -> Result<(), ConfigError> {
        if self.roles.broker && self.broker_heartbeat_interval_ms >= self.broker_session_timeout_ms
        {
            return Err(error(
                BROKER_HEARTBEAT_INTERVAL_MS.name,
                format!(
                    "{} must be below {} ({}), else a live broker is fenced",
                    self.broker_heartbeat_interval_ms,
                    BROKER_SESSION_TIMEOUT_MS.name,
                    self.broker_session_timeout_ms
                ),
            ));
        }
        if self.queued_max_request_bytes < u64::from(self.socket_request_max_bytes) {
            // Kafka's rule: a budget smaller than one request could never let the largest
            // request in.
            return values.error_at(
                QUEUED_MAX_REQUEST_BYTES.name,
                format!(
                    "{} must be at least {} ({}), else the largest request could never be read",
                    self.queued_max_request_bytes,
                    SOCKET_REQUEST_MAX_BYTES.name,
                    self.socket_request_max_bytes
                ),
            );
        }
        if self.max_idle_interval_ms != 0 && self.max_idle_interval_ms >= self.fetch_timeout_ms {
            return Err(error(
                METADATA_MAX_IDLE_INTERVAL_MS.name,
                format!(
                    "{} must be below {} ({}) or 0, else an idle quorum looks dead",
                    self.max_idle_interval_ms,
                    CONTROLLER_QUORUM_FETCH_TIMEOUT_MS.name,
                    self.fetch_timeout_ms
                ),
            ));
        }
        Ok(())
    }

    /// This node's entry in the voter list, if it is a voter.
    pub fn local_voter(&self) -> Option<&VoterAddress> {
        self.voters.iter().find(|v| v.id == self.node_id)
    }

    /// The listeners this node binds, in `listeners` order: the controller listeners if it
    /// is a controller, the others if it is a broker.
    pub fn bound_listeners(&self) -> impl Iterator<Item = &Listener> {
        self.listeners.iter().filter(|l| {
            if self.controller_listener_names.contains(&l.name) {
                self.roles.controller
            } else {
                self.roles.broker
            }
        })
    }

    /// The listeners that serve the quorum (and DescribeQuorum).
    pub fn controller_listeners(&self) -> impl Iterator<Item = &Listener> {
        self.listeners
            .iter()
            .filter(|l| self.controller_listener_names.contains(&l.name))
    }
}

/// `process.roles`, which a ZooKeeper-mode file lacks.
fn read_roles(values: &Values) -> Result<Roles, ConfigError> {
    match values.get(PROCESS_ROLES.name) {
        Some(value) => values.located(PROCESS_ROLES.name, parse_roles(value)),
        None => Err(error(
            PROCESS_ROLES.name,
            "is required: keel runs in KRaft mode only (broker, controller, or broker,controller)",
        )),
    }
}

fn parse_roles(value: &str) -> Result<Roles, ConfigError> {
    const KEY: &str = PROCESS_ROLES.name;
    let mut roles = Roles {
        controller: false,
        broker: false,
    };
    for role in value.split(',').map(str::trim) {
        match role {
            "controller" if !roles.controller => roles.controller = true,
            "broker" if !roles.broker => roles.broker = true,
            "controller" | "broker" => return Err(error(KEY, format!("{role} is listed twice"))),
            other => {
                return Err(error(
                    KEY,
                    format!("{other:?} is not a role (controller or broker)"),
                ));
            }
        }
    }
    if !roles.broker && !roles.controller {
        return Err(error(KEY, "is empty (controller, broker, or both)"));
    }
    Ok(roles)
}

/// `node.id`, and `broker.id`, Kafka's older name for it, which must not disagree with it
/// (Kafka's rule in KRaft mode).
fn read_node_id(values: &Values) -> Result<u32, ConfigError> {
    let node_id = values.integer(&NODE_ID)? as u32;
    if let Some(broker_id) = values.get(BROKER_ID.name)
        && broker_id.trim() != node_id.to_string()
    {
        return values.error_at(
            BROKER_ID.name,
            format!(
                "{broker_id} differs from {} ({node_id}); remove it or make them equal",
                NODE_ID.name
            ),
        );
    }
    Ok(node_id)
}

/// `controller.quorum.voters`, which must list a controller and must not list a broker-only
/// node: a voter that is not a controller could never vote, so the quorum would count a
/// member that does not exist (Kafka's rule).
fn read_voters(
    values: &Values,
    roles: Roles,
    node_id: u32,
) -> Result<Vec<VoterAddress>, ConfigError> {
    const KEY: &str = CONTROLLER_QUORUM_VOTERS.name;
    let voters = match values.get(KEY) {
        Some(value) => values.located(KEY, parse_voters(value))?,
        None if values.get(CONTROLLER_QUORUM_BOOTSTRAP_SERVERS).is_some() => {
            return values.error_at(
                CONTROLLER_QUORUM_BOOTSTRAP_SERVERS,
                format!(
                    "a dynamic quorum (KIP-853) is not supported yet: list the voters in {KEY} (id@host:port,...)"
                ),
            );
        }
        None => return Err(error(KEY, "is required")),
    };
    let listed = voters.iter().any(|v| v.id == node_id);
    if roles.controller && !listed {
        return Err(error(
            KEY,
            format!("this node (node.id={node_id}) is a controller but not one of the voters"),
        ));
    }
    if !roles.controller && listed {
        return Err(error(
            KEY,
            format!(
                "this node (node.id={node_id}) is only a broker but is listed as a voter; a broker's id must differ from every controller's"
            ),
        ));
    }
    Ok(voters)
}

/// The listeners, which of them serve the quorum, and what a broker advertises for the others.
struct ListenerSetup {
    listeners: Vec<Listener>,
    controller_listener_names: Vec<String>,
    advertised_listeners: Vec<Listener>,
}

impl ListenerSetup {
    fn read(values: &Values, roles: Roles) -> Result<ListenerSetup, ConfigError> {
        let listeners = values.located(
            LISTENERS.name,
            parse_listeners(values.require(LISTENERS.name)?),
        )?;
        values.located(
            LISTENER_SECURITY_PROTOCOL_MAP.name,
            check_plaintext_listeners(values.get(LISTENER_SECURITY_PROTOCOL_MAP.name), &listeners),
        )?;
        let controller_listener_names = read_controller_listener_names(values, roles, &listeners)?;
        let broker_listeners: Vec<&Listener> = listeners
            .iter()
            .filter(|l| !controller_listener_names.contains(&l.name))
            .collect();
        if roles.broker && broker_listeners.is_empty() {
            return values.error_at(
                LISTENERS.name,
                format!(
                    "a broker needs a listener for clients besides {}",
                    CONTROLLER_LISTENER_NAMES.name
                ),
            );
        }
        let advertised_listeners = if roles.broker {
            let controller_names: &[String] = if roles.controller {
                &controller_listener_names
            } else {
                &[]
            };
            values.located(
                ADVERTISED_LISTENERS.name,
                advertised(
                    values.get(ADVERTISED_LISTENERS.name),
                    &broker_listeners,
                    controller_names,
                ),
            )?
        } else {
            Vec::new()
        };
        Ok(ListenerSetup {
            listeners,
            controller_listener_names,
            advertised_listeners,
        })
    }
}

/// `controller.listener.names`: a controller serves the quorum on these listeners; a broker
/// only uses the name to reach the controllers and must not bind it (Kafka's rule).
fn read_controller_listener_names(
    values: &Values,
    roles: Roles,
    listeners: &[Listener],
) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = CONTROLLER_LISTENER_NAMES.name;
    let names: Vec<String> = values
        .require(KEY)?
        .split(',')
        .map(|name| name.trim().to_ascii_uppercase())
        .collect();
    for name in &names {
        let bound = listeners.iter().any(|l| &l.name == name);
        if roles.controller && !bound {
            return values.error_at(KEY, format!("{name} is not one of the listeners"));
        }
        if !roles.controller && bound {
            return values.error_at(
                KEY,
                format!(
                    "{name} is one of the listeners, but this node is only a broker: brokers do not serve the quorum"
                ),
            );
        }
    }
    Ok(names)
}

/// `metadata.log.dir`, else the first of `log.dirs`, as in Kafka.
fn read_metadata_log_dir(values: &Values) -> Result<PathBuf, ConfigError> {
    let first_log_dir = values
        .get(LOG_DIRS.name)
        .and_then(|dirs| dirs.split(',').next())
        .map(str::trim);
    match values
        .get(METADATA_LOG_DIR.name)
        .or(first_log_dir)
        .filter(|dir| !dir.is_empty())
    {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Err(error(
            METADATA_LOG_DIR.name,
            format!("is required (or {})", LOG_DIRS.name),
        )),
    }
}

/// `queued.max.request.bytes`, where Kafka's -1 (no limit) is exactly what the budget exists
/// to prevent.
fn read_queued_max_request_bytes(values: &Values) -> Result<u64, ConfigError> {
    if values.get(QUEUED_MAX_REQUEST_BYTES.name) == Some("-1") {
        return values.error_at(
            QUEUED_MAX_REQUEST_BYTES.name,
            "-1 (unlimited) is not supported: keel needs a finite budget for partly read requests",
        );
    }
    values.integer(&QUEUED_MAX_REQUEST_BYTES)
}

#[cfg(test)]
mod tests;
