//! Write throughput of the quorum controller in a real 3-node keel quorum, the load Kafka's
//! brokers put on it, next to the ZooKeeper-style load of the anchors.
//! `cargo bench --bench cluster [-- --partitions P --seconds S --outstanding N --batch B
//! --dirs A,B,C --zk --linger-ms L --follower-stopped]`.
//!
//! Three `keel start` processes on 127.0.0.1 (the harness in `tests/common`), Kafka's default
//! timeouts and group-commit linger, every node's data directory on a real disk (the temp dir,
//! or one of `--dirs` each), fsync on. Three simulated brokers register and heartbeat. Then:
//!
//! 1. **Create**: topics of 1,000 partitions, replication factor 3, with explicit replica
//!    assignments (so the load generator knows each partition's leader without reading the
//!    log), until P partitions exist; nine topics per CreateTopics request, four requests
//!    outstanding. Reported: wall time from the first request to the last answer, which comes
//!    only once its records are committed (`keel_create_partitions_s`).
//! 2. **Kafka-style AlterPartition**: for S seconds, each partition leader (broker) shrinks or
//!    expands the ISR of B partitions per request (Kafka's brokers batch every pending ISR
//!    change of a broker into one AlterPartition), N requests outstanding over 16 connections.
//!    Every change is the real protocol: current leader epoch, partition epoch, the new ISR
//!    with broker epochs (v3); the answer carries the new partition epoch for the next change.
//!    Reported: partition changes committed per second, and p50/p99/p999 request latency (send
//!    to committed answer).
//! 3. **Unbatched**: the same with one partition per request, N outstanding: the shape of the
//!    ZooKeeper anchor, where each partition state change is one setData.
//!
//! The ZooKeeper side (`--zk`): `../shared/anchors/zk/run.sh` runs a real 3-server ZooKeeper
//! 3.8 ensemble on the same machine and disk(s) with N setData outstanding for S seconds; its
//! ops/s and p99 are printed next to keel's with the ratios. Without `--zk` the bench prints
//! keel's side only and says so.
//!
//! With `--follower-stopped`, then: the unbatched load serially (1 outstanding) and at N
//! outstanding, each first on the healthy cluster and then with one follower stopped
//! (SIGSTOP, resumed after), so that the two compare in one run; printed with the ratios
//! `stopped_over_healthy_*`. A majority (the leader and one follower) is up throughout; what
//! this measures is whether a commit then waits on something a healthy quorum hides (the
//! leader's own flush). `--linger-ms` sets `controller.quorum.append.linger.ms` on every
//! node (default: keel's).
//!
//! Last lines: `keel_partition_changes_per_s`, `keel_unbatched_changes_per_s`,
//! `keel_commit_p99_ms` (unbatched, N outstanding), `keel_create_partitions_s`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use keel::constants::SEGMENT_BYTES_DEFAULT;
use keel::protocol::envelope::{decode_response, encode_request};
use keel::protocol::frame::{FRAME_SIZE_PREFIX_BYTES, peek_frame_size};
use keel::protocol::messages::{
    AlterPartitionRequest, AlterPartitionResponse, CreateTopicsRequest, CreateTopicsResponse,
    alter_partition_request, create_topics_request,
};
use keel::protocol::{ApiMessage, ErrorCode, Uuid};

use common::brokers::{ControllerConnection, SimBroker};
use common::{Cluster, Settings};

const ALTER_PARTITION_VERSION: i16 = 3;
const CREATE_TOPICS_VERSION: i16 = 7;
const PARTITIONS_PER_TOPIC: i32 = 1000;
const TOPICS_PER_CREATE: usize = 9;
const CREATES_OUTSTANDING: usize = 4;
/// keel answers at most 16 requests of one connection at a time
/// (`SERVER_REQUESTS_IN_FLIGHT_PER_CONNECTION`), like a Kafka broker's per-connection limit.
const CONNECTIONS: usize = 16;
const REPLICATION: usize = 3;
const BROKERS: i32 = 3;

struct Args {
    partitions: usize,
    seconds: u64,
    outstanding: usize,
    batch: usize,
    dirs: Vec<PathBuf>,
    zk: bool,
    linger_ms: Option<u64>,
    follower_stopped: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        partitions: 100_000,
        seconds: 10,
        outstanding: 256,
        batch: 100,
        dirs: Vec::new(),
        zk: false,
        linger_ms: None,
        follower_stopped: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match arg.as_str() {
            "--partitions" => args.partitions = value("--partitions").parse().expect("a count"),
            "--seconds" => args.seconds = value("--seconds").parse().expect("seconds"),
            "--outstanding" => args.outstanding = value("--outstanding").parse().expect("a count"),
            "--batch" => args.batch = value("--batch").parse().expect("a count"),
            "--dirs" => {
                args.dirs = value("--dirs")
                    .split(',')
                    .filter(|d| !d.is_empty())
                    .map(PathBuf::from)
                    .collect()
            }
            "--zk" => args.zk = true,
            "--linger-ms" => args.linger_ms = Some(value("--linger-ms").parse().expect("ms")),
            "--follower-stopped" => args.follower_stopped = true,
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        args.dirs.is_empty() || args.dirs.len() == 3,
        "--dirs takes three directories"
    );
    assert!(args.outstanding > 0 && args.batch > 0 && args.partitions > 0);
    args
}

/// One partition as its leader knows it.
#[derive(Clone, Debug)]
struct PartitionState {
    topic_id: Uuid,
    index: i32,
    replicas: [i32; REPLICATION],
    leader_epoch: i32,
    partition_epoch: i32,
    /// The ISR is the replicas without the last one (else all of them).
    shrunk: bool,
    in_flight: bool,
}

impl PartitionState {
    fn leader(&self) -> i32 {
        self.replicas[0]
    }

    /// The ISR the next change proposes: shrink if full, expand if shrunk.
    fn next_isr(&self) -> &[i32] {
        if self.shrunk {
            &self.replicas
        } else {
            &self.replicas[..REPLICATION - 1]
        }
    }
}

/// Latencies in microseconds.
#[derive(Default)]
struct Latencies(Vec<u64>);

impl Latencies {
    fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let at = ((self.0.len() as f64 * q) as usize).min(self.0.len() - 1);
        self.0[at] as f64 / 1000.0
    }
}

/// A pipelined connection, read and written without blocking.
struct Pipe {
    stream: TcpStream,
    out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    /// (correlation id, sent at, what the request carried).
    in_flight: VecDeque<(i32, Instant, Vec<usize>)>,
    next_correlation: i32,
}

impl Pipe {
    fn connect(address: &str, poll: &Poll, token: Token) -> Pipe {
        let std_stream = std::net::TcpStream::connect(address).expect("connect");
        std_stream.set_nodelay(true).expect("nodelay");
        std_stream.set_nonblocking(true).expect("nonblocking");
        let mut stream = TcpStream::from_std(std_stream);
        poll.registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .expect("register");
        Pipe {
            stream,
            out: Vec::new(),
            written: 0,
            input: Vec::new(),
            in_flight: VecDeque::new(),
            next_correlation: 0,
        }
    }

    fn send<Q: ApiMessage>(&mut self, request: &Q, version: i16, carried: Vec<usize>) {
        let correlation = self.next_correlation;
        self.next_correlation = self.next_correlation.wrapping_add(1);
        encode_request(
            &mut self.out,
            correlation,
            Some("keel-bench"),
            version,
            request,
        )
        .expect("encode");
        self.in_flight
            .push_back((correlation, Instant::now(), carried));
    }

    fn flush(&mut self) {
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => panic!("connection closed"),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => panic!("write: {e}"),
            }
        }
        self.out.clear();
        self.written = 0;
    }

    /// Reads what arrived; returns whole response frames (without the size prefix).
    fn receive(&mut self) -> Vec<Vec<u8>> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("the node closed the connection"),
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        let mut frames = Vec::new();
        let mut at = 0;
        while let Some(size) =
            peek_frame_size(&self.input[at..], 64 << 20).expect("a sane frame size")
        {
            let start = at + FRAME_SIZE_PREFIX_BYTES;
            if self.input.len() < start + size {
                break;
            }
            frames.push(self.input[start..start + size].to_vec());
            at = start + size;
        }
        self.input.drain(..at);
        frames
    }
}

/// A load: makes requests and takes their answers.
trait Workload {
    type Response: ApiMessage;
    const VERSION: i16;
    /// Queues the next request on `pipe`; false when there is none to make now.
    fn next(&mut self, pipe: &mut Pipe) -> bool;
    fn answer(&mut self, response: Self::Response, latency: Duration, carried: Vec<usize>);
    /// No more requests are to be made (those in flight are still answered).
    fn done(&self) -> bool;
}

/// Drives `pipes` with `load` until it is done and nothing is in flight, keeping at most
/// `outstanding` requests in flight overall.
fn drive<L: Workload>(poll: &mut Poll, pipes: &mut [Pipe], outstanding: usize, load: &mut L) {
    let mut events = Events::with_capacity(256);
    let per_pipe = outstanding.div_ceil(pipes.len()).max(1);
    loop {
        let total: usize = pipes.iter().map(|p| p.in_flight.len()).sum();
        let mut room = outstanding.saturating_sub(total);
        if !load.done() {
            for pipe in pipes.iter_mut() {
                while room > 0 && pipe.in_flight.len() < per_pipe && load.next(pipe) {
                    room -= 1;
                }
                pipe.flush();
            }
        }
        let total: usize = pipes.iter().map(|p| p.in_flight.len()).sum();
        if total == 0 {
            return;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .expect("poll");
        for pipe in pipes.iter_mut() {
            pipe.flush();
            for frame in pipe.receive() {
                let (correlation, sent, carried) =
                    pipe.in_flight.pop_front().expect("a response to a request");
                let (got, response) =
                    decode_response::<L::Response>(&frame, L::VERSION).expect("decode");
                assert_eq!(got, correlation, "responses come in request order");
                load.answer(response, sent.elapsed(), carried);
            }
        }
    }
}

/// Creates `topics` topics of `PARTITIONS_PER_TOPIC` partitions each.
struct CreateLoad {
    topics: usize,
    next_topic: usize,
    answered: usize,
    states: Vec<PartitionState>,
}

impl Workload for CreateLoad {
    type Response = CreateTopicsResponse;
    const VERSION: i16 = CREATE_TOPICS_VERSION;

    fn next(&mut self, pipe: &mut Pipe) -> bool {
        if self.next_topic >= self.topics {
            return false;
        }
        let first = self.next_topic;
        self.next_topic = (first + TOPICS_PER_CREATE).min(self.topics);
        let request = CreateTopicsRequest {
            topics: (first..self.next_topic)
                .map(|t| create_topics_request::CreatableTopic {
                    name: format!("bench-{t:05}"),
                    num_partitions: -1,
                    replication_factor: -1,
                    assignments: (0..PARTITIONS_PER_TOPIC)
                        .map(|p| create_topics_request::CreatableReplicaAssignment {
                            partition_index: p,
                            broker_ids: replicas_of(t, p).to_vec(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: 60_000,
            ..Default::default()
        };
        pipe.send(&request, Self::VERSION, (first..self.next_topic).collect());
        true
    }

    fn answer(&mut self, response: CreateTopicsResponse, _: Duration, carried: Vec<usize>) {
        for (topic, t) in response.topics.iter().zip(carried) {
            assert_eq!(topic.error_code, ErrorCode::None.code(), "{topic:?}");
            for p in 0..PARTITIONS_PER_TOPIC {
                self.states.push(PartitionState {
                    topic_id: topic.topic_id,
                    index: p,
                    replicas: replicas_of(t, p),
                    leader_epoch: 0,
                    partition_epoch: 0,
                    shrunk: false,
                    in_flight: false,
                });
            }
            self.answered += 1;
        }
    }

    fn done(&self) -> bool {
        self.next_topic >= self.topics
    }
}

fn create_phase(
    poll: &mut Poll,
    pipes: &mut [Pipe],
    partitions: usize,
) -> (Vec<PartitionState>, Duration) {
    let mut load = CreateLoad {
        topics: partitions.div_ceil(PARTITIONS_PER_TOPIC as usize),
        next_topic: 0,
        answered: 0,
        states: Vec::with_capacity(partitions),
    };
    let start = Instant::now();
    drive(poll, &mut pipes[..1], CREATES_OUTSTANDING, &mut load);
    assert_eq!(load.answered, load.topics);
    (load.states, start.elapsed())
}

/// Replicas of partition `p` of topic `t`: the three brokers, rotated so leaders spread.
fn replicas_of(t: usize, p: i32) -> [i32; REPLICATION] {
    let first = ((t as i32 + p) % BROKERS) as usize;
    let mut replicas = [0; REPLICATION];
    for (i, r) in replicas.iter_mut().enumerate() {
        *r = ((first + i) % BROKERS as usize) as i32 + 1;
    }
    replicas
}

/// ISR changes from the partitions' leaders, `batch` partitions per request.
struct AlterLoad<'a> {
    states: &'a mut [PartitionState],
    broker_epochs: &'a [i64],
    batch: usize,
    deadline: Instant,
    cursor: usize,
    leader_turn: i32,
    requests: usize,
    changes: usize,
    errors: usize,
    latencies: Latencies,
    last_answer: Instant,
}

impl Workload for AlterLoad<'_> {
    type Response = AlterPartitionResponse;
    const VERSION: i16 = ALTER_PARTITION_VERSION;

    fn next(&mut self, pipe: &mut Pipe) -> bool {
        let leader = self.leader_turn % BROKERS + 1;
        self.leader_turn += 1;
        let mut carried = Vec::with_capacity(self.batch);
        let mut scanned = 0;
        while carried.len() < self.batch && scanned < self.states.len() {
            let i = self.cursor;
            self.cursor = (self.cursor + 1) % self.states.len();
            scanned += 1;
            let s = &self.states[i];
            if !s.in_flight && s.leader() == leader {
                carried.push(i);
            }
        }
        if carried.is_empty() {
            return false;
        }
        let mut topics: Vec<alter_partition_request::TopicData> = Vec::new();
        for &i in &carried {
            let s = &mut self.states[i];
            s.in_flight = true;
            let data = alter_partition_request::PartitionData {
                partition_index: s.index,
                leader_epoch: s.leader_epoch,
                new_isr_with_epochs: s
                    .next_isr()
                    .iter()
                    .map(|&b| alter_partition_request::BrokerState {
                        broker_id: b,
                        broker_epoch: self.broker_epochs[b as usize - 1],
                        ..Default::default()
                    })
                    .collect(),
                partition_epoch: s.partition_epoch,
                ..Default::default()
            };
            match topics.last_mut() {
                Some(t) if t.topic_id == s.topic_id => t.partitions.push(data),
                _ => topics.push(alter_partition_request::TopicData {
                    topic_id: s.topic_id,
                    partitions: vec![data],
                    ..Default::default()
                }),
            }
        }
        let request = AlterPartitionRequest {
            broker_id: leader,
            broker_epoch: self.broker_epochs[leader as usize - 1],
            topics,
            ..Default::default()
        };
        pipe.send(&request, Self::VERSION, carried);
        self.requests += 1;
        true
    }

    fn answer(&mut self, response: AlterPartitionResponse, latency: Duration, carried: Vec<usize>) {
        self.latencies.0.push(latency.as_micros() as u64);
        self.last_answer = Instant::now();
        let results = response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, p)));
        let mut answered = 0;
        for ((topic_id, result), &i) in results.zip(&carried) {
            let s = &mut self.states[i];
            assert_eq!((topic_id, result.partition_index), (s.topic_id, s.index));
            s.in_flight = false;
            answered += 1;
            if result.error_code == ErrorCode::None.code() {
                s.leader_epoch = result.leader_epoch;
                s.partition_epoch = result.partition_epoch;
                s.shrunk = result.isr.len() < REPLICATION;
                self.changes += 1;
            } else {
                self.errors += 1;
            }
        }
        if answered < carried.len() {
            // A request-wide error: nothing was changed.
            assert_ne!(response.error_code, ErrorCode::None.code(), "{response:?}");
            for i in carried {
                self.states[i].in_flight = false;
            }
            self.errors += 1;
        }
    }

    fn done(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

struct PhaseResult {
    changes_per_s: f64,
    requests: usize,
    errors: usize,
    latencies: Latencies,
}

fn alter_phase(
    poll: &mut Poll,
    pipes: &mut [Pipe],
    states: &mut [PartitionState],
    broker_epochs: &[i64],
    outstanding: usize,
    batch: usize,
    seconds: u64,
) -> PhaseResult {
    let start = Instant::now();
    let mut load = AlterLoad {
        states,
        broker_epochs,
        batch,
        deadline: start + Duration::from_secs(seconds),
        cursor: 0,
        leader_turn: 0,
        requests: 0,
        changes: 0,
        errors: 0,
        latencies: Latencies::default(),
        last_answer: start,
    };
    drive(poll, pipes, outstanding, &mut load);
    let elapsed = load.last_answer.duration_since(start).as_secs_f64();
    PhaseResult {
        changes_per_s: load.changes as f64 / elapsed,
        requests: load.requests,
        errors: load.errors,
        latencies: load.latencies,
    }
}

fn report(name: &str, outstanding: usize, batch: usize, result: &mut PhaseResult) {
    println!(
        "{name}: {:.0} partition changes/s, {} requests of {batch} partition(s), {outstanding} outstanding, {} errors; latency p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms",
        result.changes_per_s,
        result.requests,
        result.errors,
        result.latencies.quantile_ms(0.50),
        result.latencies.quantile_ms(0.99),
        result.latencies.quantile_ms(0.999),
    );
}

/// The unbatched load serially and at N outstanding, healthy and then with one follower
/// stopped (see the module header).
fn follower_stopped(
    cluster: &Cluster,
    leader: u32,
    (poll, pipes): (&mut Poll, &mut [Pipe]),
    states: &mut [PartitionState],
    broker_epochs: &[i64],
    args: &Args,
) {
    let follower = cluster
        .ids()
        .into_iter()
        .find(|id| *id != leader)
        .expect("a follower");
    for outstanding in [1, args.outstanding] {
        let mut phase = |states: &mut [PartitionState]| {
            alter_phase(
                poll,
                pipes,
                states,
                broker_epochs,
                outstanding,
                1,
                args.seconds,
            )
        };
        let mut healthy = phase(states);
        report("healthy", outstanding, 1, &mut healthy);
        common::signal(cluster.pid(follower), libc::SIGSTOP);
        let mut stopped = phase(states);
        common::signal(cluster.pid(follower), libc::SIGCONT);
        report(
            &format!("follower {follower} stopped"),
            outstanding,
            1,
            &mut stopped,
        );
        let shape = if outstanding == 1 {
            "serial".to_owned()
        } else {
            format!("{outstanding}_outstanding")
        };
        println!(
            "stopped_over_healthy_{shape}_p50: {:.2} ({:.2} ms vs {:.2} ms)",
            stopped.latencies.quantile_ms(0.5) / healthy.latencies.quantile_ms(0.5),
            stopped.latencies.quantile_ms(0.5),
            healthy.latencies.quantile_ms(0.5)
        );
        println!(
            "stopped_over_healthy_{shape}_throughput: {:.2} ({:.0} vs {:.0} changes/s)",
            stopped.changes_per_s / healthy.changes_per_s,
            stopped.changes_per_s,
            healthy.changes_per_s
        );
        // Let the resumed follower catch up before the next shape.
        cluster.wait_for_caught_up(Duration::from_secs(60));
    }
}

/// Runs the ZooKeeper anchor with the same concurrency, duration and disk(s); returns its
/// (setData ops/s, p99 ms) at that concurrency.
fn zookeeper(args: &Args) -> Option<(f64, f64)> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/anchors/zk/run.sh");
    if !script.exists() {
        println!("zk: {} is missing; no ZooKeeper side", script.display());
        return None;
    }
    let mut command = Command::new("bash");
    command.arg(&script);
    if !args.dirs.is_empty() {
        let dirs: Vec<String> = args.dirs.iter().map(|d| d.display().to_string()).collect();
        command.args(["--disk", &dirs.join(",")]);
    }
    command.args([
        "--outstanding",
        &args.outstanding.to_string(),
        "--duration",
        &args.seconds.to_string(),
        "--warmup",
        "3",
    ]);
    let output = command.output().expect("run the ZooKeeper anchor");
    let text = String::from_utf8_lossy(&output.stdout);
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let key = format!("o{}_", args.outstanding);
    match (
        value(&format!("{key}ops_per_s:")),
        value(&format!("{key}p99_ms:")),
    ) {
        (Some(ops), Some(p99)) => {
            println!(
                "zk: 3 servers, {} setData outstanding for {} s: {ops:.0} ops/s, p99 {p99:.2} ms",
                args.outstanding, args.seconds
            );
            Some((ops, p99))
        }
        _ => {
            println!(
                "zk: the anchor did not report (status {}):\n{text}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            None
        }
    }
}

fn main() {
    let args = parse_args();
    let mut settings = Settings::kafka_defaults().with("broker.session.timeout.ms", 600_000);
    settings.segment_bytes = SEGMENT_BYTES_DEFAULT;
    settings.test_timeout = Duration::from_secs(30 * 60);
    if let Some(linger) = args.linger_ms {
        settings.append_linger_ms = linger;
    }
    // A real disk: the temp dir (the harness's own default is /dev/shm, which never syncs).
    settings.data_roots = if args.dirs.is_empty() {
        vec![std::env::temp_dir(); 3]
    } else {
        args.dirs.clone()
    };
    let cluster = Cluster::start("bench-cluster", 3, settings);
    let mut connection = ControllerConnection::new(&cluster);
    let brokers: Vec<SimBroker> = (1..=BROKERS)
        .map(|id| SimBroker::bring_up(&mut connection, &cluster.cluster_id, id, None))
        .collect();
    let broker_epochs: Vec<i64> = brokers.iter().map(|b| b.epoch).collect();
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(10));
    let address = cluster.address(leader);
    println!(
        "keel: 3 controllers, data on {}; controller node {leader}",
        if args.dirs.is_empty() {
            format!("{} (the temp dir)", std::env::temp_dir().display())
        } else {
            format!("{:?}", args.dirs)
        }
    );

    let mut poll = Poll::new().expect("poll");
    let mut pipes: Vec<Pipe> = (0..CONNECTIONS)
        .map(|i| Pipe::connect(&address, &poll, Token(i)))
        .collect();

    let (mut states, create_time) = create_phase(&mut poll, &mut pipes, args.partitions);
    println!(
        "create: {} partitions in {} topics (replication 3) in {:.2} s",
        states.len(),
        states.len() / PARTITIONS_PER_TOPIC as usize,
        create_time.as_secs_f64()
    );

    let mut batched = alter_phase(
        &mut poll,
        &mut pipes,
        &mut states,
        &broker_epochs,
        args.outstanding,
        args.batch,
        args.seconds,
    );
    report("kafka-style", args.outstanding, args.batch, &mut batched);
    let mut unbatched = alter_phase(
        &mut poll,
        &mut pipes,
        &mut states,
        &broker_epochs,
        args.outstanding,
        1,
        args.seconds,
    );
    report("unbatched", args.outstanding, 1, &mut unbatched);
    let unbatched_p99 = unbatched.latencies.quantile_ms(0.99);
    if args.follower_stopped {
        follower_stopped(
            &cluster,
            leader,
            (&mut poll, &mut pipes),
            &mut states,
            &broker_epochs,
            &args,
        );
    }
    drop(pipes);
    drop(cluster);

    if args.zk {
        if let Some((zk_ops, zk_p99)) = zookeeper(&args) {
            println!(
                "ratio_batched_over_zk: {:.1}",
                batched.changes_per_s / zk_ops
            );
            println!(
                "ratio_unbatched_over_zk: {:.1}",
                unbatched.changes_per_s / zk_ops
            );
            println!("zk_p99_ms: {zk_p99:.2}");
        }
    } else {
        println!("zk: not run (pass --zk to run the ZooKeeper anchor in the same session)");
    }
    println!("keel_partition_changes_per_s: {:.0}", batched.changes_per_s);
    println!(
        "keel_unbatched_changes_per_s: {:.0}",
        unbatched.changes_per_s
    );
    println!("keel_commit_p99_ms: {unbatched_p99:.2}");
    println!("keel_create_partitions_s: {:.2}", create_time.as_secs_f64());
}
