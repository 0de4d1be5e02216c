use super::kafka::edit_distance;
use super::keys::{IntegerKey, KEYS, Key};
use super::*;

const MINIMAL: &str = "\
process.roles=controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095
listeners=CONTROLLER://127.0.0.1:9093
controller.listener.names=CONTROLLER
metadata.log.dir=/var/lib/keel/meta
";

fn with(extra: &str) -> Result<Config, ConfigError> {
    Config::parse(&format!("{MINIMAL}{extra}\n"))
}

fn key_of(result: Result<Config, ConfigError>) -> String {
    result.unwrap_err().key.unwrap()
}

#[test]
fn a_minimal_controller_config_gets_kafkas_defaults() {
    let config = Config::parse(MINIMAL).unwrap();
    assert_eq!(config.node_id, 1);
    assert_eq!(config.voters.len(), 3);
    assert_eq!(
        config.voters[1],
        VoterAddress {
            id: 2,
            host: "127.0.0.1".into(),
            port: 9094
        }
    );
    assert_eq!(config.local_voter().unwrap().port, 9093);
    assert_eq!(config.controller_listeners().count(), 1);
    assert_eq!(config.metadata_log_dir, PathBuf::from("/var/lib/keel/meta"));
    assert_eq!(
        (
            config.election_timeout_ms,
            config.fetch_timeout_ms,
            config.append_linger_ms
        ),
        (1000, 2000, 25)
    );
    assert_eq!(config.max_idle_interval_ms, 500);
    assert_eq!(config.socket_request_max_bytes, 100 * 1024 * 1024);
    assert_eq!(config.max_connections, 1024);
    assert_eq!(config.max_connections_per_ip, i32::MAX as u32);
    assert_eq!(config.connections_max_idle_ms, 600_000);
    assert_eq!(config.queued_max_request_bytes, 256 * 1024 * 1024);
}

#[test]
fn connection_limits_are_parsed_and_checked() {
    let config = with(
        "max.connections=5000\nmax.connections.per.ip=10\nconnections.max.idle.ms=30000\nqueued.max.request.bytes=1073741824",
    )
    .unwrap();
    assert_eq!(
        (
            config.max_connections,
            config.max_connections_per_ip,
            config.connections_max_idle_ms,
            config.queued_max_request_bytes
        ),
        (5000, 10, 30_000, 1 << 30)
    );
    for (extra, key) in [
        ("max.connections=0", "max.connections"),
        ("max.connections=16385", "max.connections"),
        ("max.connections=lots", "max.connections"),
        ("max.connections.per.ip=0", "max.connections.per.ip"),
        (
            "max.connections.per.ip=2147483648",
            "max.connections.per.ip",
        ),
        ("connections.max.idle.ms=0", "connections.max.idle.ms"),
        (
            "connections.max.idle.ms=86400001",
            "connections.max.idle.ms",
        ),
        ("queued.max.request.bytes=0", "queued.max.request.bytes"),
        ("queued.max.request.bytes=-5", "queued.max.request.bytes"),
    ] {
        let err = with(extra).unwrap_err();
        assert_eq!(err.key.as_deref(), Some(key), "{extra}: {err}");
        assert_eq!(err.line, Some(7), "{extra}: {err}");
    }
    let unlimited = with("queued.max.request.bytes=-1").unwrap_err();
    assert!(unlimited.message.contains("finite budget"), "{unlimited}");
    assert_eq!(unlimited.line, Some(7));
    // The budget must hold the largest request (Kafka's rule), whichever key moves.
    let small = with("queued.max.request.bytes=1048576").unwrap_err();
    assert_eq!(small.key.as_deref(), Some("queued.max.request.bytes"));
    assert!(
        small.message.contains("socket.request.max.bytes"),
        "{small}"
    );
    let fits = with("queued.max.request.bytes=1048576\nsocket.request.max.bytes=1048576");
    assert_eq!(fits.unwrap().queued_max_request_bytes, 1 << 20);
}

#[test]
fn properties_syntax_follows_java() {
    let entries = parse_properties(
        "# comment\n! also a comment\n  a = 1 \nb:2\nc 3\nd=x\\\n   y\ne=tab\\there\nf=\\u0041\ng=\n",
    )
    .unwrap();
    let pairs: Vec<(&str, &str)> = entries
        .iter()
        .map(|(k, v, _)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("d", "xy"),
            ("e", "tab\there"),
            ("f", "A"),
            ("g", "")
        ]
    );
    assert_eq!(
        entries[3].2, 6,
        "line numbers are the first line of a continued entry"
    );
}

#[test]
fn every_required_key_is_named_when_missing() {
    for key in [
        "process.roles",
        "node.id",
        "controller.quorum.voters",
        "listeners",
        "controller.listener.names",
    ] {
        let text: String = MINIMAL
            .lines()
            .filter(|l| !l.starts_with(key))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = Config::parse(&text).unwrap_err();
        assert_eq!(err.key.as_deref(), Some(key), "{err}");
        assert!(err.message.contains("required"), "{err}");
    }
    let text: String = MINIMAL
        .lines()
        .filter(|l| !l.starts_with("metadata.log.dir"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(key_of(Config::parse(&text)), "metadata.log.dir");
    let with_log_dirs = format!("{text}log.dirs=/data/a,/data/b\n");
    assert_eq!(
        Config::parse(&with_log_dirs).unwrap().metadata_log_dir,
        PathBuf::from("/data/a")
    );
}

#[test]
fn an_unknown_or_repeated_key_is_an_error_with_its_line() {
    let err = with("num.netwrok.threads=3").unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.line),
        (Some("num.netwrok.threads"), Some(7))
    );
    assert_eq!(
        err.to_string(),
        "line 7: num.netwrok.threads: unknown key; did you mean num.network.threads (a Kafka key keel ignores)? (keel's keys are listed in docs/operations.md)"
    );
    let err = with("node.id=2").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("node.id"));
    assert!(err.message.contains("first on line 2"), "{err}");
}

#[test]
fn a_misspelt_key_is_refused_with_the_nearest_key() {
    for (typo, nearest) in [
        ("num.partiton", "num.partitions"),
        ("controller.quorum.voter", "controller.quorum.voters"),
        ("metadata.log.dirs", "metadata.log.dir"),
        ("log.retention.hour", "log.retention.hours"),
        ("zookeeper.conect", "zookeeper.connect"),
    ] {
        let err = with(&format!("{typo}=1")).unwrap_err();
        assert_eq!(err.key.as_deref(), Some(typo));
        assert!(
            err.message
                .starts_with(&format!("unknown key; did you mean {nearest}")),
            "{typo}: {err}"
        );
    }
    let err = with("favourite.colour=blue").unwrap_err();
    assert_eq!(
        err.message,
        "unknown key, neither keel's nor Kafka's (keel's keys are listed in docs/operations.md)"
    );
}

#[test]
fn kafka_keys_keel_does_not_use_are_accepted_and_listed() {
    let config = with(
        "num.network.threads=3\nlog.retention.hours=168\nsocket.send.buffer.bytes=102400\n\
         listener.name.controller.ssl.keystore.location=/etc/k.pem\n\
         listener.name.controller.scram-sha-256.sasl.jaas.config=x\n\
         zookeeper.connect=localhost:2181\ninter.broker.protocol.version=3.9",
    )
    .unwrap();
    assert_eq!(
        config.kafka_keys_ignored,
        [
            "num.network.threads",
            "log.retention.hours",
            "socket.send.buffer.bytes",
            "listener.name.controller.ssl.keystore.location",
            "listener.name.controller.scram-sha-256.sasl.jaas.config",
            "zookeeper.connect",
            "inter.broker.protocol.version",
        ]
    );
    // They are still what DescribeConfigs shows as this node's static configuration.
    assert_eq!(config.properties["log.retention.hours"], "168");
    assert!(
        Config::parse(MINIMAL)
            .unwrap()
            .kafka_keys_ignored
            .is_empty()
    );
    assert!(with("listener.name.controller.no.such.key=1").is_err());
}

#[test]
fn kafkas_own_server_properties_is_accepted() {
    let text = include_str!("../../tests/fixtures/kafka-3.9/server.properties");
    let config = Config::parse(text).unwrap();
    assert!(config.roles.broker && config.roles.controller);
    assert_eq!(config.node_id, 1);
    assert_eq!(
        config.metadata_log_dir,
        PathBuf::from("/tmp/kraft-combined-logs")
    );
    assert_eq!(
        config.kafka_keys_ignored,
        [
            "inter.broker.listener.name",
            "num.network.threads",
            "num.io.threads",
            "socket.send.buffer.bytes",
            "socket.receive.buffer.bytes",
            "num.recovery.threads.per.data.dir",
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
            "transaction.state.log.min.isr",
            "log.retention.hours",
            "log.segment.bytes",
            "log.retention.check.interval.ms",
        ]
    );
    for file in [
        include_str!("../../tests/fixtures/kafka-3.9/broker.properties"),
        include_str!("../../tests/fixtures/kafka-3.9/controller.properties"),
    ] {
        let err = Config::parse(file).unwrap_err();
        assert_eq!(
            err.key.as_deref(),
            Some("controller.quorum.bootstrap.servers"),
            "{err}"
        );
        assert!(err.message.contains("controller.quorum.voters"), "{err}");
    }
}

#[test]
fn a_listener_asked_to_use_tls_or_sasl_is_refused_not_served_plain() {
    let mapped = |map: &str| {
        with(&format!("listener.security.protocol.map={map}"))
            .map(|_| ())
            .map_err(|e| e.message)
    };
    assert_eq!(mapped("CONTROLLER:PLAINTEXT,SSL:SSL"), Ok(()));
    assert!(
        mapped("CONTROLLER:SSL")
            .unwrap_err()
            .contains("PLAINTEXT only")
    );
    assert!(
        mapped("CONTROLLER:SASL_PLAINTEXT")
            .unwrap_err()
            .contains("would use SASL_PLAINTEXT")
    );
    assert!(
        mapped("CONTROLLER:TLS")
            .unwrap_err()
            .contains("not a security protocol")
    );
    assert!(mapped("CONTROLLER").unwrap_err().contains("NAME:PROTOCOL"));
    // A listener named after a protocol uses it, as in Kafka.
    let named_ssl = MINIMAL.replace("CONTROLLER://", "SSL://").replace(
        "controller.listener.names=CONTROLLER",
        "controller.listener.names=SSL",
    );
    let err = Config::parse(&named_ssl).unwrap_err();
    assert!(err.message.contains("listener SSL would use SSL"), "{err}");
}

#[test]
fn ignoring_an_authorizer_would_open_the_cluster_so_it_is_refused() {
    assert!(with("authorizer.class.name=").is_ok());
    let err = with("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer")
        .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("authorizer.class.name"));
    assert!(err.message.contains("no authorizer"), "{err}");
}

#[test]
fn broker_id_may_repeat_node_id_but_not_contradict_it() {
    assert!(with("broker.id=1").is_ok());
    let err = with("broker.id=7").unwrap_err();
    assert_eq!(err.key.as_deref(), Some("broker.id"));
    assert!(err.message.contains("differs from node.id (1)"), "{err}");
}

#[test]
fn a_zookeeper_mode_file_is_told_keel_runs_kraft_only() {
    let err =
        Config::parse("broker.id=0\nzookeeper.connect=localhost:2181\nlog.dirs=/tmp/kafka-logs\n")
            .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("process.roles"));
    assert!(err.message.contains("KRaft mode only"), "{err}");
}

#[test]
fn edit_distance_counts_single_edits() {
    assert_eq!(edit_distance("node.id", "node.id"), 0);
    assert_eq!(edit_distance("node.ids", "node.id"), 1);
    assert_eq!(edit_distance("ndoe.id", "node.id"), 2);
    assert_eq!(edit_distance("", "abc"), 3);
}

#[test]
fn bad_values_are_named() {
    for (extra, key) in [
        (
            "controller.quorum.fetch.timeout.ms=soon",
            "controller.quorum.fetch.timeout.ms",
        ),
        (
            "controller.quorum.election.timeout.ms=0",
            "controller.quorum.election.timeout.ms",
        ),
        (
            "controller.quorum.append.linger.ms=-5",
            "controller.quorum.append.linger.ms",
        ),
        (
            "metadata.log.segment.bytes=1000",
            "metadata.log.segment.bytes",
        ),
        (
            "metadata.log.segment.bytes=99999999999",
            "metadata.log.segment.bytes",
        ),
        (
            "socket.request.max.bytes=3000000000",
            "socket.request.max.bytes",
        ),
        (
            "metadata.max.idle.interval.ms=5000",
            "metadata.max.idle.interval.ms",
        ),
    ] {
        assert_eq!(key_of(with(extra)), key, "{extra}");
    }
    assert_eq!(
        with("metadata.log.segment.bytes=1048576")
            .unwrap()
            .segment_bytes,
        1 << 20,
        "1 MiB is allowed"
    );
    assert_eq!(
        with("metadata.max.idle.interval.ms=0")
            .unwrap()
            .max_idle_interval_ms,
        0
    );
}

#[test]
fn voters_and_listeners_are_checked() {
    let replace = |from: &str, to: &str| Config::parse(&MINIMAL.replace(from, to));
    for bad in [
        "1@127.0.0.1",
        "x@127.0.0.1:9093",
        "1@:9093",
        "1@127.0.0.1:0",
        "1@h:1,1@h:2",
        "1127.0.0.1:9093",
    ] {
        let err = replace("1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095", bad).unwrap_err();
        assert_eq!(
            err.key.as_deref(),
            Some("controller.quorum.voters"),
            "{bad}: {err}"
        );
    }
    let err = replace("node.id=1", "node.id=4").unwrap_err();
    assert!(err.message.contains("not one of the voters"), "{err}");
    for bad in [
        "127.0.0.1:9093",
        "CONTROLLER://127.0.0.1",
        "CONTROLLER://127.0.0.1:9093,CONTROLLER://:9094",
        "C D://h:1",
    ] {
        let err = replace("CONTROLLER://127.0.0.1:9093", bad).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("listeners"), "{bad}: {err}");
    }
    let err = replace(
        "controller.listener.names=CONTROLLER",
        "controller.listener.names=PLAINTEXT",
    )
    .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("controller.listener.names"));
    let v6 = replace("CONTROLLER://127.0.0.1:9093", "CONTROLLER://[::1]:9093").unwrap();
    assert_eq!(
        v6.listeners[0].bind_address().unwrap(),
        "[::1]:9093".parse().unwrap()
    );
    let all = replace("CONTROLLER://127.0.0.1:9093", "controller://:9093").unwrap();
    assert_eq!(all.listeners[0].name, "CONTROLLER");
    assert_eq!(
        all.listeners[0].bind_address().unwrap(),
        "0.0.0.0:9093".parse().unwrap()
    );
}

#[test]
fn the_shipped_example_config_is_valid() {
    let text = include_str!("../../config/controller.properties");
    let config = Config::parse(text).unwrap();
    assert_eq!(config.node_id, 1);
    assert_eq!(config.local_voter().unwrap().port, config.listeners[0].port);
    let broker = Config::parse(include_str!("../../config/broker.properties")).unwrap();
    assert!(broker.roles.broker && !broker.roles.controller);
    assert_eq!(broker.voters, config.voters);
    assert_eq!(broker.advertised_listeners[0].port, 9092);
}

#[test]
fn roles_are_checked() {
    let err = Config::parse(&MINIMAL.replace("process.roles=controller", "process.roles=leader"))
        .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("process.roles"));
    assert_eq!(err.line, Some(1));
    let err = Config::parse(&MINIMAL.replace(
        "process.roles=controller",
        "process.roles=controller,controller",
    ))
    .unwrap_err();
    assert!(err.message.contains("twice"), "{err}");
}

const BROKER: &str = "\
process.roles=broker
node.id=4
controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095
listeners=PLAINTEXT://127.0.0.1:9092
controller.listener.names=CONTROLLER
metadata.log.dir=/var/lib/keel/meta
";

#[test]
fn a_broker_binds_its_client_listeners_and_advertises_them() {
    let config = Config::parse(BROKER).unwrap();
    assert!(config.roles.broker && !config.roles.controller);
    let bound: Vec<&str> = config.bound_listeners().map(|l| l.name.as_str()).collect();
    assert_eq!(bound, ["PLAINTEXT"]);
    assert_eq!(config.advertised_listeners[0].host, "127.0.0.1");
    assert_eq!(config.advertised_listeners[0].port, 9092);
    assert_eq!(config.broker_heartbeat_interval_ms, 2_000);
    assert_eq!(config.rack, None);

    let config = Config::parse(&format!(
        "{BROKER}advertised.listeners=PLAINTEXT://kafka-4.example:19092\nbroker.rack=r2\n"
    ))
    .unwrap();
    assert_eq!(config.advertised_listeners[0].host, "kafka-4.example");
    assert_eq!(config.advertised_listeners[0].port, 19092);
    assert_eq!(config.rack.as_deref(), Some("r2"));
}

#[test]
fn broker_configurations_that_cannot_work_are_refused() {
    let refused = |text: String| Config::parse(&text).unwrap_err();
    let err = refused(BROKER.replace("node.id=4", "node.id=2"));
    assert!(err.message.contains("listed as a voter"), "{err}");
    let err = refused(BROKER.replace(
        "listeners=PLAINTEXT://127.0.0.1:9092",
        "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9096",
    ));
    assert_eq!(
        err.key.as_deref(),
        Some("controller.listener.names"),
        "{err}"
    );
    let err = refused(BROKER.replace(
        "listeners=PLAINTEXT://127.0.0.1:9092",
        "listeners=PLAINTEXT://0.0.0.0:9092",
    ));
    assert_eq!(err.key.as_deref(), Some("advertised.listeners"), "{err}");
    let err = refused(format!(
        "{BROKER}advertised.listeners=EXTERNAL://kafka:9092\n"
    ));
    assert!(err.message.contains("EXTERNAL"), "{err}");
    let err = refused(format!("{BROKER}broker.heartbeat.interval.ms=9000\n"));
    assert_eq!(
        err.key.as_deref(),
        Some("broker.heartbeat.interval.ms"),
        "{err}"
    );
}

#[test]
fn a_combined_node_binds_both_kinds_of_listener() {
    let config = Config::parse(
        &MINIMAL
            .replace(
                "process.roles=controller",
                "process.roles=broker,controller",
            )
            .replace(
                "listeners=CONTROLLER://127.0.0.1:9093",
                "listeners=CONTROLLER://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092",
            ),
    )
    .unwrap();
    let bound: Vec<&str> = config.bound_listeners().map(|l| l.name.as_str()).collect();
    assert_eq!(bound, ["CONTROLLER", "PLAINTEXT"]);
    assert_eq!(config.advertised_listeners.len(), 1);
    // Without a client listener, a broker has nothing to serve.
    let err = Config::parse(&MINIMAL.replace(
        "process.roles=controller",
        "process.roles=broker,controller",
    ))
    .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("listeners"), "{err}");
}

#[test]
fn initial_controllers_must_name_exactly_the_configured_voters_with_distinct_directories() {
    let voters = Config::parse(MINIMAL).unwrap().voters;
    let a = "pFD0dYoBTmO13BFhHp3EXA";
    let b = "Mgv9dW4XRAaKXxP5vT8a9g";
    let c = "3Db5QLSqSZieL3rJBUUegA";
    let listed = format!("1@127.0.0.1:9093:{a},2@127.0.0.1:9094:{b},3@127.0.0.1:9095:{c}");
    let parsed = parse_initial_controllers(&listed, &voters).unwrap();
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[1].voter, voters[1]);
    assert_eq!(parsed[1].directory_id.to_string(), b);

    let refused = |text: &str| {
        parse_initial_controllers(text, &voters)
            .unwrap_err()
            .message
    };
    let missing = refused(&format!("1@127.0.0.1:9093:{a},2@127.0.0.1:9094:{b}"));
    assert!(missing.contains("controller.quorum.voters is"), "{missing}");
    let moved = refused(&listed.replace(":9095:", ":9096:"));
    assert!(moved.contains("3@127.0.0.1:9096"), "{moved}");
    let twin = refused(&listed.replace(c, a));
    assert!(twin.contains("same directory id"), "{twin}");
    let no_directory = refused("1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095");
    assert!(
        no_directory.contains("not a directory id"),
        "{no_directory}"
    );
    let zero = refused(&listed.replace(a, "AAAAAAAAAAAAAAAAAAAAAA"));
    assert!(zero.contains("zero"), "{zero}");
}

fn integer_keys() -> impl Iterator<Item = &'static IntegerKey> {
    KEYS.iter().filter_map(|key| match key {
        Key::Integer(key) => Some(*key),
        Key::Text(_) => None,
    })
}

#[test]
fn the_key_table_names_each_key_once_with_its_default_in_range() {
    let mut names: Vec<&str> = KEYS.iter().map(|key| key.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), KEYS.len(), "a key is listed twice");
    for key in integer_keys() {
        assert!(key.min <= key.max, "{}", key.name);
        if let Some(default) = key.default {
            assert!(
                (key.min..=key.max).contains(&default),
                "{}: default {default} outside {}..={}",
                key.name,
                key.min,
                key.max
            );
        }
    }
}

#[test]
fn every_integer_key_takes_its_bounds_and_refuses_one_past_them() {
    // A value inside the range may still break a rule between keys (an idle interval as long
    // as a day is longer than the fetch timeout); only the key's own range is checked here.
    let range_error = |extra: String, name: &str| match with(&extra) {
        Err(e) if e.key.as_deref() == Some(name) => e.message.contains("outside the allowed range"),
        _ => false,
    };
    for key in integer_keys() {
        if key.name == NODE_ID.name {
            continue; // MINIMAL sets it; replacing it is checked below.
        }
        for inside in [key.min, key.max] {
            assert!(
                !range_error(format!("{}={inside}", key.name), key.name),
                "{}={inside} is refused",
                key.name
            );
        }
        assert!(
            range_error(format!("{}={}", key.name, key.max + 1), key.name),
            "{}={} is accepted",
            key.name,
            key.max + 1
        );
        if key.min > 0 {
            assert!(
                range_error(format!("{}={}", key.name, key.min - 1), key.name),
                "{}={} is accepted",
                key.name,
                key.min - 1
            );
        }
    }
    let node_id = |id: u64| Config::parse(&MINIMAL.replace("node.id=1", &format!("node.id={id}")));
    let err = node_id(NODE_ID.max + 1).unwrap_err();
    assert!(err.message.contains("outside the allowed range"), "{err}");
}

#[test]
fn an_integer_key_set_to_its_default_changes_nothing() {
    let defaults = Config::parse(MINIMAL).unwrap();
    for key in integer_keys() {
        let Some(default) = key.default else { continue };
        let mut config = with(&format!("{}={default}", key.name)).unwrap();
        config.properties.clear();
        let mut expected = defaults.clone();
        expected.properties.clear();
        assert_eq!(config, expected, "{}={default}", key.name);
    }
}

#[test]
fn of_two_bad_keys_the_one_listed_first_in_the_table_is_reported() {
    let keys: Vec<&IntegerKey> = integer_keys().filter(|k| k.name != NODE_ID.name).collect();
    for (i, first) in keys.iter().enumerate() {
        for second in &keys[i + 1..] {
            // In file order and reversed: the table decides, not the file.
            for text in [
                format!("{}=x\n{}=x", first.name, second.name),
                format!("{}=x\n{}=x", second.name, first.name),
            ] {
                assert_eq!(key_of(with(&text)), first.name, "{text}");
            }
        }
    }
}

#[test]
fn the_documentation_table_renders_each_key_with_its_range_and_default() {
    let table = keys::markdown_table();
    assert_eq!(table.lines().count(), 2 + KEYS.len());
    assert!(table.starts_with("| Key | Value | Default | Meaning |\n|---|---|---|---|\n"));
    assert!(
        table.contains(
            "| `metadata.log.segment.bytes` | 1048576-1073741824 bytes | 67108864 (64 MiB) | Size of"
        ),
        "{table}"
    );
    assert!(
        table.contains("| `connections.max.idle.ms` | 1-86400000 ms | 600000 (10 min) |"),
        "{table}"
    );
    assert!(
        table.contains("| `node.id` | 0-2147483647 | required |"),
        "{table}"
    );
    assert!(table.contains("| `controller.quorum.append.linger.ms` | 0-86400000 ms | 25 |"));
    assert!(
        table.contains("| `max.connections` | 1-16384 | 1024 |"),
        "{table}"
    );
    assert!(
        table.contains("| `log.dirs` | `dir,...` |  | Used"),
        "{table}"
    );
}
