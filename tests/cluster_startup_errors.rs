//! `keel start` refuses to run, with a clear message and its documented exit status, when it
//! cannot: the directory is in use, the port is taken, the directory is not formatted (or is
//! another node's or cluster's), or the configuration is bad.

mod common;

mod cluster_startup_errors {
    use std::fs;
    use std::net::TcpListener;
    use std::path::Path;
    use std::time::Duration;

    use super::common::{Cluster, Settings, run_keel};

    const EXIT_CONFIG: i32 = 2;
    const EXIT_DATA_DIR: i32 = 3;
    const EXIT_NETWORK: i32 = 4;

    /// Runs `keel start --config <config> [extra]` to completion; (status code, stderr).
    fn start_and_fail(config: &Path, extra: &[&str]) -> (i32, String) {
        let config = config.to_str().expect("utf-8 path");
        let mut args = vec!["start", "--config", config];
        args.extend_from_slice(extra);
        let output = run_keel(&args, Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let code = output
            .status
            .code()
            .unwrap_or_else(|| panic!("keel start was killed: {stderr}"));
        (code, stderr)
    }

    #[test]
    fn a_second_start_on_a_directory_in_use_exits_with_a_clear_message() {
        let mut cluster = Cluster::new("dir-in-use", 3, Settings::fast());
        cluster.start_node(1);

        let (code, stderr) = start_and_fail(&cluster.node(1).config, &[]);
        assert_eq!(code, EXIT_DATA_DIR, "{stderr}");
        assert!(
            stderr.contains("is in use by another keel process"),
            "{stderr}"
        );
        assert!(
            stderr.contains(cluster.node(1).data_dir.to_str().unwrap()),
            "the message names the directory: {stderr}"
        );
        // The first one is unharmed.
        assert_eq!(cluster.exited(1), None);
        cluster.view(1).expect("the first process still answers");
    }

    #[test]
    fn a_start_whose_port_is_taken_exits_4_naming_the_address() {
        let mut cluster = Cluster::new("port-taken", 3, Settings::fast());
        // Hold node 2's port ourselves.
        let holder = TcpListener::bind(cluster.address(2)).expect("take node 2's port");
        let (code, stderr) = start_and_fail(&cluster.node(2).config, &[]);
        assert_eq!(code, EXIT_NETWORK, "{stderr}");
        assert_eq!(
            stderr
                .matches(&format!("cannot listen on {}", cluster.address(2)))
                .count(),
            1,
            "said once: {stderr}"
        );
        assert!(
            !stderr.contains("started"),
            "the port is bound before the log is opened: {stderr}"
        );
        drop(holder);
        // With the port free again, the same directory starts (the failed start left no lock).
        cluster.start_node(2);
        cluster.view(2).expect("node 2 answers");
    }

    #[test]
    fn a_start_on_an_unformatted_or_foreign_directory_exits_3() {
        let cluster = Cluster::new("unformatted", 3, Settings::fast());

        // Node 3 pointed at an empty directory.
        let empty = cluster.root.join("empty");
        fs::create_dir_all(&empty).unwrap();
        let config = cluster.root.join("unformatted.properties");
        let text = cluster.properties(3).replace(
            &format!("metadata.log.dir={}", cluster.node(3).data_dir.display()),
            &format!("metadata.log.dir={}", empty.display()),
        );
        fs::write(&config, text).unwrap();
        let (code, stderr) = start_and_fail(&config, &[]);
        assert_eq!(code, EXIT_DATA_DIR, "{stderr}");
        assert!(stderr.contains("is not formatted"), "{stderr}");
        assert!(
            stderr.contains("keel format"),
            "it says what to do: {stderr}"
        );
        assert!(
            !empty.join("meta.properties").exists(),
            "start never formats"
        );

        // Node 3's configuration pointed at node 1's directory.
        let config = cluster.root.join("wrong-node.properties");
        let text = cluster.properties(3).replace(
            &format!("metadata.log.dir={}", cluster.node(3).data_dir.display()),
            &format!("metadata.log.dir={}", cluster.node(1).data_dir.display()),
        );
        fs::write(&config, text).unwrap();
        let (code, stderr) = start_and_fail(&config, &[]);
        assert_eq!(code, EXIT_DATA_DIR, "{stderr}");
        assert!(
            stderr.contains("node.id is 3 but") && stderr.contains("formatted for node 1"),
            "{stderr}"
        );

        // The right directory, but another cluster id asked for.
        let other = keel::storage::meta_properties::random_uuid()
            .unwrap()
            .to_string();
        let (code, stderr) = start_and_fail(&cluster.node(3).config, &["--cluster-id", &other]);
        assert_eq!(code, EXIT_DATA_DIR, "{stderr}");
        assert!(
            stderr.contains(&format!("belongs to cluster {}", cluster.cluster_id)),
            "{stderr}"
        );
    }

    #[test]
    fn bad_configuration_exits_2_naming_the_key_before_touching_the_disk() {
        let cluster = Cluster::new("bad-config", 3, Settings::fast());
        let fresh = cluster.root.join("never-created");
        let base = cluster.properties(1).replace(
            &format!("metadata.log.dir={}", cluster.node(1).data_dir.display()),
            &format!("metadata.log.dir={}", fresh.display()),
        );
        let cases = [
            (
                "controller.quorum.election.timeout.ms",
                base.replace(
                    "controller.quorum.election.timeout.ms=150",
                    "controller.quorum.election.timeout.ms=soon",
                ),
            ),
            (
                "num.netwrok.threads",
                format!("{base}num.netwrok.threads=3\n"),
            ),
            (
                "node.id",
                base.lines()
                    .filter(|l| !l.starts_with("node.id="))
                    .map(|l| format!("{l}\n"))
                    .collect(),
            ),
            (
                "metadata.log.segment.bytes",
                base.replace(
                    "metadata.log.segment.bytes=1048576",
                    "metadata.log.segment.bytes=1000",
                ),
            ),
            (
                "metadata.max.idle.interval.ms",
                base.replace(
                    "metadata.max.idle.interval.ms=50",
                    "metadata.max.idle.interval.ms=600",
                ),
            ),
        ];
        for (key, text) in cases {
            assert_ne!(text, base, "the case for {key} changes the file");
            let config = cluster.root.join("bad.properties");
            fs::write(&config, &text).unwrap();
            let (code, stderr) = start_and_fail(&config, &[]);
            assert_eq!(code, EXIT_CONFIG, "{key}: {stderr}");
            assert!(stderr.contains(key), "the message names {key}: {stderr}");
            assert_eq!(
                stderr.trim().lines().count(),
                1,
                "one line for {key}: {stderr}"
            );
            assert!(!fresh.exists(), "{key}: bad config touched the disk");
        }
        // A misspelt key is answered with the key it was meant to be.
        let config = cluster.root.join("bad.properties");
        fs::write(&config, format!("{base}num.partiton=3\n")).unwrap();
        let (_, stderr) = start_and_fail(&config, &[]);
        assert!(stderr.contains("did you mean num.partitions?"), "{stderr}");
        // A file that does not exist is a configuration error too.
        let (code, stderr) = start_and_fail(&cluster.root.join("missing.properties"), &[]);
        assert_eq!(code, EXIT_CONFIG, "{stderr}");
        assert!(stderr.contains("missing.properties"), "{stderr}");
    }

    /// Kafka 3.9's own `config/kraft/server.properties` (tests/fixtures/kafka-3.9), with only
    /// its addresses and directory changed for the test, starts a combined node that serves,
    /// and says in one warning line which of its keys keel does not use.
    #[test]
    fn kafkas_own_server_properties_starts_with_one_warning_naming_the_unused_keys() {
        let mut cluster = Cluster::new("kafka-server-properties", 1, Settings::fast());
        let controller_port = cluster.node(1).port;
        let broker_port = super::common::free_ports(1)[0];
        let original = include_str!("fixtures/kafka-3.9/server.properties");
        let adapted = original
            .replace(
                "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
                &format!(
                    "listeners=PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}"
                ),
            )
            .replace("localhost:9092", &format!("127.0.0.1:{broker_port}"))
            .replace("localhost:9093", &format!("127.0.0.1:{controller_port}"))
            .replace(
                "log.dirs=/tmp/kraft-combined-logs",
                &format!("log.dirs={}", cluster.node(1).data_dir.display()),
            );
        let changed = original
            .lines()
            .zip(adapted.lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            changed, 4,
            "only listeners, advertised.listeners, the voters and log.dirs change"
        );
        fs::write(&cluster.node(1).config, &adapted).unwrap();
        cluster.start_node(1);
        cluster.wait_for_leader(Duration::from_secs(20));
        cluster.wait_for_log(1, "broker 1 registered", Duration::from_secs(20));

        let log = cluster.current_log(1);
        let warnings: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ")).collect();
        assert_eq!(warnings.len(), 1, "one warning: {log}");
        for key in [
            "num.network.threads",
            "log.retention.hours",
            "socket.send.buffer.bytes",
            "inter.broker.listener.name",
            "log.segment.bytes",
        ] {
            assert!(warnings[0].contains(key), "{key} is named: {}", warnings[0]);
        }
        assert!(
            warnings[0].contains("12 Kafka setting(s) that keel does not use are ignored"),
            "{}",
            warnings[0]
        );
    }
}
