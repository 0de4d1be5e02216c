//! Node configuration: a Kafka-style `server.properties` file, parsed and validated in full
//! before anything touches the disk.
//!
//! Keys are Kafka's names where Kafka has one, with Kafka's defaults unless `constants.rs` gives
//! keel's reason to differ. Every problem is one [`ConfigError`] naming the key (and the line)
//! and what is wrong with it. A Kafka `server.properties` works as it is: a key Kafka defines
//! for a broker or controller that keel does not use is accepted and listed in
//! [`Config::kafka_keys_ignored`] (the node logs them in one line), unless ignoring it would
//! change what the operator asked for (a TLS or SASL listener, an authorizer), which is an
//! error. Any other unknown key is an error with the nearest known key as a suggestion, so a
//! typo never silently falls back to a default. Parsing is pure: [`Config::parse`] takes the
//! file's text.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use crate::constants::{
    BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT, BROKER_SESSION_TIMEOUT_MS_DEFAULT, CONFIG_FILE_BYTES_MAX,
    CONFIG_KEY_SUGGESTION_DISTANCE_MAX, DEFAULT_NUM_PARTITIONS, DEFAULT_REPLICATION_FACTOR,
    METADATA_MAX_IDLE_INTERVAL_MS_DEFAULT, METADATA_SEGMENT_BYTES_MIN, RAFT_APPEND_LINGER_MS,
    RAFT_ELECTION_BACKOFF_MAX_MS, RAFT_ELECTION_TIMEOUT_MS, RAFT_FETCH_TIMEOUT_MS, RAFT_MAX_VOTERS,
    RAFT_REQUEST_TIMEOUT_MS, RAFT_RETRY_BACKOFF_MS, SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MAX,
    SERVER_CLIENT_CONNECTIONS_DEFAULT, SERVER_CLIENT_CONNECTIONS_MAX,
    SERVER_CONNECTIONS_IDLE_MS_DEFAULT, SERVER_CONNECTIONS_PER_IP_DEFAULT,
    SERVER_QUEUED_REQUEST_BYTES_DEFAULT, SNAPSHOT_MAX_INTERVAL_MS_DEFAULT,
    SNAPSHOT_MAX_RECORD_BYTES_DEFAULT, SOCKET_REQUEST_BYTES_MAX_DEFAULT, TIMEOUT_MS_MAX,
};
use crate::metadata::broker_configs::{BROKER_CONFIGS, KAFKA_KEYS_RETIRED};
use crate::protocol::Uuid;

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

/// One entry of `controller.quorum.voters`: `id@host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterAddress {
    pub id: u32,
    pub host: String,
    pub port: u16,
}

impl VoterAddress {
    /// Resolves the address (DNS if the host is a name). Done once at start-up, not in the event
    /// loop, because resolution blocks.
    pub fn resolve(&self) -> std::io::Result<SocketAddr> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{} has no address", self.host),
                )
            })
    }
}

/// One entry of `listeners`: `NAME://host:port`. An empty host binds every interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    /// The address to bind: the host if it is an IP literal, every interface if it is empty,
    /// else the name resolved once at start-up.
    pub fn bind_address(&self) -> std::io::Result<SocketAddr> {
        if self.host.is_empty() {
            return Ok(SocketAddr::from(([0, 0, 0, 0], self.port)));
        }
        if let Ok(ip) = self
            .host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
        {
            return Ok(SocketAddr::new(ip, self.port));
        }
        VoterAddress {
            id: 0,
            host: self.host.clone(),
            port: self.port,
        }
        .resolve()
    }
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

/// The keys keel understands, with a one-line description (for error messages and docs).
pub const KEYS: &[(&str, &str)] = &[
    (
        "process.roles",
        "roles of this node: controller, broker, or broker,controller",
    ),
    ("node.id", "this node's id, unique in the cluster"),
    (
        "controller.quorum.voters",
        "the voters: id@host:port,id@host:port,...",
    ),
    ("listeners", "listeners to bind: NAME://host:port,..."),
    (
        "controller.listener.names",
        "names of the listeners that serve the quorum",
    ),
    ("metadata.log.dir", "directory of the metadata log"),
    (
        "log.dirs",
        "data directories; the first holds the metadata log if metadata.log.dir is unset",
    ),
    (
        "controller.quorum.election.timeout.ms",
        "base election timeout",
    ),
    (
        "controller.quorum.election.backoff.max.ms",
        "largest backoff after a lost election",
    ),
    (
        "controller.quorum.fetch.timeout.ms",
        "follower's leader-liveness timeout",
    ),
    (
        "controller.quorum.request.timeout.ms",
        "timeout of one quorum request",
    ),
    (
        "controller.quorum.retry.backoff.ms",
        "wait before retrying a failed quorum request",
    ),
    (
        "controller.quorum.append.linger.ms",
        "how long the leader gathers appends before a flush",
    ),
    (
        "metadata.log.segment.bytes",
        "size of one metadata log segment file",
    ),
    (
        "metadata.max.idle.interval.ms",
        "interval of the active controller's NoOp record (0: off)",
    ),
    ("socket.request.max.bytes", "largest request frame accepted"),
    (
        "max.connections",
        "inbound connection slots for anyone (peers have a reserve beyond them)",
    ),
    (
        "max.connections.per.ip",
        "inbound connections one address may hold at once",
    ),
    (
        "connections.max.idle.ms",
        "an inbound connection idle this long and owed no answer is closed",
    ),
    (
        "queued.max.request.bytes",
        "budget of bytes for partly read requests, node-wide",
    ),
    (
        "metadata.log.max.record.bytes.between.snapshots",
        "log bytes applied after which a new snapshot is written",
    ),
    (
        "metadata.log.max.snapshot.interval.ms",
        "age after which a new snapshot is written if anything changed (0: never by age)",
    ),
    (
        "broker.session.timeout.ms",
        "a broker without a heartbeat for this long is fenced",
    ),
    (
        "num.partitions",
        "partitions of a topic created without a count",
    ),
    (
        "default.replication.factor",
        "replication factor of a topic created without one",
    ),
    (
        "advertised.listeners",
        "brokers: the addresses given to clients, NAME://host:port,... (default: listeners)",
    ),
    (
        "broker.heartbeat.interval.ms",
        "brokers: interval of the heartbeats to the active controller",
    ),
    ("broker.rack", "brokers: the rack of this broker"),
    (
        "listener.security.protocol.map",
        "NAME:PROTOCOL,... (keel serves PLAINTEXT only: any other protocol is refused)",
    ),
    (
        "broker.id",
        "Kafka's older name of node.id: if set, it must equal node.id",
    ),
];

/// Parses Java-properties text into (key, value, line) in file order. Supports `=`, `:` and
/// whitespace separators, `#`/`!` comments, backslash line continuations and the escapes
/// `\t \n \r \f \\ \= \: \#  \!` and `\uXXXX`.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String, usize)>, ConfigError> {
    let mut entries = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, first)) = lines.next() {
        let line_no = index + 1;
        let mut logical = first.trim_start().to_owned();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key).map_err(|m| ConfigError {
            key: None,
            line: Some(line_no),
            message: m,
        })?;
        let value = unescape(raw_value).map_err(|m| ConfigError {
            key: Some(key.clone()),
            line: Some(line_no),
            message: m,
        })?;
        entries.push((key, value.trim_end().to_owned(), line_no));
    }
    Ok(entries)
}

/// A line continues when it ends in an odd number of backslashes.
fn ends_with_continuation(line: &str) -> bool {
    line.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

fn split_key_value(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' => break,
            _ => i += 1,
        }
    }
    let key_end = i.min(bytes.len());
    let mut rest = line[key_end..].trim_start_matches([' ', '\t']);
    if let Some(stripped) = rest.strip_prefix(['=', ':']) {
        rest = stripped.trim_start_matches([' ', '\t']);
    }
    (&line[..key_end], rest)
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("bad escape \\u{hex}"))?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

fn parse_u64(key: &str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    let number: u64 = value
        .parse()
        .map_err(|_| error(key, format!("{value:?} is not a non-negative integer")))?;
    if number < min || number > max {
        return Err(error(
            key,
            format!("{number} is outside the allowed range {min}..={max}"),
        ));
    }
    Ok(number)
}

fn parse_port(key: &str, text: &str, entry: &str) -> Result<u16, ConfigError> {
    text.parse::<u16>()
        .ok()
        .filter(|&port| port > 0)
        .ok_or_else(|| error(key, format!("{entry:?} has no valid port (1-65535)")))
}

/// Splits `host:port`, with `[v6]:port` for IPv6 literals.
fn split_host_port<'a>(key: &str, text: &'a str) -> Result<(&'a str, &'a str), ConfigError> {
    let colon = if text.starts_with('[') {
        text.find("]:").map(|i| i + 1)
    } else {
        text.rfind(':')
    };
    let colon = colon.ok_or_else(|| error(key, format!("{text:?} is not host:port")))?;
    Ok((&text[..colon], &text[colon + 1..]))
}

fn parse_voter_entry(key: &str, entry: &str) -> Result<VoterAddress, ConfigError> {
    let (id, address) = entry
        .split_once('@')
        .ok_or_else(|| error(key, format!("{entry:?} is not id@host:port")))?;
    let id: u32 = id
        .parse()
        .ok()
        .filter(|&id| id <= i32::MAX as u32)
        .ok_or_else(|| error(key, format!("{entry:?} has no valid node id")))?;
    let (host, port) = split_host_port(key, address)?;
    if host.is_empty() {
        return Err(error(key, format!("{entry:?} has no host")));
    }
    let port = parse_port(key, port, entry)?;
    Ok(VoterAddress {
        id,
        host: host.to_owned(),
        port,
    })
}

fn parse_voters(value: &str) -> Result<Vec<VoterAddress>, ConfigError> {
    const KEY: &str = "controller.quorum.voters";
    let mut voters: Vec<VoterAddress> = Vec::new();
    for entry in value.split(',').map(str::trim) {
        let voter = parse_voter_entry(KEY, entry)?;
        if voters.iter().any(|v| v.id == voter.id) {
            return Err(error(KEY, format!("node id {} appears twice", voter.id)));
        }
        voters.push(voter);
    }
    if voters.len() > RAFT_MAX_VOTERS {
        return Err(error(
            KEY,
            format!(
                "{} voters; keel supports at most {RAFT_MAX_VOTERS}",
                voters.len()
            ),
        ));
    }
    Ok(voters)
}

/// One entry of `keel format --initial-controllers`: `id@host:port:directory-id` (KIP-853's
/// form), the voter and the directory id its disk is formatted with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialController {
    pub voter: VoterAddress,
    pub directory_id: Uuid,
}

/// Parses `--initial-controllers` and checks it names exactly the voters of
/// `controller.quorum.voters` (same ids, hosts and ports), each with its own non-zero
/// directory id. Pure.
pub fn parse_initial_controllers(
    value: &str,
    voters: &[VoterAddress],
) -> Result<Vec<InitialController>, ConfigError> {
    const KEY: &str = "--initial-controllers";
    let mut controllers: Vec<InitialController> = Vec::new();
    for entry in value.split(',').map(str::trim) {
        let (address, directory) = entry
            .rsplit_once(':')
            .ok_or_else(|| error(KEY, format!("{entry:?} is not id@host:port:directory-id")))?;
        let directory_id: Uuid = directory.parse().map_err(|_| {
            error(
                KEY,
                format!(
                    "{entry:?}: {directory:?} is not a directory id (22 characters of URL-safe base64, as `keel random-uuid` prints)"
                ),
            )
        })?;
        if directory_id == Uuid::ZERO {
            return Err(error(KEY, format!("{entry:?}: the directory id is zero")));
        }
        let voter = parse_voter_entry(KEY, address)?;
        if controllers.iter().any(|c| c.voter.id == voter.id) {
            return Err(error(KEY, format!("node id {} appears twice", voter.id)));
        }
        if let Some(twin) = controllers.iter().find(|c| c.directory_id == directory_id) {
            return Err(error(
                KEY,
                format!(
                    "nodes {} and {} have the same directory id {directory_id}",
                    twin.voter.id, voter.id
                ),
            ));
        }
        controllers.push(InitialController {
            voter,
            directory_id,
        });
    }
    let mut listed: Vec<&VoterAddress> = controllers.iter().map(|c| &c.voter).collect();
    let mut configured: Vec<&VoterAddress> = voters.iter().collect();
    listed.sort_by_key(|v| v.id);
    configured.sort_by_key(|v| v.id);
    if listed != configured {
        let show = |list: &[&VoterAddress]| {
            list.iter()
                .map(|v| format!("{}@{}:{}", v.id, v.host, v.port))
                .collect::<Vec<_>>()
                .join(",")
        };
        return Err(error(
            KEY,
            format!(
                "names the voters {} but controller.quorum.voters is {}",
                show(&listed),
                show(&configured)
            ),
        ));
    }
    Ok(controllers)
}

fn parse_listeners(value: &str) -> Result<Vec<Listener>, ConfigError> {
    const KEY: &str = "listeners";
    let mut listeners: Vec<Listener> = Vec::new();
    for entry in value.split(',').map(str::trim) {
        let (name, address) = entry
            .split_once("://")
            .ok_or_else(|| error(KEY, format!("{entry:?} is not NAME://host:port")))?;
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(error(
                KEY,
                format!("{name:?} is not a listener name (letters, digits, _ and -)"),
            ));
        }
        let (host, port) = split_host_port(KEY, address)?;
        let port = parse_port(KEY, port, entry)?;
        let name = name.to_ascii_uppercase();
        if listeners.iter().any(|l| l.name == name) {
            return Err(error(KEY, format!("listener name {name} appears twice")));
        }
        listeners.push(Listener {
            name,
            host: host.to_owned(),
            port,
        });
    }
    Ok(listeners)
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

    /// Validates properties text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut values: BTreeMap<String, (String, usize)> = BTreeMap::new();
        let mut kafka_keys_ignored = Vec::new();
        for (key, value, line) in parse_properties(text)? {
            if !KEYS.iter().any(|(known, _)| *known == key) {
                if !is_kafka_key(&key) {
                    return Err(ConfigError {
                        key: Some(key.clone()),
                        line: Some(line),
                        message: unknown_key_message(&key),
                    });
                }
                if let Some(refusal) = kafka_key_refusal(&key, &value) {
                    return Err(ConfigError {
                        key: Some(key.clone()),
                        line: Some(line),
                        message: refusal,
                    });
                }
                kafka_keys_ignored.push(key.clone());
            }
            if let Some((_, first_line)) = values.get(&key) {
                return Err(ConfigError {
                    key: Some(key.clone()),
                    line: Some(line),
                    message: format!("set twice (first on line {first_line})"),
                });
            }
            values.insert(key, (value, line));
        }
        let line_of = |key: &str| values.get(key).map(|(_, line)| *line);
        fn located<T>(
            line: Option<usize>,
            result: Result<T, ConfigError>,
        ) -> Result<T, ConfigError> {
            result.map_err(|mut e| {
                e.line = e.line.or(line);
                e
            })
        }
        let get = |key: &str| values.get(key).map(|(value, _)| value.as_str());
        let require = |key: &str| get(key).ok_or_else(|| error(key, "is required"));

        let roles = match get("process.roles") {
            Some(value) => located(line_of("process.roles"), parse_roles(value))?,
            None => {
                return Err(error(
                    "process.roles",
                    "is required: keel runs in KRaft mode only (broker, controller, or broker,controller)",
                ));
            }
        };
        let node_id = located(
            line_of("node.id"),
            parse_u64("node.id", require("node.id")?, 0, i32::MAX as u64),
        )? as u32;
        if let Some(broker_id) = get("broker.id")
            && broker_id.trim() != node_id.to_string()
        {
            // Kafka's rule in KRaft mode: the two names must not disagree.
            return located(
                line_of("broker.id"),
                Err(error(
                    "broker.id",
                    format!(
                        "{broker_id} differs from node.id ({node_id}); remove it or make them equal"
                    ),
                )),
            );
        }
        let voters = match get("controller.quorum.voters") {
            Some(value) => located(line_of("controller.quorum.voters"), parse_voters(value))?,
            None if get("controller.quorum.bootstrap.servers").is_some() => {
                return located(
                    line_of("controller.quorum.bootstrap.servers"),
                    Err(error(
                        "controller.quorum.bootstrap.servers",
                        "a dynamic quorum (KIP-853) is not supported yet: list the voters in controller.quorum.voters (id@host:port,...)",
                    )),
                );
            }
            None => return Err(error("controller.quorum.voters", "is required")),
        };
        if roles.controller && !voters.iter().any(|v| v.id == node_id) {
            return Err(error(
                "controller.quorum.voters",
                format!("this node (node.id={node_id}) is a controller but not one of the voters"),
            ));
        }
        if !roles.controller && voters.iter().any(|v| v.id == node_id) {
            // Kafka's rule: a voter that is not a controller could never vote, so the quorum
            // would count a member that does not exist.
            return Err(error(
                "controller.quorum.voters",
                format!(
                    "this node (node.id={node_id}) is only a broker but is listed as a voter; a broker's id must differ from every controller's"
                ),
            ));
        }
        let listeners = located(line_of("listeners"), parse_listeners(require("listeners")?))?;
        located(
            line_of("listener.security.protocol.map"),
            check_plaintext_listeners(get("listener.security.protocol.map"), &listeners),
        )?;
        let controller_listener_names: Vec<String> = require("controller.listener.names")?
            .split(',')
            .map(|name| name.trim().to_ascii_uppercase())
            .collect();
        for name in &controller_listener_names {
            let bound = listeners.iter().any(|l| &l.name == name);
            // A controller serves the quorum on these listeners; a broker only uses the name
            // to reach the controllers and must not bind it (Kafka's rule).
            let message = if roles.controller && !bound {
                format!("{name} is not one of the listeners")
            } else if !roles.controller && bound {
                format!(
                    "{name} is one of the listeners, but this node is only a broker: brokers do not serve the quorum"
                )
            } else {
                continue;
            };
            return located(
                line_of("controller.listener.names"),
                Err(error("controller.listener.names", message)),
            );
        }
        let broker_listeners: Vec<&Listener> = listeners
            .iter()
            .filter(|l| !controller_listener_names.contains(&l.name))
            .collect();
        if roles.broker && broker_listeners.is_empty() {
            return located(
                line_of("listeners"),
                Err(error(
                    "listeners",
                    "a broker needs a listener for clients besides controller.listener.names",
                )),
            );
        }
        let advertised_listeners = if roles.broker {
            located(
                line_of("advertised.listeners"),
                advertised(
                    get("advertised.listeners"),
                    &broker_listeners,
                    if roles.controller {
                        &controller_listener_names
                    } else {
                        &[]
                    },
                ),
            )?
        } else {
            Vec::new()
        };
        let first_log_dir = get("log.dirs")
            .and_then(|dirs| dirs.split(',').next())
            .map(str::trim);
        let metadata_log_dir = match get("metadata.log.dir")
            .or(first_log_dir)
            .filter(|d| !d.is_empty())
        {
            Some(dir) => PathBuf::from(dir),
            None => return Err(error("metadata.log.dir", "is required (or log.dirs)")),
        };
        let duration = |key: &str, default: u64, min: u64| -> Result<u64, ConfigError> {
            match get(key) {
                None => Ok(default),
                Some(value) => located(line_of(key), parse_u64(key, value, min, TIMEOUT_MS_MAX)),
            }
        };
        let election_timeout_ms = duration(
            "controller.quorum.election.timeout.ms",
            RAFT_ELECTION_TIMEOUT_MS,
            1,
        )?;
        let fetch_timeout_ms = duration(
            "controller.quorum.fetch.timeout.ms",
            RAFT_FETCH_TIMEOUT_MS,
            1,
        )?;
        let config = Config {
            properties: values
                .iter()
                .map(|(key, (value, _))| (key.clone(), value.clone()))
                .collect(),
            kafka_keys_ignored,
            roles,
            node_id,
            voters,
            listeners,
            controller_listener_names,
            metadata_log_dir,
            election_timeout_ms,
            election_backoff_max_ms: duration(
                "controller.quorum.election.backoff.max.ms",
                RAFT_ELECTION_BACKOFF_MAX_MS,
                1,
            )?,
            fetch_timeout_ms,
            request_timeout_ms: duration(
                "controller.quorum.request.timeout.ms",
                RAFT_REQUEST_TIMEOUT_MS,
                1,
            )?,
            retry_backoff_ms: duration(
                "controller.quorum.retry.backoff.ms",
                RAFT_RETRY_BACKOFF_MS,
                1,
            )?,
            append_linger_ms: duration(
                "controller.quorum.append.linger.ms",
                RAFT_APPEND_LINGER_MS,
                0,
            )?,
            segment_bytes: match get("metadata.log.segment.bytes") {
                None => SEGMENT_BYTES_DEFAULT,
                Some(value) => located(
                    line_of("metadata.log.segment.bytes"),
                    parse_u64(
                        "metadata.log.segment.bytes",
                        value,
                        u64::from(METADATA_SEGMENT_BYTES_MIN),
                        u64::from(SEGMENT_BYTES_MAX),
                    ),
                )? as u32,
            },
            max_idle_interval_ms: duration(
                "metadata.max.idle.interval.ms",
                METADATA_MAX_IDLE_INTERVAL_MS_DEFAULT,
                0,
            )?,
            socket_request_max_bytes: match get("socket.request.max.bytes") {
                None => SOCKET_REQUEST_BYTES_MAX_DEFAULT,
                Some(value) => located(
                    line_of("socket.request.max.bytes"),
                    parse_u64("socket.request.max.bytes", value, 1024, i32::MAX as u64),
                )? as u32,
            },
            max_connections: match get("max.connections") {
                None => SERVER_CLIENT_CONNECTIONS_DEFAULT,
                Some(value) => located(
                    line_of("max.connections"),
                    parse_u64(
                        "max.connections",
                        value,
                        1,
                        SERVER_CLIENT_CONNECTIONS_MAX as u64,
                    ),
                )? as usize,
            },
            max_connections_per_ip: match get("max.connections.per.ip") {
                None => SERVER_CONNECTIONS_PER_IP_DEFAULT,
                Some(value) => located(
                    line_of("max.connections.per.ip"),
                    parse_u64("max.connections.per.ip", value, 1, i32::MAX as u64),
                )? as u32,
            },
            connections_max_idle_ms: duration(
                "connections.max.idle.ms",
                SERVER_CONNECTIONS_IDLE_MS_DEFAULT,
                1,
            )?,
            queued_max_request_bytes: match get("queued.max.request.bytes") {
                None => SERVER_QUEUED_REQUEST_BYTES_DEFAULT,
                // Kafka's -1 (no limit) is exactly what this budget exists to prevent.
                Some("-1") => {
                    return located(
                        line_of("queued.max.request.bytes"),
                        Err(error(
                            "queued.max.request.bytes",
                            "-1 (unlimited) is not supported: keel needs a finite budget for partly read requests",
                        )),
                    );
                }
                Some(value) => located(
                    line_of("queued.max.request.bytes"),
                    parse_u64("queued.max.request.bytes", value, 1, i64::MAX as u64),
                )?,
            },
            snapshot_max_record_bytes: match get("metadata.log.max.record.bytes.between.snapshots")
            {
                None => SNAPSHOT_MAX_RECORD_BYTES_DEFAULT,
                Some(value) => located(
                    line_of("metadata.log.max.record.bytes.between.snapshots"),
                    parse_u64(
                        "metadata.log.max.record.bytes.between.snapshots",
                        value,
                        1,
                        i64::MAX as u64,
                    ),
                )?,
            },
            snapshot_max_interval_ms: duration(
                "metadata.log.max.snapshot.interval.ms",
                SNAPSHOT_MAX_INTERVAL_MS_DEFAULT,
                0,
            )?,
            broker_session_timeout_ms: duration(
                "broker.session.timeout.ms",
                BROKER_SESSION_TIMEOUT_MS_DEFAULT,
                1,
            )?,
            num_partitions: match get("num.partitions") {
                None => DEFAULT_NUM_PARTITIONS,
                Some(value) => located(
                    line_of("num.partitions"),
                    parse_u64("num.partitions", value, 1, i32::MAX as u64),
                )? as i32,
            },
            default_replication_factor: match get("default.replication.factor") {
                None => DEFAULT_REPLICATION_FACTOR,
                Some(value) => located(
                    line_of("default.replication.factor"),
                    parse_u64("default.replication.factor", value, 1, i16::MAX as u64),
                )? as i16,
            },
            advertised_listeners,
            broker_heartbeat_interval_ms: duration(
                "broker.heartbeat.interval.ms",
                BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT,
                1,
            )?,
            rack: get("broker.rack")
                .map(str::trim)
                .filter(|rack| !rack.is_empty())
                .map(str::to_owned),
        };
        if config.roles.broker
            && config.broker_heartbeat_interval_ms >= config.broker_session_timeout_ms
        {
            return Err(error(
                "broker.heartbeat.interval.ms",
                format!(
                    "{} must be below broker.session.timeout.ms ({}), else a live broker is fenced",
                    config.broker_heartbeat_interval_ms, config.broker_session_timeout_ms
                ),
            ));
        }
        if config.queued_max_request_bytes < u64::from(config.socket_request_max_bytes) {
            // Kafka's rule: a budget smaller than one request could never let the largest
            // request in.
            return located(
                line_of("queued.max.request.bytes"),
                Err(error(
                    "queued.max.request.bytes",
                    format!(
                        "{} must be at least socket.request.max.bytes ({}), else the largest request could never be read",
                        config.queued_max_request_bytes, config.socket_request_max_bytes
                    ),
                )),
            );
        }
        if config.max_idle_interval_ms != 0
            && config.max_idle_interval_ms >= config.fetch_timeout_ms
        {
            return Err(error(
                "metadata.max.idle.interval.ms",
                format!(
                    "{} must be below controller.quorum.fetch.timeout.ms ({}) or 0, else an idle quorum looks dead",
                    config.max_idle_interval_ms, config.fetch_timeout_ms
                ),
            ));
        }
        Ok(config)
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

/// Kafka's security protocols, of which keel serves the first only (for now).
const SECURITY_PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// Every listener's security protocol (`listener.security.protocol.map`, where a listener not
/// in the map and named after a protocol uses that protocol, as in Kafka, and any other name
/// is PLAINTEXT) must be PLAINTEXT: a node that was asked for TLS or SASL refuses to start
/// rather than serve that listener unencrypted and unauthenticated.
fn check_plaintext_listeners(map: Option<&str>, listeners: &[Listener]) -> Result<(), ConfigError> {
    const KEY: &str = "listener.security.protocol.map";
    let mut mapped: Vec<(String, String)> = Vec::new();
    for entry in map.unwrap_or("").split(',').map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let Some((name, protocol)) = entry.split_once(':') else {
            return Err(error(KEY, format!("{entry:?} is not NAME:PROTOCOL")));
        };
        let protocol = protocol.trim().to_ascii_uppercase();
        if !SECURITY_PROTOCOLS.contains(&protocol.as_str()) {
            return Err(error(
                KEY,
                format!(
                    "{protocol} is not a security protocol (one of {})",
                    SECURITY_PROTOCOLS.join(", ")
                ),
            ));
        }
        mapped.push((name.trim().to_ascii_uppercase(), protocol));
    }
    for listener in listeners {
        let protocol = match mapped.iter().find(|(name, _)| *name == listener.name) {
            Some((_, protocol)) => protocol.as_str(),
            None if SECURITY_PROTOCOLS.contains(&listener.name.as_str()) => &listener.name,
            None => "PLAINTEXT",
        };
        if protocol != "PLAINTEXT" {
            return Err(error(
                KEY,
                format!(
                    "listener {} would use {protocol}, but keel serves PLAINTEXT only (TLS and SASL are not supported yet); it will not serve that listener unprotected",
                    listener.name
                ),
            ));
        }
    }
    Ok(())
}

/// A key that Kafka defines for a broker or controller (Kafka 4.x's, or a 3.9 file's retired
/// ones), directly or behind a `listener.name.<listener>.` prefix.
fn is_kafka_key(key: &str) -> bool {
    crate::metadata::configs::broker_config_of(key).is_some() || KAFKA_KEYS_RETIRED.contains(&key)
}

/// Why a Kafka key keel does not use cannot be ignored, if it cannot: ignoring it would run
/// the node other than its operator asked.
fn kafka_key_refusal(key: &str, value: &str) -> Option<String> {
    match key {
        "authorizer.class.name" if !value.trim().is_empty() => Some(format!(
            "keel has no authorizer yet, so it cannot enforce {}: remove the key (every client may do everything) rather than believe it is enforced",
            value.trim()
        )),
        _ => None,
    }
}

/// The error message for a key neither keel nor Kafka defines, with the nearest known key.
fn unknown_key_message(key: &str) -> String {
    const LISTED: &str = "keel's keys are listed in docs/operations.md";
    let candidates = KEYS
        .iter()
        .map(|(name, _)| (*name, true))
        .chain(BROKER_CONFIGS.iter().map(|def| (def.name, false)))
        .chain(KAFKA_KEYS_RETIRED.iter().map(|name| (*name, false)));
    let nearest = candidates
        .map(|(name, keel)| (edit_distance(key, name), name, keel))
        .min_by_key(|(distance, name, _)| (*distance, *name));
    match nearest {
        Some((distance, name, keel)) if distance <= CONFIG_KEY_SUGGESTION_DISTANCE_MAX => {
            let whose = if keel {
                ""
            } else {
                " (a Kafka key keel ignores)"
            };
            format!("unknown key; did you mean {name}{whose}? ({LISTED})")
        }
        _ => format!("unknown key, neither keel's nor Kafka's ({LISTED})"),
    }
}

/// Levenshtein distance between two keys, by bytes (keys are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &ca) in a.as_bytes().iter().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

fn parse_roles(value: &str) -> Result<Roles, ConfigError> {
    const KEY: &str = "process.roles";
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

/// `advertised.listeners` for the broker listeners `bound`: each named entry replaces the
/// address of the listener with that name; unnamed listeners advertise their own address,
/// which must then be one a client can connect to.
/// The broker's advertised listeners: `advertised.listeners` where it names a broker
/// listener, the bound address otherwise. A combined node may also advertise its controller
/// listeners, as Kafka 3.9's own `server.properties` does; keel's voters are reached at the
/// addresses in `controller.quorum.voters`, so those entries are accepted and not used.
fn advertised(
    value: Option<&str>,
    bound: &[&Listener],
    controller_listener_names: &[String],
) -> Result<Vec<Listener>, ConfigError> {
    const KEY: &str = "advertised.listeners";
    let given: Vec<Listener> = match value {
        Some(value) => parse_listeners(value).map_err(|mut e| {
            e.key = Some(KEY.into());
            e
        })?,
        None => Vec::new(),
    }
    .into_iter()
    .filter(|a| !controller_listener_names.contains(&a.name))
    .collect();
    if let Some(stray) = given
        .iter()
        .find(|a| !bound.iter().any(|l| l.name == a.name))
    {
        return Err(error(
            KEY,
            format!("{} is not one of the broker's listeners", stray.name),
        ));
    }
    bound
        .iter()
        .map(|listener| {
            let address = given
                .iter()
                .find(|a| a.name == listener.name)
                .unwrap_or(listener);
            let host = address.host.trim_matches(|c| c == '[' || c == ']');
            if host.is_empty() || host == "0.0.0.0" || host == "::" {
                return Err(error(
                    KEY,
                    format!(
                        "listener {} binds every interface ({:?}); say which address clients should use in advertised.listeners",
                        listener.name, address.host
                    ),
                ));
            }
            Ok((*address).clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "\
process.roles=controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095
listeners=CONTROLLER://127.0.0.1:9093
controller.listener.names=CONTROLLER
metadata.log.dir=/var/lib/keel/meta
";

    fn with(extra: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("{MINIMAL}{extra}\n"))
    }

    fn key_of(result: Result<Config, ConfigError>) -> String {
        result.unwrap_err().key.unwrap()
    }

    #[test]
    fn a_minimal_controller_config_gets_kafkas_defaults() {
        let config = Config::parse(MINIMAL).unwrap();
        assert_eq!(config.node_id, 1);
        assert_eq!(config.voters.len(), 3);
        assert_eq!(
            config.voters[1],
            VoterAddress {
                id: 2,
                host: "127.0.0.1".into(),
                port: 9094
            }
        );
        assert_eq!(config.local_voter().unwrap().port, 9093);
        assert_eq!(config.controller_listeners().count(), 1);
        assert_eq!(config.metadata_log_dir, PathBuf::from("/var/lib/keel/meta"));
        assert_eq!(
            (
                config.election_timeout_ms,
                config.fetch_timeout_ms,
                config.append_linger_ms
            ),
            (1000, 2000, 25)
        );
        assert_eq!(config.max_idle_interval_ms, 500);
        assert_eq!(config.socket_request_max_bytes, 100 * 1024 * 1024);
        assert_eq!(config.max_connections, 1024);
        assert_eq!(config.max_connections_per_ip, i32::MAX as u32);
        assert_eq!(config.connections_max_idle_ms, 600_000);
        assert_eq!(config.queued_max_request_bytes, 256 * 1024 * 1024);
    }

    #[test]
    fn connection_limits_are_parsed_and_checked() {
        let config = with(
            "max.connections=5000\nmax.connections.per.ip=10\nconnections.max.idle.ms=30000\nqueued.max.request.bytes=1073741824",
        )
        .unwrap();
        assert_eq!(
            (
                config.max_connections,
                config.max_connections_per_ip,
                config.connections_max_idle_ms,
                config.queued_max_request_bytes
            ),
            (5000, 10, 30_000, 1 << 30)
        );
        for (extra, key) in [
            ("max.connections=0", "max.connections"),
            ("max.connections=16385", "max.connections"),
            ("max.connections=lots", "max.connections"),
            ("max.connections.per.ip=0", "max.connections.per.ip"),
            (
                "max.connections.per.ip=2147483648",
                "max.connections.per.ip",
            ),
            ("connections.max.idle.ms=0", "connections.max.idle.ms"),
            (
                "connections.max.idle.ms=86400001",
                "connections.max.idle.ms",
            ),
            ("queued.max.request.bytes=0", "queued.max.request.bytes"),
            ("queued.max.request.bytes=-5", "queued.max.request.bytes"),
        ] {
            let err = with(extra).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{extra}: {err}");
            assert_eq!(err.line, Some(7), "{extra}: {err}");
        }
        let unlimited = with("queued.max.request.bytes=-1").unwrap_err();
        assert!(unlimited.message.contains("finite budget"), "{unlimited}");
        assert_eq!(unlimited.line, Some(7));
        // The budget must hold the largest request (Kafka's rule), whichever key moves.
        let small = with("queued.max.request.bytes=1048576").unwrap_err();
        assert_eq!(small.key.as_deref(), Some("queued.max.request.bytes"));
        assert!(
            small.message.contains("socket.request.max.bytes"),
            "{small}"
        );
        let fits = with("queued.max.request.bytes=1048576\nsocket.request.max.bytes=1048576");
        assert_eq!(fits.unwrap().queued_max_request_bytes, 1 << 20);
    }

    #[test]
    fn properties_syntax_follows_java() {
        let entries = parse_properties(
            "# comment\n! also a comment\n  a = 1 \nb:2\nc 3\nd=x\\\n   y\ne=tab\\there\nf=\\u0041\ng=\n",
        )
        .unwrap();
        let pairs: Vec<(&str, &str)> = entries
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "xy"),
                ("e", "tab\there"),
                ("f", "A"),
                ("g", "")
            ]
        );
        assert_eq!(
            entries[3].2, 6,
            "line numbers are the first line of a continued entry"
        );
    }

    #[test]
    fn every_required_key_is_named_when_missing() {
        for key in [
            "process.roles",
            "node.id",
            "controller.quorum.voters",
            "listeners",
            "controller.listener.names",
        ] {
            let text: String = MINIMAL
                .lines()
                .filter(|l| !l.starts_with(key))
                .map(|l| format!("{l}\n"))
                .collect();
            let err = Config::parse(&text).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{err}");
            assert!(err.message.contains("required"), "{err}");
        }
        let text: String = MINIMAL
            .lines()
            .filter(|l| !l.starts_with("metadata.log.dir"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(key_of(Config::parse(&text)), "metadata.log.dir");
        let with_log_dirs = format!("{text}log.dirs=/data/a,/data/b\n");
        assert_eq!(
            Config::parse(&with_log_dirs).unwrap().metadata_log_dir,
            PathBuf::from("/data/a")
        );
    }

    #[test]
    fn an_unknown_or_repeated_key_is_an_error_with_its_line() {
        let err = with("num.netwrok.threads=3").unwrap_err();
        assert_eq!(
            (err.key.as_deref(), err.line),
            (Some("num.netwrok.threads"), Some(7))
        );
        assert_eq!(
            err.to_string(),
            "line 7: num.netwrok.threads: unknown key; did you mean num.network.threads (a Kafka key keel ignores)? (keel's keys are listed in docs/operations.md)"
        );
        let err = with("node.id=2").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("node.id"));
        assert!(err.message.contains("first on line 2"), "{err}");
    }

    #[test]
    fn a_misspelt_key_is_refused_with_the_nearest_key() {
        for (typo, nearest) in [
            ("num.partiton", "num.partitions"),
            ("controller.quorum.voter", "controller.quorum.voters"),
            ("metadata.log.dirs", "metadata.log.dir"),
            ("log.retention.hour", "log.retention.hours"),
            ("zookeeper.conect", "zookeeper.connect"),
        ] {
            let err = with(&format!("{typo}=1")).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(typo));
            assert!(
                err.message
                    .starts_with(&format!("unknown key; did you mean {nearest}")),
                "{typo}: {err}"
            );
        }
        let err = with("favourite.colour=blue").unwrap_err();
        assert_eq!(
            err.message,
            "unknown key, neither keel's nor Kafka's (keel's keys are listed in docs/operations.md)"
        );
    }

    #[test]
    fn kafka_keys_keel_does_not_use_are_accepted_and_listed() {
        let config = with(
            "num.network.threads=3\nlog.retention.hours=168\nsocket.send.buffer.bytes=102400\n\
             listener.name.controller.ssl.keystore.location=/etc/k.pem\n\
             listener.name.controller.scram-sha-256.sasl.jaas.config=x\n\
             zookeeper.connect=localhost:2181\ninter.broker.protocol.version=3.9",
        )
        .unwrap();
        assert_eq!(
            config.kafka_keys_ignored,
            [
                "num.network.threads",
                "log.retention.hours",
                "socket.send.buffer.bytes",
                "listener.name.controller.ssl.keystore.location",
                "listener.name.controller.scram-sha-256.sasl.jaas.config",
                "zookeeper.connect",
                "inter.broker.protocol.version",
            ]
        );
        // They are still what DescribeConfigs shows as this node's static configuration.
        assert_eq!(config.properties["log.retention.hours"], "168");
        assert!(
            Config::parse(MINIMAL)
                .unwrap()
                .kafka_keys_ignored
                .is_empty()
        );
        assert!(with("listener.name.controller.no.such.key=1").is_err());
    }

    #[test]
    fn kafkas_own_server_properties_is_accepted() {
        let text = include_str!("../tests/fixtures/kafka-3.9/server.properties");
        let config = Config::parse(text).unwrap();
        assert!(config.roles.broker && config.roles.controller);
        assert_eq!(config.node_id, 1);
        assert_eq!(
            config.metadata_log_dir,
            PathBuf::from("/tmp/kraft-combined-logs")
        );
        assert_eq!(
            config.kafka_keys_ignored,
            [
                "inter.broker.listener.name",
                "num.network.threads",
                "num.io.threads",
                "socket.send.buffer.bytes",
                "socket.receive.buffer.bytes",
                "num.recovery.threads.per.data.dir",
                "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr",
                "log.retention.hours",
                "log.segment.bytes",
                "log.retention.check.interval.ms",
            ]
        );
        for file in [
            include_str!("../tests/fixtures/kafka-3.9/broker.properties"),
            include_str!("../tests/fixtures/kafka-3.9/controller.properties"),
        ] {
            let err = Config::parse(file).unwrap_err();
            assert_eq!(
                err.key.as_deref(),
                Some("controller.quorum.bootstrap.servers"),
                "{err}"
            );
            assert!(err.message.contains("controller.quorum.voters"), "{err}");
        }
    }

    #[test]
    fn a_listener_asked_to_use_tls_or_sasl_is_refused_not_served_plain() {
        let mapped = |map: &str| {
            with(&format!("listener.security.protocol.map={map}"))
                .map(|_| ())
                .map_err(|e| e.message)
        };
        assert_eq!(mapped("CONTROLLER:PLAINTEXT,SSL:SSL"), Ok(()));
        assert!(
            mapped("CONTROLLER:SSL")
                .unwrap_err()
                .contains("PLAINTEXT only")
        );
        assert!(
            mapped("CONTROLLER:SASL_PLAINTEXT")
                .unwrap_err()
                .contains("would use SASL_PLAINTEXT")
        );
        assert!(
            mapped("CONTROLLER:TLS")
                .unwrap_err()
                .contains("not a security protocol")
        );
        assert!(mapped("CONTROLLER").unwrap_err().contains("NAME:PROTOCOL"));
        // A listener named after a protocol uses it, as in Kafka.
        let named_ssl = MINIMAL.replace("CONTROLLER://", "SSL://").replace(
            "controller.listener.names=CONTROLLER",
            "controller.listener.names=SSL",
        );
        let err = Config::parse(&named_ssl).unwrap_err();
        assert!(err.message.contains("listener SSL would use SSL"), "{err}");
    }

    #[test]
    fn ignoring_an_authorizer_would_open_the_cluster_so_it_is_refused() {
        assert!(with("authorizer.class.name=").is_ok());
        let err =
            with("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer")
                .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("authorizer.class.name"));
        assert!(err.message.contains("no authorizer"), "{err}");
    }

    #[test]
    fn broker_id_may_repeat_node_id_but_not_contradict_it() {
        assert!(with("broker.id=1").is_ok());
        let err = with("broker.id=7").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("broker.id"));
        assert!(err.message.contains("differs from node.id (1)"), "{err}");
    }

    #[test]
    fn a_zookeeper_mode_file_is_told_keel_runs_kraft_only() {
        let err = Config::parse(
            "broker.id=0\nzookeeper.connect=localhost:2181\nlog.dirs=/tmp/kafka-logs\n",
        )
        .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("process.roles"));
        assert!(err.message.contains("KRaft mode only"), "{err}");
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("node.id", "node.id"), 0);
        assert_eq!(edit_distance("node.ids", "node.id"), 1);
        assert_eq!(edit_distance("ndoe.id", "node.id"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn bad_values_are_named() {
        for (extra, key) in [
            (
                "controller.quorum.fetch.timeout.ms=soon",
                "controller.quorum.fetch.timeout.ms",
            ),
            (
                "controller.quorum.election.timeout.ms=0",
                "controller.quorum.election.timeout.ms",
            ),
            (
                "controller.quorum.append.linger.ms=-5",
                "controller.quorum.append.linger.ms",
            ),
            (
                "metadata.log.segment.bytes=1000",
                "metadata.log.segment.bytes",
            ),
            (
                "metadata.log.segment.bytes=99999999999",
                "metadata.log.segment.bytes",
            ),
            (
                "socket.request.max.bytes=3000000000",
                "socket.request.max.bytes",
            ),
            (
                "metadata.max.idle.interval.ms=5000",
                "metadata.max.idle.interval.ms",
            ),
        ] {
            assert_eq!(key_of(with(extra)), key, "{extra}");
        }
        assert_eq!(
            with("metadata.log.segment.bytes=1048576")
                .unwrap()
                .segment_bytes,
            1 << 20,
            "1 MiB is allowed"
        );
        assert_eq!(
            with("metadata.max.idle.interval.ms=0")
                .unwrap()
                .max_idle_interval_ms,
            0
        );
    }

    #[test]
    fn voters_and_listeners_are_checked() {
        let replace = |from: &str, to: &str| Config::parse(&MINIMAL.replace(from, to));
        for bad in [
            "1@127.0.0.1",
            "x@127.0.0.1:9093",
            "1@:9093",
            "1@127.0.0.1:0",
            "1@h:1,1@h:2",
            "1127.0.0.1:9093",
        ] {
            let err =
                replace("1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095", bad).unwrap_err();
            assert_eq!(
                err.key.as_deref(),
                Some("controller.quorum.voters"),
                "{bad}: {err}"
            );
        }
        let err = replace("node.id=1", "node.id=4").unwrap_err();
        assert!(err.message.contains("not one of the voters"), "{err}");
        for bad in [
            "127.0.0.1:9093",
            "CONTROLLER://127.0.0.1",
            "CONTROLLER://127.0.0.1:9093,CONTROLLER://:9094",
            "C D://h:1",
        ] {
            let err = replace("CONTROLLER://127.0.0.1:9093", bad).unwrap_err();
            assert_eq!(err.key.as_deref(), Some("listeners"), "{bad}: {err}");
        }
        let err = replace(
            "controller.listener.names=CONTROLLER",
            "controller.listener.names=PLAINTEXT",
        )
        .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("controller.listener.names"));
        let v6 = replace("CONTROLLER://127.0.0.1:9093", "CONTROLLER://[::1]:9093").unwrap();
        assert_eq!(
            v6.listeners[0].bind_address().unwrap(),
            "[::1]:9093".parse().unwrap()
        );
        let all = replace("CONTROLLER://127.0.0.1:9093", "controller://:9093").unwrap();
        assert_eq!(all.listeners[0].name, "CONTROLLER");
        assert_eq!(
            all.listeners[0].bind_address().unwrap(),
            "0.0.0.0:9093".parse().unwrap()
        );
    }

    #[test]
    fn the_shipped_example_config_is_valid() {
        let text = include_str!("../config/controller.properties");
        let config = Config::parse(text).unwrap();
        assert_eq!(config.node_id, 1);
        assert_eq!(config.local_voter().unwrap().port, config.listeners[0].port);
        let broker = Config::parse(include_str!("../config/broker.properties")).unwrap();
        assert!(broker.roles.broker && !broker.roles.controller);
        assert_eq!(broker.voters, config.voters);
        assert_eq!(broker.advertised_listeners[0].port, 9092);
    }

    #[test]
    fn roles_are_checked() {
        let err =
            Config::parse(&MINIMAL.replace("process.roles=controller", "process.roles=leader"))
                .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("process.roles"));
        assert_eq!(err.line, Some(1));
        let err = Config::parse(&MINIMAL.replace(
            "process.roles=controller",
            "process.roles=controller,controller",
        ))
        .unwrap_err();
        assert!(err.message.contains("twice"), "{err}");
    }

    const BROKER: &str = "\
process.roles=broker
node.id=4
controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095
listeners=PLAINTEXT://127.0.0.1:9092
controller.listener.names=CONTROLLER
metadata.log.dir=/var/lib/keel/meta
";

    #[test]
    fn a_broker_binds_its_client_listeners_and_advertises_them() {
        let config = Config::parse(BROKER).unwrap();
        assert!(config.roles.broker && !config.roles.controller);
        let bound: Vec<&str> = config.bound_listeners().map(|l| l.name.as_str()).collect();
        assert_eq!(bound, ["PLAINTEXT"]);
        assert_eq!(config.advertised_listeners[0].host, "127.0.0.1");
        assert_eq!(config.advertised_listeners[0].port, 9092);
        assert_eq!(config.broker_heartbeat_interval_ms, 2_000);
        assert_eq!(config.rack, None);

        let config = Config::parse(&format!(
            "{BROKER}advertised.listeners=PLAINTEXT://kafka-4.example:19092\nbroker.rack=r2\n"
        ))
        .unwrap();
        assert_eq!(config.advertised_listeners[0].host, "kafka-4.example");
        assert_eq!(config.advertised_listeners[0].port, 19092);
        assert_eq!(config.rack.as_deref(), Some("r2"));
    }

    #[test]
    fn broker_configurations_that_cannot_work_are_refused() {
        let refused = |text: String| Config::parse(&text).unwrap_err();
        let err = refused(BROKER.replace("node.id=4", "node.id=2"));
        assert!(err.message.contains("listed as a voter"), "{err}");
        let err = refused(BROKER.replace(
            "listeners=PLAINTEXT://127.0.0.1:9092",
            "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9096",
        ));
        assert_eq!(
            err.key.as_deref(),
            Some("controller.listener.names"),
            "{err}"
        );
        let err = refused(BROKER.replace(
            "listeners=PLAINTEXT://127.0.0.1:9092",
            "listeners=PLAINTEXT://0.0.0.0:9092",
        ));
        assert_eq!(err.key.as_deref(), Some("advertised.listeners"), "{err}");
        let err = refused(format!(
            "{BROKER}advertised.listeners=EXTERNAL://kafka:9092\n"
        ));
        assert!(err.message.contains("EXTERNAL"), "{err}");
        let err = refused(format!("{BROKER}broker.heartbeat.interval.ms=9000\n"));
        assert_eq!(
            err.key.as_deref(),
            Some("broker.heartbeat.interval.ms"),
            "{err}"
        );
    }

    #[test]
    fn a_combined_node_binds_both_kinds_of_listener() {
        let config = Config::parse(
            &MINIMAL
                .replace(
                    "process.roles=controller",
                    "process.roles=broker,controller",
                )
                .replace(
                    "listeners=CONTROLLER://127.0.0.1:9093",
                    "listeners=CONTROLLER://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092",
                ),
        )
        .unwrap();
        let bound: Vec<&str> = config.bound_listeners().map(|l| l.name.as_str()).collect();
        assert_eq!(bound, ["CONTROLLER", "PLAINTEXT"]);
        assert_eq!(config.advertised_listeners.len(), 1);
        // Without a client listener, a broker has nothing to serve.
        let err = Config::parse(&MINIMAL.replace(
            "process.roles=controller",
            "process.roles=broker,controller",
        ))
        .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("listeners"), "{err}");
    }

    #[test]
    fn initial_controllers_must_name_exactly_the_configured_voters_with_distinct_directories() {
        let voters = Config::parse(MINIMAL).unwrap().voters;
        let a = "pFD0dYoBTmO13BFhHp3EXA";
        let b = "Mgv9dW4XRAaKXxP5vT8a9g";
        let c = "3Db5QLSqSZieL3rJBUUegA";
        let listed = format!("1@127.0.0.1:9093:{a},2@127.0.0.1:9094:{b},3@127.0.0.1:9095:{c}");
        let parsed = parse_initial_controllers(&listed, &voters).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].voter, voters[1]);
        assert_eq!(parsed[1].directory_id.to_string(), b);

        let refused = |text: &str| {
            parse_initial_controllers(text, &voters)
                .unwrap_err()
                .message
        };
        let missing = refused(&format!("1@127.0.0.1:9093:{a},2@127.0.0.1:9094:{b}"));
        assert!(missing.contains("controller.quorum.voters is"), "{missing}");
        let moved = refused(&listed.replace(":9095:", ":9096:"));
        assert!(moved.contains("3@127.0.0.1:9096"), "{moved}");
        let twin = refused(&listed.replace(c, a));
        assert!(twin.contains("same directory id"), "{twin}");
        let no_directory = refused("1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095");
        assert!(
            no_directory.contains("not a directory id"),
            "{no_directory}"
        );
        let zero = refused(&listed.replace(a, "AAAAAAAAAAAAAAAAAAAAAA"));
        assert!(zero.contains("zero"), "{zero}");
    }
}
