//! Malformed and hostile input sent to real `keel` nodes: each is answered or the connection is
//! closed as the protocol says, and the node and its quorum stay healthy.

mod common;

mod cluster_bad_input {
    use std::time::Duration;

    use keel::admin::client::Client;
    use keel::protocol::envelope::decode_response;
    use keel::protocol::messages::{
        ApiVersionsRequest, ApiVersionsResponse, BeginQuorumEpochRequest, BeginQuorumEpochResponse,
        VoteRequest, VoteResponse, begin_quorum_epoch_request, vote_request,
    };
    use keel::protocol::{ErrorCode, Uuid};

    use super::common::{Cluster, RawConnection, Settings, wait_for};

    const MAX_REQUEST_BYTES: u32 = 65_536;

    /// A request header v1/v2 prefix: api key, version, correlation id, client id "t".
    fn header(api_key: i16, version: i16, correlation_id: i32, flexible: bool) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&api_key.to_be_bytes());
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&correlation_id.to_be_bytes());
        out.extend_from_slice(&1i16.to_be_bytes());
        out.push(b't');
        if flexible {
            out.push(0); // no tagged fields
        }
        out
    }

    /// Every frame that must make the node close the connection, with what it is.
    fn closing_inputs() -> Vec<(&'static str, Vec<u8>)> {
        let framed = |body: Vec<u8>| {
            let mut frame = (body.len() as u32).to_be_bytes().to_vec();
            frame.extend_from_slice(&body);
            frame
        };
        // DescribeQuorum v2 (key 55) with a body that is not one: compact array length
        // varints that never end.
        let mut garbled = header(55, 2, 1, true);
        garbled.extend_from_slice(&[0xff; 16]);
        vec![
            ("a three-byte frame", framed(vec![1, 2, 3])),
            (
                "random bytes",
                framed((0u8..64).map(|i| i.wrapping_mul(97) ^ 0x5a).collect()),
            ),
            ("a DescribeQuorum with a garbled body", framed(garbled)),
            (
                "a size prefix one past socket.request.max.bytes",
                (MAX_REQUEST_BYTES + 1).to_be_bytes().to_vec(),
            ),
            (
                "a size prefix of 2 GiB - 1",
                0x7fff_ffffu32.to_be_bytes().to_vec(),
            ),
            ("a negative size prefix", (-1i32).to_be_bytes().to_vec()),
            ("an unknown api key", framed(header(999, 0, 3, false))),
            (
                "an unsupported Vote version",
                framed(header(52, 99, 4, true)),
            ),
        ]
    }

    fn resident_kib(pid: u32) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    fn send_everything(cluster: &Cluster, id: u32, rounds: usize) {
        let address = cluster.address(id);
        for _ in 0..rounds {
            for (what, bytes) in closing_inputs() {
                let mut connection = RawConnection::connect(&address);
                connection.send(&bytes);
                assert!(
                    connection.closed_by_peer(),
                    "node {id} kept the connection open after {what}"
                );
            }
        }
    }

    #[test]
    fn garbage_oversized_unknown_and_foreign_cluster_requests_are_refused_and_the_node_stays_healthy()
     {
        // Long enough timeouts that the epoch moves only if a bad request moved it.
        let settings = Settings {
            election_timeout_ms: 500,
            fetch_timeout_ms: 3000,
            idle_interval_ms: 100,
            ..Settings::fast()
        }
        .with("socket.request.max.bytes", MAX_REQUEST_BYTES);
        let mut cluster = Cluster::start("bad-input", 3, settings);
        let (leader, epoch) = cluster.wait_for_leader(Duration::from_secs(10));
        let follower = cluster.ids().into_iter().find(|id| *id != leader).unwrap();
        let rss_before: Vec<u64> = [leader, follower]
            .iter()
            .map(|id| resident_kib(cluster.pid(*id)))
            .collect();

        for id in [leader, follower] {
            // Every malformed frame closes its connection, many times over.
            send_everything(&cluster, id, 20);

            // ApiVersions at a version keel does not know gets Kafka's v0 UNSUPPORTED_VERSION
            // answer (so a newer client can retry lower), listing the versions keel has.
            let mut connection = RawConnection::connect(&cluster.address(id));
            let mut request = header(18, 5, 42, true);
            request.extend_from_slice(&[2, b'x', 2, b'1', 0]);
            connection.send_frame(&request);
            let frame = connection.read_frame();
            let (correlation_id, response) =
                decode_response::<ApiVersionsResponse>(&frame, 0).expect("a v0 answer");
            assert_eq!(correlation_id, 42);
            assert_eq!(response.error_code, ErrorCode::UnsupportedVersion.code());
            let api_versions = response
                .api_keys
                .iter()
                .find(|k| k.api_key == 18)
                .expect("ApiVersions' own versions");
            assert!(api_versions.min_version <= 3 && api_versions.max_version >= 3);

            // A Vote and a BeginQuorumEpoch from another cluster, with a far higher epoch: both
            // answered INCONSISTENT_CLUSTER_ID, and neither moves the epoch.
            let other_cluster = Uuid::from_bytes([7; 16]).to_string();
            assert_ne!(other_cluster, cluster.cluster_id);
            let mut client = Client::connect(&cluster.address(id)).expect("connect");
            let vote = VoteRequest {
                cluster_id: Some(other_cluster.clone()),
                voter_id: id as i32,
                topics: vec![vote_request::TopicData {
                    topic_name: "__cluster_metadata".into(),
                    partitions: vec![vote_request::PartitionData {
                        partition_index: 0,
                        replica_epoch: epoch as i32 + 1000,
                        replica_id: (id % 3 + 1) as i32,
                        last_offset_epoch: epoch as i32 + 999,
                        last_offset: 1 << 40,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            let answer: VoteResponse = client.call(&vote, 2).expect("a Vote answer");
            assert_eq!(
                answer.error_code,
                ErrorCode::InconsistentClusterId.code(),
                "{answer:?}"
            );
            let begin = BeginQuorumEpochRequest {
                cluster_id: Some(other_cluster),
                voter_id: id as i32,
                topics: vec![begin_quorum_epoch_request::TopicData {
                    topic_name: "__cluster_metadata".into(),
                    partitions: vec![begin_quorum_epoch_request::PartitionData {
                        partition_index: 0,
                        leader_id: (id % 3 + 1) as i32,
                        leader_epoch: epoch as i32 + 1000,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            let answer: BeginQuorumEpochResponse =
                client.call(&begin, 1).expect("a BeginQuorumEpoch answer");
            assert_eq!(
                answer.error_code,
                ErrorCode::InconsistentClusterId.code(),
                "{answer:?}"
            );
            // The same connection still serves a good request afterwards.
            let good: ApiVersionsResponse = client
                .call(&ApiVersionsRequest::default(), 3)
                .expect("ApiVersions v3");
            assert_eq!(good.error_code, ErrorCode::None.code());
        }

        // Healthy afterwards: nobody exited, the same leader in the same epoch, describe
        // answers through every node, and the high watermark still moves.
        for id in cluster.ids() {
            assert!(cluster.is_running(id));
            let log = cluster.current_log(id);
            assert!(!log.contains("panicked"), "node {id}:\n{log}");
        }
        assert_eq!(
            cluster.wait_for_leader(Duration::from_secs(5)),
            (leader, epoch)
        );
        let hw = cluster.view(leader).expect("leader answers").high_watermark;
        cluster.wait_for_high_watermark(hw + 5, Duration::from_secs(10));
        for id in cluster.ids() {
            let d = wait_for("describe", Duration::from_secs(5), || {
                cluster.describe(id).map_err(|e| e.to_string())
            });
            assert_eq!((d.leader_id, d.leader_epoch), (leader as i32, epoch as i32));
        }

        // The refusals were logged, and memory did not grow with the garbage (well under the
        // 2 GiB and 64 KiB frames that were announced, 20 times each to each node).
        for (i, id) in [leader, follower].into_iter().enumerate() {
            // ... within the warning budget: a client sending garbage in a loop must not
            // grow the log with its effort (20 rounds of every bad input went to each node).
            let log = cluster.current_log(id);
            let warnings = log.matches("closing the connection from").count();
            assert!(
                (1..=keel::constants::CONNECTION_WARNINGS_PER_WINDOW as usize).contains(&warnings),
                "node {id} logged {warnings} connection warnings:\n{log}"
            );
            let grown = resident_kib(cluster.pid(id)).saturating_sub(rss_before[i]);
            assert!(grown < 16 * 1024, "node {id} grew by {grown} KiB");
        }
        // Nobody exited along the way.
        for id in cluster.ids() {
            assert_eq!(cluster.exited(id), None, "node {id} exited");
        }
    }
}
