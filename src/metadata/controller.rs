//! The quorum controller: the decision logic of the active controller (the Raft leader),
//! which validates requests against the latest metadata and turns each into the records of one
//! batch. Pure and deterministic: no I/O, no clock, no randomness of its own; time (`now_ms`),
//! log offsets (`next_offset`) and topic ids (an id source) come from the caller.
//!
//! # State
//!
//! - The **committed image**: every committed record, replayed by the node in log order on
//!   every voter ([`Controller::replay`]). Reads that need no write (DescribeConfigs) answer from
//!   it.
//! - While active: the **latest image**, the committed image plus the records this controller
//!   proposed and Raft has not yet committed (the *pending* records, with their offsets).
//!   Every request is validated against it, so two requests in flight see each other's effects
//!   (Kafka's controller works the same way). Both images share unchanged partitions, so the
//!   latest image costs memory only for what changed.
//! - While active: **broker sessions**, the time of each broker's last heartbeat. Soft state,
//!   as in Kafka: a new active controller gives every unfenced broker a fresh session.
//!
//! # The contract with the node
//!
//! 1. On every voter, whatever its role: for each committed record of a data batch, in log
//!    order, call [`replay`](Controller::replay) with its offset (a failure is fatal: log it
//!    and stop); for each committed record of a control batch, [`advance`](Controller::advance).
//!    A replica that installs a snapshot calls [`load_snapshot`](Controller::load_snapshot)
//!    (only while inactive).
//! 2. When this node becomes the Raft leader, call [`activate`](Controller::activate) once the
//!    committed image holds every record before the leader's own epoch, that is once the high
//!    watermark has passed the epoch's LeaderChange record and every record below it has been
//!    replayed (Kafka's controller claims leadership at the same point). Until then, and on
//!    every non-leader, answer controller requests with `NOT_CONTROLLER` (the node's check).
//! 3. When this node stops being the leader (resigns, loses an election, is fenced by a higher
//!    epoch), call [`deactivate`](Controller::deactivate): every pending record and the latest
//!    image are dropped; what the new leader commits arrives through `replay`.
//! 4. Each mutating call takes `next_offset`, the offset Raft will give the first record the
//!    node proposes next (its log end offset), and returns an [`Outcome`]: `records`, to be
//!    proposed as **one batch** at exactly that offset (at most `BATCH_RECORDS_MAX` records and
//!    `BATCH_BYTES_MAX` bytes; empty means nothing to propose), and a `reply` to send once the
//!    committed offset reaches `release_at` (`None`: at once). The controller has already
//!    applied the records to its latest image: a broker epoch, for instance, is the offset of
//!    the RegisterBrokerRecord and is in the reply. Replies that wrote nothing still wait for
//!    the records pending before them, so that no reply reveals uncommitted state.
//! 5. If Raft refuses the batch (backpressure, no longer leader), or records the controller
//!    proposed at offsets `A..` are truncated, call [`abandon`](Controller::abandon)`(A)`: the
//!    pending records from `A` on are dropped and the latest image is rebuilt from the committed
//!    image and the records still pending. A reply whose `release_at` is `A` or later was
//!    decided on dropped state and must not be sent as it is (answer `NOT_CONTROLLER` or
//!    `REQUEST_TIMED_OUT`, as the node sees fit); replies released before `A` stand.
//! 6. Call [`tick`](Controller::tick) regularly (every event-loop iteration is fine: with
//!    nothing to do it costs O(brokers)) and
//!    repeatedly while it returns a batch: it fences brokers whose session expired (no
//!    heartbeat for `broker.session.timeout.ms`), moves leadership and ISR membership away
//!    from brokers that are fenced, shutting down or unregistered, and elects leaders for
//!    partitions left without one when an ISR member becomes eligible again. Each call returns
//!    at most one batch; such housekeeping is not atomic (as in Kafka: each record is valid on
//!    its own), so work too large for one batch continues in the next call, and a failover in
//!    between leaves a state the next active controller completes.
//!
//! NoOp records (KIP-835) are the node's: it may propose them at any offset; their replay is
//! harmless. Any other data record the controller did not propose must not be committed while
//! it is active (the node proposes data records only through the controller).
//!
//! # API
//!
//! ```text
//! Controller::new(config: ControllerConfig, committed: Image) -> Controller       inactive
//! committed(&self) -> &Image            latest(&self) -> &Image (committed when inactive)
//! is_active(&self) -> bool              pending_offsets(&self) -> impl Iterator<Item = u64>
//! replay(&mut self, offset: u64, record: &MetadataRecord) -> Result<(), ApplyError>
//! advance(&mut self, offset: u64)       load_snapshot(&mut self, image: Image)
//! activate(&mut self, now_ms: u64)      deactivate(&mut self)      abandon(&mut self, offset: u64)
//! tick(&mut self, now_ms, next_offset) -> Option<Vec<Vec<u8>>>        at most one batch
//! register_broker(&mut self, now_ms, next_offset, &BrokerRegistrationRequest)
//!                                                   -> Outcome<BrokerRegistrationReply>
//! broker_heartbeat(&mut self, now_ms, next_offset, &BrokerHeartbeatRequest)
//!                                                   -> Outcome<BrokerHeartbeatReply>
//! unregister_broker(&mut self, next_offset, broker_id: i32) -> Outcome<UnregisterBrokerReply>
//! alter_partition(&mut self, next_offset, &AlterPartitionRequest) -> Outcome<AlterPartitionReply>
//! create_topics(&mut self, next_offset, &CreateTopicsRequest, new_topic_id: &mut dyn FnMut() -> Uuid)
//!                                                   -> Outcome<CreateTopicsReply>
//! delete_topics(&mut self, next_offset, &DeleteTopicsRequest) -> Outcome<DeleteTopicsReply>
//! create_partitions(&mut self, next_offset, &CreatePartitionsRequest)
//!                                                   -> Outcome<CreatePartitionsReply>
//! incremental_alter_configs(&mut self, next_offset, &IncrementalAlterConfigsRequest)
//!                                                   -> Outcome<AlterConfigsReply>
//! alter_configs(&mut self, next_offset, &AlterConfigsRequest) -> Outcome<AlterConfigsReply>
//! describe_configs(&self, &DescribeConfigsRequest) -> DescribeConfigsReply   no records
//! ```
//!
//! The mutating calls are for the active controller only (they assert it). The request and
//! reply types are keel's own, not the wire structs: the node converts. Topic ids come from
//! the caller's `new_topic_id` (random in production, fixed in tests); the controller draws
//! again for an id that is taken or reserved. Placement rotates by the topic id, so it is as
//! random as the ids and as deterministic as the caller makes them.
//!
//! # Operations and batch size
//!
//! Client operations (registration, heartbeat, AlterPartition, topic, partition and config
//! changes) each produce at most one batch, atomically. An operation that would exceed one
//! batch is refused (`POLICY_VIOLATION`, or `INVALID_REQUEST` for an AlterPartition with more
//! partitions than a batch holds) instead of being split: keel does not write Kafka's
//! BeginTransaction/EndTransaction markers. The state changes a heartbeat or unregistration
//! implies for partitions (leaders moving off a fenced or shutting-down broker) go into the
//! same batch as far as it has room, and `tick` finishes them.
//!
//! Error codes are Kafka's; `protocol-spec/apis/*.md` lists them per API.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::broker_configs::BROKER_CONFIGS;
use super::configs::{self, BrokerConfigRefusal, ConfigType, UpdateMode};
use super::image::{
    BrokerRegistration, ConfigResource, Image, LEADER_RECOVERED, LEADER_RECOVERING, Listener,
    NO_LEADER, NO_LEADER_CHANGE, PARTITION_MEMBERS_MAX, PartitionView, RESOURCE_BROKER,
    RESOURCE_TOPIC, SupportedFeature,
};
use super::placement::{self, PlacementError, Rotation, UsableBroker};
use super::record::MetadataRecord;
use crate::batch_size::batch_bytes;
use crate::constants::{
    BATCH_BYTES_MAX, BATCH_RECORDS_MAX, BROKER_SESSION_TIMEOUT_MS_DEFAULT, DEFAULT_NUM_PARTITIONS,
    DEFAULT_REPLICATION_FACTOR, TOPIC_ID_DRAWS_MAX, TOPIC_NAME_BYTES_MAX, WIRE_STRING_BYTES_MAX,
};
use crate::protocol::messages::{
    BrokerRegistrationChangeRecord, ConfigRecord, PartitionChangeRecord, PartitionRecord,
    RegisterBrokerRecord, RemoveTopicRecord, TopicRecord, UnregisterBrokerRecord,
    register_broker_record,
};
use crate::protocol::{ErrorCode, Uuid};

/// The name of the metadata log's own topic, which clients may not create.
pub const METADATA_TOPIC_NAME: &str = "__cluster_metadata";

/// Topics Kafka's clients know as internal (Metadata marks them so): the group and
/// transaction coordinators' logs, the metadata log, and keel's change stream. Users cannot
/// create them.
pub const INTERNAL_TOPICS: &[&str] = &[
    "__consumer_offsets",
    "__transaction_state",
    METADATA_TOPIC_NAME,
    "__keel_changes",
];

/// Whether `name` is one of the [`INTERNAL_TOPICS`].
pub fn is_internal_topic(name: &str) -> bool {
    INTERNAL_TOPICS.contains(&name)
}

/// What the controller needs from the node's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// The cluster id; a broker registering with another is refused.
    pub cluster_id: String,
    /// `broker.session.timeout.ms`: a broker without a heartbeat for longer is fenced.
    pub session_timeout_ms: u64,
    /// `num.partitions`: partitions of a topic created with -1.
    pub default_num_partitions: i32,
    /// `default.replication.factor`: replication factor of a topic created with -1.
    pub default_replication_factor: i16,
    /// This node's own broker resource: its id and its `server.properties` entries. Its
    /// DescribeConfigs lists every one of Kafka's broker configs for that id (static entries
    /// as `STATIC_BROKER_CONFIG`, the rest at their defaults), as a Kafka broker describes
    /// itself; other brokers' resources show what the metadata log holds for them.
    pub local_node: Option<(i32, BTreeMap<String, String>)>,
}

impl ControllerConfig {
    pub fn new(cluster_id: &str) -> ControllerConfig {
        ControllerConfig {
            cluster_id: cluster_id.to_owned(),
            session_timeout_ms: BROKER_SESSION_TIMEOUT_MS_DEFAULT,
            default_num_partitions: DEFAULT_NUM_PARTITIONS,
            default_replication_factor: DEFAULT_REPLICATION_FACTOR,
            local_node: None,
        }
    }
}

/// A Kafka error code with an optional message, as replies carry them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Option<String>,
}

impl ApiError {
    pub const NONE: ApiError = ApiError {
        code: ErrorCode::None,
        message: None,
    };

    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: Some(message.into()),
        }
    }

    pub fn code_only(code: ErrorCode) -> ApiError {
        ApiError {
            code,
            message: None,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.code == ErrorCode::None
    }
}

/// What a mutating call returns: the records to propose as one batch at the `next_offset`
/// passed in, and the reply to send once the committed offset reaches `release_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome<R> {
    /// Framed records (empty: nothing to propose).
    pub records: Vec<Vec<u8>>,
    pub reply: R,
    /// Send the reply once the node has replayed (committed) this offset; `None`: at once.
    pub release_at: Option<u64>,
}

// ---- Broker lifecycle ----

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerRegistrationRequest {
    pub broker_id: i32,
    pub cluster_id: String,
    pub incarnation_id: Uuid,
    pub listeners: Vec<Listener>,
    pub features: Vec<SupportedFeature>,
    pub rack: Option<String>,
    pub log_dirs: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerRegistrationReply {
    pub error: ApiError,
    /// The broker epoch (the offset of its RegisterBrokerRecord), -1 on error.
    pub broker_epoch: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerHeartbeatRequest {
    pub broker_id: i32,
    pub broker_epoch: i64,
    /// The last metadata offset the broker has applied.
    pub current_metadata_offset: i64,
    pub want_fence: bool,
    pub want_shutdown: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerHeartbeatReply {
    pub error: ApiError,
    /// The broker's metadata has reached its own registration.
    pub is_caught_up: bool,
    pub is_fenced: bool,
    pub in_controlled_shutdown: bool,
    /// The broker may stop now (controlled shutdown finished).
    pub should_shut_down: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnregisterBrokerReply {
    pub error: ApiError,
}

// ---- Partitions ----

/// A topic named by name (older request versions) or by id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TopicRef {
    Name(String),
    Id(Uuid),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsrMember {
    pub broker_id: i32,
    /// The member's broker epoch as the leader knows it; -1 skips the check (old versions).
    pub broker_epoch: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartitionItem {
    pub partition_index: i32,
    pub leader_epoch: i32,
    pub new_isr: Vec<IsrMember>,
    pub leader_recovery_state: i8,
    pub partition_epoch: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartitionTopic {
    pub topic: TopicRef,
    pub partitions: Vec<AlterPartitionItem>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartitionRequest {
    pub broker_id: i32,
    pub broker_epoch: i64,
    pub topics: Vec<AlterPartitionTopic>,
}

/// One partition's answer: on success the partition's state after the change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartitionResult {
    pub partition_index: i32,
    pub error: ApiError,
    pub leader_id: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub leader_recovery_state: i8,
    pub partition_epoch: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartitionTopicResult {
    pub topic: TopicRef,
    pub partitions: Vec<AlterPartitionResult>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartitionReply {
    /// A request-wide error (stale broker epoch, too many partitions); `topics` is then empty.
    pub error: ApiError,
    pub topics: Vec<AlterPartitionTopicResult>,
}

// ---- Topics ----

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatableTopic {
    pub name: String,
    /// -1: the default (`num.partitions`); must be -1 with explicit assignments.
    pub num_partitions: i32,
    /// -1: the default (`default.replication.factor`); must be -1 with explicit assignments.
    pub replication_factor: i16,
    /// Explicit replicas by partition index (empty: the controller places them).
    pub assignments: Vec<(i32, Vec<i32>)>,
    /// Initial topic configs (a `None` value is refused, as in Kafka).
    pub configs: Vec<(String, Option<String>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTopicsRequest {
    pub topics: Vec<CreatableTopic>,
    pub validate_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTopicResult {
    pub name: String,
    /// The new topic's id (zero on error and in validate-only mode).
    pub topic_id: Uuid,
    pub error: ApiError,
    pub num_partitions: i32,
    pub replication_factor: i16,
    /// The topic's configs as DescribeConfigs would show them (empty on error).
    pub configs: Vec<DescribedConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTopicsReply {
    pub topics: Vec<CreateTopicResult>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteTopicsRequest {
    pub topics: Vec<TopicRef>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteTopicResult {
    pub topic: TopicRef,
    /// The topic's name and id where known.
    pub name: Option<String>,
    pub topic_id: Uuid,
    pub error: ApiError,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteTopicsReply {
    pub topics: Vec<DeleteTopicResult>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatePartitionsTopic {
    pub name: String,
    /// The new total number of partitions.
    pub count: i32,
    /// Replicas of each new partition, in order (`None`: the controller places them).
    pub assignments: Option<Vec<Vec<i32>>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatePartitionsRequest {
    pub topics: Vec<CreatePartitionsTopic>,
    pub validate_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatePartitionsResult {
    pub name: String,
    pub error: ApiError,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatePartitionsReply {
    pub topics: Vec<CreatePartitionsResult>,
}

// ---- Configs ----

/// IncrementalAlterConfigs operations, Kafka's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
pub enum AlterConfigOp {
    Set = 0,
    Delete = 1,
    Append = 2,
    Subtract = 3,
}

impl AlterConfigOp {
    pub fn from_i8(value: i8) -> Option<AlterConfigOp> {
        Some(match value {
            0 => AlterConfigOp::Set,
            1 => AlterConfigOp::Delete,
            2 => AlterConfigOp::Append,
            3 => AlterConfigOp::Subtract,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigOp {
    pub name: String,
    pub op: AlterConfigOp,
    pub value: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncrementalAlterConfigsRequest {
    pub resources: Vec<(ConfigResource, Vec<ConfigOp>)>,
    pub validate_only: bool,
}

/// Config keys with values (`None`: null, which AlterConfigs refuses).
pub type ConfigEntries = Vec<(String, Option<String>)>;

/// Legacy AlterConfigs: each resource's configs are replaced by exactly the ones given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterConfigsRequest {
    pub resources: Vec<(ConfigResource, ConfigEntries)>,
    pub validate_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterConfigsResult {
    pub resource: ConfigResource,
    pub error: ApiError,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterConfigsReply {
    pub resources: Vec<AlterConfigsResult>,
}

/// Where a described value comes from, Kafka's `DescribeConfigsResponse.ConfigSource` ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
pub enum ConfigSource {
    Unknown = 0,
    DynamicTopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribedConfig {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub is_sensitive: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribeConfigsRequest {
    /// Each resource with the keys wanted (`None`: all).
    pub resources: Vec<(ConfigResource, Option<Vec<String>>)>,
    /// Also list keys left at Kafka's default (topics only; see `describe_configs`).
    pub include_defaults: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribeConfigsResult {
    pub resource: ConfigResource,
    pub error: ApiError,
    pub configs: Vec<DescribedConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescribeConfigsReply {
    pub resources: Vec<DescribeConfigsResult>,
}

// ---- The controller ----

#[derive(Clone, Debug)]
struct Pending {
    offset: u64,
    record: MetadataRecord,
}

#[derive(Clone, Copy, Debug)]
struct Session {
    epoch: i64,
    last_contact_ms: u64,
    /// The metadata offset of the broker's last heartbeat (-1: none yet).
    metadata_offset: i64,
    /// While in controlled shutdown: the last offset of the records that moved its leadership.
    controlled_shutdown_offset: Option<u64>,
}

/// A broker's state as the heartbeat state machine sees it (Kafka's `BrokerControlState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BrokerState {
    Fenced,
    Unfenced,
    ControlledShutdown,
    ShutdownNow,
}

#[derive(Clone, Debug)]
struct Active {
    latest: Image,
    pending: VecDeque<Pending>,
    sessions: BTreeMap<i32, Session>,
    /// Partitions without a leader may have become electable (a broker was unfenced, or this
    /// controller just became active): `tick` scans for them once.
    elect_leaderless: bool,
    /// Records applied to the latest image since it last shared the committed image's data.
    records_since_share: u64,
}

/// The controller of one node; active only on the Raft leader. See the module header.
#[derive(Clone, Debug)]
pub struct Controller {
    config: ControllerConfig,
    committed: Image,
    active: Option<Active>,
}

/// Which broker ids may lead and be in ISRs, for one decision.
struct Eligibility {
    dense: Vec<bool>,
    sparse: BTreeSet<i32>,
}

/// Ids below this go into a bitmap; a higher id (rare) into a set.
const DENSE_IDS: i32 = 1 << 20;

impl Eligibility {
    /// Active brokers of `image`, without `excluded`.
    fn of(image: &Image, excluded: Option<i32>, included: Option<i32>) -> Eligibility {
        let mut eligibility = Eligibility {
            dense: Vec::new(),
            sparse: BTreeSet::new(),
        };
        for broker in image.brokers() {
            let eligible =
                (broker.is_active() && Some(broker.id) != excluded) || Some(broker.id) == included;
            if !eligible {
                continue;
            }
            if (0..DENSE_IDS).contains(&broker.id) {
                let index = broker.id as usize;
                if eligibility.dense.len() <= index {
                    eligibility.dense.resize(index + 1, false);
                }
                eligibility.dense[index] = true;
            } else {
                eligibility.sparse.insert(broker.id);
            }
        }
        eligibility
    }

    fn is(&self, id: i32) -> bool {
        if (0..DENSE_IDS).contains(&id) {
            self.dense.get(id as usize).copied().unwrap_or(false)
        } else {
            self.sparse.contains(&id)
        }
    }
}

/// The change that leaves a partition led by an eligible ISR member (chosen in replica order,
/// never from outside the ISR) and with no ineligible broker sharing its ISR. When no ISR
/// member is eligible, the ISR keeps one member (so that it can lead cleanly when it returns)
/// and the partition has no leader.
fn settle(p: &PartitionView<'_>, eligible: &Eligibility) -> Option<PartitionChangeRecord> {
    let isr = p.isr();
    let leader = p.leader();
    if leader != NO_LEADER
        && eligible.is(leader)
        && isr.contains(&leader)
        && isr.iter().all(|&id| eligible.is(id))
    {
        return None;
    }
    let mut new_isr: Vec<i32> = isr.iter().copied().filter(|&id| eligible.is(id)).collect();
    if new_isr.is_empty() {
        new_isr = isr.iter().take(1).copied().collect();
    }
    let new_leader = if leader != NO_LEADER && eligible.is(leader) && new_isr.contains(&leader) {
        leader
    } else {
        p.replicas()
            .iter()
            .copied()
            .find(|&id| new_isr.contains(&id) && eligible.is(id))
            .unwrap_or(NO_LEADER)
    };
    if new_isr == isr && new_leader == leader {
        return None;
    }
    Some(PartitionChangeRecord {
        topic_id: p.topic_id(),
        partition_id: p.partition_id(),
        isr: (new_isr != isr).then_some(new_isr),
        leader: if new_leader == leader {
            NO_LEADER_CHANGE
        } else {
            new_leader
        },
        ..Default::default()
    })
}

/// Bytes of settling changes one batch may hold: half a batch, which leaves the other half to
/// the state record that goes with them (a registration is at most a quarter, see
/// `REGISTRATION_BYTES_MAX`).
const SETTLE_BYTES_MAX: u64 = BATCH_BYTES_MAX as u64 / 2;

/// Largest registration (the RegisterBrokerRecord's strings and ids) the controller accepts.
const REGISTRATION_BYTES_MAX: u64 = BATCH_BYTES_MAX as u64 / 4;

/// An upper bound of a framed PartitionChangeRecord's size in a batch (length prefix
/// included): fixed fields, tag headers and varints, and 4 bytes per ISR member.
fn settle_record_bytes(change: &PartitionChangeRecord) -> u64 {
    64 + 4 * change.isr.as_ref().map_or(0, Vec::len) as u64
}

/// Adds the changes that settle partitions (see [`settle`]) to `out`, up to `limit` records in
/// `out` and `SETTLE_BYTES_MAX` bytes of changes. Returns whether every partition was visited.
fn settle_partitions(
    image: &Image,
    eligible: &Eligibility,
    limit: usize,
    out: &mut Vec<MetadataRecord>,
) -> bool {
    let mut bytes = 0;
    for topic in image.topics() {
        for partition in topic.partitions() {
            if let Some(change) = settle(&partition, eligible) {
                let size = settle_record_bytes(&change);
                if out.len() >= limit || bytes + size > SETTLE_BYTES_MAX {
                    return false;
                }
                bytes += size;
                out.push(MetadataRecord::PartitionChange(change));
            }
        }
    }
    true
}

/// Some ineligible broker still leads a partition or shares an ISR.
fn needs_settling(image: &Image, eligible: &Eligibility) -> bool {
    image
        .loads()
        .any(|(id, load)| id >= 0 && !eligible.is(id) && (load.leaders > 0 || load.isr_shared > 0))
}

/// A resource's configs, key to value.
type ConfigMap = BTreeMap<String, String>;

/// The batch limit for records of one operation.
const LIMIT: usize = BATCH_RECORDS_MAX as usize;

/// Encodes records as one batch, or says how far over the limits it is.
fn encode_batch(records: &[MetadataRecord]) -> Result<Vec<Vec<u8>>, ApiError> {
    if records.len() > LIMIT {
        return Err(ApiError::new(
            ErrorCode::PolicyViolation,
            format!(
                "The operation would write {} records; one batch holds at most {LIMIT}.",
                records.len()
            ),
        ));
    }
    let encoded: Vec<Vec<u8>> = records.iter().map(MetadataRecord::encode).collect();
    let bytes = batch_bytes(encoded.iter().map(Vec::len));
    if bytes > u64::from(BATCH_BYTES_MAX) {
        return Err(ApiError::new(
            ErrorCode::PolicyViolation,
            format!(
                "The operation would write a batch of {bytes} bytes; one batch holds at most \
                 {BATCH_BYTES_MAX}."
            ),
        ));
    }
    Ok(encoded)
}

/// Kafka's topic name rules (`Topic.validate`); the error is the INVALID_TOPIC_EXCEPTION
/// message.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return Err("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > TOPIC_NAME_BYTES_MAX {
        return Err(format!(
            "Topic name is illegal, it can't be longer than {TOPIC_NAME_BYTES_MAX} characters, \
             topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII \
             alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// The rotation of a topic's placement, from its (randomly drawn) id.
fn rotation_of(topic_id: Uuid) -> Rotation {
    let bytes = topic_id.as_bytes();
    Rotation {
        start: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        shift: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
    }
}

fn usable_brokers(image: &Image) -> Vec<UsableBroker> {
    image
        .brokers()
        .filter(|b| b.is_active())
        .map(|b| UsableBroker {
            id: b.id,
            rack: b.rack_name().map(str::to_owned),
        })
        .collect()
}

/// Checks one explicit replica list (Kafka's `validateManualPartitionAssignment`).
fn check_assignment(
    image: &Image,
    replicas: &[i32],
    replication_factor: Option<usize>,
) -> Result<(), ApiError> {
    let invalid = |m: String| Err(ApiError::new(ErrorCode::InvalidReplicaAssignment, m));
    if replicas.is_empty() {
        return invalid("The manual partition assignment includes an empty replica list.".into());
    }
    if replicas.len() > PARTITION_MEMBERS_MAX {
        return invalid(format!(
            "The manual partition assignment has {} replicas, more than {PARTITION_MEMBERS_MAX}.",
            replicas.len()
        ));
    }
    let mut seen = BTreeSet::new();
    for &id in replicas {
        if !seen.insert(id) {
            return invalid(format!(
                "The manual partition assignment includes the broker {id} more than once."
            ));
        }
        if image.broker(id).is_none() {
            return invalid(format!(
                "The manual partition assignment includes broker {id}, but no such broker is \
                 registered."
            ));
        }
    }
    if let Some(rf) = replication_factor
        && rf != replicas.len()
    {
        return invalid(format!(
            "The manual partition assignment includes a partition with {} replica(s), but this \
             is not consistent with previous partitions, which have {rf} replica(s).",
            replicas.len()
        ));
    }
    Ok(())
}

/// A new partition's record: the ISR is the active replicas, the leader the first of them.
fn new_partition(
    image: &Image,
    topic_id: Uuid,
    partition_id: i32,
    replicas: Vec<i32>,
) -> Option<PartitionRecord> {
    let isr: Vec<i32> = replicas
        .iter()
        .copied()
        .filter(|&id| image.broker(id).is_some_and(BrokerRegistration::is_active))
        .collect();
    let leader = *isr.first()?;
    Some(PartitionRecord {
        partition_id,
        topic_id,
        replicas,
        isr,
        leader,
        leader_recovery_state: LEADER_RECOVERED,
        leader_epoch: 0,
        partition_epoch: 0,
        ..Default::default()
    })
}

/// Checks a config key and the value it is to take (`None`: deleted) for a resource; the
/// error is the reply's. A topic key's deletion is not checked (nothing is stored by it).
fn validate_config(
    resource: &ConfigResource,
    name: &str,
    value: Option<&str>,
) -> Result<(), ApiError> {
    if resource.resource_type == RESOURCE_TOPIC {
        let Some(value) = value else {
            return Ok(());
        };
        return configs::validate_topic_config(name, value)
            .map_err(|m| ApiError::new(ErrorCode::InvalidConfig, m));
    }
    configs::validate_broker_config(name, value, resource.name.is_empty()).map_err(|refusal| {
        match refusal {
            BrokerConfigRefusal::Unknown(m) | BrokerConfigRefusal::Invalid(m) => {
                ApiError::new(ErrorCode::InvalidConfig, m)
            }
            BrokerConfigRefusal::NotDynamic(m) | BrokerConfigRefusal::PerBrokerOnly(m) => {
                ApiError::new(ErrorCode::InvalidRequest, m)
            }
        }
    })
}

fn config_type(resource_type: i8, name: &str) -> Option<ConfigType> {
    if resource_type == RESOURCE_TOPIC {
        configs::topic_config(name).map(|d| d.config_type)
    } else {
        configs::broker_config_of(name).map(|d| d.config_type)
    }
}

fn fits_wire(text: &str) -> bool {
    text.len() <= WIRE_STRING_BYTES_MAX
}

impl Controller {
    /// An inactive controller over `committed` (an empty image, or one loaded from a
    /// snapshot).
    pub fn new(config: ControllerConfig, committed: Image) -> Controller {
        Controller {
            config,
            committed,
            active: None,
        }
    }

    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// The image of every committed record.
    pub fn committed(&self) -> &Image {
        &self.committed
    }

    /// The committed image plus this controller's pending records (the committed image when
    /// inactive).
    pub fn latest(&self) -> &Image {
        self.active.as_ref().map_or(&self.committed, |a| &a.latest)
    }

    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Offsets of records proposed and not yet committed.
    pub fn pending_offsets(&self) -> impl Iterator<Item = u64> + '_ {
        self.active
            .iter()
            .flat_map(|a| a.pending.iter().map(|p| p.offset))
    }

    // ---- Driven by the node on every voter ----

    /// Applies the committed record at `offset` (every voter, in log order). On the active
    /// controller the record must be its own oldest pending record or a NoOp.
    pub fn replay(
        &mut self,
        offset: u64,
        record: &MetadataRecord,
    ) -> Result<(), super::image::ApplyError> {
        self.committed.apply(offset, record)?;
        if let Some(active) = &mut self.active {
            match active.pending.front() {
                Some(p) if p.offset == offset => {
                    assert!(
                        p.record == *record,
                        "the record committed at offset {offset} is not the one this controller \
                         proposed there"
                    );
                    active.pending.pop_front();
                    // Nothing pending: the latest image equals the committed one. Sharing the
                    // committed one's data again (instead of two copies of every chunk either
                    // side changed) costs a clone of the topic maps, O(topics); doing it only
                    // after as many records as there are topics keeps that O(1) per record.
                    if active.pending.is_empty()
                        && active.records_since_share >= self.committed.topic_count() as u64
                    {
                        active.latest = self.committed.clone();
                        active.records_since_share = 0;
                    }
                }
                Some(p) if p.offset < offset => panic!(
                    "offset {offset} committed before this controller's record at {}: the node \
                     must call abandon() when a proposal is dropped",
                    p.offset
                ),
                _ => {
                    assert!(
                        matches!(record, MetadataRecord::NoOp(_)),
                        "a {} this controller did not propose was committed at offset {offset} \
                         while it is active",
                        record.name()
                    );
                    if active.pending.is_empty() {
                        active.latest.advance_to(offset);
                    }
                }
            }
        }
        Ok(())
    }

    /// Notes a committed control record at `offset`.
    pub fn advance(&mut self, offset: u64) {
        if let Some(active) = &self.active {
            assert!(
                active.pending.front().is_none_or(|p| p.offset > offset),
                "a control record committed at offset {offset}, where this controller has a \
                 pending record"
            );
        }
        self.committed.advance_to(offset);
        if let Some(active) = &mut self.active
            && active.pending.is_empty()
        {
            active.latest.advance_to(offset);
        }
    }

    /// Replaces the committed image with one loaded from a snapshot (inactive only).
    pub fn load_snapshot(&mut self, image: Image) {
        assert!(
            self.active.is_none(),
            "the active controller never installs a snapshot"
        );
        self.committed = image;
    }

    /// This node is the leader and its committed image holds everything before its epoch.
    pub fn activate(&mut self, now_ms: u64) {
        assert!(self.active.is_none(), "activate() twice");
        let sessions = self
            .committed
            .brokers()
            .filter(|b| !b.fenced)
            .map(|b| {
                (
                    b.id,
                    Session {
                        epoch: b.epoch,
                        last_contact_ms: now_ms,
                        metadata_offset: -1,
                        controlled_shutdown_offset: None,
                    },
                )
            })
            .collect();
        self.active = Some(Active {
            latest: self.committed.clone(),
            pending: VecDeque::new(),
            sessions,
            elect_leaderless: true,
            records_since_share: 0,
        });
    }

    /// This node is no longer the leader: drop pending records, the latest image, sessions.
    pub fn deactivate(&mut self) {
        self.active = None;
    }

    /// The proposal starting at `offset` was refused or truncated: drop pending records from
    /// `offset` on and rebuild the latest image.
    pub fn abandon(&mut self, offset: u64) {
        let Some(active) = &mut self.active else {
            return;
        };
        if active.pending.back().is_none_or(|p| p.offset < offset) {
            return;
        }
        active.pending.retain(|p| p.offset < offset);
        let mut latest = self.committed.clone();
        for p in &active.pending {
            latest
                .apply(p.offset, &p.record)
                .unwrap_or_else(|e| panic!("a pending record applied before applies again: {e}"));
        }
        active.latest = latest;
    }

    fn active(&self) -> &Active {
        self.active
            .as_ref()
            .expect("controller requests go to the active controller only (the node checks)")
    }

    fn active_mut(&mut self) -> &mut Active {
        self.active
            .as_mut()
            .expect("controller requests go to the active controller only (the node checks)")
    }

    /// Applies `records` to the latest image at `next_offset..` and makes them pending.
    fn propose<R>(
        &mut self,
        next_offset: u64,
        records: Vec<MetadataRecord>,
        encoded: Vec<Vec<u8>>,
        reply: R,
    ) -> Outcome<R> {
        let committed = self.committed.offset();
        let active = self.active_mut();
        let last_known = active.pending.back().map(|p| p.offset).or(committed);
        assert!(
            last_known.is_none_or(|last| next_offset > last),
            "next_offset {next_offset} is not past offset {last_known:?} the controller knows"
        );
        if records.is_empty() {
            let release_at = active.pending.back().map(|p| p.offset);
            return Outcome {
                records: Vec::new(),
                reply,
                release_at,
            };
        }
        assert_eq!(records.len(), encoded.len());
        active.records_since_share += records.len() as u64;
        for (i, record) in records.into_iter().enumerate() {
            let offset = next_offset + i as u64;
            active.latest.apply(offset, &record).unwrap_or_else(|e| {
                panic!("the controller built a record its own image refuses: {e}")
            });
            active.pending.push_back(Pending { offset, record });
        }
        let release_at = active.pending.back().map(|p| p.offset);
        Outcome {
            records: encoded,
            reply,
            release_at,
        }
    }

    /// Proposes `records`, which the caller made sure fit one batch.
    fn propose_fitting<R>(
        &mut self,
        next_offset: u64,
        records: Vec<MetadataRecord>,
        reply: R,
    ) -> Outcome<R> {
        let encoded = encode_batch(&records).expect("the caller bounded the records");
        self.propose(next_offset, records, encoded, reply)
    }

    fn session_alive(&self, broker_id: i32, now_ms: u64) -> bool {
        let timeout = self.config.session_timeout_ms;
        self.active()
            .sessions
            .get(&broker_id)
            .is_some_and(|s| now_ms <= s.last_contact_ms.saturating_add(timeout))
    }

    /// Records that move leadership and ISR membership off `broker_id` (treated as
    /// ineligible), up to `limit`.
    fn moves_off(&self, broker_id: i32, limit: usize) -> Vec<MetadataRecord> {
        let latest = &self.active().latest;
        let mut records = Vec::new();
        let load = latest.broker_load(broker_id);
        if load.leaders > 0 || load.isr_shared > 0 {
            let eligible = Eligibility::of(latest, Some(broker_id), None);
            settle_partitions(latest, &eligible, limit, &mut records);
        }
        records
    }

    // ---- Broker lifecycle ----

    /// BrokerRegistration (KIP-631). The broker epoch is the offset of the new
    /// RegisterBrokerRecord; the same incarnation registering again with the same data gets its
    /// epoch back without a new record; another incarnation of a live broker id is refused.
    pub fn register_broker(
        &mut self,
        now_ms: u64,
        next_offset: u64,
        request: &BrokerRegistrationRequest,
    ) -> Outcome<BrokerRegistrationReply> {
        let refuse = |error: ApiError| BrokerRegistrationReply {
            error,
            broker_epoch: -1,
        };
        if let Err(error) = self.check_registration(now_ms, request) {
            return self.propose(next_offset, Vec::new(), Vec::new(), refuse(error));
        }
        let latest = &self.active().latest;
        let listeners_match = |b: &BrokerRegistration| {
            b.listeners == request.listeners
                && b.features == request.features
                && b.rack == request.rack
                && b.log_dirs == request.log_dirs
        };
        if let Some(existing) = latest.broker(request.broker_id)
            && existing.incarnation_id == request.incarnation_id
            && listeners_match(existing)
        {
            // A retry of a registration that succeeded (or is pending): same epoch, no record.
            let epoch = existing.epoch;
            let active = self.active_mut();
            let metadata_offset = active
                .sessions
                .get(&request.broker_id)
                .map_or(-1, |s| s.metadata_offset);
            active.sessions.insert(
                request.broker_id,
                Session {
                    epoch,
                    last_contact_ms: now_ms,
                    metadata_offset,
                    controlled_shutdown_offset: None,
                },
            );
            let reply = BrokerRegistrationReply {
                error: ApiError::NONE,
                broker_epoch: epoch,
            };
            return self.propose(next_offset, Vec::new(), Vec::new(), reply);
        }
        // A new registration starts fenced: whatever the old one led moves first.
        let mut records = self.moves_off(request.broker_id, LIMIT - 1);
        let epoch = (next_offset + records.len() as u64) as i64;
        records.push(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: request.broker_id,
            is_migrating_zk_broker: false,
            incarnation_id: request.incarnation_id,
            broker_epoch: epoch,
            end_points: request
                .listeners
                .iter()
                .map(|l| register_broker_record::BrokerEndpoint {
                    name: l.name.clone(),
                    host: l.host.clone(),
                    port: l.port,
                    security_protocol: l.security_protocol,
                    ..Default::default()
                })
                .collect(),
            features: request
                .features
                .iter()
                .map(|f| register_broker_record::BrokerFeature {
                    name: f.name.clone(),
                    min_supported_version: f.min_supported,
                    max_supported_version: f.max_supported,
                    ..Default::default()
                })
                .collect(),
            rack: request.rack.clone(),
            fenced: true,
            in_controlled_shutdown: false,
            log_dirs: request.log_dirs.clone(),
            ..Default::default()
        }));
        self.active_mut().sessions.insert(
            request.broker_id,
            Session {
                epoch,
                last_contact_ms: now_ms,
                metadata_offset: -1,
                controlled_shutdown_offset: None,
            },
        );
        let reply = BrokerRegistrationReply {
            error: ApiError::NONE,
            broker_epoch: epoch,
        };
        self.propose_fitting(next_offset, records, reply)
    }

    fn check_registration(
        &self,
        now_ms: u64,
        request: &BrokerRegistrationRequest,
    ) -> Result<(), ApiError> {
        if request.cluster_id != self.config.cluster_id {
            return Err(ApiError::new(
                ErrorCode::InconsistentClusterId,
                format!(
                    "Expected cluster ID {}, but got cluster ID {}",
                    self.config.cluster_id, request.cluster_id
                ),
            ));
        }
        if request.broker_id < 0 {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("Invalid broker id {}", request.broker_id),
            ));
        }
        let texts_fit = request
            .listeners
            .iter()
            .all(|l| fits_wire(&l.name) && fits_wire(&l.host))
            && request.features.iter().all(|f| fits_wire(&f.name))
            && request.rack.as_deref().is_none_or(fits_wire);
        if !texts_fit {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "A listener, feature or rack name is too long.",
            ));
        }
        // Bytes the RegisterBrokerRecord will need (with room for lengths and fixed fields).
        let size: u64 = 128
            + request
                .listeners
                .iter()
                .map(|l| (l.name.len() + l.host.len() + 16) as u64)
                .sum::<u64>()
            + request
                .features
                .iter()
                .map(|f| (f.name.len() + 16) as u64)
                .sum::<u64>()
            + request.rack.as_ref().map_or(0, |r| r.len() as u64)
            + 16 * request.log_dirs.len() as u64;
        if size > REGISTRATION_BYTES_MAX {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("The registration needs {size} bytes; at most {REGISTRATION_BYTES_MAX}."),
            ));
        }
        let latest = &self.active().latest;
        for (name, &level) in latest.features() {
            let supported = request
                .features
                .iter()
                .find(|f| &f.name == name)
                .is_some_and(|f| (f.min_supported..=f.max_supported).contains(&level));
            if !supported {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedVersion,
                    format!(
                        "Unable to register because the broker does not support finalized \
                         version {level} of {name}."
                    ),
                ));
            }
        }
        if let Some(existing) = latest.broker(request.broker_id)
            && existing.incarnation_id != request.incarnation_id
            && !existing.fenced
            && self.session_alive(request.broker_id, now_ms)
        {
            return Err(ApiError::new(
                ErrorCode::DuplicateBrokerRegistration,
                format!(
                    "Another broker is registered with that broker id ({}).",
                    request.broker_id
                ),
            ));
        }
        Ok(())
    }

    /// BrokerHeartbeat (KIP-631), Kafka's broker state machine (`BrokerHeartbeatManager`):
    ///
    /// | State | Heartbeat | Next state |
    /// |---|---|---|
    /// | fenced | wants shutdown | shut down now |
    /// | fenced | metadata offset >= its registration, not wanting fence | unfenced |
    /// | unfenced | wants fence | fenced (shut down now if it also wants shutdown) |
    /// | unfenced | wants shutdown, leads partitions | controlled shutdown |
    /// | unfenced | wants shutdown, leads nothing | shut down now |
    /// | controlled shutdown | leads nothing, every active broker has seen the shutdown | shut down now |
    ///
    /// Entering controlled shutdown writes the PartitionChangeRecords that move its
    /// leadership (and ISR membership) to other ISR members, then the record that marks it;
    /// "shut down now" fences it (`should_shut_down`), so that it may restart at once.
    pub fn broker_heartbeat(
        &mut self,
        now_ms: u64,
        next_offset: u64,
        request: &BrokerHeartbeatRequest,
    ) -> Outcome<BrokerHeartbeatReply> {
        let refuse = |error: ApiError| BrokerHeartbeatReply {
            error,
            is_caught_up: false,
            is_fenced: true,
            in_controlled_shutdown: false,
            should_shut_down: false,
        };
        let latest = &self.active().latest;
        let Some(broker) = latest.broker(request.broker_id) else {
            // Kafka's `ClusterControlManager.checkBrokerEpoch`: no registration is a stale
            // epoch too, which tells a broker to register again.
            let error = ApiError::new(
                ErrorCode::StaleBrokerEpoch,
                format!(
                    "No broker registration found for broker id {}",
                    request.broker_id
                ),
            );
            return self.propose(next_offset, Vec::new(), Vec::new(), refuse(error));
        };
        if broker.epoch != request.broker_epoch {
            let error = ApiError::new(
                ErrorCode::StaleBrokerEpoch,
                format!(
                    "Expected broker epoch {}, but got broker epoch {}",
                    broker.epoch, request.broker_epoch
                ),
            );
            return self.propose(next_offset, Vec::new(), Vec::new(), refuse(error));
        }
        let (id, epoch, in_controlled_shutdown) =
            (broker.id, broker.epoch, broker.in_controlled_shutdown);
        let current = if broker.fenced {
            BrokerState::Fenced
        } else if broker.in_controlled_shutdown {
            BrokerState::ControlledShutdown
        } else {
            BrokerState::Unfenced
        };
        let is_caught_up = request.current_metadata_offset >= epoch;
        let leads = latest.broker_load(id).leaders > 0;
        let shutdown_seen = current == BrokerState::ControlledShutdown
            && self.controlled_shutdown_offset(id) <= self.lowest_active_offset();
        let next = match current {
            BrokerState::Fenced if request.want_shutdown => BrokerState::ShutdownNow,
            BrokerState::Fenced if !request.want_fence && is_caught_up => BrokerState::Unfenced,
            BrokerState::Unfenced if request.want_fence && request.want_shutdown => {
                BrokerState::ShutdownNow
            }
            BrokerState::Unfenced if request.want_fence => BrokerState::Fenced,
            BrokerState::Unfenced if request.want_shutdown && leads => {
                BrokerState::ControlledShutdown
            }
            BrokerState::Unfenced if request.want_shutdown => BrokerState::ShutdownNow,
            BrokerState::ControlledShutdown if !leads && shutdown_seen => BrokerState::ShutdownNow,
            state => state,
        };
        let change = |fenced: i8, in_controlled_shutdown: i8| {
            MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
                broker_id: id,
                broker_epoch: epoch,
                fenced,
                in_controlled_shutdown,
                ..Default::default()
            })
        };
        let mut records = Vec::new();
        match next {
            _ if next == current => {}
            BrokerState::Unfenced => {
                records.push(change(-1, 0));
                let latest = &self.active().latest;
                // Still marked in controlled shutdown (fenced during it): not a leader.
                let included = (!in_controlled_shutdown).then_some(id);
                let eligible = Eligibility::of(latest, None, included);
                if !settle_partitions(latest, &eligible, LIMIT, &mut records) {
                    self.active_mut().elect_leaderless = true;
                }
            }
            BrokerState::ControlledShutdown => {
                records = self.moves_off(id, LIMIT - 1);
                records.push(change(0, 1));
            }
            BrokerState::Fenced | BrokerState::ShutdownNow if current != BrokerState::Fenced => {
                records = self.moves_off(id, LIMIT - 1);
                records.push(change(1, 0));
            }
            BrokerState::Fenced | BrokerState::ShutdownNow => {}
        }
        let controlled_shutdown_offset = match (current, next) {
            // Fixed once known, so that new records do not move the target.
            (BrokerState::ControlledShutdown, BrokerState::ControlledShutdown) => {
                Some(self.controlled_shutdown_offset(id).max(0) as u64)
            }
            // Every active broker must reach the records that moved its leadership before it
            // may stop, so clients find the new leaders (Kafka's lowest active offset).
            (_, BrokerState::ControlledShutdown) => Some(next_offset + records.len() as u64 - 1),
            _ => None,
        };
        self.active_mut().sessions.insert(
            id,
            Session {
                epoch,
                last_contact_ms: now_ms,
                metadata_offset: request.current_metadata_offset,
                controlled_shutdown_offset,
            },
        );
        let reply = BrokerHeartbeatReply {
            error: ApiError::NONE,
            is_caught_up,
            is_fenced: matches!(next, BrokerState::Fenced | BrokerState::ShutdownNow),
            in_controlled_shutdown: next == BrokerState::ControlledShutdown,
            should_shut_down: next == BrokerState::ShutdownNow,
        };
        self.propose_fitting(next_offset, records, reply)
    }

    /// The offset every active broker must reach before broker `id`, in controlled shutdown,
    /// may stop. Unknown (a controller activated during the shutdown): everything this
    /// controller knows of.
    fn controlled_shutdown_offset(&self, id: i32) -> i64 {
        let known = self
            .active()
            .pending
            .back()
            .map(|p| p.offset)
            .or(self.committed.offset())
            .map_or(-1, |o| o as i64);
        self.active()
            .sessions
            .get(&id)
            .and_then(|s| s.controlled_shutdown_offset)
            .map_or(known, |o| o as i64)
    }

    /// The lowest metadata offset reported by the active brokers (unfenced, not shutting
    /// down); `i64::MAX` when there are none.
    fn lowest_active_offset(&self) -> i64 {
        let active = self.active();
        active
            .latest
            .brokers()
            .filter(|b| b.is_active())
            .map(|b| {
                active
                    .sessions
                    .get(&b.id)
                    .filter(|s| s.epoch == b.epoch)
                    .map_or(-1, |s| s.metadata_offset)
            })
            .min()
            .unwrap_or(i64::MAX)
    }

    /// UnregisterBroker (KIP-631): removes the registration; leadership and ISR membership
    /// move off the broker first.
    pub fn unregister_broker(
        &mut self,
        next_offset: u64,
        broker_id: i32,
    ) -> Outcome<UnregisterBrokerReply> {
        let Some(epoch) = self.active().latest.broker(broker_id).map(|b| b.epoch) else {
            let error = ApiError::new(
                ErrorCode::BrokerIdNotRegistered,
                format!("Broker ID {broker_id} is not currently registered"),
            );
            return self.propose(
                next_offset,
                Vec::new(),
                Vec::new(),
                UnregisterBrokerReply { error },
            );
        };
        let mut records = self.moves_off(broker_id, LIMIT - 1);
        records.push(MetadataRecord::UnregisterBroker(UnregisterBrokerRecord {
            broker_id,
            broker_epoch: epoch,
            ..Default::default()
        }));
        self.active_mut().sessions.remove(&broker_id);
        self.propose_fitting(
            next_offset,
            records,
            UnregisterBrokerReply {
                error: ApiError::NONE,
            },
        )
    }

    /// Housekeeping, at most one batch per call; call again while it returns one. See the
    /// module header (item 6).
    pub fn tick(&mut self, now_ms: u64, next_offset: u64) -> Option<Vec<Vec<u8>>> {
        let timeout = self.config.session_timeout_ms;
        let active = self.active.as_mut()?;
        let latest = &active.latest;
        // Sessions of brokers that are gone or re-registered are dropped.
        active
            .sessions
            .retain(|&id, s| latest.broker(id).is_some_and(|b| b.epoch == s.epoch));
        let expired = active.sessions.iter().find_map(|(&id, s)| {
            let broker = latest.broker(id).expect("retained above");
            (!broker.fenced && now_ms > s.last_contact_ms.saturating_add(timeout))
                .then_some((id, s.epoch))
        });
        if let Some((id, epoch)) = expired {
            let mut records = self.moves_off(id, LIMIT - 1);
            records.push(MetadataRecord::BrokerRegistrationChange(
                BrokerRegistrationChangeRecord {
                    broker_id: id,
                    broker_epoch: epoch,
                    fenced: 1,
                    ..Default::default()
                },
            ));
            self.active_mut().sessions.remove(&id);
            return Some(self.propose_fitting(next_offset, records, ()).records);
        }
        let active = self.active();
        let latest = &active.latest;
        let eligible = Eligibility::of(latest, None, None);
        let leaderless = active.elect_leaderless && latest.broker_load(NO_LEADER).leaders > 0;
        if !leaderless && !needs_settling(latest, &eligible) {
            self.active_mut().elect_leaderless = false;
            return None;
        }
        let mut records = Vec::new();
        let complete = settle_partitions(latest, &eligible, LIMIT, &mut records);
        if complete {
            self.active_mut().elect_leaderless = false;
        }
        if records.is_empty() {
            return None;
        }
        Some(self.propose_fitting(next_offset, records, ()).records)
    }

    // ---- Partitions ----

    /// AlterPartition (KIP-497): ISR changes from partition leaders, each partition checked
    /// and answered on its own.
    pub fn alter_partition(
        &mut self,
        next_offset: u64,
        request: &AlterPartitionRequest,
    ) -> Outcome<AlterPartitionReply> {
        let latest = &self.active().latest;
        let refuse = |error: ApiError| AlterPartitionReply {
            error,
            topics: Vec::new(),
        };
        let registered = latest.broker(request.broker_id);
        if registered.is_none_or(|b| b.epoch != request.broker_epoch) {
            let error = ApiError::new(
                ErrorCode::StaleBrokerEpoch,
                match registered {
                    None => format!(
                        "No broker registration found for broker {}",
                        request.broker_id
                    ),
                    Some(b) => format!(
                        "Expected broker epoch {}, but got broker epoch {}",
                        b.epoch, request.broker_epoch
                    ),
                },
            );
            return self.propose(next_offset, Vec::new(), Vec::new(), refuse(error));
        }
        let count: usize = request.topics.iter().map(|t| t.partitions.len()).sum();
        if count > LIMIT {
            let error = ApiError::new(
                ErrorCode::InvalidRequest,
                format!("{count} partitions in one AlterPartition request; at most {LIMIT}."),
            );
            return self.propose(next_offset, Vec::new(), Vec::new(), refuse(error));
        }
        let mut records = Vec::new();
        let mut topics = Vec::with_capacity(request.topics.len());
        let mut seen = BTreeSet::new();
        for topic_data in &request.topics {
            let topic = match &topic_data.topic {
                TopicRef::Id(id) => latest.topic(id).ok_or(ErrorCode::UnknownTopicId),
                TopicRef::Name(name) => latest
                    .topic_by_name(name)
                    .ok_or(ErrorCode::UnknownTopicOrPartition),
            };
            let mut partitions = Vec::with_capacity(topic_data.partitions.len());
            for item in &topic_data.partitions {
                let failed = |code: ErrorCode| AlterPartitionResult {
                    partition_index: item.partition_index,
                    error: ApiError::code_only(code),
                    leader_id: NO_LEADER,
                    leader_epoch: -1,
                    isr: Vec::new(),
                    leader_recovery_state: LEADER_RECOVERED,
                    partition_epoch: -1,
                };
                let topic = match topic {
                    Ok(topic) => topic,
                    Err(code) => {
                        partitions.push(failed(code));
                        continue;
                    }
                };
                if !seen.insert((topic.id(), item.partition_index)) {
                    partitions.push(failed(ErrorCode::InvalidRequest));
                    continue;
                }
                let Some(partition) = topic.partition(item.partition_index) else {
                    partitions.push(failed(ErrorCode::UnknownTopicOrPartition));
                    continue;
                };
                if let Err(code) =
                    check_alter_partition(latest, request.broker_id, &partition, item)
                {
                    partitions.push(failed(code));
                    continue;
                }
                let new_isr: Vec<i32> = item.new_isr.iter().map(|m| m.broker_id).collect();
                let isr_changed = new_isr != partition.isr();
                let recovery_changed =
                    item.leader_recovery_state != partition.leader_recovery_state();
                let mut result = AlterPartitionResult {
                    partition_index: item.partition_index,
                    error: ApiError::NONE,
                    leader_id: partition.leader(),
                    leader_epoch: partition.leader_epoch(),
                    isr: new_isr.clone(),
                    leader_recovery_state: item.leader_recovery_state,
                    partition_epoch: partition.partition_epoch(),
                };
                if isr_changed || recovery_changed {
                    result.partition_epoch += 1;
                    records.push(MetadataRecord::PartitionChange(PartitionChangeRecord {
                        topic_id: topic.id(),
                        partition_id: item.partition_index,
                        isr: isr_changed.then_some(new_isr),
                        leader_recovery_state: if recovery_changed {
                            item.leader_recovery_state
                        } else {
                            -1
                        },
                        ..Default::default()
                    }));
                }
                partitions.push(result);
            }
            topics.push(AlterPartitionTopicResult {
                topic: topic_data.topic.clone(),
                partitions,
            });
        }
        let reply = AlterPartitionReply {
            error: ApiError::NONE,
            topics,
        };
        match encode_batch(&records) {
            Ok(encoded) => self.propose(next_offset, records, encoded, reply),
            Err(error) => self.propose(next_offset, Vec::new(), Vec::new(), refuse(error)),
        }
    }

    // ---- Topics ----

    /// CreateTopics, with Kafka's validation; all created topics go in one batch.
    pub fn create_topics(
        &mut self,
        next_offset: u64,
        request: &CreateTopicsRequest,
        new_topic_id: &mut dyn FnMut() -> Uuid,
    ) -> Outcome<CreateTopicsReply> {
        let latest = &self.active().latest;
        let failed = |name: &str, error: ApiError| CreateTopicResult {
            name: name.to_owned(),
            topic_id: Uuid::ZERO,
            error,
            num_partitions: -1,
            replication_factor: -1,
            configs: Vec::new(),
        };
        // Kafka's MAX_PARTITIONS_PER_BATCH, checked before any work.
        let requested: i64 = request
            .topics
            .iter()
            .map(|t| {
                if !t.assignments.is_empty() {
                    t.assignments.len() as i64
                } else if t.num_partitions == -1 {
                    i64::from(self.config.default_num_partitions)
                } else {
                    i64::from(t.num_partitions.max(0))
                }
            })
            .sum();
        if requested > LIMIT as i64 {
            let error = ApiError::new(
                ErrorCode::PolicyViolation,
                "Excessively large number of partitions per request.",
            );
            let reply = CreateTopicsReply {
                topics: request
                    .topics
                    .iter()
                    .map(|t| failed(&t.name, error.clone()))
                    .collect(),
            };
            return self.propose(next_offset, Vec::new(), Vec::new(), reply);
        }
        let mut names = BTreeMap::new();
        for topic in &request.topics {
            *names.entry(topic.name.as_str()).or_insert(0) += 1;
        }
        let mut records = Vec::new();
        let mut results = Vec::with_capacity(request.topics.len());
        let mut drawn = BTreeSet::new();
        for topic in &request.topics {
            if names[topic.name.as_str()] > 1 {
                results.push(failed(
                    &topic.name,
                    ApiError::new(ErrorCode::InvalidRequest, "Duplicate topic name."),
                ));
                continue;
            }
            match self.create_topic(
                latest,
                topic,
                request.validate_only,
                &mut drawn,
                new_topic_id,
            ) {
                Ok((result, topic_records)) => {
                    records.extend(topic_records);
                    results.push(result);
                }
                Err(error) => results.push(failed(&topic.name, error)),
            }
        }
        let reply = CreateTopicsReply { topics: results };
        if request.validate_only {
            return self.propose(next_offset, Vec::new(), Vec::new(), reply);
        }
        match encode_batch(&records) {
            Ok(encoded) => self.propose(next_offset, records, encoded, reply),
            Err(error) => {
                let reply = CreateTopicsReply {
                    topics: request
                        .topics
                        .iter()
                        .map(|t| failed(&t.name, error.clone()))
                        .collect(),
                };
                self.propose(next_offset, Vec::new(), Vec::new(), reply)
            }
        }
    }

    fn create_topic(
        &self,
        latest: &Image,
        topic: &CreatableTopic,
        validate_only: bool,
        drawn: &mut BTreeSet<Uuid>,
        new_topic_id: &mut dyn FnMut() -> Uuid,
    ) -> Result<(CreateTopicResult, Vec<MetadataRecord>), ApiError> {
        let name = topic.name.as_str();
        if is_internal_topic(name) {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("Creation of internal topic {name} is prohibited."),
            ));
        }
        validate_topic_name(name)
            .map_err(|m| ApiError::new(ErrorCode::InvalidTopicException, m))?;
        if latest.topic_id(name).is_some() {
            return Err(ApiError::new(
                ErrorCode::TopicAlreadyExists,
                format!("Topic '{name}' already exists."),
            ));
        }
        if let Some(existing) = latest.colliding_topic(name) {
            return Err(ApiError::new(
                ErrorCode::InvalidTopicException,
                format!("Topic '{name}' collides with existing topic: {existing}"),
            ));
        }
        let mut config_values = BTreeMap::new();
        let null_configs: Vec<&str> = topic
            .configs
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.as_str())
            .collect();
        if !null_configs.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidConfig,
                format!(
                    "Null value not supported for topic configs: {}",
                    null_configs.join(",")
                ),
            ));
        }
        for (key, value) in &topic.configs {
            let value = value.as_deref().expect("nulls refused above");
            if config_values.insert(key.as_str(), value).is_some() {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("Duplicate config key {key}."),
                ));
            }
            validate_config(&ConfigResource::topic(""), key, Some(value))?;
        }
        // Partition assignments, explicit or placed.
        let usable = usable_brokers(latest);
        let assignments: Vec<Vec<i32>>;
        let topic_id;
        if !topic.assignments.is_empty() {
            if topic.replication_factor != -1 {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "A manual partition assignment was specified, but replication factor was \
                     not set to -1.",
                ));
            }
            if topic.num_partitions != -1 {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "A manual partition assignment was specified, but numPartitions was not set \
                     to -1.",
                ));
            }
            let mut by_index = BTreeMap::new();
            let mut rf = None;
            for (index, replicas) in &topic.assignments {
                if by_index.contains_key(index) {
                    return Err(ApiError::new(
                        ErrorCode::InvalidReplicaAssignment,
                        format!(
                            "Found multiple manual partition assignments for partition {index}"
                        ),
                    ));
                }
                check_assignment(latest, replicas, rf)?;
                rf = Some(replicas.len());
                if !replicas
                    .iter()
                    .any(|&id| latest.broker(id).is_some_and(BrokerRegistration::is_active))
                {
                    return Err(ApiError::new(
                        ErrorCode::InvalidReplicaAssignment,
                        format!(
                            "All brokers specified in the manual partition assignment for \
                             partition {index} are fenced or in controlled shutdown."
                        ),
                    ));
                }
                by_index.insert(*index, replicas.clone());
            }
            if by_index.keys().copied().ne(0..by_index.len() as i32) {
                return Err(ApiError::new(
                    ErrorCode::InvalidReplicaAssignment,
                    "partitions should be a consecutive 0-based integer sequence",
                ));
            }
            assignments = by_index.into_values().collect();
            topic_id = self.draw_topic_id(latest, drawn, validate_only, new_topic_id);
        } else {
            if topic.replication_factor < -1 || topic.replication_factor == 0 {
                return Err(ApiError::new(
                    ErrorCode::InvalidReplicationFactor,
                    "Replication factor must be larger than 0, or -1 to use the default value.",
                ));
            }
            if topic.num_partitions < -1 || topic.num_partitions == 0 {
                return Err(ApiError::new(
                    ErrorCode::InvalidPartitions,
                    "Number of partitions was set to an invalid non-positive value.",
                ));
            }
            let partitions = if topic.num_partitions == -1 {
                self.config.default_num_partitions
            } else {
                topic.num_partitions
            };
            let rf = if topic.replication_factor == -1 {
                self.config.default_replication_factor
            } else {
                topic.replication_factor
            };
            if rf as usize > PARTITION_MEMBERS_MAX {
                return Err(ApiError::new(
                    ErrorCode::InvalidReplicationFactor,
                    format!("Replication factor {rf} is above {PARTITION_MEMBERS_MAX}."),
                ));
            }
            topic_id = self.draw_topic_id(latest, drawn, validate_only, new_topic_id);
            let rotation = if validate_only {
                Rotation { start: 0, shift: 0 }
            } else {
                rotation_of(topic_id)
            };
            assignments = placement::place(&usable, 0, partitions as u32, rf as usize, rotation)
                .map_err(|PlacementError::ReplicationFactor { wanted, brokers }| {
                    ApiError::new(
                        ErrorCode::InvalidReplicationFactor,
                        format!(
                            "Unable to replicate the partition {wanted} time(s): The target \
                             replication factor of {wanted} cannot be reached because only \
                             {brokers} broker(s) are registered."
                        ),
                    )
                })?;
        }
        let num_partitions = assignments.len() as i32;
        let replication_factor = assignments[0].len() as i16;
        let mut records = vec![MetadataRecord::Topic(TopicRecord {
            name: name.to_owned(),
            topic_id,
            ..Default::default()
        })];
        for (key, value) in &config_values {
            records.push(MetadataRecord::Config(ConfigRecord {
                resource_type: RESOURCE_TOPIC,
                resource_name: name.to_owned(),
                name: (*key).to_owned(),
                value: Some((*value).to_owned()),
                ..Default::default()
            }));
        }
        for (index, replicas) in assignments.into_iter().enumerate() {
            let record = new_partition(latest, topic_id, index as i32, replicas)
                .expect("placement uses active brokers; explicit assignments were checked");
            records.push(MetadataRecord::Partition(record));
        }
        let explicit: BTreeMap<String, String> = config_values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let result = CreateTopicResult {
            name: name.to_owned(),
            topic_id: if validate_only { Uuid::ZERO } else { topic_id },
            error: ApiError::NONE,
            num_partitions,
            replication_factor,
            configs: describe_topic_configs(Some(&explicit), None, true),
        };
        Ok((result, records))
    }

    fn draw_topic_id(
        &self,
        latest: &Image,
        drawn: &mut BTreeSet<Uuid>,
        validate_only: bool,
        new_topic_id: &mut dyn FnMut() -> Uuid,
    ) -> Uuid {
        if validate_only {
            return Uuid::ZERO;
        }
        for _ in 0..TOPIC_ID_DRAWS_MAX {
            let id = new_topic_id();
            let reserved = id == Uuid::ZERO || id == Uuid::METADATA_TOPIC_ID;
            if !reserved && latest.topic(&id).is_none() && drawn.insert(id) {
                return id;
            }
        }
        panic!("the topic id source returned {TOPIC_ID_DRAWS_MAX} taken ids in a row")
    }

    /// DeleteTopics, by name (UNKNOWN_TOPIC_OR_PARTITION when unknown) or id (UNKNOWN_TOPIC_ID).
    pub fn delete_topics(
        &mut self,
        next_offset: u64,
        request: &DeleteTopicsRequest,
    ) -> Outcome<DeleteTopicsReply> {
        let latest = &self.active().latest;
        let mut counts = BTreeMap::new();
        for topic in &request.topics {
            *counts.entry(topic).or_insert(0) += 1;
        }
        let mut records = Vec::new();
        let mut deleted = BTreeSet::new();
        let mut results = Vec::with_capacity(request.topics.len());
        for topic in &request.topics {
            let mut result = DeleteTopicResult {
                topic: topic.clone(),
                name: None,
                topic_id: Uuid::ZERO,
                error: ApiError::NONE,
            };
            if counts[topic] > 1 {
                result.error = ApiError::new(
                    ErrorCode::InvalidRequest,
                    match topic {
                        TopicRef::Name(_) => "Duplicate topic name.",
                        TopicRef::Id(_) => "Duplicate topic id.",
                    },
                );
                results.push(result);
                continue;
            }
            let found = match topic {
                TopicRef::Name(name) => latest
                    .topic_by_name(name)
                    .ok_or_else(|| ApiError::code_only(ErrorCode::UnknownTopicOrPartition)),
                TopicRef::Id(id) if *id == Uuid::ZERO => Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "Invalid topic id 0.",
                )),
                TopicRef::Id(id) => latest
                    .topic(id)
                    .ok_or_else(|| ApiError::code_only(ErrorCode::UnknownTopicId)),
            };
            match found {
                Ok(t) => {
                    result.name = Some(t.name().to_owned());
                    result.topic_id = t.id();
                    // Named twice (once by name, once by id): one record.
                    if deleted.insert(t.id()) {
                        records.push(MetadataRecord::RemoveTopic(RemoveTopicRecord {
                            topic_id: t.id(),
                            ..Default::default()
                        }));
                    }
                }
                Err(error) => result.error = error,
            }
            results.push(result);
        }
        match encode_batch(&records) {
            Ok(encoded) => self.propose(
                next_offset,
                records,
                encoded,
                DeleteTopicsReply { topics: results },
            ),
            Err(error) => {
                for result in &mut results {
                    if result.error.is_ok() {
                        result.error = error.clone();
                    }
                }
                self.propose(
                    next_offset,
                    Vec::new(),
                    Vec::new(),
                    DeleteTopicsReply { topics: results },
                )
            }
        }
    }

    /// CreatePartitions: raises a topic's partition count, with explicit or placed replicas.
    pub fn create_partitions(
        &mut self,
        next_offset: u64,
        request: &CreatePartitionsRequest,
    ) -> Outcome<CreatePartitionsReply> {
        let latest = &self.active().latest;
        let mut names = BTreeMap::new();
        for topic in &request.topics {
            *names.entry(topic.name.as_str()).or_insert(0) += 1;
        }
        let mut records = Vec::new();
        let mut results = Vec::with_capacity(request.topics.len());
        for topic in &request.topics {
            let error = if names[topic.name.as_str()] > 1 {
                Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "Duplicate topic name.",
                ))
            } else {
                self.create_partitions_of(latest, topic, records.len())
            };
            match error {
                Ok(new_records) => {
                    records.extend(new_records);
                    results.push(CreatePartitionsResult {
                        name: topic.name.clone(),
                        error: ApiError::NONE,
                    });
                }
                Err(error) => results.push(CreatePartitionsResult {
                    name: topic.name.clone(),
                    error,
                }),
            }
        }
        let reply = CreatePartitionsReply { topics: results };
        if request.validate_only {
            return self.propose(next_offset, Vec::new(), Vec::new(), reply);
        }
        match encode_batch(&records) {
            Ok(encoded) => self.propose(next_offset, records, encoded, reply),
            Err(error) => {
                let reply = CreatePartitionsReply {
                    topics: request
                        .topics
                        .iter()
                        .map(|t| CreatePartitionsResult {
                            name: t.name.clone(),
                            error: error.clone(),
                        })
                        .collect(),
                };
                self.propose(next_offset, Vec::new(), Vec::new(), reply)
            }
        }
    }

    fn create_partitions_of(
        &self,
        latest: &Image,
        request: &CreatePartitionsTopic,
        records_so_far: usize,
    ) -> Result<Vec<MetadataRecord>, ApiError> {
        let topic = latest.topic_by_name(&request.name).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownTopicOrPartition,
                format!("Unable to find topic {}", request.name),
            )
        })?;
        let current = i64::from(topic.partition_count());
        let wanted = i64::from(request.count);
        if wanted < current {
            return Err(ApiError::new(
                ErrorCode::InvalidPartitions,
                format!(
                    "The topic {} currently has {current} partition(s); {wanted} would not be an \
                     increase.",
                    request.name
                ),
            ));
        }
        if wanted == current {
            return Err(ApiError::new(
                ErrorCode::InvalidPartitions,
                format!("Topic already has {current} partition(s)."),
            ));
        }
        let additional = (wanted - current) as usize;
        if additional + records_so_far > LIMIT {
            return Err(ApiError::new(
                ErrorCode::PolicyViolation,
                "Excessively large number of partitions per request.",
            ));
        }
        let rf = topic.partition(0).map_or(1, |p| p.replicas().len().max(1));
        let assignments = match &request.assignments {
            Some(assignments) => {
                if assignments.len() != additional {
                    return Err(ApiError::new(
                        ErrorCode::InvalidReplicaAssignment,
                        format!(
                            "Attempted to add {additional} additional partition(s), but only {} \
                             assignment(s) were specified.",
                            assignments.len()
                        ),
                    ));
                }
                for (i, replicas) in assignments.iter().enumerate() {
                    check_assignment(latest, replicas, Some(rf))?;
                    if !replicas
                        .iter()
                        .any(|&id| latest.broker(id).is_some_and(BrokerRegistration::is_active))
                    {
                        return Err(ApiError::new(
                            ErrorCode::InvalidReplicaAssignment,
                            format!(
                                "All brokers specified in the manual partition assignment for \
                                 partition {} are fenced or in controlled shutdown.",
                                current + i as i64
                            ),
                        ));
                    }
                }
                assignments.clone()
            }
            None => placement::place(
                &usable_brokers(latest),
                current as u32,
                additional as u32,
                rf,
                rotation_of(topic.id()),
            )
            .map_err(|PlacementError::ReplicationFactor { wanted, brokers }| {
                ApiError::new(
                    ErrorCode::InvalidReplicationFactor,
                    format!(
                        "Unable to replicate the partition {wanted} time(s): The target \
                         replication factor of {wanted} cannot be reached because only {brokers} \
                         broker(s) are registered."
                    ),
                )
            })?,
        };
        Ok(assignments
            .into_iter()
            .enumerate()
            .map(|(i, replicas)| {
                let record =
                    new_partition(latest, topic.id(), (current + i as i64) as i32, replicas)
                        .expect("checked: every new partition has an active replica");
                MetadataRecord::Partition(record)
            })
            .collect())
    }

    // ---- Configs ----

    /// Checks that a config resource exists and is one keel manages (a broker resource: a
    /// registered broker, or `local` itself, which describes itself whether or not it is a
    /// broker, as Kafka's controllers do).
    fn check_resource(
        image: &Image,
        resource: &ConfigResource,
        local: Option<i32>,
    ) -> Result<(), ApiError> {
        match resource.resource_type {
            RESOURCE_TOPIC => {
                if image.topic_id(&resource.name).is_none() {
                    return Err(ApiError::new(
                        ErrorCode::UnknownTopicOrPartition,
                        format!("The topic '{}' does not exist.", resource.name),
                    ));
                }
                Ok(())
            }
            RESOURCE_BROKER => {
                if resource.name.is_empty() {
                    return Ok(());
                }
                let id: i32 = resource.name.parse().map_err(|_| {
                    ApiError::new(
                        ErrorCode::InvalidRequest,
                        format!("Invalid broker name {}", resource.name),
                    )
                })?;
                if image.broker(id).is_none() && local != Some(id) {
                    return Err(ApiError::new(
                        ErrorCode::BrokerIdNotRegistered,
                        format!("No node with id {id} found."),
                    ));
                }
                Ok(())
            }
            other => Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "Unsupported resource type {other}; keel manages TOPIC (2) and BROKER (4)."
                ),
            )),
        }
    }

    /// The records that turn a resource's configs from `current` into `target`.
    fn config_records(
        resource: &ConfigResource,
        current: &BTreeMap<String, String>,
        target: &BTreeMap<String, String>,
        out: &mut Vec<MetadataRecord>,
    ) {
        let record = |name: &str, value: Option<&String>| {
            MetadataRecord::Config(ConfigRecord {
                resource_type: resource.resource_type,
                resource_name: resource.name.clone(),
                name: name.to_owned(),
                value: value.cloned(),
                ..Default::default()
            })
        };
        for (name, value) in target {
            if current.get(name) != Some(value) {
                out.push(record(name, Some(value)));
            }
        }
        for name in current.keys() {
            if !target.contains_key(name) {
                out.push(record(name, None));
            }
        }
    }

    /// IncrementalAlterConfigs (KIP-339): SET, DELETE, APPEND and SUBTRACT per key.
    pub fn incremental_alter_configs(
        &mut self,
        next_offset: u64,
        request: &IncrementalAlterConfigsRequest,
    ) -> Outcome<AlterConfigsReply> {
        self.alter_each_resource(
            next_offset,
            request.validate_only,
            &request.resources,
            |image, resource, ops| Self::incremental_target(image, resource, ops),
        )
    }

    /// The shared shape of AlterConfigs and IncrementalAlterConfigs: each resource (named once
    /// per request) gets the records that turn its current configs into `target`'s, or an
    /// error of its own; the records of all are proposed together.
    fn alter_each_resource<T>(
        &mut self,
        next_offset: u64,
        validate_only: bool,
        resources: &[(ConfigResource, T)],
        target: impl Fn(&Image, &ConfigResource, &T) -> Result<(ConfigMap, ConfigMap), ApiError>,
    ) -> Outcome<AlterConfigsReply> {
        let latest = &self.active().latest;
        let mut counts = BTreeMap::new();
        for (resource, _) in resources {
            *counts.entry(resource).or_insert(0) += 1;
        }
        let mut records = Vec::new();
        let mut results = Vec::new();
        for (resource, asked) in resources {
            let outcome = if counts[resource] > 1 {
                Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "Duplicate resource.",
                ))
            } else {
                target(latest, resource, asked)
            };
            let error = match outcome {
                Ok((current, target)) => {
                    Self::config_records(resource, &current, &target, &mut records);
                    ApiError::NONE
                }
                Err(error) => error,
            };
            results.push(AlterConfigsResult {
                resource: resource.clone(),
                error,
            });
        }
        self.finish_alter_configs(next_offset, validate_only, records, results)
    }

    fn incremental_target(
        image: &Image,
        resource: &ConfigResource,
        ops: &[ConfigOp],
    ) -> Result<(ConfigMap, ConfigMap), ApiError> {
        Self::check_resource(image, resource, None)?;
        let mut keys = BTreeSet::new();
        for op in ops {
            if !keys.insert(op.name.as_str()) {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("Error due to duplicate config keys: {}", op.name),
                ));
            }
        }
        let current = image.configs(resource).cloned().unwrap_or_default();
        let mut target = current.clone();
        for op in ops {
            let name = op.name.as_str();
            match op.op {
                AlterConfigOp::Set => {
                    let value = op.value.as_deref().ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::InvalidRequest,
                            format!("Null value not supported for : {name}"),
                        )
                    })?;
                    validate_config(resource, name, Some(value))?;
                    target.insert(name.to_owned(), value.to_owned());
                }
                AlterConfigOp::Delete => {
                    // A key that is set can always go (even one an older keel accepted).
                    if target.remove(name).is_none() {
                        validate_config(resource, name, None)?;
                    }
                }
                AlterConfigOp::Append | AlterConfigOp::Subtract => {
                    if config_type(resource.resource_type, name) != Some(ConfigType::List) {
                        return Err(ApiError::new(
                            ErrorCode::InvalidConfig,
                            format!("Config value append is not allowed for config key: {name}"),
                        ));
                    }
                    let base = target
                        .get(name)
                        .map(String::as_str)
                        .or_else(|| configs::topic_config(name).map(|d| d.default))
                        .unwrap_or("");
                    let mut items = configs::split_list(base);
                    let given = configs::split_list(op.value.as_deref().unwrap_or(""));
                    if op.op == AlterConfigOp::Append {
                        for item in given {
                            if !items.contains(&item) {
                                items.push(item);
                            }
                        }
                    } else {
                        items.retain(|item| !given.contains(item));
                    }
                    let value = items.join(",");
                    if value.is_empty() {
                        target.remove(name);
                    } else {
                        validate_config(resource, name, Some(&value))?;
                        target.insert(name.to_owned(), value);
                    }
                }
            }
        }
        Ok((current, target))
    }

    /// AlterConfigs (legacy): each resource's configs become exactly the ones given.
    pub fn alter_configs(
        &mut self,
        next_offset: u64,
        request: &AlterConfigsRequest,
    ) -> Outcome<AlterConfigsReply> {
        self.alter_each_resource(
            next_offset,
            request.validate_only,
            &request.resources,
            |image, resource, configs| Self::replacement_target(image, resource, configs),
        )
    }

    fn replacement_target(
        image: &Image,
        resource: &ConfigResource,
        configs: &[(String, Option<String>)],
    ) -> Result<(ConfigMap, ConfigMap), ApiError> {
        Self::check_resource(image, resource, None)?;
        let mut target = BTreeMap::new();
        for (name, value) in configs {
            let value = value.as_deref().ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("Null value not supported for : {name}"),
                )
            })?;
            validate_config(resource, name, Some(value))?;
            if target.insert(name.clone(), value.to_owned()).is_some() {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("Error due to duplicate config keys: {name}"),
                ));
            }
        }
        let current = image.configs(resource).cloned().unwrap_or_default();
        Ok((current, target))
    }

    fn finish_alter_configs(
        &mut self,
        next_offset: u64,
        validate_only: bool,
        records: Vec<MetadataRecord>,
        mut results: Vec<AlterConfigsResult>,
    ) -> Outcome<AlterConfigsReply> {
        if validate_only {
            let reply = AlterConfigsReply { resources: results };
            return self.propose(next_offset, Vec::new(), Vec::new(), reply);
        }
        match encode_batch(&records) {
            Ok(encoded) => {
                let reply = AlterConfigsReply { resources: results };
                self.propose(next_offset, records, encoded, reply)
            }
            Err(error) => {
                for result in &mut results {
                    if result.error.is_ok() {
                        result.error = error.clone();
                    }
                }
                let reply = AlterConfigsReply { resources: results };
                self.propose(next_offset, Vec::new(), Vec::new(), reply)
            }
        }
    }

    /// DescribeConfigs, answered from the committed image (active or not; no records).
    ///
    /// Topics: every key set on the topic (`DynamicTopicConfig`), and with `include_defaults`
    /// every other topic config at Kafka's default (`DefaultConfig`); broker-level defaults
    /// (`log.retention.ms` and the like) are not resolved, since the controller does not know
    /// the brokers' static configs. This node's own broker resource: every one of Kafka's
    /// broker configs (`describe_local_broker_configs`). Another broker: keys set on it
    /// (`DynamicBrokerConfig`), then cluster-wide keys it does not override
    /// (`DynamicDefaultBrokerConfig`); the cluster-wide resource (empty name) lists its own
    /// keys.
    pub fn describe_configs(&self, request: &DescribeConfigsRequest) -> DescribeConfigsReply {
        let image = &self.committed;
        let resources = request
            .resources
            .iter()
            .map(|(resource, keys)| {
                let mut result = DescribeConfigsResult {
                    resource: resource.clone(),
                    error: ApiError::NONE,
                    configs: Vec::new(),
                };
                let local = self.config.local_node.as_ref();
                if let Err(error) = Self::check_resource(image, resource, local.map(|l| l.0)) {
                    result.error = error;
                    return result;
                }
                let explicit = image.configs(resource);
                let cluster = image.configs(&ConfigResource::broker(""));
                let local_static = local
                    .filter(|(id, _)| {
                        resource.resource_type == RESOURCE_BROKER && resource.name == id.to_string()
                    })
                    .map(|(_, properties)| properties);
                result.configs = if resource.resource_type == RESOURCE_TOPIC {
                    describe_topic_configs(explicit, keys.as_deref(), request.include_defaults)
                } else if let Some(properties) = local_static {
                    describe_local_broker_configs(explicit, cluster, properties, keys.as_deref())
                } else {
                    let source = if resource.name.is_empty() {
                        ConfigSource::DynamicDefaultBrokerConfig
                    } else {
                        ConfigSource::DynamicBrokerConfig
                    };
                    let mut configs: BTreeMap<&str, DescribedConfig> = BTreeMap::new();
                    let entries = explicit.into_iter().flatten().map(|e| (e, source)).chain(
                        cluster
                            .filter(|_| !resource.name.is_empty())
                            .into_iter()
                            .flatten()
                            .map(|e| (e, ConfigSource::DynamicDefaultBrokerConfig)),
                    );
                    for ((name, value), source) in entries {
                        let wanted = keys.as_ref().is_none_or(|k| k.contains(name));
                        if wanted {
                            configs.entry(name).or_insert(DescribedConfig {
                                name: name.clone(),
                                value: Some(value.clone()),
                                source,
                                read_only: false,
                                is_sensitive: false,
                            });
                        }
                    }
                    configs.into_values().collect()
                };
                result
            })
            .collect();
        DescribeConfigsReply { resources }
    }
}

/// This node's own broker resource as a Kafka broker describes itself: every one of Kafka's
/// broker configs, each with the value that wins, in Kafka's order: set for this broker
/// (`DYNAMIC_BROKER_CONFIG`), set for every broker (`DYNAMIC_DEFAULT_BROKER_CONFIG`, for keys
/// that can be), in `server.properties` (`STATIC_BROKER_CONFIG`), else Kafka's default
/// (`DEFAULT_CONFIG`). Keys Kafka reads only at start are read-only; passwords are sensitive
/// and shown as null. Dynamic keys Kafka does not define (set by an older keel) follow.
fn describe_local_broker_configs(
    explicit: Option<&BTreeMap<String, String>>,
    cluster: Option<&BTreeMap<String, String>>,
    properties: &BTreeMap<String, String>,
    keys: Option<&[String]>,
) -> Vec<DescribedConfig> {
    let wanted = |name: &str| keys.is_none_or(|k| k.iter().any(|k| k == name));
    let explicit_value = |name: &str| explicit.and_then(|m| m.get(name));
    let cluster_value = |name: &str| cluster.and_then(|m| m.get(name));
    let mut configs = Vec::new();
    for def in BROKER_CONFIGS.iter().filter(|d| wanted(d.name)) {
        let (value, source) = if let Some(v) = explicit_value(def.name) {
            (Some(v.clone()), ConfigSource::DynamicBrokerConfig)
        } else if let Some(v) =
            cluster_value(def.name).filter(|_| def.mode == UpdateMode::ClusterWide)
        {
            (Some(v.clone()), ConfigSource::DynamicDefaultBrokerConfig)
        } else if let Some(v) = properties.get(def.name) {
            (Some(v.clone()), ConfigSource::StaticBrokerConfig)
        } else {
            (def.default.map(str::to_owned), ConfigSource::DefaultConfig)
        };
        let sensitive = def.config_type == ConfigType::Password;
        configs.push(DescribedConfig {
            name: def.name.to_owned(),
            value: if sensitive { None } else { value },
            source,
            read_only: def.mode == UpdateMode::ReadOnly,
            is_sensitive: sensitive,
        });
    }
    for (name, value) in explicit.into_iter().flatten() {
        if configs::broker_config(name).is_none() && wanted(name) {
            configs.push(DescribedConfig {
                name: name.clone(),
                value: Some(value.clone()),
                source: ConfigSource::DynamicBrokerConfig,
                read_only: false,
                is_sensitive: false,
            });
        }
    }
    configs
}

/// A topic's configs as DescribeConfigs shows them (see `describe_configs`).
fn describe_topic_configs(
    explicit: Option<&BTreeMap<String, String>>,
    keys: Option<&[String]>,
    include_defaults: bool,
) -> Vec<DescribedConfig> {
    let wanted = |name: &str| keys.is_none_or(|k| k.iter().any(|k| k == name));
    let mut configs = BTreeMap::new();
    for (name, value) in explicit.into_iter().flatten() {
        if wanted(name) {
            configs.insert(
                name.clone(),
                DescribedConfig {
                    name: name.clone(),
                    value: Some(value.clone()),
                    source: ConfigSource::DynamicTopicConfig,
                    read_only: false,
                    is_sensitive: false,
                },
            );
        }
    }
    if include_defaults {
        for def in configs::TOPIC_CONFIGS {
            if wanted(def.name) && !configs.contains_key(def.name) {
                configs.insert(
                    def.name.to_owned(),
                    DescribedConfig {
                        name: def.name.to_owned(),
                        value: Some(def.default.to_owned()),
                        source: ConfigSource::DefaultConfig,
                        read_only: false,
                        is_sensitive: false,
                    },
                );
            }
        }
    }
    configs.into_values().collect()
}

/// Kafka's `validateAlterPartitionData`, in Kafka's order and with Kafka's codes.
fn check_alter_partition(
    image: &Image,
    broker_id: i32,
    partition: &PartitionView<'_>,
    item: &AlterPartitionItem,
) -> Result<(), ErrorCode> {
    // A leader ahead of this controller suggests this controller is stale.
    if item.leader_epoch > partition.leader_epoch() {
        return Err(ErrorCode::NotController);
    }
    if item.partition_epoch > partition.partition_epoch() {
        return Err(ErrorCode::NotController);
    }
    if item.leader_epoch < partition.leader_epoch() {
        return Err(ErrorCode::FencedLeaderEpoch);
    }
    if broker_id != partition.leader() {
        return Err(ErrorCode::InvalidRequest);
    }
    if item.partition_epoch < partition.partition_epoch() {
        return Err(ErrorCode::InvalidUpdateVersion);
    }
    let mut members = BTreeSet::new();
    let valid_isr = !item.new_isr.is_empty()
        && item.new_isr.len() <= PARTITION_MEMBERS_MAX
        && item
            .new_isr
            .iter()
            .all(|m| members.insert(m.broker_id) && partition.replicas().contains(&m.broker_id));
    if !valid_isr || !members.contains(&partition.leader()) {
        return Err(ErrorCode::InvalidRequest);
    }
    match item.leader_recovery_state {
        LEADER_RECOVERING if item.new_isr.len() > 1 => return Err(ErrorCode::InvalidRequest),
        LEADER_RECOVERING if partition.leader_recovery_state() == LEADER_RECOVERED => {
            return Err(ErrorCode::InvalidRequest);
        }
        LEADER_RECOVERED | LEADER_RECOVERING => {}
        _ => return Err(ErrorCode::InvalidRequest),
    }
    let ineligible = item
        .new_isr
        .iter()
        .any(|m| match image.broker(m.broker_id) {
            None => true,
            Some(b) => !b.is_active() || (m.broker_epoch != -1 && m.broker_epoch != b.epoch),
        });
    if ineligible {
        return Err(ErrorCode::IneligibleReplica);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settling_size_estimate_bounds_the_encoding() {
        for n in [0usize, 1, 3, 100, PARTITION_MEMBERS_MAX] {
            let change = PartitionChangeRecord {
                topic_id: Uuid::from_bytes([0xff; 16]),
                partition_id: i32::MAX,
                isr: Some(vec![i32::MAX; n]),
                leader: i32::MAX,
                ..Default::default()
            };
            let encoded = MetadataRecord::PartitionChange(change.clone()).encode();
            assert!(
                crate::batch_size::record_bytes(encoded.len()) <= settle_record_bytes(&change),
                "{n} members"
            );
        }
    }

    #[test]
    fn topic_names_follow_kafkas_rules() {
        assert!(validate_topic_name("orders-v1.eu_west").is_ok());
        assert!(validate_topic_name(&"a".repeat(249)).is_ok());
        assert!(validate_topic_name(&"a".repeat(250)).is_err());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name(".").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("...").is_ok());
        assert!(validate_topic_name("a b").is_err());
        assert!(validate_topic_name("a/b").is_err());
        assert!(validate_topic_name("é").is_err());
    }
}
