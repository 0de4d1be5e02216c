//! Connection floods against real `keel` processes: thousands of idle sockets neither keep a
//! voter out of an election nor a new client out of a node, hundreds of connections announcing
//! 100 MiB requests cannot grow a node beyond its read budget while the quorum keeps
//! committing, and `max.connections.per.ip` and `connections.max.idle.ms` close what they
//! should.

mod common;

mod cluster_connections {
    use std::io::{ErrorKind, Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    use keel::admin::client::Client;
    use keel::constants::{SERVER_QUEUED_REQUEST_BYTES_DEFAULT, SERVER_UNBUDGETED_READ_BYTES};
    use keel::protocol::ErrorCode;
    use keel::protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

    use super::common::brokers::{ControllerConnection, SimBroker};
    use super::common::{Cluster, Settings, wait_for};

    /// Raises this test process's open-files limit to its hard limit and checks it allows
    /// `sockets` more.
    fn allow_sockets(sockets: usize) {
        let limit = keel::server::raise_open_files_limit().expect("raise RLIMIT_NOFILE");
        assert!(
            limit >= sockets as u64 + 512,
            "RLIMIT_NOFILE is {limit}: too few for {sockets} sockets"
        );
    }

    /// One ApiVersions round trip on a new connection to `address`.
    fn api_versions(address: &str) -> Result<(), String> {
        let mut client = Client::connect(address).map_err(|e| e.to_string())?;
        let response: ApiVersionsResponse = client
            .call(&ApiVersionsRequest::default(), 3)
            .map_err(|e| e.to_string())?;
        if response.error_code == ErrorCode::None.code() {
            Ok(())
        } else {
            Err(format!("{response:?}"))
        }
    }

    /// Shrinks the kernel's send buffer of `stream`, so the bytes a node refuses to read do
    /// not pile up by megabytes per connection in this machine's memory.
    fn small_send_buffer(stream: &TcpStream) {
        use std::os::fd::AsRawFd;
        let bytes: libc::c_int = 64 * 1024;
        // SAFETY: setsockopt reads one c_int through a valid pointer of the length given.
        let rc = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&bytes as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_SNDBUF");
    }

    /// `VmRSS` and `VmHWM` (peak) of process `pid`, in KiB.
    fn memory_kib(pid: u32) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    fn closed_by_node_ref(stream: &TcpStream) -> bool {
        let mut stream = stream.try_clone().expect("clone");
        closed_by_node(&mut stream)
    }

    /// True once the node closed `stream` (EOF or reset); false while it is open and silent.
    fn closed_by_node(stream: &mut TcpStream) -> bool {
        stream.set_nonblocking(true).expect("non-blocking");
        let mut byte = [0u8; 1];
        let closed = match stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => panic!("the node sent bytes on a connection that sent no request"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
            Err(e) => panic!("reading an idle connection: {e}"),
        };
        stream.set_nonblocking(false).expect("blocking");
        closed
    }

    #[test]
    fn five_thousand_idle_connections_keep_neither_a_voter_out_of_an_election_nor_a_client_out() {
        const IDLE: usize = 5_000;
        // Both followers are flooded, so whichever wins the election after the leader's
        // death, the vote it needed came in on a flooded node.
        allow_sockets(2 * IDLE);
        let mut cluster = Cluster::start("idle-flood", 3, Settings::fast());
        let (leader, epoch) = cluster.wait_for_leader(Duration::from_secs(10));
        let targets: Vec<u32> = cluster
            .ids()
            .into_iter()
            .filter(|id| *id != leader)
            .collect();

        // Open them all and hold them; none ever sends a byte. A node keeps at most
        // max.connections of them, closing the least recently active for each new one.
        let opened = Instant::now();
        let mut idle = Vec::with_capacity(2 * IDLE);
        for &target in &targets {
            let address = cluster.address(target);
            for _ in 0..IDLE {
                idle.push((target, TcpStream::connect(&address).expect("connect")));
            }
        }
        let open_time = opened.elapsed();
        assert!(
            open_time < Duration::from_secs(20),
            "opening took {open_time:?}"
        );
        // While they are held, a new client still gets in and is answered.
        for &target in &targets {
            wait_for(
                "a new client's ApiVersions on a flooded node",
                Duration::from_secs(5),
                || api_versions(&cluster.address(target)),
            );
        }

        // kill -9 the leader: the flooded node must still take part in the election.
        cluster.kill(leader);
        let killed = Instant::now();
        let (new_leader, new_epoch) = cluster.wait_for_leader(Duration::from_secs(10));
        let election = killed.elapsed();
        assert_ne!(new_leader, leader);
        assert!(new_epoch > epoch);
        let moved = cluster.wait_for_high_watermark(0, Duration::from_secs(5));
        cluster.wait_for_high_watermark(moved.high_watermark + 10, Duration::from_secs(10));
        let answered = Instant::now();
        for &target in &targets {
            wait_for(
                "a new client's ApiVersions after the election",
                Duration::from_secs(5),
                || api_versions(&cluster.address(target)),
            );
        }
        println!(
            "idle flood: {IDLE} idle connections to each of nodes {targets:?} opened in \
             {open_time:?}; after kill -9 of leader {leader}, node {new_leader} led epoch \
             {new_epoch} {election:?} later; new clients were answered in {:?}",
            answered.elapsed()
        );

        // The oldest idle connections were closed to make room, and the nodes said so
        // (within their warning budget).
        for &target in &targets {
            let log = cluster.current_log(target);
            assert!(log.contains("the least recently active"), "{log}");
            assert!(!log.contains("panicked"), "{log}");
            assert!(cluster.is_running(target));
        }
        let oldest = idle.iter_mut().take(IDLE / 2);
        let closed = oldest.filter(|(_, s)| closed_by_node_ref(s)).count();
        assert!(
            closed > IDLE / 4,
            "only {closed} of the oldest idle connections were closed"
        );
    }

    #[test]
    fn five_hundred_connections_announcing_100_mib_each_stay_within_the_read_budget() {
        const CONNECTIONS: usize = 500;
        const ANNOUNCED: usize = 100 * 1024 * 1024;
        // Settings::fast with Kafka's socket.request.max.bytes (100 MiB) and keel's default
        // queued.max.request.bytes (256 MiB).
        allow_sockets(CONNECTIONS);
        let cluster = Cluster::start("budget-flood", 3, Settings::fast());
        let (leader, _) = cluster.wait_for_leader(Duration::from_secs(10));
        let before = cluster.wait_for_high_watermark(5, Duration::from_secs(10));
        let pid = cluster.pid(leader);
        let (baseline_kib, _) = memory_kib(pid);
        let address = cluster.address(leader);

        // Every connection announces a 100 MiB request and sends all of it but the last byte
        // as fast as the node takes it, so the budget fills with real bytes.
        let mut streams: Vec<(TcpStream, usize)> = (0..CONNECTIONS)
            .map(|_| {
                let mut stream = TcpStream::connect(&address).expect("connect");
                small_send_buffer(&stream);
                stream
                    .write_all(&(ANNOUNCED as u32).to_be_bytes())
                    .expect("size prefix");
                stream.set_nonblocking(true).expect("non-blocking");
                (stream, 0)
            })
            .collect();
        let chunk = vec![0u8; 256 * 1024];
        let mut peak_kib = 0;
        let send_round = |streams: &mut Vec<(TcpStream, usize)>, piece: usize| {
            let mut moved = 0;
            for (stream, sent) in streams.iter_mut() {
                let want = piece.min(ANNOUNCED - 1 - *sent);
                if want == 0 {
                    continue;
                }
                match stream.write(&chunk[..want]) {
                    Ok(n) => {
                        *sent += n;
                        moved += n;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("the node closed a connection that sent only a prefix: {e}"),
                }
            }
            moved
        };
        let filling = Instant::now();
        let mut quiet_since = Instant::now();
        while quiet_since.elapsed() < Duration::from_secs(1) {
            assert!(filling.elapsed() < Duration::from_secs(20), "still filling");
            if send_round(&mut streams, chunk.len()) > 0 {
                quiet_since = Instant::now();
            }
            peak_kib = peak_kib.max(memory_kib(pid).0);
            std::thread::sleep(Duration::from_millis(2));
        }
        let offered: usize = streams.iter().map(|(_, sent)| sent).sum();
        let fill_time = filling.elapsed();

        // Then they trickle: a byte per connection every 50 ms, while the quorum must keep
        // committing: the high watermark moves, and a broker's registration (a metadata write
        // through the active controller) succeeds.
        let stop = std::sync::atomic::AtomicBool::new(false);
        let trickle = std::thread::scope(|scope| {
            let streams = &mut streams;
            let stop_ref = &stop;
            let trickler = scope.spawn(move || {
                let mut peak = 0;
                while !stop_ref.load(std::sync::atomic::Ordering::Relaxed) {
                    send_round(streams, 1);
                    peak = memory_kib(pid).0.max(peak);
                    std::thread::sleep(Duration::from_millis(50));
                }
                peak
            });
            let hw = cluster
                .wait_for_high_watermark(before.high_watermark + 20, Duration::from_secs(10));
            let mut connection = ControllerConnection::new(&cluster);
            let broker = SimBroker::bring_up(&mut connection, &cluster.cluster_id, 100, None);
            assert!(broker.epoch > 0);
            let after =
                cluster.wait_for_high_watermark(hw.high_watermark + 20, Duration::from_secs(10));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let peak = trickler.join().expect("trickler");
            (peak, after)
        });
        let (trickle_peak_kib, after) = trickle;
        peak_kib = peak_kib.max(trickle_peak_kib);
        let (rss_kib, hwm_kib) = memory_kib(pid);
        assert_eq!(cluster.wait_for_leader(Duration::from_secs(5)).0, leader);

        // The bound: what the node held before, plus the whole budget, plus each connection's
        // unbudgeted allowance, plus 64 MiB for everything else (allocator slack, responses,
        // the harness's own requests).
        let bound_kib = baseline_kib
            + (SERVER_QUEUED_REQUEST_BYTES_DEFAULT / 1024)
            + (CONNECTIONS * SERVER_UNBUDGETED_READ_BYTES / 1024) as u64
            + 64 * 1024;
        println!(
            "budget flood: {CONNECTIONS} connections announced {ANNOUNCED} bytes each and offered \
             {} MiB in {fill_time:?}; leader {leader} RSS: {} MiB before, peak sampled {} MiB, \
             {} MiB at the end, VmHWM {} MiB; bound {} MiB; high watermark {} -> {}",
            offered >> 20,
            baseline_kib >> 10,
            peak_kib >> 10,
            rss_kib >> 10,
            hwm_kib >> 10,
            bound_kib >> 10,
            before.high_watermark,
            after.high_watermark
        );
        assert!(
            offered > (SERVER_QUEUED_REQUEST_BYTES_DEFAULT as usize) / 2,
            "only {offered} bytes were offered: the budget was not filled"
        );
        assert!(
            hwm_kib <= bound_kib,
            "peak RSS {hwm_kib} KiB above the bound {bound_kib} KiB"
        );
        drop(streams);
        // Once they are gone the node serves as before.
        wait_for(
            "ApiVersions after the flood",
            Duration::from_secs(5),
            || api_versions(&address),
        );
        let log = cluster.current_log(leader);
        assert!(!log.contains("panicked"), "{log}");
    }

    #[test]
    fn connections_over_the_per_ip_limit_are_closed_at_once_and_idle_ones_after_the_idle_time() {
        const PER_IP: usize = 20;
        const IDLE_MS: u64 = 1_500;
        let settings = Settings::fast()
            .with("max.connections.per.ip", PER_IP)
            .with("connections.max.idle.ms", IDLE_MS);
        let cluster = Cluster::start("per-ip-idle", 1, settings);
        cluster.wait_for_leader(Duration::from_secs(10));
        let address = cluster.address(1);
        // Let the harness's own connections close.
        std::thread::sleep(Duration::from_millis(300));

        let opened = Instant::now();
        let mut active = Client::connect(&address).expect("connect");
        let mut idle: Vec<TcpStream> = (1..PER_IP)
            .map(|_| TcpStream::connect(&address).expect("connect"))
            .collect();
        // One more from the same address is closed at once, without an answer.
        let mut over = TcpStream::connect(&address).expect("connect");
        over.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut byte = [0u8; 1];
        match over.read(&mut byte) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("the connection over max.connections.per.ip stayed open: {other:?}"),
        }
        assert!(
            opened.elapsed() < Duration::from_millis(IDLE_MS),
            "closed at once"
        );

        // The idle ones are closed after connections.max.idle.ms; the active one stays.
        let mut closed_at: Vec<Option<Duration>> = vec![None; idle.len()];
        while closed_at.iter().any(Option::is_none) {
            assert!(
                opened.elapsed() < Duration::from_millis(4 * IDLE_MS),
                "idle connections still open: {closed_at:?}"
            );
            let answer: ApiVersionsResponse = active
                .call(&ApiVersionsRequest::default(), 3)
                .expect("the active connection is served");
            assert_eq!(answer.error_code, ErrorCode::None.code());
            for (stream, closed) in idle.iter_mut().zip(closed_at.iter_mut()) {
                if closed.is_none() && closed_by_node(stream) {
                    *closed = Some(opened.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let first = closed_at.iter().flatten().min().unwrap();
        assert!(
            *first >= Duration::from_millis(IDLE_MS - 200),
            "an idle connection was closed after {first:?}"
        );
        // Their places are free again.
        api_versions(&address).expect("a new connection after the idle ones closed");
        let log = cluster.current_log(1);
        assert!(log.contains("max.connections.per.ip"), "{log}");
    }

    #[test]
    fn a_listener_out_of_descriptors_accepts_again_once_one_frees() {
        let cluster = Cluster::start("emfile", 1, Settings::fast());
        cluster.wait_for_leader(Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(300));
        let pid = cluster.pid(1);
        let open_fds = || {
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .expect("fd dir")
                .count()
        };
        // Leave the node ten descriptors.
        let limit = libc::rlimit {
            rlim_cur: (open_fds() + 10) as libc::rlim_t,
            rlim_max: (open_fds() + 10) as libc::rlim_t,
        };
        // SAFETY: prlimit reads one rlimit through a valid pointer and writes none.
        let rc = unsafe {
            libc::prlimit(
                pid as libc::pid_t,
                libc::RLIMIT_NOFILE,
                &limit,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0, "prlimit");
        let address = cluster.address(1);
        let mut held: Vec<TcpStream> = (0..20)
            .map(|_| TcpStream::connect(&address).expect("connect"))
            .collect();
        wait_for(
            "the node to run out of descriptors",
            Duration::from_secs(5),
            || {
                let log = cluster.current_log(1);
                if log.contains("cannot accept a connection") {
                    Ok(())
                } else {
                    Err(format!("{} descriptors open", open_fds()))
                }
            },
        );
        // A client that connects now waits in the backlog; no new connection arrives to wake
        // the listener, so it is served only if the node retries on its own.
        let client = std::thread::spawn({
            let address = address.clone();
            move || api_versions(&address)
        });
        std::thread::sleep(Duration::from_millis(300));
        assert!(!client.is_finished(), "served while out of descriptors");
        held.truncate(0);
        wait_for("the waiting client", Duration::from_secs(5), || {
            if client.is_finished() {
                Ok(())
            } else {
                Err("still waiting".to_owned())
            }
        });
        client
            .join()
            .expect("client thread")
            .expect("the waiting client is answered once descriptors free");
        assert!(cluster.is_running(1));
    }
}
