//! Real `keel` processes elect one leader, and every way of asking agrees on it; a whole
//! quorum stopped with SIGTERM comes back with the same committed log.

mod common;

// Inside a module named after the file, so `cargo test cluster_election` selects these tests.
mod cluster_election {
    use std::time::Duration;

    use super::common::{Cluster, Settings, agreed_leader, wait_for};

    /// `(LeaderId, LeaderEpoch, ClusterId)` from `keel quorum describe` output.
    fn parse_status(text: &str) -> Result<(u32, u32, String), String> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| format!("no {name} in {text:?}"))
        };
        let number = |name: &str| -> Result<u32, String> {
            field(name)?
                .parse()
                .map_err(|e| format!("{name} in {text:?}: {e}"))
        };
        Ok((
            number("LeaderId")?,
            number("LeaderEpoch")?,
            field("ClusterId")?,
        ))
    }

    #[test]
    fn three_controllers_elect_exactly_one_leader_and_describe_agrees_from_every_node() {
        let cluster = Cluster::start("elect", 3, Settings::fast());

        // Every node, asked on its own, names the same leader in the same epoch, and exactly
        // one of them answers as that leader.
        let (leader, epoch) = cluster.wait_for_leader(Duration::from_secs(10));
        assert!(epoch >= 1, "a leader is elected in epoch 1 or later");

        // The real `keel quorum describe`, bootstrapped from each node in turn, prints the same
        // leader and epoch and our cluster id. (Polled: with 150 ms elections a scheduler stall
        // on a loaded machine may move the leader while we ask; then we ask all three again.)
        let agreed = wait_for(
            "keel quorum describe to agree from every node",
            Duration::from_secs(15),
            || {
                let mut seen = Vec::new();
                for id in cluster.ids() {
                    let text = cluster.describe_cli(id, false)?;
                    let (leader, epoch, cluster_id) = parse_status(&text)?;
                    assert_eq!(cluster_id, cluster.cluster_id, "{text}");
                    seen.push((leader, epoch));
                }
                if seen.iter().all(|s| *s == seen[0]) {
                    Ok(seen[0])
                } else {
                    Err(format!("describe disagrees: {seen:?}"))
                }
            },
        );
        let (described_leader, described_epoch) = agreed;
        assert!(described_epoch >= epoch);
        if described_epoch == epoch {
            assert_eq!(described_leader, leader);
        }

        // --replication: one row per voter, one Leader and two Followers, all three caught up
        // or catching up, and the leader's row is the leader every node names.
        let rows = wait_for(
            "describe --replication with three voters",
            Duration::from_secs(10),
            || {
                let text = cluster.describe_cli(leader, true)?;
                let rows: Vec<Vec<String>> = text
                    .lines()
                    .skip(1)
                    .map(|l| l.split_whitespace().map(str::to_owned).collect())
                    .collect();
                if rows.len() == 3 && rows.iter().all(|r| r.len() == 7) {
                    Ok(rows)
                } else {
                    Err(text)
                }
            },
        );
        let mut ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["1", "2", "3"]);
        let statuses: Vec<&str> = rows.iter().map(|r| r[6].as_str()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == "Leader").count(),
            1,
            "{rows:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == "Follower").count(),
            2,
            "{rows:?}"
        );
        let views = cluster.views().expect("every node answers");
        let (now_leader, _) = agreed_leader(&views).expect("still one agreed leader");
        let leader_row = rows
            .iter()
            .find(|r| r[6] == "Leader")
            .expect("a leader row");
        assert_eq!(leader_row[0], now_leader.to_string());

        // Each node logged its role change to the same leader.
        for id in cluster.ids() {
            let log = cluster.current_log(id);
            assert!(
                log.contains("role change:"),
                "node {id} logged no role change:\n{log}"
            );
        }
    }

    #[test]
    fn stopping_all_three_with_sigterm_and_restarting_keeps_the_committed_log_and_elects_again() {
        let mut cluster = Cluster::start("restart-all", 3, Settings::fast());

        // Let the leader commit a few dozen NoOps, and every voter fetch them.
        let (leader, epoch) = cluster.wait_for_leader(Duration::from_secs(10));
        cluster.wait_for_high_watermark(30, Duration::from_secs(20));
        let described = cluster.wait_for_caught_up(Duration::from_secs(10));
        let committed = described.high_watermark as u64;

        // SIGTERM to all three at once: each exits 0, and the leader logs that it resigned.
        for id in cluster.ids() {
            cluster.sigterm(id);
        }
        for id in cluster.ids() {
            let status = cluster.wait_exit(id, Duration::from_secs(10));
            assert!(
                status.success(),
                "node {id} exited with {status} after SIGTERM"
            );
            let log = cluster.current_log(id);
            assert!(log.contains("shutdown requested"), "node {id}:\n{log}");
            assert!(log.contains("log flushed; exiting"), "node {id}:\n{log}");
        }
        let stopping_leader = described.leader_id as u32;
        let log = cluster.current_log(stopping_leader);
        assert!(
            log.contains(&format!(
                "resigning leadership of epoch {} before shutting down",
                described.leader_epoch
            )),
            "the leader, node {stopping_leader}, did not resign:\n{log}"
        );
        if described.leader_epoch as u32 == epoch {
            assert_eq!(stopping_leader, leader);
        }

        // The committed range is byte-identical on all three, read with the storage engine.
        let before = cluster.assert_identical_logs(committed);

        // Restart all three: each recovers its log (not from zero), a leader is elected in a
        // higher epoch, and it commits new records.
        cluster.start_all();
        for id in cluster.ids() {
            let start = cluster.start_line(id);
            assert!(
                start.log_end >= committed,
                "node {id} restarted with log {}..{}, below the committed {committed}",
                start.log_start,
                start.log_end
            );
            assert!(start.epoch >= described.leader_epoch as u32);
        }
        let (_, new_epoch) = cluster.wait_for_leader(Duration::from_secs(10));
        assert!(
            new_epoch > described.leader_epoch as u32,
            "epoch {new_epoch} after the restart, {} before",
            described.leader_epoch
        );
        let moved = cluster.wait_for_high_watermark(committed as i64 + 10, Duration::from_secs(20));
        assert!(moved.epoch >= new_epoch);

        // Stop again: the old committed range is unchanged on every node.
        cluster.wait_for_caught_up(Duration::from_secs(10));
        for id in cluster.ids() {
            let status = cluster.stop(id);
            assert!(status.success(), "node {id} exited with {status}");
        }
        let after = cluster.assert_identical_logs(committed);
        assert_eq!(
            before, after,
            "the committed log changed across the restart"
        );
    }
}
