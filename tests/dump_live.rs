//! keel-dump against the data directories of a running cluster (3 controllers and a broker),
//! after changes made with keel's admin CLI through the broker: `verify` finds nothing wrong,
//! `log --records` shows every change in order, `image` shows what `keel topics describe`
//! reports; then on copies of a directory, a flipped byte in a sealed segment is corruption
//! named by file, byte and offset, and a last segment cut mid-batch is a torn tail.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::brokers::create_topics_request;
use common::{Cluster, Settings, run_keel};
use keel::admin::client::Client;
use keel::protocol::ErrorCode;
use keel::protocol::messages::CreateTopicsResponse;
use keel::storage::METADATA_PARTITION_DIR;

/// CreateTopics requests of 5 topics x 500 partitions: about 1.7 MB of records, so the 1 MiB
/// segments of the test settings roll at least once.
const BULK_REQUESTS: usize = 12;

fn keel_dump(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keel-dump"))
        .args(args)
        .output()
        .expect("run keel-dump")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn cli(args: &[&str]) -> String {
    let output = run_keel(args, Duration::from_secs(60));
    assert!(output.status.success(), "keel {args:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// (topic, partition) -> (leader, replicas, isr), from `keel topics describe`'s table.
type Partitions = BTreeMap<(String, i32), (i32, String, String)>;

fn partitions_from_describe(out: &str) -> Partitions {
    let mut partitions = Partitions::new();
    let mut topic = String::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("Topic: ") {
            topic = rest.split_whitespace().next().expect("a name").to_owned();
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [partition, leader, _epoch, replicas, isr, ..] = fields[..]
            && let (Ok(partition), Ok(leader)) = (partition.parse(), leader.parse())
        {
            partitions.insert(
                (topic.clone(), partition),
                (leader, replicas.to_owned(), isr.to_owned()),
            );
        }
    }
    partitions
}

fn partitions_from_image(out: &str) -> Partitions {
    let mut partitions = Partitions::new();
    for line in out.lines().filter(|l| l.contains("\tPartition: ")) {
        let field = |name: &str| -> String {
            let at = line.find(&format!("{name}: ")).expect(name) + name.len() + 2;
            line[at..]
                .split('\t')
                .next()
                .expect("a value")
                .trim()
                .to_owned()
        };
        partitions.insert(
            (
                field("Topic"),
                field("Partition").parse().expect("a partition"),
            ),
            (
                field("Leader").parse().expect("a leader"),
                field("Replicas"),
                field("Isr"),
            ),
        );
    }
    partitions
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(METADATA_PARTITION_DIR))
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

#[test]
fn keel_dump_reads_a_live_cluster_and_finds_damage_in_copies() {
    let mut settings = Settings::fast();
    settings.brokers = 1;
    let cluster = Cluster::start("dump-live", 3, settings);
    let broker = cluster.broker_ids()[0];
    cluster.wait_for_log(
        broker,
        "unfenced by the controller",
        Duration::from_secs(20),
    );
    let server = cluster.address(broker);
    let server = server.as_str();

    // Changes made the way an operator makes them.
    cli(&[
        "topics",
        "create",
        "--bootstrap-server",
        server,
        "--topic",
        "orders",
        "--partitions",
        "3",
        "--replication-factor",
        "1",
    ]);
    cli(&[
        "topics",
        "create",
        "--bootstrap-server",
        server,
        "--topic",
        "payments",
        "--partitions",
        "2",
        "--replication-factor",
        "1",
        "--config",
        "retention.ms=86400000",
    ]);
    cli(&[
        "topics",
        "alter",
        "--bootstrap-server",
        server,
        "--topic",
        "orders",
        "--partitions",
        "5",
    ]);
    cli(&[
        "configs",
        "set",
        "--bootstrap-server",
        server,
        "--entity-type",
        "topics",
        "--entity-name",
        "orders",
        "--add-config",
        "retention.ms=1000",
    ]);
    cli(&[
        "topics",
        "delete",
        "--bootstrap-server",
        server,
        "--topic",
        "payments",
    ]);
    // Enough records for more than one 1 MiB segment.
    let mut client = Client::connect(server).expect("connect to the broker");
    for chunk in 0..BULK_REQUESTS {
        let names: Vec<String> = (0..5).map(|i| format!("bulk-{chunk}-{i}")).collect();
        let created: CreateTopicsResponse = client
            .call(&create_topics_request(&names, 500, 1), 7)
            .expect("CreateTopics");
        assert!(
            created
                .topics
                .iter()
                .all(|t| t.error_code == ErrorCode::None.code())
        );
    }
    let described = cli(&["topics", "describe", "--bootstrap-server", server]);

    for id in cluster.ids() {
        let dir = cluster
            .node(id)
            .data_dir
            .to_str()
            .expect("utf-8")
            .to_owned();
        let verify = keel_dump(&["verify", &dir]);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "node {id}: {}",
            text(&verify)
        );
    }
    let controller = cluster.node(cluster.ids()[0]).data_dir.clone();
    let dir = controller.to_str().expect("utf-8");

    // Every change, in order.
    let log = keel_dump(&["log", "--records", dir]);
    assert_eq!(log.status.code(), Some(0), "{}", text(&log));
    let log = String::from_utf8_lossy(&log.stdout).into_owned();
    let expected_in_order = [
        "TopicRecord v0 name=orders",
        "PartitionRecord v2 topic=orders partition=2",
        "TopicRecord v0 name=payments",
        "ConfigRecord v0 resource=topic:payments name=retention.ms value=86400000",
        "PartitionRecord v2 topic=orders partition=4",
        "ConfigRecord v0 resource=topic:orders name=retention.ms value=1000",
        "RemoveTopicRecord v0 topic=payments",
        "TopicRecord v0 name=bulk-11-4",
    ];
    let mut from = 0;
    for needle in expected_in_order {
        let at = log[from..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing after byte {from} of the log listing"));
        from += at + needle.len();
    }

    // The image at the log end is what the broker describes.
    let image = keel_dump(&["image", dir]);
    assert_eq!(image.status.code(), Some(0), "{}", text(&image));
    let from_image = partitions_from_image(&String::from_utf8_lossy(&image.stdout));
    let from_cli = partitions_from_describe(&described);
    assert_eq!(from_cli.len(), 5 + BULK_REQUESTS * 5 * 500, "{described}");
    assert_eq!(from_image, from_cli);

    // A flipped byte in the middle of a sealed segment of a copy: corruption, located.
    let sealed = segments(&controller);
    assert!(sealed.len() >= 2, "want a sealed segment: {sealed:?}");
    let copy = cluster.root.join("flipped");
    common::copy_dir(&controller, &copy);
    let first = copy
        .join(METADATA_PARTITION_DIR)
        .join(sealed[0].file_name().expect("name"));
    let mut bytes = std::fs::read(&first).expect("read the segment");
    let used = bytes.iter().rposition(|&b| b != 0).expect("data");
    bytes[used / 2] ^= 0x40;
    std::fs::write(&first, &bytes).expect("write the segment");
    let verify = keel_dump(&["verify", copy.to_str().expect("utf-8")]);
    let report = text(&verify);
    assert_eq!(verify.status.code(), Some(1), "{report}");
    let name = first.file_name().expect("name").to_str().expect("utf-8");
    let line = report
        .lines()
        .find(|l| l.starts_with("CORRUPTION") && l.contains(name))
        .unwrap_or_else(|| panic!("no corruption named in {name}: {report}"));
    assert!(
        line.contains(" at byte ") && line.contains("(offset "),
        "{line}"
    );

    // The last segment of another copy cut in the middle of its last batch: a torn tail at
    // that batch's position.
    let copy = cluster.root.join("torn");
    common::copy_dir(&controller, &copy);
    let listing = keel_dump(&["log", copy.to_str().expect("utf-8")]);
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let last = listing
        .lines()
        .rfind(|l| l.starts_with("offsets "))
        .expect("a batch");
    let number = |name: &str| -> u64 {
        let at = last.find(name).expect(name) + name.len();
        last[at..]
            .split_whitespace()
            .next()
            .expect("a number")
            .parse()
            .expect("a number")
    };
    let (position, size) = (number("position "), number("bytes "));
    let segment = copy.join(METADATA_PARTITION_DIR).join(
        segments(&controller)
            .last()
            .expect("a segment")
            .file_name()
            .expect("name"),
    );
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open the last segment");
    file.set_len(position + size / 2).expect("truncate");
    drop(file);
    let verify = keel_dump(&["verify", copy.to_str().expect("utf-8")]);
    let report = text(&verify);
    assert_eq!(verify.status.code(), Some(1), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("torn tail") && l.contains(&format!("at byte {position} "))),
        "no torn tail at byte {position}: {report}"
    );
}
