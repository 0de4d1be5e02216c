//! Failover, start-up and idle cost of a real 3-node keel quorum on 127.0.0.1 (issue 5's
//! acceptance measurements). `cargo bench --bench failover [-- --runs N --idle-seconds S --forwarded-only]`
//! (`--forwarded-only`: measurement (d) alone).
//!
//! Every node is a real `keel start` process (the harness in `tests/common`), with its data
//! directory on /dev/shm when it exists (else the temp dir), so flushes are cheap and what is
//! measured is the protocol and its timers, not the disk.
//!
//! (a) Failover: the leader of a settled quorum (all three voters caught up) is killed with
//!     SIGKILL at a random moment within one NoOp interval; the two survivors are polled with
//!     DescribeQuorum on open connections every millisecond. The time is from the kill to the
//!     first poll in which a survivor answers as leader of a higher epoch with a high
//!     watermark past the offset at which its epoch starts (its LeaderChange record, read from
//!     its log line "epoch starts at offset S"): the first commit by the new leader. The old
//!     leader is restarted and the quorum settles before the next run. Measured once with
//!     Kafka's default timeouts and once with the fast settings below. A killed leader's
//!     connections are reset by the kernel, which the followers act on at once (a pre-vote
//!     after a random delay below 200 ms, `RAFT_LEADER_LOST_JITTER_MS`), so the ratio to the
//!     fetch timeout, the time a follower would otherwise wait, is well below 1.
//!     Then the same with the leader paused (SIGSTOP) with Kafka's defaults: its sockets stay
//!     open and silent, so the followers wait out the fetch timeout and an election; the old
//!     leader resumes (SIGCONT) and rejoins as a follower before the next run.
//! (b) Start-up: three freshly formatted nodes are spawned back to back; the time is from just
//!     before the first spawn to the first poll in which one of them answers as leader.
//!     With Kafka's defaults (the final line) and with the fast settings.
//! (c) Idle CPU: a settled 3-node quorum with Kafka's defaults (a NoOp every 500 ms and
//!     nothing else), after 2 s to let start-up work (zero-filling ahead, the spare segment)
//!     finish; user + system time of the three processes from /proc/<pid>/stat over
//!     --idle-seconds, as a percentage of one core, summed over the three. The same for the
//!     fast settings, with the number of elections in that window (a fast setting that is
//!     too fast shows up as spurious elections on an idle quorum).
//! (d) A forwarded write in flight at the leader's death: a 4th process, a broker
//!     (`process.roles=broker`), forwards a client's CreateTopics to the active controller,
//!     which was paused (SIGSTOP) just before so that the request is certainly in flight; 200
//!     ms later the controller is killed (SIGKILL) or left paused. The time is from the new
//!     leader's election (the first poll in which a survivor answers as leader of a later
//!     epoch) to the client's answer, which must be a success: the broker sends the request
//!     again to the new leader (when the connection is reset, or when it learns of a later
//!     epoch). Printed with the time from the kill to the answer. Kafka's default timeouts.
//!
//! Fast settings: election 100 ms, fetch 300 ms, election backoff max 100 ms, NoOp every
//! 100 ms. Why these are safe on loopback: a follower suspects its leader only after 300 ms
//! without a successful fetch, while a healthy leader answers a parked fetch at least every
//! 60 ms (fetch timeout / 5) and every NoOp. On this 2-core machine shared with other builds,
//! with two extra CPU hogs and the data on a real disk, a 100 ms fetch timeout produced
//! spurious elections within 30 s, 200 ms and 300 ms produced none; 300 ms keeps a 3x margin
//! over the first value that failed. On a LAN or with spinning disks (a slow fsync stalls the
//! loop), use more.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use keel::admin::client::Client;

use common::brokers::{LeaderFault, create_in_flight_at_leader_kill};
use common::{Cluster, Settings, view_with};

struct Args {
    runs: usize,
    idle_seconds: u64,
    forwarded_only: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        runs: 20,
        idle_seconds: 10,
        forwarded_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => {
                args.runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .expect("--runs N (N > 0)")
            }
            "--idle-seconds" => {
                args.idle_seconds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .expect("--idle-seconds S (S > 0)")
            }
            "--forwarded-only" => args.forwarded_only = true,
            // cargo bench passes --bench; a filter or other flags mean nothing here.
            _ => {}
        }
    }
    args
}

fn bench_settings(settings: Settings) -> Settings {
    Settings {
        test_timeout: Duration::from_secs(3600),
        ..settings
    }
}

fn kafka_defaults() -> Settings {
    bench_settings(Settings::kafka_defaults())
}

fn fast() -> Settings {
    bench_settings(Settings {
        election_timeout_ms: 100,
        fetch_timeout_ms: 300,
        idle_interval_ms: 100,
        ..Settings::kafka_defaults()
    })
    .with("controller.quorum.election.backoff.max.ms", 100)
}

fn describe_settings(s: &Settings) -> String {
    let extra: Vec<String> = s.extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "election.timeout.ms={} fetch.timeout.ms={} append.linger.ms={} max.idle.interval.ms={} {}",
        s.election_timeout_ms,
        s.fetch_timeout_ms,
        s.append_linger_ms,
        s.idle_interval_ms,
        extra.join(" ")
    )
}

/// A small deterministic PRNG (xorshift), seeded from the clock: only for the kill's phase.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn summary(name: &str, values: &[f64]) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{name}: runs {} min {:.1} p10 {:.1} median {:.1} p90 {:.1} max {:.1}",
        sorted.len(),
        sorted[0],
        percentile(&sorted, 0.1),
        median(&sorted),
        percentile(&sorted, 0.9),
        sorted[sorted.len() - 1]
    );
}

/// The offset at which node `id`'s epoch `epoch` starts, from its log line.
fn epoch_start(cluster: &Cluster, id: u32, epoch: u32) -> Option<i64> {
    let needle = format!("node {id} is leader of epoch {epoch} (");
    let log = cluster.current_log(id);
    let line = log.lines().find(|l| l.contains(&needle))?;
    line.rsplit("epoch starts at offset ")
        .next()?
        .trim()
        .parse()
        .ok()
}

/// How the leader is taken away.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// kill -9: the kernel resets its connections and refuses new ones, which the followers
    /// act on at once.
    Kill,
    /// SIGSTOP: its sockets stay open and silent, so only the timeouts can tell.
    Pause,
}

/// One failover: kill -9 (or SIGSTOP) the leader of a settled quorum, time until the new
/// leader's first commit, restart (or SIGCONT) the old leader. Returns milliseconds.
fn failover_once(cluster: &mut Cluster, rng: &mut Rng, fault: Fault) -> f64 {
    let (leader, epoch) = cluster.wait_for_leader(Duration::from_secs(60));
    cluster.wait_for_caught_up(Duration::from_secs(60));
    let survivors: Vec<u32> = cluster
        .ids()
        .into_iter()
        .filter(|id| *id != leader)
        .collect();
    let mut clients: Vec<(u32, Option<Client>)> = survivors
        .iter()
        .map(|id| (*id, Client::connect(&cluster.address(*id)).ok()))
        .collect();
    // Kill at a random phase of the NoOp / fetch cycle.
    thread::sleep(Duration::from_millis(
        rng.below(cluster.settings.idle_interval_ms),
    ));
    let killed = Instant::now();
    match fault {
        Fault::Kill => cluster.kill(leader),
        Fault::Pause => common::signal(cluster.pid(leader), libc::SIGSTOP),
    }
    let took = loop {
        let mut committed = None;
        for (id, client) in clients.iter_mut() {
            if client.is_none() {
                *client = Client::connect(&cluster.address(*id)).ok();
            }
            let Some(connection) = client.as_mut() else {
                continue;
            };
            match view_with(connection, *id) {
                Ok(view) if view.is_leader && view.epoch > epoch => {
                    if let Some(start) = epoch_start(cluster, *id, view.epoch)
                        && view.high_watermark > start
                    {
                        committed = Some(killed.elapsed());
                    }
                }
                Ok(_) => {}
                Err(_) => *client = None,
            }
        }
        if let Some(took) = committed {
            break took;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "no new leader committed within 60 s of killing node {leader}"
        );
        thread::sleep(Duration::from_millis(1));
    };
    match fault {
        Fault::Kill => cluster.start_node(leader),
        Fault::Pause => common::signal(cluster.pid(leader), libc::SIGCONT),
    }
    took.as_secs_f64() * 1000.0
}

fn failover(name: &str, settings: Settings, runs: usize, fault: Fault) -> f64 {
    let name = match fault {
        Fault::Kill => name.to_owned(),
        Fault::Pause => format!("{name}_sigstop"),
    };
    println!(
        "# (a) failover, {name}, leader {}: {}",
        match fault {
            Fault::Kill => "killed (SIGKILL)",
            Fault::Pause => "paused (SIGSTOP)",
        },
        describe_settings(&settings)
    );
    let fetch_timeout_ms = settings.fetch_timeout_ms as f64;
    let mut cluster = Cluster::new(&format!("bench-failover-{name}"), 3, settings);
    cluster.start_all();
    let mut rng = Rng::new();
    let times: Vec<f64> = (0..runs)
        .map(|_| failover_once(&mut cluster, &mut rng, fault))
        .collect();
    let rounded: Vec<String> = times.iter().map(|t| format!("{t:.0}")).collect();
    println!("failover_{name}_runs_ms: {}", rounded.join(" "));
    summary(&format!("failover_{name}_ms"), &times);
    let m = median(&times);
    println!(
        "failover_{name}_median_over_fetch_timeout: {:.2} (fetch timeout {fetch_timeout_ms} ms)",
        m / fetch_timeout_ms
    );
    m
}

/// (d): a CreateTopics through a broker in flight when the leader dies, `runs` times; returns
/// the median from the election to the answer, in milliseconds.
fn forwarded_in_flight(settings: Settings, runs: usize, fault: LeaderFault) -> f64 {
    let name = match fault {
        LeaderFault::Kill => "kill",
        LeaderFault::Pause => "sigstop",
    };
    println!(
        "# (d) a forwarded CreateTopics in flight when the leader dies ({name}): {}",
        describe_settings(&settings)
    );
    let settings = Settings {
        brokers: 1,
        ..settings
    };
    let mut cluster = Cluster::new(&format!("bench-forwarded-{name}"), 3, settings);
    cluster.start_all();
    let broker = cluster.broker_ids()[0];
    cluster.wait_for_log(
        broker,
        "unfenced by the controller",
        Duration::from_secs(60),
    );
    let mut after_election = Vec::new();
    let mut after_fault = Vec::new();
    for run in 0..runs {
        let (leader, _) = cluster.wait_for_leader(Duration::from_secs(60));
        let topic = format!("forwarded-{name}-{run}");
        let outcome = create_in_flight_at_leader_kill(
            &mut cluster,
            broker,
            &topic,
            Duration::from_millis(200),
            fault,
        );
        let result = &outcome.response.topics[0];
        assert_eq!(
            result.error_code,
            keel::protocol::ErrorCode::None.code(),
            "run {run}: the create of {topic} failed: {:?}",
            result.error_message
        );
        let answered = outcome.answered_after_kill.as_secs_f64() * 1000.0;
        let elected = outcome.elected_after_kill.as_secs_f64() * 1000.0;
        after_election.push((answered - elected).max(0.0));
        after_fault.push(answered);
        if fault == LeaderFault::Kill {
            cluster.start_node(leader);
        }
        cluster.wait_for_leader(Duration::from_secs(60));
    }
    let rounded: Vec<String> = after_election.iter().map(|t| format!("{t:.0}")).collect();
    println!(
        "forwarded_create_{name}_after_election_runs_ms: {}",
        rounded.join(" ")
    );
    summary(
        &format!("forwarded_create_{name}_after_election_ms"),
        &after_election,
    );
    summary(
        &format!("forwarded_create_{name}_after_fault_ms"),
        &after_fault,
    );
    median(&after_election)
}

/// One start-up: spawn three formatted nodes, time until one answers as leader.
fn startup_once(name: &str, settings: &Settings) -> Option<f64> {
    let mut cluster = Cluster::new(&format!("bench-startup-{name}"), 3, settings.clone());
    let started = Instant::now();
    for id in cluster.ids() {
        cluster.spawn(id);
    }
    loop {
        for id in cluster.ids() {
            if cluster.exited(id).is_some() {
                // Lost its port to another process between our pick and its bind: retry.
                return None;
            }
            if cluster.view(id).is_ok_and(|v| v.is_leader) {
                return Some(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no leader within 60 s of start"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

fn startup(name: &str, settings: Settings, runs: usize) -> f64 {
    println!(
        "# (b) start-up to leader, {name}: {}",
        describe_settings(&settings)
    );
    let mut times = Vec::new();
    let mut lost = 0;
    while times.len() < runs {
        match startup_once(name, &settings) {
            Some(t) => times.push(t),
            None => {
                lost += 1;
                assert!(lost < 10, "ten start-ups lost their ports");
            }
        }
    }
    summary(&format!("startup_to_leader_{name}_ms"), &times);
    median(&times)
}

/// utime + stime of `pid` in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `fields[0]` is field 3 (state).
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

fn idle_cpu(name: &str, settings: Settings, seconds: u64) -> f64 {
    println!("# (c) idle CPU, {name}: {}", describe_settings(&settings));
    let cluster = Cluster::start(&format!("bench-idle-{name}"), 3, settings);
    cluster.wait_for_caught_up(Duration::from_secs(60));
    // Let start-up work (zero-filling ahead, the spare segment) finish: part of starting, not
    // of idling.
    thread::sleep(Duration::from_secs(2));
    let (_, epoch_before) = cluster.wait_for_leader(Duration::from_secs(60));
    let elections_before: usize = cluster
        .ids()
        .iter()
        .map(|id| cluster.log_text(*id).matches("is leader of epoch").count())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let pids: Vec<u32> = cluster.ids().iter().map(|id| cluster.pid(*id)).collect();
    let before: Vec<u64> = pids.iter().map(|p| cpu_ticks(*p)).collect();
    let started = Instant::now();
    thread::sleep(Duration::from_secs(seconds));
    let after: Vec<u64> = pids.iter().map(|p| cpu_ticks(*p)).collect();
    let elapsed = started.elapsed().as_secs_f64();
    let per_node: Vec<f64> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b) as f64 / ticks_per_second / elapsed * 100.0)
        .collect();
    let total: f64 = per_node.iter().sum();
    let elections_after: usize = cluster
        .ids()
        .iter()
        .map(|id| cluster.log_text(*id).matches("is leader of epoch").count())
        .sum();
    let (_, epoch_after) = cluster.wait_for_leader(Duration::from_secs(60));
    let per_node: Vec<String> = per_node.iter().map(|p| format!("{p:.2}")).collect();
    println!(
        "idle_cpu_{name}_percent_per_node: {} (over {elapsed:.1} s, {ticks_per_second} ticks/s)",
        per_node.join(" ")
    );
    println!(
        "idle_{name}_elections_in_window: {} (epoch {epoch_before} -> {epoch_after})",
        elections_after - elections_before
    );
    println!("idle_cpu_{name}_percent_3_nodes: {total:.2}");
    total
}

fn main() {
    let args = parse_args();
    let began = Instant::now();
    println!(
        "# keel failover bench: 3 keel processes on 127.0.0.1, {} runs per measurement, idle window {} s",
        args.runs, args.idle_seconds
    );
    if args.forwarded_only {
        let kill = forwarded_in_flight(kafka_defaults(), args.runs, LeaderFault::Kill);
        let paused = forwarded_in_flight(kafka_defaults(), args.runs, LeaderFault::Pause);
        println!("forwarded_create_kill_after_election_median_ms: {kill:.0}");
        println!("forwarded_create_sigstop_after_election_median_ms: {paused:.0}");
        return;
    }
    let failover_defaults = failover("kafka_defaults", kafka_defaults(), args.runs, Fault::Kill);
    let failover_fast = failover("fast", fast(), args.runs, Fault::Kill);
    let paused_defaults = failover("kafka_defaults", kafka_defaults(), args.runs, Fault::Pause);
    let forwarded_kill = forwarded_in_flight(kafka_defaults(), args.runs, LeaderFault::Kill);
    let forwarded_paused = forwarded_in_flight(kafka_defaults(), args.runs, LeaderFault::Pause);
    let startup_defaults = startup("kafka_defaults", kafka_defaults(), args.runs);
    startup("fast", fast(), args.runs);
    idle_cpu("fast", fast(), args.idle_seconds);
    let idle_defaults = idle_cpu("kafka_defaults", kafka_defaults(), args.idle_seconds);
    println!("# total bench time {:.0} s", began.elapsed().as_secs_f64());
    println!("failover_kafka_defaults_median_ms: {failover_defaults:.0}");
    println!("failover_fast_median_ms: {failover_fast:.0}");
    println!("failover_sigstop_kafka_defaults_median_ms: {paused_defaults:.0}");
    println!("forwarded_create_kill_after_election_median_ms: {forwarded_kill:.0}");
    println!("forwarded_create_sigstop_after_election_median_ms: {forwarded_paused:.0}");
    println!("startup_to_leader_median_ms: {startup_defaults:.0}");
    println!("idle_cpu_percent_3_nodes: {idle_defaults:.2}");
}
