//! The table of keel's configuration keys: each key's name, the type and bounds of its value,
//! its default and one line saying what it does, written once.
//!
//! [`Config::parse`](super::Config::parse) reads every key through its entry here (an integer
//! key's range and default come from `constants.rs`), error messages name a key by its
//! entry, and the configuration table of `docs/operations.md` is [`markdown_table`] of
//! [`KEYS`] (`tests/docs_tables.rs` fails when the page and the table differ). Minimums of 0
//! ("0 turns it off") and 1 ("at least one") are what the key means, not limits, and are
//! written here; every other bound is a constant with its reason.

use std::fmt::Write;

use crate::constants::{
    BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT, BROKER_SESSION_TIMEOUT_MS_DEFAULT, CONFIG_INT_MAX,
    CONFIG_LONG_MAX, CONFIG_SHORT_MAX, DEFAULT_NUM_PARTITIONS,
    METADATA_MAX_IDLE_INTERVAL_MS_DEFAULT, METADATA_SEGMENT_BYTES_MIN, RAFT_APPEND_LINGER_MS,
    RAFT_ELECTION_BACKOFF_MAX_MS, RAFT_ELECTION_TIMEOUT_MS, RAFT_FETCH_TIMEOUT_MS,
    RAFT_REQUEST_TIMEOUT_MS, RAFT_RETRY_BACKOFF_MS, SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MAX,
    SERVER_CLIENT_CONNECTIONS_DEFAULT, SERVER_CLIENT_CONNECTIONS_MAX,
    SERVER_CONNECTIONS_IDLE_MS_DEFAULT, SERVER_CONNECTIONS_PER_IP_DEFAULT,
    SERVER_QUEUED_REQUEST_BYTES_DEFAULT, SNAPSHOT_MAX_INTERVAL_MS_DEFAULT,
    SNAPSHOT_MAX_RECORD_BYTES_DEFAULT, SOCKET_REQUEST_BYTES_MAX_DEFAULT, SOCKET_REQUEST_BYTES_MIN,
    TIMEOUT_MS_MAX,
};

/// What an integer key counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    Bytes,
    /// Ids, connections, partitions, replicas.
    Number,
}

/// A key whose value is an integer in `min..=max`.
#[derive(Debug, PartialEq, Eq)]
pub struct IntegerKey {
    pub name: &'static str,
    pub unit: Unit,
    pub min: u64,
    pub max: u64,
    /// The value when the key is absent; `None`: the key is required.
    pub default: Option<u64>,
    pub doc: &'static str,
}

/// A key whose value has its own syntax (a list, an address, a path), read by the key's own
/// parser in the modules beside this one.
#[derive(Debug, PartialEq, Eq)]
pub struct TextKey {
    pub name: &'static str,
    /// The value's shape, in Markdown.
    pub syntax: &'static str,
    /// What applies when the key is absent ("required", or empty for nothing), in Markdown.
    pub default: &'static str,
    pub doc: &'static str,
}

/// One entry of [`KEYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Integer(&'static IntegerKey),
    Text(&'static TextKey),
}

impl Key {
    pub fn name(self) -> &'static str {
        match self {
            Key::Integer(key) => key.name,
            Key::Text(key) => key.name,
        }
    }

    pub fn doc(self) -> &'static str {
        match self {
            Key::Integer(key) => key.doc,
            Key::Text(key) => key.doc,
        }
    }

    /// The "Value" cell: the syntax, or the range and unit.
    fn value_cell(self) -> String {
        match self {
            Key::Text(key) => key.syntax.to_owned(),
            Key::Integer(key) => match key.unit {
                Unit::Milliseconds => format!("{}-{} ms", key.min, key.max),
                Unit::Bytes => format!("{}-{} bytes", key.min, key.max),
                Unit::Number => format!("{}-{}", key.min, key.max),
            },
        }
    }

    /// The "Default" cell: the value, with a readable form of a large one.
    fn default_cell(self) -> String {
        match self {
            Key::Text(key) => key.default.to_owned(),
            Key::Integer(IntegerKey { default: None, .. }) => REQUIRED.to_owned(),
            Key::Integer(IntegerKey {
                default: Some(value),
                unit,
                ..
            }) => match readable(*unit, *value) {
                Some(readable) => format!("{value} ({readable})"),
                None => value.to_string(),
            },
        }
    }
}

/// `64 MiB` for 67108864 bytes, `10 min` for 600000 ms; `None` when the number says it best.
fn readable(unit: Unit, value: u64) -> Option<String> {
    let steps: &[(u64, &str)] = match unit {
        Unit::Bytes => &[(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")],
        Unit::Milliseconds => &[(3_600_000, "h"), (60_000, "min"), (1_000, "s")],
        Unit::Number => &[],
    };
    steps
        .iter()
        .find(|(step, _)| value >= *step && value.is_multiple_of(*step))
        .map(|(step, name)| format!("{} {name}", value / step))
}

const REQUIRED: &str = "required";

pub const PROCESS_ROLES: TextKey = TextKey {
    name: "process.roles",
    syntax: "`controller`, `broker` or `broker,controller`",
    default: REQUIRED,
    doc: "This node's roles; both make a combined node. Without it the file is taken for a ZooKeeper-mode one: keel runs in KRaft mode only",
};

pub const NODE_ID: IntegerKey = IntegerKey {
    name: "node.id",
    unit: Unit::Number,
    min: 0,
    max: CONFIG_INT_MAX,
    default: None,
    doc: "This node's id, unique in the cluster",
};

pub const CONTROLLER_QUORUM_VOTERS: TextKey = TextKey {
    name: "controller.quorum.voters",
    syntax: "`id@host:port,...`",
    default: REQUIRED,
    doc: "Every voter, the same list on every node; a controller is one of them, a broker-only node is none of them",
};

pub const LISTENERS: TextKey = TextKey {
    name: "listeners",
    syntax: "`NAME://host:port,...`",
    default: REQUIRED,
    doc: "The listeners to bind; an empty host binds every interface",
};

pub const CONTROLLER_LISTENER_NAMES: TextKey = TextKey {
    name: "controller.listener.names",
    syntax: "`NAME,...`",
    default: REQUIRED,
    doc: "The listener(s) the quorum uses, e.g. `CONTROLLER`. A controller binds them; a broker-only node must not (it only learns the name)",
};

pub const METADATA_LOG_DIR: TextKey = TextKey {
    name: "metadata.log.dir",
    syntax: "a directory",
    default: "required (or `log.dirs`)",
    doc: "Directory of the metadata log; put it on its own disk",
};

pub const LOG_DIRS: TextKey = TextKey {
    name: "log.dirs",
    syntax: "`dir,...`",
    default: "",
    doc: "Used (its first entry) when `metadata.log.dir` is not set",
};

pub const CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS: IntegerKey = IntegerKey {
    name: "controller.quorum.election.timeout.ms",
    unit: Unit::Milliseconds,
    min: 1,
    max: TIMEOUT_MS_MAX,
    default: Some(RAFT_ELECTION_TIMEOUT_MS),
    doc: "Base election timeout; each wait is drawn from [T, 2T)",
};

pub const CONTROLLER_QUORUM_FETCH_TIMEOUT_MS: IntegerKey = IntegerKey {
    name: "controller.quorum.fetch.timeout.ms",
    unit: Unit::Milliseconds,
    min: 1,
    max: TIMEOUT_MS_MAX,
    default: Some(RAFT_FETCH_TIMEOUT_MS),
    doc: "A follower that has not heard from its leader this long starts a pre-vote; a leader not fetched from by a majority for 1.5 x this resigns (check-quorum). A follower whose connection to the leader is reset or refused (the leader's process died) does not wait for it: it starts a pre-vote after a random delay below 200 ms (at most a quarter of this), and a voter that lost its connection too grants it; a paused or partitioned leader still waits out this timeout",
};

pub const CONTROLLER_QUORUM_ELECTION_BACKOFF_MAX_MS: IntegerKey = IntegerKey {
    name: "controller.quorum.election.backoff.max.ms",
    unit: Unit::Milliseconds,
    min: 1,
    max: TIMEOUT_MS_MAX,
    default: Some(RAFT_ELECTION_BACKOFF_MAX_MS),
    doc: "Cap of the backoff after a lost election",
};

pub const CONTROLLER_QUORUM_REQUEST_TIMEOUT_MS: IntegerKey = IntegerKey {
    name: "controller.quorum.request.timeout.ms",
    unit: Unit::Milliseconds,
    min: 1,
    max: TIMEOUT_MS_MAX,
    default: Some(RAFT_REQUEST_TIMEOUT_MS),
    doc: "A quorum request unanswered this long (after a fetch's wait) is resent. Kafka's is 2000; keel retries a lost fetch at least twice within the fetch timeout, so one lost message never costs the leader",
};

pub const CONTROLLER_QUORUM_RETRY_BACKOFF_MS: IntegerKey = IntegerKey {
    name: "controller.quorum.retry.backoff.ms",
    unit: Unit::Milliseconds,
    min: 1,
    max: TIMEOUT_MS_MAX,
    default: Some(RAFT_RETRY_BACKOFF_MS),
    doc: "Wait before retrying after an error answer",
};

pub const CONTROLLER_QUORUM_APPEND_LINGER_MS: IntegerKey = IntegerKey {
    name: "controller.quorum.append.linger.ms",
    unit: Unit::Milliseconds,
    min: 0,
    max: TIMEOUT_MS_MAX,
    default: Some(RAFT_APPEND_LINGER_MS),
    doc: "How long the leader gathers appends before flushing: the group-commit window. On a spinning disk one flush costs a rotation anyway, so gathering costs little and multiplies throughput",
};

pub const METADATA_LOG_SEGMENT_BYTES: IntegerKey = IntegerKey {
    name: "metadata.log.segment.bytes",
    unit: Unit::Bytes,
    min: METADATA_SEGMENT_BYTES_MIN as u64,
    max: SEGMENT_BYTES_MAX as u64,
    default: Some(SEGMENT_BYTES_DEFAULT as u64),
    doc: "Size of each preallocated segment. Kafka's default is 1 GiB; keel preallocates and zero-fills segments, so it keeps them smaller",
};

pub const METADATA_MAX_IDLE_INTERVAL_MS: IntegerKey = IntegerKey {
    name: "metadata.max.idle.interval.ms",
    unit: Unit::Milliseconds,
    min: 0,
    max: TIMEOUT_MS_MAX,
    default: Some(METADATA_MAX_IDLE_INTERVAL_MS_DEFAULT),
    doc: "The leader appends a NoOp record this often when nothing else is written, so followers see the high watermark move; 0 turns it off. Must be below `controller.quorum.fetch.timeout.ms` (or 0), else an idle quorum looks dead",
};

pub const SOCKET_REQUEST_MAX_BYTES: IntegerKey = IntegerKey {
    name: "socket.request.max.bytes",
    unit: Unit::Bytes,
    min: SOCKET_REQUEST_BYTES_MIN as u64,
    max: CONFIG_INT_MAX,
    default: Some(SOCKET_REQUEST_BYTES_MAX_DEFAULT as u64),
    doc: "Largest request frame accepted; a larger size prefix closes the connection before anything of that size is allocated",
};

pub const MAX_CONNECTIONS: IntegerKey = IntegerKey {
    name: "max.connections",
    unit: Unit::Number,
    min: 1,
    max: SERVER_CLIENT_CONNECTIONS_MAX as u64,
    default: Some(SERVER_CLIENT_CONNECTIONS_DEFAULT as u64),
    doc: "Inbound connection slots anyone may hold. Kafka's default is unlimited; keel preallocates its slots. 256 more slots are reserved for the quorum's peers and brokers (see \"Connections and memory\"). When every slot is taken, a new connection takes the place of the least recently active one that is owed no answer; if every one is owed an answer, the new one is closed",
};

pub const MAX_CONNECTIONS_PER_IP: IntegerKey = IntegerKey {
    name: "max.connections.per.ip",
    unit: Unit::Number,
    min: 1,
    max: CONFIG_INT_MAX,
    default: Some(SERVER_CONNECTIONS_PER_IP_DEFAULT as u64),
    doc: "Inbound connections one address may hold (the default, Kafka's, is no limit); one more is closed at once (a rate-limited warning says so). Peers and brokers count too: set it above the number of nodes behind one address",
};

pub const CONNECTIONS_MAX_IDLE_MS: IntegerKey = IntegerKey {
    name: "connections.max.idle.ms",
    unit: Unit::Milliseconds,
    min: 1,
    max: TIMEOUT_MS_MAX,
    default: Some(SERVER_CONNECTIONS_IDLE_MS_DEFAULT),
    doc: "An inbound connection that moved no byte for this long and is owed no answer is closed (clients reconnect on demand)",
};

pub const QUEUED_MAX_REQUEST_BYTES: IntegerKey = IntegerKey {
    name: "queued.max.request.bytes",
    unit: Unit::Bytes,
    min: 1,
    max: CONFIG_LONG_MAX,
    default: Some(SERVER_QUEUED_REQUEST_BYTES_DEFAULT),
    doc: "Node-wide budget for partly read requests larger than 64 KiB: a request reserves its size when its size prefix arrives, and one that does not fit is not read (its bytes wait in the kernel) until the budget frees. Requests of at most 64 KiB, which include every quorum RPC and heartbeat, never wait for it. Must be at least `socket.request.max.bytes`; Kafka's -1 (unlimited) is refused",
};

pub const METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS: IntegerKey = IntegerKey {
    name: "metadata.log.max.record.bytes.between.snapshots",
    unit: Unit::Bytes,
    min: 1,
    max: CONFIG_LONG_MAX,
    default: Some(SNAPSHOT_MAX_RECORD_BYTES_DEFAULT),
    doc: "A node writes a snapshot of its image once this many bytes of records were applied since the last one; the log before the snapshot is then deleted (whole segments)",
};

pub const METADATA_LOG_MAX_SNAPSHOT_INTERVAL_MS: IntegerKey = IntegerKey {
    name: "metadata.log.max.snapshot.interval.ms",
    unit: Unit::Milliseconds,
    min: 0,
    max: TIMEOUT_MS_MAX,
    default: Some(SNAPSHOT_MAX_INTERVAL_MS_DEFAULT),
    doc: "A snapshot at least this often if anything changed; 0: only by size",
};

pub const BROKER_SESSION_TIMEOUT_MS: IntegerKey = IntegerKey {
    name: "broker.session.timeout.ms",
    unit: Unit::Milliseconds,
    min: 1,
    max: TIMEOUT_MS_MAX,
    default: Some(BROKER_SESSION_TIMEOUT_MS_DEFAULT),
    doc: "The active controller fences a broker that sent no heartbeat for this long",
};

pub const NUM_PARTITIONS: IntegerKey = IntegerKey {
    name: "num.partitions",
    unit: Unit::Number,
    min: 1,
    max: CONFIG_INT_MAX,
    default: Some(DEFAULT_NUM_PARTITIONS as u64),
    doc: "Partitions of a topic created without a count",
};

pub const DEFAULT_REPLICATION_FACTOR: IntegerKey = IntegerKey {
    name: "default.replication.factor",
    unit: Unit::Number,
    min: 1,
    max: CONFIG_SHORT_MAX,
    default: Some(crate::constants::DEFAULT_REPLICATION_FACTOR as u64),
    doc: "Replication factor of a topic created without one",
};

pub const ADVERTISED_LISTENERS: TextKey = TextKey {
    name: "advertised.listeners",
    syntax: "`NAME://host:port,...`",
    default: "the broker listeners",
    doc: "Brokers: the address clients are told to use for each broker listener (Kafka's key). Required for a listener bound to every interface; a combined node may list its controller listeners too (ignored: voters are reached at `controller.quorum.voters`)",
};

pub const BROKER_HEARTBEAT_INTERVAL_MS: IntegerKey = IntegerKey {
    name: "broker.heartbeat.interval.ms",
    unit: Unit::Milliseconds,
    min: 1,
    max: TIMEOUT_MS_MAX,
    default: Some(BROKER_HEARTBEAT_INTERVAL_MS_DEFAULT),
    doc: "Brokers: how often a broker heartbeats to the active controller; must be below `broker.session.timeout.ms`",
};

pub const BROKER_RACK: TextKey = TextKey {
    name: "broker.rack",
    syntax: "text",
    default: "",
    doc: "Brokers: the rack, used to spread replicas",
};

pub const LISTENER_SECURITY_PROTOCOL_MAP: TextKey = TextKey {
    name: "listener.security.protocol.map",
    syntax: "`NAME:PROTOCOL,...`",
    default: "",
    doc: "Every listener must map to `PLAINTEXT` (any other protocol is refused, see above); a listener not in the map and named after a protocol (`SSL`, ...) uses it, as in Kafka",
};

pub const BROKER_ID: TextKey = TextKey {
    name: "broker.id",
    syntax: "`node.id` again",
    default: "",
    doc: "Kafka's older name of `node.id`: if set, it must equal `node.id`",
};

/// Every key keel reads, in the order of the documentation's table. `Config::parse` reads the
/// integer keys in this order, so of two bad ones the one listed first is reported; it reads
/// the keys with a syntax of their own before them, each with the keys it depends on
/// (`broker.id` with `node.id`, the protocol map and `advertised.listeners` with `listeners`).
pub const KEYS: &[Key] = &[
    Key::Text(&PROCESS_ROLES),
    Key::Integer(&NODE_ID),
    Key::Text(&CONTROLLER_QUORUM_VOTERS),
    Key::Text(&LISTENERS),
    Key::Text(&CONTROLLER_LISTENER_NAMES),
    Key::Text(&METADATA_LOG_DIR),
    Key::Text(&LOG_DIRS),
    Key::Integer(&CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS),
    Key::Integer(&CONTROLLER_QUORUM_FETCH_TIMEOUT_MS),
    Key::Integer(&CONTROLLER_QUORUM_ELECTION_BACKOFF_MAX_MS),
    Key::Integer(&CONTROLLER_QUORUM_REQUEST_TIMEOUT_MS),
    Key::Integer(&CONTROLLER_QUORUM_RETRY_BACKOFF_MS),
    Key::Integer(&CONTROLLER_QUORUM_APPEND_LINGER_MS),
    Key::Integer(&METADATA_LOG_SEGMENT_BYTES),
    Key::Integer(&METADATA_MAX_IDLE_INTERVAL_MS),
    Key::Integer(&SOCKET_REQUEST_MAX_BYTES),
    Key::Integer(&MAX_CONNECTIONS),
    Key::Integer(&MAX_CONNECTIONS_PER_IP),
    Key::Integer(&CONNECTIONS_MAX_IDLE_MS),
    Key::Integer(&QUEUED_MAX_REQUEST_BYTES),
    Key::Integer(&METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS),
    Key::Integer(&METADATA_LOG_MAX_SNAPSHOT_INTERVAL_MS),
    Key::Integer(&BROKER_SESSION_TIMEOUT_MS),
    Key::Integer(&NUM_PARTITIONS),
    Key::Integer(&DEFAULT_REPLICATION_FACTOR),
    Key::Text(&ADVERTISED_LISTENERS),
    Key::Integer(&BROKER_HEARTBEAT_INTERVAL_MS),
    Key::Text(&BROKER_RACK),
    Key::Text(&LISTENER_SECURITY_PROTOCOL_MAP),
    Key::Text(&BROKER_ID),
];

/// The entry of `name`, if it is one of keel's keys.
pub fn find(name: &str) -> Option<Key> {
    KEYS.iter().copied().find(|key| key.name() == name)
}

/// The Markdown table of [`KEYS`] that `docs/operations.md` shows, one line per key, ending
/// with a newline.
pub fn markdown_table() -> String {
    let mut table = String::from("| Key | Value | Default | Meaning |\n|---|---|---|---|\n");
    for key in KEYS {
        let _ = writeln!(
            table,
            "| `{}` | {} | {} | {} |",
            key.name(),
            key.value_cell(),
            key.default_cell(),
            key.doc()
        );
    }
    table
}

// The narrowing casts of `Config::parse` hold for every value the table lets through.
const _: () = assert!(SEGMENT_BYTES_MAX as u64 <= u32::MAX as u64);
const _: () = assert!(CONFIG_INT_MAX <= u32::MAX as u64 && CONFIG_INT_MAX <= i32::MAX as u64);
const _: () = assert!(CONFIG_SHORT_MAX <= i16::MAX as u64);
const _: () = assert!(SERVER_CLIENT_CONNECTIONS_MAX as u64 <= usize::MAX as u64);
