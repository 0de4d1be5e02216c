//! Kafka wire messages <-> Raft messages. Pure: no I/O, no state.
//!
//! The quorum RPCs name one topic and one partition (`__cluster_metadata`, partition 0) and use
//! Kafka's `-1` sentinels; the Raft core has neither. This module validates and strips the
//! nesting on the way in and adds it on the way out, at whatever version the peer used.
//!
//! A peer's request: check the envelope (`envelope`: cluster id, the one topic and partition),
//! then map the fields; a failure is a `Refusal`, answered by `request_to_raft`. A peer's
//! answer: `answered_partition` (no top-level error, one partition), then the fields.
//!
//! Keys are converted as the wire carries them: an absent or zero directory id stays
//! [`Uuid::ZERO`]. The node decides what directory ids mean (pinning, see `directories`) before
//! the core sees a message.

use std::collections::BTreeMap;

use crate::protocol::messages::*;
use crate::protocol::{ErrorCode, RequestBody, ResponseBody, Uuid};
use crate::raft::{
    DirectoryId, Message, NodeId, OffsetAndEpoch, RaftError, ReplicaKey, SnapshotId,
};

use super::Data;

/// Kafka's name of the metadata log topic; it is the only topic the quorum RPCs carry.
pub const METADATA_TOPIC: &str = "__cluster_metadata";

/// The versions a keel node sends its peers: the newest of each, which carry directory ids.
pub const VOTE_VERSION: i16 = 2;
pub const BEGIN_QUORUM_EPOCH_VERSION: i16 = 1;
pub const END_QUORUM_EPOCH_VERSION: i16 = 1;
pub const FETCH_VERSION: i16 = 17;
/// The oldest Fetch version the quorum uses, and controllers serve: the first flexible one,
/// with `LastFetchedEpoch` (KIP-595) and the tagged `DivergingEpoch`, `CurrentLeader` and
/// `SnapshotId` Raft needs. Kafka's KRaft uses 12+ as well.
pub const RAFT_FETCH_MIN_VERSION: i16 = 12;
pub const FETCH_SNAPSHOT_VERSION: i16 = 1;

/// What conversions need to know about this node and its peers.
#[derive(Debug, Clone)]
pub struct Wire {
    pub cluster_id: String,
    pub local_id: NodeId,
    pub local_directory_id: Uuid,
    /// Name of the listener peers reach each other on (for endpoint lists).
    pub listener_name: String,
    /// Host and port of every voter's controller listener.
    pub endpoints: BTreeMap<NodeId, (String, u16)>,
}

pub fn directory_id(uuid: Uuid) -> DirectoryId {
    DirectoryId(u128::from_be_bytes(*uuid.as_bytes()))
}

pub fn uuid(directory_id: DirectoryId) -> Uuid {
    Uuid::from_bytes(directory_id.0.to_be_bytes())
}

fn key(id: i32, directory: Uuid) -> ReplicaKey {
    ReplicaKey {
        id: id as NodeId,
        directory_id: directory_id(directory),
    }
}

fn error_code(error: Option<RaftError>) -> i16 {
    match error {
        None => ErrorCode::None,
        Some(RaftError::FencedLeaderEpoch) => ErrorCode::FencedLeaderEpoch,
        Some(RaftError::UnknownLeaderEpoch) => ErrorCode::UnknownLeaderEpoch,
        Some(RaftError::NotLeader) => ErrorCode::NotLeaderOrFollower,
        Some(RaftError::InvalidVoterKey) => ErrorCode::InvalidVoterKey,
        Some(RaftError::SnapshotNotFound) => ErrorCode::SnapshotNotFound,
    }
    .code()
}

/// The Raft error a peer's error code stands for; `Err` for codes the core has no use for
/// (the response is then dropped and the core's own timers resend).
fn raft_error(code: i16) -> Result<Option<RaftError>, String> {
    Ok(match ErrorCode::from_code(code) {
        Some(ErrorCode::None) => None,
        Some(ErrorCode::FencedLeaderEpoch) => Some(RaftError::FencedLeaderEpoch),
        Some(ErrorCode::UnknownLeaderEpoch) => Some(RaftError::UnknownLeaderEpoch),
        Some(ErrorCode::NotLeaderOrFollower) => Some(RaftError::NotLeader),
        Some(ErrorCode::InvalidVoterKey) => Some(RaftError::InvalidVoterKey),
        Some(ErrorCode::SnapshotNotFound) => Some(RaftError::SnapshotNotFound),
        Some(other) => return Err(format!("peer answered {other}")),
        None => return Err(format!("peer answered unknown error code {code}")),
    })
}

fn leader_id(leader: Option<NodeId>) -> i32 {
    leader.map_or(-1, |id| id as i32)
}

fn leader_of(id: i32) -> Option<NodeId> {
    (id >= 0).then_some(id as NodeId)
}

fn non_negative(value: i64, what: &str) -> Result<u64, String> {
    u64::try_from(value).map_err(|_| format!("{what} {value} is negative"))
}

fn epoch_of(value: i32, what: &str) -> Result<u32, String> {
    u32::try_from(value).map_err(|_| format!("{what} {value} is negative"))
}

impl Wire {
    fn endpoint(&self, id: NodeId) -> Option<(String, u16)> {
        self.endpoints.get(&id).cloned()
    }

    fn check_cluster_id(&self, cluster_id: Option<&str>) -> Result<(), ErrorCode> {
        match cluster_id {
            Some(theirs) if theirs != self.cluster_id => Err(ErrorCode::InconsistentClusterId),
            _ => Ok(()),
        }
    }
}

/// A peer's request after conversion.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// Hand `message` to the core, as received from `from`.
    Raft {
        from: NodeId,
        message: Message<Data>,
    },
    /// Answer at once with this response (the request is invalid or for another cluster).
    Refuse(ResponseBody),
}

/// Why a peer's request is answered at once instead of reaching the core: the error code the
/// answer carries, and where it carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The answer's top-level error code; the answer then holds no topics.
    Request(ErrorCode),
    /// The error code of the answer's one partition.
    Partition(ErrorCode),
}

/// A field no valid quorum request carries (a negative id, epoch or offset).
const INVALID_REQUEST: Refusal = Refusal::Request(ErrorCode::InvalidRequest);

impl Refusal {
    /// The answer's (top-level, partition) error codes.
    fn codes(self) -> (ErrorCode, ErrorCode) {
        match self {
            Refusal::Request(code) => (code, ErrorCode::None),
            Refusal::Partition(code) => (ErrorCode::None, code),
        }
    }
}

/// The envelope every quorum request shares: a cluster id (absent before the version that added
/// it) and topics of partitions, of which the only valid content is partition 0 of the
/// metadata log.
trait QuorumRequest {
    type Topic: QuorumTopic;
    fn cluster_id(&self) -> Option<&str>;
    fn topics(&self) -> &[Self::Topic];
}

trait QuorumTopic {
    type Partition: QuorumPartition;
    fn partitions(&self) -> &[Self::Partition];
    /// The partition error for a topic that is not the metadata log; `None` if it is.
    fn foreign_topic_error(&self) -> Option<ErrorCode>;
}

trait QuorumPartition {
    fn partition_index(&self) -> i32;
}

/// Implements the envelope traits for one generated request; `$foreign` is the topic check.
macro_rules! quorum_envelope {
    ($request:ty, $topic:ty, $partition:ty, $index:ident, $foreign:expr) => {
        impl QuorumRequest for $request {
            type Topic = $topic;
            fn cluster_id(&self) -> Option<&str> {
                self.cluster_id.as_deref()
            }
            fn topics(&self) -> &[$topic] {
                &self.topics
            }
        }
        impl QuorumTopic for $topic {
            type Partition = $partition;
            fn partitions(&self) -> &[$partition] {
                &self.partitions
            }
            fn foreign_topic_error(&self) -> Option<ErrorCode> {
                let foreign: fn(&$topic) -> Option<ErrorCode> = $foreign;
                foreign(self)
            }
        }
        impl QuorumPartition for $partition {
            fn partition_index(&self) -> i32 {
                self.$index
            }
        }
    };
}

fn unless_metadata_topic(name: &str) -> Option<ErrorCode> {
    (name != METADATA_TOPIC).then_some(ErrorCode::UnknownTopicOrPartition)
}

quorum_envelope!(
    VoteRequest,
    vote_request::TopicData,
    vote_request::PartitionData,
    partition_index,
    |topic| unless_metadata_topic(&topic.topic_name)
);
quorum_envelope!(
    BeginQuorumEpochRequest,
    begin_quorum_epoch_request::TopicData,
    begin_quorum_epoch_request::PartitionData,
    partition_index,
    |topic| unless_metadata_topic(&topic.topic_name)
);
quorum_envelope!(
    EndQuorumEpochRequest,
    end_quorum_epoch_request::TopicData,
    end_quorum_epoch_request::PartitionData,
    partition_index,
    |topic| unless_metadata_topic(&topic.topic_name)
);
// v12 names the topic, v13+ gives its id; keel's generated defaults make the other one
// empty/zero, so exactly one of the two is checked.
quorum_envelope!(
    FetchRequest,
    fetch_request::FetchTopic,
    fetch_request::FetchPartition,
    partition,
    |topic| match topic.topic.as_str() {
        "" => (topic.topic_id != Uuid::METADATA_TOPIC_ID).then_some(ErrorCode::UnknownTopicId),
        name => unless_metadata_topic(name),
    }
);
quorum_envelope!(
    FetchSnapshotRequest,
    fetch_snapshot_request::TopicSnapshot,
    fetch_snapshot_request::PartitionSnapshot,
    partition,
    |topic| unless_metadata_topic(&topic.name)
);

type Partition<R> = <<R as QuorumRequest>::Topic as QuorumTopic>::Partition;

/// The one partition of a quorum request whose envelope is valid, checked in this order (the
/// first failure refuses):
/// 1. a cluster id, if sent, is this cluster's (else `INCONSISTENT_CLUSTER_ID`);
/// 2. exactly one topic, holding exactly one partition (else `INVALID_REQUEST`);
/// 3. the topic is the metadata log (else the partition's `UNKNOWN_TOPIC_OR_PARTITION`, or
///    `UNKNOWN_TOPIC_ID` for a Fetch that names it by id);
/// 4. the partition is partition 0 (else the partition's `UNKNOWN_TOPIC_OR_PARTITION`).
fn envelope<'r, R: QuorumRequest>(
    wire: &Wire,
    request: &'r R,
) -> Result<&'r Partition<R>, Refusal> {
    let partition = metadata_partition(wire, request)?;
    at_partition_zero(partition)?;
    Ok(partition)
}

/// Steps 1 to 3 of [`envelope`].
fn metadata_partition<'r, R: QuorumRequest>(
    wire: &Wire,
    request: &'r R,
) -> Result<&'r Partition<R>, Refusal> {
    wire.check_cluster_id(request.cluster_id())
        .map_err(Refusal::Request)?;
    let [topic] = request.topics() else {
        return Err(INVALID_REQUEST);
    };
    let [partition] = topic.partitions() else {
        return Err(INVALID_REQUEST);
    };
    match topic.foreign_topic_error() {
        Some(code) => Err(Refusal::Partition(code)),
        None => Ok(partition),
    }
}

/// Step 4 of [`envelope`].
fn at_partition_zero(partition: &impl QuorumPartition) -> Result<(), Refusal> {
    match partition.partition_index() {
        0 => Ok(()),
        _ => Err(Refusal::Partition(ErrorCode::UnknownTopicOrPartition)),
    }
}

/// Converts a peer's request. `correlation` is the node's id for the request, echoed by the
/// core's response so the node can route it back to this connection.
pub fn request_to_raft(wire: &Wire, body: &RequestBody, correlation: u64) -> Inbound {
    let converted = match body {
        RequestBody::Vote(request) => vote_request(wire, request, correlation),
        RequestBody::BeginQuorumEpoch(request) => {
            begin_quorum_epoch_request(wire, request, correlation)
        }
        RequestBody::EndQuorumEpoch(request) => {
            end_quorum_epoch_request(wire, request, correlation)
        }
        RequestBody::Fetch(request) => fetch_request(wire, request, correlation),
        RequestBody::FetchSnapshot(request) => fetch_snapshot_request(wire, request, correlation),
        // ApiVersions, DescribeQuorum and DescribeCluster are answered by the node, and the APIs
        // the node does not serve never get this far (see `SERVED_APIS`).
        _ => panic!("{:?} is not a request for the core", body.api_key()),
    };
    match converted {
        Ok((from, message)) => Inbound::Raft { from, message },
        Err(refusal) => Inbound::Refuse(refusal_body(wire, body, refusal)),
    }
}

/// The answer to a refused request, shaped like the request.
fn refusal_body(wire: &Wire, body: &RequestBody, refusal: Refusal) -> ResponseBody {
    let (top, partition) = refusal.codes();
    match body {
        RequestBody::Vote(request) => ResponseBody::Vote(vote_response_body(
            wire,
            top,
            partition,
            0,
            None,
            false,
            &request.topics,
        )),
        RequestBody::BeginQuorumEpoch(_) => ResponseBody::BeginQuorumEpoch(
            begin_quorum_epoch_response_body(wire, top, partition, 0, None),
        ),
        RequestBody::EndQuorumEpoch(_) => ResponseBody::EndQuorumEpoch(
            end_quorum_epoch_response_body(wire, top, partition, 0, None),
        ),
        RequestBody::Fetch(request) => {
            ResponseBody::Fetch(fetch_error_body(wire, top, partition, request))
        }
        RequestBody::FetchSnapshot(_) => {
            ResponseBody::FetchSnapshot(fetch_snapshot_error_body(top, partition))
        }
        _ => panic!("{:?} is not a request for the core", body.api_key()),
    }
}

/// A request's sender, and the core message it becomes.
type Converted = Result<(NodeId, Message<Data>), Refusal>;

/// The voter a request is addressed to; a negative id (older versions) means this node.
fn addressed_voter(wire: &Wire, voter_id: i32) -> i32 {
    if voter_id < 0 {
        wire.local_id as i32
    } else {
        voter_id
    }
}

fn vote_request(wire: &Wire, request: &VoteRequest, correlation: u64) -> Converted {
    let p = metadata_partition(wire, request)?;
    if p.replica_id < 0 {
        return Err(INVALID_REQUEST);
    }
    let message = Message::VoteRequest {
        correlation,
        candidate_epoch: epoch_of(p.replica_epoch, "candidate epoch").or(Err(INVALID_REQUEST))?,
        candidate: key(p.replica_id, p.replica_directory_id),
        voter: key(
            addressed_voter(wire, request.voter_id),
            p.voter_directory_id,
        ),
        last_epoch: epoch_of(p.last_offset_epoch, "last offset epoch").or(Err(INVALID_REQUEST))?,
        last_offset: non_negative(p.last_offset, "last offset").or(Err(INVALID_REQUEST))?,
        pre_vote: p.pre_vote,
    };
    // A Vote's invalid fields outrank its partition index (unlike the other RPCs): kept as it
    // was, so that no answer changes.
    at_partition_zero(p)?;
    Ok((p.replica_id as NodeId, message))
}

fn begin_quorum_epoch_request(
    wire: &Wire,
    request: &BeginQuorumEpochRequest,
    correlation: u64,
) -> Converted {
    let p = envelope(wire, request)?;
    let epoch = epoch_of(p.leader_epoch, "leader epoch").or(Err(INVALID_REQUEST))?;
    if p.leader_id < 0 {
        return Err(INVALID_REQUEST);
    }
    let message = Message::BeginQuorumEpochRequest {
        correlation,
        epoch,
        leader: p.leader_id as NodeId,
        voter: key(
            addressed_voter(wire, request.voter_id),
            p.voter_directory_id,
        ),
    };
    Ok((p.leader_id as NodeId, message))
}

fn end_quorum_epoch_request(
    wire: &Wire,
    request: &EndQuorumEpochRequest,
    correlation: u64,
) -> Converted {
    let p = envelope(wire, request)?;
    let epoch = epoch_of(p.leader_epoch, "leader epoch").or(Err(INVALID_REQUEST))?;
    if p.leader_id < 0 {
        return Err(INVALID_REQUEST);
    }
    // v0 names successors by id only; v1 adds their directory ids.
    let successors: Vec<ReplicaKey> = if p.preferred_candidates.is_empty() {
        p.preferred_successors
            .iter()
            .filter(|id| **id >= 0)
            .map(|id| key(*id, Uuid::ZERO))
            .collect()
    } else {
        p.preferred_candidates
            .iter()
            .filter(|c| c.candidate_id >= 0)
            .map(|c| key(c.candidate_id, c.candidate_directory_id))
            .collect()
    };
    let message = Message::EndQuorumEpochRequest {
        correlation,
        epoch,
        leader: p.leader_id as NodeId,
        preferred_successors: successors,
    };
    Ok((p.leader_id as NodeId, message))
}

fn fetch_request(wire: &Wire, request: &FetchRequest, correlation: u64) -> Converted {
    let p = envelope(wire, request)?;
    // A Fetch's invalid fields are refused in its partition, not at the top level.
    let invalid = Refusal::Partition(ErrorCode::InvalidRequest);
    // ReplicaId moved into ReplicaState in v15; the generated default of the absent one is -1.
    let replica_id = if request.replica_state.replica_id >= 0 {
        request.replica_state.replica_id
    } else {
        request.replica_id
    };
    if replica_id < 0 {
        return Err(invalid);
    }
    let fetch_offset = non_negative(p.fetch_offset, "fetch offset").or(Err(invalid))?;
    // An empty log has no last epoch: Kafka sends -1 (the schema default) or 0.
    let last_fetched_epoch = if p.last_fetched_epoch < 0 {
        0
    } else {
        p.last_fetched_epoch as u32
    };
    let max_bytes = match (request.max_bytes, p.partition_max_bytes) {
        (a, b) if a > 0 && b > 0 => a.min(b),
        (a, b) => a.max(b).max(1),
    };
    let message = Message::FetchRequest {
        correlation,
        replica: key(replica_id, p.replica_directory_id),
        current_leader_epoch: epoch_of(p.current_leader_epoch, "current leader epoch")
            .or(Err(invalid))?,
        fetch_offset,
        last_fetched_epoch,
        max_wait_ms: u64::try_from(request.max_wait_ms.max(0)).expect("non-negative"),
        max_bytes: max_bytes as u32,
    };
    Ok((replica_id as NodeId, message))
}

fn fetch_snapshot_request(
    wire: &Wire,
    request: &FetchSnapshotRequest,
    correlation: u64,
) -> Converted {
    let p = envelope(wire, request)?;
    if request.replica_id < 0 {
        return Err(INVALID_REQUEST);
    }
    let message = Message::FetchSnapshotRequest {
        correlation,
        replica: key(request.replica_id, p.replica_directory_id),
        current_leader_epoch: epoch_of(p.current_leader_epoch, "current leader epoch")
            .or(Err(INVALID_REQUEST))?,
        snapshot: SnapshotId {
            end_offset: non_negative(p.snapshot_id.end_offset, "snapshot end offset")
                .or(Err(INVALID_REQUEST))?,
            epoch: epoch_of(p.snapshot_id.epoch, "snapshot epoch").or(Err(INVALID_REQUEST))?,
        },
        position: non_negative(p.position, "position")
            .or(Err(Refusal::Partition(ErrorCode::PositionOutOfRange)))?,
        max_bytes: request.max_bytes.max(1) as u32,
    };
    Ok((request.replica_id as NodeId, message))
}

#[allow(clippy::too_many_arguments)]
fn vote_response_body(
    wire: &Wire,
    top: ErrorCode,
    partition_error: ErrorCode,
    epoch: u32,
    leader: Option<NodeId>,
    granted: bool,
    request_topics: &[vote_request::TopicData],
) -> VoteResponse {
    let topic_name = request_topics
        .first()
        .map_or(METADATA_TOPIC.to_owned(), |t| t.topic_name.clone());
    VoteResponse {
        error_code: top.code(),
        topics: if top == ErrorCode::None {
            vec![vote_response::TopicData {
                topic_name,
                partitions: vec![vote_response::PartitionData {
                    partition_index: 0,
                    error_code: partition_error.code(),
                    leader_id: leader_id(leader),
                    leader_epoch: epoch as i32,
                    vote_granted: granted,
                    ..Default::default()
                }],
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        node_endpoints: node_endpoints(wire, leader)
            .map(|(node_id, host, port)| vote_response::NodeEndpoint {
                node_id,
                host,
                port,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn node_endpoints(wire: &Wire, leader: Option<NodeId>) -> impl Iterator<Item = (i32, String, u16)> {
    leader
        .and_then(|id| {
            wire.endpoint(id)
                .map(|(host, port)| (id as i32, host, port))
        })
        .into_iter()
}

fn begin_quorum_epoch_response_body(
    wire: &Wire,
    top: ErrorCode,
    partition_error: ErrorCode,
    epoch: u32,
    leader: Option<NodeId>,
) -> BeginQuorumEpochResponse {
    BeginQuorumEpochResponse {
        error_code: top.code(),
        topics: if top == ErrorCode::None {
            vec![begin_quorum_epoch_response::TopicData {
                topic_name: METADATA_TOPIC.to_owned(),
                partitions: vec![begin_quorum_epoch_response::PartitionData {
                    partition_index: 0,
                    error_code: partition_error.code(),
                    leader_id: leader_id(leader),
                    leader_epoch: epoch as i32,
                    ..Default::default()
                }],
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        node_endpoints: node_endpoints(wire, leader)
            .map(
                |(node_id, host, port)| begin_quorum_epoch_response::NodeEndpoint {
                    node_id,
                    host,
                    port,
                    ..Default::default()
                },
            )
            .collect(),
        ..Default::default()
    }
}

fn end_quorum_epoch_response_body(
    wire: &Wire,
    top: ErrorCode,
    partition_error: ErrorCode,
    epoch: u32,
    leader: Option<NodeId>,
) -> EndQuorumEpochResponse {
    let begin = begin_quorum_epoch_response_body(wire, top, partition_error, epoch, leader);
    EndQuorumEpochResponse {
        error_code: begin.error_code,
        topics: begin
            .topics
            .into_iter()
            .map(|t| end_quorum_epoch_response::TopicData {
                topic_name: t.topic_name,
                partitions: t
                    .partitions
                    .into_iter()
                    .map(|p| end_quorum_epoch_response::PartitionData {
                        partition_index: p.partition_index,
                        error_code: p.error_code,
                        leader_id: p.leader_id,
                        leader_epoch: p.leader_epoch,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        node_endpoints: begin
            .node_endpoints
            .into_iter()
            .map(|e| end_quorum_epoch_response::NodeEndpoint {
                node_id: e.node_id,
                host: e.host,
                port: e.port,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn fetch_error_body(
    wire: &Wire,
    top: ErrorCode,
    partition_error: ErrorCode,
    request: &FetchRequest,
) -> FetchResponse {
    let topic = request.topics.first();
    FetchResponse {
        error_code: top.code(),
        responses: if top == ErrorCode::None {
            vec![fetch_response::FetchableTopicResponse {
                topic: topic.map_or(String::new(), |t| t.topic.clone()),
                topic_id: topic.map_or(Uuid::ZERO, |t| t.topic_id),
                partitions: vec![fetch_response::PartitionData {
                    partition_index: topic
                        .and_then(|t| t.partitions.first())
                        .map_or(0, |p| p.partition),
                    error_code: partition_error.code(),
                    high_watermark: -1,
                    records: Some(Vec::new()),
                    ..Default::default()
                }],
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        node_endpoints: Vec::new(),
        ..Default::default()
    }
    .with_endpoints(wire, None)
}

trait WithEndpoints {
    fn with_endpoints(self, wire: &Wire, leader: Option<NodeId>) -> Self;
}

impl WithEndpoints for FetchResponse {
    fn with_endpoints(mut self, wire: &Wire, leader: Option<NodeId>) -> Self {
        self.node_endpoints = node_endpoints(wire, leader)
            .map(|(node_id, host, port)| fetch_response::NodeEndpoint {
                node_id,
                host,
                port: i32::from(port),
                rack: None,
                ..Default::default()
            })
            .collect();
        self
    }
}

fn fetch_snapshot_error_body(top: ErrorCode, partition_error: ErrorCode) -> FetchSnapshotResponse {
    FetchSnapshotResponse {
        error_code: top.code(),
        topics: if top == ErrorCode::None {
            vec![fetch_snapshot_response::TopicSnapshot {
                name: METADATA_TOPIC.to_owned(),
                partitions: vec![fetch_snapshot_response::PartitionSnapshot {
                    index: 0,
                    error_code: partition_error.code(),
                    ..Default::default()
                }],
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// What the leader's node read from storage for a response (the core's `Fill`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filled {
    Nothing,
    /// Whole batches, back to back, as stored.
    Records(Vec<u8>),
    /// A piece of the snapshot file and the file's total size.
    SnapshotChunk {
        bytes: Vec<u8>,
        size: u64,
    },
}

/// Converts the core's response into the Kafka response to the request it answers, at that
/// request's version.
pub fn response_from_raft(wire: &Wire, message: Message<Data>, filled: Filled) -> ResponseBody {
    match message {
        Message::VoteResponse {
            error,
            epoch,
            leader,
            granted,
            ..
        } => ResponseBody::Vote(vote_response_body(
            wire,
            ErrorCode::None,
            ErrorCode::from_code(error_code(error)).expect("known code"),
            epoch,
            leader,
            granted,
            &[],
        )),
        Message::BeginQuorumEpochResponse {
            error,
            epoch,
            leader,
            ..
        } => ResponseBody::BeginQuorumEpoch(begin_quorum_epoch_response_body(
            wire,
            ErrorCode::None,
            ErrorCode::from_code(error_code(error)).expect("known code"),
            epoch,
            leader,
        )),
        Message::EndQuorumEpochResponse {
            error,
            epoch,
            leader,
            ..
        } => ResponseBody::EndQuorumEpoch(end_quorum_epoch_response_body(
            wire,
            ErrorCode::None,
            ErrorCode::from_code(error_code(error)).expect("known code"),
            epoch,
            leader,
        )),
        Message::FetchResponse {
            error,
            epoch,
            leader,
            high_watermark,
            log_start_offset,
            diverging,
            snapshot,
            ..
        } => {
            let records = match filled {
                Filled::Records(bytes) => bytes,
                _ => Vec::new(),
            };
            ResponseBody::Fetch(
                FetchResponse {
                    responses: vec![fetch_response::FetchableTopicResponse {
                        topic: METADATA_TOPIC.to_owned(),
                        topic_id: Uuid::METADATA_TOPIC_ID,
                        partitions: vec![fetch_response::PartitionData {
                            partition_index: 0,
                            error_code: error_code(error),
                            high_watermark: high_watermark as i64,
                            last_stable_offset: high_watermark as i64,
                            log_start_offset: log_start_offset as i64,
                            diverging_epoch: match diverging {
                                Some(d) => fetch_response::EpochEndOffset {
                                    epoch: d.epoch as i32,
                                    end_offset: d.offset as i64,
                                    ..Default::default()
                                },
                                None => Default::default(),
                            },
                            current_leader: fetch_response::LeaderIdAndEpoch {
                                leader_id: leader_id(leader),
                                leader_epoch: epoch as i32,
                                ..Default::default()
                            },
                            snapshot_id: match snapshot {
                                Some(s) => fetch_response::SnapshotId {
                                    end_offset: s.end_offset as i64,
                                    epoch: s.epoch as i32,
                                    ..Default::default()
                                },
                                None => Default::default(),
                            },
                            // keel always sends a record set, never null: librdkafka (and
                            // Kafka clients before KAFKA-18648) cannot read null records.
                            records: Some(records),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }
                .with_endpoints(wire, leader),
            )
        }
        Message::FetchSnapshotResponse {
            error,
            epoch,
            leader,
            snapshot,
            position,
            ..
        } => {
            let (bytes, size) = match filled {
                Filled::SnapshotChunk { bytes, size } => (bytes, size),
                _ => (Vec::new(), 0),
            };
            ResponseBody::FetchSnapshot(FetchSnapshotResponse {
                topics: vec![fetch_snapshot_response::TopicSnapshot {
                    name: METADATA_TOPIC.to_owned(),
                    partitions: vec![fetch_snapshot_response::PartitionSnapshot {
                        index: 0,
                        error_code: error_code(error),
                        snapshot_id: fetch_snapshot_response::SnapshotId {
                            end_offset: snapshot.end_offset as i64,
                            epoch: snapshot.epoch as i32,
                            ..Default::default()
                        },
                        current_leader: fetch_snapshot_response::LeaderIdAndEpoch {
                            leader_id: leader_id(leader),
                            leader_epoch: epoch as i32,
                            ..Default::default()
                        },
                        size: size as i64,
                        position: position as i64,
                        unaligned_records: bytes,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                node_endpoints: node_endpoints(wire, leader)
                    .map(
                        |(node_id, host, port)| fetch_snapshot_response::NodeEndpoint {
                            node_id,
                            host,
                            port,
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            })
        }
        request => panic!("{} is a request, not a response", request.name()),
    }
}

/// Converts the core's request to a peer into a Kafka request (at the version keel sends).
/// `receiver_directory_id` is the receiver's pinned directory id, or zero if not yet known.
pub fn request_from_raft(
    wire: &Wire,
    message: &Message<Data>,
    receiver_directory_id: Uuid,
) -> (RequestBody, i16) {
    let local_directory_id = wire.local_directory_id;
    let leader_endpoints = |id: NodeId| {
        wire.endpoint(id)
            .map(|(host, port)| (wire.listener_name.clone(), host, port))
            .into_iter()
    };
    match message {
        Message::VoteRequest {
            candidate_epoch,
            candidate,
            voter,
            last_epoch,
            last_offset,
            pre_vote,
            ..
        } => (
            RequestBody::Vote(VoteRequest {
                cluster_id: Some(wire.cluster_id.clone()),
                voter_id: voter.id as i32,
                topics: vec![vote_request::TopicData {
                    topic_name: METADATA_TOPIC.to_owned(),
                    partitions: vec![vote_request::PartitionData {
                        partition_index: 0,
                        replica_epoch: *candidate_epoch as i32,
                        replica_id: candidate.id as i32,
                        replica_directory_id: local_directory_id,
                        voter_directory_id: receiver_directory_id,
                        last_offset_epoch: *last_epoch as i32,
                        last_offset: *last_offset as i64,
                        pre_vote: *pre_vote,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            VOTE_VERSION,
        ),
        Message::BeginQuorumEpochRequest {
            epoch,
            leader,
            voter,
            ..
        } => (
            RequestBody::BeginQuorumEpoch(BeginQuorumEpochRequest {
                cluster_id: Some(wire.cluster_id.clone()),
                voter_id: voter.id as i32,
                topics: vec![begin_quorum_epoch_request::TopicData {
                    topic_name: METADATA_TOPIC.to_owned(),
                    partitions: vec![begin_quorum_epoch_request::PartitionData {
                        partition_index: 0,
                        voter_directory_id: receiver_directory_id,
                        leader_id: *leader as i32,
                        leader_epoch: *epoch as i32,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                leader_endpoints: leader_endpoints(*leader)
                    .map(
                        |(name, host, port)| begin_quorum_epoch_request::LeaderEndpoint {
                            name,
                            host,
                            port,
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            }),
            BEGIN_QUORUM_EPOCH_VERSION,
        ),
        Message::EndQuorumEpochRequest {
            epoch,
            leader,
            preferred_successors,
            ..
        } => (
            RequestBody::EndQuorumEpoch(EndQuorumEpochRequest {
                cluster_id: Some(wire.cluster_id.clone()),
                topics: vec![end_quorum_epoch_request::TopicData {
                    topic_name: METADATA_TOPIC.to_owned(),
                    partitions: vec![end_quorum_epoch_request::PartitionData {
                        partition_index: 0,
                        leader_id: *leader as i32,
                        leader_epoch: *epoch as i32,
                        preferred_candidates: preferred_successors
                            .iter()
                            .map(|k| end_quorum_epoch_request::ReplicaInfo {
                                candidate_id: k.id as i32,
                                candidate_directory_id: uuid(k.directory_id),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                leader_endpoints: leader_endpoints(*leader)
                    .map(
                        |(name, host, port)| end_quorum_epoch_request::LeaderEndpoint {
                            name,
                            host,
                            port,
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            }),
            END_QUORUM_EPOCH_VERSION,
        ),
        Message::FetchRequest {
            replica,
            current_leader_epoch,
            fetch_offset,
            last_fetched_epoch,
            max_wait_ms,
            max_bytes,
            ..
        } => (
            RequestBody::Fetch(FetchRequest {
                cluster_id: Some(wire.cluster_id.clone()),
                replica_state: fetch_request::ReplicaState {
                    replica_id: replica.id as i32,
                    replica_epoch: -1,
                    ..Default::default()
                },
                max_wait_ms: i32::try_from(*max_wait_ms).unwrap_or(i32::MAX),
                min_bytes: 0,
                max_bytes: *max_bytes as i32,
                session_epoch: -1,
                topics: vec![fetch_request::FetchTopic {
                    topic_id: Uuid::METADATA_TOPIC_ID,
                    partitions: vec![fetch_request::FetchPartition {
                        partition: 0,
                        current_leader_epoch: *current_leader_epoch as i32,
                        fetch_offset: *fetch_offset as i64,
                        last_fetched_epoch: *last_fetched_epoch as i32,
                        log_start_offset: -1,
                        partition_max_bytes: *max_bytes as i32,
                        replica_directory_id: local_directory_id,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            FETCH_VERSION,
        ),
        Message::FetchSnapshotRequest {
            replica,
            current_leader_epoch,
            snapshot,
            position,
            max_bytes,
            ..
        } => (
            RequestBody::FetchSnapshot(FetchSnapshotRequest {
                cluster_id: Some(wire.cluster_id.clone()),
                replica_id: replica.id as i32,
                max_bytes: *max_bytes as i32,
                topics: vec![fetch_snapshot_request::TopicSnapshot {
                    name: METADATA_TOPIC.to_owned(),
                    partitions: vec![fetch_snapshot_request::PartitionSnapshot {
                        partition: 0,
                        current_leader_epoch: *current_leader_epoch as i32,
                        snapshot_id: fetch_snapshot_request::SnapshotId {
                            end_offset: snapshot.end_offset as i64,
                            epoch: snapshot.epoch as i32,
                            ..Default::default()
                        },
                        position: *position as i64,
                        replica_directory_id: local_directory_id,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            FETCH_SNAPSHOT_VERSION,
        ),
        response => panic!("{} is a response, not a request", response.name()),
    }
}

/// What the node remembers of a request it sent, to turn the answer back into a core message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub correlation: u64,
    pub pre_vote: bool,
}

/// The fetched batches inside a Fetch response's records, as the core wants them.
pub type ParseBatches<'a> = &'a dyn Fn(Vec<u8>) -> Result<Vec<crate::raft::Batch<Data>>, String>;

/// Converts a peer's response into the core's message. `Err` means the response carries
/// nothing the core can use (a top-level error, a malformed shape); the node logs and drops it.
pub fn response_to_raft(
    response: ResponseBody,
    sent: Sent,
    parse_batches: ParseBatches<'_>,
) -> Result<Message<Data>, String> {
    let correlation = sent.correlation;
    match response {
        ResponseBody::Vote(r) => {
            let p = answered_partition(r.error_code, r.topics.into_iter().map(|t| t.partitions))?;
            Ok(Message::VoteResponse {
                correlation,
                error: raft_error(p.error_code)?,
                epoch: epoch_of(p.leader_epoch, "leader epoch")?,
                leader: leader_of(p.leader_id),
                granted: p.vote_granted,
                pre_vote: sent.pre_vote,
            })
        }
        ResponseBody::BeginQuorumEpoch(r) => {
            let p = answered_partition(r.error_code, r.topics.into_iter().map(|t| t.partitions))?;
            Ok(Message::BeginQuorumEpochResponse {
                correlation,
                error: raft_error(p.error_code)?,
                epoch: epoch_of(p.leader_epoch, "leader epoch")?,
                leader: leader_of(p.leader_id),
            })
        }
        ResponseBody::EndQuorumEpoch(r) => {
            let p = answered_partition(r.error_code, r.topics.into_iter().map(|t| t.partitions))?;
            Ok(Message::EndQuorumEpochResponse {
                correlation,
                error: raft_error(p.error_code)?,
                epoch: epoch_of(p.leader_epoch, "leader epoch")?,
                leader: leader_of(p.leader_id),
            })
        }
        ResponseBody::Fetch(r) => {
            let p =
                answered_partition(r.error_code, r.responses.into_iter().map(|t| t.partitions))?;
            let diverging = (p.diverging_epoch.epoch >= 0 && p.diverging_epoch.end_offset >= 0)
                .then_some(OffsetAndEpoch {
                    offset: p.diverging_epoch.end_offset as u64,
                    epoch: p.diverging_epoch.epoch as u32,
                });
            let snapshot =
                (p.snapshot_id.epoch >= 0 && p.snapshot_id.end_offset >= 0).then_some(SnapshotId {
                    end_offset: p.snapshot_id.end_offset as u64,
                    epoch: p.snapshot_id.epoch as u32,
                });
            let error = raft_error(p.error_code)?;
            let batches = match p.records {
                Some(bytes) if !bytes.is_empty() => parse_batches(bytes)?,
                _ => Vec::new(),
            };
            Ok(Message::FetchResponse {
                correlation,
                error,
                epoch: epoch_of(p.current_leader.leader_epoch.max(0), "leader epoch")?,
                leader: leader_of(p.current_leader.leader_id),
                high_watermark: non_negative(p.high_watermark.max(0), "high watermark")?,
                log_start_offset: non_negative(p.log_start_offset.max(0), "log start offset")?,
                diverging,
                snapshot,
                batches,
            })
        }
        ResponseBody::FetchSnapshot(r) => {
            let p = answered_partition(r.error_code, r.topics.into_iter().map(|t| t.partitions))?;
            let error = raft_error(p.error_code)?;
            Ok(Message::FetchSnapshotResponse {
                correlation,
                error,
                epoch: epoch_of(p.current_leader.leader_epoch.max(0), "leader epoch")?,
                leader: leader_of(p.current_leader.leader_id),
                snapshot: SnapshotId {
                    end_offset: non_negative(p.snapshot_id.end_offset, "snapshot end offset")?,
                    epoch: epoch_of(p.snapshot_id.epoch, "snapshot epoch")?,
                },
                size: non_negative(p.size, "snapshot size")?,
                position: non_negative(p.position, "position")?,
                chunk: (error.is_none()).then_some(Data::Chunk(p.unaligned_records)),
            })
        }
        _ => Err("not a quorum response".to_string()),
    }
}

/// The one partition of a peer's answer whose envelope is valid: no top-level error, exactly one
/// topic holding exactly one partition. (Answers come from peers keel asked for the metadata
/// partition; which topic and partition they name is not checked, as before.)
fn answered_partition<P>(
    error_code: i16,
    topics: impl Iterator<Item = Vec<P>>,
) -> Result<P, String> {
    not_refused(error_code)?;
    single(topics)
}

fn not_refused(error_code: i16) -> Result<(), String> {
    match ErrorCode::from_code(error_code) {
        Some(ErrorCode::None) => Ok(()),
        Some(error) => Err(format!("request refused: {error}")),
        None => Err(format!(
            "request refused with unknown error code {error_code}"
        )),
    }
}

/// The one partition of a one-topic response.
fn single<P>(mut topics: impl Iterator<Item = Vec<P>>) -> Result<P, String> {
    let (Some(partitions), None) = (topics.next(), topics.next()) else {
        return Err("the response does not hold exactly one topic".to_string());
    };
    let mut partitions = partitions.into_iter();
    match (partitions.next(), partitions.next()) {
        (Some(p), None) => Ok(p),
        _ => Err("the response does not hold exactly one partition".to_string()),
    }
}

#[cfg(test)]
mod tests;
