//! `keel dev` as a new user meets it: Ctrl-C stops the whole cluster within two seconds
//! (brokers first, so their controlled shutdowns are granted), a restart right after is quiet,
//! the directory is small before the first topic, and killing the supervisor outright takes
//! its nodes with it.

mod common;

mod dev_cluster {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use super::common::dev::Dev;
    use super::common::wait_for;

    /// Bytes the files under `dir` take on disk (allocated blocks, as `du` counts them).
    fn disk_bytes(dir: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let mut total = 0;
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let meta = entry.metadata().unwrap();
            total += if meta.is_dir() {
                disk_bytes(&entry.path())
            } else {
                meta.blocks() * 512
            };
        }
        total
    }

    fn ctrl_c_and_time_the_stop(dev: &mut Dev) -> Duration {
        let started = Instant::now();
        dev.ctrl_c();
        let status = dev
            .wait_exit(Duration::from_secs(15))
            .expect("keel dev exits after Ctrl-C");
        let stopped = started.elapsed();
        let output = dev.output().join("\n");
        assert!(status.success(), "{status}: {output}");
        assert!(output.contains("all nodes stopped"), "{output}");
        assert!(!output.contains("did not stop in time"), "{output}");
        stopped
    }

    #[test]
    fn ctrl_c_stops_brokers_then_controllers_within_two_seconds_and_a_restart_is_quiet() {
        let mut dev = Dev::new("stop", 3, 3);
        dev.start();
        for broker in 4..=6 {
            dev.wait_for_line(
                &format!("broker {broker} unfenced"),
                Duration::from_secs(20),
            );
        }
        let before_first_topic = disk_bytes(&dev.dir);
        println!("dev_directory_bytes_before_first_topic: {before_first_topic}");
        assert!(
            before_first_topic < 64 << 20,
            "six nodes take {before_first_topic} bytes before any topic"
        );

        let stopped = ctrl_c_and_time_the_stop(&mut dev);
        println!("dev_stop_ms: {}", stopped.as_millis());
        assert!(stopped < Duration::from_secs(2), "stopped in {stopped:?}");
        let output = dev.output();
        for broker in 4..=6 {
            assert!(
                output.iter().any(|l| l.contains(&format!(
                    "broker {broker}: the controller agreed to the shutdown"
                ))),
                "broker {broker}'s controlled shutdown was granted: {output:#?}"
            );
        }
        // The brokers were gone before any controller was asked to stop.
        let last_broker_exit = (4..=6)
            .map(|b| {
                output
                    .iter()
                    .rposition(|l| l.starts_with(&format!("[node {b}]")) && l.contains("exiting"))
                    .expect("the broker logged its exit")
            })
            .max()
            .unwrap();
        let first_controller_stop = output
            .iter()
            .position(|l| {
                ["[node 1]", "[node 2]", "[node 3]"]
                    .iter()
                    .any(|n| l.starts_with(n))
                    && l.contains("shutdown requested")
            })
            .expect("a controller logged its shutdown");
        assert!(
            last_broker_exit < first_controller_stop,
            "brokers exit before controllers stop: {output:#?}"
        );
        assert!(dev.node_pids().is_empty(), "every node exited");

        // A restart right after: every broker registers at once, with a line or two of
        // warnings at most (the refusals while the controllers elect a leader are limited).
        dev.start();
        for broker in 4..=6 {
            dev.wait_for_line(
                &format!("broker {broker} unfenced"),
                Duration::from_secs(20),
            );
        }
        let output = dev.output();
        for broker in 4..=6 {
            let warnings: Vec<&String> = output
                .iter()
                .filter(|l| l.starts_with(&format!("[node {broker}]")) && l.contains(" WARN "))
                .collect();
            assert!(
                warnings.len() <= 2,
                "broker {broker} logged {} warnings: {warnings:#?}",
                warnings.len()
            );
        }
        let stopped = ctrl_c_and_time_the_stop(&mut dev);
        println!("dev_restart_stop_ms: {}", stopped.as_millis());
        assert!(stopped < Duration::from_secs(2), "stopped in {stopped:?}");
    }

    #[test]
    fn killing_the_supervisor_outright_takes_its_nodes_with_it() {
        let mut dev = Dev::new("orphans", 1, 1);
        dev.start();
        assert_eq!(dev.node_pids().len(), 2, "two nodes run");
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(dev.pid() as libc::pid_t, libc::SIGKILL);
        }
        dev.wait_exit(Duration::from_secs(5)).expect("killed");
        wait_for("the nodes to exit", Duration::from_secs(15), || {
            let left = dev.node_pids();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("still running: {left:?}"))
            }
        });
    }
}
