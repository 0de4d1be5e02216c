//! One node: the Raft core, the log on disk and the wire, glued together. No sockets, no
//! clock: the event loop (`server`) hands the node requests, responses and the time, and takes
//! its [`Output`]s.
//!
//! - [`broker`]: a broker's registration and heartbeats (pure).
//! - `broker_runtime`: the broker half of a node: client requests, forwarded writes.
//! - [`broker_surface`]: a broker's answers to clients from its metadata image (Metadata,
//!   DescribeCluster, its ApiVersions table).
//! - [`controller_wire`]: the controller APIs' wire bodies <-> the quorum controller's
//!   requests and replies.
//! - [`convert`]: Kafka messages <-> Raft messages.
//! - [`datadir`]: formatting and opening the data directory (lock, identity checks).
//! - [`directories`]: other voters' directory ids, pinned at format time or on first contact.
//! - [`fallback`]: the `UNKNOWN_SERVER_ERROR` answer for one that does not encode (a bug).
//! - [`forward`]: which writes a broker forwards, and when its image shows them.
//! - [`state_machine`]: committed records applied to the metadata image, the quorum
//!   controller on the leader, replies released on commit, snapshots.
//!
//! The driver contract of `raft::action` is kept here: actions run in order; election state is
//! durable before anything after it; one `fdatasync` per event-loop iteration covers every
//! append of that iteration (group commit, [`Node::end_of_iteration`]); messages the core holds
//! for a flush leave only after it; a failed flush or any storage error is [`Fatal`] and the
//! process stops. Every inbound request is answered exactly once: by the core, by the node when
//! invalid, or with `REQUEST_TIMED_OUT` when the core kept it longer than it ever should.

pub mod broker;
mod broker_runtime;
pub mod broker_surface;
pub mod controller_wire;
pub mod convert;
pub mod datadir;
pub mod directories;
pub mod fallback;
pub mod forward;
pub mod not_served;
pub mod state_machine;

#[cfg(test)]
mod request_matrix;

use std::collections::BTreeMap;
use std::fmt;

use log::{debug, error, info, warn};

use crate::config::Config;
use crate::constants::{
    CONTROLLER_TICK_BATCHES_MAX, CONTROLLER_TICK_INTERVAL_MS, NODE_UNANSWERED_REQUEST_GRACE_MS,
    RAFT_LEADER_LOST_JITTER_MS,
};
use crate::metadata::controller::ControllerConfig;
use crate::metadata::record::{encode_leader_change, encode_no_op};
use crate::prng::Prng;
use crate::protocol::envelope::{encode_api_versions_unsupported, encode_response_body};
use crate::protocol::messages::{
    DescribeClusterRequest, DescribeClusterResponse, DescribeQuorumRequest, DescribeQuorumResponse,
    LeaderChangeMessage, describe_cluster_response, describe_quorum_response,
    leader_change_message,
};
use crate::protocol::{
    ApiKey, ErrorCode, RequestBody, RequestDecodeError, ResponseBody, Uuid, decode_request,
};
use crate::raft::{
    Action, Batch, Boot, ElectionState, Envelope, Fill, FlushId, LeaderBatchContent, Message,
    NodeId, Payload, Raft, RaftConfig, ReplicaKey, RoleName, SnapshotId,
};
use crate::storage::batch::decode_batch;
use crate::storage::quorum_state::{QuorumState, Vote};
use crate::storage::snapshot::{SnapshotReader, SnapshotReceiver, latest_snapshot};
use crate::storage::{Log, LogConfig, StorageError};

use self::controller_wire::ControllerRequest;
use self::convert::{Filled, Inbound, METADATA_TOPIC, Sent, Wire, directory_id, uuid};
use self::datadir::DataDir;
use self::directories::{Presented, VoterDirectories};
use self::state_machine::{Handled, SnapshotPolicy, StateMachine};

/// The opaque payload the core carries for this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    /// Records a leader proposes, one byte string each.
    Records(Vec<Vec<u8>>),
    /// One whole batch, exactly as stored and sent.
    Batch(Vec<u8>),
    /// A piece of a snapshot file.
    Chunk(Vec<u8>),
}

impl Payload for Data {
    fn byte_len(&self) -> u64 {
        match self {
            Data::Records(records) => records.iter().map(|r| r.len() as u64).sum(),
            Data::Batch(bytes) | Data::Chunk(bytes) => bytes.len() as u64,
        }
    }
}

/// Identifies an inbound connection for the event loop; opaque to the node.
pub type ConnectionId = u64;

/// The time, as the event loop read it once per iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Milliseconds from a monotonic source: all timers.
    pub monotonic_ms: u64,
    /// Milliseconds since the Unix epoch: batch timestamps and DescribeQuorum's times.
    pub wall_ms: i64,
}

impl Clock {
    /// The wall-clock time of an earlier monotonic instant.
    fn wall_at(&self, monotonic_ms: u64) -> i64 {
        self.wall_ms - self.monotonic_ms.saturating_sub(monotonic_ms) as i64
    }
}

/// What the node asks the event loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Write this framed response as the answer to request `seq` of connection `connection`.
    Respond {
        connection: ConnectionId,
        seq: u64,
        frame: Vec<u8>,
    },
    /// Close `connection` after logging `reason`: it is owed an answer the node cannot give.
    Close {
        connection: ConnectionId,
        reason: String,
    },
    /// Send a request to peer `to` on `channel`; report its outcome with
    /// [`Node::handle_response`] and `token`.
    Request {
        to: NodeId,
        channel: Channel,
        token: u64,
        body: RequestBody,
        version: i16,
        timeout_ms: u64,
    },
}

/// Why a request the node sent ([`Output::Request`]) got no response: what the event loop's
/// peer links report through [`Node::handle_response`]. The node owns the type because it acts
/// on it (a forward that was [`LinkError::NotSent`] may be sent again, one the peer may have
/// read may not); `server` only produces it.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkError {
    /// The link is backing off after a failure, or has too many requests in flight.
    NotReady,
    /// The connection failed before the request was written in full: the peer never read
    /// it, so sending it again cannot repeat anything.
    NotSent,
    /// The connection failed or closed after the request was written, before its response
    /// arrived: the peer may have acted on it, or died of it.
    Disconnected,
    /// No response within the request's timeout; the connection was dropped.
    TimedOut,
    /// The response could not be decoded; the connection was dropped.
    Malformed(String),
}

/// Which connection to a peer a request travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// Raft between the voters (and observers' fetches).
    Quorum,
    /// A broker to the active controller: registration, heartbeats, forwarded writes. Its
    /// own connection, because a peer answers in order and a parked Fetch would hold these
    /// up for its whole wait.
    Controller,
}

/// A listener this node binds, by index in bind order.
#[derive(Debug, Clone)]
struct ListenerRole {
    name: String,
    /// Serves clients (a broker listener) rather than the quorum (a controller listener).
    clients: bool,
}

/// What to do with the connection a request came on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    Handled,
    /// The request cannot be answered (unknown API, unsupported version, malformed): close the
    /// connection, as Kafka does, after logging `reason`.
    Close {
        reason: String,
    },
}

/// A failure after which the node must stop: it can no longer keep its promises about what is
/// on disk, or its log holds something it cannot apply.
#[derive(Debug)]
pub enum Fatal {
    /// A failed flush, a damaged file, a full disk where nothing may be lost.
    Storage(StorageError),
    /// A committed record that does not decode or apply (named with its offset), or a
    /// snapshot that does not load: applying past it would diverge from the other replicas.
    Metadata(String),
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::Storage(e) => write!(f, "{e}"),
            Fatal::Metadata(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Fatal {}

impl From<StorageError> for Fatal {
    fn from(e: StorageError) -> Self {
        Fatal::Storage(e)
    }
}

/// Where the core's answer to an inbound request goes.
#[derive(Debug, Clone, Copy)]
struct Route {
    connection: ConnectionId,
    /// Index of the listener the request came in on.
    listener: usize,
    seq: u64,
    /// The request frame's correlation id, echoed in the response header.
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    received_ms: u64,
}

/// A controller request whose answer waits for its records to commit.
#[derive(Debug)]
pub struct Waiter {
    route: Route,
    /// The request as received: its answer (or error answer) echoes parts of it.
    request: RequestBody,
}

/// A node's settings, from its configuration.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    pub raft: RaftConfig,
    pub log: LogConfig,
    pub max_idle_interval_ms: u64,
    pub snapshots: SnapshotPolicy,
    pub broker_session_timeout_ms: u64,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub seed: u64,
}

impl NodeSettings {
    /// Raft and log settings for `config`. Voters are known to the core by canonical keys (see
    /// [`canonical`]).
    pub fn from_config(config: &Config, seed: u64) -> NodeSettings {
        let voters: Vec<ReplicaKey> = config.voters.iter().map(|v| canonical(v.id)).collect();
        let mut raft = RaftConfig::new(canonical(config.node_id), voters);
        raft.election_timeout_ms = config.election_timeout_ms;
        raft.fetch_timeout_ms = config.fetch_timeout_ms;
        raft.check_quorum_timeout_ms = config.fetch_timeout_ms * 3 / 2;
        raft.begin_quorum_epoch_resend_ms = config.fetch_timeout_ms / 2;
        raft.election_backoff_max_ms = config.election_backoff_max_ms;
        raft.leader_lost_jitter_ms = RAFT_LEADER_LOST_JITTER_MS.min(config.fetch_timeout_ms / 4);
        raft.append_linger_ms = config.append_linger_ms;
        raft.request_timeout_ms = config.request_timeout_ms;
        // The core requires that a follower can retry a lost fetch twice within its fetch
        // timeout. With a short fetch timeout (fast failover on a LAN, tests) shorten a fetch's
        // wait and the request timeout to fit; Kafka's defaults fit as they are.
        if 2 * (raft.fetch_max_wait_ms + raft.request_timeout_ms) >= config.fetch_timeout_ms {
            raft.fetch_max_wait_ms = (config.fetch_timeout_ms / 5).max(1);
            raft.request_timeout_ms = (config.fetch_timeout_ms / 5).max(1);
        }
        NodeSettings {
            raft,
            log: LogConfig::with_segment_bytes(config.segment_bytes),
            max_idle_interval_ms: config.max_idle_interval_ms,
            snapshots: SnapshotPolicy {
                max_record_bytes: config.snapshot_max_record_bytes,
                max_interval_ms: config.snapshot_max_interval_ms,
            },
            broker_session_timeout_ms: config.broker_session_timeout_ms,
            num_partitions: config.num_partitions,
            default_replication_factor: config.default_replication_factor,
            seed,
        }
    }
}

/// The key the core knows a voter by. Directory ids are the node's business (pinning, see
/// [`directories`]): the core sees directory 0 for "this voter, on its pinned directory", and a
/// node that came back with another directory keeps that directory in its key, so to the core it
/// is not a voter.
fn canonical(id: NodeId) -> ReplicaKey {
    ReplicaKey {
        id,
        directory_id: directory_id(Uuid::ZERO),
    }
}

pub struct Node {
    wire: Wire,
    raft: Raft<Data>,
    log: Log,
    data_dir: DataDir,
    pins: VoterDirectories,
    max_idle_interval_ms: u64,
    /// Inbound requests the core has not answered yet, by (peer, node correlation).
    routes: BTreeMap<(NodeId, u64), Route>,
    next_correlation: u64,
    /// Requests sent to peers and not yet answered, by token.
    sent: BTreeMap<u64, (NodeId, Sent)>,
    next_token: u64,
    /// The newest flush the core asked for that the node has not done yet.
    flush_wanted: Option<FlushId>,
    /// Messages the core holds until a flush completes, in the order given.
    held: Vec<(FlushId, Envelope<Data>)>,
    outputs: Vec<Output>,
    high_watermark: u64,
    /// When this node, as leader, last appended anything (for the idle NoOp).
    last_leader_append_ms: u64,
    receiving_snapshot: Option<SnapshotReceiver>,
    serving_snapshot: Option<SnapshotReader>,
    clock: Clock,
    /// Role, epoch and leader as last logged, so each change is logged once.
    last_role: (RoleName, u32, Option<NodeId>),
    /// Per voter, the unpinned directory id it was last reported for, so a replaced disk is
    /// logged once and not on every request it sends (at most one entry per voter).
    reported_directories: BTreeMap<NodeId, Uuid>,
    machine: StateMachine<Waiter>,
    /// The epoch this node last led and the offset of its LeaderChange record.
    epoch_start: Option<(u32, u64)>,
    /// When the controller's housekeeping last ran.
    last_controller_tick_ms: u64,
    /// Topic ids for new topics (seeded from the OS at start).
    topic_ids: Prng,
    /// The controller's records of this iteration, proposed as one batch at its end (or when
    /// full): one append, one batch for the followers to fetch, however many requests the
    /// iteration read. Each request's records stay together in it, so it stays atomic.
    staged: Option<StagedBatch>,
    /// The listeners this node binds, in bind order.
    listeners: Vec<ListenerRole>,
    /// The broker half, when this node is a broker.
    broker: Option<broker_runtime::BrokerPart>,
    /// What this node fetched from leaders since it started, until it first caught up: the
    /// figures of its start-up log line.
    catch_up: Option<CatchUp>,
    retry_backoff_ms: u64,
    /// Answers that did not encode even narrowed (each a bug, logged, answered
    /// `UNKNOWN_SERVER_ERROR` instead).
    unencodable_answers: u64,
}

/// A follower's or observer's progress from start-up to its first catch-up.
#[derive(Debug)]
struct CatchUp {
    started_ms: u64,
    /// Where its own log ended at start-up: fetching resumes there.
    resumed_from: u64,
    fetched_records: u64,
    fetched_bytes: u64,
    snapshot_installed: Option<(u64, u64)>,
}

/// Controller records waiting to be proposed as one batch at `base_offset`.
#[derive(Debug)]
struct StagedBatch {
    base_offset: u64,
    records: Vec<Vec<u8>>,
    /// Encoded size of the batch so far, header included.
    batch_bytes: u64,
}

impl Node {
    /// Opens the node's storage and starts its Raft core.
    pub fn start(
        config: &Config,
        data_dir: DataDir,
        settings: NodeSettings,
        clock: Clock,
    ) -> Result<Node, Fatal> {
        let log = Log::open(&data_dir.partition, settings.log)?;
        report_recovery(&log);
        let pins = VoterDirectories::load(&data_dir.partition)?;
        let election = match QuorumState::read(&data_dir.partition)? {
            None => ElectionState::default(),
            Some(state) if state.local_directory_id != data_dir.meta.directory_id => {
                // Written for another directory (a copied file): keep the epoch, which only
                // ever grows, and drop the vote, which was another disk's promise.
                warn!(
                    "quorum-state was written for directory {}, this directory is {}: keeping epoch {}, dropping the vote",
                    state.local_directory_id, data_dir.meta.directory_id, state.epoch
                );
                ElectionState {
                    epoch: state.epoch,
                    ..ElectionState::default()
                }
            }
            Some(state) => ElectionState {
                epoch: state.epoch,
                voted_for: state.voted_for.map(|vote| canonical(vote.node_id)),
                leader: state.leader_id,
                abstain_until_offset: None,
            },
        };
        let snapshot = latest_snapshot(&data_dir.partition)?.map(|id| SnapshotId {
            end_offset: id.end_offset,
            epoch: id.epoch,
        });
        let boot = Boot {
            election,
            log_start_offset: log.log_start_offset(),
            log_end_offset: log.log_end_offset(),
            epochs: log
                .epoch_entries()
                .iter()
                .map(|e| (e.epoch, e.start_offset))
                .collect(),
            snapshot,
        };
        let wire = Wire {
            cluster_id: data_dir.meta.cluster_id.clone(),
            local_id: config.node_id,
            local_directory_id: data_dir.meta.directory_id,
            listener_name: config
                .controller_listener_names
                .first()
                .cloned()
                .unwrap_or_else(|| "CONTROLLER".into()),
            endpoints: config
                .voters
                .iter()
                .map(|v| (v.id, (v.host.clone(), v.port)))
                .collect(),
        };
        let controller_config = ControllerConfig {
            session_timeout_ms: settings.broker_session_timeout_ms,
            default_num_partitions: settings.num_partitions,
            default_replication_factor: settings.default_replication_factor,
            local_node: Some((config.node_id as i32, config.properties.clone())),
            ..ControllerConfig::new(&data_dir.meta.cluster_id)
        };
        let machine = StateMachine::open(
            &data_dir.partition,
            controller_config,
            settings.snapshots,
            clock.monotonic_ms,
        )?;
        if machine.applied_end() < log.log_start_offset() {
            return Err(Fatal::Metadata(format!(
                "the log starts at offset {} but the newest snapshot ends at {}: records in between are missing",
                log.log_start_offset(),
                machine.applied_end()
            )));
        }
        let listeners: Vec<ListenerRole> = config
            .bound_listeners()
            .map(|l| ListenerRole {
                name: l.name.clone(),
                clients: !config.controller_listener_names.contains(&l.name),
            })
            .collect();
        let broker = config.roles.broker.then(|| {
            let mut incarnation = Prng::new(settings.seed ^ 0x696e_6361_726e_6174);
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&incarnation.next_u64().to_be_bytes());
            bytes[8..].copy_from_slice(&incarnation.next_u64().to_be_bytes());
            broker_runtime::BrokerPart::new(broker::Lifecycle::new(
                broker::LifecycleSettings {
                    broker_id: config.node_id as i32,
                    cluster_id: data_dir.meta.cluster_id.clone(),
                    incarnation_id: Uuid::from_bytes(bytes),
                    endpoints: config
                        .advertised_listeners
                        .iter()
                        .map(|l| broker::Endpoint {
                            listener_name: l.name.clone(),
                            host: l.host.clone(),
                            port: l.port,
                        })
                        .collect(),
                    rack: config.rack.clone(),
                    directory_id: data_dir.meta.directory_id,
                    heartbeat_interval_ms: config.broker_heartbeat_interval_ms,
                    retry_backoff_ms: config.retry_backoff_ms,
                },
                clock.monotonic_ms,
            ))
        });
        let raft = Raft::new(settings.raft, boot, settings.seed, clock.monotonic_ms);
        let log_end_at_start = log.log_end_offset();
        info!(
            "node {} started: epoch {}, {:?}, directory {}, log {}..{}",
            wire.local_id,
            raft.epoch(),
            raft.role(),
            wire.local_directory_id,
            log.log_start_offset(),
            log.log_end_offset()
        );
        Ok(Node {
            last_role: (raft.role(), raft.epoch(), raft.leader()),
            high_watermark: raft.high_watermark(),
            wire,
            raft,
            log,
            data_dir,
            pins,
            max_idle_interval_ms: settings.max_idle_interval_ms,
            routes: BTreeMap::new(),
            next_correlation: 1,
            sent: BTreeMap::new(),
            next_token: 1,
            flush_wanted: None,
            held: Vec::new(),
            outputs: Vec::new(),
            last_leader_append_ms: clock.monotonic_ms,
            receiving_snapshot: None,
            serving_snapshot: None,
            clock,
            reported_directories: BTreeMap::new(),
            machine,
            epoch_start: None,
            last_controller_tick_ms: clock.monotonic_ms,
            topic_ids: Prng::new(settings.seed ^ 0x746f_7069_635f_6964),
            staged: None,
            catch_up: Some(CatchUp {
                started_ms: clock.monotonic_ms,
                resumed_from: log_end_at_start,
                fetched_records: 0,
                fetched_bytes: 0,
                snapshot_installed: None,
            }),
            listeners,
            broker,
            retry_backoff_ms: config.retry_backoff_ms,
            unencodable_answers: 0,
        })
    }

    pub fn node_id(&self) -> NodeId {
        self.wire.local_id
    }

    pub fn cluster_id(&self) -> &str {
        &self.wire.cluster_id
    }

    pub fn raft(&self) -> &Raft<Data> {
        &self.raft
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// How many answers did not encode at their request's version even narrowed: each is a
    /// bug (logged, and answered `UNKNOWN_SERVER_ERROR` instead).
    pub fn unencodable_answers(&self) -> u64 {
        self.unencodable_answers
    }

    /// The node's outputs since the last call, in order.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// True when the core asked for a flush this iteration.
    pub fn wants_flush(&self) -> bool {
        self.flush_wanted.is_some()
    }

    /// Whether [`Node::end_of_iteration`] may flush: a flush is wanted, or staged records
    /// are about to be proposed (which can make one due).
    pub fn may_flush(&self) -> bool {
        self.flush_wanted.is_some() || self.staged.is_some()
    }

    /// The earliest monotonic time at which the node needs [`Node::tick`].
    pub fn next_deadline_ms(&self) -> u64 {
        let mut deadline = self.raft.next_deadline_ms();
        if self.raft.role() == RoleName::Leader && self.max_idle_interval_ms > 0 {
            deadline = deadline.min(self.last_leader_append_ms + self.max_idle_interval_ms);
        }
        if let Some(oldest) = self.routes.values().map(|r| r.received_ms).min() {
            deadline = deadline.min(oldest + self.route_expiry_ms());
        }
        if self.machine.is_active() {
            deadline = deadline.min(self.last_controller_tick_ms + CONTROLLER_TICK_INTERVAL_MS);
        }
        if self.machine.snapshot_in_progress() {
            // One step per iteration until it is written.
            deadline = deadline.min(self.clock.monotonic_ms);
        }
        deadline.min(self.broker_deadline_ms())
    }

    /// How long the core may keep an inbound request before the node answers it itself.
    fn route_expiry_ms(&self) -> u64 {
        let config = self.raft.config();
        config.fetch_max_wait_ms + config.request_timeout_ms + NODE_UNANSWERED_REQUEST_GRACE_MS
    }

    /// A request frame arrived on `connection` (accepted by listener `listener`, an index in
    /// bind order) as that connection's request `seq`.
    pub fn handle_request(
        &mut self,
        clock: Clock,
        connection: ConnectionId,
        listener: usize,
        seq: u64,
        frame: &[u8],
    ) -> Result<RequestOutcome, Fatal> {
        self.clock = clock;
        let request = match decode_request(frame) {
            Ok(request) => request,
            Err(RequestDecodeError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                correlation_id,
                ..
            }) => {
                let mut out = Vec::new();
                encode_api_versions_unsupported(&mut out, correlation_id);
                self.outputs.push(Output::Respond {
                    connection,
                    seq,
                    frame: out,
                });
                return Ok(RequestOutcome::Handled);
            }
            Err(error) => {
                return Ok(RequestOutcome::Close {
                    reason: error.to_string(),
                });
            }
        };
        let correlation_id = request.correlation_id();
        let version = request.version();
        let api_key = request.api_key();
        if self.listeners.get(listener).is_some_and(|l| l.clients) {
            let route = Route {
                connection,
                listener,
                seq,
                correlation_id,
                api_key,
                version,
                received_ms: clock.monotonic_ms,
            };
            return self.handle_client_request(
                route,
                request.header.client_id.as_deref(),
                request.body,
            );
        }
        if !SERVED_APIS.contains(&api_key) {
            // The codec knows the API but this node does not serve it (it is not advertised in
            // ApiVersions). Kafka treats a request for an API its listener does not enable as
            // invalid and closes the connection; so does keel.
            return Ok(RequestOutcome::Close {
                reason: format!(
                    "{} (api key {}) is not served by this node (correlation id {correlation_id})",
                    api_key.name(),
                    api_key as i16
                ),
            });
        }
        if !controller_versions(api_key).contains(&version) {
            let served = controller_versions(api_key);
            return Ok(RequestOutcome::Close {
                reason: format!(
                    "{} version {version} is not served by a controller (it serves {}-{}; \
                     correlation id {correlation_id})",
                    api_key.name(),
                    served.start(),
                    served.end()
                ),
            });
        }
        if let Some(parsed) = controller_wire::request_from_wire(&request.body, version) {
            let route = Route {
                connection,
                listener,
                seq,
                correlation_id,
                api_key,
                version,
                received_ms: clock.monotonic_ms,
            };
            match parsed {
                Ok(call) => self.handle_controller_request(route, request.body, call)?,
                Err(response) => self.respond_to(&route, response),
            }
            return Ok(RequestOutcome::Handled);
        }
        let response = match &request.body {
            RequestBody::ApiVersions(body) => ResponseBody::ApiVersions(
                broker_surface::api_versions_response(SERVED_APIS, controller_versions, body),
            ),
            RequestBody::DescribeQuorum(body) => {
                ResponseBody::DescribeQuorum(self.describe_quorum(body, version))
            }
            RequestBody::DescribeCluster(body) => {
                ResponseBody::DescribeCluster(self.describe_cluster(body))
            }
            body => {
                let correlation = self.next_correlation;
                self.next_correlation += 1;
                match convert::request_to_raft(&self.wire, body, correlation) {
                    Inbound::Refuse(response) => response,
                    Inbound::Raft { from, message } => {
                        let message = self.canonicalize(from, message)?;
                        let route = Route {
                            connection,
                            listener,
                            seq,
                            correlation_id,
                            api_key,
                            version,
                            received_ms: clock.monotonic_ms,
                        };
                        self.routes.insert((from, correlation), route);
                        let actions = self.raft.receive(clock.monotonic_ms, from, message);
                        self.execute(actions)?;
                        return Ok(RequestOutcome::Handled);
                    }
                }
            }
        };
        self.respond(connection, seq, correlation_id, version, response);
        Ok(RequestOutcome::Handled)
    }

    /// A request this node sent (`token`) finished.
    pub fn handle_response(
        &mut self,
        clock: Clock,
        token: u64,
        result: Result<ResponseBody, LinkError>,
    ) -> Result<(), Fatal> {
        self.clock = clock;
        if self.broker.as_ref().is_some_and(|b| b.owns(token)) {
            self.handle_broker_response(token, result);
            return Ok(());
        }
        let Some((peer, sent)) = self.sent.remove(&token) else {
            return Ok(());
        };
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                debug!("request to node {peer} failed: {error:?}");
                return Ok(());
            }
        };
        let batch_bytes_max = self.log.config().batch_bytes_max;
        let parse = move |bytes: Vec<u8>| parse_batches(bytes, batch_bytes_max);
        match convert::response_to_raft(response, sent, &parse) {
            Ok(message) => {
                let actions = self.raft.receive(clock.monotonic_ms, peer, message);
                self.execute(actions)
            }
            Err(reason) => {
                debug!("dropping an answer from node {peer}: {reason}");
                Ok(())
            }
        }
    }

    /// The connection to node `peer` was reset, closed by `peer` or refused (not timed out):
    /// its process may be gone, which the core acts on sooner than a timeout.
    pub fn peer_unreachable(&mut self, clock: Clock, peer: NodeId) -> Result<(), Fatal> {
        self.clock = clock;
        let actions = self.raft.peer_unreachable(clock.monotonic_ms, peer);
        self.execute(actions)
    }

    /// Drops what the node keeps for a closed connection.
    pub fn connection_closed(&mut self, connection: ConnectionId) {
        self.routes
            .retain(|_, route| route.connection != connection);
        if let Some(broker) = &mut self.broker {
            broker.connection_closed(connection);
        }
    }

    /// Timers: the core's, the idle NoOp, and requests the core kept too long.
    pub fn tick(&mut self, clock: Clock) -> Result<(), Fatal> {
        self.clock = clock;
        let now = clock.monotonic_ms;
        let actions = self.raft.tick(now);
        self.execute(actions)?;
        let idle = self.raft.role() == RoleName::Leader
            && self.max_idle_interval_ms > 0
            && now >= self.last_leader_append_ms + self.max_idle_interval_ms;
        if idle && let Err(refused) = self.propose_records(vec![encode_no_op()])? {
            // Not fatal: the core is busy or lost leadership this instant. Wait a full
            // interval before trying again rather than spinning.
            debug!("idle NoOp not proposed: {refused:?}");
            self.last_leader_append_ms = now;
        }
        self.controller_tick()?;
        self.broker_tick();
        let expiry = self.route_expiry_ms();
        let expired: Vec<(NodeId, u64)> = self
            .routes
            .iter()
            .filter(|(_, route)| route.received_ms + expiry <= now)
            .map(|(key, _)| *key)
            .collect();
        for key in expired {
            let route = self.routes.remove(&key).expect("just listed");
            warn!(
                "the core kept a {} request from node {} unanswered for {expiry} ms; answering REQUEST_TIMED_OUT",
                route.api_key.name(),
                key.0
            );
            let response = timed_out_response(route.api_key);
            self.respond(
                route.connection,
                route.seq,
                route.correlation_id,
                route.version,
                response,
            );
        }
        Ok(())
    }

    /// Proposes records as leader (the metadata layer's entry point). Refusals (not the
    /// leader, backpressure) are returned, never fatal.
    pub fn propose_records(
        &mut self,
        records: Vec<Vec<u8>>,
    ) -> Result<Result<(u64, u64), crate::raft::ProposeError>, Fatal> {
        if let Err(refused) = self.propose_staged()? {
            return Ok(Err(refused));
        }
        self.propose_now(records)
    }

    fn propose_now(
        &mut self,
        records: Vec<Vec<u8>>,
    ) -> Result<Result<(u64, u64), crate::raft::ProposeError>, Fatal> {
        let count = records.len() as u32;
        let size = crate::storage::batch::encoded_batch_bytes(
            &records.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        );
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        if size > self.log.config().batch_bytes_max {
            // Small segments (tests) hold smaller batches than the core's own limit.
            return Ok(Err(crate::raft::ProposeError::TooLarge));
        }
        match self
            .raft
            .propose(self.clock.monotonic_ms, count, size, Data::Records(records))
        {
            Ok(proposed) => {
                self.execute(proposed.actions)?;
                Ok(Ok((proposed.base_offset, proposed.last_offset)))
            }
            Err(refused) => Ok(Err(refused)),
        }
    }

    /// Group commit: one flush for everything appended since the last one, then the core learns
    /// it and releases what waited for it. Called once at the end of each loop iteration.
    pub fn end_of_iteration(&mut self, clock: Clock) -> Result<(), Fatal> {
        self.clock = clock;
        // Refusals were answered where they happened.
        let _ = self.propose_staged()?;
        // A proposal may have made a flush due now (the leader's own flush is on the commit
        // path): ask for it in this iteration, so the flush below covers it.
        if self.raft.next_deadline_ms() <= clock.monotonic_ms {
            let actions = self.raft.tick(clock.monotonic_ms);
            self.execute(actions)?;
        }
        // A flush's consequences can ask for another flush (rarely): do it in the same
        // iteration, but never loop forever.
        for _ in 0..2 {
            let Some(id) = self.flush_wanted.take() else {
                break;
            };
            self.log.flush()?;
            let actions = self.raft.flushed(clock.monotonic_ms, id);
            let released: Vec<Envelope<Data>> = {
                let (ready, waiting): (Vec<_>, Vec<_>) =
                    self.held.drain(..).partition(|(flush, _)| *flush <= id);
                self.held = waiting;
                ready.into_iter().map(|(_, envelope)| envelope).collect()
            };
            for envelope in released {
                self.send(envelope)?;
            }
            self.execute(actions)?;
        }
        self.sync_controller();
        self.snapshot_step()?;
        // Applied records may show held answers; a new leader may take heartbeats.
        self.broker_tick();
        self.log_role_change();
        Ok(())
    }

    /// Graceful shutdown: a leader resigns (EndQuorumEpoch to the others), a broker asks the
    /// controller for a controlled shutdown (its leaderships move first) and snapshots its
    /// image if the log after its latest snapshot is long. The caller keeps the
    /// loop running until [`Node::may_exit`] (or a grace period passes), then drops the node.
    pub fn resign(&mut self, clock: Clock) -> Result<(), Fatal> {
        self.clock = clock;
        if let Some(broker) = &mut self.broker
            && matches!(
                broker.lifecycle.standing(),
                broker::Standing::Registered { .. }
            )
        {
            info!("asking the active controller for a controlled shutdown");
            broker.lifecycle.begin_shutdown(clock.monotonic_ms);
            self.broker_tick();
        }
        if self.broker.is_some()
            && self
                .machine
                .start_shutdown_snapshot(clock.monotonic_ms, clock.wall_ms)?
        {
            info!(
                "finishing a snapshot of the image before exiting, so the next start need not replay the log"
            );
        }
        if self.raft.role() == RoleName::Leader {
            info!(
                "resigning leadership of epoch {} before shutting down",
                self.raft.epoch()
            );
            let actions = self.raft.resign(clock.monotonic_ms);
            self.execute(actions)?;
            self.log_role_change();
        }
        Ok(())
    }

    /// After [`Node::resign`]: true once nothing is left to wait for (a broker: the controller
    /// agreed to its shutdown, or it was never registered, and no snapshot is being written).
    pub fn may_exit(&self) -> bool {
        self.broker.as_ref().is_none_or(|b| {
            let stopped = b.lifecycle.may_stop()
                || matches!(b.lifecycle.standing(), broker::Standing::Unregistered);
            stopped && !self.machine.snapshot_in_progress()
        })
    }

    /// True when this node is a controller (a voter).
    pub fn is_controller(&self) -> bool {
        self.listeners.iter().any(|l| !l.clients) || self.broker.is_none()
    }

    /// How long the loop may keep running after a shutdown signal for this node's sake.
    pub fn shutdown_grace_ms(&self) -> u64 {
        if self.broker.is_some() {
            crate::constants::BROKER_CONTROLLED_SHUTDOWN_MS_MAX
        } else {
            0
        }
    }

    /// True while the log has preparation to do ahead of its head (zero-filling, the spare
    /// segment, trimming a sealed segment); see [`Node::prepare_ahead`].
    pub fn needs_prepare(&self) -> bool {
        self.log.needs_prepare()
    }

    /// One step of the log's idle-time preparation, so appends and rolls never wait for it.
    /// The event loop calls this only when an iteration had nothing else to do.
    pub fn prepare_ahead(&mut self) -> Result<(), Fatal> {
        match self
            .log
            .prepare_ahead(crate::constants::IDLE_PREPARE_STEP_BYTES)
        {
            Ok(_) => Ok(()),
            Err(StorageError::DiskFull { path, bytes }) => {
                // Appends still work (they zero-fill what they need); only the spare is missing.
                warn!(
                    "cannot reserve {bytes} bytes for the next segment ({}): disk full",
                    path.display()
                );
                Ok(())
            }
            Err(e) => Err(Fatal::Storage(e)),
        }
    }

    /// Makes everything durable before the process exits.
    pub fn flush_for_shutdown(&mut self) -> Result<(), Fatal> {
        self.log.flush()?;
        Ok(())
    }

    /// Replaces keys presented on the wire with the core's canonical keys, pinning directory
    /// ids on first contact (durably, before the core acts on the message).
    fn canonicalize(
        &mut self,
        from: NodeId,
        message: Message<Data>,
    ) -> Result<Message<Data>, Fatal> {
        let local = self.wire.local_directory_id;
        let local_key = |key: ReplicaKey| {
            let presented = uuid(key.directory_id);
            if presented == Uuid::ZERO || presented == local {
                ReplicaKey {
                    id: key.id,
                    directory_id: directory_id(Uuid::ZERO),
                }
            } else {
                key
            }
        };
        let mut peer_key = |key: ReplicaKey| -> Result<ReplicaKey, Fatal> {
            if !self.raft.config().voters.iter().any(|v| v.id == key.id)
                || key.id == self.wire.local_id
            {
                return Ok(key);
            }
            match self.pins.check(key.id, uuid(key.directory_id))? {
                Presented::Absent | Presented::Known => Ok(canonical(key.id)),
                Presented::Changed { pinned } => {
                    let presented = uuid(key.directory_id);
                    if self.reported_directories.insert(key.id, presented) != Some(presented) {
                        warn!(
                            "node {} presents directory {presented} but its pinned directory is {pinned}: treating it as a non-voter (a replaced disk must not vote as its old self)",
                            key.id,
                        );
                    }
                    Ok(key)
                }
            }
        };
        let _ = from;
        Ok(match message {
            Message::VoteRequest {
                correlation,
                candidate_epoch,
                candidate,
                voter,
                last_epoch,
                last_offset,
                pre_vote,
            } => Message::VoteRequest {
                correlation,
                candidate_epoch,
                candidate: peer_key(candidate)?,
                voter: local_key(voter),
                last_epoch,
                last_offset,
                pre_vote,
            },
            Message::BeginQuorumEpochRequest {
                correlation,
                epoch,
                leader,
                voter,
            } => Message::BeginQuorumEpochRequest {
                correlation,
                epoch,
                leader,
                voter: local_key(voter),
            },
            Message::EndQuorumEpochRequest {
                correlation,
                epoch,
                leader,
                preferred_successors,
            } => {
                let mut successors = Vec::with_capacity(preferred_successors.len());
                for key in preferred_successors {
                    successors.push(if key.id == self.wire.local_id {
                        local_key(key)
                    } else {
                        peer_key(key)?
                    });
                }
                Message::EndQuorumEpochRequest {
                    correlation,
                    epoch,
                    leader,
                    preferred_successors: successors,
                }
            }
            Message::FetchRequest {
                correlation,
                replica,
                current_leader_epoch,
                fetch_offset,
                last_fetched_epoch,
                max_wait_ms,
                max_bytes,
            } => Message::FetchRequest {
                correlation,
                replica: peer_key(replica)?,
                current_leader_epoch,
                fetch_offset,
                last_fetched_epoch,
                max_wait_ms,
                max_bytes,
            },
            Message::FetchSnapshotRequest {
                correlation,
                replica,
                current_leader_epoch,
                snapshot,
                position,
                max_bytes,
            } => Message::FetchSnapshotRequest {
                correlation,
                replica: peer_key(replica)?,
                current_leader_epoch,
                snapshot,
                position,
                max_bytes,
            },
            response => response,
        })
    }

    /// Runs the core's actions in order (the contract in `raft::action`).
    fn execute(&mut self, actions: Vec<Action<Data>>) -> Result<(), Fatal> {
        for action in actions {
            match action {
                Action::PersistElectionState(state) => self.persist_election_state(state)?,
                Action::AppendLeader {
                    base_offset,
                    last_offset,
                    epoch,
                    content,
                } => {
                    let wall = self.clock.wall_ms;
                    let appended = match content {
                        LeaderBatchContent::Records {
                            payload: Data::Records(records),
                            ..
                        } => {
                            let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
                            self.log.append(epoch, wall, false, &slices)?
                        }
                        LeaderBatchContent::Records { payload, .. } => {
                            panic!("a leader batch carries records, not {payload:?}")
                        }
                        LeaderBatchContent::LeaderChange(change) => {
                            self.epoch_start = Some((epoch, base_offset));
                            let record = encode_leader_change(&self.leader_change_message(&change));
                            info!(
                                "node {} is leader of epoch {epoch} (granted by {:?}); epoch starts at offset {base_offset}",
                                change.leader,
                                change
                                    .granting_voters
                                    .iter()
                                    .map(|v| v.id)
                                    .collect::<Vec<_>>()
                            );
                            self.log.append(epoch, wall, true, &[&record])?
                        }
                    };
                    assert_eq!(
                        appended,
                        (base_offset, last_offset),
                        "the log and the core disagree on offsets"
                    );
                    self.last_leader_append_ms = self.clock.monotonic_ms;
                }
                Action::AppendFetched { batches } => {
                    if let Some(progress) = &mut self.catch_up {
                        for batch in &batches {
                            progress.fetched_records += batch.last_offset - batch.base_offset + 1;
                            progress.fetched_bytes += batch.payload.byte_len();
                        }
                    }
                    for batch in batches {
                        let Data::Batch(bytes) = &batch.payload else {
                            panic!("fetched batches carry batch bytes, not {:?}", batch.payload)
                        };
                        let appended = self.log.append_raw(bytes)?;
                        assert_eq!(
                            appended,
                            (batch.base_offset, batch.last_offset),
                            "the log and the core disagree on offsets"
                        );
                    }
                }
                Action::Truncate { to_offset } => {
                    assert!(
                        to_offset >= self.machine.applied_end(),
                        "truncating to {to_offset} below the applied offset {}: committed records never go",
                        self.machine.applied_end()
                    );
                    // Only a follower truncates; a controller that was active here is not now.
                    self.sync_controller();
                    warn!(
                        "truncating the log from {} to {to_offset}: a new leader's log diverged from ours there",
                        self.log.log_end_offset()
                    );
                    self.log.truncate_to(to_offset)?;
                }
                Action::Flush { id, .. } => self.flush_wanted = Some(id),
                Action::Send(envelope) => self.send(envelope)?,
                Action::SendAfterFlush { flush, envelope } => self.held.push((flush, envelope)),
                Action::Commit { high_watermark } => {
                    assert!(
                        high_watermark >= self.high_watermark,
                        "the high watermark went back"
                    );
                    self.high_watermark = high_watermark;
                    let released = self.machine.apply_committed(&self.log, high_watermark)?;
                    for (waiter, reply) in released {
                        let response = controller_wire::response_to_wire(
                            &waiter.request,
                            waiter.route.version,
                            reply,
                        );
                        self.respond_to(&waiter.route, response);
                    }
                    self.sync_controller();
                    self.report_catch_up();
                }
                Action::DeleteLogPrefix { before_offset } => {
                    self.log.delete_before(before_offset)?
                }
                Action::WriteSnapshotChunk {
                    snapshot,
                    position,
                    chunk,
                } => {
                    let Data::Chunk(bytes) = chunk else {
                        panic!("a snapshot chunk carries chunk bytes")
                    };
                    let id = crate::storage::snapshot::SnapshotId {
                        end_offset: snapshot.end_offset,
                        epoch: snapshot.epoch,
                    };
                    if position == 0 || self.receiving_snapshot.is_none() {
                        self.receiving_snapshot =
                            Some(SnapshotReceiver::create(&self.data_dir.partition, id)?);
                    }
                    let receiver = self.receiving_snapshot.as_mut().expect("just created");
                    receiver.write_chunk(position, &bytes)?;
                }
                Action::InstallSnapshot { snapshot } => {
                    let receiver = self
                        .receiving_snapshot
                        .take()
                        .expect("chunks come before the install");
                    let receiver_bytes = receiver.bytes_written();
                    let id = receiver.finish()?;
                    assert_eq!(
                        (id.end_offset, id.epoch),
                        (snapshot.end_offset, snapshot.epoch)
                    );
                    self.log.truncate_fully_and_start_at(snapshot.end_offset)?;
                    self.serving_snapshot = None;
                    self.sync_controller();
                    self.machine.install_snapshot(id)?;
                    if let Some(progress) = &mut self.catch_up {
                        progress.snapshot_installed = Some((snapshot.end_offset, receiver_bytes));
                    }
                    info!(
                        "installed snapshot {}-{} from the leader",
                        snapshot.end_offset, snapshot.epoch
                    );
                }
            }
        }
        Ok(())
    }

    /// A request for the quorum controller: answered here unless it must wait for its records.
    fn handle_controller_request(
        &mut self,
        route: Route,
        request: RequestBody,
        call: ControllerRequest,
    ) -> Result<(), Fatal> {
        self.sync_controller();
        let now = self.clock.monotonic_ms;
        let next_offset = self.next_controller_offset();
        let prng = &mut self.topic_ids;
        let mut new_topic_id = || {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&prng.next_u64().to_be_bytes());
            bytes[8..].copy_from_slice(&prng.next_u64().to_be_bytes());
            Uuid::from_bytes(bytes)
        };
        let handled = self
            .machine
            .handle(call, now, next_offset, &mut new_topic_id);
        let waiter = Waiter { route, request };
        match handled {
            Handled::Reply(reply) => {
                let response =
                    controller_wire::response_to_wire(&waiter.request, route.version, reply);
                self.respond_to(&route, response);
            }
            Handled::NotController => self.refuse(&waiter, ErrorCode::NotController, None),
            Handled::Propose {
                records,
                reply,
                release_at,
            } => {
                if !records.is_empty()
                    && let Err(refused) = self.stage(next_offset, records)?
                {
                    let (code, message) = refused_code(&refused);
                    self.refuse(&waiter, code, Some(message));
                    return Ok(());
                }
                match release_at {
                    Some(at) if at >= self.machine.applied_end() => {
                        self.machine.wait(at, waiter, reply)
                    }
                    _ => {
                        let response = controller_wire::response_to_wire(
                            &waiter.request,
                            route.version,
                            reply,
                        );
                        self.respond_to(&route, response);
                    }
                }
            }
        }
        Ok(())
    }

    /// The controller's housekeeping on the leader: fencing brokers whose session expired,
    /// moving leadership off fenced brokers. A few batches at most per call.
    fn controller_tick(&mut self) -> Result<(), Fatal> {
        self.sync_controller();
        let now = self.clock.monotonic_ms;
        self.last_controller_tick_ms = now;
        for _ in 0..CONTROLLER_TICK_BATCHES_MAX {
            let next_offset = self.next_controller_offset();
            let Some(records) = self.machine.tick(now, next_offset) else {
                break;
            };
            if let Err(refused) = self.stage(next_offset, records)? {
                debug!("controller housekeeping not proposed: {refused:?}");
                break;
            }
        }
        Ok(())
    }

    /// Where the controller's next records go: after the log and what is staged.
    fn next_controller_offset(&self) -> u64 {
        self.log.log_end_offset() + self.staged.as_ref().map_or(0, |s| s.records.len() as u64)
    }

    /// Adds one operation's records (decided for `base_offset`) to this iteration's batch,
    /// proposing the batch first if they would not fit in it.
    fn stage(
        &mut self,
        base_offset: u64,
        records: Vec<Vec<u8>>,
    ) -> Result<Result<(), crate::raft::ProposeError>, Fatal> {
        assert_eq!(base_offset, self.next_controller_offset());
        let added_bytes: u64 = records
            .iter()
            .map(|r| crate::batch_size::record_bytes(r.len()))
            .sum();
        let fits = |staged: &StagedBatch, limit: u32| {
            staged.records.len() + records.len() <= crate::constants::BATCH_RECORDS_MAX as usize
                && staged.batch_bytes + added_bytes <= u64::from(limit)
        };
        let limit = self.log.config().batch_bytes_max;
        if self
            .staged
            .as_ref()
            .is_some_and(|staged| !fits(staged, limit))
            && let Err(refused) = self.propose_staged()?
        {
            return Ok(Err(refused));
        }
        let staged = self.staged.get_or_insert_with(|| StagedBatch {
            base_offset,
            records: Vec::new(),
            batch_bytes: crate::batch_size::EMPTY_BATCH_BYTES,
        });
        staged.batch_bytes += added_bytes;
        staged.records.extend(records);
        Ok(Ok(()))
    }

    /// Proposes the staged batch. If Raft refuses it, the controller forgets its records and
    /// every reply decided on them is refused.
    fn propose_staged(&mut self) -> Result<Result<(), crate::raft::ProposeError>, Fatal> {
        let Some(staged) = self.staged.take() else {
            return Ok(Ok(()));
        };
        match self.propose_now(staged.records)? {
            Ok((base_offset, _)) => {
                assert_eq!(
                    base_offset, staged.base_offset,
                    "the controller's records went to another offset than they were decided for"
                );
                Ok(Ok(()))
            }
            Err(refused) => {
                let (code, message) = refused_code(&refused);
                for dropped in self.machine.abandon(staged.base_offset) {
                    self.refuse(&dropped, code, Some(message));
                }
                Ok(Err(refused))
            }
        }
    }

    /// Activates or deactivates the controller to match Raft; replies that can no longer be
    /// given are answered `NOT_CONTROLLER`.
    fn sync_controller(&mut self) {
        let leading = self.epoch_start.filter(|(epoch, _)| {
            self.raft.role() == RoleName::Leader && *epoch == self.raft.epoch()
        });
        for waiter in self
            .machine
            .sync_leadership(leading, self.clock.monotonic_ms)
        {
            self.refuse(&waiter, ErrorCode::NotController, None);
        }
        if !self.machine.is_active() {
            // Decided by a controller that is gone: never proposed.
            self.staged = None;
        }
    }

    /// Writes one step of a snapshot (starting one if due); when it completes, Raft learns of
    /// it and may delete the log before it.
    fn snapshot_step(&mut self) -> Result<(), Fatal> {
        self.machine
            .maybe_start_snapshot(self.clock.monotonic_ms, self.clock.wall_ms)?;
        if let Some(id) = self.machine.snapshot_step()? {
            let actions = self.raft.snapshot_written(
                self.clock.monotonic_ms,
                SnapshotId {
                    end_offset: id.end_offset,
                    epoch: id.epoch,
                },
            );
            self.execute(actions)?;
        }
        Ok(())
    }

    /// Logs, once, how a follower or observer caught up with the leader after starting: from
    /// its own log end, or by installing the leader's snapshot, and what it fetched.
    fn report_catch_up(&mut self) {
        if self.raft.role() != RoleName::Follower
            || self.machine.applied_end() < self.high_watermark
            || self.high_watermark < self.log.log_end_offset()
        {
            return;
        }
        let Some(progress) = self.catch_up.take() else {
            return;
        };
        let how = match progress.snapshot_installed {
            Some((end_offset, bytes)) => format!(
                "installed the leader's snapshot at offset {end_offset} ({bytes} bytes; its log from offset {} was behind the leader's log start) and fetched",
                progress.resumed_from
            ),
            None => format!(
                "resumed from its own log at offset {} and fetched",
                progress.resumed_from
            ),
        };
        info!(
            "caught up with the leader at offset {} in {} ms: {how} {} records ({} bytes)",
            self.high_watermark,
            self.clock.monotonic_ms.saturating_sub(progress.started_ms),
            progress.fetched_records,
            progress.fetched_bytes
        );
    }

    /// Answers a controller request with `code` for everything it asked.
    fn refuse(&mut self, waiter: &Waiter, code: ErrorCode, message: Option<&str>) {
        let response =
            controller_wire::error_response(&waiter.request, waiter.route.version, code, message);
        self.respond_to(&waiter.route, response);
    }

    fn respond_to(&mut self, route: &Route, response: ResponseBody) {
        self.respond(
            route.connection,
            route.seq,
            route.correlation_id,
            route.version,
            response,
        );
    }

    fn persist_election_state(&mut self, state: ElectionState) -> Result<(), Fatal> {
        assert!(
            state.abstain_until_offset.is_none(),
            "keel refuses to start on log corruption instead of abstaining"
        );
        let quorum_state = QuorumState {
            epoch: state.epoch,
            voted_for: state.voted_for.map(|key| Vote {
                node_id: key.id,
                directory_id: if key.id == self.wire.local_id {
                    self.wire.local_directory_id
                } else {
                    self.pins.pinned(key.id).unwrap_or(Uuid::ZERO)
                },
            }),
            leader_id: state.leader,
            local_directory_id: self.wire.local_directory_id,
        };
        quorum_state.write(&self.data_dir.partition)?;
        Ok(())
    }

    /// The LeaderChange record for `change`, with each voter's real directory id.
    fn leader_change_message(&self, change: &crate::raft::LeaderChange) -> LeaderChangeMessage {
        let voter = |key: &ReplicaKey| leader_change_message::Voter {
            voter_id: key.id as i32,
            voter_directory_id: if key.id == self.wire.local_id {
                self.wire.local_directory_id
            } else {
                self.pins.pinned(key.id).unwrap_or(Uuid::ZERO)
            },
            ..Default::default()
        };
        LeaderChangeMessage {
            version: crate::metadata::record::LEADER_CHANGE_VERSION,
            leader_id: change.leader as i32,
            voters: change.voters.iter().map(voter).collect(),
            granting_voters: change.granting_voters.iter().map(voter).collect(),
            ..Default::default()
        }
    }

    /// Sends a message: a response to the inbound request it answers, or a request to a peer.
    fn send(&mut self, mut envelope: Envelope<Data>) -> Result<(), Fatal> {
        let filled = match envelope.fill.take() {
            None => Filled::Nothing,
            Some(fill) => self.fill(fill)?,
        };
        let to = envelope.to;
        match &envelope.message {
            Message::VoteRequest { .. }
            | Message::BeginQuorumEpochRequest { .. }
            | Message::EndQuorumEpochRequest { .. }
            | Message::FetchRequest { .. }
            | Message::FetchSnapshotRequest { .. } => {
                let receiver_directory = self.pins.pinned(to).unwrap_or(Uuid::ZERO);
                let (body, version) =
                    convert::request_from_raft(&self.wire, &envelope.message, receiver_directory);
                let pre_vote = matches!(
                    envelope.message,
                    Message::VoteRequest { pre_vote: true, .. }
                );
                let token = self.next_token;
                self.next_token += 1;
                self.sent.insert(
                    token,
                    (
                        to,
                        Sent {
                            correlation: envelope.message.correlation(),
                            pre_vote,
                        },
                    ),
                );
                let timeout_ms = match &envelope.message {
                    Message::FetchRequest { max_wait_ms, .. } => {
                        max_wait_ms + self.raft.config().request_timeout_ms
                    }
                    _ => self.raft.config().request_timeout_ms,
                };
                self.outputs.push(Output::Request {
                    to,
                    channel: Channel::Quorum,
                    token,
                    body,
                    version,
                    timeout_ms,
                });
            }
            _ => {
                let Some(route) = self.routes.remove(&(to, envelope.message.correlation())) else {
                    // The connection closed, or the node already answered it.
                    return Ok(());
                };
                let response = convert::response_from_raft(&self.wire, envelope.message, filled);
                self.respond(
                    route.connection,
                    route.seq,
                    route.correlation_id,
                    route.version,
                    response,
                );
            }
        }
        Ok(())
    }

    /// Reads from storage what the core described (`Fill`).
    fn fill(&mut self, fill: Fill) -> Result<Filled, Fatal> {
        match fill {
            Fill::Records {
                from_offset,
                end_offset,
                max_bytes,
            } => {
                let bytes = self.log.read(from_offset, max_bytes)?;
                Ok(Filled::Records(batches_below(bytes, end_offset).to_vec()))
            }
            Fill::SnapshotChunk {
                snapshot,
                position,
                max_bytes,
            } => {
                let id = crate::storage::snapshot::SnapshotId {
                    end_offset: snapshot.end_offset,
                    epoch: snapshot.epoch,
                };
                if self
                    .serving_snapshot
                    .as_ref()
                    .is_none_or(|reader| reader.id() != id)
                {
                    self.serving_snapshot =
                        Some(SnapshotReader::open(&self.data_dir.partition, id)?);
                }
                let reader = self.serving_snapshot.as_ref().expect("just opened");
                Ok(Filled::SnapshotChunk {
                    bytes: reader.chunk(position, max_bytes)?.to_vec(),
                    size: reader.size_bytes(),
                })
            }
        }
    }

    /// Answers request `seq` of `connection` with `response`, narrowed to the request's
    /// version (a response is built from everything the node knows; an older version carries
    /// less). One that still does not encode is a bug: it is logged and the request gets
    /// `UNKNOWN_SERVER_ERROR` ([`fallback`]); if even that does not encode, the connection is
    /// closed. Never a panic: the request came from the network.
    fn respond(
        &mut self,
        connection: ConnectionId,
        seq: u64,
        correlation_id: i32,
        version: i16,
        mut response: ResponseBody,
    ) {
        response.narrow_to_version(version);
        let mut frame = Vec::new();
        if let Err(error) = encode_response_body(&mut frame, correlation_id, version, &response) {
            let api = response.api_key().name();
            self.unencodable_answers += 1;
            error!(
                "bug: the {api} v{version} answer to correlation id {correlation_id} does not encode ({error}); answering UNKNOWN_SERVER_ERROR instead"
            );
            let mut stand_in = fallback::unknown_server_error(&response);
            stand_in.narrow_to_version(version);
            frame.clear();
            if let Err(error) = encode_response_body(&mut frame, correlation_id, version, &stand_in)
            {
                error!(
                    "bug: the UNKNOWN_SERVER_ERROR answer to {api} v{version} does not encode either ({error}); closing the connection"
                );
                self.outputs.push(Output::Close {
                    connection,
                    reason: format!("the answer to {api} v{version} could not be encoded"),
                });
                return;
            }
        }
        self.outputs.push(Output::Respond {
            connection,
            seq,
            frame,
        });
    }

    fn log_role_change(&mut self) {
        let now = (self.raft.role(), self.raft.epoch(), self.raft.leader());
        if now != self.last_role {
            info!(
                "role change: {:?} in epoch {} -> {:?} in epoch {} (leader {})",
                self.last_role.0,
                self.last_role.1,
                now.0,
                now.1,
                now.2.map_or("unknown".to_string(), |id| id.to_string())
            );
            self.last_role = now;
        }
    }

    /// The DescribeQuorum answer, from the core's view (only the leader knows every replica).
    fn describe_quorum(
        &self,
        request: &DescribeQuorumRequest,
        version: i16,
    ) -> DescribeQuorumResponse {
        let asks_for_metadata_partition = matches!(
            request.topics.as_slice(),
            [topic] if topic.topic_name == METADATA_TOPIC && topic.partitions.len() == 1
        );
        if !asks_for_metadata_partition {
            return DescribeQuorumResponse {
                error_code: ErrorCode::InvalidRequest.code(),
                error_message: Some(
                    "DescribeQuorum asks for partition 0 of __cluster_metadata".into(),
                ),
                ..Default::default()
            };
        }
        let status = self.raft.status();
        let partition_index = request.topics[0].partitions[0].partition_index;
        let mut partition = describe_quorum_response::PartitionData {
            partition_index,
            leader_id: status.leader.map_or(-1, |id| id as i32),
            leader_epoch: status.epoch as i32,
            high_watermark: status.high_watermark as i64,
            error_message: None,
            ..Default::default()
        };
        if partition_index != 0 {
            partition.error_code = ErrorCode::UnknownTopicOrPartition.code();
        } else if status.role != RoleName::Leader {
            partition.error_code = ErrorCode::NotLeaderOrFollower.code();
            partition.error_message =
                Some("only the leader knows every replica's state; ask the leader".into());
        } else {
            let clock = self.clock;
            for replica in &status.replicas {
                let directory = if replica.key.id == self.wire.local_id {
                    self.wire.local_directory_id
                } else if uuid(replica.key.directory_id) != Uuid::ZERO {
                    uuid(replica.key.directory_id)
                } else {
                    self.pins.pinned(replica.key.id).unwrap_or(Uuid::ZERO)
                };
                let state = describe_quorum_response::ReplicaState {
                    replica_id: replica.key.id as i32,
                    replica_directory_id: directory,
                    log_end_offset: replica.log_end_offset.map_or(-1, |o| o as i64),
                    last_fetch_timestamp: replica.last_fetch_ms.map_or(-1, |t| clock.wall_at(t)),
                    last_caught_up_timestamp: replica
                        .last_caught_up_ms
                        .map_or(-1, |t| clock.wall_at(t)),
                    ..Default::default()
                };
                if replica.voter {
                    partition.current_voters.push(state);
                } else {
                    partition.observers.push(state);
                }
            }
        }
        let nodes = if version >= 2 {
            self.wire
                .endpoints
                .iter()
                .map(|(id, (host, port))| describe_quorum_response::Node {
                    node_id: *id as i32,
                    listeners: vec![describe_quorum_response::Listener {
                        name: self.wire.listener_name.clone(),
                        host: host.clone(),
                        port: *port,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        };
        DescribeQuorumResponse {
            error_code: ErrorCode::None.code(),
            error_message: None,
            topics: vec![describe_quorum_response::TopicData {
                topic_name: METADATA_TOPIC.to_owned(),
                partitions: vec![partition],
                ..Default::default()
            }],
            nodes,
            ..Default::default()
        }
    }
}

/// DescribeCluster's endpoint types (KIP-919).
const ENDPOINT_TYPE_CONTROLLER: i8 = 2;

impl Node {
    /// The DescribeCluster answer of a controller: the voters, and the current leader as the
    /// controller. A controller serves controller endpoints only, as Kafka's do.
    fn describe_cluster(&self, request: &DescribeClusterRequest) -> DescribeClusterResponse {
        if let Some(refusal) = broker_surface::describe_cluster_refusal(
            request,
            ENDPOINT_TYPE_CONTROLLER,
            &self.wire.cluster_id,
        ) {
            return refusal;
        }
        DescribeClusterResponse {
            endpoint_type: ENDPOINT_TYPE_CONTROLLER,
            cluster_id: self.wire.cluster_id.clone(),
            controller_id: self.raft.leader().map_or(-1, |id| id as i32),
            // No authorization: every cluster operation, as Kafka without an authorizer.
            cluster_authorized_operations: if request.include_cluster_authorized_operations {
                broker_surface::CLUSTER_AUTHORIZED_OPERATIONS_ALL
            } else {
                broker_surface::AUTHORIZED_OPERATIONS_NOT_REQUESTED
            },
            brokers: self
                .wire
                .endpoints
                .iter()
                .map(
                    |(id, (host, port))| describe_cluster_response::DescribeClusterBroker {
                        broker_id: *id as i32,
                        host: host.clone(),
                        port: i32::from(*port),
                        rack: None,
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        }
    }
}

/// The error a controller request gets when Raft refuses its batch.
fn refused_code(refused: &crate::raft::ProposeError) -> (ErrorCode, &'static str) {
    match refused {
        crate::raft::ProposeError::NotLeader { .. } => (
            ErrorCode::NotController,
            "this controller is no longer the leader",
        ),
        crate::raft::ProposeError::Backpressure => (
            ErrorCode::RequestTimedOut,
            "the controller has too many uncommitted records; retry",
        ),
        crate::raft::ProposeError::TooLarge => (
            ErrorCode::PolicyViolation,
            "the operation's records do not fit one batch of this log (metadata.log.segment.bytes)",
        ),
    }
}

/// Logs what recovery did when the log was opened.
fn report_recovery(log: &Log) {
    let report = log.recovery_report();
    if let Some(cut) = &report.torn_tail {
        warn!(
            "recovery: cut a torn tail of {} at byte {} (offsets from {} were never flushed): {}",
            cut.path.display(),
            cut.position,
            cut.first_offset,
            cut.reason
        );
    }
    for path in &report.indexes_rebuilt {
        info!("recovery: rebuilt index {}", path.display());
    }
}

/// The prefix of `bytes` (whole batches, back to back) holding only batches that end below
/// `end_offset`; always at least the first batch if it qualifies.
fn batches_below(bytes: &[u8], end_offset: u64) -> &[u8] {
    let mut cut = 0;
    while let Some(header) = crate::storage::batch::peek_header(&bytes[cut..]) {
        let size = header.batch_bytes as usize;
        if header.last_offset() >= end_offset || cut + size > bytes.len() {
            break;
        }
        cut += size;
    }
    &bytes[..cut]
}

/// Splits fetched records into whole, CRC-checked batches for the core. Anything that is not a
/// sequence of valid batches is refused: the core never sees bytes that storage would reject.
fn parse_batches(bytes: Vec<u8>, batch_bytes_max: u32) -> Result<Vec<Batch<Data>>, String> {
    let mut batches = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let batch = decode_batch(&bytes[at..], batch_bytes_max)
            .map_err(|e| format!("fetched records at byte {at}: {e}"))?;
        let header = batch.header;
        let size = header.batch_bytes as usize;
        batches.push(Batch {
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            epoch: header.leader_epoch,
            size_bytes: header.batch_bytes,
            payload: Data::Batch(bytes[at..at + size].to_vec()),
        });
        at += size;
    }
    Ok(batches)
}

/// The versions a controller serves `api` at (an API of [`SERVED_APIS`]): every version the
/// codec has, except Fetch, which controllers serve at [`convert::RAFT_FETCH_MIN_VERSION`] and
/// above only: the versions KRaft uses (the codec has 4-17 for the consumers brokers refuse,
/// `broker_surface::broker_versions`). A request at a version a controller does not serve
/// closes the connection, as one at a version the codec does not know does.
pub fn controller_versions(api: ApiKey) -> std::ops::RangeInclusive<i16> {
    let codec = api.versions();
    match api {
        ApiKey::Fetch => convert::RAFT_FETCH_MIN_VERSION.max(*codec.start())..=*codec.end(),
        _ => codec,
    }
}

/// The APIs a node serves today, each at [`controller_versions`] (every version the codec
/// supports but for Fetch), listed by api key (the order of the ApiVersions answer). The codec
/// may know more APIs than a node serves (the metadata layer's client, admin and
/// broker-to-controller APIs enter the codec ahead of the code that serves them): a node neither advertises nor answers those, and a request for one closes
/// the connection, as Kafka does for an API its listener does not enable.
pub const SERVED_APIS: &[ApiKey] = &[
    ApiKey::Fetch,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::CreatePartitions,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::Vote,
    ApiKey::BeginQuorumEpoch,
    ApiKey::EndQuorumEpoch,
    ApiKey::DescribeQuorum,
    ApiKey::AlterPartition,
    ApiKey::FetchSnapshot,
    ApiKey::DescribeCluster,
    ApiKey::BrokerRegistration,
    ApiKey::BrokerHeartbeat,
    ApiKey::UnregisterBroker,
];

/// The answer to a request the core kept too long: REQUEST_TIMED_OUT at the top level.
fn timed_out_response(api_key: ApiKey) -> ResponseBody {
    use crate::protocol::messages::*;
    let code = ErrorCode::RequestTimedOut.code();
    match api_key {
        ApiKey::Vote => ResponseBody::Vote(VoteResponse {
            error_code: code,
            ..Default::default()
        }),
        ApiKey::BeginQuorumEpoch => ResponseBody::BeginQuorumEpoch(BeginQuorumEpochResponse {
            error_code: code,
            ..Default::default()
        }),
        ApiKey::EndQuorumEpoch => ResponseBody::EndQuorumEpoch(EndQuorumEpochResponse {
            error_code: code,
            ..Default::default()
        }),
        ApiKey::Fetch => ResponseBody::Fetch(FetchResponse {
            error_code: code,
            ..Default::default()
        }),
        ApiKey::FetchSnapshot => ResponseBody::FetchSnapshot(FetchSnapshotResponse {
            error_code: code,
            ..Default::default()
        }),
        // ApiVersions, DescribeQuorum and DescribeCluster are answered at once; APIs the node
        // does not serve close the connection. Neither is ever routed to the core.
        _ => unreachable!("{api_key:?} is never routed to the core"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::FrameDecoder;
    use crate::protocol::envelope::{decode_response, encode_request_body};
    use crate::protocol::messages::*;

    const CLUSTER: &str = "MkU3OEVBNTcwNTJENDM2Qg";

    /// A single-voter node on a freshly formatted directory under the system temp dir.
    fn test_node(name: &str) -> (Node, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("keel-node-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = Config::parse(&format!(
            "process.roles=controller\nnode.id=1\n\
             controller.quorum.voters=1@127.0.0.1:19093\n\
             listeners=CONTROLLER://127.0.0.1:19093\ncontroller.listener.names=CONTROLLER\n\
             metadata.log.dir={}\n",
            dir.display()
        ))
        .unwrap();
        datadir::format(&dir, CLUSTER, 1, false, &[]).unwrap();
        let data_dir = DataDir::open(&dir, 1, Some(CLUSTER)).unwrap();
        let clock = Clock {
            monotonic_ms: 0,
            wall_ms: 1_763_700_000_000,
        };
        let node = Node::start(
            &config,
            data_dir,
            NodeSettings::from_config(&config, 7),
            clock,
        )
        .unwrap();
        (node, dir)
    }

    fn frame_of(request: &RequestBody, version: i16, correlation_id: i32) -> Vec<u8> {
        let mut framed = Vec::new();
        encode_request_body(&mut framed, correlation_id, Some("test"), version, request).unwrap();
        framed[4..].to_vec()
    }

    /// A request with every field at its default, for each API the codec knows and the node
    /// does not serve.
    fn unserved_requests() -> Vec<RequestBody> {
        // Metadata is the brokers' API (Kafka's controllers do not serve it either), and so
        // are Produce, ListOffsets and FindCoordinator, which brokers refuse
        // (`not_served`); a controller closes the connection on them.
        vec![
            RequestBody::Produce(Default::default()),
            RequestBody::ListOffsets(Default::default()),
            RequestBody::Metadata(MetadataRequest::default()),
            RequestBody::FindCoordinator(Default::default()),
        ]
    }

    #[test]
    fn api_versions_advertises_exactly_the_served_apis_in_key_order() {
        let response = broker_surface::api_versions_response(
            SERVED_APIS,
            controller_versions,
            &ApiVersionsRequest::default(),
        );
        assert_eq!(response.error_code, 0);
        let listed: Vec<(i16, i16, i16)> = response
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        let served: Vec<(i16, i16, i16)> = SERVED_APIS
            .iter()
            .map(|api| (*api as i16, *api.versions().start(), *api.versions().end()))
            .collect();
        // Every API at the codec's versions, but Fetch at the versions KRaft uses only.
        let served: Vec<(i16, i16, i16)> = served
            .into_iter()
            .map(|(key, min, max)| {
                if key == 1 {
                    (key, 12, max)
                } else {
                    (key, min, max)
                }
            })
            .collect();
        assert_eq!(listed, served);
        let keys: Vec<i16> = listed.iter().map(|k| k.0).collect();
        assert_eq!(
            keys,
            vec![
                1, 18, 19, 20, 32, 33, 37, 44, 52, 53, 54, 55, 56, 59, 60, 62, 63, 64
            ]
        );
        // The codec knows more APIs than the node serves; none of those is advertised.
        let unserved: Vec<ApiKey> = ApiKey::ALL
            .iter()
            .copied()
            .filter(|api| !SERVED_APIS.contains(api))
            .collect();
        assert!(unserved.contains(&ApiKey::Metadata));
        for api in &unserved {
            assert!(
                !keys.contains(&(*api as i16)),
                "{} is advertised but not served",
                api.name()
            );
        }
    }

    #[test]
    fn a_request_for_an_api_the_node_does_not_serve_closes_the_connection() {
        let (mut node, dir) = test_node("unserved");
        let clock = Clock {
            monotonic_ms: 10,
            wall_ms: 1_763_700_000_010,
        };
        let requests = unserved_requests();
        let mut covered: Vec<ApiKey> = requests.iter().map(RequestBody::api_key).collect();
        covered.sort();
        let mut unserved: Vec<ApiKey> = ApiKey::ALL
            .iter()
            .copied()
            .filter(|api| !SERVED_APIS.contains(api))
            .collect();
        unserved.sort();
        assert_eq!(
            covered, unserved,
            "every API the node does not serve is tried"
        );
        let mut seq = 0;
        for request in &requests {
            let api = request.api_key();
            // A well-formed request at every version the codec supports: it decodes, and is
            // still refused.
            for version in api.versions() {
                seq += 1;
                let frame = frame_of(request, version, 100 + seq as i32);
                assert!(decode_request(&frame).is_ok());
                let outcome = node.handle_request(clock, 1, 0, seq, &frame).unwrap();
                let RequestOutcome::Close { reason } = outcome else {
                    panic!("{} v{version} was not refused: {outcome:?}", api.name())
                };
                assert!(reason.contains(api.name()), "{reason}");
                assert!(reason.contains("not served"), "{reason}");
            }
        }
        assert!(
            node.take_outputs().is_empty(),
            "nothing is sent for a refused request"
        );

        // ApiVersions is still answered, and does not list those APIs.
        let frame = frame_of(
            &RequestBody::ApiVersions(ApiVersionsRequest::default()),
            3,
            7,
        );
        assert_eq!(
            node.handle_request(clock, 2, 0, 0, &frame).unwrap(),
            RequestOutcome::Handled
        );
        let outputs = node.take_outputs();
        let [Output::Respond { frame, .. }] = outputs.as_slice() else {
            panic!("expected one response, got {outputs:?}")
        };
        let mut decoder = FrameDecoder::new(1 << 20);
        decoder.extend(frame);
        let body = decoder.next_frame().unwrap().unwrap().to_vec();
        let (correlation_id, response) = decode_response::<ApiVersionsResponse>(&body, 3).unwrap();
        assert_eq!(correlation_id, 7);
        let listed: Vec<i16> = response.api_keys.iter().map(|k| k.api_key).collect();
        assert!(!listed.contains(&(ApiKey::Metadata as i16)), "{listed:?}");
        assert_eq!(listed.len(), SERVED_APIS.len());
        drop(node);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_controller_closes_the_connection_on_a_fetch_below_the_versions_kraft_uses() {
        let (mut node, dir) = test_node("old-fetch");
        let clock = Clock {
            monotonic_ms: 10,
            wall_ms: 1_763_700_000_010,
        };
        let request = RequestBody::Fetch(FetchRequest::default());
        for version in *ApiKey::Fetch.versions().start()..convert::RAFT_FETCH_MIN_VERSION {
            let frame = frame_of(&request, version, 100 + i32::from(version));
            assert!(decode_request(&frame).is_ok(), "the codec has v{version}");
            let outcome = node
                .handle_request(clock, 1, 0, version as u64, &frame)
                .unwrap();
            let RequestOutcome::Close { reason } = outcome else {
                panic!("Fetch v{version} was answered by a controller: {outcome:?}")
            };
            assert!(
                reason.contains(&format!(
                    "Fetch version {version} is not served by a controller (it serves 12-17"
                )),
                "{reason}"
            );
        }
        assert!(node.take_outputs().is_empty());
        drop(node);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_controller_request_to_a_node_that_is_not_the_active_controller_gets_not_controller() {
        let (mut node, dir) = test_node("not-controller");
        let clock = Clock {
            monotonic_ms: 10,
            wall_ms: 1_763_700_000_010,
        };
        let request = RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![
                crate::protocol::messages::create_topics_request::CreatableTopic {
                    name: "orders".into(),
                    num_partitions: 3,
                    replication_factor: 1,
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        let frame = frame_of(&request, 7, 41);
        assert_eq!(
            node.handle_request(clock, 1, 0, 0, &frame).unwrap(),
            RequestOutcome::Handled
        );
        let outputs = node.take_outputs();
        let [Output::Respond { frame, .. }] = outputs.as_slice() else {
            panic!("expected one response, got {outputs:?}")
        };
        let (correlation_id, response) =
            decode_response::<crate::protocol::messages::CreateTopicsResponse>(&frame[4..], 7)
                .unwrap();
        assert_eq!(correlation_id, 41);
        assert_eq!(response.topics.len(), 1);
        assert_eq!(response.topics[0].name, "orders");
        assert_eq!(
            response.topics[0].error_code,
            ErrorCode::NotController.code()
        );
        drop(node);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_controller_answers_describe_cluster_as_kafkas_controller_does() {
        let (mut node, dir) = test_node("describe-cluster");
        let clock = Clock {
            monotonic_ms: 10,
            wall_ms: 1_763_700_000_010,
        };
        let mut ask = |endpoint_type: i8, operations: bool| {
            let request = RequestBody::DescribeCluster(DescribeClusterRequest {
                endpoint_type,
                include_cluster_authorized_operations: operations,
                ..Default::default()
            });
            let frame = frame_of(&request, 1, 7);
            node.handle_request(clock, 1, 0, 0, &frame).unwrap();
            let outputs = node.take_outputs();
            let [Output::Respond { frame, .. }] = outputs.as_slice() else {
                panic!("expected one response, got {outputs:?}")
            };
            decode_response::<DescribeClusterResponse>(&frame[4..], 1)
                .unwrap()
                .1
        };
        let controllers = ask(ENDPOINT_TYPE_CONTROLLER, true);
        assert_eq!(controllers.error_code, ErrorCode::None.code());
        assert_eq!(controllers.brokers.len(), 1);
        assert_eq!(
            controllers.cluster_authorized_operations,
            broker_surface::CLUSTER_AUTHORIZED_OPERATIONS_ALL
        );
        assert_eq!(
            ask(ENDPOINT_TYPE_CONTROLLER, false).cluster_authorized_operations,
            i32::MIN
        );
        assert_eq!(
            ask(broker_surface::ENDPOINT_TYPE_BROKER, false).error_code,
            ErrorCode::MismatchedEndpointType.code()
        );
        assert_eq!(
            ask(7, false).error_code,
            ErrorCode::UnsupportedEndpointType.code()
        );
        drop(node);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
