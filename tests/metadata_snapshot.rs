//! The snapshot equivalence of issue 6: for random valid histories, the image after "load the
//! snapshot taken at offset k, then replay the log from k" equals the image after "replay the
//! whole log", for every k tried.
//!
//! Two sources of histories:
//! - records drawn directly, covering every record type and field keel reads (including what
//!   keel's controller never writes: reassignment state, directories, eligible leader
//!   replicas, feature removal, broker log directories, replaced partitions);
//! - the controller driven by random requests on a simulated clock (registrations,
//!   heartbeats, session expiry, controlled shutdown, topics, partitions, ISR changes,
//!   configs, unregistration), which is what a real log holds.
//!
//! A failure prints the proptest seed; the histories are deterministic functions of it.

#[path = "metadata_harness.rs"]
mod harness;

use harness::*;
use keel::metadata::controller::*;
use keel::metadata::image::{ConfigResource, Image, RESOURCE_BROKER, RESOURCE_TOPIC};
use keel::metadata::record::MetadataRecord;
use keel::metadata::snapshot::{self, SnapshotLoader};
use keel::protocol::Uuid;
use keel::protocol::messages::{
    BrokerRegistrationChangeRecord, ConfigRecord, FeatureLevelRecord, NoOpRecord,
    PartitionChangeRecord, PartitionRecord, RegisterBrokerRecord, RemoveTopicRecord, TopicRecord,
    UnregisterBrokerRecord, register_broker_record,
};
use proptest::prelude::*;

/// splitmix64: histories are a deterministic function of the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
    fn ids(&mut self, max: usize) -> Vec<i32> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.below(6) as i32).collect()
    }
}

fn replay(records: &[MetadataRecord], from: Image, start: u64) -> Image {
    let mut image = from;
    for (i, record) in records.iter().enumerate() {
        image
            .apply(start + i as u64, record)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    image
}

/// Takes a snapshot at each of `points`, loads it (through the framed bytes and the control
/// records, as a file would hold it), replays the rest, and compares with the full replay.
fn check_equivalence(log: &[MetadataRecord], points: &[usize]) {
    let full = replay(log, Image::new(), 0);
    for &k in points {
        let prefix = replay(&log[..k], Image::new(), 0);
        let mut loader = SnapshotLoader::new();
        loader
            .apply_control(&snapshot::encode_snapshot_header(1234))
            .unwrap();
        let mut count = 0;
        for batch in snapshot::snapshot_batches(&prefix) {
            for record in batch {
                loader.apply(&record).unwrap();
                count += 1;
            }
        }
        loader
            .apply_control(&snapshot::encode_snapshot_footer())
            .unwrap();
        let loaded = loader.finish(k as u64, true).unwrap();
        assert_eq!(
            loaded, prefix,
            "snapshot at {k} ({count} records) loads back"
        );
        let resumed = replay(&log[k..], loaded, k as u64);
        assert_eq!(resumed, full, "snapshot at {k} + replay == replay all");
    }
}

/// One record valid against `image`, drawn from every kind keel reads.
fn random_record(rng: &mut Rng, image: &Image, next_topic: &mut u8) -> MetadataRecord {
    let brokers: Vec<(i32, i64)> = image.brokers().map(|b| (b.id, b.epoch)).collect();
    let topics: Vec<(Uuid, u32, String)> = image
        .topics()
        .map(|t| (t.id(), t.partition_count(), t.name().to_owned()))
        .collect();
    let uuids = |rng: &mut Rng, max: usize| -> Vec<Uuid> {
        (0..rng.below(max + 1))
            .map(|_| Uuid::from_bytes([rng.below(4) as u8 + 1; 16]))
            .collect()
    };
    loop {
        match rng.below(13) {
            0 => {
                return MetadataRecord::FeatureLevel(FeatureLevelRecord {
                    name: ["metadata.version", "kraft.version", "group.version"][rng.below(3)]
                        .into(),
                    feature_level: rng.below(4) as i16,
                    ..Default::default()
                });
            }
            1 => {
                let id = rng.below(6) as i32;
                return MetadataRecord::RegisterBroker(RegisterBrokerRecord {
                    broker_id: id,
                    incarnation_id: Uuid::from_bytes([rng.below(200) as u8; 16]),
                    broker_epoch: rng.below(1000) as i64,
                    end_points: (0..rng.below(3))
                        .map(|i| register_broker_record::BrokerEndpoint {
                            name: format!("L{i}"),
                            host: format!("h{id}"),
                            port: 9000 + i as u16,
                            security_protocol: i as i16,
                            ..Default::default()
                        })
                        .collect(),
                    features: vec![register_broker_record::BrokerFeature {
                        name: "metadata.version".into(),
                        min_supported_version: 1,
                        max_supported_version: rng.below(30) as i16 + 1,
                        ..Default::default()
                    }],
                    rack: [None, Some(String::new()), Some("r1".to_owned())][rng.below(3)].clone(),
                    fenced: rng.chance(50),
                    in_controlled_shutdown: rng.chance(20),
                    log_dirs: uuids(rng, 2),
                    ..Default::default()
                });
            }
            2 => {
                let Some(&(id, epoch)) = rng.pick(&brokers) else {
                    continue;
                };
                return MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
                    broker_id: id,
                    broker_epoch: epoch,
                    fenced: rng.below(3) as i8 - 1,
                    in_controlled_shutdown: rng.below(2) as i8,
                    log_dirs: uuids(rng, 2),
                    ..Default::default()
                });
            }
            3 if rng.chance(30) => {
                let Some(&(id, epoch)) = rng.pick(&brokers) else {
                    continue;
                };
                return MetadataRecord::UnregisterBroker(UnregisterBrokerRecord {
                    broker_id: id,
                    broker_epoch: epoch,
                    ..Default::default()
                });
            }
            4 => {
                *next_topic = next_topic.wrapping_add(1).max(1);
                let name = format!(
                    "{}{}",
                    ["t", "a.b", "a_b", "x-y"][rng.below(4)],
                    rng.below(1000)
                );
                let id = Uuid::from_bytes([*next_topic; 16]);
                if image.topic_id(&name).is_some() || image.topic(&id).is_some() {
                    continue;
                }
                return MetadataRecord::Topic(TopicRecord {
                    name,
                    topic_id: id,
                    ..Default::default()
                });
            }
            5 | 6 => {
                let Some((topic, count, _)) = rng.pick(&topics).cloned() else {
                    continue;
                };
                let replicas = rng.ids(4);
                let isr = rng.ids(4);
                let partition_id = if rng.chance(80) || count == 0 {
                    count as i32
                } else {
                    rng.below(count as usize) as i32
                };
                let nullable = |rng: &mut Rng| rng.chance(30).then(|| rng.ids(3));
                return MetadataRecord::Partition(PartitionRecord {
                    partition_id,
                    topic_id: topic,
                    leader: if rng.chance(20) {
                        -1
                    } else {
                        rng.below(6) as i32
                    },
                    leader_epoch: rng.below(10) as i32,
                    partition_epoch: rng.below(10) as i32,
                    leader_recovery_state: rng.below(2) as i8,
                    removing_replicas: if rng.chance(20) { rng.ids(2) } else { vec![] },
                    adding_replicas: if rng.chance(20) { rng.ids(2) } else { vec![] },
                    directories: if rng.chance(20) {
                        uuids(rng, replicas.len())
                    } else {
                        vec![]
                    },
                    eligible_leader_replicas: nullable(rng),
                    last_known_elr: nullable(rng),
                    replicas,
                    isr,
                    ..Default::default()
                });
            }
            7 | 8 => {
                let with_partitions: Vec<_> = topics.iter().filter(|t| t.1 > 0).collect();
                let Some(&&(topic, count, _)) = rng.pick(&with_partitions) else {
                    continue;
                };
                let maybe = |rng: &mut Rng| rng.chance(40).then(|| rng.ids(4));
                return MetadataRecord::PartitionChange(PartitionChangeRecord {
                    partition_id: rng.below(count as usize) as i32,
                    topic_id: topic,
                    isr: maybe(rng),
                    leader: [-2, -2, -1, rng.below(6) as i32][rng.below(4)],
                    replicas: maybe(rng),
                    removing_replicas: maybe(rng),
                    adding_replicas: maybe(rng),
                    leader_recovery_state: rng.below(3) as i8 - 1,
                    directories: rng.chance(20).then(|| uuids(rng, 3)),
                    eligible_leader_replicas: maybe(rng),
                    last_known_elr: maybe(rng),
                    ..Default::default()
                });
            }
            9 if rng.chance(40) => {
                let Some((topic, _, _)) = rng.pick(&topics).cloned() else {
                    continue;
                };
                return MetadataRecord::RemoveTopic(RemoveTopicRecord {
                    topic_id: topic,
                    ..Default::default()
                });
            }
            10 | 11 => {
                let (resource_type, resource_name) = match rng.below(3) {
                    0 => match rng.pick(&topics) {
                        Some((_, _, name)) => (RESOURCE_TOPIC, name.clone()),
                        None => (RESOURCE_TOPIC, "orphan".to_owned()),
                    },
                    1 => (RESOURCE_BROKER, String::new()),
                    _ => (RESOURCE_BROKER, rng.below(6).to_string()),
                };
                return MetadataRecord::Config(ConfigRecord {
                    resource_type,
                    resource_name,
                    name: ["retention.ms", "cleanup.policy", "x.y"][rng.below(3)].into(),
                    value: rng.chance(75).then(|| rng.below(100).to_string()),
                    ..Default::default()
                });
            }
            12 => return MetadataRecord::NoOp(NoOpRecord::default()),
            _ => continue,
        }
    }
}

fn random_log(seed: u64, len: usize) -> Vec<MetadataRecord> {
    let mut rng = Rng(seed);
    let mut image = Image::new();
    let mut next_topic = 0u8;
    let mut log = Vec::with_capacity(len);
    for offset in 0..len {
        let record = random_record(&mut rng, &image, &mut next_topic);
        image
            .apply(offset as u64, &record)
            .unwrap_or_else(|e| panic!("generated an invalid record: {e}"));
        log.push(record);
    }
    log
}

/// Drives the controller with random requests; returns the committed log.
fn controller_log(seed: u64, steps: usize) -> Vec<MetadataRecord> {
    let mut rng = Rng(seed);
    let mut node = Node::new();
    let racks = [None, Some("a"), Some("b"), Some("c")];
    for _ in 0..steps {
        match rng.below(15) {
            0 | 1 => {
                let id = rng.below(6) as i32;
                let mut request = registration(id, *rng.pick(&racks).unwrap());
                if rng.chance(20) {
                    request.incarnation_id = Uuid::from_bytes([rng.below(255) as u8; 16]);
                }
                node.register(&request);
            }
            2 | 3 => {
                let brokers: Vec<(i32, i64)> =
                    node.latest().brokers().map(|b| (b.id, b.epoch)).collect();
                if let Some(&(id, epoch)) = rng.pick(&brokers) {
                    let mut request = heartbeat(id, epoch, node.committed as i64);
                    request.want_fence = rng.chance(5);
                    request.want_shutdown = rng.chance(10);
                    node.heartbeat(&request);
                }
            }
            4 => {
                node.heartbeat_all();
                node.advance(rng.below(6_000) as u64);
            }
            5 => {
                node.advance(rng.below(12_000) as u64);
            }
            6 | 7 => {
                let name = format!("{}{}", ["t", "a.b", "a_b"][rng.below(3)], rng.below(20));
                let request = CreateTopicsRequest {
                    topics: vec![topic(
                        &name,
                        rng.below(8) as i32 + 1,
                        rng.below(3) as i16 + 1,
                    )],
                    validate_only: rng.chance(10),
                };
                node.create_topics(&request);
            }
            8 => {
                let names: Vec<String> = node
                    .latest()
                    .topics()
                    .map(|t| t.name().to_owned())
                    .collect();
                if let Some(name) = rng.pick(&names) {
                    let request = DeleteTopicsRequest {
                        topics: vec![TopicRef::Name(name.clone())],
                    };
                    node.call(|c, _, next| c.delete_topics(next, &request));
                }
            }
            9 => {
                let topics: Vec<(String, u32)> = node
                    .latest()
                    .topics()
                    .map(|t| (t.name().to_owned(), t.partition_count()))
                    .collect();
                if let Some((name, count)) = rng.pick(&topics).cloned() {
                    let request = CreatePartitionsRequest {
                        topics: vec![CreatePartitionsTopic {
                            name,
                            count: count as i32 + rng.below(4) as i32,
                            assignments: None,
                        }],
                        validate_only: false,
                    };
                    node.call(|c, _, next| c.create_partitions(next, &request));
                }
            }
            10 | 11 => {
                // The leader of a random partition shrinks or expands its ISR.
                let partitions: Vec<_> = node
                    .latest()
                    .topics()
                    .flat_map(|t| {
                        t.partitions()
                            .map(|p| {
                                (
                                    t.id(),
                                    p.partition_id(),
                                    p.leader(),
                                    p.replicas().to_vec(),
                                    p.leader_epoch(),
                                    p.partition_epoch(),
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let Some((topic_id, partition, leader, replicas, leader_epoch, partition_epoch)) =
                    rng.pick(&partitions).cloned()
                else {
                    continue;
                };
                let Some(epoch) = node.latest().broker(leader).map(|b| b.epoch) else {
                    continue;
                };
                let mut isr: Vec<i32> = replicas
                    .iter()
                    .copied()
                    .filter(|&id| id == leader || rng.chance(60))
                    .collect();
                if !isr.contains(&leader) {
                    isr.push(leader);
                }
                let request = AlterPartitionRequest {
                    broker_id: leader,
                    broker_epoch: epoch,
                    topics: vec![AlterPartitionTopic {
                        topic: TopicRef::Id(topic_id),
                        partitions: vec![AlterPartitionItem {
                            partition_index: partition,
                            leader_epoch,
                            new_isr: isr
                                .into_iter()
                                .map(|broker_id| IsrMember {
                                    broker_id,
                                    broker_epoch: -1,
                                })
                                .collect(),
                            leader_recovery_state: 0,
                            partition_epoch,
                        }],
                    }],
                };
                node.alter_partition(&request);
            }
            12 => {
                let resource = if rng.chance(50) {
                    let names: Vec<String> = node
                        .latest()
                        .topics()
                        .map(|t| t.name().to_owned())
                        .collect();
                    match rng.pick(&names) {
                        Some(name) => ConfigResource::topic(name),
                        None => continue,
                    }
                } else {
                    ConfigResource::broker("")
                };
                let op = ConfigOp {
                    name: ["retention.ms", "segment.ms", "cleanup.policy"][rng.below(3)].into(),
                    op: [AlterConfigOp::Set, AlterConfigOp::Delete][rng.below(2)],
                    value: Some(["1000", "compact"][rng.below(2)].into()),
                };
                node.incremental_alter(resource, vec![op]);
            }
            14 => {
                // A broker that leads partitions asks to shut down (controlled shutdown).
                let leaders: Vec<(i32, i64)> = node
                    .latest()
                    .brokers()
                    .filter(|b| node.latest().broker_load(b.id).leaders > 0)
                    .map(|b| (b.id, b.epoch))
                    .collect();
                if let Some(&(id, epoch)) = rng.pick(&leaders) {
                    let mut request = heartbeat(id, epoch, node.committed as i64);
                    request.want_shutdown = true;
                    node.heartbeat(&request);
                }
            }
            13 if rng.chance(20) => {
                let ids: Vec<i32> = node.latest().brokers().map(|b| b.id).collect();
                if let Some(&id) = rng.pick(&ids) {
                    node.call(|c, _, next| c.unregister_broker(next, id));
                }
            }
            _ => {}
        }
    }
    node.tick();
    node.check_images();
    assert_eq!(
        node.latest(),
        node.committed_image(),
        "nothing pending after commit"
    );
    node.log
        .iter()
        .map(|b| MetadataRecord::decode(b).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn snapshot_plus_replay_equals_replay_on_random_record_histories(seed in any::<u64>(), len in 1usize..300) {
        let log = random_log(seed, len);
        let mut rng = Rng(seed ^ 0x5eed);
        let mut points: Vec<usize> = (0..6).map(|_| rng.below(len + 1)).collect();
        points.extend([0, len]);
        check_equivalence(&log, &points);
    }

    #[test]
    fn snapshot_plus_replay_equals_replay_on_controller_histories(seed in any::<u64>(), steps in 1usize..150) {
        let log = controller_log(seed, steps);
        let mut rng = Rng(seed ^ 0xc0ffee);
        let mut points: Vec<usize> = (0..6).map(|_| rng.below(log.len() + 1)).collect();
        points.push(log.len());
        check_equivalence(&log, &points);
    }
}

#[test]
fn every_prefix_of_a_long_controller_history_snapshots_equivalently() {
    let log = controller_log(42, 600);
    assert!(log.len() > 250, "{} records", log.len());
    // The history exercises every kind of record the controller writes.
    let has = |f: &dyn Fn(&MetadataRecord) -> bool| log.iter().any(f);
    assert!(has(&|r| matches!(r, MetadataRecord::RegisterBroker(_))));
    assert!(has(&|r| matches!(r, MetadataRecord::UnregisterBroker(_))));
    assert!(has(
        &|r| matches!(r, MetadataRecord::BrokerRegistrationChange(c) if c.fenced == 1)
    ));
    assert!(has(
        &|r| matches!(r, MetadataRecord::BrokerRegistrationChange(c) if c.fenced == -1)
    ));
    assert!(has(
        &|r| matches!(r, MetadataRecord::BrokerRegistrationChange(c) if c.in_controlled_shutdown == 1)
    ));
    assert!(has(&|r| matches!(r, MetadataRecord::Topic(_))));
    assert!(has(&|r| matches!(r, MetadataRecord::Partition(_))));
    assert!(has(
        &|r| matches!(r, MetadataRecord::PartitionChange(c) if c.isr.is_some() && c.leader == -2)
    ));
    assert!(has(
        &|r| matches!(r, MetadataRecord::PartitionChange(c) if c.leader >= -1)
    ));
    assert!(has(&|r| matches!(r, MetadataRecord::RemoveTopic(_))));
    assert!(has(&|r| matches!(r, MetadataRecord::Config(_))));
    let points: Vec<usize> = (0..=log.len()).step_by(7).collect();
    check_equivalence(&log, &points);
}

#[test]
fn a_snapshot_holds_one_record_per_feature_broker_topic_partition_and_config() {
    let log = random_log(7, 400);
    let image = replay(&log, Image::new(), 0);
    let expected = image.features().len()
        + image.broker_count()
        + image.topic_count()
        + image.partition_count() as usize
        + image
            .config_resources()
            .map(|(_, c)| c.len())
            .sum::<usize>();
    assert_eq!(snapshot::image_records(&image).count(), expected);
    // Order: features, brokers, topics each followed by its partitions, configs.
    let kinds: Vec<u16> = snapshot::image_records(&image)
        .map(|r| r.record_type())
        .collect();
    let rank = |t: u16| match t {
        12 => 0,
        0 => 1,
        2 | 3 => 2,
        4 => 3,
        other => panic!("type {other} in a snapshot"),
    };
    assert!(kinds.windows(2).all(|w| rank(w[0]) <= rank(w[1])));
}
