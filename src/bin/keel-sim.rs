//! keel-sim: runs the deterministic whole-cluster simulator over many seeds, or replays one.
//!
//! `keel-sim --seed 0x...` replays exactly one run (printing its trace if it fails);
//! `keel-sim --seeds N` or `--minutes M` runs random seeds until done or until the first
//! violation, and prints seeds and simulated events per second as its last line. Exit status
//! (`keel::exit::ExitStatus`): success, `Failed` on a violation, `Usage` for a bad command line.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use keel::exit::ExitStatus;
use keel::prng::Prng;
use keel::raft::BugInjection;
use keel::sim::{self, SimConfig};

#[derive(Parser, Debug)]
#[command(
    name = "keel-sim",
    about = "Deterministic fault simulation of keel's Raft core"
)]
struct Args {
    /// Replay exactly this seed (hex with 0x, or decimal).
    #[arg(long, value_parser = parse_seed)]
    seed: Option<u64>,
    /// Run this many random seeds.
    #[arg(long)]
    seeds: Option<u64>,
    /// Run random seeds for this many minutes.
    #[arg(long)]
    minutes: Option<f64>,
    /// Where the random seeds start (default: from the clock); printed so a run can be repeated.
    #[arg(long, value_parser = parse_seed)]
    base: Option<u64>,
    /// Worker threads for --seeds/--minutes.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// With --seed: print this many trace lines of the run's end (failing or not).
    #[arg(long)]
    trace_lines: Option<usize>,
    /// Deliberately break the core (to see the checkers catch it): SkipUpToDateVoteCheck,
    /// FetchBeforeFlush, HighWatermarkBeforeEpochStart, NoRejoinProbe.
    #[arg(long)]
    bug: Option<String>,
}

fn parse_seed(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("bad seed {s:?}: {e}"))
}

fn parse_bug(s: &str) -> Option<BugInjection> {
    match s {
        "SkipUpToDateVoteCheck" => Some(BugInjection::SkipUpToDateVoteCheck),
        "FetchBeforeFlush" => Some(BugInjection::FetchBeforeFlush),
        "HighWatermarkBeforeEpochStart" => Some(BugInjection::HighWatermarkBeforeEpochStart),
        "NoRejoinProbe" => Some(BugInjection::NoRejoinProbe),
        "None" => Some(BugInjection::None),
        _ => None,
    }
}

fn exit(status: ExitStatus) -> ExitCode {
    ExitCode::from(status.code())
}

/// Success, or `Failed` when a run found a violation.
fn status_of(violation: bool) -> ExitStatus {
    if violation {
        ExitStatus::Failed
    } else {
        ExitStatus::Success
    }
}

fn config_for(seed: u64, bug: BugInjection) -> SimConfig {
    let mut c = SimConfig::from_seed(seed);
    c.bug = bug;
    c
}

/// Runs exactly one seed, printing its report (and with `trace_lines` the end of its trace).
fn replay(seed: u64, bug: BugInjection, trace_lines: Option<usize>) -> ExitStatus {
    let start = Instant::now();
    let o = sim::run(config_for(seed, bug));
    let secs = start.elapsed().as_secs_f64();
    println!("{}", sim::report(&o));
    if let Some(lines) = trace_lines {
        let end = o.violation.as_ref().map_or(o.stats.events, |v| v.event);
        println!(
            "last {lines} events:\n{}",
            sim::replay_trace(&o.config, end, lines)
        );
    }
    println!(
        "seeds: 1, events: {}, simulated events/s: {:.0}, violations: {}",
        o.stats.events,
        o.stats.events as f64 / secs.max(1e-9),
        u8::from(o.violation.is_some())
    );
    status_of(o.violation.is_some())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let bug = match args.bug.as_deref().map(parse_bug) {
        None => BugInjection::None,
        Some(Some(bug)) => bug,
        Some(None) => {
            eprintln!("unknown bug {:?}", args.bug.unwrap_or_default());
            return exit(ExitStatus::Usage);
        }
    };
    if let Some(seed) = args.seed {
        return exit(replay(seed, bug, args.trace_lines));
    }
    let limit_seeds = args.seeds;
    let limit_time = args.minutes.map(|m| Duration::from_secs_f64(m * 60.0));
    if limit_seeds.is_none() && limit_time.is_none() {
        eprintln!("give --seed, --seeds N or --minutes M");
        return exit(ExitStatus::Usage);
    }
    let base = args.base.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    println!("keel-sim: base {base:#x}, jobs {}, bug {bug:?}", args.jobs);
    let start = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let done_seeds = Arc::new(AtomicU64::new(0));
    let events = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..args.jobs.max(1) {
        let (next, done_seeds, events, failed) = (
            next.clone(),
            done_seeds.clone(),
            events.clone(),
            failed.clone(),
        );
        handles.push(std::thread::spawn(move || {
            loop {
                if failed.load(Ordering::SeqCst) {
                    return;
                }
                if limit_time.is_some_and(|t| start.elapsed() >= t) {
                    return;
                }
                let k = next.fetch_add(1, Ordering::SeqCst);
                if limit_seeds.is_some_and(|n| k >= n) {
                    return;
                }
                let seed = Prng::new(base.wrapping_add(k)).next_u64();
                let o = sim::run(config_for(seed, bug));
                events.fetch_add(o.stats.events, Ordering::SeqCst);
                let n = done_seeds.fetch_add(1, Ordering::SeqCst) + 1;
                if o.violation.is_some() {
                    if !failed.swap(true, Ordering::SeqCst) {
                        println!("{}", sim::report(&o));
                    }
                    return;
                }
                if n % 100 == 0 {
                    let secs = start.elapsed().as_secs_f64();
                    println!(
                        "  {n} seeds, {} events, {:.0} events/s, {:.0} s",
                        events.load(Ordering::SeqCst),
                        events.load(Ordering::SeqCst) as f64 / secs,
                        secs
                    );
                }
            }
        }));
    }
    for h in handles {
        let _ = h.join();
    }
    let secs = start.elapsed().as_secs_f64();
    let ev = events.load(Ordering::SeqCst);
    let bad = failed.load(Ordering::SeqCst);
    println!(
        "seeds: {}, events: {ev}, wall: {secs:.0} s, simulated events/s: {:.0}, violations: {}",
        done_seeds.load(Ordering::SeqCst),
        ev as f64 / secs.max(1e-9),
        u8::from(bad)
    );
    exit(status_of(bad))
}
