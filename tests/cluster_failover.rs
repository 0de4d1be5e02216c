//! Crashes and hand-overs of real `keel` processes: `kill -9` of the leader and of a busy
//! follower, and a leader stopped with SIGTERM.

mod common;

mod cluster_failover {
    use std::time::{Duration, Instant};

    use super::common::{Cluster, Settings, wait_for};

    #[test]
    fn kill_9_of_the_leader_elects_a_new_one_and_the_old_leader_rejoins_with_an_identical_log() {
        let mut cluster = Cluster::start("kill-leader", 3, Settings::fast());
        let (old_leader, old_epoch) = cluster.wait_for_leader(Duration::from_secs(10));
        let before = cluster.wait_for_high_watermark(20, Duration::from_secs(20));

        cluster.kill(old_leader);

        // A survivor becomes leader in a higher epoch, and the high watermark keeps moving
        // under it (its own NoOps are committed by the two survivors).
        let (new_leader, new_epoch) = cluster.wait_for_leader(Duration::from_secs(10));
        assert_ne!(new_leader, old_leader);
        assert!(new_epoch > old_epoch, "epoch {new_epoch} after {old_epoch}");
        let moved =
            cluster.wait_for_high_watermark(before.high_watermark + 20, Duration::from_secs(20));
        assert_eq!(moved.node, new_leader);

        // The old leader restarts from its own log (everything it had committed is there) and
        // rejoins as a follower of the new leader.
        cluster.start_node(old_leader);
        let start = cluster.start_line(old_leader);
        assert!(
            start.log_end >= before.high_watermark as u64,
            "node {old_leader} restarted with log {}..{}, below the {} it had committed",
            start.log_start,
            start.log_end,
            before.high_watermark
        );
        assert!(start.epoch >= old_epoch);
        wait_for(
            "the old leader to follow the new one",
            Duration::from_secs(10),
            || {
                let view = cluster.view(old_leader)?;
                if !view.is_leader && view.leader == Some(new_leader) && view.epoch >= new_epoch {
                    Ok(())
                } else {
                    Err(format!("{view:?}"))
                }
            },
        );
        let described = cluster.wait_for_caught_up(Duration::from_secs(10));
        assert!(described.high_watermark > moved.high_watermark);
        let log = cluster.current_log(old_leader);
        assert!(
            log.contains(&format!(
                "-> Follower in epoch {new_epoch} (leader {new_leader})"
            )),
            "node {old_leader} did not log following node {new_leader}:\n{log}"
        );

        // Stop everyone; the committed range is byte-identical on all three.
        for id in cluster.ids() {
            let status = cluster.stop(id);
            assert!(status.success(), "node {id}: {status}");
        }
        let batches = cluster.assert_identical_logs(described.high_watermark as u64);
        assert!(batches.len() as i64 >= described.high_watermark / 2);
    }

    #[test]
    fn kill_9_of_a_busy_follower_restarts_from_its_own_log_and_catches_up() {
        // A NoOp every 5 ms: a couple of hundred batches a second.
        let settings = Settings {
            idle_interval_ms: 5,
            append_linger_ms: 1,
            ..Settings::fast()
        };
        let mut cluster = Cluster::start("kill-follower", 3, settings);
        let (leader, _) = cluster.wait_for_leader(Duration::from_secs(10));
        cluster.wait_for_high_watermark(300, Duration::from_secs(30));
        let follower = cluster.ids().into_iter().find(|id| *id != leader).unwrap();

        // How far the follower had fetched, as the leader saw it, just before the kill.
        let described = cluster.describe(leader).expect("describe");
        let fetched = described
            .voters
            .iter()
            .find(|v| v.id == follower as i32)
            .expect("the follower is a voter")
            .log_end_offset;
        assert!(fetched > 0, "{described:?}");
        cluster.kill(follower);

        // The other two keep committing while it is down.
        let while_down = cluster
            .wait_for_high_watermark(described.high_watermark + 200, Duration::from_secs(30));

        // It restarts with its own log (at least what the leader saw it fetch), not from zero,
        // and never truncates to zero or installs a snapshot.
        cluster.start_node(follower);
        let start = cluster.start_line(follower);
        assert!(
            start.log_end as i64 >= fetched,
            "node {follower} restarted with log {}..{}, but had fetched up to {fetched}",
            start.log_start,
            start.log_end
        );
        assert_eq!(start.log_start, 0);

        // It catches up to where the high watermark was after its restart.
        let target = while_down.high_watermark;
        let caught_up = wait_for(
            "the restarted follower to catch up",
            Duration::from_secs(20),
            || {
                let d = cluster.describe(leader).map_err(|e| e.to_string())?;
                let replica = d
                    .voters
                    .iter()
                    .find(|v| v.id == follower as i32)
                    .ok_or("no row")?;
                if replica.log_end_offset >= target {
                    Ok(replica.log_end_offset)
                } else {
                    Err(format!("{replica:?}"))
                }
            },
        );
        assert!(caught_up > start.log_end as i64);
        let view = cluster.view(follower).expect("the follower answers");
        assert!(view.high_watermark >= target, "{view:?}");
        let log = cluster.current_log(follower);
        assert!(!log.contains(" to 0: a new leader"), "{log}");
        assert!(!log.contains("installed snapshot"), "{log}");
    }

    #[test]
    fn sigterm_of_the_leader_hands_over_leadership_before_the_fetch_timeout() {
        // A long fetch timeout: without the resignation (EndQuorumEpoch) the followers would
        // wait 5 s before standing for election.
        let settings = Settings {
            fetch_timeout_ms: 5000,
            idle_interval_ms: 100,
            ..Settings::fast()
        };
        let mut cluster = Cluster::start("handover", 3, settings);
        let (leader, epoch) = cluster.wait_for_leader(Duration::from_secs(10));
        cluster.wait_for_high_watermark(5, Duration::from_secs(10));

        let stopped = Instant::now();
        let status = cluster.stop(leader);
        assert!(status.success(), "node {leader}: {status}");
        let log = cluster.current_log(leader);
        assert!(
            log.contains(&format!("resigning leadership of epoch {epoch}")),
            "{log}"
        );

        let (new_leader, new_epoch) = cluster.wait_for_leader(Duration::from_secs(4));
        let took = stopped.elapsed();
        assert_ne!(new_leader, leader);
        assert!(new_epoch > epoch);
        assert!(
            took < Duration::from_millis(3000),
            "the hand-over took {took:?}, as long as a fetch timeout"
        );
    }
}
