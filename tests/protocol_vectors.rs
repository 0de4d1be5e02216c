//! Every byte-level test vector in `protocol-spec/vectors/` decodes to the message it describes
//! and re-encodes byte for byte.
//!
//! The vectors come from outside keel: frames captured from real clients (kcat, kafka-python),
//! responses those clients accepted, a frame recorded from a real Kafka broker, and frames
//! produced by kafka-python's schema-driven encoder (`tools/protocol-vectors/make_vectors.py`).
//! A round trip alone cannot catch a mistake that decoding and encoding make symmetrically (two
//! fields swapped in a schema), so each vector is also compared with the message built here
//! from the same values the foreign encoder was given.

use std::path::{Path, PathBuf};

use keel::protocol::envelope::{decode_response_body, encode_request_body, encode_response_body};
use keel::protocol::messages::*;
use keel::protocol::{ApiKey, FrameDecoder, RequestBody, ResponseBody, Uuid, decode_request};

struct Vector {
    name: String,
    is_request: bool,
    api_key: ApiKey,
    version: i16,
    /// Bytes at the end of the request body that a decoder ignores (`# trailing-bytes: n`, for
    /// captures of clients that send them; 0 otherwise).
    trailing_bytes: usize,
    /// The whole frame, size prefix included.
    stream: Vec<u8>,
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol-spec/vectors")
}

/// Parses the vector format documented in `protocol-spec/vectors/README.md`: `# key: value`
/// header lines, then lines of hex tokens, each line's hex ending at its first non-hex word.
fn parse_vector(name: &str, text: &str) -> Vector {
    let mut direction = None;
    let mut api = None;
    let mut version = None;
    let mut trailing_bytes = 0;
    let mut stream = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            if let Some((key, value)) = comment.trim().split_once(": ") {
                match key {
                    "direction" => direction = Some(value.trim().to_owned()),
                    "api" => api = Some(value.trim().to_owned()),
                    "version" => version = Some(value.trim().parse::<i16>().expect("version")),
                    "trailing-bytes" => {
                        trailing_bytes = value.trim().parse::<usize>().expect("trailing-bytes")
                    }
                    _ => {}
                }
            }
            continue;
        }
        for token in line.split_whitespace() {
            if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
                break;
            }
            assert!(
                token.len() % 2 == 0,
                "{name}: odd-length hex token {token:?}"
            );
            for pair in token.as_bytes().chunks(2) {
                stream.push(u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap());
            }
        }
    }
    let api = api.unwrap_or_else(|| panic!("{name}: missing '# api:'"));
    let api_key = *ApiKey::ALL
        .iter()
        .find(|key| key.name() == api)
        .unwrap_or_else(|| panic!("{name}: unknown api {api}"));
    let is_request = match direction.as_deref() {
        Some("request") => true,
        Some("response") => false,
        other => panic!("{name}: direction must be request or response, not {other:?}"),
    };
    Vector {
        name: name.to_owned(),
        is_request,
        api_key,
        version: version.unwrap_or_else(|| panic!("{name}: missing '# version:'")),
        trailing_bytes,
        stream,
    }
}

fn load_vectors() -> Vec<Vector> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("protocol-spec/vectors exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "hex"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            parse_vector(&name, &std::fs::read_to_string(path).unwrap())
        })
        .collect()
}

/// The frame body (after the size prefix), checking the prefix matches the vector's length.
fn frame_of(vector: &Vector) -> Vec<u8> {
    let mut decoder = FrameDecoder::new(1 << 20);
    decoder.extend(&vector.stream);
    let frame = decoder
        .next_frame()
        .unwrap()
        .unwrap_or_else(|| {
            panic!(
                "{}: size prefix announces more bytes than the vector has",
                vector.name
            )
        })
        .to_vec();
    assert_eq!(
        decoder.buffered_bytes(),
        0,
        "{}: bytes after the frame",
        vector.name
    );
    frame
}

/// The frame a well-behaved sender would have sent: the vector without its ignored trailing
/// bytes, the size prefix reduced to match.
fn without_trailing_bytes(vector: &Vector) -> Vec<u8> {
    let mut stream = vector.stream[..vector.stream.len() - vector.trailing_bytes].to_vec();
    let size = (stream.len() - 4) as u32;
    stream[..4].copy_from_slice(&size.to_be_bytes());
    stream
}

fn request_of(name: &str) -> (i32, Option<String>, RequestBody) {
    let vector = load_vectors().into_iter().find(|v| v.name == name).unwrap();
    let request = decode_request(&frame_of(&vector)).unwrap();
    (
        request.correlation_id(),
        request.header.client_id,
        request.body,
    )
}

fn response_of(name: &str) -> (i32, ResponseBody) {
    let vector = load_vectors().into_iter().find(|v| v.name == name).unwrap();
    decode_response_body(&frame_of(&vector), vector.api_key, vector.version).unwrap()
}

#[test]
fn every_vector_decodes_and_re_encodes_byte_for_byte() {
    let vectors = load_vectors();
    assert!(
        vectors.len() >= 20,
        "expected the full vector set, found {}",
        vectors.len()
    );
    for vector in &vectors {
        let frame = frame_of(vector);
        let mut again = Vec::new();
        if vector.is_request {
            let request = decode_request(&frame).unwrap_or_else(|e| panic!("{}: {e}", vector.name));
            assert_eq!(request.api_key(), vector.api_key, "{}", vector.name);
            assert_eq!(request.version(), vector.version, "{}", vector.name);
            assert_eq!(
                request.trailing_bytes, vector.trailing_bytes,
                "{}: bytes left after the body",
                vector.name
            );
            encode_request_body(
                &mut again,
                request.correlation_id(),
                request.header.client_id.as_deref(),
                vector.version,
                &request.body,
            )
            .unwrap();
        } else {
            let (correlation_id, body) =
                decode_response_body(&frame, vector.api_key, vector.version)
                    .unwrap_or_else(|e| panic!("{}: {e}", vector.name));
            assert_eq!(vector.trailing_bytes, 0, "{}: only requests", vector.name);
            encode_response_body(&mut again, correlation_id, vector.version, &body).unwrap();
        }
        assert_eq!(
            again,
            without_trailing_bytes(vector),
            "{}: re-encoding differs",
            vector.name
        );
    }
}

#[test]
fn every_api_has_a_request_and_a_response_vector() {
    let vectors = load_vectors();
    for &api in ApiKey::ALL {
        for is_request in [true, false] {
            assert!(
                vectors
                    .iter()
                    .any(|v| v.api_key == api && v.is_request == is_request),
                "no {} vector for {}",
                if is_request { "request" } else { "response" },
                api.name()
            );
        }
    }
}

fn uuid(hex: &str) -> Uuid {
    let hex: String = hex.chars().filter(|c| *c != '-').collect();
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    Uuid::from_bytes(bytes)
}

const CLUSTER: &str = "MkU3OEVBNTcwNTJENDM2Qg";
const METADATA: &str = "__cluster_metadata";

fn dir_1() -> Uuid {
    uuid("0a1b2c3d-4e5f-4061-8273-8495a6b7c8d9")
}

fn dir_2() -> Uuid {
    uuid("f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b")
}

#[test]
fn api_versions_requests_from_real_clients() {
    let (correlation_id, client_id, body) = request_of("api-versions-v3-request-kcat");
    assert_eq!((correlation_id, client_id.as_deref()), (1, Some("rdkafka")));
    assert_eq!(
        body,
        RequestBody::ApiVersions(ApiVersionsRequest {
            client_software_name: "librdkafka".into(),
            client_software_version: "2.0.2".into(),
            ..Default::default()
        })
    );
    let (_, client_id, body) = request_of("api-versions-v4-request-kafka-python");
    assert_eq!(client_id.as_deref(), Some("kafka-python-3.0.12"));
    assert_eq!(
        body,
        RequestBody::ApiVersions(ApiVersionsRequest {
            client_software_name: "kafka-python".into(),
            client_software_version: "3.0.12".into(),
            ..Default::default()
        })
    );
    let (correlation_id, _, body) = request_of("api-versions-v0-request-librdkafka-retry");
    assert_eq!(correlation_id, 2);
    assert_eq!(
        body,
        RequestBody::ApiVersions(ApiVersionsRequest::default())
    );
}

#[test]
fn api_versions_responses_real_clients_accepted() {
    use api_versions_response::ApiVersion;
    let entry = |api_key, min_version, max_version| ApiVersion {
        api_key,
        min_version,
        max_version,
        ..Default::default()
    };
    let listed = vec![
        entry(3, 0, 4),
        entry(18, 0, 4),
        entry(19, 0, 4),
        entry(20, 0, 1),
        entry(32, 0, 1),
        entry(37, 0, 0),
    ];
    let (_, body) = response_of("api-versions-v3-response-kcat");
    assert_eq!(
        body,
        ResponseBody::ApiVersions(ApiVersionsResponse {
            api_keys: listed,
            ..Default::default()
        })
    );
    let (_, body) = response_of("api-versions-v0-response-unsupported");
    assert_eq!(
        body,
        ResponseBody::ApiVersions(ApiVersionsResponse {
            error_code: 35,
            api_keys: vec![entry(18, 0, 3)],
            ..Default::default()
        })
    );
}

#[test]
fn vote_vectors_are_the_messages_kafka_pythons_encoder_was_given() {
    let (correlation_id, _, body) = request_of("vote-v2-request");
    assert_eq!(correlation_id, 11);
    assert_eq!(
        body,
        RequestBody::Vote(VoteRequest {
            cluster_id: Some(CLUSTER.into()),
            voter_id: 3,
            topics: vec![vote_request::TopicData {
                topic_name: METADATA.into(),
                partitions: vec![vote_request::PartitionData {
                    partition_index: 0,
                    replica_epoch: 7,
                    replica_id: 2,
                    replica_directory_id: dir_2(),
                    voter_directory_id: dir_1(),
                    last_offset_epoch: 6,
                    last_offset: 1234,
                    pre_vote: true,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    );
    let (_, body) = response_of("vote-v2-response");
    assert_eq!(
        body,
        ResponseBody::Vote(VoteResponse {
            error_code: 0,
            topics: vec![vote_response::TopicData {
                topic_name: METADATA.into(),
                partitions: vec![vote_response::PartitionData {
                    partition_index: 0,
                    error_code: 0,
                    leader_id: -1,
                    leader_epoch: 6,
                    vote_granted: true,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            node_endpoints: vec![vote_response::NodeEndpoint {
                node_id: 3,
                host: "127.0.0.1".into(),
                port: 9095,
                ..Default::default()
            }],
            ..Default::default()
        })
    );
}

#[test]
fn begin_and_end_quorum_epoch_vectors_are_the_messages_given() {
    let partition = |voter_directory_id| begin_quorum_epoch_request::PartitionData {
        partition_index: 0,
        voter_directory_id,
        leader_id: 1,
        leader_epoch: 8,
        ..Default::default()
    };
    let topic = |partition| begin_quorum_epoch_request::TopicData {
        topic_name: METADATA.into(),
        partitions: vec![partition],
        ..Default::default()
    };
    let (_, _, body) = request_of("begin-quorum-epoch-v0-request");
    assert_eq!(
        body,
        RequestBody::BeginQuorumEpoch(BeginQuorumEpochRequest {
            cluster_id: Some(CLUSTER.into()),
            topics: vec![topic(partition(Uuid::ZERO))],
            ..Default::default()
        })
    );
    let (_, _, body) = request_of("begin-quorum-epoch-v1-request");
    assert_eq!(
        body,
        RequestBody::BeginQuorumEpoch(BeginQuorumEpochRequest {
            cluster_id: Some(CLUSTER.into()),
            voter_id: 2,
            topics: vec![topic(partition(dir_2()))],
            leader_endpoints: vec![begin_quorum_epoch_request::LeaderEndpoint {
                name: "CONTROLLER".into(),
                host: "127.0.0.1".into(),
                port: 9093,
                ..Default::default()
            }],
            ..Default::default()
        })
    );
    let (_, body) = response_of("begin-quorum-epoch-v1-response");
    let ResponseBody::BeginQuorumEpoch(response) = body else {
        panic!("wrong api")
    };
    let p = &response.topics[0].partitions[0];
    assert_eq!((p.error_code, p.leader_id, p.leader_epoch), (0, 1, 8));

    let (_, _, body) = request_of("end-quorum-epoch-v1-request");
    let candidate = |candidate_id, candidate_directory_id| end_quorum_epoch_request::ReplicaInfo {
        candidate_id,
        candidate_directory_id,
        ..Default::default()
    };
    assert_eq!(
        body,
        RequestBody::EndQuorumEpoch(EndQuorumEpochRequest {
            cluster_id: Some(CLUSTER.into()),
            topics: vec![end_quorum_epoch_request::TopicData {
                topic_name: METADATA.into(),
                partitions: vec![end_quorum_epoch_request::PartitionData {
                    partition_index: 0,
                    leader_id: 1,
                    leader_epoch: 8,
                    preferred_candidates: vec![candidate(2, dir_2()), candidate(3, dir_1())],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            leader_endpoints: vec![end_quorum_epoch_request::LeaderEndpoint {
                name: "CONTROLLER".into(),
                host: "127.0.0.1".into(),
                port: 9093,
                ..Default::default()
            }],
            ..Default::default()
        })
    );
    let (_, body) = response_of("end-quorum-epoch-v1-response");
    let ResponseBody::EndQuorumEpoch(response) = body else {
        panic!("wrong api")
    };
    let p = &response.topics[0].partitions[0];
    assert_eq!((p.error_code, p.leader_id, p.leader_epoch), (74, 2, 9));
    assert_eq!(response.node_endpoints[0].port, 9094);
}

#[test]
fn fetch_vectors_match_kafkas_own_schema() {
    let (_, _, body) = request_of("fetch-v17-request");
    assert_eq!(
        body,
        RequestBody::Fetch(FetchRequest {
            cluster_id: Some(CLUSTER.into()),
            replica_state: fetch_request::ReplicaState {
                replica_id: 2,
                replica_epoch: -1,
                ..Default::default()
            },
            max_wait_ms: 500,
            min_bytes: 0,
            max_bytes: 8_388_608,
            session_id: 0,
            session_epoch: -1,
            topics: vec![fetch_request::FetchTopic {
                topic_id: Uuid::METADATA_TOPIC_ID,
                partitions: vec![fetch_request::FetchPartition {
                    partition: 0,
                    current_leader_epoch: 8,
                    fetch_offset: 1235,
                    last_fetched_epoch: 7,
                    log_start_offset: -1,
                    partition_max_bytes: 8_388_608,
                    replica_directory_id: dir_2(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    );
    let (_, _, body) = request_of("fetch-v12-request");
    let RequestBody::Fetch(request) = body else {
        panic!("wrong api")
    };
    assert_eq!(
        (request.replica_id, request.cluster_id.as_deref()),
        (5, None)
    );
    assert_eq!(request.topics[0].topic, METADATA);
    assert_eq!(
        request.topics[0].partitions[0].partition_max_bytes,
        1_048_576
    );

    let (_, body) = response_of("fetch-v17-response");
    assert_eq!(
        body,
        ResponseBody::Fetch(FetchResponse {
            responses: vec![fetch_response::FetchableTopicResponse {
                topic_id: Uuid::METADATA_TOPIC_ID,
                partitions: vec![fetch_response::PartitionData {
                    partition_index: 0,
                    error_code: 0,
                    high_watermark: 1200,
                    last_stable_offset: 1200,
                    log_start_offset: 0,
                    diverging_epoch: fetch_response::EpochEndOffset {
                        epoch: 6,
                        end_offset: 1100,
                        ..Default::default()
                    },
                    current_leader: fetch_response::LeaderIdAndEpoch {
                        leader_id: 1,
                        leader_epoch: 8,
                        ..Default::default()
                    },
                    aborted_transactions: None,
                    preferred_read_replica: -1,
                    records: Some((0u8..16).collect()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            node_endpoints: vec![fetch_response::NodeEndpoint {
                node_id: 1,
                host: "127.0.0.1".into(),
                port: 9093,
                rack: None,
                ..Default::default()
            }],
            ..Default::default()
        })
    );
}

#[test]
fn fetch_snapshot_vectors_are_the_messages_given() {
    let (_, _, body) = request_of("fetch-snapshot-v1-request");
    assert_eq!(
        body,
        RequestBody::FetchSnapshot(FetchSnapshotRequest {
            cluster_id: Some(CLUSTER.into()),
            replica_id: 2,
            max_bytes: 1_048_576,
            topics: vec![fetch_snapshot_request::TopicSnapshot {
                name: METADATA.into(),
                partitions: vec![fetch_snapshot_request::PartitionSnapshot {
                    partition: 0,
                    current_leader_epoch: 8,
                    snapshot_id: fetch_snapshot_request::SnapshotId {
                        end_offset: 1000,
                        epoch: 7,
                        ..Default::default()
                    },
                    position: 65536,
                    replica_directory_id: dir_2(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    );
    let (_, body) = response_of("fetch-snapshot-v1-response");
    let ResponseBody::FetchSnapshot(response) = body else {
        panic!("wrong api")
    };
    let p = &response.topics[0].partitions[0];
    assert_eq!((p.snapshot_id.end_offset, p.snapshot_id.epoch), (1000, 7));
    assert_eq!(
        (p.current_leader.leader_id, p.current_leader.leader_epoch),
        (1, 8)
    );
    assert_eq!((p.size, p.position), (70000, 65536));
    assert_eq!(p.unaligned_records, vec![0xab; 12]);
    assert_eq!(response.node_endpoints[0].node_id, 1);
}

#[test]
fn describe_quorum_vectors_match_kafkas_own_schema() {
    let (_, client_id, body) = request_of("describe-quorum-v2-request");
    assert_eq!(client_id.as_deref(), Some("adminclient-1"));
    let RequestBody::DescribeQuorum(request) = body else {
        panic!("wrong api")
    };
    assert_eq!(request.topics[0].topic_name, METADATA);
    assert_eq!(request.topics[0].partitions[0].partition_index, 0);

    let (_, body) = response_of("describe-quorum-v2-response");
    let ResponseBody::DescribeQuorum(response) = body else {
        panic!("wrong api")
    };
    let p = &response.topics[0].partitions[0];
    assert_eq!(
        (p.leader_id, p.leader_epoch, p.high_watermark),
        (1, 8, 1200)
    );
    let voters: Vec<_> = p
        .current_voters
        .iter()
        .map(|v| {
            (
                v.replica_id,
                v.replica_directory_id,
                v.log_end_offset,
                v.last_fetch_timestamp,
            )
        })
        .collect();
    assert_eq!(
        voters,
        vec![
            (1, dir_1(), 1235, 1_763_700_000_000),
            (2, dir_2(), 1200, 1_763_699_999_500)
        ]
    );
    assert_eq!(p.observers[0].replica_id, 101);
    assert_eq!(p.observers[0].last_caught_up_timestamp, -1);
    assert_eq!(response.nodes[1].listeners[0].port, 9094);

    let (_, body) = response_of("describe-quorum-v0-response");
    let ResponseBody::DescribeQuorum(response) = body else {
        panic!("wrong api")
    };
    let voter = &response.topics[0].partitions[0].current_voters[0];
    assert_eq!((voter.replica_id, voter.log_end_offset), (1, 1235));
    // Fields v0 does not carry come back as their defaults.
    assert_eq!(voter.last_fetch_timestamp, -1);
    assert_eq!(response.error_message.as_deref(), Some(""));
}

#[test]
fn describe_cluster_vectors_match_kafkas_own_schema() {
    let (_, _, body) = request_of("describe-cluster-v1-request");
    assert_eq!(
        body,
        RequestBody::DescribeCluster(DescribeClusterRequest {
            include_cluster_authorized_operations: false,
            endpoint_type: 2,
            ..Default::default()
        })
    );
    let (_, body) = response_of("describe-cluster-v1-response");
    let broker = |broker_id, port| describe_cluster_response::DescribeClusterBroker {
        broker_id,
        host: "127.0.0.1".into(),
        port,
        rack: None,
        ..Default::default()
    };
    assert_eq!(
        body,
        ResponseBody::DescribeCluster(DescribeClusterResponse {
            endpoint_type: 2,
            cluster_id: CLUSTER.into(),
            controller_id: 2,
            brokers: vec![broker(1, 9093), broker(2, 9094)],
            cluster_authorized_operations: i32::MIN,
            ..Default::default()
        })
    );
}

fn payments_id() -> Uuid {
    uuid("5f1d9c2e-8a4b-4c3d-9e7f-102132435465")
}

fn metrics_id() -> Uuid {
    uuid("0b8e6a4c-2d1f-4e3a-8b5c-a6b7c8d9e0f1")
}

fn gone_id() -> Uuid {
    uuid("deadbeef-0000-4000-8000-00000000c0de")
}

fn metadata_brokers() -> Vec<metadata_response::MetadataResponseBroker> {
    use metadata_response::MetadataResponseBroker;
    vec![
        MetadataResponseBroker {
            node_id: 1,
            host: "10.0.0.1".into(),
            port: 9092,
            rack: Some("rack-a".into()),
            ..Default::default()
        },
        MetadataResponseBroker {
            node_id: 2,
            host: "broker-2.example".into(),
            port: 19092,
            rack: None,
            ..Default::default()
        },
    ]
}

#[test]
fn metadata_vectors_match_kafkas_own_schema() {
    use metadata_request::MetadataRequestTopic;
    use metadata_response::{MetadataResponsePartition, MetadataResponseTopic};
    let by_name = |name: &str| MetadataRequestTopic {
        name: Some(name.into()),
        ..Default::default()
    };
    let (correlation_id, client_id, body) = request_of("metadata-v4-request");
    assert_eq!(
        (correlation_id, client_id.as_deref()),
        (30, Some("adminclient-1"))
    );
    assert_eq!(
        body,
        RequestBody::Metadata(MetadataRequest {
            topics: Some(vec![by_name("payments"), by_name("audit-log")]),
            allow_auto_topic_creation: false,
            ..Default::default()
        })
    );
    let (_, body) = response_of("metadata-v4-response");
    assert_eq!(
        body,
        ResponseBody::Metadata(MetadataResponse {
            throttle_time_ms: 0,
            brokers: metadata_brokers(),
            cluster_id: Some(CLUSTER.into()),
            controller_id: 2,
            topics: vec![
                MetadataResponseTopic {
                    error_code: 0,
                    name: Some("payments".into()),
                    is_internal: false,
                    partitions: vec![
                        MetadataResponsePartition {
                            error_code: 0,
                            partition_index: 0,
                            leader_id: 1,
                            replica_nodes: vec![1, 2],
                            isr_nodes: vec![1, 2],
                            ..Default::default()
                        },
                        MetadataResponsePartition {
                            error_code: 9,
                            partition_index: 1,
                            leader_id: 2,
                            replica_nodes: vec![2, 1],
                            isr_nodes: vec![2],
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
                MetadataResponseTopic {
                    error_code: 3,
                    name: Some("audit-log".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
    );

    let (_, _, body) = request_of("metadata-v12-request");
    assert_eq!(
        body,
        RequestBody::Metadata(MetadataRequest {
            topics: Some(vec![
                MetadataRequestTopic {
                    topic_id: payments_id(),
                    name: None,
                    ..Default::default()
                },
                MetadataRequestTopic {
                    topic_id: Uuid::ZERO,
                    name: Some("audit-log".into()),
                    ..Default::default()
                },
                MetadataRequestTopic {
                    topic_id: gone_id(),
                    name: None,
                    ..Default::default()
                },
            ]),
            allow_auto_topic_creation: false,
            include_topic_authorized_operations: true,
            ..Default::default()
        })
    );
    let (_, body) = response_of("metadata-v12-response");
    let not_found = |error_code, name: Option<&str>, topic_id| MetadataResponseTopic {
        error_code,
        name: name.map(str::to_owned),
        topic_id,
        topic_authorized_operations: i32::MIN,
        ..Default::default()
    };
    assert_eq!(
        body,
        ResponseBody::Metadata(MetadataResponse {
            brokers: metadata_brokers(),
            cluster_id: Some(CLUSTER.into()),
            controller_id: 1,
            topics: vec![
                MetadataResponseTopic {
                    error_code: 0,
                    name: Some("payments".into()),
                    topic_id: payments_id(),
                    is_internal: false,
                    partitions: vec![MetadataResponsePartition {
                        error_code: 0,
                        partition_index: 0,
                        leader_id: 1,
                        leader_epoch: 14,
                        replica_nodes: vec![1, 2, 3],
                        isr_nodes: vec![1, 2],
                        offline_replicas: vec![3],
                        ..Default::default()
                    }],
                    // READ (3), WRITE (4) and DESCRIBE (8): kafka-python was given the bit set.
                    topic_authorized_operations: (1 << 3) | (1 << 4) | (1 << 8),
                    ..Default::default()
                },
                not_found(3, Some("audit-log"), Uuid::ZERO),
                not_found(100, None, gone_id()),
            ],
            ..Default::default()
        })
    );
}

#[test]
fn metadata_captures_from_real_clients() {
    let (correlation_id, client_id, body) = request_of("metadata-v4-request-kcat");
    assert_eq!((correlation_id, client_id.as_deref()), (3, Some("rdkafka")));
    assert_eq!(
        body,
        RequestBody::Metadata(MetadataRequest {
            topics: None,
            allow_auto_topic_creation: true,
            ..Default::default()
        })
    );
    let (correlation_id, _, body) = request_of("metadata-v4-request-librdkafka-brokers-only");
    assert_eq!(correlation_id, 2);
    assert_eq!(
        body,
        RequestBody::Metadata(MetadataRequest {
            topics: Some(vec![]),
            allow_auto_topic_creation: false,
            ..Default::default()
        })
    );
    let (correlation_id, body) = response_of("metadata-v4-response-kcat");
    assert_eq!(correlation_id, 3);
    assert_eq!(
        body,
        ResponseBody::Metadata(MetadataResponse {
            brokers: vec![metadata_response::MetadataResponseBroker {
                node_id: 1,
                host: "127.0.0.1".into(),
                port: 19093,
                rack: None,
                ..Default::default()
            }],
            cluster_id: Some(CLUSTER.into()),
            controller_id: 1,
            topics: vec![metadata_response::MetadataResponseTopic {
                error_code: 0,
                name: Some("ck_def".into()),
                is_internal: false,
                partitions: vec![metadata_response::MetadataResponsePartition {
                    error_code: 0,
                    partition_index: 0,
                    leader_id: 1,
                    replica_nodes: vec![1],
                    isr_nodes: vec![1],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    );
    // librdkafka's malformed "every topic" v12 request reads as every topic, without
    // auto-creation; the three bytes after the body are ignored (the general test checks the
    // count).
    let (correlation_id, _, body) =
        request_of("metadata-v12-request-confluent-kafka-trailing-bytes");
    assert_eq!(correlation_id, 3);
    assert_eq!(
        body,
        RequestBody::Metadata(MetadataRequest {
            topics: None,
            allow_auto_topic_creation: false,
            include_topic_authorized_operations: false,
            ..Default::default()
        })
    );
}

fn create_topics_request_topics() -> Vec<create_topics_request::CreatableTopic> {
    use create_topics_request::{CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig};
    let config = |name: &str, value: Option<&str>| CreatableTopicConfig {
        name: name.into(),
        value: value.map(str::to_owned),
        ..Default::default()
    };
    let assignment = |partition_index, broker_ids| CreatableReplicaAssignment {
        partition_index,
        broker_ids,
        ..Default::default()
    };
    vec![
        CreatableTopic {
            name: "payments".into(),
            num_partitions: 6,
            replication_factor: 3,
            assignments: vec![],
            configs: vec![
                config("retention.ms", Some("604800000")),
                config("cleanup.policy", Some("compact")),
            ],
            ..Default::default()
        },
        CreatableTopic {
            name: "audit-log".into(),
            num_partitions: -1,
            replication_factor: -1,
            assignments: vec![assignment(0, vec![1, 2]), assignment(1, vec![2, 3])],
            configs: vec![config("compression.type", None)],
            ..Default::default()
        },
    ]
}

#[test]
fn create_topics_vectors_match_kafkas_own_schema() {
    use create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
    for (name, version, validate_only) in [
        ("create-topics-v4-request", 4, true),
        ("create-topics-v7-request", 7, false),
    ] {
        let (_, _, body) = request_of(name);
        assert_eq!(
            body,
            RequestBody::CreateTopics(CreateTopicsRequest {
                topics: create_topics_request_topics(),
                timeout_ms: 30000,
                validate_only,
                ..Default::default()
            }),
            "v{version}"
        );
    }
    let exists = "Topic 'audit-log' already exists.";
    let (_, body) = response_of("create-topics-v4-response");
    assert_eq!(
        body,
        ResponseBody::CreateTopics(CreateTopicsResponse {
            throttle_time_ms: 0,
            topics: vec![
                CreatableTopicResult {
                    name: "payments".into(),
                    error_code: 0,
                    error_message: None,
                    ..Default::default()
                },
                CreatableTopicResult {
                    name: "audit-log".into(),
                    error_code: 36,
                    error_message: Some(exists.into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
    );
    let (_, body) = response_of("create-topics-v7-response");
    let config = |name: &str, value: Option<&str>, read_only, config_source, is_sensitive| {
        CreatableTopicConfigs {
            name: name.into(),
            value: value.map(str::to_owned),
            read_only,
            config_source,
            is_sensitive,
            ..Default::default()
        }
    };
    assert_eq!(
        body,
        ResponseBody::CreateTopics(CreateTopicsResponse {
            throttle_time_ms: 0,
            topics: vec![
                CreatableTopicResult {
                    name: "payments".into(),
                    topic_id: payments_id(),
                    error_code: 0,
                    error_message: None,
                    topic_config_error_code: 0,
                    num_partitions: 6,
                    replication_factor: 3,
                    configs: Some(vec![
                        config("retention.ms", Some("604800000"), false, 1, false),
                        config("sasl.jaas.config", None, true, 4, true),
                    ]),
                    ..Default::default()
                },
                CreatableTopicResult {
                    name: "metrics".into(),
                    topic_id: metrics_id(),
                    error_code: 0,
                    error_message: None,
                    topic_config_error_code: 29,
                    num_partitions: 3,
                    replication_factor: 2,
                    configs: None,
                    ..Default::default()
                },
                CreatableTopicResult {
                    name: "audit-log".into(),
                    topic_id: Uuid::ZERO,
                    error_code: 36,
                    error_message: Some(exists.into()),
                    num_partitions: -1,
                    replication_factor: -1,
                    configs: None,
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
    );
}

#[test]
fn create_topics_captures_from_confluent_kafka() {
    let (correlation_id, client_id, body) = request_of("create-topics-v4-request-confluent-kafka");
    assert_eq!((correlation_id, client_id.as_deref()), (7, Some("rdkafka")));
    assert_eq!(
        body,
        RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![create_topics_request::CreatableTopic {
                name: "ck_def".into(),
                num_partitions: -1,
                replication_factor: -1,
                ..Default::default()
            }],
            timeout_ms: 60000,
            validate_only: false,
            ..Default::default()
        })
    );
    let result = |name: &str, error_code, error_message: Option<&str>| {
        create_topics_response::CreatableTopicResult {
            name: name.into(),
            error_code,
            error_message: error_message.map(str::to_owned),
            ..Default::default()
        }
    };
    let (_, body) = response_of("create-topics-v4-response-confluent-kafka");
    assert_eq!(
        body,
        ResponseBody::CreateTopics(CreateTopicsResponse {
            topics: vec![result("ck_def", 0, None)],
            ..Default::default()
        })
    );
    let (correlation_id, body) = response_of("create-topics-v4-response-confluent-kafka-error");
    assert_eq!(correlation_id, 6);
    assert_eq!(
        body,
        ResponseBody::CreateTopics(CreateTopicsResponse {
            topics: vec![result(
                "ck_bad",
                38,
                Some("Replication factor: 3 larger than available brokers: 1.")
            )],
            ..Default::default()
        })
    );
}

#[test]
fn delete_topics_vectors_match_kafkas_own_schema() {
    use delete_topics_request::DeleteTopicState;
    use delete_topics_response::DeletableTopicResult;
    let (_, _, body) = request_of("delete-topics-v1-request");
    assert_eq!(
        body,
        RequestBody::DeleteTopics(DeleteTopicsRequest {
            topic_names: vec!["payments".into(), "audit-log".into()],
            timeout_ms: 15000,
            ..Default::default()
        })
    );
    let (_, body) = response_of("delete-topics-v1-response");
    let result = |name: &str, error_code| DeletableTopicResult {
        name: Some(name.into()),
        error_code,
        ..Default::default()
    };
    assert_eq!(
        body,
        ResponseBody::DeleteTopics(DeleteTopicsResponse {
            responses: vec![result("payments", 0), result("audit-log", 3)],
            ..Default::default()
        })
    );
    let (_, _, body) = request_of("delete-topics-v6-request");
    assert_eq!(
        body,
        RequestBody::DeleteTopics(DeleteTopicsRequest {
            topics: vec![
                DeleteTopicState {
                    name: Some("payments".into()),
                    topic_id: Uuid::ZERO,
                    ..Default::default()
                },
                DeleteTopicState {
                    name: None,
                    topic_id: gone_id(),
                    ..Default::default()
                },
            ],
            timeout_ms: 15000,
            ..Default::default()
        })
    );
    let (_, body) = response_of("delete-topics-v6-response");
    assert_eq!(
        body,
        ResponseBody::DeleteTopics(DeleteTopicsResponse {
            responses: vec![
                DeletableTopicResult {
                    name: Some("payments".into()),
                    topic_id: payments_id(),
                    error_code: 0,
                    error_message: None,
                    ..Default::default()
                },
                DeletableTopicResult {
                    name: None,
                    topic_id: gone_id(),
                    error_code: 100,
                    error_message: Some("This server does not host this topic ID.".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
    );

    // confluent-kafka's capture and the answer it accepted.
    let (correlation_id, _, body) = request_of("delete-topics-v1-request-confluent-kafka");
    assert_eq!(correlation_id, 14);
    assert_eq!(
        body,
        RequestBody::DeleteTopics(DeleteTopicsRequest {
            topic_names: vec!["ck1".into()],
            timeout_ms: 5000,
            ..Default::default()
        })
    );
    let (_, body) = response_of("delete-topics-v1-response-confluent-kafka");
    assert_eq!(
        body,
        ResponseBody::DeleteTopics(DeleteTopicsResponse {
            responses: vec![result("ck1", 0)],
            ..Default::default()
        })
    );
}

#[test]
fn create_partitions_vectors_match_kafkas_own_schema() {
    use create_partitions_request::{CreatePartitionsAssignment, CreatePartitionsTopic};
    use create_partitions_response::CreatePartitionsTopicResult;
    let assignment = |broker_ids| CreatePartitionsAssignment {
        broker_ids,
        ..Default::default()
    };
    let (_, _, body) = request_of("create-partitions-v0-request");
    assert_eq!(
        body,
        RequestBody::CreatePartitions(CreatePartitionsRequest {
            topics: vec![
                CreatePartitionsTopic {
                    name: "payments".into(),
                    count: 8,
                    assignments: Some(vec![assignment(vec![1, 2]), assignment(vec![2, 3])]),
                    ..Default::default()
                },
                CreatePartitionsTopic {
                    name: "audit-log".into(),
                    count: 4,
                    assignments: None,
                    ..Default::default()
                },
            ],
            timeout_ms: 25000,
            validate_only: false,
            ..Default::default()
        })
    );
    let result =
        |name: &str, error_code, error_message: Option<&str>| CreatePartitionsTopicResult {
            name: name.into(),
            error_code,
            error_message: error_message.map(str::to_owned),
            ..Default::default()
        };
    let (_, body) = response_of("create-partitions-v0-response");
    assert_eq!(
        body,
        ResponseBody::CreatePartitions(CreatePartitionsResponse {
            throttle_time_ms: 0,
            results: vec![
                result("payments", 0, None),
                result("audit-log", 37, Some("Topic already has 4 partition(s).")),
            ],
            ..Default::default()
        })
    );

    let (correlation_id, _, body) = request_of("create-partitions-v0-request-confluent-kafka");
    assert_eq!(correlation_id, 8);
    assert_eq!(
        body,
        RequestBody::CreatePartitions(CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: "ck1".into(),
                count: 4,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: 60000,
            validate_only: false,
            ..Default::default()
        })
    );
    let (_, body) = response_of("create-partitions-v0-response-confluent-kafka");
    assert_eq!(
        body,
        ResponseBody::CreatePartitions(CreatePartitionsResponse {
            results: vec![result("ck1", 0, None)],
            ..Default::default()
        })
    );
}

#[test]
fn describe_configs_vectors_match_kafkas_own_schema() {
    use describe_configs_request::DescribeConfigsResource;
    use describe_configs_response::{
        DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
    };
    let (_, _, body) = request_of("describe-configs-v1-request");
    assert_eq!(
        body,
        RequestBody::DescribeConfigs(DescribeConfigsRequest {
            resources: vec![
                DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: "payments".into(),
                    configuration_keys: Some(vec!["retention.ms".into(), "cleanup.policy".into()]),
                    ..Default::default()
                },
                DescribeConfigsResource {
                    resource_type: 4,
                    resource_name: "1".into(),
                    configuration_keys: None,
                    ..Default::default()
                },
            ],
            include_synonyms: true,
            ..Default::default()
        })
    );
    let entry =
        |name: &str, value: Option<&str>, read_only, config_source, is_sensitive, synonyms| {
            DescribeConfigsResourceResult {
                name: name.into(),
                value: value.map(str::to_owned),
                read_only,
                config_source,
                is_sensitive,
                synonyms,
                ..Default::default()
            }
        };
    let synonym = |name: &str, value: &str, source| DescribeConfigsSynonym {
        name: name.into(),
        value: Some(value.into()),
        source,
        ..Default::default()
    };
    let (_, body) = response_of("describe-configs-v1-response");
    assert_eq!(
        body,
        ResponseBody::DescribeConfigs(DescribeConfigsResponse {
            throttle_time_ms: 0,
            results: vec![
                DescribeConfigsResult {
                    error_code: 0,
                    error_message: None,
                    resource_type: 2,
                    resource_name: "payments".into(),
                    configs: vec![
                        entry(
                            "retention.ms",
                            Some("604800000"),
                            false,
                            1,
                            false,
                            vec![
                                synonym("retention.ms", "604800000", 1),
                                synonym("log.retention.hours", "168", 4),
                            ]
                        ),
                        entry("cleanup.policy", Some("compact"), false, 1, false, vec![]),
                    ],
                    ..Default::default()
                },
                DescribeConfigsResult {
                    error_code: 0,
                    error_message: None,
                    resource_type: 4,
                    resource_name: "1".into(),
                    configs: vec![entry("ssl.key.password", None, true, 4, true, vec![])],
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
    );

    let (correlation_id, _, body) = request_of("describe-configs-v1-request-confluent-kafka");
    assert_eq!(correlation_id, 10);
    assert_eq!(
        body,
        RequestBody::DescribeConfigs(DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: 2,
                resource_name: "ck1".into(),
                configuration_keys: None,
                ..Default::default()
            }],
            include_synonyms: true,
            ..Default::default()
        })
    );
    let (_, body) = response_of("describe-configs-v1-response-confluent-kafka");
    assert_eq!(
        body,
        ResponseBody::DescribeConfigs(DescribeConfigsResponse {
            results: vec![DescribeConfigsResult {
                error_code: 0,
                error_message: None,
                resource_type: 2,
                resource_name: "ck1".into(),
                configs: vec![
                    entry("cleanup.policy", Some("delete"), false, 5, false, vec![]),
                    entry("retention.ms", Some("1000"), false, 1, false, vec![]),
                ],
                ..Default::default()
            }],
            ..Default::default()
        })
    );
}

#[test]
fn alter_configs_vectors_match_kafkas_own_schema() {
    use alter_configs_request::{AlterConfigsResource, AlterableConfig};
    use alter_configs_response::AlterConfigsResourceResponse;
    let config = |name: &str, value: Option<&str>| AlterableConfig {
        name: name.into(),
        value: value.map(str::to_owned),
        ..Default::default()
    };
    let (_, _, body) = request_of("alter-configs-v0-request");
    assert_eq!(
        body,
        RequestBody::AlterConfigs(AlterConfigsRequest {
            resources: vec![
                AlterConfigsResource {
                    resource_type: 2,
                    resource_name: "payments".into(),
                    configs: vec![
                        config("retention.ms", Some("86400000")),
                        config("cleanup.policy", None),
                    ],
                    ..Default::default()
                },
                AlterConfigsResource {
                    resource_type: 4,
                    resource_name: "2".into(),
                    configs: vec![config("log.cleaner.threads", Some("2"))],
                    ..Default::default()
                },
            ],
            validate_only: true,
            ..Default::default()
        })
    );
    let (_, body) = response_of("alter-configs-v0-response");
    assert_eq!(
        body,
        ResponseBody::AlterConfigs(AlterConfigsResponse {
            throttle_time_ms: 0,
            responses: vec![
                AlterConfigsResourceResponse {
                    error_code: 0,
                    error_message: None,
                    resource_type: 2,
                    resource_name: "payments".into(),
                    ..Default::default()
                },
                AlterConfigsResourceResponse {
                    error_code: 40,
                    error_message: Some("Invalid value for log.cleaner.threads".into()),
                    resource_type: 4,
                    resource_name: "2".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
    );
}

#[test]
fn incremental_alter_configs_vectors_match_kafkas_own_schema() {
    use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let config = |name: &str, config_operation, value: Option<&str>| AlterableConfig {
        name: name.into(),
        config_operation,
        value: value.map(str::to_owned),
        ..Default::default()
    };
    let (_, _, body) = request_of("incremental-alter-configs-v1-request");
    assert_eq!(
        body,
        RequestBody::IncrementalAlterConfigs(IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: 2,
                resource_name: "payments".into(),
                configs: vec![
                    config("retention.ms", 0, Some("86400000")),
                    config("cleanup.policy", 2, Some("delete")),
                    config("min.insync.replicas", 1, None),
                ],
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        })
    );
    let (_, body) = response_of("incremental-alter-configs-v1-response");
    assert_eq!(
        body,
        ResponseBody::IncrementalAlterConfigs(IncrementalAlterConfigsResponse {
            throttle_time_ms: 0,
            responses: vec![
                incremental_alter_configs_response::AlterConfigsResourceResponse {
                    error_code: 0,
                    error_message: None,
                    resource_type: 2,
                    resource_name: "payments".into(),
                    ..Default::default()
                }
            ],
            ..Default::default()
        })
    );
}

#[test]
fn broker_registration_and_heartbeat_vectors_are_the_messages_given() {
    use broker_registration_request::{Feature, Listener};
    let listener = |name: &str, host: &str, port, security_protocol| Listener {
        name: name.into(),
        host: host.into(),
        port,
        security_protocol,
        ..Default::default()
    };
    let feature = |name: &str, min_supported_version, max_supported_version| Feature {
        name: name.into(),
        min_supported_version,
        max_supported_version,
        ..Default::default()
    };
    let (correlation_id, client_id, body) = request_of("broker-registration-v4-request");
    assert_eq!(
        (correlation_id, client_id.as_deref()),
        (40, Some("broker-4"))
    );
    assert_eq!(
        body,
        RequestBody::BrokerRegistration(BrokerRegistrationRequest {
            broker_id: 4,
            cluster_id: CLUSTER.into(),
            incarnation_id: uuid("7c6b5a49-3827-4615-a4b3-c2d1e0f9a8b7"),
            listeners: vec![
                listener("PLAINTEXT", "10.0.0.4", 9092, 0),
                listener("SSL", "broker-4.example", 9443, 1),
            ],
            features: vec![
                feature("metadata.version", 7, 26),
                feature("kraft.version", 0, 1),
            ],
            rack: Some("rack-b".into()),
            is_migrating_zk_broker: false,
            log_dirs: vec![dir_1(), dir_2()],
            previous_broker_epoch: 4321,
            ..Default::default()
        })
    );
    let (_, body) = response_of("broker-registration-v4-response");
    assert_eq!(
        body,
        ResponseBody::BrokerRegistration(BrokerRegistrationResponse {
            throttle_time_ms: 0,
            error_code: 0,
            broker_epoch: 5678,
            ..Default::default()
        })
    );

    let (_, _, body) = request_of("broker-heartbeat-v1-request");
    assert_eq!(
        body,
        RequestBody::BrokerHeartbeat(BrokerHeartbeatRequest {
            broker_id: 4,
            broker_epoch: 5678,
            current_metadata_offset: 91011,
            want_fence: false,
            want_shut_down: true,
            offline_log_dirs: vec![dir_2()],
            ..Default::default()
        })
    );
    let (_, body) = response_of("broker-heartbeat-v1-response");
    assert_eq!(
        body,
        ResponseBody::BrokerHeartbeat(BrokerHeartbeatResponse {
            throttle_time_ms: 0,
            error_code: 0,
            is_caught_up: true,
            is_fenced: false,
            should_shut_down: true,
            ..Default::default()
        })
    );
}

#[test]
fn unregister_broker_and_alter_partition_vectors_are_the_messages_given() {
    let (_, _, body) = request_of("unregister-broker-v0-request");
    assert_eq!(
        body,
        RequestBody::UnregisterBroker(UnregisterBrokerRequest {
            broker_id: 7,
            ..Default::default()
        })
    );
    let (_, body) = response_of("unregister-broker-v0-response");
    assert_eq!(
        body,
        ResponseBody::UnregisterBroker(UnregisterBrokerResponse {
            throttle_time_ms: 0,
            error_code: 102,
            error_message: Some("Broker ID 7 is not currently registered".into()),
            ..Default::default()
        })
    );

    use alter_partition_request::{BrokerState, PartitionData, TopicData};
    let member = |broker_id, broker_epoch| BrokerState {
        broker_id,
        broker_epoch,
        ..Default::default()
    };
    let (_, _, body) = request_of("alter-partition-v3-request");
    assert_eq!(
        body,
        RequestBody::AlterPartition(AlterPartitionRequest {
            broker_id: 4,
            broker_epoch: 5678,
            topics: vec![TopicData {
                topic_id: payments_id(),
                partitions: vec![PartitionData {
                    partition_index: 2,
                    leader_epoch: 11,
                    new_isr_with_epochs: vec![member(4, 5678), member(5, 6789)],
                    leader_recovery_state: 0,
                    partition_epoch: 23,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    );
    let (_, body) = response_of("alter-partition-v3-response");
    assert_eq!(
        body,
        ResponseBody::AlterPartition(AlterPartitionResponse {
            throttle_time_ms: 0,
            error_code: 0,
            topics: vec![alter_partition_response::TopicData {
                topic_id: payments_id(),
                partitions: vec![alter_partition_response::PartitionData {
                    partition_index: 2,
                    error_code: 0,
                    leader_id: 4,
                    leader_epoch: 11,
                    isr: vec![4, 5],
                    leader_recovery_state: 0,
                    partition_epoch: 24,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    );
}

/// keel's refusals of the client APIs brokers do not serve (`keel::node::not_served`), built
/// from the requests real clients send, are the responses kafka-python's encoder wrote from
/// Kafka's own schemas, field for field.
#[test]
fn not_served_refusals_match_kafkas_own_schema() {
    use keel::node::not_served;

    let (_, _, RequestBody::Produce(produce)) = request_of("produce-v7-request") else {
        panic!("not a Produce request")
    };
    assert_eq!(produce.acks, -1);
    assert_eq!(produce.topic_data[0].name, "orders");
    assert_eq!(produce.topic_data[0].partition_data[0].index, 2);
    assert_eq!(
        produce.topic_data[0].partition_data[0].records.as_deref(),
        Some(&(0..24).collect::<Vec<u8>>()[..])
    );
    let (_, expected) = response_of("produce-v7-response");
    assert_eq!(
        ResponseBody::Produce(not_served::produce_response(&produce, 7)),
        expected
    );

    // v9 (flexible) carries keel's message per partition.
    let mut first = produce.clone();
    first.topic_data[0].partition_data[0].index = 0;
    let (_, expected) = response_of("produce-v9-response");
    assert_eq!(
        ResponseBody::Produce(not_served::produce_response(&first, 9)),
        expected
    );

    let (_, _, RequestBody::ListOffsets(list)) = request_of("list-offsets-v2-request") else {
        panic!("not a ListOffsets request")
    };
    assert_eq!(list.topics[0].partitions[0].timestamp, -1);
    let (_, expected) = response_of("list-offsets-v2-response");
    assert_eq!(
        ResponseBody::ListOffsets(not_served::list_offsets_response(&list, 2)),
        expected
    );

    // The Fetch aiokafka 0.14 (and librdkafka 2.0.2) sends at most: v11, by name, below the
    // versions controllers serve; refused with an empty record set.
    let (_, _, RequestBody::Fetch(fetch)) = request_of("fetch-v11-request") else {
        panic!("not a Fetch request")
    };
    assert_eq!(
        (fetch.replica_id, fetch.max_bytes, fetch.session_epoch),
        (-1, 52_428_800, -1)
    );
    assert_eq!(fetch.topics[0].topic, "orders");
    let partition = &fetch.topics[0].partitions[0];
    assert_eq!(
        (
            partition.partition,
            partition.fetch_offset,
            partition.partition_max_bytes
        ),
        (0, 0, 1_048_576)
    );
    let (_, expected) = response_of("fetch-v11-response");
    assert_eq!(
        ResponseBody::Fetch(not_served::fetch_response(&fetch, 11)),
        expected
    );

    let (_, _, RequestBody::FindCoordinator(find)) = request_of("find-coordinator-v2-request")
    else {
        panic!("not a FindCoordinator request")
    };
    assert_eq!((find.key.as_str(), find.key_type), ("keel-test", 0));
    let (_, expected) = response_of("find-coordinator-v2-response");
    assert_eq!(
        ResponseBody::FindCoordinator(not_served::find_coordinator_response(&find, 2)),
        expected
    );
    let batched = FindCoordinatorRequest {
        key_type: 0,
        coordinator_keys: vec!["keel-test".into()],
        ..Default::default()
    };
    let (_, expected) = response_of("find-coordinator-v4-response");
    assert_eq!(
        ResponseBody::FindCoordinator(not_served::find_coordinator_response(&batched, 4)),
        expected
    );
}
