//! keel brokers serve metadata only, and real Kafka clients learn that at once: every
//! producer and consumer below, against the broker of a `keel dev` cluster started as a new
//! user starts it (one controller, one broker), fails within 1 s (it used to wait
//! for its 300 s delivery timeout, or forever), with the error its library shows for keel's
//! refusal (`src/node/not_served.rs`): keel's message "keel brokers serve metadata only: ..."
//! where the library shows the broker's message, else the Kafka error keel chose.
//!
//! kcat and kafka-python are installed by `.ci/run` and must run under CI (`CI` set).
//! confluent-kafka and aiokafka (in the Python of `KEEL_PYTHON`) and kafkajs (on `NODE_PATH`,
//! or in `KEEL_NODE_MODULES`) run where installed and are skipped, with the reason printed,
//! elsewhere. Every client process is bounded (`CLIENT_BOUND`) and killed if it overruns.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::brokers::create_topics_request;
use common::dev::Dev;
use common::wait_for;
use keel::admin::client::Client;
use keel::node::not_served::NOT_SERVED_MESSAGE;
use keel::protocol::ErrorCode;
use keel::protocol::messages::{
    CreateTopicsResponse, FindCoordinatorRequest, FindCoordinatorResponse, ProduceRequest,
    ProduceResponse, produce_request,
};

const TOPIC: &str = "orders";
/// What a client must take, at most, to fail.
const FAIL_WITHIN: Duration = Duration::from_secs(1);
/// A client process that runs longer is killed (the scripts give up after 10 s themselves).
const CLIENT_BOUND: Duration = Duration::from_secs(30);
/// The start of keel's message, which the clients below that show it must show.
const METADATA_ONLY: &str = "keel brokers serve metadata only";

/// The id of the `keel dev` broker (after its one controller).
const BROKER: u32 = 2;

/// `keel dev --controllers 1 --brokers 1` with the topic created: the cluster and its
/// bootstrap server.
fn dev(name: &str) -> (Dev, String) {
    let mut dev = Dev::new(name, 1, 1);
    dev.start();
    dev.wait_for_line(
        &format!("broker {BROKER} unfenced by the controller"),
        Duration::from_secs(20),
    );
    let address = dev.bootstrap_server();
    let mut client = Client::connect(&address).expect("connect to the broker");
    let created: CreateTopicsResponse = client
        .call(&create_topics_request(&[TOPIC.into()], 3, 1), 7)
        .expect("CreateTopics");
    assert_eq!(created.topics[0].error_code, ErrorCode::None.code());
    (dev, address)
}

/// The broker's log lines, as `keel dev` streamed them.
fn broker_log(dev: &Dev) -> String {
    let prefix = format!("[node {BROKER}]");
    dev.output()
        .into_iter()
        .filter(|l| l.starts_with(&prefix))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `command` (stdin `input`), killed after [`CLIENT_BOUND`]; its output and wall time.
fn run_bounded(mut command: Command, input: &[u8]) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let pid = child.id();
    let (finished, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait.recv_timeout(CLIENT_BOUND).is_err() {
            // Still running after the bound: kill it (`wait_with_output` then returns).
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    });
    let output = child.wait_with_output().expect("client output");
    let elapsed = start.elapsed();
    let _ = finished.send(());
    watchdog.join().expect("watchdog");
    (output, elapsed)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn present(program: &str, args: &[&str], required: bool) -> bool {
    let ok = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !(required && std::env::var_os("CI").is_some()),
            "{program} {args:?} failed under CI: .ci/run installs it"
        );
        eprintln!("SKIPPED: {program} {args:?} failed: not installed here");
    }
    ok
}

fn python() -> String {
    std::env::var("KEEL_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// A `RESULT <library> <mode> <seconds> <outcome>: <error>` line of the client scripts.
struct Outcome {
    seconds: f64,
    outcome: String,
    error: String,
}

fn parse_result(output: &Output) -> Outcome {
    let all = text(output);
    let line = all
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line:\n{all}"));
    let mut words = line.splitn(4, ' ');
    let (_library, _mode) = (words.next(), words.next());
    let seconds = words.next().expect("seconds").parse().expect("seconds");
    let rest = words.next().expect("outcome");
    let (outcome, error) = rest.split_once(": ").unwrap_or((rest, ""));
    Outcome {
        seconds,
        outcome: outcome.to_owned(),
        error: error.to_owned(),
    }
}

/// Asserts that `label` failed within [`FAIL_WITHIN`] with an error containing `expected`.
fn assert_failed_fast(label: &str, outcome: &Outcome, expected: &str) {
    eprintln!(
        "MEASURED {label}: {} after {:.3} s: {}",
        outcome.outcome, outcome.seconds, outcome.error
    );
    assert_eq!(outcome.outcome, "failed", "{label}: {}", outcome.error);
    assert!(
        outcome.seconds < FAIL_WITHIN.as_secs_f64(),
        "{label} took {:.3} s to fail",
        outcome.seconds
    );
    assert!(
        outcome.error.contains(expected),
        "{label}: expected {expected:?} in {:?}",
        outcome.error
    );
}

#[test]
fn kcat_producer_and_consumers_fail_at_once() {
    if !present("kcat", &["-V"], true) {
        return;
    }
    let (dev, bootstrap) = dev("kcat-metadata-only");
    // kcat -P: librdkafka 2.0.2 shows only the error's name for a failed delivery.
    let fetch_refused =
        format!("Fetch from broker {BROKER} failed: Broker: Topic authorization failed");
    let mut producer = Command::new("kcat");
    producer.args(["-P", "-b", &bootstrap, "-t", TOPIC]);
    let cases: Vec<(&str, Command, &[u8], &str)> = vec![
        (
            "kcat -P",
            producer,
            b"hello\n",
            "Delivery failed for message: Broker: Topic authorization failed",
        ),
        (
            // ListOffsets answers offset 0 (an empty log); the Fetch (v11) is refused.
            "kcat -C",
            kcat(&["-C", "-e", "-b", &bootstrap, "-t", TOPIC]),
            b"",
            &fetch_refused,
        ),
        (
            "kcat -G",
            kcat(&["-G", "keel-test", "-b", &bootstrap, TOPIC]),
            b"",
            METADATA_ONLY,
        ),
    ];
    for (label, command, input, expected) in cases {
        let (output, elapsed) = run_bounded(command, input);
        let all = text(&output);
        let error = all.lines().find(|l| l.contains(expected)).unwrap_or("");
        eprintln!(
            "MEASURED {label}: exit {:?} after {:.3} s: {error}\n{all}",
            output.status.code(),
            elapsed.as_secs_f64()
        );
        assert!(!output.status.success(), "{label} succeeded:\n{all}");
        assert!(
            elapsed < FAIL_WITHIN,
            "{label} took {elapsed:?} to fail:\n{all}"
        );
        assert!(
            all.contains(expected),
            "{label}: expected {expected:?} in:\n{all}"
        );
    }
    assert_logged_once_per_connection(&dev);
}

fn kcat(args: &[&str]) -> Command {
    let mut command = Command::new("kcat");
    command.args(args);
    command
}

/// The broker logged the refusals, one line per connection (each kcat run above opened its
/// own connections).
fn assert_logged_once_per_connection(dev: &Dev) {
    let log = broker_log(dev);
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("which keel brokers do not serve"))
        .collect();
    assert!(!lines.is_empty(), "no refusal logged:\n{log}");
    let mut connections: Vec<&str> = lines
        .iter()
        .map(|l| {
            l.split("client connection ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .expect("connection id")
        })
        .collect();
    let logged = connections.len();
    connections.sort_unstable();
    connections.dedup();
    assert_eq!(
        connections.len(),
        logged,
        "a connection was logged twice:\n{}",
        lines.join("\n")
    );
}

/// Python libraries and modes: what each must show. kafka-python and aiokafka never show the
/// broker's message (they build their exceptions from the code and the group or topic name),
/// and kafka-python's idempotent producer stops at InitProducerId, which keel does not offer.
const PYTHON_CASES: &[(&str, &str, &str)] = &[
    (
        "kafka-python",
        "producer",
        "does not support the 'InitProducerIdRequest'",
    ),
    ("kafka-python", "group", "GroupAuthorizationFailedError"),
    ("kafka-python", "assign", "TopicAuthorizationFailedError"),
    ("confluent-kafka", "producer", "TOPIC_AUTHORIZATION_FAILED"),
    ("confluent-kafka", "group", METADATA_ONLY),
    ("confluent-kafka", "assign", METADATA_ONLY),
    ("aiokafka", "producer", "TopicAuthorizationFailedError"),
    ("aiokafka", "group", "GroupAuthorizationFailedError"),
    // aiokafka 0.14's assigned consumer retries every ListOffsets error forever: brokers answer
    // its earliest or latest offset 0 (an empty log), and it fails at its Fetch (v11, which
    // brokers serve from v4 for it).
    (
        "aiokafka",
        "assign",
        "TopicAuthorizationFailedError: orders",
    ),
];

#[test]
fn python_clients_fail_at_once() {
    let python = python();
    if !present(&python, &["-c", "import kafka"], true) {
        return;
    }
    let (dev, bootstrap) = dev("python-metadata-only");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/metadata_only.py"
    );
    let mut ran = Vec::new();
    for &(library, mode, expected) in PYTHON_CASES {
        let module = library.replace('-', "_").replace("kafka_python", "kafka");
        if !present(
            &python,
            &["-c", &format!("import {module}")],
            library == "kafka-python",
        ) {
            eprintln!("SKIPPED: {library} {mode}: {library} is not installed in {python}");
            continue;
        }
        let mut command = Command::new(&python);
        command.args([script, library, mode, &bootstrap, TOPIC]);
        let (output, _) = run_bounded(command, b"");
        assert_failed_fast(
            &format!("{library} {mode}"),
            &parse_result(&output),
            expected,
        );
        ran.push(format!("{library} {mode}"));
    }
    eprintln!("RAN: {}", ran.join(", "));
    assert_logged_once_per_connection(&dev);
}

#[test]
fn kafkajs_producer_and_group_consumer_fail_at_once() {
    let node_path = std::env::var("KEEL_NODE_MODULES")
        .or_else(|_| std::env::var("NODE_PATH"))
        .unwrap_or_default();
    let probe = Command::new("node")
        .args(["-e", "require('kafkajs')"])
        .env("NODE_PATH", &node_path)
        .stdin(Stdio::null())
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "SKIPPED: kafkajs: node or kafkajs not found (NODE_PATH or KEEL_NODE_MODULES {node_path:?})"
        );
        return;
    }
    let (_dev, bootstrap) = dev("kafkajs-metadata-only");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/metadata_only.js"
    );
    // kafkajs 2.2 shows its own text for each code, never the broker's message; it has no
    // group-less consumer.
    for (mode, expected) in [
        (
            "producer",
            "Not authorized to access topics: [Topic authorization failed]",
        ),
        ("group", "KafkaJSGroupCoordinatorNotFound"),
    ] {
        let mut command = Command::new("node");
        command
            .args([script, mode, &bootstrap, TOPIC])
            .env("NODE_PATH", &node_path);
        let (output, _) = run_bounded(command, b"");
        assert_failed_fast(&format!("kafkajs {mode}"), &parse_result(&output), expected);
    }
}

/// The wire behind all of the above, without a client library: a Produce is refused per
/// partition with keel's message, a FindCoordinator with it too, on one connection that is
/// logged once.
#[test]
fn a_broker_refuses_produce_and_find_coordinator_with_the_metadata_only_message() {
    let (dev, bootstrap) = dev("wire-metadata-only");
    let mut client = Client::connect(&bootstrap).expect("connect");
    let produce = ProduceRequest {
        acks: -1,
        timeout_ms: 1000,
        topic_data: vec![produce_request::TopicProduceData {
            name: TOPIC.into(),
            partition_data: (0..3)
                .map(|index| produce_request::PartitionProduceData {
                    index,
                    records: Some(vec![0; 16]),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    for version in [3, 8, 12] {
        let answer: ProduceResponse = client.call(&produce, version).expect("Produce");
        let partitions = &answer.responses[0].partition_responses;
        assert_eq!(partitions.len(), 3);
        for p in partitions {
            assert_eq!(p.error_code, ErrorCode::TopicAuthorizationFailed.code());
            assert_eq!(
                p.error_message.as_deref(),
                (version >= 8).then_some(NOT_SERVED_MESSAGE)
            );
        }
    }
    let find = FindCoordinatorRequest {
        key: "keel-test".into(),
        ..Default::default()
    };
    let answer: FindCoordinatorResponse = client.call(&find, 3).expect("FindCoordinator");
    assert_eq!(
        answer.error_code,
        ErrorCode::GroupAuthorizationFailed.code()
    );
    assert_eq!(answer.error_message.as_deref(), Some(NOT_SERVED_MESSAGE));
    drop(client);
    let log = wait_for("the refusal logged", Duration::from_secs(5), || {
        let log = broker_log(&dev);
        if log.contains("which keel brokers do not serve") {
            Ok(log)
        } else {
            Err("not yet".into())
        }
    });
    assert_eq!(
        log.matches("which keel brokers do not serve").count(),
        1,
        "four refused requests on one connection are one log line:\n{log}"
    );
}
