//! Tests of the controller APIs' wire conversions: every API at every version, requests as
//! they arrive (encoded and decoded at the version first), responses that must encode at the
//! version and decode back to the expected values, the error responses, arbitrary decodable
//! requests, and whole exchanges with a real `metadata::Controller`.

use proptest::prelude::*;

use super::*;
use crate::metadata::controller::{
    AlterConfigsReply, AlterConfigsResult, AlterPartitionReply, AlterPartitionResult,
    AlterPartitionTopicResult, BrokerHeartbeatReply, BrokerRegistrationReply, ConfigOp,
    ConfigSource, Controller, ControllerConfig, CreatePartitionsReply, CreatePartitionsResult,
    CreateTopicResult, CreateTopicsReply, DeleteTopicResult, DeleteTopicsReply,
    DescribeConfigsReply, DescribeConfigsResult, DescribedConfig, IsrMember, UnregisterBrokerReply,
};
use crate::metadata::image::Image;
use crate::metadata::record::MetadataRecord;
use crate::protocol::messages::{
    BrokerHeartbeatRequest, MetadataRequest, UnregisterBrokerRequest, alter_partition_request,
    broker_registration_request, create_partitions_request, create_topics_request,
    describe_configs_request,
};
use crate::protocol::{Message, Reader};

const CLUSTER: &str = "wire-test-cluster";

fn uuid(byte: u8) -> Uuid {
    Uuid::from_bytes([byte; 16])
}

fn versions<M: Message>() -> std::ops::RangeInclusive<i16> {
    M::VERSIONS
}

/// `body` as the server receives it: encoded at `version` and decoded again, so fields the
/// version lacks arrive with their defaults.
fn over_the_wire(body: RequestBody, version: i16) -> RequestBody {
    let mut bytes = Vec::new();
    body.encode(&mut bytes, version)
        .unwrap_or_else(|e| panic!("test request {body:?} v{version} does not encode: {e:?}"));
    let mut reader = Reader::new(&bytes);
    let decoded = RequestBody::decode(body.api_key(), &mut reader, version)
        .unwrap_or_else(|e| panic!("v{version} does not decode: {e:?}"));
    assert!(reader.is_empty());
    decoded
}

/// Encodes `response` at `version` (which must succeed) and decodes it back.
fn encoded(response: &ResponseBody, version: i16) -> ResponseBody {
    let mut bytes = Vec::new();
    response.encode(&mut bytes, version).unwrap_or_else(|e| {
        panic!(
            "{} response v{version} does not encode: {e:?}",
            response.api_key().name()
        )
    });
    let mut reader = Reader::new(&bytes);
    let decoded = ResponseBody::decode(response.api_key(), &mut reader, version)
        .unwrap_or_else(|e| panic!("v{version} does not decode: {e:?}"));
    assert!(reader.is_empty());
    decoded
}

/// The body as received and its conversion, which must be a request (no error response).
fn convert(body: RequestBody, version: i16) -> (RequestBody, ControllerRequest) {
    let body = over_the_wire(body, version);
    let request = request_from_wire(&body, version)
        .expect("a controller API")
        .unwrap_or_else(|response| panic!("v{version} answered at once: {response:?}"));
    (body, request)
}

fn error(code: ErrorCode, message: &str) -> ApiError {
    ApiError::new(code, message)
}

// ---- Representative requests, one builder per API ----

fn registration_body() -> RequestBody {
    RequestBody::BrokerRegistration(BrokerRegistrationRequest {
        broker_id: 3,
        cluster_id: CLUSTER.into(),
        incarnation_id: uuid(0x33),
        listeners: vec![
            broker_registration_request::Listener {
                name: "PLAINTEXT".into(),
                host: "b3.example".into(),
                port: 9092,
                security_protocol: 0,
                ..Default::default()
            },
            broker_registration_request::Listener {
                name: "SSL".into(),
                host: "b3.example".into(),
                port: 65535,
                security_protocol: 1,
                ..Default::default()
            },
        ],
        features: vec![broker_registration_request::Feature {
            name: "metadata.version".into(),
            min_supported_version: 7,
            max_supported_version: 21,
            ..Default::default()
        }],
        rack: Some("rack-a".into()),
        is_migrating_zk_broker: false,
        // Ignorable: dropped before v2 and v3.
        log_dirs: vec![uuid(0x44)],
        previous_broker_epoch: 17,
        ..Default::default()
    })
}

fn heartbeat_body(version: i16) -> RequestBody {
    RequestBody::BrokerHeartbeat(BrokerHeartbeatRequest {
        broker_id: 3,
        broker_epoch: 100,
        current_metadata_offset: 250,
        want_fence: true,
        want_shut_down: false,
        offline_log_dirs: if version >= 1 {
            vec![uuid(0x55)]
        } else {
            Vec::new()
        },
        ..Default::default()
    })
}

fn unregister_body(broker_id: i32) -> RequestBody {
    RequestBody::UnregisterBroker(UnregisterBrokerRequest {
        broker_id,
        ..Default::default()
    })
}

fn alter_partition_body(version: i16) -> RequestBody {
    let partition = |partition_index: i32, isr: &[i32]| alter_partition_request::PartitionData {
        partition_index,
        leader_epoch: 5,
        new_isr: if version < 3 {
            isr.to_vec()
        } else {
            Vec::new()
        },
        new_isr_with_epochs: if version >= 3 {
            isr.iter()
                .map(|&broker_id| alter_partition_request::BrokerState {
                    broker_id,
                    broker_epoch: 1000 + i64::from(broker_id),
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        },
        leader_recovery_state: if version >= 1 { 1 } else { 0 },
        partition_epoch: 9,
        ..Default::default()
    };
    RequestBody::AlterPartition(AlterPartitionRequest {
        broker_id: 1,
        broker_epoch: 1001,
        topics: vec![
            alter_partition_request::TopicData {
                // Each is ignorable outside its versions: only one arrives.
                topic_name: "orders".into(),
                topic_id: uuid(0x0d),
                partitions: vec![partition(0, &[1, 2]), partition(1, &[1]), partition(2, &[])],
                ..Default::default()
            },
            alter_partition_request::TopicData::default(),
        ],
        ..Default::default()
    })
}

fn create_topics_body() -> RequestBody {
    let topic = |name: &str, partitions: i32, rf: i16| create_topics_request::CreatableTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: rf,
        ..Default::default()
    };
    let mut events = topic("events", -1, -1);
    events.configs = vec![
        create_topics_request::CreatableTopicConfig {
            name: "cleanup.policy".into(),
            value: Some("compact".into()),
            ..Default::default()
        },
        create_topics_request::CreatableTopicConfig {
            name: "retention.ms".into(),
            value: None,
            ..Default::default()
        },
    ];
    let mut placed = topic("placed", -1, -1);
    placed.assignments = vec![
        create_topics_request::CreatableReplicaAssignment {
            partition_index: 0,
            broker_ids: vec![1, 2],
            ..Default::default()
        },
        create_topics_request::CreatableReplicaAssignment {
            partition_index: 1,
            broker_ids: vec![2, 3],
            ..Default::default()
        },
    ];
    RequestBody::CreateTopics(CreateTopicsRequest {
        topics: vec![events, placed, topic("sized", 6, 3)],
        timeout_ms: 30_000,
        validate_only: true,
        ..Default::default()
    })
}

fn delete_topics_body(version: i16) -> RequestBody {
    let state = |name: Option<&str>, topic_id: Uuid| delete_topics_request::DeleteTopicState {
        name: name.map(str::to_owned),
        topic_id,
        ..Default::default()
    };
    RequestBody::DeleteTopics(if version >= 6 {
        DeleteTopicsRequest {
            topics: vec![
                state(Some("gone"), Uuid::ZERO),
                state(None, uuid(0x0d)),
                state(None, Uuid::ZERO),
                state(Some("both"), uuid(0x0e)),
            ],
            timeout_ms: 15_000,
            ..Default::default()
        }
    } else {
        DeleteTopicsRequest {
            topic_names: vec!["gone".into(), "kept".into()],
            timeout_ms: 15_000,
            ..Default::default()
        }
    })
}

fn create_partitions_body() -> RequestBody {
    let topic = |name: &str, count: i32, assignments: Option<Vec<Vec<i32>>>| {
        create_partitions_request::CreatePartitionsTopic {
            name: name.into(),
            count,
            assignments: assignments.map(|a| {
                a.into_iter()
                    .map(
                        |broker_ids| create_partitions_request::CreatePartitionsAssignment {
                            broker_ids,
                            ..Default::default()
                        },
                    )
                    .collect()
            }),
            ..Default::default()
        }
    };
    RequestBody::CreatePartitions(CreatePartitionsRequest {
        topics: vec![
            topic("a", 3, None),
            topic("b", 4, Some(vec![vec![1, 2], vec![2, 3]])),
            topic("c", 2, Some(Vec::new())),
        ],
        timeout_ms: 5_000,
        validate_only: false,
        ..Default::default()
    })
}

fn incremental_config(
    name: &str,
    op: i8,
    value: Option<&str>,
) -> incremental_alter_configs_request::AlterableConfig {
    incremental_alter_configs_request::AlterableConfig {
        name: name.into(),
        config_operation: op,
        value: value.map(str::to_owned),
        ..Default::default()
    }
}

fn incremental_resource(
    resource_type: i8,
    name: &str,
    configs: Vec<incremental_alter_configs_request::AlterableConfig>,
) -> incremental_alter_configs_request::AlterConfigsResource {
    incremental_alter_configs_request::AlterConfigsResource {
        resource_type,
        resource_name: name.into(),
        configs,
        ..Default::default()
    }
}

fn incremental_body() -> RequestBody {
    RequestBody::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
        resources: vec![
            incremental_resource(
                RESOURCE_TOPIC,
                "orders",
                vec![
                    incremental_config("retention.ms", 0, Some("1000")),
                    incremental_config("segment.ms", 1, None),
                    incremental_config("cleanup.policy", 2, Some("compact")),
                ],
            ),
            incremental_resource(99, "weird", Vec::new()),
            incremental_resource(
                RESOURCE_BROKER,
                "",
                vec![incremental_config("a.b", 7, Some("1"))],
            ),
            incremental_resource(
                RESOURCE_BROKER,
                "1",
                vec![
                    incremental_config("a.b", 0, None),
                    incremental_config("c.d", 3, None),
                    incremental_config("e.f", 1, None),
                ],
            ),
            incremental_resource(
                RESOURCE_BROKER_LOGGER,
                "1",
                vec![incremental_config("kafka", 0, Some("DEBUG"))],
            ),
        ],
        validate_only: true,
        ..Default::default()
    })
}

fn legacy_resource(
    resource_type: i8,
    name: &str,
    configs: &[(&str, Option<&str>)],
) -> alter_configs_request::AlterConfigsResource {
    alter_configs_request::AlterConfigsResource {
        resource_type,
        resource_name: name.into(),
        configs: configs
            .iter()
            .map(|(name, value)| alter_configs_request::AlterableConfig {
                name: (*name).into(),
                value: value.map(str::to_owned),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn alter_configs_body() -> RequestBody {
    RequestBody::AlterConfigs(AlterConfigsRequest {
        resources: vec![
            legacy_resource(RESOURCE_TOPIC, "orders", &[("retention.ms", Some("1000"))]),
            legacy_resource(0, "unknown-type", &[]),
            legacy_resource(RESOURCE_BROKER, "", &[("a.b", None)]),
        ],
        validate_only: false,
        ..Default::default()
    })
}

fn describe_configs_body(version: i16) -> RequestBody {
    let resource = |resource_type: i8, name: &str, keys: Option<&[&str]>| {
        describe_configs_request::DescribeConfigsResource {
            resource_type,
            resource_name: name.into(),
            configuration_keys: keys.map(|k| k.iter().map(|&s| s.to_owned()).collect()),
            ..Default::default()
        }
    };
    RequestBody::DescribeConfigs(DescribeConfigsRequest {
        resources: vec![
            resource(RESOURCE_TOPIC, "orders", None),
            resource(RESOURCE_BROKER, "1", Some(&[])),
            resource(RESOURCE_TOPIC, "missing", Some(&["retention.ms"])),
        ],
        include_synonyms: true,
        include_documentation: version >= 3,
        ..Default::default()
    })
}

/// Every controller API at every version, with a representative request.
fn every_controller_request() -> Vec<(RequestBody, i16)> {
    let mut all = Vec::new();
    let mut add = |range: std::ops::RangeInclusive<i16>, build: &dyn Fn(i16) -> RequestBody| {
        for version in range {
            all.push((build(version), version));
        }
    };
    add(versions::<BrokerRegistrationRequest>(), &|_| {
        registration_body()
    });
    add(versions::<BrokerHeartbeatRequest>(), &heartbeat_body);
    add(versions::<UnregisterBrokerRequest>(), &|_| {
        unregister_body(4)
    });
    add(versions::<AlterPartitionRequest>(), &alter_partition_body);
    add(versions::<CreateTopicsRequest>(), &|_| create_topics_body());
    add(versions::<DeleteTopicsRequest>(), &delete_topics_body);
    add(versions::<CreatePartitionsRequest>(), &|_| {
        create_partitions_body()
    });
    add(versions::<IncrementalAlterConfigsRequest>(), &|_| {
        incremental_body()
    });
    add(versions::<AlterConfigsRequest>(), &|_| alter_configs_body());
    add(versions::<DescribeConfigsRequest>(), &describe_configs_body);
    all
}

/// The error codes a response carries per item (the top-level one for the APIs without
/// items, or when it is set).
fn item_codes(response: &ResponseBody) -> Vec<i16> {
    match response {
        ResponseBody::BrokerRegistration(r) => vec![r.error_code],
        ResponseBody::BrokerHeartbeat(r) => vec![r.error_code],
        ResponseBody::UnregisterBroker(r) => vec![r.error_code],
        ResponseBody::AlterPartition(r) if r.error_code != 0 => vec![r.error_code],
        ResponseBody::AlterPartition(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        ResponseBody::CreateTopics(r) => r.topics.iter().map(|t| t.error_code).collect(),
        ResponseBody::DeleteTopics(r) => r.responses.iter().map(|t| t.error_code).collect(),
        ResponseBody::CreatePartitions(r) => r.results.iter().map(|t| t.error_code).collect(),
        ResponseBody::IncrementalAlterConfigs(r) => {
            r.responses.iter().map(|t| t.error_code).collect()
        }
        ResponseBody::AlterConfigs(r) => r.responses.iter().map(|t| t.error_code).collect(),
        ResponseBody::DescribeConfigs(r) => r.results.iter().map(|t| t.error_code).collect(),
        other => panic!("not a controller response: {other:?}"),
    }
}

/// The error messages a response carries per item, where it has message fields.
fn item_messages(response: &ResponseBody) -> Vec<Option<String>> {
    match response {
        ResponseBody::UnregisterBroker(r) => vec![r.error_message.clone()],
        ResponseBody::CreateTopics(r) => r.topics.iter().map(|t| t.error_message.clone()).collect(),
        ResponseBody::DeleteTopics(r) => r
            .responses
            .iter()
            .map(|t| t.error_message.clone())
            .collect(),
        ResponseBody::CreatePartitions(r) => {
            r.results.iter().map(|t| t.error_message.clone()).collect()
        }
        ResponseBody::IncrementalAlterConfigs(r) => r
            .responses
            .iter()
            .map(|t| t.error_message.clone())
            .collect(),
        ResponseBody::AlterConfigs(r) => r
            .responses
            .iter()
            .map(|t| t.error_message.clone())
            .collect(),
        ResponseBody::DescribeConfigs(r) => {
            r.results.iter().map(|t| t.error_message.clone()).collect()
        }
        _ => Vec::new(),
    }
}

/// Items a request names (partitions for AlterPartition; 1 for the broker APIs).
fn request_items(body: &RequestBody, version: i16) -> usize {
    match body {
        RequestBody::BrokerRegistration(_)
        | RequestBody::BrokerHeartbeat(_)
        | RequestBody::UnregisterBroker(_) => 1,
        RequestBody::AlterPartition(r) => r.topics.iter().map(|t| t.partitions.len()).sum(),
        RequestBody::CreateTopics(r) => r.topics.len(),
        RequestBody::DeleteTopics(r) if version >= 6 => r.topics.len(),
        RequestBody::DeleteTopics(r) => r.topic_names.len(),
        RequestBody::CreatePartitions(r) => r.topics.len(),
        RequestBody::IncrementalAlterConfigs(r) => r.resources.len(),
        RequestBody::AlterConfigs(r) => r.resources.len(),
        RequestBody::DescribeConfigs(r) => r.resources.len(),
        other => panic!("not a controller request: {other:?}"),
    }
}

/// A reply that answers every item of `request` with `code`.
fn mirror_reply(request: &ControllerRequest, code: ErrorCode) -> ControllerReply {
    let error = if code == ErrorCode::None {
        ApiError::NONE
    } else {
        ApiError::new(code, "refused")
    };
    let described = || DescribedConfig {
        name: "cleanup.policy".into(),
        value: Some("delete".into()),
        source: ConfigSource::DefaultConfig,
        read_only: false,
        is_sensitive: false,
    };
    match request {
        ControllerRequest::RegisterBroker(_) => {
            ControllerReply::RegisterBroker(BrokerRegistrationReply {
                error,
                broker_epoch: 7,
            })
        }
        ControllerRequest::Heartbeat(_) => ControllerReply::Heartbeat(BrokerHeartbeatReply {
            error,
            is_caught_up: true,
            is_fenced: false,
            in_controlled_shutdown: true,
            should_shut_down: false,
        }),
        ControllerRequest::UnregisterBroker { .. } => {
            ControllerReply::UnregisterBroker(UnregisterBrokerReply { error })
        }
        ControllerRequest::AlterPartition(r) => {
            ControllerReply::AlterPartition(AlterPartitionReply {
                error: ApiError::NONE,
                topics: r
                    .topics
                    .iter()
                    .map(|t| AlterPartitionTopicResult {
                        topic: t.topic.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| AlterPartitionResult {
                                partition_index: p.partition_index,
                                error: error.clone(),
                                leader_id: 1,
                                leader_epoch: p.leader_epoch,
                                isr: p.new_isr.iter().map(|m| m.broker_id).collect(),
                                leader_recovery_state: p.leader_recovery_state,
                                partition_epoch: p.partition_epoch,
                            })
                            .collect(),
                    })
                    .collect(),
            })
        }
        ControllerRequest::CreateTopics(r) => ControllerReply::CreateTopics(CreateTopicsReply {
            topics: r
                .topics
                .iter()
                .map(|t| CreateTopicResult {
                    name: t.name.clone(),
                    topic_id: uuid(0x71),
                    error: error.clone(),
                    num_partitions: 1,
                    replication_factor: 1,
                    configs: vec![described()],
                })
                .collect(),
        }),
        ControllerRequest::DeleteTopics(r) => ControllerReply::DeleteTopics(DeleteTopicsReply {
            topics: r
                .topics
                .iter()
                .map(|t| DeleteTopicResult {
                    topic: t.clone(),
                    name: Some("named".into()),
                    topic_id: uuid(0x72),
                    error: error.clone(),
                })
                .collect(),
        }),
        ControllerRequest::CreatePartitions(r) => {
            ControllerReply::CreatePartitions(CreatePartitionsReply {
                topics: r
                    .topics
                    .iter()
                    .map(|t| CreatePartitionsResult {
                        name: t.name.clone(),
                        error: error.clone(),
                    })
                    .collect(),
            })
        }
        ControllerRequest::IncrementalAlterConfigs(r) => {
            ControllerReply::AlterConfigs(AlterConfigsReply {
                resources: r
                    .resources
                    .iter()
                    .map(|(resource, _)| AlterConfigsResult {
                        resource: resource.clone(),
                        error: error.clone(),
                    })
                    .collect(),
            })
        }
        ControllerRequest::AlterConfigs(r) => ControllerReply::AlterConfigs(AlterConfigsReply {
            resources: r
                .resources
                .iter()
                .map(|(resource, _)| AlterConfigsResult {
                    resource: resource.clone(),
                    error: error.clone(),
                })
                .collect(),
        }),
        ControllerRequest::DescribeConfigs(r) => {
            ControllerReply::DescribeConfigs(DescribeConfigsReply {
                resources: r
                    .resources
                    .iter()
                    .map(|(resource, _)| DescribeConfigsResult {
                        resource: resource.clone(),
                        error: error.clone(),
                        configs: vec![described()],
                    })
                    .collect(),
            })
        }
    }
}

// ---- Per API ----

#[test]
fn broker_registration_converts_at_every_version() {
    for version in versions::<BrokerRegistrationRequest>() {
        let (_, request) = convert(registration_body(), version);
        let ControllerRequest::RegisterBroker(r) = request else {
            panic!("{request:?}")
        };
        assert_eq!(r.broker_id, 3);
        assert_eq!(r.cluster_id, CLUSTER);
        assert_eq!(r.incarnation_id, uuid(0x33));
        assert_eq!(
            r.listeners,
            vec![
                Listener {
                    name: "PLAINTEXT".into(),
                    host: "b3.example".into(),
                    port: 9092,
                    security_protocol: 0,
                },
                Listener {
                    name: "SSL".into(),
                    host: "b3.example".into(),
                    port: 65535,
                    security_protocol: 1,
                },
            ]
        );
        assert_eq!(
            r.features,
            vec![SupportedFeature {
                name: "metadata.version".into(),
                min_supported: 7,
                max_supported: 21,
            }]
        );
        assert_eq!(r.rack.as_deref(), Some("rack-a"));
        let log_dirs = if version >= 2 {
            vec![uuid(0x44)]
        } else {
            Vec::new()
        };
        assert_eq!(r.log_dirs, log_dirs, "v{version}");

        // No rack, no listeners, no features.
        let RequestBody::BrokerRegistration(mut bare) = registration_body() else {
            unreachable!()
        };
        bare.rack = None;
        bare.listeners.clear();
        bare.features.clear();
        let (_, request) = convert(RequestBody::BrokerRegistration(bare), version);
        let ControllerRequest::RegisterBroker(r) = request else {
            panic!("{request:?}")
        };
        assert_eq!((r.rack, r.listeners.len(), r.features.len()), (None, 0, 0));
    }
}

#[test]
fn a_zookeeper_broker_is_refused_before_the_controller() {
    for version in 1..=*versions::<BrokerRegistrationRequest>().end() {
        let RequestBody::BrokerRegistration(mut zk) = registration_body() else {
            unreachable!()
        };
        zk.is_migrating_zk_broker = true;
        let body = over_the_wire(RequestBody::BrokerRegistration(zk), version);
        let response = request_from_wire(&body, version)
            .expect("a controller API")
            .expect_err("refused at once");
        let ResponseBody::BrokerRegistration(r) = encoded(&response, version) else {
            panic!()
        };
        assert_eq!(r.error_code, ErrorCode::BrokerIdNotRegistered.code());
        assert_eq!(r.broker_epoch, -1);
    }
}

#[test]
fn broker_registration_replies_encode_at_every_version() {
    for version in versions::<BrokerRegistrationRequest>() {
        let body = registration_body();
        let ok = ControllerReply::RegisterBroker(BrokerRegistrationReply {
            error: ApiError::NONE,
            broker_epoch: 42,
        });
        let ResponseBody::BrokerRegistration(r) =
            encoded(&response_to_wire(&body, version, ok), version)
        else {
            panic!()
        };
        assert_eq!(
            (r.throttle_time_ms, r.error_code, r.broker_epoch),
            (0, 0, 42)
        );

        let refused = ControllerReply::RegisterBroker(BrokerRegistrationReply {
            error: error(ErrorCode::DuplicateBrokerRegistration, "taken"),
            broker_epoch: -1,
        });
        let ResponseBody::BrokerRegistration(r) =
            encoded(&response_to_wire(&body, version, refused), version)
        else {
            panic!()
        };
        assert_eq!(r.error_code, ErrorCode::DuplicateBrokerRegistration.code());
        assert_eq!(r.broker_epoch, -1);
    }
}

#[test]
fn broker_heartbeat_converts_and_answers_at_every_version() {
    for version in versions::<BrokerHeartbeatRequest>() {
        let (body, request) = convert(heartbeat_body(version), version);
        assert_eq!(
            request,
            ControllerRequest::Heartbeat(controller::BrokerHeartbeatRequest {
                broker_id: 3,
                broker_epoch: 100,
                current_metadata_offset: 250,
                want_fence: true,
                want_shutdown: false,
            })
        );
        let reply = ControllerReply::Heartbeat(BrokerHeartbeatReply {
            error: ApiError::NONE,
            is_caught_up: true,
            is_fenced: false,
            in_controlled_shutdown: true,
            should_shut_down: true,
        });
        let ResponseBody::BrokerHeartbeat(r) =
            encoded(&response_to_wire(&body, version, reply), version)
        else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
        assert!(r.is_caught_up && !r.is_fenced && r.should_shut_down);

        let reply = ControllerReply::Heartbeat(BrokerHeartbeatReply {
            error: error(ErrorCode::StaleBrokerEpoch, "old"),
            is_caught_up: false,
            is_fenced: true,
            in_controlled_shutdown: false,
            should_shut_down: false,
        });
        let ResponseBody::BrokerHeartbeat(r) =
            encoded(&response_to_wire(&body, version, reply), version)
        else {
            panic!()
        };
        assert_eq!(r.error_code, ErrorCode::StaleBrokerEpoch.code());
        assert!(r.is_fenced);
    }
}

#[test]
fn unregister_broker_converts_and_answers() {
    for version in versions::<UnregisterBrokerRequest>() {
        let (body, request) = convert(unregister_body(-7), version);
        assert_eq!(
            request,
            ControllerRequest::UnregisterBroker { broker_id: -7 }
        );
        let refused = ControllerReply::UnregisterBroker(UnregisterBrokerReply {
            error: error(
                ErrorCode::BrokerIdNotRegistered,
                "Broker ID -7 is not registered",
            ),
        });
        let ResponseBody::UnregisterBroker(r) =
            encoded(&response_to_wire(&body, version, refused), version)
        else {
            panic!()
        };
        assert_eq!(r.error_code, ErrorCode::BrokerIdNotRegistered.code());
        assert_eq!(
            r.error_message.as_deref(),
            Some("Broker ID -7 is not registered")
        );
        let ok = ControllerReply::UnregisterBroker(UnregisterBrokerReply {
            error: ApiError::NONE,
        });
        let ResponseBody::UnregisterBroker(r) =
            encoded(&response_to_wire(&body, version, ok), version)
        else {
            panic!()
        };
        assert_eq!((r.error_code, r.error_message), (0, None));
    }
}

#[test]
fn alter_partition_converts_at_every_version() {
    for version in versions::<AlterPartitionRequest>() {
        let (_, request) = convert(alter_partition_body(version), version);
        let ControllerRequest::AlterPartition(r) = request else {
            panic!("{request:?}")
        };
        assert_eq!((r.broker_id, r.broker_epoch), (1, 1001));
        assert_eq!(r.topics.len(), 2);
        let (orders, empty) = (&r.topics[0], &r.topics[1]);
        if version >= 2 {
            assert_eq!(orders.topic, TopicRef::Id(uuid(0x0d)));
            assert_eq!(empty.topic, TopicRef::Id(Uuid::ZERO));
        } else {
            assert_eq!(orders.topic, TopicRef::Name("orders".into()));
            assert_eq!(empty.topic, TopicRef::Name(String::new()));
        }
        assert!(empty.partitions.is_empty());
        let member = |broker_id: i32| IsrMember {
            broker_id,
            broker_epoch: if version >= 3 {
                1000 + i64::from(broker_id)
            } else {
                -1
            },
        };
        let p = &orders.partitions[0];
        assert_eq!(p.partition_index, 0);
        assert_eq!((p.leader_epoch, p.partition_epoch), (5, 9));
        assert_eq!(p.new_isr, vec![member(1), member(2)]);
        assert_eq!(p.leader_recovery_state, if version >= 1 { 1 } else { 0 });
        assert_eq!(orders.partitions[1].new_isr, vec![member(1)]);
        assert!(orders.partitions[2].new_isr.is_empty());
    }
}

#[test]
fn alter_partition_answers_with_each_versions_codes() {
    for version in versions::<AlterPartitionRequest>() {
        let body = over_the_wire(alter_partition_body(version), version);
        let topic = if version >= 2 {
            TopicRef::Id(uuid(0x0d))
        } else {
            TopicRef::Name("orders".into())
        };
        let empty = if version >= 2 {
            TopicRef::Id(Uuid::ZERO)
        } else {
            TopicRef::Name(String::new())
        };
        let failed = |partition_index: i32, code: ErrorCode| AlterPartitionResult {
            partition_index,
            error: ApiError::code_only(code),
            leader_id: -1,
            leader_epoch: -1,
            isr: Vec::new(),
            leader_recovery_state: 0,
            partition_epoch: -1,
        };
        let reply = ControllerReply::AlterPartition(AlterPartitionReply {
            error: ApiError::NONE,
            topics: vec![
                AlterPartitionTopicResult {
                    topic,
                    partitions: vec![
                        AlterPartitionResult {
                            partition_index: 0,
                            error: ApiError::NONE,
                            leader_id: 1,
                            leader_epoch: 5,
                            isr: vec![1, 2],
                            leader_recovery_state: 1,
                            partition_epoch: 10,
                        },
                        failed(1, ErrorCode::IneligibleReplica),
                        failed(2, ErrorCode::NewLeaderElected),
                    ],
                },
                AlterPartitionTopicResult {
                    topic: empty,
                    partitions: Vec::new(),
                },
            ],
        });
        let ResponseBody::AlterPartition(r) =
            encoded(&response_to_wire(&body, version, reply), version)
        else {
            panic!()
        };
        assert_eq!((r.throttle_time_ms, r.error_code), (0, 0));
        assert_eq!(r.topics.len(), 2);
        let orders = &r.topics[0];
        if version >= 2 {
            assert_eq!(orders.topic_id, uuid(0x0d));
        } else {
            assert_eq!(orders.topic_name, "orders");
        }
        let ok = &orders.partitions[0];
        assert_eq!(
            (
                ok.partition_index,
                ok.error_code,
                ok.leader_id,
                ok.leader_epoch,
                ok.partition_epoch
            ),
            (0, 0, 1, 5, 10)
        );
        assert_eq!(ok.isr, vec![1, 2]);
        assert_eq!(ok.leader_recovery_state, if version >= 1 { 1 } else { 0 });
        let codes: Vec<i16> = orders.partitions[1..]
            .iter()
            .map(|p| p.error_code)
            .collect();
        if version >= 2 {
            assert_eq!(codes, vec![107, 108]);
        } else {
            assert_eq!(codes, vec![55, ErrorCode::FencedLeaderEpoch.code()]);
        }
        assert!(r.topics[1].partitions.is_empty());

        let stale = ControllerReply::AlterPartition(AlterPartitionReply {
            error: error(ErrorCode::StaleBrokerEpoch, "stale"),
            topics: Vec::new(),
        });
        let ResponseBody::AlterPartition(r) =
            encoded(&response_to_wire(&body, version, stale), version)
        else {
            panic!()
        };
        assert_eq!(r.error_code, ErrorCode::StaleBrokerEpoch.code());
        assert!(r.topics.is_empty());
    }
}

#[test]
fn create_topics_converts_at_every_version() {
    for version in versions::<CreateTopicsRequest>() {
        let (body, request) = convert(create_topics_body(), version);
        assert_eq!(request_timeout_ms(&body), Some(30_000));
        let ControllerRequest::CreateTopics(r) = request else {
            panic!("{request:?}")
        };
        assert!(r.validate_only);
        let names: Vec<&str> = r.topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["events", "placed", "sized"]);
        let events = &r.topics[0];
        assert_eq!((events.num_partitions, events.replication_factor), (-1, -1));
        assert_eq!(
            events.configs,
            vec![
                ("cleanup.policy".to_owned(), Some("compact".to_owned())),
                ("retention.ms".to_owned(), None),
            ]
        );
        assert!(events.assignments.is_empty());
        assert_eq!(
            r.topics[1].assignments,
            vec![(0, vec![1, 2]), (1, vec![2, 3])]
        );
        assert_eq!(
            (r.topics[2].num_partitions, r.topics[2].replication_factor),
            (6, 3)
        );
    }
}

#[test]
fn create_topics_answers_at_every_version() {
    for version in versions::<CreateTopicsRequest>() {
        let body = over_the_wire(create_topics_body(), version);
        let created = CreateTopicResult {
            name: "events".into(),
            topic_id: uuid(0x0e),
            error: ApiError::NONE,
            num_partitions: 1,
            replication_factor: 3,
            configs: vec![
                DescribedConfig {
                    name: "cleanup.policy".into(),
                    value: Some("compact".into()),
                    source: ConfigSource::DynamicTopicConfig,
                    read_only: false,
                    is_sensitive: false,
                },
                DescribedConfig {
                    name: "retention.ms".into(),
                    value: Some("604800000".into()),
                    source: ConfigSource::DefaultConfig,
                    read_only: false,
                    is_sensitive: false,
                },
            ],
        };
        let refused = CreateTopicResult {
            name: "placed".into(),
            topic_id: Uuid::ZERO,
            error: error(ErrorCode::InvalidReplicaAssignment, "no broker 3"),
            num_partitions: -1,
            replication_factor: -1,
            configs: Vec::new(),
        };
        let validated = CreateTopicResult {
            name: "sized".into(),
            topic_id: Uuid::ZERO,
            error: ApiError::NONE,
            num_partitions: 6,
            replication_factor: 3,
            configs: Vec::new(),
        };
        let reply = ControllerReply::CreateTopics(CreateTopicsReply {
            topics: vec![created, refused, validated],
        });
        let ResponseBody::CreateTopics(r) =
            encoded(&response_to_wire(&body, version, reply), version)
        else {
            panic!()
        };
        assert_eq!(r.throttle_time_ms, 0);
        let names: Vec<&str> = r.topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["events", "placed", "sized"]);
        let codes: Vec<i16> = r.topics.iter().map(|t| t.error_code).collect();
        assert_eq!(
            codes,
            vec![0, ErrorCode::InvalidReplicaAssignment.code(), 0]
        );
        assert_eq!(r.topics[0].error_message, None);
        assert_eq!(r.topics[1].error_message.as_deref(), Some("no broker 3"));
        let events = &r.topics[0];
        assert_eq!(events.topic_config_error_code, 0);
        if version >= 5 {
            assert_eq!((events.num_partitions, events.replication_factor), (1, 3));
            let configs = events.configs.as_ref().expect("configs");
            let summary: Vec<(&str, Option<&str>, i8)> = configs
                .iter()
                .map(|c| (c.name.as_str(), c.value.as_deref(), c.config_source))
                .collect();
            assert_eq!(
                summary,
                vec![
                    ("cleanup.policy", Some("compact"), 1),
                    ("retention.ms", Some("604800000"), 5)
                ]
            );
            assert!(configs.iter().all(|c| !c.read_only && !c.is_sensitive));
            assert_eq!(r.topics[1].num_partitions, -1);
            assert_eq!(r.topics[1].configs.as_deref().map(<[_]>::len), Some(0));
            assert_eq!(r.topics[2].num_partitions, 6);
        } else {
            // The fields do not exist before v5: they decode as their defaults.
            assert_eq!(events.num_partitions, -1);
        }
        let id = if version >= 7 { uuid(0x0e) } else { Uuid::ZERO };
        assert_eq!(events.topic_id, id);
    }
}

#[test]
fn delete_topics_converts_at_every_version() {
    for version in versions::<DeleteTopicsRequest>() {
        let (body, request) = convert(delete_topics_body(version), version);
        assert_eq!(request_timeout_ms(&body), Some(15_000));
        let ControllerRequest::DeleteTopics(r) = request else {
            panic!("{request:?}")
        };
        if version >= 6 {
            // Both name and id, or neither: answered without the controller.
            assert_eq!(
                r.topics,
                vec![TopicRef::Name("gone".into()), TopicRef::Id(uuid(0x0d))]
            );
        } else {
            assert_eq!(
                r.topics,
                vec![TopicRef::Name("gone".into()), TopicRef::Name("kept".into())]
            );
        }
    }
}

#[test]
fn delete_topics_answers_every_entry_in_request_order() {
    for version in versions::<DeleteTopicsRequest>() {
        let body = over_the_wire(delete_topics_body(version), version);
        let gone = DeleteTopicResult {
            topic: TopicRef::Name("gone".into()),
            name: Some("gone".into()),
            topic_id: uuid(0x0a),
            error: ApiError::NONE,
        };
        let second = if version >= 6 {
            DeleteTopicResult {
                topic: TopicRef::Id(uuid(0x0d)),
                name: Some("orders".into()),
                topic_id: uuid(0x0d),
                error: ApiError::NONE,
            }
        } else {
            DeleteTopicResult {
                topic: TopicRef::Name("kept".into()),
                name: None,
                topic_id: Uuid::ZERO,
                error: ApiError::code_only(ErrorCode::UnknownTopicOrPartition),
            }
        };
        let reply = ControllerReply::DeleteTopics(DeleteTopicsReply {
            topics: vec![gone, second],
        });
        let ResponseBody::DeleteTopics(r) =
            encoded(&response_to_wire(&body, version, reply), version)
        else {
            panic!()
        };
        let rows: Vec<(Option<&str>, Uuid, i16)> = r
            .responses
            .iter()
            .map(|t| (t.name.as_deref(), t.topic_id, t.error_code))
            .collect();
        if version >= 6 {
            assert_eq!(
                rows,
                vec![
                    (Some("gone"), uuid(0x0a), 0),
                    (Some("orders"), uuid(0x0d), 0),
                    (None, Uuid::ZERO, 42),
                    (Some("both"), uuid(0x0e), 42),
                ]
            );
            assert_eq!(
                r.responses[2].error_message.as_deref(),
                Some("Neither topic name nor id were specified.")
            );
            assert_eq!(
                r.responses[3].error_message.as_deref(),
                Some("You may not specify both topic name and topic id.")
            );
        } else {
            // TopicId does not exist before v6.
            assert_eq!(
                rows,
                vec![(Some("gone"), Uuid::ZERO, 0), (Some("kept"), Uuid::ZERO, 3)]
            );
            assert!(r.responses.iter().all(|t| t.error_message.is_none()));
        }
    }
}

#[test]
fn create_partitions_converts_and_answers_at_every_version() {
    for version in versions::<CreatePartitionsRequest>() {
        let (body, request) = convert(create_partitions_body(), version);
        assert_eq!(request_timeout_ms(&body), Some(5_000));
        let ControllerRequest::CreatePartitions(r) = request else {
            panic!("{request:?}")
        };
        assert!(!r.validate_only);
        let topic = |name: &str, count: i32, assignments: Option<Vec<Vec<i32>>>| {
            controller::CreatePartitionsTopic {
                name: name.into(),
                count,
                assignments,
            }
        };
        assert_eq!(
            r.topics,
            vec![
                topic("a", 3, None),
                topic("b", 4, Some(vec![vec![1, 2], vec![2, 3]])),
                topic("c", 2, Some(Vec::new())),
            ]
        );

        let result = |name: &str, error: ApiError| CreatePartitionsResult {
            name: name.into(),
            error,
        };
        let reply = ControllerReply::CreatePartitions(CreatePartitionsReply {
            topics: vec![
                result("a", ApiError::NONE),
                result("b", error(ErrorCode::InvalidReplicaAssignment, "bad")),
                result("c", error(ErrorCode::InvalidPartitions, "no increase")),
            ],
        });
        let ResponseBody::CreatePartitions(r) =
            encoded(&response_to_wire(&body, version, reply), version)
        else {
            panic!()
        };
        let rows: Vec<(&str, i16, Option<&str>)> = r
            .results
            .iter()
            .map(|t| (t.name.as_str(), t.error_code, t.error_message.as_deref()))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("a", 0, None),
                ("b", 39, Some("bad")),
                ("c", 37, Some("no increase")),
            ]
        );
    }
}

#[test]
fn incremental_alter_configs_refuses_what_kafka_refuses_before_its_controller() {
    for version in versions::<IncrementalAlterConfigsRequest>() {
        let (body, request) = convert(incremental_body(), version);
        assert_eq!(request_timeout_ms(&body), None);
        let ControllerRequest::IncrementalAlterConfigs(r) = request else {
            panic!("{request:?}")
        };
        assert!(r.validate_only);
        // The unknown type, the unknown operation and the null values never reach it.
        assert_eq!(
            r.resources,
            vec![
                (
                    ConfigResource::topic("orders"),
                    vec![
                        ConfigOp {
                            name: "retention.ms".into(),
                            op: AlterConfigOp::Set,
                            value: Some("1000".into()),
                        },
                        ConfigOp {
                            name: "segment.ms".into(),
                            op: AlterConfigOp::Delete,
                            value: None,
                        },
                        ConfigOp {
                            name: "cleanup.policy".into(),
                            op: AlterConfigOp::Append,
                            value: Some("compact".into()),
                        },
                    ]
                ),
                (
                    ConfigResource {
                        resource_type: RESOURCE_BROKER_LOGGER,
                        name: "1".into(),
                    },
                    vec![ConfigOp {
                        name: "kafka".into(),
                        op: AlterConfigOp::Set,
                        value: Some("DEBUG".into()),
                    }]
                ),
            ]
        );

        let reply = ControllerReply::AlterConfigs(AlterConfigsReply {
            resources: vec![
                AlterConfigsResult {
                    resource: ConfigResource::topic("orders"),
                    error: ApiError::NONE,
                },
                AlterConfigsResult {
                    resource: ConfigResource {
                        resource_type: RESOURCE_BROKER_LOGGER,
                        name: "1".into(),
                    },
                    error: error(ErrorCode::InvalidRequest, "Unsupported resource type 8"),
                },
            ],
        });
        let ResponseBody::IncrementalAlterConfigs(r) =
            encoded(&response_to_wire(&body, version, reply), version)
        else {
            panic!()
        };
        let rows: Vec<(i8, &str, i16)> = r
            .responses
            .iter()
            .map(|t| (t.resource_type, t.resource_name.as_str(), t.error_code))
            .collect();
        assert_eq!(
            rows,
            vec![
                (RESOURCE_TOPIC, "orders", 0),
                (99, "weird", 35),
                (RESOURCE_BROKER, "", 42),
                (RESOURCE_BROKER, "1", 42),
                (RESOURCE_BROKER_LOGGER, "1", 42),
            ]
        );
        let messages: Vec<Option<&str>> = r
            .responses
            .iter()
            .map(|t| t.error_message.as_deref())
            .collect();
        assert_eq!(
            messages,
            vec![
                None,
                Some("Unknown resource type 99."),
                Some("Unknown operation 7 for config a.b."),
                Some("Null value not supported for : a.b, c.d"),
                Some("Unsupported resource type 8"),
            ]
        );
    }
}

#[test]
fn alter_configs_refuses_unknown_resource_types_before_the_controller() {
    for version in versions::<AlterConfigsRequest>() {
        let (body, request) = convert(alter_configs_body(), version);
        let ControllerRequest::AlterConfigs(r) = request else {
            panic!("{request:?}")
        };
        assert!(!r.validate_only);
        assert_eq!(
            r.resources,
            vec![
                (
                    ConfigResource::topic("orders"),
                    vec![("retention.ms".to_owned(), Some("1000".to_owned()))]
                ),
                // The null value is the controller's to refuse.
                (ConfigResource::broker(""), vec![("a.b".to_owned(), None)]),
            ]
        );
        let reply = ControllerReply::AlterConfigs(AlterConfigsReply {
            resources: vec![
                AlterConfigsResult {
                    resource: ConfigResource::topic("orders"),
                    error: ApiError::NONE,
                },
                AlterConfigsResult {
                    resource: ConfigResource::broker(""),
                    error: error(
                        ErrorCode::InvalidRequest,
                        "Null value not supported for : a.b",
                    ),
                },
            ],
        });
        let ResponseBody::AlterConfigs(r) =
            encoded(&response_to_wire(&body, version, reply), version)
        else {
            panic!()
        };
        let rows: Vec<(i8, &str, i16)> = r
            .responses
            .iter()
            .map(|t| (t.resource_type, t.resource_name.as_str(), t.error_code))
            .collect();
        assert_eq!(
            rows,
            vec![
                (RESOURCE_TOPIC, "orders", 0),
                (0, "unknown-type", 35),
                (RESOURCE_BROKER, "", 42)
            ]
        );
        assert_eq!(
            r.responses[1].error_message.as_deref(),
            Some("Unknown resource type 0.")
        );
    }
}

#[test]
fn describe_configs_converts_at_every_version() {
    for version in versions::<DescribeConfigsRequest>() {
        let (_, request) = convert(describe_configs_body(version), version);
        let ControllerRequest::DescribeConfigs(r) = request else {
            panic!("{request:?}")
        };
        assert!(r.include_defaults, "Kafka always lists defaults");
        assert_eq!(
            r.resources,
            vec![
                (ConfigResource::topic("orders"), None),
                // An empty key list means every key, as a null one does.
                (ConfigResource::broker("1"), None),
                (
                    ConfigResource::topic("missing"),
                    Some(vec!["retention.ms".to_owned()])
                ),
            ]
        );
    }
}

#[test]
fn describe_configs_answers_at_every_version() {
    for version in versions::<DescribeConfigsRequest>() {
        let body = over_the_wire(describe_configs_body(version), version);
        let config = |name: &str, value: &str, source: ConfigSource| DescribedConfig {
            name: name.into(),
            value: Some(value.into()),
            source,
            read_only: false,
            is_sensitive: false,
        };
        let reply = ControllerReply::DescribeConfigs(DescribeConfigsReply {
            resources: vec![
                DescribeConfigsResult {
                    resource: ConfigResource::topic("orders"),
                    error: ApiError::NONE,
                    configs: vec![
                        config(
                            "cleanup.policy",
                            "compact",
                            ConfigSource::DynamicTopicConfig,
                        ),
                        config("retention.ms", "604800000", ConfigSource::DefaultConfig),
                        config(
                            "unclean.leader.election.enable",
                            "false",
                            ConfigSource::DefaultConfig,
                        ),
                    ],
                },
                DescribeConfigsResult {
                    resource: ConfigResource::broker("1"),
                    error: ApiError::NONE,
                    configs: vec![config(
                        "log.cleaner.threads",
                        "2",
                        ConfigSource::DynamicBrokerConfig,
                    )],
                },
                DescribeConfigsResult {
                    resource: ConfigResource::topic("missing"),
                    error: error(
                        ErrorCode::UnknownTopicOrPartition,
                        "The topic 'missing' does not exist.",
                    ),
                    configs: Vec::new(),
                },
            ],
        });
        let ResponseBody::DescribeConfigs(r) =
            encoded(&response_to_wire(&body, version, reply), version)
        else {
            panic!()
        };
        assert_eq!(r.throttle_time_ms, 0);
        let rows: Vec<(i16, i8, &str)> = r
            .results
            .iter()
            .map(|t| (t.error_code, t.resource_type, t.resource_name.as_str()))
            .collect();
        assert_eq!(
            rows,
            vec![
                (0, RESOURCE_TOPIC, "orders"),
                (0, RESOURCE_BROKER, "1"),
                (3, RESOURCE_TOPIC, "missing")
            ]
        );
        assert_eq!(
            r.results[2].error_message.as_deref(),
            Some("The topic 'missing' does not exist.")
        );
        let entries: Vec<(&str, Option<&str>, i8, i8)> = r.results[0]
            .configs
            .iter()
            .chain(&r.results[1].configs)
            .map(|c| {
                (
                    c.name.as_str(),
                    c.value.as_deref(),
                    c.config_source,
                    c.config_type,
                )
            })
            .collect();
        // ConfigType exists from v3: list 7, long 5, boolean 1, int 3 (a broker config's
        // type from Kafka's list).
        let types: [i8; 4] = if version >= 3 { [7, 5, 1, 3] } else { [0; 4] };
        assert_eq!(
            entries,
            vec![
                ("cleanup.policy", Some("compact"), 1, types[0]),
                ("retention.ms", Some("604800000"), 5, types[1]),
                ("unclean.leader.election.enable", Some("false"), 5, types[2]),
                ("log.cleaner.threads", Some("2"), 2, types[3]),
            ]
        );
        for c in r.results.iter().flat_map(|t| &t.configs) {
            assert!(c.synonyms.is_empty() && !c.read_only && !c.is_sensitive && !c.is_default);
            if version >= 3 {
                assert_eq!(c.documentation, None);
            }
        }
    }
}

// ---- Whole-request errors ----

#[test]
fn error_responses_encode_and_answer_every_item_with_the_code() {
    for (body, version) in every_controller_request() {
        let body = over_the_wire(body, version);
        for code in [
            ErrorCode::NotController,
            ErrorCode::RequestTimedOut,
            ErrorCode::UnknownServerError,
        ] {
            let response = encoded(
                &error_response(&body, version, code, Some("not now")),
                version,
            );
            let codes = item_codes(&response);
            let expected = match body {
                RequestBody::AlterPartition(_) => 1,
                _ => request_items(&body, version),
            };
            assert_eq!(codes.len(), expected, "{:?} v{version}", body.api_key());
            assert!(
                codes.iter().all(|&c| c == code.code()),
                "{:?} v{version}: {codes:?}",
                body.api_key()
            );
            for message in item_messages(&response) {
                // Fields a version lacks decode as their defaults (null or empty).
                assert!(
                    message.is_none()
                        || message.as_deref() == Some("not now")
                        || message.as_deref() == Some(""),
                    "{:?} v{version}: {message:?}",
                    body.api_key()
                );
            }
        }
    }
}

#[test]
fn error_responses_carry_the_message_where_the_version_has_one() {
    let with_message = [
        (create_topics_body(), 2),
        (create_topics_body(), 7),
        (delete_topics_body(5), 5),
        (delete_topics_body(6), 6),
        (create_partitions_body(), 0),
        (incremental_body(), 0),
        (alter_configs_body(), 2),
        (describe_configs_body(1), 1),
        (unregister_body(1), 0),
    ];
    for (body, version) in with_message {
        let body = over_the_wire(body, version);
        let response = encoded(
            &error_response(&body, version, ErrorCode::NotController, Some("ask node 2")),
            version,
        );
        let messages = item_messages(&response);
        assert!(!messages.is_empty());
        assert!(
            messages.iter().all(|m| m.as_deref() == Some("ask node 2")),
            "{:?} v{version}: {messages:?}",
            body.api_key()
        );
    }
    // DeleteTopics before v5 has no message field: it is left out, not refused.
    let body = over_the_wire(delete_topics_body(4), 4);
    let response = encoded(
        &error_response(&body, 4, ErrorCode::NotController, Some("ask node 2")),
        4,
    );
    assert_eq!(item_codes(&response), vec![41, 41]);
}

#[test]
fn non_controller_requests_are_not_converted() {
    let metadata = RequestBody::Metadata(MetadataRequest::default());
    for version in versions::<MetadataRequest>() {
        assert_eq!(request_from_wire(&metadata, version), None);
    }
    assert_eq!(request_timeout_ms(&metadata), None);
}

#[test]
#[should_panic(expected = "not a controller API")]
fn an_error_response_for_a_non_controller_request_is_a_bug() {
    let metadata = RequestBody::Metadata(MetadataRequest::default());
    error_response(&metadata, 12, ErrorCode::NotController, None);
}

#[test]
#[should_panic(expected = "cannot answer")]
fn a_reply_for_another_api_is_a_bug() {
    let reply = ControllerReply::UnregisterBroker(UnregisterBrokerReply {
        error: ApiError::NONE,
    });
    response_to_wire(&heartbeat_body(0), 0, reply);
}

#[test]
#[should_panic(expected = "answers every item")]
fn a_reply_with_too_few_results_is_a_bug() {
    let reply = ControllerReply::CreatePartitions(CreatePartitionsReply { topics: Vec::new() });
    response_to_wire(&create_partitions_body(), 0, reply);
}

#[test]
#[should_panic(expected = "more items")]
fn a_reply_with_too_many_results_is_a_bug() {
    let body = delete_topics_body(6);
    let extra = DeleteTopicResult {
        topic: TopicRef::Name("x".into()),
        name: None,
        topic_id: Uuid::ZERO,
        error: ApiError::NONE,
    };
    // The request has two entries for the controller; three results is one too many.
    let reply = ControllerReply::DeleteTopics(DeleteTopicsReply {
        topics: vec![extra.clone(), extra.clone(), extra],
    });
    response_to_wire(&body, 6, reply);
}

// ---- Hostile but decodable requests ----

/// Converts `body` (as received), answers it with replies of several codes and with error
/// responses, and checks that every answer encodes and has one entry per item.
fn answer_everything(body: RequestBody, version: i16) {
    let body = over_the_wire(body, version);
    let converted = request_from_wire(&body, version).expect("a controller API");
    match converted {
        Err(response) => {
            encoded(&response, version);
        }
        Ok(request) => {
            for code in [
                ErrorCode::None,
                ErrorCode::InvalidRequest,
                ErrorCode::IneligibleReplica,
            ] {
                let response = response_to_wire(&body, version, mirror_reply(&request, code));
                let response = encoded(&response, version);
                assert_eq!(item_codes(&response).len(), request_items(&body, version));
            }
        }
    }
    let response = encoded(
        &error_response(&body, version, ErrorCode::NotController, None),
        version,
    );
    assert!(
        item_codes(&response)
            .iter()
            .all(|&c| c == ErrorCode::NotController.code())
    );
}

#[test]
fn hostile_but_decodable_requests_are_answered() {
    for version in versions::<CreateTopicsRequest>() {
        answer_everything(
            RequestBody::CreateTopics(CreateTopicsRequest {
                topics: vec![
                    create_topics_request::CreatableTopic {
                        name: String::new(),
                        num_partitions: i32::MIN,
                        replication_factor: i16::MIN,
                        assignments: vec![create_topics_request::CreatableReplicaAssignment {
                            partition_index: -1,
                            broker_ids: Vec::new(),
                            ..Default::default()
                        }],
                        configs: vec![create_topics_request::CreatableTopicConfig {
                            name: String::new(),
                            value: None,
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    create_topics_request::CreatableTopic {
                        name: "x".repeat(WIRE_STRING_BYTES_MAX),
                        num_partitions: i32::MAX,
                        replication_factor: i16::MAX,
                        ..Default::default()
                    },
                ],
                timeout_ms: i32::MIN,
                ..Default::default()
            }),
            version,
        );
        answer_everything(
            RequestBody::CreateTopics(CreateTopicsRequest::default()),
            version,
        );
    }
    for version in versions::<AlterPartitionRequest>() {
        answer_everything(
            RequestBody::AlterPartition(AlterPartitionRequest {
                broker_id: i32::MIN,
                broker_epoch: i64::MIN,
                topics: vec![
                    alter_partition_request::TopicData::default(),
                    alter_partition_request::TopicData {
                        partitions: vec![alter_partition_request::PartitionData {
                            partition_index: -1,
                            leader_epoch: i32::MIN,
                            leader_recovery_state: if version >= 1 { i8::MIN } else { 0 },
                            partition_epoch: i32::MAX,
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            version,
        );
    }
    for version in versions::<DeleteTopicsRequest>() {
        answer_everything(
            RequestBody::DeleteTopics(DeleteTopicsRequest::default()),
            version,
        );
        answer_everything(delete_topics_body(version), version);
    }
    // Every entry refused before the controller: it gets an empty request.
    let body = RequestBody::DeleteTopics(DeleteTopicsRequest {
        topics: vec![delete_topics_request::DeleteTopicState {
            name: None,
            topic_id: Uuid::ZERO,
            ..Default::default()
        }],
        ..Default::default()
    });
    let (_, request) = convert(body.clone(), 6);
    assert_eq!(
        request,
        ControllerRequest::DeleteTopics(controller::DeleteTopicsRequest { topics: Vec::new() })
    );
    answer_everything(body, 6);
    for version in versions::<IncrementalAlterConfigsRequest>() {
        answer_everything(
            RequestBody::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
                resources: vec![
                    incremental_resource(i8::MIN, "", vec![incremental_config("", i8::MIN, None)]),
                    incremental_resource(RESOURCE_TOPIC, "", Vec::new()),
                ],
                ..Default::default()
            }),
            version,
        );
    }
    for version in versions::<DescribeConfigsRequest>() {
        answer_everything(
            RequestBody::DescribeConfigs(DescribeConfigsRequest::default()),
            version,
        );
    }
    for version in versions::<CreatePartitionsRequest>() {
        answer_everything(
            RequestBody::CreatePartitions(CreatePartitionsRequest {
                topics: vec![create_partitions_request::CreatePartitionsTopic {
                    name: String::new(),
                    count: i32::MIN,
                    assignments: Some(vec![
                        create_partitions_request::CreatePartitionsAssignment::default(),
                    ]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            version,
        );
    }
}

#[test]
fn overlong_messages_are_cut_to_fit_a_wire_string() {
    // 'é' is two bytes: the cut must fall on a character boundary.
    let message = "é".repeat(WIRE_STRING_BYTES_MAX);
    for version in versions::<CreatePartitionsRequest>() {
        let body = create_partitions_body();
        let reply = ControllerReply::CreatePartitions(CreatePartitionsReply {
            topics: ["a", "b", "c"]
                .iter()
                .map(|&name| CreatePartitionsResult {
                    name: name.into(),
                    error: error(ErrorCode::InvalidPartitions, &message),
                })
                .collect(),
        });
        let ResponseBody::CreatePartitions(r) =
            encoded(&response_to_wire(&body, version, reply), version)
        else {
            panic!()
        };
        for result in &r.results {
            let cut = result.error_message.as_deref().expect("a message");
            assert!(cut.len() <= WIRE_STRING_BYTES_MAX && cut.len() >= WIRE_STRING_BYTES_MAX - 1);
            assert!(message.starts_with(cut));
        }
        let response = error_response(&body, version, ErrorCode::NotController, Some(&message));
        encoded(&response, version);
    }
}

/// Arbitrary decodable requests of one API, each with the version it is encoded at.
fn arbitrary_requests<M: Message + 'static>(
    arbitrary: fn(i16) -> BoxedStrategy<M>,
    wrap: fn(M) -> RequestBody,
) -> impl Strategy<Value = (RequestBody, i16)> {
    let range = M::VERSIONS;
    (*range.start()..=*range.end())
        .prop_flat_map(move |version| arbitrary(version).prop_map(move |m| (wrap(m), version)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_registrations_are_answered(
        (body, version) in arbitrary_requests(BrokerRegistrationRequest::arbitrary, RequestBody::BrokerRegistration)
    ) {
        answer_everything(body, version);
    }

    #[test]
    fn arbitrary_heartbeats_are_answered(
        (body, version) in arbitrary_requests(BrokerHeartbeatRequest::arbitrary, RequestBody::BrokerHeartbeat)
    ) {
        answer_everything(body, version);
    }

    #[test]
    fn arbitrary_unregistrations_are_answered(
        (body, version) in arbitrary_requests(UnregisterBrokerRequest::arbitrary, RequestBody::UnregisterBroker)
    ) {
        answer_everything(body, version);
    }

    #[test]
    fn arbitrary_alter_partitions_are_answered(
        (body, version) in arbitrary_requests(AlterPartitionRequest::arbitrary, RequestBody::AlterPartition)
    ) {
        answer_everything(body, version);
    }

    #[test]
    fn arbitrary_create_topics_are_answered(
        (body, version) in arbitrary_requests(CreateTopicsRequest::arbitrary, RequestBody::CreateTopics)
    ) {
        answer_everything(body, version);
    }

    #[test]
    fn arbitrary_delete_topics_are_answered(
        (body, version) in arbitrary_requests(DeleteTopicsRequest::arbitrary, RequestBody::DeleteTopics)
    ) {
        answer_everything(body, version);
    }

    #[test]
    fn arbitrary_create_partitions_are_answered(
        (body, version) in arbitrary_requests(CreatePartitionsRequest::arbitrary, RequestBody::CreatePartitions)
    ) {
        answer_everything(body, version);
    }

    #[test]
    fn arbitrary_incremental_alter_configs_are_answered(
        (body, version) in arbitrary_requests(IncrementalAlterConfigsRequest::arbitrary, RequestBody::IncrementalAlterConfigs)
    ) {
        answer_everything(body, version);
    }

    #[test]
    fn arbitrary_alter_configs_are_answered(
        (body, version) in arbitrary_requests(AlterConfigsRequest::arbitrary, RequestBody::AlterConfigs)
    ) {
        answer_everything(body, version);
    }

    #[test]
    fn arbitrary_describe_configs_are_answered(
        (body, version) in arbitrary_requests(DescribeConfigsRequest::arbitrary, RequestBody::DescribeConfigs)
    ) {
        answer_everything(body, version);
    }
}

// ---- With the real controller ----

/// A node stand-in: one active controller, an in-memory log committed at once.
struct Harness {
    controller: Controller,
    log: Vec<Vec<u8>>,
    next_id: u8,
}

impl Harness {
    fn new() -> Harness {
        let mut controller = Controller::new(ControllerConfig::new(CLUSTER), Image::new());
        controller.activate(0);
        Harness {
            controller,
            log: Vec::new(),
            next_id: 0x10,
        }
    }

    /// Receives `body` at `version` and answers it as a node would; returns the response as
    /// the client decodes it.
    fn serve(&mut self, body: RequestBody, version: i16) -> ResponseBody {
        let body = over_the_wire(body, version);
        let response = match request_from_wire(&body, version).expect("a controller API") {
            Err(response) => response,
            Ok(request) => {
                let reply = self.dispatch(request);
                response_to_wire(&body, version, reply)
            }
        };
        encoded(&response, version)
    }

    fn dispatch(&mut self, request: ControllerRequest) -> ControllerReply {
        let next = self.log.len() as u64;
        let now = 0;
        let mut ids = self.next_id;
        let mut new_id = || {
            ids = ids.wrapping_add(1);
            uuid(ids)
        };
        let c = &mut self.controller;
        let (records, reply) = match request {
            ControllerRequest::RegisterBroker(r) => {
                let o = c.register_broker(now, next, &r);
                (o.records, ControllerReply::RegisterBroker(o.reply))
            }
            ControllerRequest::Heartbeat(r) => {
                let o = c.broker_heartbeat(now, next, &r);
                (o.records, ControllerReply::Heartbeat(o.reply))
            }
            ControllerRequest::UnregisterBroker { broker_id } => {
                let o = c.unregister_broker(next, broker_id);
                (o.records, ControllerReply::UnregisterBroker(o.reply))
            }
            ControllerRequest::AlterPartition(r) => {
                let o = c.alter_partition(next, &r);
                (o.records, ControllerReply::AlterPartition(o.reply))
            }
            ControllerRequest::CreateTopics(r) => {
                let o = c.create_topics(next, &r, &mut new_id);
                (o.records, ControllerReply::CreateTopics(o.reply))
            }
            ControllerRequest::DeleteTopics(r) => {
                let o = c.delete_topics(next, &r);
                (o.records, ControllerReply::DeleteTopics(o.reply))
            }
            ControllerRequest::CreatePartitions(r) => {
                let o = c.create_partitions(next, &r);
                (o.records, ControllerReply::CreatePartitions(o.reply))
            }
            ControllerRequest::IncrementalAlterConfigs(r) => {
                let o = c.incremental_alter_configs(next, &r);
                (o.records, ControllerReply::AlterConfigs(o.reply))
            }
            ControllerRequest::AlterConfigs(r) => {
                let o = c.alter_configs(next, &r);
                (o.records, ControllerReply::AlterConfigs(o.reply))
            }
            ControllerRequest::DescribeConfigs(r) => (
                Vec::new(),
                ControllerReply::DescribeConfigs(c.describe_configs(&r)),
            ),
        };
        self.next_id = ids;
        for record in records {
            let offset = self.log.len() as u64;
            let decoded = MetadataRecord::decode_at(offset, &record).expect("a valid record");
            self.controller.replay(offset, &decoded).expect("applies");
            self.log.push(record);
        }
        reply
    }

    /// Registers `broker_id` (BrokerRegistration v4) and heartbeats it unfenced (v1).
    fn bring_up(&mut self, broker_id: i32) -> i64 {
        let RequestBody::BrokerRegistration(mut registration) = registration_body() else {
            unreachable!()
        };
        registration.broker_id = broker_id;
        registration.incarnation_id = uuid(0x80 + broker_id as u8);
        registration.log_dirs.clear();
        let ResponseBody::BrokerRegistration(r) =
            self.serve(RequestBody::BrokerRegistration(registration), 4)
        else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
        let epoch = r.broker_epoch;
        let heartbeat = BrokerHeartbeatRequest {
            broker_id,
            broker_epoch: epoch,
            current_metadata_offset: self.log.len() as i64,
            ..Default::default()
        };
        let ResponseBody::BrokerHeartbeat(r) =
            self.serve(RequestBody::BrokerHeartbeat(heartbeat), 1)
        else {
            panic!()
        };
        assert_eq!((r.error_code, r.is_fenced), (0, false));
        epoch
    }
}

#[test]
fn a_cluster_served_over_the_wire() {
    let mut node = Harness::new();
    let epochs: Vec<i64> = (1..=3).map(|id| node.bring_up(id)).collect();

    // CreateTopics v7: a topic, a name given twice, the metadata topic.
    let topic = |name: &str| create_topics_request::CreatableTopic {
        name: name.into(),
        num_partitions: 3,
        replication_factor: 2,
        configs: vec![create_topics_request::CreatableTopicConfig {
            name: "cleanup.policy".into(),
            value: Some("compact".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let create = RequestBody::CreateTopics(CreateTopicsRequest {
        topics: vec![
            topic("orders"),
            topic("twice"),
            topic("twice"),
            topic(controller::METADATA_TOPIC_NAME),
        ],
        timeout_ms: 1000,
        ..Default::default()
    });
    let ResponseBody::CreateTopics(r) = node.serve(create, 7) else {
        panic!()
    };
    assert_eq!(
        item_codes(&ResponseBody::CreateTopics(r.clone())),
        vec![0, 42, 42, 42]
    );
    let orders = &r.topics[0];
    assert_ne!(orders.topic_id, Uuid::ZERO);
    assert_eq!((orders.num_partitions, orders.replication_factor), (3, 2));
    let policy = orders
        .configs
        .iter()
        .flatten()
        .find(|c| c.name == "cleanup.policy")
        .expect("listed");
    assert_eq!(
        (policy.value.as_deref(), policy.config_source),
        (Some("compact"), 1)
    );

    // DescribeConfigs v4, one key.
    let describe = RequestBody::DescribeConfigs(DescribeConfigsRequest {
        resources: vec![describe_configs_request::DescribeConfigsResource {
            resource_type: RESOURCE_TOPIC,
            resource_name: "orders".into(),
            configuration_keys: Some(vec!["cleanup.policy".into()]),
            ..Default::default()
        }],
        ..Default::default()
    });
    let ResponseBody::DescribeConfigs(r) = node.serve(describe, 4) else {
        panic!()
    };
    let entry = &r.results[0].configs[0];
    assert_eq!(
        (
            entry.name.as_str(),
            entry.value.as_deref(),
            entry.config_source,
            entry.config_type
        ),
        ("cleanup.policy", Some("compact"), 1, 7)
    );

    // IncrementalAlterConfigs v1: one change, one unknown type, one unknown operation.
    let alter = RequestBody::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
        resources: vec![
            incremental_resource(
                RESOURCE_TOPIC,
                "orders",
                vec![incremental_config("retention.ms", 0, Some("1000"))],
            ),
            incremental_resource(77, "orders", Vec::new()),
            incremental_resource(
                RESOURCE_TOPIC,
                "orders",
                vec![incremental_config("retention.ms", 9, Some("1"))],
            ),
        ],
        ..Default::default()
    });
    assert_eq!(item_codes(&node.serve(alter, 1)), vec![0, 35, 42]);

    // AlterPartition v3 from the leader of orders-0: shrink the ISR to the leader.
    let topic_id = node
        .controller
        .latest()
        .topic_id("orders")
        .expect("created");
    let p0 = node
        .controller
        .latest()
        .partition(&topic_id, 0)
        .expect("exists");
    let (leader, leader_epoch, partition_epoch) =
        (p0.leader(), p0.leader_epoch(), p0.partition_epoch());
    let alter_partition = RequestBody::AlterPartition(AlterPartitionRequest {
        broker_id: leader,
        broker_epoch: epochs[(leader - 1) as usize],
        topics: vec![alter_partition_request::TopicData {
            topic_id,
            partitions: vec![alter_partition_request::PartitionData {
                partition_index: 0,
                leader_epoch,
                new_isr_with_epochs: vec![alter_partition_request::BrokerState {
                    broker_id: leader,
                    broker_epoch: epochs[(leader - 1) as usize],
                    ..Default::default()
                }],
                partition_epoch,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let ResponseBody::AlterPartition(r) = node.serve(alter_partition, 3) else {
        panic!()
    };
    let p = &r.topics[0].partitions[0];
    assert_eq!((r.error_code, p.error_code), (0, 0));
    assert_eq!(
        (p.isr.clone(), p.partition_epoch),
        (vec![leader], partition_epoch + 1)
    );
    assert_eq!(r.topics[0].topic_id, topic_id);

    // AlterPartition v1 (by name) proposing a fenced replica: OPERATION_NOT_ATTEMPTED.
    let p1 = node
        .controller
        .latest()
        .partition(&topic_id, 1)
        .expect("exists");
    let leader = p1.leader();
    let other = *p1
        .replicas()
        .iter()
        .find(|&&id| id != leader)
        .expect("rf 2");
    let fence = BrokerHeartbeatRequest {
        broker_id: other,
        broker_epoch: epochs[(other - 1) as usize],
        current_metadata_offset: node.log.len() as i64,
        want_fence: true,
        ..Default::default()
    };
    let ResponseBody::BrokerHeartbeat(r) = node.serve(RequestBody::BrokerHeartbeat(fence), 0)
    else {
        panic!()
    };
    assert!(r.is_fenced);
    let p1 = node
        .controller
        .latest()
        .partition(&topic_id, 1)
        .expect("exists");
    let alter_partition = RequestBody::AlterPartition(AlterPartitionRequest {
        broker_id: leader,
        broker_epoch: epochs[(leader - 1) as usize],
        topics: vec![alter_partition_request::TopicData {
            topic_name: "orders".into(),
            partitions: vec![alter_partition_request::PartitionData {
                partition_index: 1,
                leader_epoch: p1.leader_epoch(),
                new_isr: vec![leader, other],
                leader_recovery_state: 0,
                partition_epoch: p1.partition_epoch(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let ResponseBody::AlterPartition(r) = node.serve(alter_partition, 1) else {
        panic!()
    };
    assert_eq!(r.topics[0].topic_name, "orders");
    assert_eq!(r.topics[0].partitions[0].error_code, 55);

    // DeleteTopics v6: by name, neither, both, an unknown id.
    let state = |name: Option<&str>, topic_id: Uuid| delete_topics_request::DeleteTopicState {
        name: name.map(str::to_owned),
        topic_id,
        ..Default::default()
    };
    let delete = RequestBody::DeleteTopics(DeleteTopicsRequest {
        topics: vec![
            state(Some("orders"), Uuid::ZERO),
            state(None, Uuid::ZERO),
            state(Some("orders"), topic_id),
            state(None, uuid(0x77)),
        ],
        timeout_ms: 1000,
        ..Default::default()
    });
    let ResponseBody::DeleteTopics(r) = node.serve(delete, 6) else {
        panic!()
    };
    let rows: Vec<(Option<&str>, Uuid, i16)> = r
        .responses
        .iter()
        .map(|t| (t.name.as_deref(), t.topic_id, t.error_code))
        .collect();
    assert_eq!(
        rows,
        vec![
            (Some("orders"), topic_id, 0),
            (None, Uuid::ZERO, 42),
            (Some("orders"), topic_id, 42),
            (None, uuid(0x77), 100),
        ]
    );
    assert!(node.controller.latest().topic_id("orders").is_none());

    // UnregisterBroker v0, twice.
    assert_eq!(item_codes(&node.serve(unregister_body(3), 0)), vec![0]);
    let ResponseBody::UnregisterBroker(r) = node.serve(unregister_body(3), 0) else {
        panic!()
    };
    assert_eq!(r.error_code, ErrorCode::BrokerIdNotRegistered.code());
    assert!(r.error_message.is_some());

    // A ZooKeeper broker never reaches the controller.
    let RequestBody::BrokerRegistration(mut zk) = registration_body() else {
        unreachable!()
    };
    zk.broker_id = 9;
    zk.is_migrating_zk_broker = true;
    let before = node.log.len();
    assert_eq!(
        item_codes(&node.serve(RequestBody::BrokerRegistration(zk), 4)),
        vec![ErrorCode::BrokerIdNotRegistered.code()]
    );
    assert_eq!(node.log.len(), before);
}
