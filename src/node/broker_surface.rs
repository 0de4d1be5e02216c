//! The broker's client surface: the answers a broker gives real Kafka clients from its copy of
//! the metadata image: Metadata, DescribeCluster (broker endpoints) and the broker's ApiVersions
//! table. Pure: no I/O, no clock, no state; the same image, context and request always give the
//! same response.
//!
//! The broker runtime (registration, heartbeats, forwarding of controller-bound requests) calls
//! these functions with the image it has applied, the listener a request came in on and its own
//! node id ([`SurfaceContext`]). What each answer contains, field by field and version by
//! version, is in `protocol-spec/apis/Metadata.md` and `DescribeCluster.md` (section "keel");
//! where keel departs from Kafka the page says so, and so does the doc comment here.
//!
//! # Invariants
//!
//! - **Listed brokers.** A broker is *listed* on a listener when it is registered, not fenced,
//!   and has an endpoint of that listener: Kafka's `KRaftMetadataCache.getAliveBrokerNodes`. A
//!   broker in controlled shutdown is still listed, as in Kafka.
//! - **Ids clients can reach.** `ControllerId` and every partition's `LeaderId` are listed
//!   brokers, or -1. Clients send controller-bound requests to the `ControllerId` and produce to
//!   the leader; an id missing from `Brokers` only makes them wait.
//! - **Always encodable.** A response is built for the request's version: fields the version
//!   lacks keep their defaults (the codec refuses a non-default value it cannot carry, and an
//!   encode-decode round trip then gives back the very response).
//! - **Bounded work, one copy.** A Metadata answer is linear in the brokers, the topics asked
//!   for (the request, which the frame limit bounds) and the partitions answered; each topic
//!   of the image is answered at most once per request, however often it is asked for; the
//!   image is read once and copied once, into the response. There is no cap: Kafka answers a request for
//!   every topic of a million-partition cluster, and so does keel (the tests measure it).
//! - **Nothing from the network panics.** Any decoded request gets an answer; the one assertion
//!   is that the caller passes a version the codec decoded.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use crate::metadata::controller::{is_internal_topic, validate_topic_name};
use crate::metadata::image::{
    BrokerRegistration, Image, Listener, NO_LEADER, PartitionView, TopicImage,
};
use crate::protocol::messages::metadata_request::MetadataRequestTopic;
use crate::protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use crate::protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, DescribeClusterRequest, DescribeClusterResponse,
    MetadataRequest, MetadataResponse, api_versions_response, describe_cluster_response,
};
use crate::protocol::{ApiKey, ErrorCode, Uuid};

/// What a broker knows about the request besides its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SurfaceContext<'a> {
    /// The cluster id (from `meta.properties`).
    pub cluster_id: &'a str,
    /// The name of the listener the request came in on: brokers are described by their
    /// endpoint on this listener only. Matched ASCII case-insensitively, as Kafka normalises
    /// listener names to upper case.
    pub listener_name: &'a str,
    /// The answering broker's node id.
    pub broker_id: i32,
}

/// The APIs a broker serves, each at [`broker_versions`] (every version the codec supports),
/// listed by api key (the order of the ApiVersions answer); the broker's counterpart of the
/// controller's `SERVED_APIS` in `src/node/mod.rs`.
///
/// Metadata and DescribeCluster (broker endpoints) are answered from the broker's image by
/// this module; the controller-bound admin APIs (CreateTopics, DeleteTopics, CreatePartitions,
/// DescribeConfigs, AlterConfigs, IncrementalAlterConfigs) are forwarded to the active
/// controller by the runtime, and so is DescribeQuorum (as Kafka's brokers do, so that
/// `kafka-metadata-quorum.sh --bootstrap-server` works). Produce, Fetch, ListOffsets and
/// FindCoordinator are advertised and refused, each item with an error clients treat as final
/// (`super::not_served`; ListOffsets answers the earliest and latest offsets of an empty log,
/// so that a consumer reaches its refused Fetch): keel brokers hold no messages and no groups,
/// and a client that did not find these APIs would wait instead of failing. Left out: the Raft APIs, FetchSnapshot of
/// the metadata log and the broker-to-controller APIs (BrokerRegistration, BrokerHeartbeat,
/// UnregisterBroker, AlterPartition), which controllers serve.
///
/// The ranges are the codec's, which clients intersect with their own (kafka-clients.md §3):
/// kcat 1.7.1 then uses Metadata v4, CreateTopics v4, DeleteTopics v1, CreatePartitions v0 and
/// DescribeConfigs v1; confluent-kafka 2.16 and kafka-python 3.0.12 go up to Metadata v13.
/// DescribeCluster starts at v1 (the codec has no v0): kafka-python 3.0.12 fails on a v0
/// answer (kafka-clients.md §0 item 7).
pub const BROKER_SERVED_APIS: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::FindCoordinator,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::CreatePartitions,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::DescribeQuorum,
    ApiKey::DescribeCluster,
];

/// `ControllerId` when no broker can take controller-bound requests (Kafka's
/// `MetadataResponse.NO_CONTROLLER_ID`).
pub const NO_CONTROLLER: i32 = -1;

/// DescribeCluster's endpoint types (KIP-919).
pub const ENDPOINT_TYPE_BROKER: i8 = 1;
pub const ENDPOINT_TYPE_CONTROLLER: i8 = 2;

/// `TopicAuthorizedOperations` and `ClusterAuthorizedOperations` when the client did not ask.
pub const AUTHORIZED_OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;
/// What Kafka answers for a topic when no authorizer is configured: every operation a topic
/// supports (`AclEntry.supportedOperations(TOPIC)`: READ 3, WRITE 4, CREATE 5, DELETE 6,
/// ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11) as a bit field
/// (`AuthHelper.authorizedOperations`, `Utils.to32BitField`). keel has no authorization.
pub const TOPIC_AUTHORIZED_OPERATIONS_ALL: i32 =
    1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 10 | 1 << 11;
/// The same for the cluster: CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
/// DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.
pub const CLUSTER_AUTHORIZED_OPERATIONS_ALL: i32 =
    1 << 5 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12;

// Metadata: what each version adds or changes (protocol-spec/apis/Metadata.md).
/// From this version `Topics` null means every topic and empty means none (v0: empty = all).
const METADATA_NULLABLE_TOPICS_VERSION: i16 = 1;
/// From this version replicas and ISR are listed whole; v0 lists only the replicas on listed
/// brokers and flags the partition `REPLICA_NOT_AVAILABLE` (Kafka's `errorUnavailableEndpoints`).
const METADATA_UNFILTERED_REPLICAS_VERSION: i16 = 1;
const METADATA_CONTROLLER_ID_VERSION: i16 = 1;
const METADATA_RACK_VERSION: i16 = 1;
const METADATA_CLUSTER_ID_VERSION: i16 = 2;
const METADATA_OFFLINE_REPLICAS_VERSION: i16 = 5;
/// From this version a leader without an endpoint on the listener is `LISTENER_NOT_FOUND`
/// instead of `LEADER_NOT_AVAILABLE` (Kafka's `errorUnavailableListeners`).
const METADATA_LISTENER_NOT_FOUND_VERSION: i16 = 6;
const METADATA_LEADER_EPOCH_VERSION: i16 = 7;
const METADATA_TOPIC_AUTHORIZED_OPERATIONS_VERSION: i16 = 8;
const METADATA_CLUSTER_AUTHORIZED_OPERATIONS_VERSIONS: std::ops::RangeInclusive<i16> = 8..=10;
const METADATA_TOPIC_ID_VERSION: i16 = 10;
/// From this version a topic may be asked for by id, with a null name.
const METADATA_TOPIC_ID_LOOKUP_VERSION: i16 = 12;
const METADATA_TOP_LEVEL_ERROR_VERSION: i16 = 13;
/// DescribeCluster: `IncludeFencedBrokers` and `IsFenced` from this version.
const DESCRIBE_CLUSTER_FENCED_BROKERS_VERSION: i16 = 2;

/// Kafka's reserved log directory ids (`DirectoryId`): a replica in `UNASSIGNED` or `MIGRATING`
/// counts as online, one in `LOST` as offline.
const DIRECTORY_UNASSIGNED: Uuid = Uuid::ZERO;
const DIRECTORY_LOST: Uuid = Uuid::from_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const DIRECTORY_MIGRATING: Uuid =
    Uuid::from_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);

/// Every registered broker with its endpoint on one listener, by id: built once per request so
/// that each replica costs one binary search over a handful of brokers.
struct ListenerBrokers<'a> {
    by_id: Vec<BrokerOnListener<'a>>,
}

struct BrokerOnListener<'a> {
    registration: &'a BrokerRegistration,
    endpoint: Option<&'a Listener>,
}

impl BrokerOnListener<'_> {
    fn is_listed(&self) -> bool {
        !self.registration.fenced && self.endpoint.is_some()
    }
}

impl<'a> ListenerBrokers<'a> {
    fn new(image: &'a Image, listener_name: &str) -> ListenerBrokers<'a> {
        // `Image::brokers` walks the brokers in id order: `by_id` is sorted.
        let by_id: Vec<BrokerOnListener<'a>> = image
            .brokers()
            .map(|registration| BrokerOnListener {
                registration,
                endpoint: registration
                    .listeners
                    .iter()
                    .find(|l| l.name.eq_ignore_ascii_case(listener_name)),
            })
            .collect();
        assert!(
            by_id
                .windows(2)
                .all(|w| w[0].registration.id < w[1].registration.id)
        );
        ListenerBrokers { by_id }
    }

    fn get(&self, broker_id: i32) -> Option<&BrokerOnListener<'a>> {
        self.by_id
            .binary_search_by_key(&broker_id, |b| b.registration.id)
            .ok()
            .map(|index| &self.by_id[index])
    }

    fn is_listed(&self, broker_id: i32) -> bool {
        self.get(broker_id).is_some_and(BrokerOnListener::is_listed)
    }

    fn listed(&self) -> impl Iterator<Item = (&'a BrokerRegistration, &'a Listener)> + '_ {
        self.by_id.iter().filter_map(|b| match b.endpoint {
            Some(endpoint) if !b.registration.fenced => Some((b.registration, endpoint)),
            _ => None,
        })
    }

    /// The node clients send controller-bound requests to: a listed broker, which forwards
    /// them to the active controller. Kafka picks a random listed broker; keel picks, among the
    /// listed brokers not in controlled shutdown (or, if all are, among all listed brokers),
    /// the answering broker itself, else the smallest id. -1 when no broker is listed.
    fn controller_id(&self, answering_broker_id: i32) -> i32 {
        let choose = |staying_only: bool| {
            let mut eligible = self
                .listed()
                .filter(|(b, _)| !(staying_only && b.in_controlled_shutdown))
                .map(|(b, _)| b.id)
                .peekable();
            let smallest = *eligible.peek()?;
            Some(if eligible.any(|id| id == answering_broker_id) {
                answering_broker_id
            } else {
                smallest
            })
        };
        choose(true)
            .or_else(|| choose(false))
            .unwrap_or(NO_CONTROLLER)
    }
}

// ---- Metadata ----

/// The Metadata answer of a broker (Kafka's `KafkaApis.handleTopicMetadataRequest` with
/// `KRaftMetadataCache`), at `version`, the version `request` was decoded at.
///
/// - `Brokers`: the listed brokers (see the module header), by id.
/// - `ClusterId` (v2+) from `context`; `ControllerId` (v1+): a listed broker, preferring
///   those not in controlled shutdown and among them the answering one, else the smallest id;
///   -1 when none is listed.
/// - `Topics`: every topic (v0 empty list, v1+ null), none (v1+ empty), or the topics asked
///   for, once each, in the order first asked. Topics are never auto-created, whatever
///   `AllowAutoTopicCreation` says. A topic asked for by a name that is not a valid topic name
///   is `INVALID_TOPIC_EXCEPTION`, by an unknown name `UNKNOWN_TOPIC_OR_PARTITION`, by an
///   unknown id (v12+) `UNKNOWN_TOPIC_ID` with a null name.
/// - Per partition: see [`partition_entry`].
/// - v10 and v11 cannot ask by id: a request that does (or carries a null name) gets Kafka's
///   error answer (`MetadataRequest.getErrorResponse`): every topic `INVALID_REQUEST`, no
///   brokers.
pub fn metadata_response(
    image: &Image,
    context: &SurfaceContext<'_>,
    request: &MetadataRequest,
    version: i16,
) -> MetadataResponse {
    assert!(
        ApiKey::Metadata.versions().contains(&version),
        "Metadata v{version} was never decoded"
    );
    if asks_by_id_before_ids(request, version) {
        return invalid_metadata_request(request, version);
    }
    let brokers = ListenerBrokers::new(image, context.listener_name);
    let topic_operations = if version >= METADATA_TOPIC_AUTHORIZED_OPERATIONS_VERSION
        && request.include_topic_authorized_operations
    {
        TOPIC_AUTHORIZED_OPERATIONS_ALL
    } else {
        AUTHORIZED_OPERATIONS_NOT_REQUESTED
    };
    let answer = TopicAnswer {
        brokers: &brokers,
        version,
        topic_operations,
    };
    let topics = match requested_topics(request, version) {
        None => image
            .topics()
            // Kafka leaves out a topic without partitions (one whose records are still being
            // applied): `KRaftMetadataCache.getTopicMetadata` skips it.
            .filter(|topic| topic.partition_count() > 0)
            .map(|topic| answer.existing(topic))
            .collect(),
        Some(requested) => answer.requested(image, requested),
    };
    MetadataResponse {
        throttle_time_ms: 0,
        brokers: brokers
            .listed()
            .map(|(broker, endpoint)| MetadataResponseBroker {
                node_id: broker.id,
                host: endpoint.host.clone(),
                port: i32::from(endpoint.port),
                rack: if version >= METADATA_RACK_VERSION {
                    broker.rack.clone()
                } else {
                    None
                },
                ..Default::default()
            })
            .collect(),
        cluster_id: (version >= METADATA_CLUSTER_ID_VERSION).then(|| context.cluster_id.to_owned()),
        controller_id: if version >= METADATA_CONTROLLER_ID_VERSION {
            brokers.controller_id(context.broker_id)
        } else {
            NO_CONTROLLER
        },
        topics,
        cluster_authorized_operations: if METADATA_CLUSTER_AUTHORIZED_OPERATIONS_VERSIONS
            .contains(&version)
            && request.include_cluster_authorized_operations
        {
            CLUSTER_AUTHORIZED_OPERATIONS_ALL
        } else {
            AUTHORIZED_OPERATIONS_NOT_REQUESTED
        },
        error_code: ErrorCode::None.code(),
        ..Default::default()
    }
}

/// The topics asked for, or `None` for every topic.
fn requested_topics(request: &MetadataRequest, version: i16) -> Option<&[MetadataRequestTopic]> {
    match &request.topics {
        None => None,
        Some(topics) if topics.is_empty() && version < METADATA_NULLABLE_TOPICS_VERSION => None,
        Some(topics) => Some(topics),
    }
}

/// Whether a v10 or v11 request names a topic by id or leaves a name null, which only v12+
/// may do (the codec decodes both fields from v10 on).
fn asks_by_id_before_ids(request: &MetadataRequest, version: i16) -> bool {
    version < METADATA_TOPIC_ID_LOOKUP_VERSION
        && request
            .topics
            .iter()
            .flatten()
            .any(|t| t.name.is_none() || t.topic_id != Uuid::ZERO)
}

/// Kafka's answer to a Metadata request it refuses as a whole: each requested topic with
/// `INVALID_REQUEST` (a null name as the empty string), nothing else.
fn invalid_metadata_request(request: &MetadataRequest, version: i16) -> MetadataResponse {
    let code = ErrorCode::InvalidRequest.code();
    MetadataResponse {
        topics: request
            .topics
            .iter()
            .flatten()
            .map(|t| MetadataResponseTopic {
                error_code: code,
                name: Some(t.name.clone().unwrap_or_default()),
                topic_id: if version >= METADATA_TOPIC_ID_VERSION {
                    t.topic_id
                } else {
                    Uuid::ZERO
                },
                ..Default::default()
            })
            .collect(),
        error_code: if version >= METADATA_TOP_LEVEL_ERROR_VERSION {
            code
        } else {
            ErrorCode::None.code()
        },
        ..Default::default()
    }
}

/// How one request's topics are answered.
struct TopicAnswer<'b, 'a> {
    brokers: &'b ListenerBrokers<'a>,
    version: i16,
    topic_operations: i32,
}

/// One requested topic, as a key to answer it once.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TopicKey<'r> {
    Id(Uuid),
    Name(&'r str),
}

impl TopicAnswer<'_, '_> {
    fn topic_id(&self, id: Uuid) -> Uuid {
        if self.version >= METADATA_TOPIC_ID_VERSION {
            id
        } else {
            Uuid::ZERO
        }
    }

    /// The entries for the topics of a request, once each, in the order first asked. A topic
    /// of the image is answered once even when asked for by name and by id: an answer is never
    /// larger than the image plus the unknown names and ids the request itself carries.
    fn requested(
        &self,
        image: &Image,
        requested: &[MetadataRequestTopic],
    ) -> Vec<MetadataResponseTopic> {
        let mut asked_keys = BTreeSet::new();
        let mut answered_ids = BTreeSet::new();
        let mut topics = Vec::with_capacity(requested.len());
        for asked in requested {
            // v12+: a non-zero id wins over the name. Kafka looks up only the ids when any
            // topic of the request has one, and drops the name-only topics; keel answers each.
            let key = match (asked.topic_id, asked.name.as_deref()) {
                (id, _) if id != Uuid::ZERO => TopicKey::Id(id),
                (_, Some(name)) => TopicKey::Name(name),
                (id, None) => TopicKey::Id(id),
            };
            if !asked_keys.insert(key) {
                continue;
            }
            let found = match key {
                TopicKey::Id(id) => image.topic(&id),
                TopicKey::Name(name) => image.topic_by_name(name),
            };
            match (found, key) {
                (Some(topic), _) => {
                    if answered_ids.insert(topic.id()) {
                        topics.push(self.existing(topic));
                    }
                }
                (None, TopicKey::Id(id)) => topics.push(self.unknown_id(id)),
                (None, TopicKey::Name(name)) => topics.push(self.unknown_name(name)),
            }
        }
        topics
    }

    fn existing(&self, topic: &TopicImage) -> MetadataResponseTopic {
        let name = Some(topic.name().to_owned());
        if topic.partition_count() == 0 {
            // Kafka's metadata cache has no partitions to show and answers as for an unknown
            // topic, with the topic's id.
            return MetadataResponseTopic {
                error_code: ErrorCode::UnknownTopicOrPartition.code(),
                name,
                topic_id: self.topic_id(topic.id()),
                topic_authorized_operations: self.topic_operations,
                ..Default::default()
            };
        }
        let mut partitions = Vec::with_capacity(topic.partition_count() as usize);
        partitions.extend(
            topic
                .partitions()
                .map(|p| partition_entry(p, self.brokers, self.version)),
        );
        MetadataResponseTopic {
            error_code: ErrorCode::None.code(),
            name,
            topic_id: self.topic_id(topic.id()),
            is_internal: is_internal_topic(topic.name()),
            partitions,
            topic_authorized_operations: self.topic_operations,
            ..Default::default()
        }
    }

    fn unknown_name(&self, name: &str) -> MetadataResponseTopic {
        let code = match validate_topic_name(name) {
            Ok(()) => ErrorCode::UnknownTopicOrPartition,
            Err(_) => ErrorCode::InvalidTopicException,
        };
        MetadataResponseTopic {
            error_code: code.code(),
            name: Some(name.to_owned()),
            topic_id: Uuid::ZERO,
            topic_authorized_operations: self.topic_operations,
            ..Default::default()
        }
    }

    /// Kafka answers an unknown id without authorized operations (its entry is built apart).
    fn unknown_id(&self, id: Uuid) -> MetadataResponseTopic {
        MetadataResponseTopic {
            error_code: ErrorCode::UnknownTopicId.code(),
            name: None,
            topic_id: id,
            ..Default::default()
        }
    }
}

/// One partition (Kafka's `KRaftMetadataCache.getPartitionMetadata`, except for a fenced
/// leader):
///
/// - `LeaderId` is the leader when it is listed. A leader that is not registered (or
///   [`NO_LEADER`]) or fenced is reported as -1 with `LEADER_NOT_AVAILABLE`; one that is
///   registered and unfenced but has no endpoint on the listener as -1 with
///   `LEADER_NOT_AVAILABLE` before v6 and `LISTENER_NOT_FOUND` from v6. (Kafka reports a fenced
///   leader as the leader; its controller never leaves one in place, nor does keel's, so only
///   an image read between the records of one batch could show it, and -1 keeps every
///   `LeaderId` a listed broker.)
/// - `LeaderEpoch` (v7+) is the partition's, with or without a leader.
/// - `ReplicaNodes` and `IsrNodes` as in the image; v0 lists only those on listed brokers and,
///   when some are missing and the leader is available, flags `REPLICA_NOT_AVAILABLE`.
/// - `OfflineReplicas` (v5+): replicas on brokers that are not registered, fenced, without an
///   endpoint on the listener, or whose assigned log directory is not among the broker's
///   online ones (Kafka's `getOfflineReplicas`).
fn partition_entry(
    partition: PartitionView<'_>,
    brokers: &ListenerBrokers<'_>,
    version: i16,
) -> MetadataResponsePartition {
    let replicas = partition.replicas();
    let isr = partition.isr();
    let (replica_nodes, isr_nodes, replicas_missing) =
        if version < METADATA_UNFILTERED_REPLICAS_VERSION {
            let listed = |ids: &[i32]| -> Vec<i32> {
                ids.iter()
                    .copied()
                    .filter(|&id| brokers.is_listed(id))
                    .collect()
            };
            let (replica_nodes, isr_nodes) = (listed(replicas), listed(isr));
            let missing = replica_nodes.len() < replicas.len() || isr_nodes.len() < isr.len();
            (replica_nodes, isr_nodes, missing)
        } else {
            (replicas.to_vec(), isr.to_vec(), false)
        };
    let (error, leader_id) = match leader_error(partition.leader(), brokers, version) {
        Some(error) => (error, NO_LEADER),
        None if replicas_missing => (ErrorCode::ReplicaNotAvailable, partition.leader()),
        None => (ErrorCode::None, partition.leader()),
    };
    MetadataResponsePartition {
        error_code: error.code(),
        partition_index: partition.partition_id(),
        leader_id,
        leader_epoch: if version >= METADATA_LEADER_EPOCH_VERSION {
            partition.leader_epoch()
        } else {
            -1
        },
        replica_nodes,
        isr_nodes,
        offline_replicas: if version >= METADATA_OFFLINE_REPLICAS_VERSION {
            offline_replicas(partition, brokers)
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// Why the partition's leader cannot be given to the client, if it cannot.
fn leader_error(leader: i32, brokers: &ListenerBrokers<'_>, version: i16) -> Option<ErrorCode> {
    match brokers.get(leader) {
        None => Some(ErrorCode::LeaderNotAvailable),
        Some(b) if b.registration.fenced => Some(ErrorCode::LeaderNotAvailable),
        Some(b) if b.endpoint.is_none() => {
            Some(if version >= METADATA_LISTENER_NOT_FOUND_VERSION {
                ErrorCode::ListenerNotFound
            } else {
                ErrorCode::LeaderNotAvailable
            })
        }
        Some(_) => None,
    }
}

/// The replicas clients cannot reach on this listener (see [`partition_entry`]). Allocates
/// nothing when there are none, which is almost always.
fn offline_replicas(partition: PartitionView<'_>, brokers: &ListenerBrokers<'_>) -> Vec<i32> {
    let directories = &partition.extras().directories;
    partition
        .replicas()
        .iter()
        .enumerate()
        .filter(|&(index, &id)| {
            let Some(broker) = brokers.get(id).filter(|b| b.is_listed()) else {
                return true;
            };
            // Replicas and directories are parallel lists (when directories are assigned).
            directories
                .get(index)
                .is_some_and(|&directory| !directory_online(broker.registration, directory))
        })
        .map(|(_, &id)| id)
        .collect()
}

/// Kafka's `DirectoryId.isOnline`: unassigned and migrating replicas count as online, lost ones
/// as offline; a broker that reported no directories is assumed to have them all online.
fn directory_online(broker: &BrokerRegistration, directory: Uuid) -> bool {
    if directory == DIRECTORY_UNASSIGNED || directory == DIRECTORY_MIGRATING {
        return true;
    }
    if directory == DIRECTORY_LOST {
        return false;
    }
    broker.log_dirs.is_empty() || broker.log_dirs.contains(&directory)
}

// ---- DescribeCluster ----

/// The DescribeCluster answer of a broker (Kafka's `KafkaApis.handleDescribeCluster` and
/// `AuthHelper.computeDescribeClusterResponse`), at `version` (1 or 2).
///
/// Endpoint type 1 (brokers): `Brokers` are the listed brokers as in Metadata, plus, when a v2
/// request sets `IncludeFencedBrokers`, the fenced brokers that have an endpoint on the
/// listener (with `IsFenced`); `ControllerId` as in Metadata (never a fenced broker);
/// `ClusterAuthorizedOperations` every cluster operation when asked for (keel has no
/// authorization), else INT32_MIN. Other endpoint types: see [`describe_cluster_refusal`].
pub fn describe_cluster_response(
    image: &Image,
    context: &SurfaceContext<'_>,
    request: &DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    assert!(
        ApiKey::DescribeCluster.versions().contains(&version),
        "DescribeCluster v{version} was never decoded"
    );
    if let Some(refusal) =
        describe_cluster_refusal(request, ENDPOINT_TYPE_BROKER, context.cluster_id)
    {
        return refusal;
    }
    let brokers = ListenerBrokers::new(image, context.listener_name);
    let with_fenced =
        version >= DESCRIBE_CLUSTER_FENCED_BROKERS_VERSION && request.include_fenced_brokers;
    DescribeClusterResponse {
        throttle_time_ms: 0,
        error_code: ErrorCode::None.code(),
        error_message: None,
        endpoint_type: ENDPOINT_TYPE_BROKER,
        cluster_id: context.cluster_id.to_owned(),
        controller_id: brokers.controller_id(context.broker_id),
        brokers: brokers
            .by_id
            .iter()
            .filter(|b| !b.registration.fenced || with_fenced)
            .filter_map(|b| {
                let endpoint = b.endpoint?;
                Some(describe_cluster_response::DescribeClusterBroker {
                    broker_id: b.registration.id,
                    host: endpoint.host.clone(),
                    port: i32::from(endpoint.port),
                    rack: b.registration.rack.clone(),
                    is_fenced: version >= DESCRIBE_CLUSTER_FENCED_BROKERS_VERSION
                        && b.registration.fenced,
                    ..Default::default()
                })
            })
            .collect(),
        cluster_authorized_operations: if request.include_cluster_authorized_operations {
            CLUSTER_AUTHORIZED_OPERATIONS_ALL
        } else {
            AUTHORIZED_OPERATIONS_NOT_REQUESTED
        },
        ..Default::default()
    }
}

/// The answer of a node serving `served_endpoint_type` to a DescribeCluster request for
/// another endpoint type, or `None` when it asks for `served_endpoint_type`. Shared by brokers
/// (type 1) and controllers (type 2), as in Kafka (`AuthHelper.computeDescribeClusterResponse`):
///
/// - a type that is neither 1 nor 2: `UNSUPPORTED_ENDPOINT_TYPE`;
/// - the other known type: `MISMATCHED_ENDPOINT_TYPE` (a broker asked for controllers, a
///   controller asked for brokers).
///
/// The answer carries the cluster id and echoes the requested endpoint type, as keel's
/// controllers do (Kafka leaves both at their defaults, `""` and 1).
pub fn describe_cluster_refusal(
    request: &DescribeClusterRequest,
    served_endpoint_type: i8,
    cluster_id: &str,
) -> Option<DescribeClusterResponse> {
    assert!(matches!(
        served_endpoint_type,
        ENDPOINT_TYPE_BROKER | ENDPOINT_TYPE_CONTROLLER
    ));
    let requested = request.endpoint_type;
    let (code, message) = match requested {
        ENDPOINT_TYPE_BROKER | ENDPOINT_TYPE_CONTROLLER if requested == served_endpoint_type => {
            return None;
        }
        ENDPOINT_TYPE_BROKER | ENDPOINT_TYPE_CONTROLLER => (
            ErrorCode::MismatchedEndpointType,
            format!(
                "this node serves endpoint type {served_endpoint_type} ({}), not {requested} ({})",
                endpoint_type_name(served_endpoint_type),
                endpoint_type_name(requested)
            ),
        ),
        _ => (
            ErrorCode::UnsupportedEndpointType,
            format!(
                "unsupported endpoint type {requested}: {ENDPOINT_TYPE_BROKER} (brokers) or \
                 {ENDPOINT_TYPE_CONTROLLER} (controllers)"
            ),
        ),
    };
    Some(DescribeClusterResponse {
        error_code: code.code(),
        error_message: Some(message),
        endpoint_type: requested,
        cluster_id: cluster_id.to_owned(),
        ..Default::default()
    })
}

fn endpoint_type_name(endpoint_type: i8) -> &'static str {
    match endpoint_type {
        ENDPOINT_TYPE_BROKER => "brokers",
        ENDPOINT_TYPE_CONTROLLER => "controllers",
        _ => "unknown",
    }
}

// ---- ApiVersions ----

/// The versions a broker serves `api` at, on a client listener: every version the codec has
/// (for Fetch 4-17, Kafka 4.0's range, although controllers serve only 12-17, the versions KRaft
/// uses: consumers that speak at most v11, such as librdkafka 2.0.2 and aiokafka 0.14, must
/// find a version to be refused at, or they wait). The broker's counterpart of the
/// controller's `controller_versions` in `src/node/mod.rs`.
pub fn broker_versions(api: ApiKey) -> RangeInclusive<i16> {
    api.versions()
}

/// The ApiVersions answer of a node serving `served_apis` (in the order given), each at
/// `versions(api)`: [`BROKER_SERVED_APIS`] at [`broker_versions`] for a broker.
/// `INVALID_REQUEST` when `ClientSoftwareName` or `ClientSoftwareVersion` (v3+) do not match
/// Kafka's pattern `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?` (empty, as in v0-v2, passes).
/// The same rules as the controller's answer in `src/node/mod.rs`, which calls this with its
/// `SERVED_APIS` and `controller_versions`.
pub fn api_versions_response(
    served_apis: &[ApiKey],
    versions: fn(ApiKey) -> RangeInclusive<i16>,
    request: &ApiVersionsRequest,
) -> ApiVersionsResponse {
    if !valid_client_software(&request.client_software_name)
        || !valid_client_software(&request.client_software_version)
    {
        return ApiVersionsResponse {
            error_code: ErrorCode::InvalidRequest.code(),
            ..Default::default()
        };
    }
    ApiVersionsResponse {
        error_code: ErrorCode::None.code(),
        api_keys: served_apis
            .iter()
            .map(|&api| {
                let served = versions(api);
                api_versions_response::ApiVersion {
                    api_key: api as i16,
                    min_version: *served.start(),
                    max_version: *served.end(),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    }
}

/// Kafka's `ApiVersionsRequest.isValid` pattern for the client's software name and version.
fn valid_client_software(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return true;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.')
}

#[cfg(test)]
mod tests;
