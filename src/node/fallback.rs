//! The answer of last resort. A response keel builds is narrowed to the request's version
//! before it is encoded ([`crate::protocol::Message::narrow_to_version`]), so it always
//! encodes; if one still does not, that is a bug, and the request gets the response built
//! here instead of a panic of the node: `UNKNOWN_SERVER_ERROR`, where the API has a top-level
//! error code, or on every item the failed answer named (topics, resources), echoing only
//! their names. Pure.

use crate::protocol::messages::*;
use crate::protocol::{ErrorCode, ResponseBody};

/// The `UNKNOWN_SERVER_ERROR` answer that stands in for `failed`, of the same API.
pub fn unknown_server_error(failed: &ResponseBody) -> ResponseBody {
    let code = ErrorCode::UnknownServerError.code();
    let message = || Some(ErrorCode::UnknownServerError.meaning().to_owned());
    match failed {
        ResponseBody::Fetch(_) => ResponseBody::Fetch(FetchResponse {
            error_code: code,
            ..Default::default()
        }),
        ResponseBody::Produce(r) => ResponseBody::Produce(ProduceResponse {
            responses: r
                .responses
                .iter()
                .map(|t| produce_response::TopicProduceResponse {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    partition_responses: t
                        .partition_responses
                        .iter()
                        .map(|p| produce_response::PartitionProduceResponse {
                            index: p.index,
                            error_code: code,
                            base_offset: -1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ResponseBody::ListOffsets(r) => ResponseBody::ListOffsets(ListOffsetsResponse {
            topics: r
                .topics
                .iter()
                .map(|t| list_offsets_response::ListOffsetsTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| list_offsets_response::ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            error_code: code,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ResponseBody::FindCoordinator(r) => {
            ResponseBody::FindCoordinator(FindCoordinatorResponse {
                error_code: code,
                error_message: message(),
                node_id: -1,
                port: -1,
                coordinators: r
                    .coordinators
                    .iter()
                    .map(|c| find_coordinator_response::Coordinator {
                        key: c.key.clone(),
                        node_id: -1,
                        port: -1,
                        error_code: code,
                        error_message: message(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        ResponseBody::Metadata(r) => ResponseBody::Metadata(MetadataResponse {
            error_code: code,
            topics: r
                .topics
                .iter()
                .map(|t| metadata_response::MetadataResponseTopic {
                    error_code: code,
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ResponseBody::ApiVersions(_) => ResponseBody::ApiVersions(ApiVersionsResponse {
            error_code: code,
            ..Default::default()
        }),
        ResponseBody::CreateTopics(r) => ResponseBody::CreateTopics(CreateTopicsResponse {
            topics: r
                .topics
                .iter()
                .map(|t| create_topics_response::CreatableTopicResult {
                    name: t.name.clone(),
                    error_code: code,
                    error_message: message(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ResponseBody::DeleteTopics(r) => ResponseBody::DeleteTopics(DeleteTopicsResponse {
            responses: r
                .responses
                .iter()
                .map(|t| delete_topics_response::DeletableTopicResult {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    error_code: code,
                    error_message: message(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ResponseBody::DescribeConfigs(r) => {
            ResponseBody::DescribeConfigs(DescribeConfigsResponse {
                results: r
                    .results
                    .iter()
                    .map(|res| describe_configs_response::DescribeConfigsResult {
                        error_code: code,
                        error_message: message(),
                        resource_type: res.resource_type,
                        resource_name: res.resource_name.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        ResponseBody::AlterConfigs(r) => ResponseBody::AlterConfigs(AlterConfigsResponse {
            responses: r
                .responses
                .iter()
                .map(|res| alter_configs_response::AlterConfigsResourceResponse {
                    error_code: code,
                    error_message: message(),
                    resource_type: res.resource_type,
                    resource_name: res.resource_name.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ResponseBody::CreatePartitions(r) => {
            ResponseBody::CreatePartitions(CreatePartitionsResponse {
                results: r
                    .results
                    .iter()
                    .map(
                        |t| create_partitions_response::CreatePartitionsTopicResult {
                            name: t.name.clone(),
                            error_code: code,
                            error_message: message(),
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            })
        }
        ResponseBody::IncrementalAlterConfigs(r) => {
            ResponseBody::IncrementalAlterConfigs(IncrementalAlterConfigsResponse {
                responses: r
                    .responses
                    .iter()
                    .map(
                        |res| incremental_alter_configs_response::AlterConfigsResourceResponse {
                            error_code: code,
                            error_message: message(),
                            resource_type: res.resource_type,
                            resource_name: res.resource_name.clone(),
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            })
        }
        ResponseBody::Vote(_) => ResponseBody::Vote(VoteResponse {
            error_code: code,
            ..Default::default()
        }),
        ResponseBody::BeginQuorumEpoch(_) => {
            ResponseBody::BeginQuorumEpoch(BeginQuorumEpochResponse {
                error_code: code,
                ..Default::default()
            })
        }
        ResponseBody::EndQuorumEpoch(_) => ResponseBody::EndQuorumEpoch(EndQuorumEpochResponse {
            error_code: code,
            ..Default::default()
        }),
        ResponseBody::DescribeQuorum(_) => ResponseBody::DescribeQuorum(DescribeQuorumResponse {
            error_code: code,
            error_message: message(),
            ..Default::default()
        }),
        ResponseBody::AlterPartition(_) => ResponseBody::AlterPartition(AlterPartitionResponse {
            error_code: code,
            ..Default::default()
        }),
        ResponseBody::FetchSnapshot(_) => ResponseBody::FetchSnapshot(FetchSnapshotResponse {
            error_code: code,
            ..Default::default()
        }),
        ResponseBody::DescribeCluster(_) => {
            ResponseBody::DescribeCluster(DescribeClusterResponse {
                error_code: code,
                error_message: message(),
                ..Default::default()
            })
        }
        ResponseBody::BrokerRegistration(_) => {
            ResponseBody::BrokerRegistration(BrokerRegistrationResponse {
                error_code: code,
                broker_epoch: -1,
                ..Default::default()
            })
        }
        ResponseBody::BrokerHeartbeat(_) => {
            ResponseBody::BrokerHeartbeat(BrokerHeartbeatResponse {
                error_code: code,
                is_fenced: true,
                ..Default::default()
            })
        }
        ResponseBody::UnregisterBroker(_) => {
            ResponseBody::UnregisterBroker(UnregisterBrokerResponse {
                error_code: code,
                error_message: message(),
                ..Default::default()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ApiKey;
    use crate::protocol::envelope::{decode_response_body, encode_response_body};
    use proptest::prelude::*;

    fn any_response() -> impl Strategy<Value = (i16, ResponseBody)> {
        proptest::sample::select(ApiKey::ALL.to_vec()).prop_flat_map(|api| {
            api.versions().prop_flat_map(move |version| {
                (Just(version), ResponseBody::arbitrary(api, version))
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]
        /// Whatever answer failed, its stand-in is of the same API and encodes at the
        /// request's version once narrowed.
        #[test]
        fn the_stand_in_for_any_answer_encodes_at_its_version(
            (version, failed) in any_response()
        ) {
            let mut stand_in = unknown_server_error(&failed);
            prop_assert_eq!(stand_in.api_key(), failed.api_key());
            stand_in.narrow_to_version(version);
            let mut frame = Vec::new();
            encode_response_body(&mut frame, 7, version, &stand_in).unwrap();
            let (correlation_id, decoded) =
                decode_response_body(&frame[4..], stand_in.api_key(), version).unwrap();
            prop_assert_eq!(correlation_id, 7);
            prop_assert_eq!(decoded, stand_in);
        }
    }

    #[test]
    fn the_stand_in_says_unknown_server_error_at_the_top_or_on_every_item() {
        let code = ErrorCode::UnknownServerError.code();
        let ResponseBody::Vote(vote) =
            unknown_server_error(&ResponseBody::Vote(Default::default()))
        else {
            unreachable!()
        };
        assert_eq!(vote.error_code, code);
        let failed = ResponseBody::CreateTopics(CreateTopicsResponse {
            topics: vec![
                create_topics_response::CreatableTopicResult {
                    name: "orders".into(),
                    num_partitions: 3,
                    ..Default::default()
                },
                create_topics_response::CreatableTopicResult {
                    name: "payments".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        let ResponseBody::CreateTopics(created) = unknown_server_error(&failed) else {
            unreachable!()
        };
        let items: Vec<(&str, i16, i32)> = created
            .topics
            .iter()
            .map(|t| (t.name.as_str(), t.error_code, t.num_partitions))
            .collect();
        assert_eq!(items, [("orders", code, -1), ("payments", code, -1)]);
    }
}
