//! What keel brokers do not serve, and how they say so: the answers to Produce, Fetch,
//! ListOffsets and FindCoordinator on a client listener. Pure: no I/O, no clock, no state.
//!
//! keel brokers store no messages and coordinate no consumer groups or transactions; they serve
//! metadata (Metadata, DescribeCluster, DescribeConfigs) and the admin APIs. A Kafka user's
//! first command is nonetheless often a producer or a consumer. If a broker did not advertise
//! these APIs, clients would wait: librdkafka (kcat, confluent-kafka) logs "No viable
//! ProduceRequest ApiVersions" until `message.timeout.ms` (300 s), group consumers ask for a
//! coordinator forever. So brokers advertise them (at every version the codec has) and answer
//! every item with an error each client treats as final, and with
//! [`NOT_SERVED_MESSAGE`] wherever the version has an error message field; the one item
//! answered is a ListOffsets for the earliest or latest offset, so that a consumer gets as far
//! as its Fetch:
//!
//! | API | Error | Why this code |
//! |---|---|---|
//! | Produce | `TOPIC_AUTHORIZATION_FAILED` per partition, `ErrorMessage` (v8+) | permanent in librdkafka, kafka-python, aiokafka and kafkajs: the send fails at once; `UNSUPPORTED_VERSION`, `INVALID_REQUEST` or `POLICY_VIOLATION` are retried by some of them until the delivery timeout |
//! | ListOffsets | none for the earliest or latest offset: 0, an empty log; `TOPIC_AUTHORIZATION_FAILED` per partition for other lookups (no message field) | a consumer resetting its position must reach Fetch: aiokafka 0.14 retries every ListOffsets error forever |
//! | Fetch (v4-17; controllers serve 12-17) | `TOPIC_AUTHORIZATION_FAILED` per partition (no message field) | final everywhere: kafka-python and aiokafka raise it, librdkafka reports it as a consumer error (kcat -C exits); v4+ so that librdkafka 2.0.2 and aiokafka 0.14 (at most v11) find a version |
//! | FindCoordinator | `GROUP_AUTHORIZATION_FAILED` (groups, share groups) or `TRANSACTIONAL_ID_AUTHORIZATION_FAILED` (transactions), `ErrorMessage` (v1+) | a group consumer stops at once; `COORDINATOR_NOT_AVAILABLE`, what Kafka answers while a coordinator loads, is retried forever |
//!
//! Fetch and ListOffsets are written per topic through [`topic_service`], so that a later
//! change can serve a read-only topic (the change stream `__keel_changes`) there; today it
//! answers every topic [`TopicService::NotServed`].
//!
//! # Invariants
//!
//! - **Every item answered once, nothing decided.** Each topic and partition (each key) of the
//!   request gets one entry, in the request's order, with the refusal (or, for ListOffsets'
//!   earliest and latest, the empty log's offset); no request changes anything.
//! - **Bounded.** An answer has at most [`NOT_SERVED_ENTRIES_MAX`] entries (partitions, or
//!   coordinator keys); items past that are left out (a client sends a few thousand at most),
//!   so a request of small items cannot make a response many times its size.
//! - **Always encodable.** Fields the version lacks keep their defaults.

use crate::constants::NOT_SERVED_ENTRIES_MAX;
use crate::protocol::messages::{
    FetchRequest, FetchResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    ListOffsetsRequest, ListOffsetsResponse, ProduceRequest, ProduceResponse, fetch_response,
    find_coordinator_response, list_offsets_response, produce_response,
};
use crate::protocol::{ApiKey, ErrorCode, RequestBody};

/// The error message of every refusal, where the protocol has a message field: what keel
/// brokers serve and what they do not, in the words a user needs.
pub const NOT_SERVED_MESSAGE: &str = "keel brokers serve metadata only: no Produce, Fetch, \
     ListOffsets or consumer groups (keel stores cluster metadata, not messages); topics, \
     configs and the cluster are managed with the admin APIs";

/// The APIs of this module, which brokers advertise and refuse (see the module header).
pub const NOT_SERVED_APIS: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::FindCoordinator,
];

/// The error of a produce, fetch or list-offsets of a topic keel does not serve.
pub const TOPIC_NOT_SERVED: ErrorCode = ErrorCode::TopicAuthorizationFailed;

/// FindCoordinator key types (`FindCoordinatorRequest.KeyType`).
const COORDINATOR_KEY_TRANSACTION: i8 = 1;
/// From this version FindCoordinator carries `ErrorMessage`.
const FIND_COORDINATOR_ERROR_MESSAGE_VERSION: i16 = 1;
/// From this version FindCoordinator asks for several keys (`CoordinatorKeys`) and answers
/// each in `Coordinators`.
const FIND_COORDINATOR_BATCH_VERSION: i16 = 4;
/// From this version Produce answers carry `ErrorMessage` per partition.
const PRODUCE_ERROR_MESSAGE_VERSION: i16 = 8;
/// From this version Fetch names topics by id.
const FETCH_TOPIC_ID_VERSION: i16 = 13;

/// `ListOffsetsPartition.Timestamp` asking for the latest offset (the log end).
const LIST_OFFSETS_LATEST: i64 = -1;
/// `ListOffsetsPartition.Timestamp` asking for the earliest offset (the log start).
const LIST_OFFSETS_EARLIEST: i64 = -2;
/// The log start and end offset of a partition keel does not serve, as ListOffsets answers
/// them: keel holds no messages of it, an empty log.
pub const NOT_SERVED_LOG_END_OFFSET: i64 = 0;

/// How this broker serves a topic to Fetch and ListOffsets. One variant today; the change
/// stream will add its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicService {
    /// keel holds no messages of the topic: every partition is refused.
    NotServed,
}

/// How this broker serves the topic `name` (by name; a Fetch by id asks with `None`).
pub fn topic_service(_name: Option<&str>) -> TopicService {
    TopicService::NotServed
}

/// The Produce answer: every partition [`TOPIC_NOT_SERVED`], with [`NOT_SERVED_MESSAGE`]
/// from v8.
pub fn produce_response(request: &ProduceRequest, version: i16) -> ProduceResponse {
    let message = (version >= PRODUCE_ERROR_MESSAGE_VERSION).then(|| NOT_SERVED_MESSAGE.to_owned());
    let mut budget = NOT_SERVED_ENTRIES_MAX;
    let responses = request
        .topic_data
        .iter()
        .map_while(|topic| {
            let partitions: Vec<_> = take_budget(&mut budget, &topic.partition_data)?
                .iter()
                .map(|p| produce_response::PartitionProduceResponse {
                    index: p.index,
                    error_code: TOPIC_NOT_SERVED.code(),
                    base_offset: -1,
                    error_message: message.clone(),
                    ..Default::default()
                })
                .collect();
            Some(produce_response::TopicProduceResponse {
                name: topic.name.clone(),
                topic_id: topic.topic_id,
                partition_responses: partitions,
                ..Default::default()
            })
        })
        .collect();
    ProduceResponse {
        responses,
        throttle_time_ms: 0,
        ..Default::default()
    }
}

/// The ListOffsets answer: per topic by [`topic_service`]. A partition of a topic not served
/// is answered as the empty log keel holds of it when asked for its earliest or latest offset
/// ([`NOT_SERVED_LOG_END_OFFSET`], timestamp and leader epoch -1, `NONE`), so that a consumer
/// resetting its position reaches Fetch, which refuses it (aiokafka retries every ListOffsets
/// error forever); any other lookup (by timestamp, max timestamp, tiered offsets) is
/// [`TOPIC_NOT_SERVED`] (the response has no message field).
pub fn list_offsets_response(request: &ListOffsetsRequest, _version: i16) -> ListOffsetsResponse {
    let mut budget = NOT_SERVED_ENTRIES_MAX;
    let topics = request
        .topics
        .iter()
        .map_while(|topic| {
            let asked = take_budget(&mut budget, &topic.partitions)?;
            let partitions = match topic_service(Some(&topic.name)) {
                TopicService::NotServed => asked
                    .iter()
                    .map(|p| not_served_list_offsets(p.partition_index, p.timestamp))
                    .collect(),
            };
            Some(list_offsets_response::ListOffsetsTopicResponse {
                name: topic.name.clone(),
                partitions,
                ..Default::default()
            })
        })
        .collect();
    ListOffsetsResponse {
        throttle_time_ms: 0,
        topics,
        ..Default::default()
    }
}

/// The ListOffsets answer for one partition of a topic not served, asked for `timestamp`.
fn not_served_list_offsets(
    partition_index: i32,
    timestamp: i64,
) -> list_offsets_response::ListOffsetsPartitionResponse {
    let (error_code, offset) = match timestamp {
        LIST_OFFSETS_LATEST | LIST_OFFSETS_EARLIEST => (ErrorCode::None, NOT_SERVED_LOG_END_OFFSET),
        _ => (TOPIC_NOT_SERVED, -1),
    };
    list_offsets_response::ListOffsetsPartitionResponse {
        partition_index,
        error_code: error_code.code(),
        timestamp: -1,
        offset,
        leader_epoch: -1,
        ..Default::default()
    }
}

/// The Fetch answer of a broker to a consumer: per topic by [`topic_service`]; a topic not
/// served has every partition [`TOPIC_NOT_SERVED`], no records, high watermark and log start
/// offset -1, as Kafka answers a partition in error (an empty record set, never null:
/// librdkafka breaks on null records). Topics to forget (fetch sessions) are ignored: keel keeps no fetch sessions and
/// answers `SessionId` 0.
pub fn fetch_response(request: &FetchRequest, version: i16) -> FetchResponse {
    let mut budget = NOT_SERVED_ENTRIES_MAX;
    let responses = request
        .topics
        .iter()
        .map_while(|topic| {
            let asked = take_budget(&mut budget, &topic.partitions)?;
            let name = (version < FETCH_TOPIC_ID_VERSION).then_some(topic.topic.as_str());
            let partitions = match topic_service(name) {
                TopicService::NotServed => asked
                    .iter()
                    .map(|p| fetch_response::PartitionData {
                        partition_index: p.partition,
                        error_code: TOPIC_NOT_SERVED.code(),
                        high_watermark: -1,
                        last_stable_offset: -1,
                        log_start_offset: -1,
                        records: Some(Vec::new()),
                        ..Default::default()
                    })
                    .collect(),
            };
            Some(fetch_response::FetchableTopicResponse {
                topic: topic.topic.clone(),
                topic_id: topic.topic_id,
                partitions,
                ..Default::default()
            })
        })
        .collect();
    FetchResponse {
        throttle_time_ms: 0,
        error_code: ErrorCode::None.code(),
        session_id: 0,
        responses,
        ..Default::default()
    }
}

/// The FindCoordinator answer: no coordinator, `GROUP_AUTHORIZATION_FAILED` for a group or
/// share-group key, `TRANSACTIONAL_ID_AUTHORIZATION_FAILED` for a transactional id, with
/// [`NOT_SERVED_MESSAGE`] from v1; node id -1, empty host, port -1. v4+ answers each key of
/// `CoordinatorKeys`.
pub fn find_coordinator_response(
    request: &FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let code = coordinator_refusal(request);
    let message =
        (version >= FIND_COORDINATOR_ERROR_MESSAGE_VERSION).then(|| NOT_SERVED_MESSAGE.to_owned());
    if version >= FIND_COORDINATOR_BATCH_VERSION {
        let keys = &request.coordinator_keys;
        let answered = &keys[..keys.len().min(NOT_SERVED_ENTRIES_MAX)];
        return FindCoordinatorResponse {
            throttle_time_ms: 0,
            coordinators: answered
                .iter()
                .map(|key| find_coordinator_response::Coordinator {
                    key: key.clone(),
                    node_id: -1,
                    host: String::new(),
                    port: -1,
                    error_code: code.code(),
                    error_message: message.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
    }
    FindCoordinatorResponse {
        throttle_time_ms: 0,
        error_code: code.code(),
        error_message: message,
        node_id: -1,
        host: String::new(),
        port: -1,
        ..Default::default()
    }
}

/// How [`produce_response`], [`fetch_response`], [`list_offsets_response`] or
/// [`find_coordinator_response`] answers `request`, in words (for the log line).
pub fn answer_summary(request: &RequestBody) -> String {
    match request {
        RequestBody::FindCoordinator(r) => {
            format!("refused, each key {}", coordinator_refusal(r).name())
        }
        RequestBody::ListOffsets(_) => format!(
            "earliest and latest offsets answered {NOT_SERVED_LOG_END_OFFSET} (an empty log), \
             other lookups {}",
            TOPIC_NOT_SERVED.name()
        ),
        _ => format!("refused, each partition {}", TOPIC_NOT_SERVED.name()),
    }
}

fn coordinator_refusal(request: &FindCoordinatorRequest) -> ErrorCode {
    if request.key_type == COORDINATOR_KEY_TRANSACTION {
        ErrorCode::TransactionalIdAuthorizationFailed
    } else {
        ErrorCode::GroupAuthorizationFailed
    }
}

/// The first items of `items` that fit in what is left of `budget` (and takes them from it);
/// `None` once the budget is spent, which ends the answer.
fn take_budget<'a, T>(budget: &mut usize, items: &'a [T]) -> Option<&'a [T]> {
    if *budget == 0 {
        return None;
    }
    let taken = items.len().min(*budget);
    *budget -= taken;
    Some(&items[..taken])
}

#[cfg(test)]
mod tests;
