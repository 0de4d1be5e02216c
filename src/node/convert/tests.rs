//! Unit tests of the wire <-> Raft conversions: round trips through the codec and the refusals.

use super::*;

fn wire() -> Wire {
    Wire {
        cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
        local_id: 1,
        local_directory_id: Uuid::from_bytes([1; 16]),
        listener_name: "CONTROLLER".into(),
        endpoints: BTreeMap::from([
            (1, ("127.0.0.1".into(), 9093)),
            (2, ("127.0.0.1".into(), 9094)),
        ]),
    }
}

fn no_batches() -> impl Fn(Vec<u8>) -> Result<Vec<crate::raft::Batch<Data>>, String> {
    |bytes: Vec<u8>| Err(format!("unexpected {} bytes", bytes.len()))
}

/// A core request survives the trip to the wire and back (as the receiving node sees it).
fn through_the_wire(message: Message<Data>, receiver_directory: Uuid) -> Inbound {
    let sender = wire();
    let (body, version) = request_from_raft(&sender, &message, receiver_directory);
    let frame = body.encode_to_vec(version);
    let decoded = RequestBody::decode(
        body.api_key(),
        &mut crate::protocol::Reader::new(&frame),
        version,
    )
    .unwrap();
    let receiver = Wire {
        local_id: 2,
        local_directory_id: Uuid::from_bytes([2; 16]),
        ..wire()
    };
    request_to_raft(&receiver, &decoded, 77)
}

trait EncodeToVec {
    fn encode_to_vec(&self, version: i16) -> Vec<u8>;
}
impl EncodeToVec for RequestBody {
    fn encode_to_vec(&self, version: i16) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out, version).unwrap();
        out
    }
}

fn local_key() -> ReplicaKey {
    key(1, Uuid::from_bytes([1; 16]))
}

#[test]
fn a_pre_vote_keeps_its_epoch_and_keys_across_the_wire() {
    let message = Message::VoteRequest {
        correlation: 5,
        candidate_epoch: 7,
        candidate: local_key(),
        voter: key(2, Uuid::from_bytes([2; 16])),
        last_epoch: 6,
        last_offset: 1234,
        pre_vote: true,
    };
    let Inbound::Raft { from, message: got } =
        through_the_wire(message.clone(), Uuid::from_bytes([2; 16]))
    else {
        panic!("refused")
    };
    assert_eq!(from, 1);
    let Message::VoteRequest { correlation, .. } = &got else {
        panic!()
    };
    assert_eq!(*correlation, 77, "the receiver's own correlation");
    let expected = match message {
        Message::VoteRequest { .. } => Message::VoteRequest {
            correlation: 77,
            candidate_epoch: 7,
            candidate: local_key(),
            voter: key(2, Uuid::from_bytes([2; 16])),
            last_epoch: 6,
            last_offset: 1234,
            pre_vote: true,
        },
        _ => unreachable!(),
    };
    assert_eq!(got, expected);
}

#[test]
fn a_fetch_crosses_the_wire_with_its_offsets_and_directory() {
    let message = Message::FetchRequest {
        correlation: 9,
        replica: local_key(),
        current_leader_epoch: 8,
        fetch_offset: 1235,
        last_fetched_epoch: 7,
        max_wait_ms: 500,
        max_bytes: 8 << 20,
    };
    let Inbound::Raft { from, message: got } = through_the_wire(message, Uuid::ZERO) else {
        panic!("refused")
    };
    assert_eq!(from, 1);
    assert_eq!(
        got,
        Message::FetchRequest {
            correlation: 77,
            replica: local_key(),
            current_leader_epoch: 8,
            fetch_offset: 1235,
            last_fetched_epoch: 7,
            max_wait_ms: 500,
            max_bytes: 8 << 20,
        }
    );
}

#[test]
fn a_request_for_another_cluster_is_refused_with_inconsistent_cluster_id() {
    let request = RequestBody::Vote(VoteRequest {
        cluster_id: Some("another-cluster".into()),
        ..Default::default()
    });
    let Inbound::Refuse(ResponseBody::Vote(response)) = request_to_raft(&wire(), &request, 1)
    else {
        panic!("not refused")
    };
    assert_eq!(response.error_code, ErrorCode::InconsistentClusterId.code());
}

#[test]
fn a_request_without_exactly_the_metadata_partition_is_refused() {
    let request = RequestBody::BeginQuorumEpoch(BeginQuorumEpochRequest::default());
    let Inbound::Refuse(ResponseBody::BeginQuorumEpoch(response)) =
        request_to_raft(&wire(), &request, 1)
    else {
        panic!("not refused")
    };
    assert_eq!(response.error_code, ErrorCode::InvalidRequest.code());
    let wrong_topic = RequestBody::Fetch(FetchRequest {
        topics: vec![fetch_request::FetchTopic {
            topic_id: Uuid::from_bytes([9; 16]),
            partitions: vec![fetch_request::FetchPartition::default()],
            ..Default::default()
        }],
        ..Default::default()
    });
    let Inbound::Refuse(ResponseBody::Fetch(response)) = request_to_raft(&wire(), &wrong_topic, 1)
    else {
        panic!("not refused")
    };
    assert_eq!(
        response.responses[0].partitions[0].error_code,
        ErrorCode::UnknownTopicId.code()
    );
}

#[test]
fn negative_offsets_and_epochs_are_invalid_requests_not_panics() {
    let request = RequestBody::Fetch(FetchRequest {
        replica_state: fetch_request::ReplicaState {
            replica_id: 2,
            ..Default::default()
        },
        topics: vec![fetch_request::FetchTopic {
            topic_id: Uuid::METADATA_TOPIC_ID,
            partitions: vec![fetch_request::FetchPartition {
                fetch_offset: -5,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let Inbound::Refuse(ResponseBody::Fetch(response)) = request_to_raft(&wire(), &request, 1)
    else {
        panic!("not refused")
    };
    assert_eq!(
        response.responses[0].partitions[0].error_code,
        ErrorCode::InvalidRequest.code()
    );
}

#[test]
fn a_diverging_fetch_answer_round_trips_to_the_fetcher() {
    let answer = Message::FetchResponse {
        correlation: 3,
        error: None,
        epoch: 8,
        leader: Some(1),
        high_watermark: 1200,
        log_start_offset: 0,
        diverging: Some(OffsetAndEpoch {
            offset: 1100,
            epoch: 6,
        }),
        snapshot: None,
        batches: Vec::new(),
    };
    let body = response_from_raft(&wire(), answer, Filled::Nothing);
    let ResponseBody::Fetch(fetch) = &body else {
        panic!()
    };
    assert_eq!(
        fetch.node_endpoints[0].port, 9093,
        "the leader's address travels with the answer"
    );
    let back = response_to_raft(
        body,
        Sent {
            correlation: 41,
            pre_vote: false,
        },
        &no_batches(),
    )
    .unwrap();
    assert_eq!(
        back,
        Message::FetchResponse {
            correlation: 41,
            error: None,
            epoch: 8,
            leader: Some(1),
            high_watermark: 1200,
            log_start_offset: 0,
            diverging: Some(OffsetAndEpoch {
                offset: 1100,
                epoch: 6
            }),
            snapshot: None,
            batches: Vec::new(),
        }
    );
}

#[test]
fn a_vote_answer_remembers_whether_it_was_a_pre_vote() {
    let answer = Message::VoteResponse {
        correlation: 1,
        error: Some(RaftError::FencedLeaderEpoch),
        epoch: 9,
        leader: Some(2),
        granted: false,
        pre_vote: true,
    };
    let body = response_from_raft(&wire(), answer, Filled::Nothing);
    let back = response_to_raft(
        body,
        Sent {
            correlation: 12,
            pre_vote: true,
        },
        &no_batches(),
    )
    .unwrap();
    assert_eq!(
        back,
        Message::VoteResponse {
            correlation: 12,
            error: Some(RaftError::FencedLeaderEpoch),
            epoch: 9,
            leader: Some(2),
            granted: false,
            pre_vote: true,
        }
    );
}

#[test]
fn a_top_level_error_from_a_peer_gives_the_core_nothing() {
    let refused = ResponseBody::Vote(VoteResponse {
        error_code: ErrorCode::InconsistentClusterId.code(),
        ..Default::default()
    });
    let err = response_to_raft(
        refused,
        Sent {
            correlation: 1,
            pre_vote: false,
        },
        &no_batches(),
    )
    .unwrap_err();
    assert!(err.contains("INCONSISTENT_CLUSTER_ID"), "{err}");
}

#[test]
fn directory_ids_convert_losslessly() {
    let id = Uuid::from_bytes([0xab; 16]);
    assert_eq!(uuid(directory_id(id)), id);
    assert_eq!(directory_id(Uuid::ZERO), DirectoryId(0));
}

fn begin_quorum_epoch(topic: &str, partitions: &[i32]) -> BeginQuorumEpochRequest {
    BeginQuorumEpochRequest {
        cluster_id: Some(wire().cluster_id),
        topics: vec![begin_quorum_epoch_request::TopicData {
            topic_name: topic.into(),
            partitions: partitions
                .iter()
                .map(|index| begin_quorum_epoch_request::PartitionData {
                    partition_index: *index,
                    leader_id: 2,
                    leader_epoch: 3,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn the_envelope_refuses_each_broken_step_with_its_own_code() {
    let valid = begin_quorum_epoch(METADATA_TOPIC, &[0]);
    assert_eq!(
        envelope(&wire(), &valid),
        Ok(&valid.topics[0].partitions[0])
    );
    let without_cluster_id = BeginQuorumEpochRequest {
        cluster_id: None,
        ..valid.clone()
    };
    assert!(
        envelope(&wire(), &without_cluster_id).is_ok(),
        "versions before the cluster id have none to check"
    );
    let another_cluster = BeginQuorumEpochRequest {
        cluster_id: Some("another-cluster".into()),
        ..valid.clone()
    };
    let two_topics = BeginQuorumEpochRequest {
        topics: [valid.topics.clone(), valid.topics.clone()].concat(),
        ..valid.clone()
    };
    let refusals = [
        (
            another_cluster,
            Refusal::Request(ErrorCode::InconsistentClusterId),
        ),
        (BeginQuorumEpochRequest::default(), INVALID_REQUEST),
        (two_topics, INVALID_REQUEST),
        (begin_quorum_epoch(METADATA_TOPIC, &[]), INVALID_REQUEST),
        (begin_quorum_epoch(METADATA_TOPIC, &[0, 1]), INVALID_REQUEST),
        (
            begin_quorum_epoch("another-topic", &[0]),
            Refusal::Partition(ErrorCode::UnknownTopicOrPartition),
        ),
        (
            begin_quorum_epoch("another-topic", &[0, 0]),
            INVALID_REQUEST,
        ),
        (
            begin_quorum_epoch(METADATA_TOPIC, &[1]),
            Refusal::Partition(ErrorCode::UnknownTopicOrPartition),
        ),
    ];
    for (request, refusal) in refusals {
        assert_eq!(envelope(&wire(), &request), Err(refusal), "{request:?}");
    }
}

#[test]
fn a_fetch_names_the_metadata_topic_by_name_or_by_id() {
    let fetch = |topic: &str, topic_id: Uuid| FetchRequest {
        topics: vec![fetch_request::FetchTopic {
            topic: topic.into(),
            topic_id,
            partitions: vec![fetch_request::FetchPartition::default()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let unknown = |code| Err(Refusal::Partition(code));
    assert!(envelope(&wire(), &fetch(METADATA_TOPIC, Uuid::ZERO)).is_ok());
    assert!(envelope(&wire(), &fetch("", Uuid::METADATA_TOPIC_ID)).is_ok());
    assert_eq!(
        envelope(&wire(), &fetch("another-topic", Uuid::METADATA_TOPIC_ID)),
        unknown(ErrorCode::UnknownTopicOrPartition),
        "a name, when given, is what is checked"
    );
    assert_eq!(
        envelope(&wire(), &fetch("", Uuid::from_bytes([9; 16]))),
        unknown(ErrorCode::UnknownTopicId)
    );
}

#[test]
fn field_refusals_keep_their_place_in_the_answer() {
    // A Vote's invalid fields outrank its partition index.
    let vote = RequestBody::Vote(VoteRequest {
        topics: vec![vote_request::TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions: vec![vote_request::PartitionData {
                partition_index: 1,
                replica_id: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let Inbound::Refuse(ResponseBody::Vote(answer)) = request_to_raft(&wire(), &vote, 1) else {
        panic!("not refused")
    };
    assert_eq!(answer.error_code, ErrorCode::InvalidRequest.code());
    assert!(answer.topics.is_empty());
    // A BeginQuorumEpoch's partition index outranks its invalid fields.
    let mut begin = begin_quorum_epoch(METADATA_TOPIC, &[1]);
    begin.topics[0].partitions[0].leader_id = -1;
    let Inbound::Refuse(ResponseBody::BeginQuorumEpoch(answer)) =
        request_to_raft(&wire(), &RequestBody::BeginQuorumEpoch(begin), 1)
    else {
        panic!("not refused")
    };
    assert_eq!(answer.error_code, ErrorCode::None.code());
    assert_eq!(
        answer.topics[0].partitions[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    // A snapshot fetch from a negative position is out of range, in its partition.
    let snapshot = RequestBody::FetchSnapshot(FetchSnapshotRequest {
        replica_id: 2,
        topics: vec![fetch_snapshot_request::TopicSnapshot {
            name: METADATA_TOPIC.into(),
            partitions: vec![fetch_snapshot_request::PartitionSnapshot {
                position: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let Inbound::Refuse(ResponseBody::FetchSnapshot(answer)) =
        request_to_raft(&wire(), &snapshot, 1)
    else {
        panic!("not refused")
    };
    assert_eq!(answer.error_code, ErrorCode::None.code());
    assert_eq!(
        answer.topics[0].partitions[0].error_code,
        ErrorCode::PositionOutOfRange.code()
    );
}

#[test]
fn an_answer_without_exactly_one_partition_gives_the_core_nothing() {
    let sent = Sent {
        correlation: 1,
        pre_vote: false,
    };
    let partition = begin_quorum_epoch_response::PartitionData::default();
    let topic = |partitions: Vec<begin_quorum_epoch_response::PartitionData>| {
        begin_quorum_epoch_response::TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions,
            ..Default::default()
        }
    };
    let answers = [
        (Vec::new(), "exactly one topic"),
        (vec![topic(vec![partition.clone()]); 2], "exactly one topic"),
        (vec![topic(Vec::new())], "exactly one partition"),
        (
            vec![topic(vec![partition.clone(), partition.clone()])],
            "exactly one partition",
        ),
    ];
    for (topics, reason) in answers {
        let answer = ResponseBody::BeginQuorumEpoch(BeginQuorumEpochResponse {
            topics,
            ..Default::default()
        });
        let err = response_to_raft(answer, sent, &no_batches()).unwrap_err();
        assert!(err.contains(reason), "{err}");
    }
    let unknown_code = ResponseBody::BeginQuorumEpoch(BeginQuorumEpochResponse {
        error_code: -999,
        topics: vec![topic(vec![partition])],
        ..Default::default()
    });
    let err = response_to_raft(unknown_code, sent, &no_batches()).unwrap_err();
    assert!(err.contains("unknown error code -999"), "{err}");
}
