//! Brokers as real processes: Raft observers that register with the active controller, fetch
//! the metadata log onto their own disk, serve Kafka clients from their own image, forward
//! writes, restart from their own offset, and are fenced when they stop heartbeating.

mod common;

use std::time::{Duration, Instant};

use common::brokers::{
    LeaderFault, committed_image, create_in_flight_at_leader_kill, create_topics_request,
};
use common::{Cluster, Settings, wait_for};
use keel::admin::client::Client;
use keel::protocol::ErrorCode;
use keel::protocol::messages::{
    CreateTopicsResponse, DescribeConfigsRequest, DescribeConfigsResponse, MetadataRequest,
    MetadataResponse, describe_configs_request, metadata_request,
};

const METADATA_VERSION: i16 = 12;
const CREATE_TOPICS_VERSION: i16 = 7;

fn settings() -> Settings {
    let mut settings = Settings::fast()
        .with("broker.heartbeat.interval.ms", 100)
        .with("broker.session.timeout.ms", 1_500);
    settings.brokers = 2;
    settings.test_timeout = Duration::from_secs(120);
    settings
}

/// Waits until broker `id` logs that the controller unfenced it.
fn wait_unfenced(cluster: &Cluster, id: u32) {
    cluster.wait_for_log(id, "unfenced by the controller", Duration::from_secs(20));
}

fn metadata(client: &mut Client, topics: Option<&[&str]>) -> MetadataResponse {
    let request = MetadataRequest {
        topics: topics.map(|names| {
            names
                .iter()
                .map(|name| metadata_request::MetadataRequestTopic {
                    name: Some((*name).to_owned()),
                    ..Default::default()
                })
                .collect()
        }),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    client
        .call(&request, METADATA_VERSION)
        .expect("a Metadata answer")
}

fn listed_brokers(response: &MetadataResponse) -> Vec<i32> {
    let mut ids: Vec<i32> = response.brokers.iter().map(|b| b.node_id).collect();
    ids.sort_unstable();
    ids
}

fn create(client: &mut Client, names: &[String], partitions: i32, replication: i16) {
    let response: CreateTopicsResponse = client
        .call(
            &create_topics_request(names, partitions, replication),
            CREATE_TOPICS_VERSION,
        )
        .expect("a CreateTopics answer");
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

#[test]
fn a_broker_serves_at_once_what_a_client_created_through_it() {
    let cluster = Cluster::start("brokers-serve", 3, settings());
    for id in cluster.broker_ids() {
        wait_unfenced(&cluster, id);
    }
    let (first, second) = (cluster.broker_ids()[0], cluster.broker_ids()[1]);
    let mut client = Client::connect(&cluster.address(first)).expect("connect to broker");
    // Each broker learns of the other's unfencing from the log, a moment after it happens.
    let everything = wait_for("both brokers listed", Duration::from_secs(10), || {
        let answer = metadata(&mut client, None);
        (listed_brokers(&answer) == [first as i32, second as i32])
            .then_some(answer)
            .ok_or_else(|| "not yet".to_string())
    });
    assert_eq!(
        everything.cluster_id.as_deref(),
        Some(cluster.cluster_id.as_str())
    );
    assert!(
        listed_brokers(&everything).contains(&everything.controller_id),
        "the controller id is a listed broker"
    );

    // Create through the first broker, then ask it at once: the answer waited for its image.
    for round in 0..20 {
        let name = format!("orders-{round}");
        create(&mut client, std::slice::from_ref(&name), 3, 2);
        let answer = metadata(&mut client, Some(&[&name]));
        let topic = &answer.topics[0];
        assert_eq!(
            topic.error_code,
            ErrorCode::None.code(),
            "{name} not served at once"
        );
        assert_eq!(topic.partitions.len(), 3);
        for partition in &topic.partitions {
            assert_eq!(partition.replica_nodes.len(), 2);
            assert!(partition.replica_nodes.contains(&partition.leader_id));
        }
    }
    // The other broker learns it from the log too.
    let mut other = Client::connect(&cluster.address(second)).expect("connect to broker");
    wait_for(
        "the second broker serves orders-19",
        Duration::from_secs(10),
        || {
            let answer = metadata(&mut other, Some(&["orders-19"]));
            (answer.topics[0].error_code == ErrorCode::None.code())
                .then_some(())
                .ok_or_else(|| "not yet".to_string())
        },
    );
    let unknown = metadata(&mut other, Some(&["no-such-topic"]));
    assert_eq!(
        unknown.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    // Configs are read from the broker's own image.
    let configs: DescribeConfigsResponse = other
        .call(
            &DescribeConfigsRequest {
                resources: vec![describe_configs_request::DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: "orders-0".into(),
                    configuration_keys: None,
                    ..Default::default()
                }],
                ..Default::default()
            },
            4,
        )
        .expect("a DescribeConfigs answer");
    assert_eq!(configs.results[0].error_code, ErrorCode::None.code());
    // DescribeQuorum through a broker reaches the active controller (Kafka's brokers forward
    // it, so kafka-metadata-quorum.sh --bootstrap-server works).
    let output = common::run_keel(
        &[
            "quorum",
            "describe",
            "--bootstrap-server",
            &cluster.address(second),
        ],
        Duration::from_secs(30),
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (leader, _) = cluster.wait_for_leader(Duration::from_secs(5));
    assert!(
        text.contains(&format!("LeaderId:               {leader}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"id\": {second}")),
        "the broker is an observer: {text}"
    );
}

#[test]
fn a_broker_killed_and_restarted_catches_up_from_its_own_offset() {
    let mut cluster = Cluster::start(
        "brokers-restart",
        3,
        settings().with("metadata.log.max.record.bytes.between.snapshots", 1 << 30),
    );
    let broker = cluster.broker_ids()[0];
    let helper = cluster.broker_ids()[1];
    wait_unfenced(&cluster, broker);
    wait_unfenced(&cluster, helper);
    let mut client = Client::connect(&cluster.address(helper)).expect("connect to broker");
    let names = |from: usize, to: usize| -> Vec<String> {
        (from..to).map(|i| format!("before-{i}")).collect()
    };
    for chunk in 0..10 {
        create(&mut client, &names(chunk * 20, chunk * 20 + 20), 10, 2);
    }
    // Let the broker fetch all of it, then kill it.
    let mut broker_client = Client::connect(&cluster.address(broker)).expect("connect");
    wait_for("the broker has everything", Duration::from_secs(10), || {
        let answer = metadata(&mut broker_client, Some(&["before-199"]));
        (answer.topics[0].error_code == ErrorCode::None.code())
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    });
    drop(broker_client);
    cluster.kill(broker);
    for i in 0..5 {
        create(&mut client, &[format!("while-down-{i}")], 4, 1);
    }
    let restarted_at = Instant::now();
    cluster.start_node(broker);
    let line = cluster.wait_for_log(broker, "caught up with the leader", Duration::from_secs(20));
    let caught_up = line
        .lines()
        .find(|l| l.contains("caught up with the leader"))
        .expect("the line")
        .to_owned();
    eprintln!(
        "restart to caught-up: {:?}: {caught_up}",
        restarted_at.elapsed()
    );
    assert!(
        caught_up.contains("resumed from its own log at offset"),
        "{caught_up}"
    );
    let resumed_from: u64 = number_after(&caught_up, "resumed from its own log at offset ");
    let fetched_bytes: u64 = number_after(&caught_up, "records (");
    assert!(resumed_from > 0, "{caught_up}");
    wait_unfenced(&cluster, broker);

    // Its image equals a controller's at the same offset.
    let mut broker_client = Client::connect(&cluster.address(broker)).expect("connect");
    wait_for(
        "the broker serves what changed",
        Duration::from_secs(10),
        || {
            let answer = metadata(&mut broker_client, Some(&["while-down-4"]));
            (answer.topics[0].error_code == ErrorCode::None.code())
                .then_some(())
                .ok_or_else(|| "not yet".to_string())
        },
    );
    drop(broker_client);
    drop(client);
    let controller = cluster.ids()[0];
    cluster.stop(broker);
    cluster.stop(controller);
    // Everything before the kill was on the broker's disk; it fetched only the few changes
    // made while it was down (and the controllers' idle NoOps).
    let log_bytes = log_bytes(&cluster, broker);
    assert!(
        fetched_bytes * 10 < log_bytes,
        "fetched {fetched_bytes} bytes of a {log_bytes}-byte log: {caught_up}"
    );
    eprintln!("fetched {fetched_bytes} bytes on restart; the log holds {log_bytes}");
    let high_watermark = log_end_of(&cluster, broker).min(log_end_of(&cluster, controller));
    let broker_image = committed_image(&cluster, broker, high_watermark);
    let controller_image = committed_image(&cluster, controller, high_watermark);
    assert!(broker_image.topic_by_name("while-down-4").is_some());
    assert_eq!(broker_image, controller_image);
}

#[test]
fn a_broker_that_stops_heartbeating_is_fenced_and_loses_its_leaderships() {
    let cluster = Cluster::start("brokers-fence", 3, settings());
    let (silent, other) = (cluster.broker_ids()[0], cluster.broker_ids()[1]);
    wait_unfenced(&cluster, silent);
    wait_unfenced(&cluster, other);
    let mut client = Client::connect(&cluster.address(other)).expect("connect to broker");
    create(&mut client, &["fenced-topic".into()], 6, 2);
    let before = metadata(&mut client, Some(&["fenced-topic"]));
    let led_by_silent = before.topics[0]
        .partitions
        .iter()
        .filter(|p| p.leader_id == silent as i32)
        .count();
    assert!(
        led_by_silent > 0,
        "round-robin gives each broker leaderships"
    );

    // SIGSTOP: the process stays, its heartbeats stop.
    common::signal(cluster.pid(silent), libc::SIGSTOP);
    let stopped_at = Instant::now();
    let fenced = wait_for(
        "the silent broker is fenced",
        Duration::from_secs(10),
        || {
            let answer = metadata(&mut client, Some(&["fenced-topic"]));
            let gone = !listed_brokers(&answer).contains(&(silent as i32));
            let moved = answer.topics[0]
                .partitions
                .iter()
                .all(|p| p.leader_id == other as i32);
            (gone && moved)
                .then_some(answer)
                .ok_or_else(|| "not yet".to_string())
        },
    );
    let elapsed = stopped_at.elapsed();
    common::signal(cluster.pid(silent), libc::SIGCONT);
    eprintln!("fenced and leaderships moved {elapsed:?} after the heartbeats stopped");
    // Session 1.5 s + one heartbeat interval, plus the polling and commit slack of a test.
    assert!(
        elapsed < Duration::from_millis(1_500 + 100 + 1_000),
        "{elapsed:?}"
    );
    for partition in &fenced.topics[0].partitions {
        assert!(!partition.isr_nodes.contains(&(silent as i32)));
    }
}

fn number_after(text: &str, prefix: &str) -> u64 {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix:?} in {text}"))
        + prefix.len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("a number after {prefix:?} in {text}"))
}

/// A copy of stopped-or-running node `id`'s log (opening may repair a torn tail: never open
/// the files themselves).
fn log_copy(cluster: &Cluster, id: u32, label: &str) -> keel::storage::Log {
    let partition = cluster
        .node(id)
        .data_dir
        .join(keel::storage::METADATA_PARTITION_DIR);
    let copy = cluster.root.join(format!("{label}-copy-{id}"));
    let _ = std::fs::remove_dir_all(&copy);
    common::copy_dir(&partition, &copy);
    keel::storage::Log::open(
        &copy,
        keel::storage::LogConfig::with_segment_bytes(cluster.settings.segment_bytes),
    )
    .expect("open the log copy")
}

/// Bytes of the batches in node `id`'s log (segments are preallocated: file sizes say
/// nothing).
fn log_bytes(cluster: &Cluster, id: u32) -> u64 {
    let log = log_copy(cluster, id, "bytes");
    let mut bytes = 0;
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let chunk = log.read(offset, 1 << 20).expect("read the log");
        let before = offset;
        for item in keel::storage::batch::Scanner::new(chunk, log.config().batch_bytes_max) {
            if let keel::storage::batch::ScanItem::Batch { batch, .. } = item {
                bytes += u64::from(batch.header.batch_bytes);
                offset = batch.header.next_offset();
            }
        }
        assert!(offset > before, "the log copy does not advance at {offset}");
    }
    bytes
}

/// Where a stopped node's log ends (the test stops nodes once they have caught up).
fn log_end_of(cluster: &Cluster, id: u32) -> u64 {
    log_copy(cluster, id, "end").log_end_offset()
}

#[test]
fn a_broker_stopped_with_sigterm_hands_its_leaderships_over_before_it_exits() {
    let mut cluster = Cluster::start("brokers-shutdown", 3, settings());
    let (leaving, staying) = (cluster.broker_ids()[0], cluster.broker_ids()[1]);
    wait_unfenced(&cluster, leaving);
    wait_unfenced(&cluster, staying);
    let mut client = Client::connect(&cluster.address(staying)).expect("connect to broker");
    create(&mut client, &["handed-over".into()], 6, 2);
    let before = metadata(&mut client, Some(&["handed-over"]));
    assert!(
        before.topics[0]
            .partitions
            .iter()
            .any(|p| p.leader_id == leaving as i32),
        "round-robin gives each broker leaderships"
    );

    let stopping = Instant::now();
    let status = cluster.stop(leaving);
    let took = stopping.elapsed();
    assert!(status.success(), "{status:?}");
    let log = cluster.current_log(leaving);
    assert!(
        log.contains("the controller agreed to the shutdown"),
        "no controlled shutdown: {log}"
    );
    // Well before the 1.5 s session would have expired: the controller moved the leaderships
    // because the broker asked, not because it went silent.
    assert!(took < Duration::from_millis(1_500), "{took:?}");
    let after = wait_for("the leaderships moved", Duration::from_secs(5), || {
        let answer = metadata(&mut client, Some(&["handed-over"]));
        answer.topics[0]
            .partitions
            .iter()
            .all(|p| p.leader_id == staying as i32 && !p.isr_nodes.contains(&(leaving as i32)))
            .then_some(answer)
            .ok_or_else(|| "not yet".to_string())
    });
    eprintln!("controlled shutdown took {took:?}");
    assert_eq!(after.topics[0].partitions.len(), 6);
}

#[test]
fn configs_describe_all_of_a_broker_shows_its_static_values_and_kafkas_defaults() {
    let cluster = Cluster::start("brokers-configs", 3, settings());
    let broker = cluster.broker_ids()[0];
    wait_unfenced(&cluster, broker);
    let address = cluster.address(broker);
    let name = broker.to_string();
    let keel = |args: &[&str]| {
        let output = common::run_keel(args, Duration::from_secs(30));
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = keel(&[
        "configs",
        "describe",
        "--bootstrap-server",
        &address,
        "--entity-type",
        "brokers",
        "--entity-name",
        &name,
        "--all",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key} not shown:\n{stdout}"))
            .to_owned()
    };
    // broker.heartbeat.interval.ms is in its server.properties (100); log.retention.hours is
    // left at Kafka's default.
    let heartbeat = line("broker.heartbeat.interval.ms");
    assert!(
        heartbeat.contains(" 100 ") && heartbeat.contains("STATIC_BROKER_CONFIG"),
        "{heartbeat}"
    );
    let retention = line("log.retention.hours");
    assert!(
        retention.contains(" 168 ") && retention.contains("DEFAULT_CONFIG"),
        "{retention}"
    );

    // Setting a dynamic key, then deleting it twice: the second time it is not set.
    let alter = |verb: &str, option: &str, value: &str| {
        keel(&[
            "configs",
            verb,
            "--bootstrap-server",
            &address,
            "--entity-type",
            "brokers",
            "--entity-name",
            &name,
            option,
            value,
        ])
    };
    let (code, _, stderr) = alter("set", "--add-config", "log.cleaner.threads=2");
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = alter("set", "--add-config", "log.dirs=/elsewhere");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("Cannot update these configs dynamically: Set(log.dirs)"),
        "{stderr}"
    );
    let (code, _, stderr) = alter("delete", "--delete-config", "log.cleaner.threads");
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = alter("delete", "--delete-config", "log.cleaner.threads");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("Invalid config(s): log.cleaner.threads"),
        "{stderr}"
    );
}

#[test]
fn a_create_in_flight_when_the_active_controller_is_killed_completes_on_the_next_one() {
    let mut cluster = Cluster::start("brokers-forward-moves", 3, settings());
    let broker = cluster.broker_ids()[0];
    wait_unfenced(&cluster, broker);
    let outcome = create_in_flight_at_leader_kill(
        &mut cluster,
        broker,
        "created-across-a-failover",
        Duration::from_millis(200),
        LeaderFault::Kill,
    );
    let topic = &outcome.response.topics[0];
    assert_eq!(
        topic.error_code,
        ErrorCode::None.code(),
        "the create should have moved to the new leader: {:?}",
        topic.error_message
    );
    cluster.wait_for_log(
        broker,
        "goes to the next leader elected",
        Duration::from_secs(5),
    );
    let after_election = outcome
        .answered_after_kill
        .saturating_sub(outcome.elected_after_kill);
    assert!(
        after_election < Duration::from_secs(5),
        "answered {after_election:?} after the election (benches/failover.rs measures it)"
    );
    let mut client = Client::connect(&cluster.address(broker)).expect("connect to the broker");
    let listed = metadata(&mut client, Some(&["created-across-a-failover"]));
    assert_eq!(listed.topics[0].error_code, ErrorCode::None.code());
}

#[test]
#[ignore = "once in a loaded full-suite run a controller panicked here (controller.rs: a control record committed at a pending offset) after the paused leader resumed; under investigation, see the 2026-12-04 closing note"]
fn a_create_in_flight_to_a_paused_controller_goes_to_the_leader_elected_instead() {
    let mut cluster = Cluster::start("brokers-forward-paused", 3, settings());
    let broker = cluster.broker_ids()[0];
    wait_unfenced(&cluster, broker);
    let outcome = create_in_flight_at_leader_kill(
        &mut cluster,
        broker,
        "created-around-a-pause",
        Duration::ZERO,
        LeaderFault::Pause,
    );
    let topic = &outcome.response.topics[0];
    assert_eq!(
        topic.error_code,
        ErrorCode::None.code(),
        "the create should have moved to the new leader: {:?}",
        topic.error_message
    );
    cluster.wait_for_log(
        broker,
        "goes to the leader of epoch",
        Duration::from_secs(5),
    );
    let after_election = outcome
        .answered_after_kill
        .saturating_sub(outcome.elected_after_kill);
    assert!(
        after_election < Duration::from_secs(5),
        "answered {after_election:?} after the election"
    );
    // The old leader, resumed, follows the new one.
    cluster.wait_for_leader(Duration::from_secs(20));
}
