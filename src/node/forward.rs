//! Writes a broker forwards to the active controller, and when the broker may answer them.
//!
//! A broker relays a client's CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs and
//! IncrementalAlterConfigs to the active controller unchanged and relays the answer back. The
//! controller answers only once the records are committed, but the broker's own image may
//! not have applied them yet; a client that creates a topic and at once asks this broker for
//! Metadata must see it. So the broker holds the answer until [`visible_in`] says its image
//! shows every change the answer reports as done (or a deadline passes: a later change by
//! someone else, such as a delete right after the create, may mean it never shows).
//!
//! Pure: a function of the request, the controller's answer and the image.

use crate::metadata::image::{ConfigResource, Image};
use crate::protocol::{ErrorCode, RequestBody, ResponseBody, Uuid};

/// `IncrementalAlterConfigs` operations (Kafka's `AlterConfigOp.OpType`).
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

/// True for the requests a broker forwards to the active controller: the writes, and
/// DescribeQuorum (only the leader knows every replica's progress; Kafka's brokers forward it
/// too). The answer to DescribeQuorum changes nothing, so [`visible_in`] never holds it.
pub fn is_forwarded(request: &RequestBody) -> bool {
    matches!(
        request,
        RequestBody::CreateTopics(_)
            | RequestBody::DeleteTopics(_)
            | RequestBody::CreatePartitions(_)
            | RequestBody::AlterConfigs(_)
            | RequestBody::IncrementalAlterConfigs(_)
            | RequestBody::DescribeQuorum(_)
    )
}

/// True when `image` shows every change `response` reports as done for `request`. Results
/// with errors, and validate-only requests, change nothing and need nothing.
pub fn visible_in(image: &Image, request: &RequestBody, response: &ResponseBody) -> bool {
    let ok = |code: i16| code == ErrorCode::None.code();
    match (request, response) {
        (RequestBody::CreateTopics(request), ResponseBody::CreateTopics(response)) => {
            request.validate_only
                || response
                    .topics
                    .iter()
                    .filter(|t| ok(t.error_code))
                    .all(|t| {
                        image.topic_by_name(&t.name).is_some_and(|topic| {
                            t.topic_id == Uuid::ZERO || topic.id() == t.topic_id
                        })
                    })
        }
        (RequestBody::DeleteTopics(_), ResponseBody::DeleteTopics(response)) => response
            .responses
            .iter()
            .filter(|t| ok(t.error_code))
            .all(|t| {
                let by_name = t.name.as_deref().and_then(|name| image.topic_by_name(name));
                let gone_by_name = by_name.is_none_or(|topic| {
                    // A topic of the same name created again since is another topic.
                    t.topic_id != Uuid::ZERO && topic.id() != t.topic_id
                });
                let gone_by_id = t.topic_id == Uuid::ZERO || image.topic(&t.topic_id).is_none();
                gone_by_name && gone_by_id
            }),
        (RequestBody::CreatePartitions(request), ResponseBody::CreatePartitions(response)) => {
            request.validate_only
                || response
                    .results
                    .iter()
                    .filter(|r| ok(r.error_code))
                    .all(|r| {
                        let wanted = request
                            .topics
                            .iter()
                            .find(|t| t.name == r.name)
                            .map_or(0, |t| t.count.max(0) as u32);
                        image
                            .topic_by_name(&r.name)
                            .is_some_and(|topic| topic.partition_count() >= wanted)
                    })
        }
        (
            RequestBody::IncrementalAlterConfigs(request),
            ResponseBody::IncrementalAlterConfigs(response),
        ) => {
            request.validate_only
                || response
                    .responses
                    .iter()
                    .filter(|r| ok(r.error_code))
                    .all(|r| {
                        let Some(asked) = request.resources.iter().find(|a| {
                            a.resource_type == r.resource_type && a.resource_name == r.resource_name
                        }) else {
                            return true;
                        };
                        let resource = ConfigResource {
                            resource_type: r.resource_type,
                            name: r.resource_name.clone(),
                        };
                        asked.configs.iter().all(|c| match c.config_operation {
                            OP_SET => image.config(&resource, &c.name) == c.value.as_deref(),
                            OP_DELETE => image.config(&resource, &c.name).is_none(),
                            // APPEND and SUBTRACT: the result depends on the list before.
                            _ => true,
                        })
                    })
        }
        (RequestBody::AlterConfigs(request), ResponseBody::AlterConfigs(response)) => {
            request.validate_only
                || response
                    .responses
                    .iter()
                    .filter(|r| ok(r.error_code))
                    .all(|r| {
                        let Some(asked) = request.resources.iter().find(|a| {
                            a.resource_type == r.resource_type && a.resource_name == r.resource_name
                        }) else {
                            return true;
                        };
                        let resource = ConfigResource {
                            resource_type: r.resource_type,
                            name: r.resource_name.clone(),
                        };
                        asked
                            .configs
                            .iter()
                            .all(|c| image.config(&resource, &c.name) == c.value.as_deref())
                    })
        }
        // DescribeQuorum, which changes nothing, or an answer of another API (cannot happen:
        // the link matches responses to requests): nothing to wait for.
        _ => true,
    }
}

/// True when the controller answered that it is not the active controller, for every item
/// of the request: nothing was done, and the request may go to whoever is active now (Kafka's
/// brokers requeue such answers too). An answer with any other outcome is the client's.
pub fn refused_as_not_controller(response: &ResponseBody) -> bool {
    let codes: Vec<i16> = match response {
        ResponseBody::CreateTopics(r) => r.topics.iter().map(|t| t.error_code).collect(),
        ResponseBody::DeleteTopics(r) => r.responses.iter().map(|t| t.error_code).collect(),
        ResponseBody::CreatePartitions(r) => r.results.iter().map(|t| t.error_code).collect(),
        ResponseBody::AlterConfigs(r) => r.responses.iter().map(|t| t.error_code).collect(),
        ResponseBody::IncrementalAlterConfigs(r) => {
            r.responses.iter().map(|t| t.error_code).collect()
        }
        ResponseBody::DescribeQuorum(r) => vec![r.error_code],
        _ => Vec::new(),
    };
    !codes.is_empty()
        && codes
            .iter()
            .all(|&code| code == ErrorCode::NotController.code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::record::MetadataRecord;
    use crate::protocol::messages::*;

    fn id(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn image_with_topic(name: &str, topic_id: Uuid, partitions: i32) -> Image {
        let mut image = Image::new();
        let mut offset = 0;
        let mut apply = |image: &mut Image, record: MetadataRecord| {
            image.apply(offset, &record).expect("applies");
            offset += 1;
        };
        apply(
            &mut image,
            MetadataRecord::Topic(TopicRecord {
                name: name.into(),
                topic_id,
                ..Default::default()
            }),
        );
        for partition_id in 0..partitions {
            apply(
                &mut image,
                MetadataRecord::Partition(PartitionRecord {
                    partition_id,
                    topic_id,
                    replicas: vec![1],
                    isr: vec![1],
                    leader: 1,
                    ..Default::default()
                }),
            );
        }
        image
    }

    fn create(name: &str, topic_id: Uuid, error: ErrorCode) -> (RequestBody, ResponseBody) {
        let request = RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![create_topics_request::CreatableTopic {
                name: name.into(),
                num_partitions: 1,
                replication_factor: 1,
                ..Default::default()
            }],
            ..Default::default()
        });
        let response = ResponseBody::CreateTopics(CreateTopicsResponse {
            topics: vec![create_topics_response::CreatableTopicResult {
                name: name.into(),
                topic_id,
                error_code: error.code(),
                ..Default::default()
            }],
            ..Default::default()
        });
        (request, response)
    }

    #[test]
    fn a_created_topic_is_visible_once_the_image_has_it_with_the_same_id() {
        let (request, response) = create("orders", id(7), ErrorCode::None);
        assert!(!visible_in(&Image::new(), &request, &response));
        let image = image_with_topic("orders", id(7), 1);
        assert!(visible_in(&image, &request, &response));
        // The name exists, but as another topic (deleted and created again by someone else).
        let other = image_with_topic("orders", id(8), 1);
        assert!(!visible_in(&other, &request, &response));
    }

    #[test]
    fn a_refused_create_needs_nothing() {
        let (request, response) = create("orders", Uuid::ZERO, ErrorCode::TopicAlreadyExists);
        assert!(visible_in(&Image::new(), &request, &response));
    }

    #[test]
    fn only_an_answer_refused_as_not_controller_for_every_item_may_go_elsewhere() {
        let (_, refused) = create("orders", Uuid::ZERO, ErrorCode::NotController);
        assert!(refused_as_not_controller(&refused));
        let (_, created) = create("orders", id(7), ErrorCode::None);
        assert!(!refused_as_not_controller(&created));
        let mut partly = refused.clone();
        if let (ResponseBody::CreateTopics(partly), ResponseBody::CreateTopics(created)) =
            (&mut partly, &created)
        {
            partly.topics.push(created.topics[0].clone());
        }
        assert!(!refused_as_not_controller(&partly));
        let empty = ResponseBody::CreateTopics(CreateTopicsResponse::default());
        assert!(!refused_as_not_controller(&empty));
    }

    #[test]
    fn a_deleted_topic_is_visible_once_the_image_has_lost_it() {
        let request = RequestBody::DeleteTopics(DeleteTopicsRequest {
            topic_names: vec!["orders".into()],
            ..Default::default()
        });
        let response = ResponseBody::DeleteTopics(DeleteTopicsResponse {
            responses: vec![delete_topics_response::DeletableTopicResult {
                name: Some("orders".into()),
                topic_id: id(7),
                ..Default::default()
            }],
            ..Default::default()
        });
        let mut image = image_with_topic("orders", id(7), 1);
        assert!(!visible_in(&image, &request, &response));
        image
            .apply(
                10,
                &MetadataRecord::RemoveTopic(RemoveTopicRecord {
                    topic_id: id(7),
                    ..Default::default()
                }),
            )
            .expect("applies");
        assert!(visible_in(&image, &request, &response));
        // Created again under the same name: the deleted topic is still gone.
        let again = image_with_topic("orders", id(9), 1);
        assert!(visible_in(&again, &request, &response));
    }

    #[test]
    fn added_partitions_are_visible_once_the_count_is_reached() {
        let request = RequestBody::CreatePartitions(CreatePartitionsRequest {
            topics: vec![create_partitions_request::CreatePartitionsTopic {
                name: "orders".into(),
                count: 3,
                ..Default::default()
            }],
            ..Default::default()
        });
        let response = ResponseBody::CreatePartitions(CreatePartitionsResponse {
            results: vec![create_partitions_response::CreatePartitionsTopicResult {
                name: "orders".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        assert!(!visible_in(
            &image_with_topic("orders", id(7), 1),
            &request,
            &response
        ));
        assert!(visible_in(
            &image_with_topic("orders", id(7), 3),
            &request,
            &response
        ));
    }

    #[test]
    fn config_changes_are_visible_once_set_values_and_deletions_show() {
        let request = RequestBody::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
            resources: vec![incremental_alter_configs_request::AlterConfigsResource {
                resource_type: 2,
                resource_name: "orders".into(),
                configs: vec![
                    incremental_alter_configs_request::AlterableConfig {
                        name: "retention.ms".into(),
                        config_operation: OP_SET,
                        value: Some("1000".into()),
                        ..Default::default()
                    },
                    incremental_alter_configs_request::AlterableConfig {
                        name: "cleanup.policy".into(),
                        config_operation: OP_DELETE,
                        value: None,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        });
        let response = ResponseBody::IncrementalAlterConfigs(IncrementalAlterConfigsResponse {
            responses: vec![alter_configs_response_result("orders")],
            ..Default::default()
        });
        let mut image = image_with_topic("orders", id(7), 1);
        let config = |name: &str, value: Option<&str>| {
            MetadataRecord::Config(ConfigRecord {
                resource_type: 2,
                resource_name: "orders".into(),
                name: name.into(),
                value: value.map(str::to_owned),
                ..Default::default()
            })
        };
        image
            .apply(5, &config("cleanup.policy", Some("compact")))
            .expect("applies");
        assert!(!visible_in(&image, &request, &response));
        image
            .apply(6, &config("retention.ms", Some("1000")))
            .expect("applies");
        assert!(!visible_in(&image, &request, &response), "still set");
        image
            .apply(7, &config("cleanup.policy", None))
            .expect("applies");
        assert!(visible_in(&image, &request, &response));
    }

    fn alter_configs_response_result(
        name: &str,
    ) -> incremental_alter_configs_response::AlterConfigsResourceResponse {
        incremental_alter_configs_response::AlterConfigsResourceResponse {
            resource_type: 2,
            resource_name: name.into(),
            ..Default::default()
        }
    }
}
