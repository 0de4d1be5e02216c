//! The wire form of the ten controller APIs: Kafka request bodies to the quorum controller's
//! own request types ([`crate::metadata::controller`]), its replies back to response bodies at
//! the request's version, and the answer for a request the controller cannot take at all.
//! Pure: no I/O, no clock, no state.
//!
//! The APIs: BrokerRegistration, BrokerHeartbeat, UnregisterBroker, AlterPartition,
//! CreateTopics, DeleteTopics, CreatePartitions, IncrementalAlterConfigs, AlterConfigs,
//! DescribeConfigs. Every other request body (Metadata included, which brokers serve) is not
//! this module's: [`request_from_wire`] returns `None` for it.
//!
//! # Invariants
//!
//! - **One answer per item, in request order.** Every topic, partition or resource of a
//!   request gets exactly one entry in its response, in the order the request named them
//!   (Kafka's controller sends some in another order; clients match entries by name).
//! - **Wire rejections.** A few items Kafka refuses before its controller sees them, for
//!   reasons keel's controller types cannot express (a DeleteTopics v6 entry with both or
//!   neither of name and id; an unknown config resource type; an unknown
//!   IncrementalAlterConfigs operation or a null value for one that needs a value). They are
//!   left out of the [`ControllerRequest`], so the controller neither sees them nor counts them
//!   as duplicates, and [`response_to_wire`] finds them again from the original request (the
//!   rules are pure functions of the request), answering each with its error and taking the
//!   controller's results, in order, for the others. A reply with more or fewer results than
//!   the items the controller was given is a bug: asserted.
//! - **Always encodable.** A response is built for the request's version: fields the version
//!   lacks keep their defaults (the codec refuses a non-default value it cannot carry) and
//!   error messages are cut to the wire's string limit (a message may quote request text).
//! - **Nothing from the network panics.** Any decoded request converts; conversions are
//!   linear in the request (which the frame limit bounds), and allocate nothing else.
//!
//! # Dropped and defaulted
//!
//! Throttle times are 0 (keel has no quotas). `timeoutMs` (CreateTopics, DeleteTopics,
//! CreatePartitions) is not part of the controller's decision; [`request_timeout_ms`] hands it
//! to whoever keeps the deadline. The rest, per API, is listed in the spec pages
//! (`protocol-spec/apis/*.md`, section "keel").

use crate::constants::WIRE_STRING_BYTES_MAX;
use crate::metadata::configs::{self, ConfigType};
use crate::metadata::controller::{self, AlterConfigOp, ApiError, TopicRef};
use crate::metadata::image::{
    ConfigResource, Listener, RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_CLIENT_METRICS,
    RESOURCE_GROUP, RESOURCE_TOPIC, SupportedFeature,
};
use crate::protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, AlterPartitionRequest, AlterPartitionResponse,
    BrokerHeartbeatResponse, BrokerRegistrationRequest, BrokerRegistrationResponse,
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, UnregisterBrokerResponse,
    alter_configs_request, alter_configs_response, alter_partition_response,
    create_partitions_response, create_topics_response, delete_topics_request,
    delete_topics_response, describe_configs_response, incremental_alter_configs_request,
    incremental_alter_configs_response,
};
use crate::protocol::{ErrorCode, RequestBody, ResponseBody, Uuid};

/// AlterPartition: topics by id instead of name from this version (KIP-841).
const ALTER_PARTITION_TOPIC_ID_VERSION: i16 = 2;
/// AlterPartition: ISR members with broker epochs from this version (KIP-903).
const ALTER_PARTITION_ISR_EPOCHS_VERSION: i16 = 3;
/// AlterPartition: the first version whose partitions may carry `INELIGIBLE_REPLICA` and
/// `NEW_LEADER_ELECTED`; older leaders get `OPERATION_NOT_ATTEMPTED` and
/// `FENCED_LEADER_EPOCH` instead, as Kafka's controller answers them.
const ALTER_PARTITION_NEW_ERRORS_VERSION: i16 = 2;
/// DeleteTopics: topics by name or id (`Topics`) instead of `TopicNames` from this version.
const DELETE_TOPICS_BY_ID_VERSION: i16 = 6;
/// CreateTopics: the response carries the topic's resulting shape and configs from here.
const CREATE_TOPICS_RESULT_DETAILS_VERSION: i16 = 5;
/// DescribeConfigs: entries carry `ConfigType` from this version.
const DESCRIBE_CONFIGS_TYPE_VERSION: i16 = 3;

/// A controller request decoded from its wire form.
#[derive(Clone, Debug, PartialEq)]
pub enum ControllerRequest {
    RegisterBroker(controller::BrokerRegistrationRequest),
    Heartbeat(controller::BrokerHeartbeatRequest),
    UnregisterBroker { broker_id: i32 },
    AlterPartition(controller::AlterPartitionRequest),
    CreateTopics(controller::CreateTopicsRequest),
    DeleteTopics(controller::DeleteTopicsRequest),
    CreatePartitions(controller::CreatePartitionsRequest),
    IncrementalAlterConfigs(controller::IncrementalAlterConfigsRequest),
    AlterConfigs(controller::AlterConfigsRequest),
    DescribeConfigs(controller::DescribeConfigsRequest),
}

/// The controller's answer, to be encoded for the request's version.
#[derive(Clone, Debug, PartialEq)]
pub enum ControllerReply {
    RegisterBroker(controller::BrokerRegistrationReply),
    Heartbeat(controller::BrokerHeartbeatReply),
    UnregisterBroker(controller::UnregisterBrokerReply),
    AlterPartition(controller::AlterPartitionReply),
    CreateTopics(controller::CreateTopicsReply),
    DeleteTopics(controller::DeleteTopicsReply),
    CreatePartitions(controller::CreatePartitionsReply),
    /// The answer to IncrementalAlterConfigs and to AlterConfigs.
    AlterConfigs(controller::AlterConfigsReply),
    DescribeConfigs(controller::DescribeConfigsReply),
}

/// `Some(..)` for the ten controller APIs, `None` for any other request body. `Err(response)`
/// when the request is invalid in a way Kafka answers with an error response before its
/// controller decides anything: the response to send. Items Kafka refuses one by one are
/// left out of the request instead (see the module header) and answered by
/// [`response_to_wire`].
///
/// `version` is the version the body was decoded at.
pub fn request_from_wire(
    body: &RequestBody,
    version: i16,
) -> Option<Result<ControllerRequest, ResponseBody>> {
    let request = match body {
        RequestBody::BrokerRegistration(r) => return Some(broker_registration(r)),
        RequestBody::BrokerHeartbeat(r) => {
            // OfflineLogDirs (v1) is dropped: keel does not move leadership off failed log
            // directories (KIP-858).
            ControllerRequest::Heartbeat(controller::BrokerHeartbeatRequest {
                broker_id: r.broker_id,
                broker_epoch: r.broker_epoch,
                current_metadata_offset: r.current_metadata_offset,
                want_fence: r.want_fence,
                want_shutdown: r.want_shut_down,
            })
        }
        RequestBody::UnregisterBroker(r) => ControllerRequest::UnregisterBroker {
            broker_id: r.broker_id,
        },
        RequestBody::AlterPartition(r) => {
            ControllerRequest::AlterPartition(alter_partition(r, version))
        }
        RequestBody::CreateTopics(r) => ControllerRequest::CreateTopics(create_topics(r)),
        RequestBody::DeleteTopics(r) => ControllerRequest::DeleteTopics(delete_topics(r, version)),
        RequestBody::CreatePartitions(r) => {
            ControllerRequest::CreatePartitions(create_partitions(r))
        }
        RequestBody::IncrementalAlterConfigs(r) => {
            ControllerRequest::IncrementalAlterConfigs(incremental_alter_configs(r))
        }
        RequestBody::AlterConfigs(r) => ControllerRequest::AlterConfigs(alter_configs(r)),
        RequestBody::DescribeConfigs(r) => ControllerRequest::DescribeConfigs(describe_configs(r)),
        // Listed one by one, so that a new request body needs a decision here.
        RequestBody::Fetch(_)
        | RequestBody::Produce(_)
        | RequestBody::ListOffsets(_)
        | RequestBody::FindCoordinator(_)
        | RequestBody::Metadata(_)
        | RequestBody::ApiVersions(_)
        | RequestBody::Vote(_)
        | RequestBody::BeginQuorumEpoch(_)
        | RequestBody::EndQuorumEpoch(_)
        | RequestBody::DescribeQuorum(_)
        | RequestBody::FetchSnapshot(_)
        | RequestBody::DescribeCluster(_) => return None,
    };
    Some(Ok(request))
}

/// The wire response for `reply` at `version`. `request` is the original body, for whatever
/// the response must echo that the reply does not carry, and for the items that never reached
/// the controller (see the module header).
///
/// Panics if `reply` does not answer `request` (another API, or another number of items): the
/// caller paired them wrongly.
pub fn response_to_wire(
    request: &RequestBody,
    version: i16,
    reply: ControllerReply,
) -> ResponseBody {
    match (request, reply) {
        (RequestBody::BrokerRegistration(_), ControllerReply::RegisterBroker(reply)) => {
            ResponseBody::BrokerRegistration(BrokerRegistrationResponse {
                throttle_time_ms: 0,
                error_code: reply.error.code.code(),
                broker_epoch: reply.broker_epoch,
                ..Default::default()
            })
        }
        (RequestBody::BrokerHeartbeat(_), ControllerReply::Heartbeat(reply)) => {
            // `in_controlled_shutdown` has no field: the broker learns it from the metadata log.
            ResponseBody::BrokerHeartbeat(BrokerHeartbeatResponse {
                throttle_time_ms: 0,
                error_code: reply.error.code.code(),
                is_caught_up: reply.is_caught_up,
                is_fenced: reply.is_fenced,
                should_shut_down: reply.should_shut_down,
                ..Default::default()
            })
        }
        (RequestBody::UnregisterBroker(_), ControllerReply::UnregisterBroker(reply)) => {
            ResponseBody::UnregisterBroker(UnregisterBrokerResponse {
                throttle_time_ms: 0,
                error_code: reply.error.code.code(),
                error_message: message_of(&reply.error),
                ..Default::default()
            })
        }
        (RequestBody::AlterPartition(request), ControllerReply::AlterPartition(reply)) => {
            ResponseBody::AlterPartition(alter_partition_response(request, version, reply))
        }
        (RequestBody::CreateTopics(request), ControllerReply::CreateTopics(reply)) => {
            ResponseBody::CreateTopics(create_topics_response(request, version, reply))
        }
        (RequestBody::DeleteTopics(request), ControllerReply::DeleteTopics(reply)) => {
            ResponseBody::DeleteTopics(delete_topics_response(request, version, reply))
        }
        (RequestBody::CreatePartitions(request), ControllerReply::CreatePartitions(reply)) => {
            ResponseBody::CreatePartitions(create_partitions_response(request, reply))
        }
        (RequestBody::IncrementalAlterConfigs(request), ControllerReply::AlterConfigs(reply)) => {
            ResponseBody::IncrementalAlterConfigs(incremental_alter_configs_response(
                request, reply,
            ))
        }
        (RequestBody::AlterConfigs(request), ControllerReply::AlterConfigs(reply)) => {
            ResponseBody::AlterConfigs(alter_configs_response(request, reply))
        }
        (RequestBody::DescribeConfigs(request), ControllerReply::DescribeConfigs(reply)) => {
            ResponseBody::DescribeConfigs(describe_configs_response(request, version, reply))
        }
        (request, reply) => panic!(
            "a {} reply cannot answer a {} request",
            reply_name(&reply),
            request.api_key().name()
        ),
    }
}

/// The response Kafka's controller gives when it cannot handle the request at all (its
/// `getErrorResponse`): every topic, partition or resource of the request answered with
/// `code`, and `message` where the version has a message field; the top-level error field for
/// the APIs that have one instead (AlterPartition, BrokerRegistration, BrokerHeartbeat,
/// UnregisterBroker).
///
/// The codes Kafka's `QuorumController` uses for such failures (`EventHandlerExceptionInfo`):
/// `NOT_CONTROLLER` when leadership is lost or the node is not the active controller (no
/// leader hint: controller responses have no field for one), `REQUEST_TIMED_OUT` when the
/// request's deadline passes or the controller is shutting down, and `UNKNOWN_SERVER_ERROR`
/// for anything else, which includes a log that refuses the append (Kafka has no distinct
/// code for that backpressure; `THROTTLING_QUOTA_EXCEEDED` is for client quotas and only
/// some versions may carry it).
///
/// Panics for a request body that is not a controller API (one [`request_from_wire`] returns
/// `None` for).
pub fn error_response(
    request: &RequestBody,
    version: i16,
    code: ErrorCode,
    message: Option<&str>,
) -> ResponseBody {
    let error = ApiError {
        code,
        message: message.map(str::to_owned),
    };
    let error_code = code.code();
    match request {
        RequestBody::BrokerRegistration(_) => {
            ResponseBody::BrokerRegistration(BrokerRegistrationResponse {
                throttle_time_ms: 0,
                error_code,
                broker_epoch: -1,
                ..Default::default()
            })
        }
        RequestBody::BrokerHeartbeat(_) => ResponseBody::BrokerHeartbeat(BrokerHeartbeatResponse {
            throttle_time_ms: 0,
            error_code,
            is_caught_up: false,
            is_fenced: true,
            should_shut_down: false,
            ..Default::default()
        }),
        RequestBody::UnregisterBroker(_) => {
            ResponseBody::UnregisterBroker(UnregisterBrokerResponse {
                throttle_time_ms: 0,
                error_code,
                error_message: message_of(&error),
                ..Default::default()
            })
        }
        RequestBody::AlterPartition(_) => ResponseBody::AlterPartition(AlterPartitionResponse {
            throttle_time_ms: 0,
            error_code,
            topics: Vec::new(),
            ..Default::default()
        }),
        RequestBody::CreateTopics(r) => ResponseBody::CreateTopics(CreateTopicsResponse {
            throttle_time_ms: 0,
            topics: r
                .topics
                .iter()
                .map(|t| failed_topic(&t.name, &error))
                .collect(),
            ..Default::default()
        }),
        RequestBody::DeleteTopics(r) => {
            let responses = if version >= DELETE_TOPICS_BY_ID_VERSION {
                r.topics
                    .iter()
                    .map(|t| deletable(t.name.clone(), t.topic_id, &error))
                    .collect()
            } else {
                r.topic_names
                    .iter()
                    .map(|name| deletable(Some(name.clone()), Uuid::ZERO, &error))
                    .collect()
            };
            ResponseBody::DeleteTopics(DeleteTopicsResponse {
                throttle_time_ms: 0,
                responses,
                ..Default::default()
            })
        }
        RequestBody::CreatePartitions(r) => {
            ResponseBody::CreatePartitions(CreatePartitionsResponse {
                throttle_time_ms: 0,
                results: r
                    .topics
                    .iter()
                    .map(|t| partitions_result(&t.name, &error))
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::IncrementalAlterConfigs(r) => {
            ResponseBody::IncrementalAlterConfigs(IncrementalAlterConfigsResponse {
                throttle_time_ms: 0,
                responses: r
                    .resources
                    .iter()
                    .map(|res| incremental_result(res.resource_type, &res.resource_name, &error))
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::AlterConfigs(r) => ResponseBody::AlterConfigs(AlterConfigsResponse {
            throttle_time_ms: 0,
            responses: r
                .resources
                .iter()
                .map(|res| legacy_result(res.resource_type, &res.resource_name, &error))
                .collect(),
            ..Default::default()
        }),
        RequestBody::DescribeConfigs(r) => ResponseBody::DescribeConfigs(DescribeConfigsResponse {
            throttle_time_ms: 0,
            results: r
                .resources
                .iter()
                .map(|res| describe_result(res.resource_type, &res.resource_name, &error))
                .collect(),
            ..Default::default()
        }),
        RequestBody::Fetch(_)
        | RequestBody::Produce(_)
        | RequestBody::ListOffsets(_)
        | RequestBody::FindCoordinator(_)
        | RequestBody::Metadata(_)
        | RequestBody::ApiVersions(_)
        | RequestBody::Vote(_)
        | RequestBody::BeginQuorumEpoch(_)
        | RequestBody::EndQuorumEpoch(_)
        | RequestBody::DescribeQuorum(_)
        | RequestBody::FetchSnapshot(_)
        | RequestBody::DescribeCluster(_) => panic!(
            "{} is not a controller API: it has no controller error response",
            request.api_key().name()
        ),
    }
}

/// The request's own time limit in milliseconds where the API has one (`timeoutMs` of
/// CreateTopics, DeleteTopics and CreatePartitions), `None` for the other APIs. Kafka's
/// controller takes it as the request's deadline (now plus the value, so 0 or less has
/// already passed) and answers `REQUEST_TIMED_OUT` for an operation not done by then.
pub fn request_timeout_ms(body: &RequestBody) -> Option<i32> {
    match body {
        RequestBody::CreateTopics(r) => Some(r.timeout_ms),
        RequestBody::DeleteTopics(r) => Some(r.timeout_ms),
        RequestBody::CreatePartitions(r) => Some(r.timeout_ms),
        _ => None,
    }
}

// ---- Requests ----

fn broker_registration(r: &BrokerRegistrationRequest) -> Result<ControllerRequest, ResponseBody> {
    // Kafka 4.x refuses a ZooKeeper-mode broker before anything else is decided
    // (`ClusterControlManager.registerBroker`: "Controller does not support registering ZK
    // brokers."); the response has no message field.
    if r.is_migrating_zk_broker {
        return Err(ResponseBody::BrokerRegistration(
            BrokerRegistrationResponse {
                throttle_time_ms: 0,
                error_code: ErrorCode::BrokerIdNotRegistered.code(),
                broker_epoch: -1,
                ..Default::default()
            },
        ));
    }
    // PreviousBrokerEpoch (v3+) is dropped: Kafka's controller only logs whether the previous
    // shutdown was clean (KIP-966's use of it is future work there as well).
    Ok(ControllerRequest::RegisterBroker(
        controller::BrokerRegistrationRequest {
            broker_id: r.broker_id,
            cluster_id: r.cluster_id.clone(),
            incarnation_id: r.incarnation_id,
            listeners: r
                .listeners
                .iter()
                .map(|l| Listener {
                    name: l.name.clone(),
                    host: l.host.clone(),
                    port: l.port,
                    security_protocol: l.security_protocol,
                })
                .collect(),
            features: r
                .features
                .iter()
                .map(|f| SupportedFeature {
                    name: f.name.clone(),
                    min_supported: f.min_supported_version,
                    max_supported: f.max_supported_version,
                })
                .collect(),
            rack: r.rack.clone(),
            log_dirs: r.log_dirs.clone(),
        },
    ))
}

fn alter_partition(r: &AlterPartitionRequest, version: i16) -> controller::AlterPartitionRequest {
    controller::AlterPartitionRequest {
        broker_id: r.broker_id,
        broker_epoch: r.broker_epoch,
        topics: r
            .topics
            .iter()
            .map(|t| controller::AlterPartitionTopic {
                topic: if version >= ALTER_PARTITION_TOPIC_ID_VERSION {
                    TopicRef::Id(t.topic_id)
                } else {
                    TopicRef::Name(t.topic_name.clone())
                },
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| controller::AlterPartitionItem {
                        partition_index: p.partition_index,
                        leader_epoch: p.leader_epoch,
                        new_isr: if version >= ALTER_PARTITION_ISR_EPOCHS_VERSION {
                            p.new_isr_with_epochs
                                .iter()
                                .map(|m| controller::IsrMember {
                                    broker_id: m.broker_id,
                                    broker_epoch: m.broker_epoch,
                                })
                                .collect()
                        } else {
                            // No epochs before v3: -1 skips the check, as in Kafka.
                            p.new_isr
                                .iter()
                                .map(|&broker_id| controller::IsrMember {
                                    broker_id,
                                    broker_epoch: -1,
                                })
                                .collect()
                        },
                        // v0 has no field; it decodes as 0 (recovered), Kafka's default.
                        leader_recovery_state: p.leader_recovery_state,
                        partition_epoch: p.partition_epoch,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn create_topics(r: &CreateTopicsRequest) -> controller::CreateTopicsRequest {
    controller::CreateTopicsRequest {
        topics: r
            .topics
            .iter()
            .map(|t| controller::CreatableTopic {
                name: t.name.clone(),
                num_partitions: t.num_partitions,
                replication_factor: t.replication_factor,
                assignments: t
                    .assignments
                    .iter()
                    .map(|a| (a.partition_index, a.broker_ids.clone()))
                    .collect(),
                configs: t
                    .configs
                    .iter()
                    .map(|c| (c.name.clone(), c.value.clone()))
                    .collect(),
            })
            .collect(),
        validate_only: r.validate_only,
    }
}

/// Why Kafka refuses a DeleteTopics v6 entry before looking the topic up, if it does.
fn delete_rejection(t: &delete_topics_request::DeleteTopicState) -> Option<ApiError> {
    match (&t.name, t.topic_id == Uuid::ZERO) {
        (None, true) => Some(ApiError::new(
            ErrorCode::InvalidRequest,
            "Neither topic name nor id were specified.",
        )),
        (Some(_), false) => Some(ApiError::new(
            ErrorCode::InvalidRequest,
            "You may not specify both topic name and topic id.",
        )),
        _ => None,
    }
}

fn delete_topics(r: &DeleteTopicsRequest, version: i16) -> controller::DeleteTopicsRequest {
    let topics = if version >= DELETE_TOPICS_BY_ID_VERSION {
        r.topics
            .iter()
            .filter(|t| delete_rejection(t).is_none())
            .map(|t| match &t.name {
                Some(name) => TopicRef::Name(name.clone()),
                None => TopicRef::Id(t.topic_id),
            })
            .collect()
    } else {
        r.topic_names.iter().cloned().map(TopicRef::Name).collect()
    };
    controller::DeleteTopicsRequest { topics }
}

fn create_partitions(r: &CreatePartitionsRequest) -> controller::CreatePartitionsRequest {
    controller::CreatePartitionsRequest {
        topics: r
            .topics
            .iter()
            .map(|t| controller::CreatePartitionsTopic {
                name: t.name.clone(),
                count: t.count,
                // Null and an empty list differ, as in Kafka: an empty list assigns nothing and
                // is refused unless no partition is added.
                assignments: t
                    .assignments
                    .as_ref()
                    .map(|a| a.iter().map(|p| p.broker_ids.clone()).collect()),
            })
            .collect(),
        validate_only: r.validate_only,
    }
}

/// A resource type Kafka knows (`ConfigResource.Type`). Kafka answers a resource of any other
/// type with `UNSUPPORTED_VERSION` before its controller sees it; a known type keel does not
/// manage gets the controller's `INVALID_REQUEST`.
fn known_resource_type(resource_type: i8) -> bool {
    matches!(
        resource_type,
        RESOURCE_TOPIC
            | RESOURCE_BROKER
            | RESOURCE_BROKER_LOGGER
            | RESOURCE_CLIENT_METRICS
            | RESOURCE_GROUP
    )
}

fn unknown_resource_type(resource_type: i8) -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedVersion,
        format!("Unknown resource type {resource_type}."),
    )
}

/// Why an IncrementalAlterConfigs resource is refused before the controller sees it, if it
/// is: an unknown resource type (Kafka's controller), then an unknown operation and null
/// values for operations other than DELETE (Kafka's broker-side checks, which every request
/// that reaches Kafka's controller through a broker has passed).
fn incremental_rejection(
    res: &incremental_alter_configs_request::AlterConfigsResource,
) -> Option<ApiError> {
    if !known_resource_type(res.resource_type) {
        return Some(unknown_resource_type(res.resource_type));
    }
    if let Some(config) = res
        .configs
        .iter()
        .find(|c| AlterConfigOp::from_i8(c.config_operation).is_none())
    {
        return Some(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "Unknown operation {} for config {}.",
                config.config_operation, config.name
            ),
        ));
    }
    let nulls: Vec<&str> = res
        .configs
        .iter()
        .filter(|c| c.value.is_none() && c.config_operation != AlterConfigOp::Delete as i8)
        .map(|c| c.name.as_str())
        .collect();
    if !nulls.is_empty() {
        return Some(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("Null value not supported for : {}", nulls.join(", ")),
        ));
    }
    None
}

fn incremental_alter_configs(
    r: &IncrementalAlterConfigsRequest,
) -> controller::IncrementalAlterConfigsRequest {
    controller::IncrementalAlterConfigsRequest {
        resources: r
            .resources
            .iter()
            .filter(|res| incremental_rejection(res).is_none())
            .map(|res| {
                let ops = res
                    .configs
                    .iter()
                    .filter_map(|c| {
                        Some(controller::ConfigOp {
                            name: c.name.clone(),
                            op: AlterConfigOp::from_i8(c.config_operation)?,
                            value: c.value.clone(),
                        })
                    })
                    .collect();
                (resource(res.resource_type, &res.resource_name), ops)
            })
            .collect(),
        validate_only: r.validate_only,
    }
}

fn legacy_rejection(res: &alter_configs_request::AlterConfigsResource) -> Option<ApiError> {
    (!known_resource_type(res.resource_type)).then(|| unknown_resource_type(res.resource_type))
}

fn alter_configs(r: &AlterConfigsRequest) -> controller::AlterConfigsRequest {
    controller::AlterConfigsRequest {
        resources: r
            .resources
            .iter()
            .filter(|res| legacy_rejection(res).is_none())
            .map(|res| {
                let entries = res
                    .configs
                    .iter()
                    .map(|c| (c.name.clone(), c.value.clone()))
                    .collect();
                (resource(res.resource_type, &res.resource_name), entries)
            })
            .collect(),
        validate_only: r.validate_only,
    }
}

fn describe_configs(r: &DescribeConfigsRequest) -> controller::DescribeConfigsRequest {
    controller::DescribeConfigsRequest {
        resources: r
            .resources
            .iter()
            .map(|res| {
                // Null and empty both mean every key, as Kafka reads them.
                let keys = res
                    .configuration_keys
                    .as_ref()
                    .filter(|keys| !keys.is_empty())
                    .cloned();
                (resource(res.resource_type, &res.resource_name), keys)
            })
            .collect(),
        // Kafka always lists every entry of a topic, defaults included; there is no flag.
        include_defaults: true,
    }
}

fn resource(resource_type: i8, name: &str) -> ConfigResource {
    ConfigResource {
        resource_type,
        name: name.to_owned(),
    }
}

// ---- Responses ----

/// Answers each of `requested` in order: with `rejected` where `rejection` refused it before
/// the controller, else with `answered` and the controller's next result.
fn merge<Q, R, W>(
    requested: &[Q],
    mut rejection: impl FnMut(&Q) -> Option<ApiError>,
    results: Vec<R>,
    mut rejected: impl FnMut(&Q, ApiError) -> W,
    mut answered: impl FnMut(&Q, R) -> W,
) -> Vec<W> {
    let mut results = results.into_iter();
    let merged = requested
        .iter()
        .map(|item| match rejection(item) {
            Some(error) => rejected(item, error),
            None => answered(
                item,
                results
                    .next()
                    .expect("the controller answers every item it was given"),
            ),
        })
        .collect();
    assert!(
        results.next().is_none(),
        "the controller answered more items than it was given"
    );
    merged
}

fn never_rejected<Q>(_: &Q) -> Option<ApiError> {
    None
}

fn unreachable_rejection<Q, W>(_: &Q, _: ApiError) -> W {
    unreachable!("never_rejected rejects nothing")
}

/// An error message that fits a wire string (messages may quote names and values from the
/// request, which may be as long as a wire string themselves).
fn message_of(error: &ApiError) -> Option<String> {
    error.message.as_deref().map(|text| {
        if text.len() <= WIRE_STRING_BYTES_MAX {
            return text.to_owned();
        }
        let mut end = WIRE_STRING_BYTES_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    })
}

fn alter_partition_response(
    request: &AlterPartitionRequest,
    version: i16,
    reply: controller::AlterPartitionReply,
) -> AlterPartitionResponse {
    if !reply.error.is_ok() {
        return AlterPartitionResponse {
            throttle_time_ms: 0,
            error_code: reply.error.code.code(),
            topics: Vec::new(),
            ..Default::default()
        };
    }
    let topics = merge(
        &request.topics,
        never_rejected,
        reply.topics,
        unreachable_rejection,
        |_, topic| {
            let (topic_name, topic_id) = match topic.topic {
                TopicRef::Name(name) => (name, Uuid::ZERO),
                TopicRef::Id(id) => (String::new(), id),
            };
            alter_partition_response::TopicData {
                topic_name,
                topic_id,
                partitions: topic
                    .partitions
                    .into_iter()
                    .map(|p| alter_partition_response::PartitionData {
                        partition_index: p.partition_index,
                        error_code: alter_partition_code(p.error.code, version),
                        leader_id: p.leader_id,
                        leader_epoch: p.leader_epoch,
                        isr: p.isr,
                        leader_recovery_state: p.leader_recovery_state,
                        partition_epoch: p.partition_epoch,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        },
    );
    AlterPartitionResponse {
        throttle_time_ms: 0,
        error_code: ErrorCode::None.code(),
        topics,
        ..Default::default()
    }
}

/// A partition's error code as a leader at `version` understands it: before v2 Kafka's
/// controller reports an ineligible ISR member as `OPERATION_NOT_ATTEMPTED` and a leadership
/// change as `FENCED_LEADER_EPOCH` (`ReplicationControlManager.alterPartition`).
fn alter_partition_code(code: ErrorCode, version: i16) -> i16 {
    if version >= ALTER_PARTITION_NEW_ERRORS_VERSION {
        return code.code();
    }
    match code {
        ErrorCode::IneligibleReplica => ErrorCode::OperationNotAttempted.code(),
        ErrorCode::NewLeaderElected => ErrorCode::FencedLeaderEpoch.code(),
        other => other.code(),
    }
}

fn failed_topic(name: &str, error: &ApiError) -> create_topics_response::CreatableTopicResult {
    create_topics_response::CreatableTopicResult {
        name: name.to_owned(),
        topic_id: Uuid::ZERO,
        error_code: error.code.code(),
        error_message: message_of(error),
        topic_config_error_code: 0,
        num_partitions: -1,
        replication_factor: -1,
        configs: Some(Vec::new()),
        ..Default::default()
    }
}

fn create_topics_response(
    request: &CreateTopicsRequest,
    version: i16,
    reply: controller::CreateTopicsReply,
) -> CreateTopicsResponse {
    let topics = merge(
        &request.topics,
        never_rejected,
        reply.topics,
        unreachable_rejection,
        |_, topic| {
            let mut result = failed_topic(&topic.name, &topic.error);
            // TopicId (v7) and the details (v5) are ignorable: older versions drop them, so
            // they are filled for every version.
            result.topic_id = topic.topic_id;
            if version >= CREATE_TOPICS_RESULT_DETAILS_VERSION {
                result.num_partitions = topic.num_partitions;
                result.replication_factor = topic.replication_factor;
                result.configs = Some(
                    topic
                        .configs
                        .into_iter()
                        .map(|c| create_topics_response::CreatableTopicConfigs {
                            name: c.name,
                            value: c.value,
                            read_only: c.read_only,
                            config_source: c.source as i8,
                            is_sensitive: c.is_sensitive,
                            ..Default::default()
                        })
                        .collect(),
                );
            }
            result
        },
    );
    CreateTopicsResponse {
        throttle_time_ms: 0,
        topics,
        ..Default::default()
    }
}

fn deletable(
    name: Option<String>,
    topic_id: Uuid,
    error: &ApiError,
) -> delete_topics_response::DeletableTopicResult {
    delete_topics_response::DeletableTopicResult {
        name,
        topic_id,
        error_code: error.code.code(),
        error_message: message_of(error),
        ..Default::default()
    }
}

fn delete_topics_response(
    request: &DeleteTopicsRequest,
    version: i16,
    reply: controller::DeleteTopicsReply,
) -> DeleteTopicsResponse {
    // A topic named by name is answered with that name (and its id where found); one named
    // by id with that id (and its name where found), as Kafka's controller answers them.
    let answered = |result: controller::DeleteTopicResult| match result.topic {
        TopicRef::Name(name) => deletable(Some(name), result.topic_id, &result.error),
        TopicRef::Id(id) => deletable(result.name, id, &result.error),
    };
    let responses = if version >= DELETE_TOPICS_BY_ID_VERSION {
        merge(
            &request.topics,
            delete_rejection,
            reply.topics,
            |t, error| deletable(t.name.clone(), t.topic_id, &error),
            |_, result| answered(result),
        )
    } else {
        merge(
            &request.topic_names,
            never_rejected,
            reply.topics,
            unreachable_rejection,
            |_, result| answered(result),
        )
    };
    DeleteTopicsResponse {
        throttle_time_ms: 0,
        responses,
        ..Default::default()
    }
}

fn partitions_result(
    name: &str,
    error: &ApiError,
) -> create_partitions_response::CreatePartitionsTopicResult {
    create_partitions_response::CreatePartitionsTopicResult {
        name: name.to_owned(),
        error_code: error.code.code(),
        error_message: message_of(error),
        ..Default::default()
    }
}

fn create_partitions_response(
    request: &CreatePartitionsRequest,
    reply: controller::CreatePartitionsReply,
) -> CreatePartitionsResponse {
    CreatePartitionsResponse {
        throttle_time_ms: 0,
        results: merge(
            &request.topics,
            never_rejected,
            reply.topics,
            unreachable_rejection,
            |_, result| partitions_result(&result.name, &result.error),
        ),
        ..Default::default()
    }
}

fn incremental_result(
    resource_type: i8,
    resource_name: &str,
    error: &ApiError,
) -> incremental_alter_configs_response::AlterConfigsResourceResponse {
    incremental_alter_configs_response::AlterConfigsResourceResponse {
        error_code: error.code.code(),
        error_message: message_of(error),
        resource_type,
        resource_name: resource_name.to_owned(),
        ..Default::default()
    }
}

fn incremental_alter_configs_response(
    request: &IncrementalAlterConfigsRequest,
    reply: controller::AlterConfigsReply,
) -> IncrementalAlterConfigsResponse {
    IncrementalAlterConfigsResponse {
        throttle_time_ms: 0,
        responses: merge(
            &request.resources,
            incremental_rejection,
            reply.resources,
            |res, error| incremental_result(res.resource_type, &res.resource_name, &error),
            |res, result| incremental_result(res.resource_type, &res.resource_name, &result.error),
        ),
        ..Default::default()
    }
}

fn legacy_result(
    resource_type: i8,
    resource_name: &str,
    error: &ApiError,
) -> alter_configs_response::AlterConfigsResourceResponse {
    alter_configs_response::AlterConfigsResourceResponse {
        error_code: error.code.code(),
        error_message: message_of(error),
        resource_type,
        resource_name: resource_name.to_owned(),
        ..Default::default()
    }
}

fn alter_configs_response(
    request: &AlterConfigsRequest,
    reply: controller::AlterConfigsReply,
) -> AlterConfigsResponse {
    AlterConfigsResponse {
        throttle_time_ms: 0,
        responses: merge(
            &request.resources,
            legacy_rejection,
            reply.resources,
            |res, error| legacy_result(res.resource_type, &res.resource_name, &error),
            |res, result| legacy_result(res.resource_type, &res.resource_name, &result.error),
        ),
        ..Default::default()
    }
}

fn describe_result(
    resource_type: i8,
    resource_name: &str,
    error: &ApiError,
) -> describe_configs_response::DescribeConfigsResult {
    describe_configs_response::DescribeConfigsResult {
        error_code: error.code.code(),
        error_message: message_of(error),
        resource_type,
        resource_name: resource_name.to_owned(),
        configs: Vec::new(),
        ..Default::default()
    }
}

fn describe_configs_response(
    request: &DescribeConfigsRequest,
    version: i16,
    reply: controller::DescribeConfigsReply,
) -> DescribeConfigsResponse {
    let results = merge(
        &request.resources,
        never_rejected,
        reply.resources,
        unreachable_rejection,
        |res, result| {
            let mut described =
                describe_result(res.resource_type, &res.resource_name, &result.error);
            described.configs = result
                .configs
                .into_iter()
                .map(
                    |c| describe_configs_response::DescribeConfigsResourceResult {
                        config_type: if version >= DESCRIBE_CONFIGS_TYPE_VERSION {
                            config_type_id(res.resource_type, &c.name)
                        } else {
                            0
                        },
                        name: c.name,
                        value: c.value,
                        read_only: c.read_only,
                        config_source: c.source as i8,
                        // Version 0 only, which keel does not support.
                        is_default: false,
                        is_sensitive: c.is_sensitive,
                        // keel keeps one source per entry: no synonyms to list, asked or not.
                        synonyms: Vec::new(),
                        // keel has no documentation text to give (IncludeDocumentation, v3+).
                        documentation: None,
                        ..Default::default()
                    },
                )
                .collect();
            described
        },
    );
    DescribeConfigsResponse {
        throttle_time_ms: 0,
        results,
        ..Default::default()
    }
}

/// Kafka's `ConfigType` code of a key (v3+), 0 (unknown) for a key Kafka does not define.
fn config_type_id(resource_type: i8, name: &str) -> i8 {
    let config_type = if resource_type == RESOURCE_TOPIC {
        configs::topic_config(name).map(|def| def.config_type)
    } else {
        configs::broker_config_of(name).map(|def| def.config_type)
    };
    config_type.map_or(0, ConfigType::wire_code)
}

fn reply_name(reply: &ControllerReply) -> &'static str {
    match reply {
        ControllerReply::RegisterBroker(_) => "BrokerRegistration",
        ControllerReply::Heartbeat(_) => "BrokerHeartbeat",
        ControllerReply::UnregisterBroker(_) => "UnregisterBroker",
        ControllerReply::AlterPartition(_) => "AlterPartition",
        ControllerReply::CreateTopics(_) => "CreateTopics",
        ControllerReply::DeleteTopics(_) => "DeleteTopics",
        ControllerReply::CreatePartitions(_) => "CreatePartitions",
        ControllerReply::AlterConfigs(_) => "AlterConfigs",
        ControllerReply::DescribeConfigs(_) => "DescribeConfigs",
    }
}

#[cfg(test)]
mod tests;
