//! The refusals, item by item and version by version.

use super::*;
use crate::protocol::Message;
use crate::protocol::Uuid;
use crate::protocol::messages::{fetch_request, list_offsets_request, produce_request};

fn produce_request(topics: &[(&str, &[i32])]) -> ProduceRequest {
    ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: topics
            .iter()
            .map(|(name, partitions)| produce_request::TopicProduceData {
                name: (*name).to_owned(),
                partition_data: partitions
                    .iter()
                    .map(|&index| produce_request::PartitionProduceData {
                        index,
                        records: Some(vec![1, 2, 3]),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Encodes `message` at `version` and decodes it back: what a client reads.
fn through_the_wire<M: Message + PartialEq + std::fmt::Debug>(message: &M, version: i16) -> M {
    let bytes = message
        .to_bytes(version)
        .unwrap_or_else(|e| panic!("v{version} does not encode: {e:?}"));
    let mut reader = crate::protocol::Reader::new(&bytes);
    let decoded = M::decode(&mut reader, version).expect("decodes");
    assert_eq!(reader.remaining(), 0);
    decoded
}

#[test]
fn produce_refuses_every_partition_with_the_message_where_the_version_has_one() {
    let request = produce_request(&[("orders", &[0, 2, 1]), ("payments", &[5])]);
    for version in ApiKey::Produce.versions() {
        let response = through_the_wire(&produce_response(&request, version), version);
        let answered: Vec<(String, Vec<i32>)> = response
            .responses
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.partition_responses.iter().map(|p| p.index).collect(),
                )
            })
            .collect();
        assert_eq!(
            answered,
            vec![
                ("orders".into(), vec![0, 2, 1]),
                ("payments".into(), vec![5])
            ],
            "v{version}"
        );
        for partition in response
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
        {
            assert_eq!(partition.error_code, TOPIC_NOT_SERVED.code(), "v{version}");
            assert_eq!(partition.base_offset, -1);
            let expected = (version >= 8).then(|| NOT_SERVED_MESSAGE.to_owned());
            assert_eq!(partition.error_message, expected, "v{version}");
        }
    }
}

#[test]
fn the_message_says_what_keel_brokers_serve() {
    assert!(NOT_SERVED_MESSAGE.starts_with("keel brokers serve metadata only"));
    for word in ["Produce", "Fetch", "consumer groups", "admin"] {
        assert!(NOT_SERVED_MESSAGE.contains(word), "{word}");
    }
}

#[test]
fn list_offsets_answers_earliest_and_latest_as_an_empty_log_and_refuses_other_lookups() {
    // Latest (-1), earliest (-2), max timestamp (-3), earliest local (-4), latest tiered (-5),
    // and a time.
    let lookups: [(i64, i64, i16); 6] = [
        (-1, 0, ErrorCode::None.code()),
        (-2, 0, ErrorCode::None.code()),
        (-3, -1, TOPIC_NOT_SERVED.code()),
        (-4, -1, TOPIC_NOT_SERVED.code()),
        (-5, -1, TOPIC_NOT_SERVED.code()),
        (1_763_700_000_000, -1, TOPIC_NOT_SERVED.code()),
    ];
    let request = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![list_offsets_request::ListOffsetsTopic {
            name: "orders".into(),
            partitions: lookups
                .iter()
                .enumerate()
                .map(
                    |(index, &(timestamp, _, _))| list_offsets_request::ListOffsetsPartition {
                        partition_index: index as i32,
                        timestamp,
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    for version in ApiKey::ListOffsets.versions() {
        let response = through_the_wire(&list_offsets_response(&request, version), version);
        assert_eq!(response.topics.len(), 1);
        assert_eq!(response.topics[0].name, "orders");
        let answered: Vec<(i32, i64, i16, i64)> = response.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.offset, p.error_code, p.timestamp))
            .collect();
        let expected: Vec<(i32, i64, i16, i64)> = lookups
            .iter()
            .enumerate()
            .map(|(index, &(_, offset, code))| (index as i32, offset, code, -1))
            .collect();
        assert_eq!(answered, expected, "v{version}");
    }
}

#[test]
fn fetch_refuses_every_partition_by_name_or_by_id() {
    let id = Uuid::from_bytes([7; 16]);
    let request = FetchRequest {
        max_wait_ms: 500,
        topics: vec![fetch_request::FetchTopic {
            topic: "orders".into(),
            topic_id: id,
            partitions: vec![fetch_request::FetchPartition {
                partition: 3,
                fetch_offset: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    // Every version brokers serve, down to the v4 of librdkafka 2.0.2's and aiokafka's range.
    assert_eq!(ApiKey::Fetch.versions(), 4..=17);
    for version in ApiKey::Fetch.versions() {
        let mut asked = request.clone();
        asked.narrow_to_version(version);
        let response = through_the_wire(&fetch_response(&asked, version), version);
        assert_eq!(response.error_code, ErrorCode::None.code());
        assert_eq!(response.session_id, 0);
        let topic = &response.responses[0];
        if version >= 13 {
            assert_eq!(topic.topic_id, id, "v{version}");
        } else {
            assert_eq!(topic.topic, "orders", "v{version}");
        }
        assert_eq!(topic.partitions.len(), 1);
        let partition = &topic.partitions[0];
        assert_eq!(partition.partition_index, 3);
        assert_eq!(partition.error_code, TOPIC_NOT_SERVED.code());
        assert_eq!(
            partition.records,
            Some(Vec::new()),
            "v{version}: empty, never null"
        );
        assert_eq!(partition.high_watermark, -1);
    }
}

#[test]
fn find_coordinator_refuses_groups_and_transactions_with_the_message() {
    for version in ApiKey::FindCoordinator.versions() {
        for (key_type, code) in [
            (0, ErrorCode::GroupAuthorizationFailed),
            (1, ErrorCode::TransactionalIdAuthorizationFailed),
            (2, ErrorCode::GroupAuthorizationFailed),
        ] {
            if key_type > 0 && version == 0 {
                continue; // KeyType arrived in v1
            }
            let request = FindCoordinatorRequest {
                key: "g1".into(),
                key_type,
                coordinator_keys: vec!["g1".into(), "g2".into()],
                ..Default::default()
            };
            let mut asked = request.clone();
            asked.narrow_to_version(version);
            let response = through_the_wire(&find_coordinator_response(&asked, version), version);
            let message = Some(NOT_SERVED_MESSAGE.to_owned());
            if version >= 4 {
                let keys: Vec<&str> = response
                    .coordinators
                    .iter()
                    .map(|c| c.key.as_str())
                    .collect();
                assert_eq!(keys, ["g1", "g2"]);
                for c in &response.coordinators {
                    assert_eq!((c.error_code, c.node_id, c.port), (code.code(), -1, -1));
                    assert_eq!(c.error_message, message);
                }
            } else {
                assert_eq!(response.error_code, code.code(), "v{version}");
                assert_eq!((response.node_id, response.port), (-1, -1));
                if version >= 1 {
                    assert_eq!(response.error_message, message, "v{version}");
                }
            }
        }
    }
}

#[test]
fn an_answer_has_at_most_the_bounded_number_of_entries() {
    let many: Vec<i32> = (0..NOT_SERVED_ENTRIES_MAX as i32 + 5).collect();
    let request = produce_request(&[("a", &many[..3]), ("b", &many), ("c", &[0])]);
    let response = produce_response(&request, 9);
    let entries: usize = response
        .responses
        .iter()
        .map(|t| t.partition_responses.len())
        .sum();
    assert_eq!(entries, NOT_SERVED_ENTRIES_MAX);
    assert_eq!(response.responses.len(), 2, "topic c is past the bound");
    assert_eq!(
        response.responses[1].partition_responses.len(),
        NOT_SERVED_ENTRIES_MAX - 3
    );

    let keys = FindCoordinatorRequest {
        coordinator_keys: vec![String::new(); NOT_SERVED_ENTRIES_MAX * 2],
        ..Default::default()
    };
    assert_eq!(
        find_coordinator_response(&keys, 4).coordinators.len(),
        NOT_SERVED_ENTRIES_MAX
    );
}

#[test]
fn every_topic_is_not_served_yet() {
    for name in [Some("orders"), Some("__keel_changes"), None] {
        assert_eq!(topic_service(name), TopicService::NotServed);
    }
}
