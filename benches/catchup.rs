//! How fast a broker catches up with the metadata log, and how fast a change reaches every
//! broker: `cargo bench --bench catchup [-- --partitions P --changes C --topics T]`.
//!
//! Real processes on 127.0.0.1 with fsync on, data in the temp dir: 3 controllers and 3
//! brokers (`process.roles=broker`). The quorum is loaded with P partitions (default
//! 1,000,000: topics of 1,000 partitions, replication 3, spread over the brokers) and a
//! history of changes (config changes on topics), enough log for the controllers to have
//! written snapshots and deleted the log behind them (Kafka's 20 MiB between snapshots).
//! Then, for one broker:
//!
//! 1. **Cold start**: the broker is stopped and its directory formatted anew (a new disk); it
//!    installs the leader's snapshot (the leader's log starts past 0) and fetches the tail.
//! 2. **Warm restart after C changes** (default 1,000 config changes, one request each) made
//!    while it was stopped (SIGTERM; a broker stopping cleanly first snapshots its image when
//!    the log after its latest snapshot is long, so the restart loads that snapshot instead
//!    of replaying the log; the stop's own time is printed): it fetches from its own log end
//!    offset.
//! 3. **Warm restart after nothing changed**.
//!
//! Each reports the wall time from `keel start` to the broker's log line "caught up with the
//! leader" (its applied offset reached the leader's high watermark; the process start and
//! its log replay are included) and the bytes it fetched (snapshot bytes plus log bytes, from
//! the same line). Then **propagation**: T topics created one at a time through the active
//! controller; for each, the time from the CreateTopics acknowledgement until every one of
//! the 3 brokers lists it in Metadata (each broker polled in a loop; p50 and p99).
//!
//! For comparison, `tools/zk/reload.sh` times what a ZooKeeper-mode Kafka controller does on
//! failover with the same number of partitions: read every partition's state znode from a
//! real 3-server ZooKeeper.
//!
//! Each start also prints where its time went, from the broker's own log timestamps (see
//! `breakdown`).
//!
//! Last lines: `broker_cold_start_s`, `broker_warm_restart_s`,
//! `broker_warm_restart_bytes_fetched`, `metadata_propagation_p99_ms`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use keel::admin::client::Client;
use keel::constants::SEGMENT_BYTES_DEFAULT;
use keel::protocol::ErrorCode;
use keel::protocol::messages::{
    CreateTopicsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
    MetadataRequest, MetadataResponse, create_topics_request, incremental_alter_configs_request,
    metadata_request,
};

use common::brokers::{ControllerConnection, create_not_controller};
use common::{Cluster, Settings};

const PARTITIONS_PER_TOPIC: i32 = 1_000;
/// Topics per CreateTopics request: nine topics of 1,000 partitions (plus their topic records)
/// stay within one batch of at most 10,000 records.
const TOPICS_PER_REQUEST: usize = 9;
/// Config changes per IncrementalAlterConfigs request (each change is one record).
const CHANGES_PER_REQUEST: usize = 50;
const CREATE_TOPICS_VERSION: i16 = 7;
const INCREMENTAL_ALTER_CONFIGS_VERSION: i16 = 1;
const METADATA_VERSION: i16 = 12;
const RESOURCE_TOPIC: i8 = 2;
const OP_SET: i8 = 0;

struct Args {
    partitions: u64,
    changes: u32,
    topics: u32,
}

fn parse_args() -> Args {
    let mut args = Args {
        partitions: 1_000_000,
        changes: 1_000,
        topics: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match arg.as_str() {
            "--partitions" => args.partitions = value().parse().expect("a number"),
            "--changes" => args.changes = value().parse().expect("a number"),
            "--topics" => args.topics = value().parse().expect("a number"),
            "--bench" => {}
            other => panic!("unknown argument {other:?}"),
        }
    }
    args
}

fn create_topics(connection: &mut ControllerConnection, names: &[String]) {
    let request = keel::protocol::messages::CreateTopicsRequest {
        topics: names
            .iter()
            .map(|name| create_topics_request::CreatableTopic {
                name: name.clone(),
                num_partitions: PARTITIONS_PER_TOPIC,
                replication_factor: 3,
                ..Default::default()
            })
            .collect(),
        timeout_ms: 60_000,
        ..Default::default()
    };
    let response: CreateTopicsResponse = connection.call(
        &request,
        CREATE_TOPICS_VERSION,
        create_not_controller,
        Duration::from_secs(60),
    );
    for topic in &response.topics {
        assert_eq!(
            topic.error_code,
            ErrorCode::None.code(),
            "creating {}: {:?}",
            topic.name,
            topic.error_message
        );
    }
}

/// Config changes, one record each (`retention.ms` of a topic), in one request.
fn change_configs(connection: &mut ControllerConnection, changes: &[(&str, u64)]) {
    let request = IncrementalAlterConfigsRequest {
        resources: changes
            .iter()
            .map(
                |(name, value)| incremental_alter_configs_request::AlterConfigsResource {
                    resource_type: RESOURCE_TOPIC,
                    resource_name: (*name).to_owned(),
                    configs: vec![incremental_alter_configs_request::AlterableConfig {
                        name: "retention.ms".into(),
                        config_operation: OP_SET,
                        value: Some(value.to_string()),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )
            .collect(),
        ..Default::default()
    };
    let response: IncrementalAlterConfigsResponse = connection.call(
        &request,
        INCREMENTAL_ALTER_CONFIGS_VERSION,
        |r: &IncrementalAlterConfigsResponse| {
            r.responses
                .iter()
                .any(|r| r.error_code == ErrorCode::NotController.code())
        },
        Duration::from_secs(60),
    );
    for result in &response.responses {
        assert_eq!(result.error_code, ErrorCode::None.code(), "{result:?}");
    }
}

/// `count` config changes starting at `first`, spread over `names`, in requests of
/// [`CHANGES_PER_REQUEST`] (distinct topics within a request).
fn change_many(connection: &mut ControllerConnection, names: &[String], first: u64, count: u64) {
    let mut i = 0;
    while i < count {
        let n = (count - i).min(CHANGES_PER_REQUEST.min(names.len()) as u64);
        let changes: Vec<(&str, u64)> = (i..i + n)
            .map(|k| {
                (
                    names[((first + k) % names.len() as u64) as usize].as_str(),
                    first + k,
                )
            })
            .collect();
        change_configs(connection, &changes);
        i += n;
    }
}

/// What a broker's "caught up" line says, and where its start went.
struct CatchUp {
    wall: Duration,
    snapshot_bytes: u64,
    fetched_bytes: u64,
    line: String,
    breakdown: String,
}

/// Milliseconds since midnight (UTC) of a log line's `[2026-12-04T20:02:48.390Z ...` stamp.
fn stamp_ms(line: &str) -> Option<u64> {
    let time = line.split('T').nth(1)?.get(..12)?;
    let field = |range: std::ops::Range<usize>| time.get(range)?.parse::<u64>().ok();
    Some(((field(0..2)? * 60 + field(3..5)?) * 60 + field(6..8)?) * 1000 + field(9..12)?)
}

fn now_of_day_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    (since_epoch.as_millis() % 86_400_000) as u64
}

/// SIGTERM of broker `id` to its exit, which includes its controlled shutdown and the
/// snapshot of its image it writes first when the log after its latest snapshot is long.
fn stop_and_time(cluster: &mut Cluster, id: u32) -> String {
    let asked = Instant::now();
    cluster.stop(id);
    let snapshotted = cluster
        .current_log(id)
        .contains("finishing a snapshot of the image before exiting");
    format!(
        "stop: SIGTERM to exit {:.2} s ({})",
        asked.elapsed().as_secs_f64(),
        if snapshotted {
            "with a snapshot of the image at shutdown"
        } else {
            "no snapshot at shutdown"
        }
    )
}

/// Where a start went, from the log's own timestamps: spawn to the snapshot loaded (process
/// start, log recovery, reading and decoding the snapshot into the image), to the node
/// started (the rest of opening), to caught up (fetching from the leader and applying the
/// log after the snapshot: from the snapshot's end offset, in its file name, to the log end
/// the "started" line gives).
fn breakdown(log: &str, spawned_ms: u64, caught_up: &str) -> String {
    let at = |needle: &str| log.lines().find(|l| l.contains(needle)).and_then(stamp_ms);
    let started_line = log.lines().find(|l| l.contains(" started: epoch "));
    let (Some(loaded), Some(started), Some(done)) = (
        at("loaded snapshot"),
        started_line.and_then(stamp_ms),
        stamp_ms(caught_up),
    ) else {
        return "breakdown: not in the log (no snapshot loaded)".into();
    };
    // The snapshot's file name starts with its end offset; the "started" line ends with
    // the log's range "log S..E".
    let snapshot_end = log
        .lines()
        .find_map(|l| l.split("loaded snapshot ").nth(1))
        .and_then(|name| name.get(..20))
        .and_then(|digits| digits.parse::<u64>().ok());
    let log_end = started_line
        .and_then(|l| l.rsplit("log ").next())
        .and_then(|range| range.split_once(".."))
        .and_then(|(_, to)| to.trim().parse::<u64>().ok());
    let log_after_snapshot = match (snapshot_end, log_end) {
        (Some(snapshot_end), Some(log_end)) => log_end.saturating_sub(snapshot_end),
        _ => 0,
    };
    format!(
        "breakdown: spawn to snapshot loaded {} ms, to node started {} ms, to caught up {} ms (fetch, and applying {log_after_snapshot} offsets of log after the snapshot)",
        loaded.saturating_sub(spawned_ms),
        started.saturating_sub(loaded),
        done.saturating_sub(started)
    )
}

fn number_after(text: &str, prefix: &str) -> Option<u64> {
    let at = text.find(prefix)? + prefix.len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// Starts broker `id` and waits for its "caught up" line.
fn start_and_time(cluster: &mut Cluster, id: u32) -> CatchUp {
    let started = Instant::now();
    let spawned_ms = now_of_day_ms();
    cluster.spawn(id);
    loop {
        let log = cluster.current_log(id);
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("caught up with the leader"))
        {
            let wall = started.elapsed();
            return CatchUp {
                wall,
                snapshot_bytes: number_after(line, "leader's snapshot at offset ")
                    .and_then(|_| number_after(line, " ("))
                    .unwrap_or(0),
                fetched_bytes: number_after(line, "records (").expect("fetched bytes"),
                line: line.to_owned(),
                breakdown: breakdown(&log, spawned_ms, line),
            };
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "broker {id} did not catch up within 10 minutes"
        );
        assert!(
            cluster.exited(id).is_none(),
            "broker {id} exited: {}",
            cluster.current_log(id)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn serves(client: &mut Client, topic: &str) -> bool {
    let request = MetadataRequest {
        topics: Some(vec![metadata_request::MetadataRequestTopic {
            name: Some(topic.to_owned()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let response: MetadataResponse = client
        .call(&request, METADATA_VERSION)
        .expect("a Metadata answer");
    response.topics[0].error_code == ErrorCode::None.code()
}

fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

fn main() {
    let args = parse_args();
    let mut settings = Settings::kafka_defaults();
    settings.segment_bytes = SEGMENT_BYTES_DEFAULT;
    settings.brokers = 3;
    settings.test_timeout = Duration::from_secs(40 * 60);
    // A real disk: the temp dir (the harness's own default is /dev/shm, which never syncs).
    settings.data_roots = vec![std::env::temp_dir(); 6];
    let mut cluster = Cluster::new("bench-catchup", 3, settings);
    for id in cluster.ids() {
        cluster.start_node(id);
    }
    cluster.wait_for_leader(Duration::from_secs(20));
    let brokers = cluster.broker_ids();
    let measured = brokers[2];
    for &id in &brokers {
        cluster.start_node(id);
        cluster.wait_for_log(id, "unfenced by the controller", Duration::from_secs(30));
    }
    let mut connection = ControllerConnection::new(&cluster);

    let topics = (args.partitions / PARTITIONS_PER_TOPIC as u64).max(1) as usize;
    let loaded = Instant::now();
    let names: Vec<String> = (0..topics).map(|t| format!("topic-{t:05}")).collect();
    for chunk in names.chunks(TOPICS_PER_REQUEST) {
        create_topics(&mut connection, chunk);
    }
    // A history: config changes spread over the topics.
    change_many(&mut connection, &names, 0, topics as u64 * 10);
    println!(
        "loaded: {} partitions in {topics} topics (replication 3) and {} config changes in {:.1} s",
        topics as u64 * PARTITIONS_PER_TOPIC as u64,
        topics * 10,
        loaded.elapsed().as_secs_f64()
    );

    // Cold start: the measured broker loses its disk (stopped, directory formatted anew).
    cluster.stop(measured);
    let _ = std::fs::remove_dir_all(&cluster.node(measured).data_dir);
    cluster.format(measured);
    let cold = start_and_time(&mut cluster, measured);
    println!(
        "cold start (empty directory): caught up in {:.2} s, fetched {} snapshot bytes + {} log bytes\n  {}",
        cold.wall.as_secs_f64(),
        cold.snapshot_bytes,
        cold.fetched_bytes,
        cold.line
    );
    cluster.wait_for_log(
        measured,
        "unfenced by the controller",
        Duration::from_secs(60),
    );

    let stop = stop_and_time(&mut cluster, measured);
    change_many(
        &mut connection,
        &names,
        topics as u64 * 10,
        u64::from(args.changes),
    );
    let warm = start_and_time(&mut cluster, measured);
    println!(
        "warm restart after {} changes: caught up in {:.2} s, fetched {} snapshot bytes + {} log bytes\n  {stop}\n  {}\n  {}",
        args.changes,
        warm.wall.as_secs_f64(),
        warm.snapshot_bytes,
        warm.fetched_bytes,
        warm.line,
        warm.breakdown
    );
    cluster.wait_for_log(
        measured,
        "unfenced by the controller",
        Duration::from_secs(60),
    );

    let idle_stop = stop_and_time(&mut cluster, measured);
    let idle = start_and_time(&mut cluster, measured);
    println!(
        "warm restart after no change: caught up in {:.2} s, fetched {} log bytes\n  {idle_stop}\n  {}\n  {}",
        idle.wall.as_secs_f64(),
        idle.fetched_bytes,
        idle.line,
        idle.breakdown
    );
    cluster.wait_for_log(
        measured,
        "unfenced by the controller",
        Duration::from_secs(60),
    );

    // Propagation: acknowledgement by the controller -> served by all three brokers.
    let mut clients: Vec<Client> = brokers
        .iter()
        .map(|&id| Client::connect(&cluster.address(id)).expect("connect to a broker"))
        .collect();
    let mut delays = Vec::new();
    for t in 0..args.topics {
        let name = format!("propagation-{t:04}");
        let request = keel::protocol::messages::CreateTopicsRequest {
            topics: vec![create_topics_request::CreatableTopic {
                name: name.clone(),
                num_partitions: 1,
                replication_factor: 3,
                ..Default::default()
            }],
            timeout_ms: 30_000,
            ..Default::default()
        };
        let response: CreateTopicsResponse = connection.call(
            &request,
            CREATE_TOPICS_VERSION,
            create_not_controller,
            Duration::from_secs(30),
        );
        let acknowledged = Instant::now();
        assert_eq!(response.topics[0].error_code, ErrorCode::None.code());
        let mut pending: Vec<usize> = (0..clients.len()).collect();
        while !pending.is_empty() {
            pending.retain(|&i| !serves(&mut clients[i], &name));
            assert!(
                acknowledged.elapsed() < Duration::from_secs(30),
                "{name} did not reach every broker"
            );
        }
        delays.push(acknowledged.elapsed());
    }
    delays.sort_unstable();
    println!(
        "propagation over {} topics: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        delays.len(),
        quantile_ms(&delays, 0.5),
        quantile_ms(&delays, 0.99),
        quantile_ms(&delays, 1.0)
    );
    drop(clients);
    drop(cluster);
    println!("broker_cold_start_s: {:.2}", cold.wall.as_secs_f64());
    println!("broker_warm_restart_s: {:.2}", warm.wall.as_secs_f64());
    println!(
        "broker_warm_restart_bytes_fetched: {}",
        warm.snapshot_bytes + warm.fetched_bytes
    );
    println!(
        "metadata_propagation_p99_ms: {:.2}",
        quantile_ms(&delays, 0.99)
    );
}
