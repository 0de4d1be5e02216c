//! Harness for tests (and benches) that run real `keel` processes on 127.0.0.1.
//!
//! A [`Cluster`] owns a temporary root directory with, per node, a properties file, a data
//! directory and a log file (the node's stderr, appended across restarts, each start preceded
//! by a marker line). It picks free ports (bind `127.0.0.1:0`, read the port, release it; a
//! start that loses the port to another process is retried with new ports), formats every node
//! with one cluster id, and starts, kills (`kill -9`), stops (SIGTERM) and restarts single nodes.
//!
//! Every wait is a poll with a deadline ([`wait_for`]); nothing sleeps in place of a condition.
//! The quorum is observed through the protocol: [`Cluster::view`] sends DescribeQuorum straight
//! to one node (a follower answers with its own leader, epoch and high watermark), and
//! [`Cluster::describe`] / [`Cluster::describe_cli`] ask the way `keel quorum describe` does.
//!
//! [`brokers`] talks to the quorum controller as brokers and admin clients do;
//! [`fake_broker`] is a scripted fake Kafka cluster for testing the admin commands.
//!
//! Cleanup: dropping a `Cluster` kills every process it started and removes its directory,
//! also when the test panics, in which case it first prints the tail of every node's log. A
//! watchdog thread bounds the whole test: past `Settings::test_timeout` it kills the nodes and,
//! if the test still does not finish, aborts the test process.

#![allow(dead_code)]

pub mod brokers;
pub mod dev;
pub mod fake_broker;

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use keel::admin::client::Client;
use keel::admin::quorum::{DescribeError, QuorumDescription, describe_quorum_request};
use keel::protocol::ErrorCode;
use keel::protocol::messages::DescribeQuorumResponse;
use keel::storage::batch::{ScanItem, Scanner};
use keel::storage::{Log, LogConfig, METADATA_PARTITION_DIR};

/// The `keel` binary under test.
pub const KEEL: &str = env!("CARGO_BIN_EXE_keel");

/// How often conditions are polled.
pub const POLL: Duration = Duration::from_millis(10);

/// Per-cluster settings, written into every node's properties file.
#[derive(Clone, Debug)]
pub struct Settings {
    pub election_timeout_ms: u64,
    pub fetch_timeout_ms: u64,
    /// `metadata.max.idle.interval.ms`: the leader's NoOp interval, i.e. the write load.
    pub idle_interval_ms: u64,
    pub append_linger_ms: u64,
    pub segment_bytes: u32,
    /// Further `key=value` lines for every node.
    pub extra: Vec<(String, String)>,
    /// Hard bound of the whole test (the watchdog).
    pub test_timeout: Duration,
    /// Directories to hold the nodes' data directories, one per node in id order (for
    /// example one disk each); empty: under the cluster's root.
    pub data_roots: Vec<PathBuf>,
    /// Brokers (`process.roles=broker`, ids after the controllers'), besides the controllers.
    pub brokers: u32,
}

impl Settings {
    /// Short timeouts for tests on loopback: elections in a few hundred milliseconds.
    pub fn fast() -> Settings {
        Settings {
            election_timeout_ms: 150,
            fetch_timeout_ms: 600,
            idle_interval_ms: 50,
            append_linger_ms: 5,
            segment_bytes: 1 << 20,
            extra: Vec::new(),
            test_timeout: Duration::from_secs(90),
            data_roots: Vec::new(),
            brokers: 0,
        }
    }

    /// Kafka's defaults (election 1000 ms, fetch 2000 ms, NoOp every 500 ms, linger 25 ms).
    pub fn kafka_defaults() -> Settings {
        Settings {
            election_timeout_ms: 1000,
            fetch_timeout_ms: 2000,
            idle_interval_ms: 500,
            append_linger_ms: 25,
            ..Settings::fast()
        }
    }

    /// The same settings with one more `key=value` line.
    pub fn with(mut self, key: &str, value: impl ToString) -> Settings {
        self.extra.push((key.to_owned(), value.to_string()));
        self
    }
}

/// One node of a cluster.
#[derive(Debug)]
pub struct NodeFiles {
    pub id: u32,
    pub port: u16,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    /// How many times the harness started this node.
    pub starts: u32,
}

/// A node as it answered DescribeQuorum itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub node: u32,
    pub leader: Option<u32>,
    pub epoch: u32,
    pub high_watermark: i64,
    /// True if the node answered as leader (only the leader answers without an error).
    pub is_leader: bool,
}

/// What a node's log looks like after a start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartLine {
    pub epoch: u32,
    pub log_start: u64,
    pub log_end: u64,
}

/// One batch as stored: base offset, next offset and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBatch {
    pub base_offset: u64,
    pub next_offset: u64,
    pub bytes: Vec<u8>,
}

static CLUSTERS: AtomicU64 = AtomicU64::new(0);

/// Polls `check` every [`POLL`] until it returns `Ok`, or panics after `timeout` naming `what`
/// and the last reason it was not yet true.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check() {
            Ok(value) => return value,
            Err(reason) => reason,
        };
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last: {last}");
        }
        thread::sleep(POLL);
    }
}

/// `n` distinct free ports on 127.0.0.1: all bound at once (so they differ), then released.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

fn temp_root(name: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let n = CLUSTERS.fetch_add(1, Ordering::Relaxed);
    base.join(format!("keel-{name}-{}-{n}", std::process::id()))
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
}

/// Waits for `child` to exit, at most `timeout`; kills it and returns `None` if it does not.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// Runs `keel args...` to completion (bounded by `timeout`) and returns its output.
pub fn run_keel(args: &[&str], timeout: Duration) -> Output {
    let mut child = Command::new(KEEL)
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keel");
    // Read both pipes on threads so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stdout.read_to_end(&mut buffer);
        buffer
    });
    let err = thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stderr.read_to_end(&mut buffer);
        buffer
    });
    let status = wait_exit(&mut child, timeout)
        .unwrap_or_else(|| panic!("keel {args:?} did not finish within {timeout:?}"));
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Asks one node for its own view with DescribeQuorum v2 on `client`.
pub fn view_with(client: &mut Client, node: u32) -> Result<View, String> {
    let response: DescribeQuorumResponse = client
        .call(&describe_quorum_request(), 2)
        .map_err(|e| e.to_string())?;
    if response.error_code != ErrorCode::None.code() {
        return Err(format!(
            "node {node}: DescribeQuorum error {}",
            response.error_code
        ));
    }
    let partition = response
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| format!("node {node}: no partition in the answer"))?;
    let is_leader = partition.error_code == ErrorCode::None.code();
    if !is_leader && partition.error_code != ErrorCode::NotLeaderOrFollower.code() {
        return Err(format!(
            "node {node}: partition error {}",
            partition.error_code
        ));
    }
    Ok(View {
        node,
        leader: u32::try_from(partition.leader_id).ok(),
        epoch: u32::try_from(partition.leader_epoch).map_err(|_| "negative epoch")?,
        high_watermark: partition.high_watermark,
        is_leader,
    })
}

/// A text file's content, or empty if it does not exist.
fn read_text(path: &Path) -> String {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

const START_MARKER: &str = "---- harness: start #";

/// Why a node did not come up.
#[derive(Debug)]
pub enum StartError {
    /// It exited with status 4 saying it cannot listen: the port went to someone else.
    PortTaken,
    Exited {
        status: ExitStatus,
        log: String,
    },
}

/// Processes the watchdog may kill: (node id, pid) of every running child.
type Live = Arc<Mutex<Vec<(u32, u32)>>>;

pub struct Cluster {
    pub name: String,
    pub root: PathBuf,
    pub cluster_id: String,
    /// The directory id each node is first formatted with (`--initial-controllers`), by index.
    pub initial_directory_ids: Vec<String>,
    pub settings: Settings,
    /// Every node: the controllers (ids 1..=voters), then the brokers.
    pub nodes: Vec<NodeFiles>,
    voters: u32,
    children: Vec<Option<Child>>,
    live: Live,
    watchdog: Option<(mpsc::Sender<()>, thread::JoinHandle<()>)>,
}

impl Cluster {
    /// Creates `n` controllers (ids 1..=n, all voters) and `settings.brokers` brokers (ids
    /// after), writes their properties and formats their directories with one new cluster id.
    /// Starts nothing.
    pub fn new(name: &str, n: u32, settings: Settings) -> Cluster {
        let voters = n;
        let n = voters + settings.brokers;
        let root = temp_root(name);
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("create the cluster root");
        let random_id = || {
            keel::storage::meta_properties::random_uuid()
                .expect("random uuid")
                .to_string()
        };
        let cluster_id = random_id();
        let initial_directory_ids = (1..=voters).map(|_| random_id()).collect();
        assert!(
            settings.data_roots.is_empty() || settings.data_roots.len() >= n as usize,
            "one data root per node"
        );
        let nodes = (1..=n)
            .map(|id| NodeFiles {
                id,
                port: 0,
                config: root.join(format!("node{id}.properties")),
                data_dir: match settings.data_roots.get(id as usize - 1) {
                    Some(data_root) => data_root.join(format!("{name}-node{id}-data")),
                    None => root.join(format!("node{id}-data")),
                },
                log: root.join(format!("node{id}.log")),
                starts: 0,
            })
            .collect::<Vec<NodeFiles>>();
        for node in &nodes {
            let _ = fs::remove_dir_all(&node.data_dir);
        }
        let live: Live = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = mpsc::channel::<()>();
        let watchdog_live = Arc::clone(&live);
        let timeout = settings.test_timeout;
        let label = format!("{name} ({})", root.display());
        let watchdog = thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(timeout) {
                let pids: Vec<(u32, u32)> = watchdog_live
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                let _ = writeln!(
                    std::io::stderr(),
                    "watchdog: cluster {label} outlived its {timeout:?} bound; killing {pids:?}"
                );
                for (_, pid) in pids {
                    // SAFETY: kill(2); the pid is a child not yet reaped (the list is kept
                    // under the lock that reaping takes).
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                }
                if let Err(RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(Duration::from_secs(30))
                {
                    let _ = writeln!(std::io::stderr(), "watchdog: {label} still stuck; aborting");
                    std::process::abort();
                }
            }
        });
        let mut cluster = Cluster {
            name: name.to_owned(),
            root,
            cluster_id,
            initial_directory_ids,
            settings,
            nodes,
            voters,
            children: (0..n).map(|_| None).collect(),
            live,
            watchdog: Some((stop, watchdog)),
        };
        cluster.assign_ports();
        for id in cluster.all_ids() {
            cluster.format(id);
        }
        cluster
    }

    /// A formatted cluster of `n` nodes, all started, with a leader that all agree on.
    pub fn start(name: &str, n: u32, settings: Settings) -> Cluster {
        let mut cluster = Cluster::new(name, n, settings);
        cluster.start_all();
        cluster.wait_for_leader(Duration::from_secs(20));
        cluster
    }

    /// The controllers' ids.
    pub fn ids(&self) -> Vec<u32> {
        (1..=self.voters).collect()
    }

    /// The brokers' ids.
    pub fn broker_ids(&self) -> Vec<u32> {
        (self.voters + 1..=self.nodes.len() as u32).collect()
    }

    /// Every node's id, controllers first.
    pub fn all_ids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    pub fn node(&self, id: u32) -> &NodeFiles {
        &self.nodes[id as usize - 1]
    }

    pub fn address(&self, id: u32) -> String {
        format!("127.0.0.1:{}", self.node(id).port)
    }

    pub fn is_running(&self, id: u32) -> bool {
        self.children[id as usize - 1].is_some()
    }

    pub fn running(&self) -> Vec<u32> {
        self.ids()
            .into_iter()
            .filter(|id| self.is_running(*id))
            .collect()
    }

    pub fn pid(&self, id: u32) -> u32 {
        self.children[id as usize - 1]
            .as_ref()
            .unwrap_or_else(|| panic!("node {id} is not running"))
            .id()
    }

    /// The properties file of node `id` (as written for `voters` ports).
    pub fn properties(&self, id: u32) -> String {
        let voters: Vec<String> = self.nodes[..self.voters as usize]
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.port))
            .collect();
        let node = self.node(id);
        let s = &self.settings;
        let (roles, listener) = if id > self.voters {
            ("broker", "PLAINTEXT")
        } else {
            ("controller", "CONTROLLER")
        };
        let mut text = format!(
            "process.roles={roles}\n\
             node.id={id}\n\
             controller.quorum.voters={}\n\
             listeners={listener}://127.0.0.1:{}\n\
             controller.listener.names=CONTROLLER\n\
             metadata.log.dir={}\n\
             controller.quorum.election.timeout.ms={}\n\
             controller.quorum.fetch.timeout.ms={}\n\
             controller.quorum.append.linger.ms={}\n\
             metadata.max.idle.interval.ms={}\n\
             metadata.log.segment.bytes={}\n",
            voters.join(","),
            node.port,
            node.data_dir.display(),
            s.election_timeout_ms,
            s.fetch_timeout_ms,
            s.append_linger_ms,
            s.idle_interval_ms,
            s.segment_bytes,
        );
        for (key, value) in &s.extra {
            text.push_str(&format!("{key}={value}\n"));
        }
        text
    }

    /// Picks new free ports for every node and rewrites every properties file.
    fn assign_ports(&mut self) {
        let ports = free_ports(self.nodes.len());
        for (node, port) in self.nodes.iter_mut().zip(ports) {
            node.port = port;
        }
        self.write_properties();
    }

    fn write_properties(&self) {
        for id in self.all_ids() {
            fs::write(&self.node(id).config, self.properties(id)).expect("write properties");
        }
    }

    /// `keel format` for node `id` as at the birth of the cluster: with the cluster id and
    /// `--initial-controllers`, so every node pins every other node's first directory id.
    pub fn format(&self, id: u32) {
        let initial: Vec<String> = self.nodes[..self.voters as usize]
            .iter()
            .zip(&self.initial_directory_ids)
            .map(|(n, directory)| format!("{}@127.0.0.1:{}:{directory}", n.id, n.port))
            .collect();
        self.run_format(id, &["--initial-controllers", &initial.join(",")]);
    }

    /// `keel format` for node `id` as for a replaced disk: `--no-initial-controllers`, so it
    /// gets a new directory id that the other voters have never seen.
    pub fn format_replacement(&self, id: u32) {
        self.run_format(id, &["--no-initial-controllers"]);
    }

    fn run_format(&self, id: u32, extra: &[&str]) {
        let config = self
            .node(id)
            .config
            .to_str()
            .expect("utf-8 path")
            .to_owned();
        let mut args = vec![
            "format",
            "--config",
            &config,
            "--cluster-id",
            &self.cluster_id,
        ];
        args.extend_from_slice(extra);
        let output = run_keel(&args, Duration::from_secs(20));
        assert!(
            output.status.success(),
            "keel format of node {id} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Spawns `keel start` for node `id` (its stderr appended to its log file) without waiting.
    pub fn spawn(&mut self, id: u32) {
        assert!(!self.is_running(id), "node {id} is already running");
        let index = id as usize - 1;
        self.nodes[index].starts += 1;
        let node = &self.nodes[index];
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("open the node log");
        writeln!(log, "{START_MARKER}{} of node {id} ----", node.starts).expect("write marker");
        let stdout = log.try_clone().expect("clone the log handle");
        let rust_log = std::env::var("KEEL_TEST_RUST_LOG").unwrap_or_else(|_| "info".into());
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let child = Command::new(KEEL)
            .args(["start", "--config"])
            .arg(&node.config)
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn keel start");
        live.push((id, child.id()));
        self.children[index] = Some(child);
    }

    /// Starts node `id` and waits until it serves (logged "is serving").
    pub fn try_start(&mut self, id: u32) -> Result<(), StartError> {
        self.spawn(id);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.current_log(id).contains(" is serving") {
                return Ok(());
            }
            let child = self.children[id as usize - 1].as_mut().expect("spawned");
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.reaped(id);
                let log = self.current_log(id);
                if status.code() == Some(4) && log.contains("cannot listen") {
                    return Err(StartError::PortTaken);
                }
                return Err(StartError::Exited { status, log });
            }
            assert!(
                Instant::now() < deadline,
                "node {id} did not start serving within 20 s"
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Starts node `id`, retrying a while if its port is briefly held by another process.
    pub fn start_node(&mut self, id: u32) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.try_start(id) {
                Ok(()) => return,
                Err(StartError::PortTaken) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("node {id} did not start: {e:?}"),
            }
        }
    }

    /// Starts every node that is not running. On a cluster never started before, a lost port
    /// race is retried with new ports for everyone.
    pub fn start_all(&mut self) {
        let fresh = self.nodes.iter().all(|n| n.starts == 0);
        for attempt in 0.. {
            let mut lost_port = false;
            for id in self.all_ids() {
                if self.is_running(id) {
                    continue;
                }
                match self.try_start(id) {
                    Ok(()) => {}
                    Err(StartError::PortTaken) if fresh && attempt < 5 => {
                        lost_port = true;
                        break;
                    }
                    Err(StartError::PortTaken) => {
                        self.start_node(id);
                    }
                    Err(e) => panic!("node {id} did not start: {e:?}"),
                }
            }
            if !lost_port {
                return;
            }
            for id in self.all_ids() {
                if self.is_running(id) {
                    self.kill(id);
                }
            }
            self.assign_ports();
        }
    }

    fn reaped(&mut self, id: u32) {
        let index = id as usize - 1;
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(mut child) = self.children[index].take() {
            let _ = child.try_wait();
            live.retain(|(node, _)| *node != id);
        }
    }

    /// `kill -9` node `id` and reap it.
    pub fn kill(&mut self, id: u32) {
        let index = id as usize - 1;
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut child = self.children[index]
            .take()
            .unwrap_or_else(|| panic!("node {id} is not running"));
        let _ = child.kill();
        let _ = child.wait();
        live.retain(|(node, _)| *node != id);
    }

    /// Sends SIGTERM to node `id` without waiting.
    pub fn sigterm(&self, id: u32) {
        signal(self.pid(id), libc::SIGTERM);
    }

    /// Waits (bounded) for node `id` to exit by itself and returns its status.
    pub fn wait_exit(&mut self, id: u32, timeout: Duration) -> ExitStatus {
        let index = id as usize - 1;
        let status = {
            let child = self.children[index]
                .as_mut()
                .unwrap_or_else(|| panic!("node {id} is not running"));
            wait_exit(child, timeout)
        };
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.children[index] = None;
        live.retain(|(node, _)| *node != id);
        status.unwrap_or_else(|| panic!("node {id} did not exit within {timeout:?}"))
    }

    /// SIGTERM node `id` and wait for it to exit; returns its status.
    pub fn stop(&mut self, id: u32) -> ExitStatus {
        self.sigterm(id);
        self.wait_exit(id, Duration::from_secs(10))
    }

    /// Whether node `id` exited on its own (reaping it if so).
    pub fn exited(&mut self, id: u32) -> Option<ExitStatus> {
        let status = self.children[id as usize - 1]
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"));
        if status.is_some() {
            self.reaped(id);
        }
        status
    }

    /// The whole log file of node `id` (every start).
    pub fn log_text(&self, id: u32) -> String {
        read_text(&self.node(id).log)
    }

    /// The log of node `id` since its latest start.
    pub fn current_log(&self, id: u32) -> String {
        let text = self.log_text(id);
        match text.rfind(START_MARKER) {
            Some(at) => text[at..].to_owned(),
            None => text,
        }
    }

    /// Waits until the current log of node `id` contains `needle`; returns that log.
    pub fn wait_for_log(&self, id: u32, needle: &str, timeout: Duration) -> String {
        wait_for(&format!("{needle:?} in node {id}'s log"), timeout, || {
            let log = self.current_log(id);
            if log.contains(needle) {
                Ok(log)
            } else {
                Err(tail(&log, 3))
            }
        })
    }

    /// The "node N started: epoch E, ..., log A..B" line of the latest start of node `id`.
    pub fn start_line(&self, id: u32) -> StartLine {
        let log = self.current_log(id);
        let line = log
            .lines()
            .find(|l| l.contains(&format!("node {id} started: epoch ")))
            .unwrap_or_else(|| panic!("node {id} logged no start line:\n{log}"));
        let epoch = line
            .split("started: epoch ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|e| e.trim().parse().ok())
            .unwrap_or_else(|| panic!("no epoch in {line:?}"));
        let range = line
            .rsplit(", log ")
            .next()
            .unwrap_or_else(|| panic!("no log range in {line:?}"));
        let (start, end) = range
            .trim()
            .split_once("..")
            .unwrap_or_else(|| panic!("no log range in {line:?}"));
        StartLine {
            epoch,
            log_start: start.parse().expect("log start"),
            log_end: end.parse().expect("log end"),
        }
    }

    /// Node `id`'s own answer to DescribeQuorum.
    pub fn view(&self, id: u32) -> Result<View, String> {
        let mut client = Client::connect(&self.address(id)).map_err(|e| e.to_string())?;
        view_with(&mut client, id)
    }

    /// The quorum described through node `id` (following to the leader), as the library does
    /// for `keel quorum describe`.
    pub fn describe(&self, id: u32) -> Result<QuorumDescription, DescribeError> {
        keel::admin::quorum::describe(&self.address(id))
    }

    /// Runs the real `keel quorum describe` against node `id`; its stdout, or the error.
    pub fn describe_cli(&self, id: u32, replication: bool) -> Result<String, String> {
        let address = self.address(id);
        let mut args = vec!["quorum", "describe", "--bootstrap-controller", &address];
        if replication {
            args.push("--replication");
        }
        let output = run_keel(&args, Duration::from_secs(20));
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// Every running node's view, if every one answered.
    pub fn views(&self) -> Result<Vec<View>, String> {
        self.running().into_iter().map(|id| self.view(id)).collect()
    }

    /// Waits until exactly one running node answers as leader and every running node names it
    /// in the same epoch; returns (leader, epoch).
    pub fn wait_for_leader(&self, timeout: Duration) -> (u32, u32) {
        wait_for("one leader all running nodes agree on", timeout, || {
            agreed_leader(&self.views()?)
        })
    }

    /// Waits until the leader (agreed on by all running nodes) has a high watermark of at
    /// least `offset`; returns the view of the leader.
    pub fn wait_for_high_watermark(&self, offset: i64, timeout: Duration) -> View {
        wait_for(
            &format!("a leader with a high watermark >= {offset}"),
            timeout,
            || {
                let views = self.views()?;
                let (leader, _) = agreed_leader(&views)?;
                let view = views
                    .into_iter()
                    .find(|v| v.node == leader)
                    .expect("leader");
                if view.high_watermark >= offset {
                    Ok(view)
                } else {
                    Err(format!("{view:?}"))
                }
            },
        )
    }

    /// Waits until every voter's log end offset, as the leader reports it, reaches the
    /// leader's high watermark; returns the description.
    pub fn wait_for_caught_up(&self, timeout: Duration) -> QuorumDescription {
        wait_for(
            "every voter caught up to the high watermark",
            timeout,
            || {
                let id = self.running().first().copied().ok_or("nothing runs")?;
                let d = self.describe(id).map_err(|e| e.to_string())?;
                if d.voters.len() == self.nodes.len()
                    && d.voters
                        .iter()
                        .all(|v| v.log_end_offset >= d.high_watermark)
                {
                    Ok(d)
                } else {
                    Err(format!("{d:?}"))
                }
            },
        )
    }

    /// The batches of node `id`'s log (which must be stopped) with base offset below
    /// `below`, read with the storage engine from a copy of its partition directory. Panics
    /// if the log ends before `below`.
    pub fn stored_batches(&self, id: u32, below: u64) -> Vec<StoredBatch> {
        assert!(!self.is_running(id), "read the log of a stopped node");
        let copies = self.root.join("copies");
        let n = CLUSTERS.fetch_add(1, Ordering::Relaxed);
        let copy = copies.join(format!("node{id}-{n}"));
        copy_dir(&self.node(id).data_dir.join(METADATA_PARTITION_DIR), &copy);
        let log = Log::open(
            &copy,
            LogConfig::with_segment_bytes(self.settings.segment_bytes),
        )
        .unwrap_or_else(|e| panic!("node {id}'s log does not open: {e}"));
        assert!(
            log.log_end_offset() >= below,
            "node {id}'s log ends at {}, before {below}",
            log.log_end_offset()
        );
        let batch_bytes_max = log.config().batch_bytes_max;
        let mut batches = Vec::new();
        let mut offset = log.log_start_offset();
        while offset < below {
            let bytes = log.read(offset, 1 << 20).expect("read the log");
            assert!(!bytes.is_empty(), "empty read at {offset}");
            for item in Scanner::new(bytes, batch_bytes_max) {
                match item {
                    ScanItem::Batch { batch, .. } => {
                        let header = batch.header;
                        if header.base_offset >= below {
                            break;
                        }
                        assert_eq!(header.base_offset, offset, "a gap in node {id}'s log");
                        offset = header.next_offset();
                        batches.push(StoredBatch {
                            base_offset: header.base_offset,
                            next_offset: header.next_offset(),
                            bytes: batch.bytes.to_vec(),
                        });
                    }
                    ScanItem::CleanEnd { .. } => break,
                    other => panic!("node {id}'s log at {offset}: {other:?}"),
                }
            }
        }
        drop(log);
        let _ = fs::remove_dir_all(&copy);
        batches
    }

    /// Asserts that the committed log below `high_watermark` is byte-identical on every node
    /// (all stopped); returns it.
    pub fn assert_identical_logs(&self, high_watermark: u64) -> Vec<StoredBatch> {
        let reference = self.stored_batches(1, high_watermark);
        assert!(
            reference
                .last()
                .is_some_and(|b| b.next_offset >= high_watermark),
            "node 1's batches do not reach {high_watermark}"
        );
        for id in self.ids().into_iter().skip(1) {
            let batches = self.stored_batches(id, high_watermark);
            assert_eq!(
                batches.len(),
                reference.len(),
                "node {id} and node 1 hold different numbers of batches below {high_watermark}"
            );
            for (a, b) in reference.iter().zip(&batches) {
                assert!(
                    a == b,
                    "node {id}'s batch at offset {} differs from node 1's",
                    b.base_offset
                );
            }
        }
        reference
    }

    /// Prints the tail of every node's log to stderr (captured by the test harness and shown
    /// when the test fails).
    pub fn print_logs(&self, lines: usize) {
        for node in &self.nodes {
            eprintln!(
                "===== node {} ({}), last {lines} lines =====\n{}",
                node.id,
                node.log.display(),
                tail(&read_text(&node.log), lines)
            );
        }
    }
}

/// The leader every view agrees on (same leader and epoch, exactly one answering as leader).
pub fn agreed_leader(views: &[View]) -> Result<(u32, u32), String> {
    let leaders: Vec<&View> = views.iter().filter(|v| v.is_leader).collect();
    let [leader] = leaders.as_slice() else {
        return Err(format!(
            "{} nodes answer as leader: {views:?}",
            leaders.len()
        ));
    };
    if leader.leader != Some(leader.node) {
        return Err(format!("the leader names another leader: {leader:?}"));
    }
    if views
        .iter()
        .any(|v| v.leader != Some(leader.node) || v.epoch != leader.epoch)
    {
        return Err(format!("not every node agrees: {views:?}"));
    }
    Ok((leader.node, leader.epoch))
}

/// Copies the files of `from` into `to`, and its subdirectories' the same way.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create the copy");
    for entry in fs::read_dir(from).expect("read the directory") {
        let entry = entry.expect("directory entry");
        let kind = entry.file_type().expect("file type");
        if kind.is_file() {
            fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a file");
        } else if kind.is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "cluster {} failed; its files are in {} (removed unless KEEL_TEST_KEEP is set)",
                self.name,
                self.root.display()
            );
            self.print_logs(40);
        }
        for id in self.all_ids() {
            if self.is_running(id) {
                self.kill(id);
            }
        }
        if let Some((stop, watchdog)) = self.watchdog.take() {
            let _ = stop.send(());
            let _ = watchdog.join();
        }
        if std::env::var_os("KEEL_TEST_KEEP").is_none() {
            for node in &self.nodes {
                let _ = fs::remove_dir_all(&node.data_dir);
            }
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// A small helper for writing raw bytes to a node and seeing what it does.
pub struct RawConnection {
    pub stream: std::net::TcpStream,
}

impl RawConnection {
    pub fn connect(address: &str) -> RawConnection {
        let stream = std::net::TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .expect("write timeout");
        RawConnection { stream }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends `body` with a four-byte size prefix.
    pub fn send_frame(&mut self, body: &[u8]) {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        self.send(&frame);
    }

    /// Reads one response frame (without its size prefix).
    pub fn read_frame(&mut self) -> Vec<u8> {
        let mut prefix = [0u8; 4];
        self.stream
            .read_exact(&mut prefix)
            .expect("a response size");
        let size = u32::from_be_bytes(prefix) as usize;
        assert!(size < 1 << 20, "a response of {size} bytes");
        let mut frame = vec![0u8; size];
        self.stream.read_exact(&mut frame).expect("a response");
        frame
    }

    /// True if the node closed the connection (EOF or reset) without sending anything more;
    /// panics if it sends bytes or the read times out.
    pub fn closed_by_peer(&mut self) -> bool {
        let mut buffer = [0u8; 64];
        match self.stream.read(&mut buffer) {
            Ok(0) => true,
            Ok(n) => panic!("expected the connection closed, got {n} bytes"),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
            Err(e) => panic!("expected the connection closed, got {e}"),
        }
    }
}
