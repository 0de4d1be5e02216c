//! The network edge of a node: the only code that names mio.
//!
//! - [`inbound`]: an accepted connection; frames in, responses out in request order, bounded
//!   buffers and in-flight requests; the node-wide budget for partly read requests.
//! - [`admission`]: which connection gets a slot, which is evicted for it, which is idle.
//! - [`outbound`]: a connection this node opens to a peer; requests out, responses matched by
//!   correlation id, timeouts, reconnects with exponential backoff and jitter.
//! - [`event_loop`]: the loop that drives a `Node` with all of the above.
//! - [`signals`]: SIGTERM/SIGINT delivered into the poll through a self-pipe.
//!
//! All are driven by the event loop: they never block, never spawn, and never allocate beyond
//! one frame per connection plus the responses owed to it; partly read frames beyond
//! `SERVER_UNBUDGETED_READ_BYTES` a connection share `queued.max.request.bytes`.
//!
//! [`run_node`] raises the soft `RLIMIT_NOFILE` to the hard limit first, so that accept does not
//! run out of descriptors below the number of connection slots.

pub mod admission;
pub mod event_loop;
pub mod inbound;
pub mod outbound;
pub mod signals;

use std::fmt;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use log::{info, warn};

use crate::config::Config;
use crate::constants::{
    PEER_RECONNECT_BACKOFF_MAX_MS, PEER_RECONNECT_BACKOFF_MS, PEER_REQUESTS_IN_FLIGHT_MAX,
    PEER_RESPONSE_FRAME_BYTES_MAX, SERVER_PEER_CONNECTIONS_RESERVED, SERVER_READ_CHUNK_BYTES,
    SERVER_REQUESTS_IN_FLIGHT_PER_CONNECTION, SERVER_UNBUDGETED_READ_BYTES, SHUTDOWN_GRACE_MS,
};
use crate::exit::ExitStatus;
use crate::node::datadir::{DataDir, DataDirError};
use crate::node::{Channel, Clock, Fatal, Node, NodeSettings};
use crate::raft::NodeId;

use self::event_loop::{EventLoop, LoopConfig, LoopExit};
use self::outbound::LinkConfig;
use self::signals::ShutdownSignal;

/// Why a node could not run, each with its own exit status.
#[derive(Debug)]
pub enum RunError {
    /// Not formatted, wrong node or cluster id, or locked by another process.
    DataDir(DataDirError),
    /// An address in the configuration does not resolve, or a listener cannot bind.
    Network(String),
    /// A failed flush or another storage error: the node stopped to keep its promises.
    Fatal(Fatal),
    /// The event loop's poll failed.
    Io(std::io::Error),
}

impl RunError {
    /// The process exit status for this failure.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            RunError::DataDir(_) => ExitStatus::DataDir,
            RunError::Network(_) => ExitStatus::Network,
            RunError::Fatal(_) => ExitStatus::Fatal,
            RunError::Io(_) => ExitStatus::Failed,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::DataDir(e) => write!(f, "{e}"),
            RunError::Network(e) => write!(f, "{e}"),
            RunError::Fatal(e) => write!(f, "fatal error, stopping: {e}"),
            RunError::Io(e) => write!(f, "event loop failed: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// The event loop's sizes for a node configured with `config`.
pub fn loop_config(config: &Config) -> LoopConfig {
    LoopConfig {
        client_connections_max: config.max_connections,
        peer_connections_reserved: SERVER_PEER_CONNECTIONS_RESERVED,
        connections_per_ip_max: config.max_connections_per_ip as usize,
        connections_idle_ms: config.connections_max_idle_ms,
        queued_request_bytes_max: usize::try_from(config.queued_max_request_bytes)
            .unwrap_or(usize::MAX),
        unbudgeted_read_bytes: SERVER_UNBUDGETED_READ_BYTES,
        quorum_listeners: config
            .bound_listeners()
            .map(|l| config.controller_listener_names.contains(&l.name))
            .collect(),
        requests_in_flight_per_connection: SERVER_REQUESTS_IN_FLIGHT_PER_CONNECTION,
        max_frame_bytes: config.socket_request_max_bytes,
        read_chunk_bytes: SERVER_READ_CHUNK_BYTES,
        peer_link: LinkConfig {
            max_frame_bytes: PEER_RESPONSE_FRAME_BYTES_MAX,
            requests_in_flight_max: PEER_REQUESTS_IN_FLIGHT_MAX,
            backoff_ms: PEER_RECONNECT_BACKOFF_MS,
            backoff_max_ms: PEER_RECONNECT_BACKOFF_MAX_MS,
        },
        shutdown_grace_ms: SHUTDOWN_GRACE_MS,
    }
}

/// Raises the soft limit on open files to the hard limit (Linux distributions default the soft
/// one to 1024, below keel's connection slots plus its files and links). Returns the soft limit
/// in force afterwards.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit through a valid pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok(limit.rlim_cur)
}

/// Runs a node until SIGTERM/SIGINT (graceful: a leader resigns, the log is flushed) or a
/// fatal error. `expected_cluster_id`, when given, must match the formatted directory.
pub fn run_node(config: &Config, expected_cluster_id: Option<&str>) -> Result<(), RunError> {
    let data_dir = DataDir::open(
        &config.metadata_log_dir,
        config.node_id,
        expected_cluster_id,
    )
    .map_err(RunError::DataDir)?;
    // Descriptors beyond the connection slots: the log's files, the links to other nodes,
    // listeners, the poll and the signal pipe, with a wide margin.
    let slots = config.max_connections + SERVER_PEER_CONNECTIONS_RESERVED;
    match raise_open_files_limit() {
        Ok(open_files) if open_files < (slots + 256) as u64 => warn!(
            "the open files limit (RLIMIT_NOFILE) is {open_files}, too few for {slots} connection slots: \
             connections beyond it are refused by the kernel; raise the hard limit (e.g. LimitNOFILE= in systemd)"
        ),
        Ok(_) => {}
        Err(e) => warn!("cannot raise the open files limit (RLIMIT_NOFILE): {e}"),
    }
    let mut listen = Vec::new();
    for listener in config.bound_listeners() {
        let address = listener.bind_address().map_err(|e| {
            RunError::Network(format!(
                "listener {}: cannot resolve {:?}: {e}",
                listener.name, listener.host
            ))
        })?;
        listen.push(address);
    }
    let mut peers: Vec<(NodeId, Channel, SocketAddr)> = Vec::new();
    for voter in &config.voters {
        let address = voter.resolve().map_err(|e| {
            RunError::Network(format!(
                "controller.quorum.voters: cannot resolve node {} at {}:{}: {e}",
                voter.id, voter.host, voter.port
            ))
        })?;
        if voter.id != config.node_id {
            peers.push((voter.id, Channel::Quorum, address));
        }
        // A broker talks to the active controller, which may be this very node when it is
        // both (it then connects to its own controller listener).
        if config.roles.broker {
            peers.push((voter.id, Channel::Controller, address));
        }
    }
    let listeners =
        event_loop::bind_listeners(&listen).map_err(|e| RunError::Network(e.to_string()))?;
    let seed = u64::from_be_bytes(
        crate::storage::meta_properties::random_uuid()
            .map_err(|e| RunError::Fatal(Fatal::Storage(e)))?
            .as_bytes()[..8]
            .try_into()
            .expect("8 bytes"),
    );
    let start = Instant::now();
    let clock = Clock {
        monotonic_ms: 0,
        wall_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    };
    let node = Node::start(
        config,
        data_dir,
        NodeSettings::from_config(config, seed),
        clock,
    )
    .map_err(RunError::Fatal)?;
    let signal = ShutdownSignal::install().map_err(RunError::Io)?;
    let mut event_loop = EventLoop::new(
        node,
        listeners,
        &peers,
        Some(signal),
        loop_config(config),
        seed,
        start,
    )
    .map_err(|e| RunError::Network(e.to_string()))?;
    info!(
        "node {} of cluster {} is serving",
        event_loop.node().node_id(),
        event_loop.node().cluster_id()
    );
    match event_loop.run() {
        LoopExit::Shutdown => Ok(()),
        LoopExit::Fatal(fatal) => Err(RunError::Fatal(fatal)),
        LoopExit::Io(e) => Err(RunError::Io(e)),
    }
}
