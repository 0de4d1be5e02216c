//! Real Kafka clients nobody here wrote, against keel brokers: kcat (librdkafka) lists the
//! cluster, kafka-python's KafkaAdminClient does every admin call and gets Kafka's error
//! codes (tests/clients/kafka_python_admin.py).
//!
//! The clients are installed by `.ci/run` (kcat from Debian, kafka-python from PyPI into a
//! venv named by `KEEL_PYTHON`). Without them the test says so and checks nothing, except
//! under CI (`CI` set), where a missing client is a failure.

mod common;

use std::process::Command;
use std::time::Duration;

use common::brokers::create_topics_request;
use common::{Cluster, Settings};
use keel::admin::client::Client;
use keel::protocol::ErrorCode;
use keel::protocol::messages::CreateTopicsResponse;

const BROKERS: u32 = 3;

fn tool_present(program: &str, args: &[&str]) -> bool {
    let present = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} {args:?} failed under CI: .ci/run installs it"
        );
        eprintln!("SKIPPED: {program} {args:?} failed: not installed here (.ci/run installs it)");
    }
    present
}

fn python() -> String {
    std::env::var("KEEL_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn cluster(name: &str) -> Cluster {
    let mut settings = Settings::fast().with("broker.heartbeat.interval.ms", 200);
    settings.brokers = BROKERS;
    settings.test_timeout = Duration::from_secs(150);
    let cluster = Cluster::start(name, 3, settings);
    for id in cluster.broker_ids() {
        cluster.wait_for_log(id, "unfenced by the controller", Duration::from_secs(20));
    }
    cluster
}

#[test]
fn kcat_lists_every_broker_topic_and_partition() {
    if !tool_present("kcat", &["-V"]) {
        return;
    }
    let cluster = cluster("kcat");
    let first = cluster.broker_ids()[0];
    let mut client = Client::connect(&cluster.address(first)).expect("connect to a broker");
    let created: CreateTopicsResponse = client
        .call(&create_topics_request(&["kcat-topic".into()], 4, 3), 7)
        .expect("CreateTopics");
    assert_eq!(created.topics[0].error_code, ErrorCode::None.code());

    let output = Command::new("kcat")
        .args(["-L", "-m", "10", "-b", &cluster.address(first)])
        .output()
        .expect("run kcat");
    let text = String::from_utf8_lossy(&output.stdout);
    eprintln!(
        "kcat -L:\n{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "kcat failed");
    assert!(text.contains(&format!(" {BROKERS} brokers:")), "{text}");
    for id in cluster.broker_ids() {
        assert!(
            text.contains(&format!("broker {id} at {}", cluster.address(id))),
            "broker {id} missing: {text}"
        );
    }
    assert!(
        text.contains("(controller)"),
        "no controller marked: {text}"
    );
    assert!(
        text.contains("topic \"kcat-topic\" with 4 partitions:"),
        "{text}"
    );
    for partition in 0..4 {
        assert!(
            text.contains(&format!("partition {partition}, leader ")),
            "partition {partition} missing: {text}"
        );
    }
    assert_eq!(text.matches("isrs: ").count(), 4, "{text}");
}

#[test]
fn kafka_python_admin_client_does_every_admin_call() {
    if !tool_present(&python(), &["-c", "import kafka"]) {
        return;
    }
    let cluster = cluster("kafka-python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/kafka_python_admin.py"
    );
    let bootstrap = cluster.address(cluster.broker_ids()[0]);
    let output = Command::new(python())
        .args([script, &bootstrap, &BROKERS.to_string()])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!(
        "kafka-python:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "kafka-python checks failed");
    assert!(stdout.contains("all checks passed"), "{stdout}");
}
