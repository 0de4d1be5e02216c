//! One request must never crash a node or keep a voter out of the quorum, checked on real
//! processes over sockets: every API a node advertises at every version it advertises, sent to
//! every controller and to a broker (which forwards some to the active controller); the
//! DescribeQuorum v0 and v1 that `kafka-metadata-quorum.sh` from before KIP-853 sends; v0
//! Vote, BeginQuorumEpoch and EndQuorumEpoch; and a stranger's Vote or BeginQuorumEpoch far
//! ahead, after which the voter it hit must be back in the quorum with no lag within 10 s.
//! The in-process whole-path fuzz (`src/node/request_matrix.rs`) generates field contents;
//! this one sends fixed, pointed ones through the real binary.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::brokers::create_topics_request;
use common::{Cluster, Settings, wait_for};
use keel::admin::client::Client;
use keel::protocol::envelope::{decode_response_body, encode_request_body};
use keel::protocol::messages::*;
use keel::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody, Uuid};

const METADATA_TOPIC: &str = "__cluster_metadata";
const CREATE_TOPICS_VERSION: i16 = 7;

/// What became of one request.
#[derive(Debug)]
enum Outcome {
    Answered(ResponseBody),
    Closed,
}

/// Sends `request` at `version` on a new connection to `address` and reads the answer. Any
/// answer must decode at the request's version.
fn send(address: &str, request: &RequestBody, version: i16) -> Outcome {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut frame = Vec::new();
    encode_request_body(&mut frame, 77, Some("hostile"), version, request)
        .unwrap_or_else(|e| panic!("the test built an unencodable request: {e}"));
    stream.write_all(&frame).expect("write");
    let mut prefix = [0u8; 4];
    match stream.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ) =>
        {
            return Outcome::Closed;
        }
        Err(e) => panic!(
            "no answer from {address} to {} v{version}: {e}",
            request.api_key().name()
        ),
    }
    let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
    stream.read_exact(&mut body).expect("the whole answer");
    let (correlation_id, response) = decode_response_body(&body, request.api_key(), version)
        .unwrap_or_else(|e| {
            panic!(
                "{address}: the {} v{version} answer does not decode: {e}",
                request.api_key().name()
            )
        });
    assert_eq!(correlation_id, 77);
    Outcome::Answered(response)
}

/// What a node advertises: (API, lowest version, highest version).
fn advertised(address: &str) -> Vec<(ApiKey, i16, i16)> {
    let mut client = Client::connect(address).expect("connect");
    let (_, versions) = client.api_versions().expect("ApiVersions");
    versions
        .api_keys
        .iter()
        .map(|k| {
            (
                ApiKey::from_i16(k.api_key).expect("an API keel knows"),
                k.min_version,
                k.max_version,
            )
        })
        .collect()
}

/// The quorum partition, with the values a peer would send, at `epoch`, as `from`.
struct Aim<'a> {
    cluster_id: &'a str,
    from: i32,
    to: i32,
    epoch: i32,
}

fn vote(aim: &Aim) -> RequestBody {
    RequestBody::Vote(VoteRequest {
        cluster_id: Some(aim.cluster_id.into()),
        voter_id: aim.to,
        topics: vec![vote_request::TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions: vec![vote_request::PartitionData {
                partition_index: 0,
                replica_epoch: aim.epoch,
                replica_id: aim.from,
                last_offset_epoch: aim.epoch,
                last_offset: 1 << 40,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn begin_quorum_epoch(aim: &Aim) -> RequestBody {
    RequestBody::BeginQuorumEpoch(BeginQuorumEpochRequest {
        cluster_id: Some(aim.cluster_id.into()),
        voter_id: aim.to,
        topics: vec![begin_quorum_epoch_request::TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions: vec![begin_quorum_epoch_request::PartitionData {
                partition_index: 0,
                leader_id: aim.from,
                leader_epoch: aim.epoch,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn end_quorum_epoch(aim: &Aim) -> RequestBody {
    RequestBody::EndQuorumEpoch(EndQuorumEpochRequest {
        cluster_id: Some(aim.cluster_id.into()),
        topics: vec![end_quorum_epoch_request::TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions: vec![end_quorum_epoch_request::PartitionData {
                partition_index: 0,
                leader_id: aim.from,
                leader_epoch: aim.epoch,
                preferred_successors: vec![aim.to],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn describe_quorum() -> RequestBody {
    RequestBody::DescribeQuorum(keel::admin::quorum::describe_quorum_request())
}

fn fetch(aim: &Aim, version: i16) -> RequestBody {
    RequestBody::Fetch(FetchRequest {
        cluster_id: Some(aim.cluster_id.into()),
        replica_id: aim.from,
        replica_state: fetch_request::ReplicaState {
            replica_id: aim.from,
            ..Default::default()
        },
        max_wait_ms: 100,
        max_bytes: 1 << 20,
        topics: vec![fetch_request::FetchTopic {
            topic: if version <= 12 {
                METADATA_TOPIC.into()
            } else {
                String::new()
            },
            topic_id: if version >= 13 {
                Uuid::METADATA_TOPIC_ID
            } else {
                Uuid::ZERO
            },
            partitions: vec![fetch_request::FetchPartition {
                partition: 0,
                current_leader_epoch: aim.epoch,
                fetch_offset: 0,
                last_fetched_epoch: -1,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// The requests sent for `api` at `version`: its all-defaults body, and for the quorum APIs
/// bodies aimed at the quorum partition (as a non-voter, and as a voter far ahead).
fn requests_for(api: ApiKey, version: i16, aims: &[Aim]) -> Vec<RequestBody> {
    let mut requests = vec![empty_request(api)];
    for aim in aims {
        let aimed = match api {
            ApiKey::Vote => vote(aim),
            ApiKey::BeginQuorumEpoch => begin_quorum_epoch(aim),
            ApiKey::EndQuorumEpoch => end_quorum_epoch(aim),
            ApiKey::DescribeQuorum => describe_quorum(),
            ApiKey::Fetch => fetch(aim, version),
            _ => continue,
        };
        requests.push(aimed);
    }
    if let Some(client_request) = client_request(api) {
        requests.push(client_request);
    }
    for request in &mut requests {
        request.narrow_to_version(version);
    }
    requests
}

/// For the client APIs brokers refuse (Produce, ListOffsets, FindCoordinator), what a
/// producer or consumer sends: a topic with partitions, a group; `None` for the other APIs.
fn client_request(api: ApiKey) -> Option<RequestBody> {
    Some(match api {
        ApiKey::Produce => RequestBody::Produce(ProduceRequest {
            acks: -1,
            timeout_ms: 1_000,
            topic_data: vec![produce_request::TopicProduceData {
                name: "orders".into(),
                partition_data: (0..3)
                    .map(|index| produce_request::PartitionProduceData {
                        index,
                        records: Some(vec![0; 64]),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::ListOffsets => RequestBody::ListOffsets(ListOffsetsRequest {
            replica_id: -1,
            topics: vec![list_offsets_request::ListOffsetsTopic {
                name: "orders".into(),
                partitions: vec![list_offsets_request::ListOffsetsPartition {
                    partition_index: 0,
                    timestamp: -2,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ApiKey::FindCoordinator => RequestBody::FindCoordinator(FindCoordinatorRequest {
            key: "group".into(),
            coordinator_keys: vec!["group".into(), "other".into()],
            ..Default::default()
        }),
        _ => return None,
    })
}

/// The all-defaults body of `api`.
fn empty_request(api: ApiKey) -> RequestBody {
    match api {
        ApiKey::Produce => RequestBody::Produce(Default::default()),
        ApiKey::Fetch => RequestBody::Fetch(Default::default()),
        ApiKey::ListOffsets => RequestBody::ListOffsets(Default::default()),
        ApiKey::FindCoordinator => RequestBody::FindCoordinator(Default::default()),
        ApiKey::Metadata => RequestBody::Metadata(Default::default()),
        ApiKey::ApiVersions => RequestBody::ApiVersions(Default::default()),
        ApiKey::CreateTopics => RequestBody::CreateTopics(Default::default()),
        ApiKey::DeleteTopics => RequestBody::DeleteTopics(Default::default()),
        ApiKey::DescribeConfigs => RequestBody::DescribeConfigs(Default::default()),
        ApiKey::AlterConfigs => RequestBody::AlterConfigs(Default::default()),
        ApiKey::CreatePartitions => RequestBody::CreatePartitions(Default::default()),
        ApiKey::IncrementalAlterConfigs => RequestBody::IncrementalAlterConfigs(Default::default()),
        ApiKey::Vote => RequestBody::Vote(Default::default()),
        ApiKey::BeginQuorumEpoch => RequestBody::BeginQuorumEpoch(Default::default()),
        ApiKey::EndQuorumEpoch => RequestBody::EndQuorumEpoch(Default::default()),
        ApiKey::DescribeQuorum => RequestBody::DescribeQuorum(Default::default()),
        ApiKey::AlterPartition => RequestBody::AlterPartition(Default::default()),
        ApiKey::FetchSnapshot => RequestBody::FetchSnapshot(Default::default()),
        ApiKey::DescribeCluster => RequestBody::DescribeCluster(Default::default()),
        ApiKey::BrokerRegistration => RequestBody::BrokerRegistration(Default::default()),
        ApiKey::BrokerHeartbeat => RequestBody::BrokerHeartbeat(Default::default()),
        ApiKey::UnregisterBroker => RequestBody::UnregisterBroker(Default::default()),
    }
}

/// Every node still runs, logged no panic and no answer that needed the stand-in.
fn assert_all_healthy(cluster: &mut Cluster) {
    for id in cluster.all_ids() {
        assert!(
            cluster.exited(id).is_none(),
            "node {id} exited:\n{}",
            cluster.log_text(id)
        );
        let log = cluster.log_text(id);
        assert!(!log.contains("panicked"), "node {id} panicked:\n{log}");
        assert!(
            !log.contains("does not encode"),
            "node {id} built an answer that does not encode:\n{log}"
        );
    }
}

/// Creates a topic through the broker, retrying while the quorum re-elects.
fn writable(cluster: &Cluster, broker: u32, name: &str) {
    wait_for(
        "a topic created through the broker",
        Duration::from_secs(20),
        || {
            let mut client =
                Client::connect(&cluster.address(broker)).map_err(|e| e.to_string())?;
            let response: CreateTopicsResponse = client
                .call(
                    &create_topics_request(&[name.to_owned()], 1, 1),
                    CREATE_TOPICS_VERSION,
                )
                .map_err(|e| e.to_string())?;
            match response.topics.first().map(|t| t.error_code) {
                Some(0) => Ok(()),
                Some(code) if code == ErrorCode::TopicAlreadyExists.code() => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    );
}

fn cluster_with_a_broker(name: &str, settings: Settings) -> (Cluster, u32) {
    let mut settings = settings
        .with("broker.heartbeat.interval.ms", 100)
        .with("broker.session.timeout.ms", 3_000);
    settings.brokers = 1;
    settings.test_timeout = Duration::from_secs(240);
    let cluster = Cluster::start(name, 3, settings);
    let broker = cluster.broker_ids()[0];
    cluster.wait_for_log(
        broker,
        "unfenced by the controller",
        Duration::from_secs(20),
    );
    (cluster, broker)
}

#[test]
fn every_advertised_api_at_every_version_to_every_node_leaves_every_process_running() {
    let (mut cluster, broker) = cluster_with_a_broker("hostile-matrix", Settings::fast());
    let (_, epoch) = cluster.wait_for_leader(Duration::from_secs(10));
    let mut cells: BTreeMap<(u32, ApiKey, i16), (u32, u32)> = BTreeMap::new();
    for node in cluster.all_ids() {
        let address = cluster.address(node);
        let other = if node == 1 { 2 } else { 1 };
        let aims = [
            Aim {
                cluster_id: &cluster.cluster_id,
                from: 99,
                to: node as i32,
                epoch: epoch as i32,
            },
            Aim {
                cluster_id: &cluster.cluster_id,
                from: other,
                to: node as i32,
                epoch: epoch as i32 + 1_000,
            },
        ];
        for (api, min, max) in advertised(&address) {
            for version in min..=max {
                for request in requests_for(api, version, &aims) {
                    let cell = cells.entry((node, api, version)).or_default();
                    match send(&address, &request, version) {
                        Outcome::Answered(response) => {
                            assert_eq!(response.api_key(), api);
                            cell.0 += 1;
                        }
                        Outcome::Closed => cell.1 += 1,
                    }
                }
            }
        }
    }
    let answered: u32 = cells.values().map(|c| c.0).sum();
    let closed: u32 = cells.values().map(|c| c.1).sum();
    eprintln!(
        "over sockets: {} (node, API, version) cells on 3 controllers and a broker, {answered} requests answered, {closed} closed",
        cells.len()
    );
    assert_eq!(closed, 0, "an advertised request closed its connection");
    assert_all_healthy(&mut cluster);
    writable(&cluster, broker, "after-the-matrix");
    assert_all_healthy(&mut cluster);
}

#[test]
fn old_describe_quorum_versions_and_v0_quorum_requests_leave_the_quorum_writable() {
    let (mut cluster, broker) = cluster_with_a_broker("hostile-v0", Settings::fast());
    let (leader, epoch) = cluster.wait_for_leader(Duration::from_secs(10));
    // kafka-metadata-quorum.sh before KIP-853 sends DescribeQuorum v1 (v0 before KIP-836).
    for version in [0, 1] {
        for node in cluster.ids() {
            let Outcome::Answered(ResponseBody::DescribeQuorum(answer)) =
                send(&cluster.address(node), &describe_quorum(), version)
            else {
                panic!("node {node} did not answer DescribeQuorum v{version}")
            };
            assert_eq!(answer.error_code, 0, "{answer:?}");
            let partition = &answer.topics[0].partitions[0];
            if node == leader {
                assert_eq!(partition.error_code, 0);
                assert_eq!(partition.current_voters.len(), 3, "{answer:?}");
            } else {
                assert_eq!(partition.error_code, ErrorCode::NotLeaderOrFollower.code());
            }
        }
        // Through the broker: forwarded to the active controller, answered from there.
        let answer = wait_for(
            "DescribeQuorum through the broker",
            Duration::from_secs(10),
            || match send(&cluster.address(broker), &describe_quorum(), version) {
                Outcome::Answered(ResponseBody::DescribeQuorum(answer))
                    if answer.error_code == 0 =>
                {
                    Ok(answer)
                }
                other => Err(format!("{other:?}")),
            },
        );
        assert_eq!(answer.topics[0].partitions[0].current_voters.len(), 3);
    }
    // v0 of the quorum RPCs to every controller: from a non-voter, and from a voter far ahead.
    for node in cluster.ids() {
        let other = if node == 1 { 2 } else { 1 };
        for (from, epoch) in [(99, epoch as i32), (other, epoch as i32 + 1_000)] {
            let aim = Aim {
                cluster_id: &cluster.cluster_id,
                from,
                to: node as i32,
                epoch,
            };
            for mut request in [vote(&aim), begin_quorum_epoch(&aim), end_quorum_epoch(&aim)] {
                request.narrow_to_version(0);
                let Outcome::Answered(answer) = send(&cluster.address(node), &request, 0) else {
                    panic!("node {node} closed the connection of a v0 request")
                };
                assert_eq!(answer.api_key(), request.api_key());
            }
        }
    }
    assert_all_healthy(&mut cluster);
    writable(&cluster, broker, "after-v0");
    assert_all_healthy(&mut cluster);
}

/// A writer creating topics through the broker as fast as it can, recording when each
/// creation was acknowledged.
struct Writer {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Vec<Instant>>,
}

impl Writer {
    fn start(address: String) -> Writer {
        static WRITERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let writer = WRITERS.fetch_add(1, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut client = None;
            let mut n = 0u64;
            while !stopping.load(Ordering::SeqCst) {
                if client.is_none() {
                    client = Client::connect(&address).ok();
                }
                let Some(c) = client.as_mut() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                n += 1;
                let name = format!("writer-{writer}-{n}");
                let request = create_topics_request(&[name], 1, 1);
                match c.call::<_, CreateTopicsResponse>(&request, CREATE_TOPICS_VERSION) {
                    Ok(r) if r.topics.first().is_some_and(|t| t.error_code == 0) => {
                        acked.push(Instant::now())
                    }
                    Ok(_) => std::thread::sleep(Duration::from_millis(10)),
                    Err(_) => client = None,
                }
            }
            acked
        });
        Writer { stop, handle }
    }

    /// Stops; returns the longest gap between acknowledged writes within `[from, to]`.
    fn longest_gap(self, from: Instant, to: Instant) -> Duration {
        self.stop.store(true, Ordering::SeqCst);
        let acked = self.handle.join().expect("writer");
        let mut times: Vec<Instant> = acked
            .into_iter()
            .filter(|t| *t >= from && *t <= to)
            .collect();
        times.insert(0, from);
        times.push(to);
        times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }
}

/// Lag of voter `node` behind the leader's high watermark, and whether every voter is in the
/// leader's epoch, from the leader's DescribeQuorum.
fn lag_of(cluster: &Cluster, node: u32) -> Result<(i64, u32), String> {
    let (leader, epoch) = common::agreed_leader(&cluster.views()?)?;
    let description = cluster.describe(leader).map_err(|e| format!("{e:?}"))?;
    let replica = description
        .voters
        .iter()
        .find(|v| v.id == node as i32)
        .ok_or("not a voter")?;
    let own = cluster.view(node)?;
    if own.epoch != epoch || own.leader != Some(leader) {
        return Err(format!("node {node} is in epoch {} ({own:?})", own.epoch));
    }
    Ok((description.high_watermark - replica.log_end_offset, epoch))
}

/// Sends `request` to `node` and measures how long until it follows the leader with a lag
/// of at most 2 offsets; returns (time back, longest gap between acknowledged writes in the
/// 10 s after, epoch before and after).
fn rejoin_after(
    cluster: &mut Cluster,
    broker: u32,
    node: u32,
    request: &RequestBody,
    version: i16,
) -> (Duration, Duration, u32, u32) {
    let (_, epoch_before) = cluster.wait_for_leader(Duration::from_secs(10));
    let writer = Writer::start(cluster.address(broker));
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    let _ = send(&cluster.address(node), request, version);
    let back = wait_for(
        "the voter back in the quorum",
        Duration::from_secs(10),
        || match lag_of(cluster, node) {
            Ok((lag, _)) if lag <= 2 => Ok(sent.elapsed()),
            Ok((lag, _)) => Err(format!("lag {lag}")),
            Err(e) => Err(e),
        },
    );
    // And it stays there.
    std::thread::sleep(Duration::from_millis(2_000));
    let (lag, epoch_after) = lag_of(cluster, node).expect("still in the quorum");
    assert!(lag <= 5, "lag {lag} after it was back");
    let gap = writer.longest_gap(sent, Instant::now());
    (back, gap, epoch_before, epoch_after)
}

/// Connects to `address` as soon as it accepts (a node binds its listeners before it opens
/// its log) and sends `request` on that first connection; returns when it was sent.
fn vote_at_first_accept(address: &str, request: &RequestBody) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        if let Ok(stream) = TcpStream::connect(address) {
            break stream;
        }
        assert!(Instant::now() < deadline, "{address} never accepted");
        std::thread::sleep(Duration::from_micros(200));
    };
    let mut frame = Vec::new();
    encode_request_body(&mut frame, 78, Some("hostile"), 2, request).unwrap();
    stream.write_all(&frame).expect("write");
    let sent = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut prefix = [0u8; 4];
    let _ = stream.read_exact(&mut prefix);
    sent
}

#[test]
fn a_stranger_far_ahead_does_not_keep_a_follower_out_of_the_quorum() {
    // Kafka's default timeouts, so the times below are what a Kafka operator would see.
    let (mut cluster, broker) = cluster_with_a_broker("hostile-rejoin", Settings::kafka_defaults());
    let (leader, epoch) = cluster.wait_for_leader(Duration::from_secs(20));
    writable(&cluster, broker, "warm-up");
    let followers: Vec<u32> = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != leader)
        .collect();
    let (f, g) = (followers[0], followers[1]);
    let cluster_id = cluster.cluster_id.clone();
    let far = |from: u32, to: u32, epoch: u32| Aim {
        cluster_id: &cluster_id,
        from: from as i32,
        to: to as i32,
        epoch: epoch as i32 + 1_000,
    };
    let cases = [
        ("a Vote 1000 epochs ahead", vote(&far(g, f, epoch)), 2),
        (
            "a BeginQuorumEpoch 1000 epochs ahead naming the other follower",
            begin_quorum_epoch(&far(g, f, epoch)),
            1,
        ),
    ];
    for (what, request, version) in cases {
        let (back, gap, before, after) = rejoin_after(&mut cluster, broker, f, &request, version);
        eprintln!(
            "{what} to follower {f}: back in the quorum (lag <= 2) after {} ms; longest gap between acknowledged creates {} ms; epoch {before} -> {after}",
            back.as_millis(),
            gap.as_millis()
        );
        assert!(back < Duration::from_secs(10));
    }
    // A follower that just restarted has not heard from its leader: the same Vote, there
    // before its first fetch is answered, moves it 1000 epochs ahead, and the leader's probe
    // brings the quorum there in one election.
    let (moved_at, epoch, writer) = (0..5)
        .find_map(|_| {
            let (_, epoch) = cluster.wait_for_leader(Duration::from_secs(20));
            let request = vote(&far(g, f, epoch));
            let writer = Writer::start(cluster.address(broker));
            std::thread::sleep(Duration::from_millis(500));
            cluster.kill(f);
            cluster.spawn(f);
            let sent = vote_at_first_accept(&cluster.address(f), &request);
            let moved = wait_for("the restarted follower", Duration::from_secs(10), || {
                cluster.view(f).map(|v| v.epoch)
            }) > epoch + 500;
            if moved {
                Some((sent, epoch, writer))
            } else {
                writer.longest_gap(sent, Instant::now());
                None
            }
        })
        .expect("in five restarts the Vote never arrived before the first fetch was answered");
    let (back, now_epoch) =
        wait_for(
            "the restarted voter back",
            Duration::from_secs(10),
            || match lag_of(&cluster, f) {
                Ok((lag, e)) if lag <= 2 => Ok((moved_at.elapsed(), e)),
                Ok((lag, _)) => Err(format!("lag {lag}")),
                Err(e) => Err(e),
            },
        );
    let gap = writer.longest_gap(moved_at, Instant::now());
    eprintln!(
        "a Vote 1000 epochs ahead to follower {f} as it restarted, which moved it to epoch {}: back in the quorum (lag <= 2) after {} ms, in epoch {now_epoch}; longest gap between acknowledged creates {} ms",
        epoch + 1_000,
        back.as_millis(),
        gap.as_millis()
    );
    assert!(now_epoch > epoch + 1_000, "the quorum moved past it");
    assert!(back < Duration::from_secs(10));
    assert_all_healthy(&mut cluster);
}
