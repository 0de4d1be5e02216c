//! The quorum controller in real keel processes: topics created through the active controller
//! survive its crash exactly as acknowledged, every node builds the same image, and snapshots
//! replace the log prefix (restarts load them; a replica that fell behind installs the
//! leader's).

mod common;

mod cluster_metadata {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::thread;
    use std::time::{Duration, Instant};

    use keel::metadata::Image;
    use keel::metadata::snapshot::encoded_records;
    use keel::protocol::ErrorCode;
    use keel::protocol::messages::CreateTopicsResponse;
    use keel::storage::METADATA_PARTITION_DIR;
    use keel::storage::snapshot::list_snapshots;

    use super::common::brokers::{
        CREATE_TOPICS_VERSION, ControllerConnection, SimBroker, committed_image,
        create_not_controller, create_topics_request,
    };
    use super::common::{Cluster, Settings, wait_for};

    const PARTITIONS: i32 = 20;
    const REPLICATION: i16 = 3;

    fn settings() -> Settings {
        // Brokers are registered once and never heartbeat again: a long session keeps them
        // unfenced for the whole test (a new active controller also gives them a fresh one).
        Settings::fast().with("broker.session.timeout.ms", 120_000)
    }

    /// Stops every node and returns their committed images at the high watermark they all
    /// reached, checking that the images are identical.
    fn images_of_settled_cluster(cluster: &mut Cluster) -> Image {
        let settled = cluster.wait_for_caught_up(Duration::from_secs(15));
        let high_watermark = settled.high_watermark as u64;
        for id in cluster.ids() {
            assert!(cluster.stop(id).success(), "node {id} stops cleanly");
        }
        let images: Vec<(u32, Image)> = cluster
            .ids()
            .into_iter()
            .map(|id| (id, committed_image(cluster, id, high_watermark)))
            .collect();
        let (first_id, first) = &images[0];
        let first_records: Vec<Vec<u8>> = encoded_records(first).collect();
        for (id, image) in &images[1..] {
            let records: Vec<Vec<u8>> = encoded_records(image).collect();
            assert!(
                records == first_records,
                "node {id}'s image at {high_watermark} differs from node {first_id}'s"
            );
        }
        images.into_iter().next().unwrap().1
    }

    fn assert_whole(image: &Image, name: &str) {
        let topic = image
            .topic_by_name(name)
            .unwrap_or_else(|| panic!("topic {name} is missing"));
        assert_eq!(
            topic.partition_count(),
            PARTITIONS as u32,
            "topic {name} half exists"
        );
        for partition in topic.partitions() {
            assert_eq!(partition.replicas().len(), REPLICATION as usize, "{name}");
            assert_eq!(partition.isr(), partition.replicas(), "{name}");
            assert!(partition.leader() >= 1, "{name} has a leader");
        }
    }

    #[test]
    fn acknowledged_topic_creations_survive_a_kill_of_the_active_controller_and_none_half_exists() {
        let mut cluster = Cluster::start("create-failover", 3, settings());
        let mut connection = ControllerConnection::new(&cluster);
        for id in 1..=3 {
            SimBroker::bring_up(&mut connection, &cluster.cluster_id, id, None);
        }

        // A client creates topics, three per request, without pause; the active controller is
        // killed while it does.
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let creator = {
            let acknowledged = Arc::clone(&acknowledged);
            let stop = Arc::clone(&stop);
            let mut connection = ControllerConnection::new(&cluster);
            thread::spawn(move || {
                let mut acked = BTreeSet::new();
                let mut attempted = BTreeSet::new();
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    let names: Vec<String> =
                        (0..3).map(|i| format!("topic-{round:04}-{i}")).collect();
                    round += 1;
                    attempted.extend(names.iter().cloned());
                    let request = create_topics_request(&names, PARTITIONS, REPLICATION);
                    match connection
                        .try_call::<_, CreateTopicsResponse>(&request, CREATE_TOPICS_VERSION)
                    {
                        Ok(response) if !create_not_controller(&response) => {
                            for topic in response.topics {
                                if topic.error_code == ErrorCode::None.code() {
                                    acked.insert(topic.name);
                                    acknowledged.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        // Unknown outcome (NOT_CONTROLLER, connection lost): the topics may or
                        // may not exist, but must be whole if they do.
                        _ => thread::sleep(Duration::from_millis(10)),
                    }
                }
                (acked, attempted)
            })
        };
        wait_for(
            "20 acknowledged creations",
            Duration::from_secs(20),
            || match acknowledged.load(Ordering::Relaxed) {
                n if n >= 20 => Ok(()),
                n => Err(format!("{n}")),
            },
        );
        let (leader, epoch) = cluster.wait_for_leader(Duration::from_secs(5));
        cluster.kill(leader);
        let at_kill = acknowledged.load(Ordering::Relaxed);
        let (new_leader, new_epoch) = cluster.wait_for_leader(Duration::from_secs(10));
        assert!(new_leader != leader && new_epoch > epoch);
        wait_for(
            "20 more acknowledged creations after the failover",
            Duration::from_secs(20),
            || match acknowledged.load(Ordering::Relaxed) {
                n if n >= at_kill + 20 => Ok(()),
                n => Err(format!("{n}")),
            },
        );
        stop.store(true, Ordering::Relaxed);
        let (acked, attempted) = creator.join().expect("the creator thread");
        cluster.start_node(leader);

        let image = images_of_settled_cluster(&mut cluster);
        for name in &acked {
            assert_whole(&image, name);
        }
        let existing: BTreeSet<String> = image.topics().map(|t| t.name().to_owned()).collect();
        for name in &existing {
            assert!(attempted.contains(name), "topic {name} was never asked for");
            assert_whole(&image, name);
        }
        eprintln!(
            "{} topics acknowledged ({at_kill} before the kill), {} exist, {} attempted",
            acked.len(),
            existing.len(),
            attempted.len()
        );
    }

    #[test]
    fn snapshots_replace_the_log_prefix_restarts_load_them_and_a_lagging_node_installs_the_leaders()
    {
        // Segments of 1 MiB (the fast settings), a snapshot every 256 KiB of records.
        let settings = settings().with(
            "metadata.log.max.record.bytes.between.snapshots",
            256 * 1024,
        );
        let mut cluster = Cluster::start("snapshots", 3, settings);
        let mut connection = ControllerConnection::new(&cluster);
        for id in 1..=3 {
            SimBroker::bring_up(&mut connection, &cluster.cluster_id, id, None);
        }
        let mut created: Vec<String> = Vec::new();
        let create =
            |connection: &mut ControllerConnection, created: &mut Vec<String>, count: usize| {
                for _ in 0..count {
                    let names: Vec<String> = (0..5)
                        .map(|i| format!("t-{:05}-{i}", created.len() / 5))
                        .collect();
                    let response: CreateTopicsResponse = connection.call(
                        &create_topics_request(&names, PARTITIONS, REPLICATION),
                        CREATE_TOPICS_VERSION,
                        create_not_controller,
                        Duration::from_secs(20),
                    );
                    for topic in &response.topics {
                        assert_eq!(topic.error_code, ErrorCode::None.code(), "{topic:?}");
                    }
                    created.extend(names);
                }
            };

        // A follower goes down; the others write several segments' worth of records and
        // snapshot past them, so the leader's log no longer starts where the follower's ends.
        let (leader, _) = cluster.wait_for_leader(Duration::from_secs(5));
        let lagging = cluster.ids().into_iter().find(|id| *id != leader).unwrap();
        cluster.kill(lagging);
        let start = Instant::now();
        create(&mut connection, &mut created, 150);
        let leader_dir = cluster.node(leader).data_dir.join(METADATA_PARTITION_DIR);
        wait_for(
            "a snapshot on the leader",
            Duration::from_secs(10),
            || match list_snapshots(&leader_dir) {
                Ok(ids) if !ids.is_empty() => Ok(()),
                other => Err(format!("{other:?}")),
            },
        );
        let described = cluster.describe(leader).expect("describe");
        eprintln!(
            "created {} topics in {:?}; leader log end {}",
            created.len(),
            start.elapsed(),
            described.high_watermark
        );

        // The lagging follower comes back: it cannot fetch what was deleted and installs the
        // leader's snapshot instead.
        cluster.start_node(lagging);
        cluster.wait_for_log(
            lagging,
            "loaded the leader's snapshot",
            Duration::from_secs(20),
        );
        create(&mut connection, &mut created, 10);

        // Restarts load the newest snapshot and replay only the log after it.
        let restarted = cluster.ids().into_iter().find(|id| *id != lagging).unwrap();
        assert!(cluster.stop(restarted).success());
        cluster.start_node(restarted);
        cluster.wait_for_log(restarted, "loaded snapshot", Duration::from_secs(20));

        let image = images_of_settled_cluster(&mut cluster);
        assert_eq!(image.topic_count(), created.len());
        for name in &created {
            assert_whole(&image, name);
        }
        for id in cluster.ids() {
            let dir = cluster.node(id).data_dir.join(METADATA_PARTITION_DIR);
            let snapshots = list_snapshots(&dir).expect("list snapshots");
            assert!(
                !snapshots.is_empty() && snapshots.len() <= 2,
                "node {id} keeps its newest snapshot (and at most one being replaced): {snapshots:?}"
            );
        }
    }
}
