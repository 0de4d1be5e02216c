//! Every API a node advertises, at every version it advertises, on both listener kinds,
//! through the node's real request path (`Node::handle_request` and everything after it: the
//! Raft core, the quorum controller, a broker's forwarding, the group commit), starting from
//! every role a node can be in. Whatever the request carries, the node answers with a
//! response that decodes at the request's version, or closes the connection; it never
//! panics, never stops, and answers every request exactly once.
//!
//! Two tests: the version matrix (each advertised API and version, in each starting state,
//! with an all-defaults request and one aimed at the quorum partition) and the whole-path
//! fuzz (property-generated contents, `KEEL_REQUEST_FUZZ_REQUESTS` requests in all, 100,000
//! unless set). Requests a node sends to its peers are refused as never sent, except a
//! combined node's forwards to itself, which take the real loopback path (broker listener ->
//! controller listener -> answer back through the broker).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};

use super::*;
use crate::protocol::envelope::{decode_response_body, encode_request_body};
use crate::protocol::messages::*;

const CLUSTER: &str = "MkU3OEVBNTcwNTJENDM2Qg";

/// The role a node is put in before requests arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Start {
    /// A single-voter combined node (broker and controller) that has won its election.
    Leader,
    /// Node 1 of three combined voters, following node 2 in epoch 1.
    Follower,
    /// Node 1 of three combined voters that has heard from no one.
    Unattached,
    /// The single-voter leader after a graceful resignation.
    Resigned,
    /// A broker (node 4) of a three-voter quorum: a Raft observer.
    Observer,
}

const STARTS: [Start; 5] = [
    Start::Leader,
    Start::Follower,
    Start::Unattached,
    Start::Resigned,
    Start::Observer,
];

/// A connection id the harness uses for a combined node's forwards to itself.
const LOOPBACK: ConnectionId = u64::MAX;

/// A request the node owes an answer.
#[derive(Clone, Copy, Debug)]
struct Owed {
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    /// For a loopback forward: the broker's token waiting for this answer.
    loopback_token: Option<u64>,
}

/// What the runs saw, per (start, API, version).
#[derive(Default)]
struct Tally {
    answered: BTreeMap<(Start, ApiKey, i16), u64>,
    closed: BTreeMap<(Start, ApiKey, i16), u64>,
    forwarded_loopback: u64,
}

impl Tally {
    fn requests(&self) -> u64 {
        self.answered.values().sum::<u64>() + self.closed.values().sum::<u64>()
    }
}

struct Harness {
    node: Node,
    dir: PathBuf,
    start: Start,
    now_ms: u64,
    wall_ms: i64,
    next_connection: ConnectionId,
    owed: BTreeMap<(ConnectionId, u64), Owed>,
    next_loopback_seq: u64,
}

fn scratch_dir(name: &str) -> PathBuf {
    // tmpfs where there is one: the fuzz flushes often and needs no real disk.
    let base = std::path::Path::new("/dev/shm");
    let base = if base.is_dir() {
        base.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    base.join(format!("keel-request-matrix-{name}-{}", std::process::id()))
}

impl Harness {
    fn new(test: &str, start: Start, run: u64) -> Harness {
        let dir = scratch_dir(&format!("{test}-{start:?}-{run}"));
        let _ = std::fs::remove_dir_all(&dir);
        let (node_id, roles, voters, listeners) = match start {
            Start::Leader | Start::Resigned => (
                1,
                "broker,controller",
                "1@127.0.0.1:19093",
                "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
            ),
            Start::Follower | Start::Unattached => (
                1,
                "broker,controller",
                "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097",
                "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
            ),
            Start::Observer => (
                4,
                "broker",
                "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097",
                "PLAINTEXT://127.0.0.1:19092",
            ),
        };
        let config = Config::parse(&format!(
            "process.roles={roles}\nnode.id={node_id}\ncontroller.quorum.voters={voters}\n\
             listeners={listeners}\nadvertised.listeners=PLAINTEXT://127.0.0.1:19092\n\
             controller.listener.names=CONTROLLER\nmetadata.log.dir={}\n\
             metadata.log.segment.bytes=1048576\n",
            dir.display()
        ))
        .unwrap();
        datadir::format(&dir, CLUSTER, node_id, false, &[]).unwrap();
        let data_dir = DataDir::open(&dir, node_id, Some(CLUSTER)).unwrap();
        let clock = Clock {
            monotonic_ms: 0,
            wall_ms: 1_763_700_000_000,
        };
        let node = Node::start(
            &config,
            data_dir,
            NodeSettings::from_config(&config, run),
            clock,
        )
        .unwrap();
        let mut harness = Harness {
            node,
            dir,
            start,
            now_ms: 0,
            wall_ms: clock.wall_ms,
            next_connection: 1,
            owed: BTreeMap::new(),
            next_loopback_seq: 0,
        };
        harness.enter(start);
        harness
    }

    fn clock(&self) -> Clock {
        Clock {
            monotonic_ms: self.now_ms,
            wall_ms: self.wall_ms + self.now_ms as i64,
        }
    }

    /// Puts the node in its starting role.
    fn enter(&mut self, start: Start) {
        match start {
            Start::Leader | Start::Resigned => {
                for _ in 0..100 {
                    self.advance(100);
                    if self.node.raft().role() == RoleName::Leader {
                        break;
                    }
                }
                assert_eq!(self.node.raft().role(), RoleName::Leader);
                if start == Start::Resigned {
                    self.node.resign(self.clock()).unwrap();
                    self.pump();
                    assert_eq!(self.node.raft().role(), RoleName::Resigned);
                }
            }
            Start::Follower => {
                let request = RequestBody::BeginQuorumEpoch(BeginQuorumEpochRequest {
                    cluster_id: Some(CLUSTER.into()),
                    voter_id: 1,
                    topics: vec![begin_quorum_epoch_request::TopicData {
                        topic_name: convert::METADATA_TOPIC.into(),
                        partitions: vec![begin_quorum_epoch_request::PartitionData {
                            partition_index: 0,
                            leader_id: 2,
                            leader_epoch: 1,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                });
                let listener = self.listener(false).unwrap();
                self.send(listener, &request, 1);
                self.pump();
                assert_eq!(self.node.raft().role(), RoleName::Follower);
                assert_eq!(self.node.raft().leader(), Some(2));
            }
            Start::Unattached | Start::Observer => {
                assert_eq!(self.node.raft().role(), RoleName::Unattached)
            }
        }
        self.owed.clear();
    }

    /// The index of the node's client listener (`clients`) or controller listener.
    fn listener(&self, clients: bool) -> Option<usize> {
        self.node
            .listeners
            .iter()
            .position(|l| l.clients == clients)
    }

    /// Sends `request` at `version` on a new connection of `listener`; returns how it went.
    fn send(&mut self, listener: usize, request: &RequestBody, version: i16) -> RequestOutcome {
        let (_, outcome) = self.submit(listener, request, version);
        self.pump();
        outcome
    }

    /// [`Harness::send`] without delivering what the node does about it: returns the
    /// connection it came on and how it went; the node's outputs are left to the caller.
    fn submit(
        &mut self,
        listener: usize,
        request: &RequestBody,
        version: i16,
    ) -> (ConnectionId, RequestOutcome) {
        let connection = self.next_connection;
        self.next_connection += 1;
        let correlation_id = (connection % i32::MAX as u64) as i32;
        // Aimed fields may not exist at this version: send what the version carries.
        let mut request = request.clone();
        request.narrow_to_version(version);
        let mut frame = Vec::new();
        encode_request_body(&mut frame, correlation_id, Some("fuzz"), version, &request)
            .unwrap_or_else(|e| panic!("the harness built an unencodable request: {e}"));
        self.owed.insert(
            (connection, 0),
            Owed {
                api: request.api_key(),
                version,
                correlation_id,
                loopback_token: None,
            },
        );
        let outcome = self
            .node
            .handle_request(self.clock(), connection, listener, 0, &frame[4..])
            .unwrap_or_else(|fatal| panic!("a request stopped the node: {fatal}"));
        if let RequestOutcome::Close { .. } = outcome {
            self.closed(connection);
        }
        (connection, outcome)
    }

    fn closed(&mut self, connection: ConnectionId) {
        self.owed.retain(|(c, _), _| *c != connection);
        self.node.connection_closed(connection);
    }

    /// Delivers the node's outputs until it has none, checking every answer.
    fn pump(&mut self) {
        for _ in 0..10_000 {
            let outputs = self.node.take_outputs();
            if outputs.is_empty() {
                return;
            }
            for output in outputs {
                self.deliver(output);
            }
        }
        panic!("the node kept producing outputs");
    }

    fn deliver(&mut self, output: Output) {
        match output {
            Output::Respond {
                connection,
                seq,
                frame,
            } => {
                let owed = self.owed.remove(&(connection, seq)).unwrap_or_else(|| {
                    panic!("an answer to request {seq} of connection {connection}, which is owed none (answered twice?)")
                });
                let decoded = decode_response_body(&frame[4..], owed.api, owed.version);
                let (correlation_id, body) = decoded.unwrap_or_else(|e| {
                    panic!(
                        "the {} v{} answer does not decode: {e}",
                        owed.api.name(),
                        owed.version
                    )
                });
                assert_eq!(correlation_id, owed.correlation_id);
                assert_eq!(body.api_key(), owed.api);
                if let Some(token) = owed.loopback_token {
                    self.node
                        .handle_response(self.clock(), token, Ok(body))
                        .unwrap_or_else(|fatal| panic!("an answer stopped the node: {fatal}"));
                }
            }
            Output::Close { connection, .. } => self.closed(connection),
            Output::Request {
                to,
                channel,
                token,
                mut body,
                version,
                ..
            } => {
                let loopback = channel == Channel::Controller && to == self.node.node_id();
                let Some(listener) = self.listener(false).filter(|_| loopback) else {
                    self.node
                        .handle_response(self.clock(), token, Err(LinkError::NotSent))
                        .unwrap_or_else(|fatal| panic!("a link error stopped the node: {fatal}"));
                    return;
                };
                // What the event loop's link does: narrow, encode, and the controller decodes.
                body.narrow_to_version(version);
                let seq = self.next_loopback_seq;
                self.next_loopback_seq += 1;
                let mut frame = Vec::new();
                encode_request_body(&mut frame, seq as i32, Some("loop"), version, &body)
                    .unwrap_or_else(|e| panic!("a forwarded request does not encode: {e}"));
                self.owed.insert(
                    (LOOPBACK, seq),
                    Owed {
                        api: body.api_key(),
                        version,
                        correlation_id: seq as i32,
                        loopback_token: Some(token),
                    },
                );
                let outcome = self
                    .node
                    .handle_request(self.clock(), LOOPBACK, listener, seq, &frame[4..])
                    .unwrap_or_else(|fatal| {
                        panic!("a forwarded request stopped the node: {fatal}")
                    });
                if let RequestOutcome::Close { reason } = outcome {
                    panic!("the controller closed the connection of a forwarded request: {reason}");
                }
            }
        }
    }

    /// Lets `ms` pass as the event loop would: timers, group commit, outputs.
    fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
        let clock = self.clock();
        self.node
            .tick(clock)
            .unwrap_or_else(|fatal| panic!("a tick stopped the node: {fatal}"));
        self.pump();
        self.node
            .end_of_iteration(clock)
            .unwrap_or_else(|fatal| panic!("a flush stopped the node: {fatal}"));
        self.pump();
    }

    /// Lets every deadline pass; afterwards nothing may still be owed.
    fn settle(&mut self) {
        let expiry = crate::constants::BROKER_FORWARD_TIMEOUT_MS + 5_000;
        let mut waited = 0;
        while waited < expiry && !self.owed.is_empty() {
            self.advance(100);
            waited += 100;
        }
        assert!(
            self.owed.is_empty(),
            "{:?} start: requests never answered: {:?}",
            self.start,
            self.owed
        );
        assert_eq!(
            self.node.unencodable_answers(),
            0,
            "{:?} start: answers that needed the UNKNOWN_SERVER_ERROR stand-in",
            self.start
        );
    }

    /// What this node advertises on `listener`, from its own ApiVersions answer.
    fn advertised(&mut self, listener: usize) -> Advertised {
        let request = RequestBody::ApiVersions(ApiVersionsRequest::default());
        let connection = self.next_connection;
        self.next_connection += 1;
        let mut frame = Vec::new();
        encode_request_body(&mut frame, 5, Some("fuzz"), 3, &request).unwrap();
        self.node
            .handle_request(self.clock(), connection, listener, 0, &frame[4..])
            .unwrap();
        let mut answer = None;
        for output in self.node.take_outputs() {
            match output {
                Output::Respond {
                    connection: c,
                    frame,
                    ..
                } if c == connection => answer = Some(frame),
                other => self.deliver(other),
            }
        }
        let frame = answer.expect("ApiVersions is answered at once");
        let (_, ResponseBody::ApiVersions(answer)) =
            decode_response_body(&frame[4..], ApiKey::ApiVersions, 3).unwrap()
        else {
            unreachable!()
        };
        answer
            .api_keys
            .iter()
            .map(|k| {
                let api = ApiKey::from_i16(k.api_key).expect("an API keel knows");
                (api, k.min_version, k.max_version)
            })
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Points a generated request at the quorum partition, at ids the quorum knows and epochs near
/// the node's, so that it gets past the first checks and into the core and the controller.
fn aim(request: &mut RequestBody, version: i16, prng: &mut Prng) {
    let node_id = |prng: &mut Prng| [1, 2, 3, 4, 99][prng.below(5) as usize];
    let epoch = |prng: &mut Prng| match prng.below(4) {
        0 => 0,
        1 => 1,
        2 => prng.below(5) as i32,
        _ => 1_000 + prng.below(1_000) as i32,
    };
    let cluster = |prng: &mut Prng| {
        if prng.chance(0.8) {
            Some(CLUSTER.to_owned())
        } else {
            None
        }
    };
    let topic = convert::METADATA_TOPIC.to_owned();
    match request {
        RequestBody::Vote(r) => {
            r.cluster_id = cluster(prng);
            r.voter_id = node_id(prng);
            r.topics = vec![vote_request::TopicData {
                topic_name: topic,
                partitions: vec![vote_request::PartitionData {
                    partition_index: 0,
                    replica_epoch: epoch(prng),
                    replica_id: node_id(prng),
                    last_offset_epoch: epoch(prng),
                    last_offset: prng.below(20) as i64,
                    pre_vote: prng.chance(0.5),
                    ..Default::default()
                }],
                ..Default::default()
            }];
        }
        RequestBody::BeginQuorumEpoch(r) => {
            r.cluster_id = cluster(prng);
            r.voter_id = node_id(prng);
            r.topics = vec![begin_quorum_epoch_request::TopicData {
                topic_name: topic,
                partitions: vec![begin_quorum_epoch_request::PartitionData {
                    partition_index: 0,
                    leader_id: node_id(prng),
                    leader_epoch: epoch(prng),
                    ..Default::default()
                }],
                ..Default::default()
            }];
        }
        RequestBody::EndQuorumEpoch(r) => {
            r.cluster_id = cluster(prng);
            r.topics = vec![end_quorum_epoch_request::TopicData {
                topic_name: topic,
                partitions: vec![end_quorum_epoch_request::PartitionData {
                    partition_index: 0,
                    leader_id: node_id(prng),
                    leader_epoch: epoch(prng),
                    preferred_successors: if version == 0 {
                        vec![node_id(prng)]
                    } else {
                        Vec::new()
                    },
                    preferred_candidates: if version >= 1 {
                        vec![end_quorum_epoch_request::ReplicaInfo {
                            candidate_id: node_id(prng),
                            ..Default::default()
                        }]
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                }],
                ..Default::default()
            }];
        }
        RequestBody::Fetch(r) => {
            r.cluster_id = cluster(prng);
            let replica = node_id(prng);
            if version >= 15 {
                r.replica_state.replica_id = replica;
            } else {
                r.replica_id = replica;
            }
            r.max_wait_ms = prng.below(600) as i32;
            r.max_bytes = 1 << 20;
            r.topics = vec![fetch_request::FetchTopic {
                topic: if version <= 12 { topic } else { String::new() },
                topic_id: if version >= 13 {
                    Uuid::METADATA_TOPIC_ID
                } else {
                    Uuid::ZERO
                },
                partitions: vec![fetch_request::FetchPartition {
                    partition: 0,
                    current_leader_epoch: epoch(prng),
                    fetch_offset: prng.below(20) as i64,
                    last_fetched_epoch: epoch(prng),
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }];
        }
        RequestBody::FetchSnapshot(r) => {
            r.cluster_id = cluster(prng);
            r.replica_id = node_id(prng);
            r.max_bytes = 1 << 20;
            r.topics = vec![fetch_snapshot_request::TopicSnapshot {
                name: topic,
                partitions: vec![fetch_snapshot_request::PartitionSnapshot {
                    partition: 0,
                    current_leader_epoch: epoch(prng),
                    snapshot_id: fetch_snapshot_request::SnapshotId {
                        end_offset: prng.below(20) as i64,
                        epoch: epoch(prng),
                        ..Default::default()
                    },
                    position: prng.below(100) as i64,
                    ..Default::default()
                }],
                ..Default::default()
            }];
        }
        RequestBody::DescribeQuorum(r) => {
            r.topics = vec![describe_quorum_request::TopicData {
                topic_name: topic,
                partitions: vec![describe_quorum_request::PartitionData {
                    partition_index: if prng.chance(0.9) { 0 } else { 1 },
                    ..Default::default()
                }],
                ..Default::default()
            }];
        }
        RequestBody::BrokerRegistration(r) => {
            r.broker_id = node_id(prng);
            r.cluster_id = CLUSTER.into();
            r.is_migrating_zk_broker = false;
        }
        RequestBody::BrokerHeartbeat(r) => {
            r.broker_id = node_id(prng);
            r.broker_epoch = prng.below(5) as i64;
        }
        RequestBody::UnregisterBroker(r) => r.broker_id = node_id(prng),
        RequestBody::CreateTopics(r) => {
            for t in &mut r.topics {
                t.num_partitions = prng.below(4) as i32 - 1;
                t.replication_factor = prng.below(3) as i16 - 1;
            }
        }
        RequestBody::DescribeCluster(r) => r.endpoint_type = prng.below(3) as i8,
        _ => {}
    }
}

/// A runner whose draws are fixed by `seed`.
fn runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        RunnerConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

fn generated(runner: &mut TestRunner, api: ApiKey, version: i16) -> RequestBody {
    RequestBody::arbitrary(api, version)
        .new_tree(runner)
        .expect("a strategy for every API")
        .current()
}

/// What a listener advertises: (API, lowest version, highest version).
type Advertised = Vec<(ApiKey, i16, i16)>;

/// Each listener kind of a node started as `start`, with what it advertises.
fn surfaces(harness: &mut Harness) -> Vec<(bool, usize, Advertised)> {
    let listeners: Vec<(bool, usize)> = [true, false]
        .into_iter()
        .filter_map(|clients| harness.listener(clients).map(|index| (clients, index)))
        .collect();
    listeners
        .into_iter()
        .map(|(clients, index)| (clients, index, harness.advertised(index)))
        .collect()
}

fn record(tally: &mut Tally, start: Start, api: ApiKey, version: i16, outcome: &RequestOutcome) {
    let map = match outcome {
        RequestOutcome::Handled => &mut tally.answered,
        RequestOutcome::Close { .. } => &mut tally.closed,
    };
    *map.entry((start, api, version)).or_default() += 1;
}

fn report(name: &str, tally: &Tally) {
    let cells: BTreeSet<(ApiKey, i16)> = tally
        .answered
        .keys()
        .chain(tally.closed.keys())
        .map(|(_, api, version)| (*api, *version))
        .collect();
    eprintln!(
        "{name}: {} requests, {} (API, version) cells over {} starting states; {} answered, {} closed, {} forwards through the loopback",
        tally.requests(),
        cells.len(),
        STARTS.len(),
        tally.answered.values().sum::<u64>(),
        tally.closed.values().sum::<u64>(),
        tally.forwarded_loopback
    );
    let mut closed_by_api: BTreeMap<ApiKey, u64> = BTreeMap::new();
    for ((_, api, _), n) in &tally.closed {
        *closed_by_api.entry(*api).or_default() += n;
    }
    for (api, n) in closed_by_api {
        eprintln!("  closed: {} x{n}", api.name());
    }
}

#[test]
fn every_advertised_api_and_version_gets_an_answer_that_decodes_in_every_role() {
    let mut tally = Tally::default();
    let mut prng = Prng::new(12);
    for (run, start) in STARTS.into_iter().enumerate() {
        let mut harness = Harness::new("matrix", start, run as u64);
        for (clients, listener, advertised) in surfaces(&mut harness) {
            assert!(!advertised.is_empty());
            for (api, min, max) in advertised {
                for version in min..=max {
                    let plain = match api {
                        ApiKey::ApiVersions => RequestBody::ApiVersions(Default::default()),
                        _ => generated(&mut runner(0), api, version),
                    };
                    let mut aimed = plain.clone();
                    aim(&mut aimed, version, &mut prng);
                    for request in [plain, aimed] {
                        let outcome = harness.send(listener, &request, version);
                        assert!(
                            api != ApiKey::ApiVersions
                                || matches!(outcome, RequestOutcome::Handled),
                            "{start:?}: ApiVersions v{version} closed the connection (clients: {clients})"
                        );
                        record(&mut tally, start, api, version, &outcome);
                        harness.advance(1);
                    }
                }
            }
        }
        tally.forwarded_loopback += harness.next_loopback_seq;
        harness.settle();
    }
    report("version matrix", &tally);
    // The DescribeQuorum versions an old kafka-metadata-quorum.sh sends, answered by a leader.
    for version in [0, 1] {
        assert!(
            tally
                .answered
                .contains_key(&(Start::Leader, ApiKey::DescribeQuorum, version)),
            "DescribeQuorum v{version} was not answered by the leader"
        );
    }
}

#[test]
fn generated_requests_through_the_whole_path_never_crash_a_node() {
    let total: u64 = std::env::var("KEEL_REQUEST_FUZZ_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    const PER_NODE: u64 = 2_000;
    let mut tally = Tally::default();
    let mut prng = Prng::new(0x6675_7a7a);
    let mut run = 0u64;
    while tally.requests() < total {
        let start = STARTS[(run % STARTS.len() as u64) as usize];
        let mut harness = Harness::new("fuzz", start, run);
        let mut runner = runner(run);
        let surfaces = surfaces(&mut harness);
        for _ in 0..PER_NODE.min(total - tally.requests()) {
            let (_, listener, advertised) = &surfaces[prng.below(surfaces.len() as u64) as usize];
            let (api, min, max) = advertised[prng.below(advertised.len() as u64) as usize];
            let version = prng.range_inclusive(min as u64, max as u64) as i16;
            let mut request = generated(&mut runner, api, version);
            if prng.chance(0.7) {
                aim(&mut request, version, &mut prng);
            }
            let outcome = harness.send(*listener, &request, version);
            record(&mut tally, start, api, version, &outcome);
            harness.advance(prng.below(30));
        }
        tally.forwarded_loopback += harness.next_loopback_seq;
        harness.settle();
        run += 1;
    }
    report("whole-path fuzz", &tally);
    assert!(tally.requests() >= total);
}

/// The broker half of a combined leader forwards a client's CreateTopics; hands back the
/// token of the forward, delivering every other output.
fn forwarded(harness: &mut Harness, name: &str) -> (ConnectionId, u64) {
    let request = RequestBody::CreateTopics(CreateTopicsRequest {
        topics: vec![create_topics_request::CreatableTopic {
            name: name.into(),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    });
    let listener = harness.listener(true).expect("a client listener");
    let (connection, outcome) = harness.submit(listener, &request, 7);
    assert_eq!(outcome, RequestOutcome::Handled);
    let mut token = None;
    for output in harness.node.take_outputs() {
        match output {
            Output::Request {
                channel: Channel::Controller,
                token: t,
                body: RequestBody::CreateTopics(_),
                ..
            } => token = Some(t),
            other => harness.deliver(other),
        }
    }
    (
        connection,
        token.expect("the write was forwarded to the active controller"),
    )
}

/// Every output the node has now, the broker's forwards to the controller among them.
fn forwards_sent(harness: &mut Harness) -> usize {
    let mut sent = 0;
    for output in harness.node.take_outputs() {
        match output {
            Output::Request {
                channel: Channel::Controller,
                body: RequestBody::CreateTopics(_),
                token,
                ..
            } => {
                sent += 1;
                harness
                    .node
                    .handle_response(harness.clock(), token, Err(LinkError::NotSent))
                    .unwrap();
            }
            other => harness.deliver(other),
        }
    }
    sent
}

#[test]
fn a_forward_its_controller_dropped_waits_for_a_new_leader_and_without_one_is_never_sent_again() {
    let mut harness = Harness::new("forward", Start::Leader, 0);
    // The controller read it and the connection died: it may have died of it, or been killed
    // (then the next leader takes it, `tests/cluster_brokers.rs`). No other leader is
    // elected here: the same one is never asked again.
    let (connection, token) = forwarded(&mut harness, "poison");
    harness
        .node
        .handle_response(harness.clock(), token, Err(LinkError::Disconnected))
        .unwrap();
    let answers_to_client = |outputs: &[Output]| -> Vec<Vec<u8>> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Respond {
                    connection: c,
                    frame,
                    ..
                } if *c == connection => Some(frame.clone()),
                _ => None,
            })
            .collect()
    };
    let mut answers = answers_to_client(&harness.node.take_outputs());
    assert!(answers.is_empty(), "it waits for a new leader first");
    for _ in 0..50 {
        harness.now_ms += 100;
        harness.node.tick(harness.clock()).unwrap();
        let outputs = harness.node.take_outputs();
        answers.extend(answers_to_client(&outputs));
        for output in outputs {
            if let Output::Request {
                channel: Channel::Controller,
                body: RequestBody::CreateTopics(_),
                ..
            } = output
            {
                panic!("sent again to the leader of the same epoch");
            }
            harness.deliver(output);
        }
    }
    let [frame] = answers.as_slice() else {
        panic!("one answer to the client once no new leader came, got {answers:?}")
    };
    let (_, ResponseBody::CreateTopics(answer)) =
        decode_response_body(&frame[4..], ApiKey::CreateTopics, 7).unwrap()
    else {
        unreachable!()
    };
    assert_eq!(
        answer.topics[0].error_code,
        ErrorCode::RequestTimedOut.code()
    );
    assert!(
        answer.topics[0]
            .error_message
            .as_deref()
            .is_some_and(|m| m.contains("not forwarded again")),
        "{answer:?}"
    );

    // One that never left is sent again (to whoever leads then) after the retry backoff.
    let (_, token) = forwarded(&mut harness, "unsent");
    harness
        .node
        .handle_response(harness.clock(), token, Err(LinkError::NotSent))
        .unwrap();
    let mut again = 0;
    for _ in 0..10 {
        harness.now_ms += 100;
        harness.node.tick(harness.clock()).unwrap();
        again += forwards_sent(&mut harness);
    }
    assert!(again >= 1, "a forward that was never written is sent again");
}
