//! `keel-dump`: inspect and verify a keel node's files without trusting the node. Parsing
//! only; the work is `keel::dump`, built on the storage engine's own readers.
//!
//! Exit status: 0 clean, 1 problems found (verify, snapshot, image) or a read failed, 2 bad
//! usage.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keel::dump::files::{self, discover};
use keel::dump::{image, log, snapshot, stats, verify};
use keel::storage::epochs::{EPOCH_CHECKPOINT_FILE, EpochHistory};
use keel::storage::meta_properties::{META_PROPERTIES_FILE, MetaProperties};
use keel::storage::quorum_state::{QUORUM_STATE_FILE, QuorumState};
use keel::storage::snapshot::SnapshotId;

/// Inspect and verify the segments, indexes, snapshots and quorum state of a keel node.
///
/// Reads with keel's own decoders, so it sees what a node would see. Opens files read-only and
/// streams them through one bounded buffer (about 9 MiB, whatever the size of the files), so it
/// is safe on the directory of a running node: a batch still being written shows up as an
/// incomplete tail. Exit status: 0 when all is well, 1 when problems were found or a file could
/// not be read, 2 on bad usage.
#[derive(Parser)]
#[command(name = "keel-dump", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List batches (and with --records every record) of segments or a whole log.
    ///
    /// One line per batch: base..last offset, leader epoch, record count, byte position and
    /// size, first and max timestamps, control or data, CRC ok. A batch that fails its checks is
    /// shown where it is, with what its header claims, and whether it is a torn tail (nothing
    /// valid after it: what a crash or a live writer leaves, and what recovery would cut) or
    /// corruption (valid data follows it); the listing continues after corruption. With
    /// --records, one line per record under its batch: offset, record type and version, and its
    /// fields (`PartitionChangeRecord v2 topic=orders partition=3 leader=1 isr=[1,2]`); control
    /// records (LeaderChange, SnapshotHeader, SnapshotFooter) by name; a record keel cannot
    /// decode as an ERROR line naming its offset.
    Log {
        /// Segment files, partition directories or data directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Only batches holding an offset at or after this one.
        #[arg(long)]
        from: Option<u64>,
        /// Only batches holding an offset at or before this one.
        #[arg(long)]
        to: Option<u64>,
        /// One JSON object per line (batches, records, notes) instead of text.
        #[arg(long)]
        json: bool,
        /// Under each batch, every record decoded: offset, type, version and fields.
        #[arg(long)]
        records: bool,
    },
    /// Check every file of a data directory; exit 1 when anything is wrong.
    ///
    /// Checks every batch CRC, offsets contiguous within and across segments, epochs never
    /// decreasing, index entries against the segment, every record decoding as a node would
    /// decode it (in the log and in snapshots), snapshots (header, batches, footer, file CRC),
    /// that snapshot and log together cover a contiguous range, meta.properties, quorum-state
    /// and the epoch checkpoint. Prints every problem with file, byte position and offset, and
    /// how recovery would treat it: a torn tail (recovery would cut it), corruption (recovery
    /// would refuse to start), a rebuildable file (index, checkpoint), an unreadable record (a
    /// node would stop applying there). Exits 0 when clean, 1 when problems were found, 2 on
    /// bad usage.
    Verify {
        /// A data directory or its partition directory.
        path: PathBuf,
    },
    /// Show a snapshot file: checks, batches, records by type (and with --records each record).
    ///
    /// The header (end offset, epoch), the footer and file CRC, every batch, and the records
    /// counted by type with their bytes. With --records, every record decoded under its batch,
    /// named by its index in the snapshot. Exits 1 when the file is invalid or holds a record
    /// keel cannot read.
    Snapshot {
        /// A `<end offset>-<epoch>.checkpoint` file.
        file: PathBuf,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// Under each batch, every record decoded: its index in the snapshot, type, version
        /// and fields.
        #[arg(long)]
        records: bool,
    },
    /// Rebuild the metadata (brokers, topics, partitions, configs) as of an offset.
    ///
    /// Brokers (id, epoch, fenced or not, controlled shutdown, listeners, rack), topics with
    /// their partitions (replicas, ISR, leader, leader epoch, partition epoch; in the layout of
    /// `kafka-topics --describe`), configs and feature levels. Rebuilt the way a node rebuilds
    /// it: the newest valid snapshot at or below the offset, then the log's records after it,
    /// applied in order. The files do not record the high watermark, so the newest records may
    /// not be committed yet; the output says which offset the image is at and where it came
    /// from. A record that does not decode or apply stops the replay: the image is shown as of
    /// the record before it, the error names the offset, and the exit status is 1.
    Image {
        /// A data directory or its partition directory.
        path: PathBuf,
        /// The offset to stop at (included); default: the end of the log.
        #[arg(long)]
        at: Option<u64>,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the election state, the directory's identity and the epoch history.
    ///
    /// The election state (epoch, vote, leader) from quorum-state, the directory's identity
    /// (cluster id, node id, directory id) from meta.properties, the pinned directory ids of
    /// the other voters and the epoch history (each leader epoch and the offset it starts at).
    QuorumState {
        /// A data directory or its partition directory.
        path: PathBuf,
    },
    /// Count what a log holds: batches, records and bytes by type, epochs, largest batches.
    ///
    /// Batches (control and data), records, bytes, records and bytes by record type (a record
    /// keel cannot decode counted as unreadable, by its type number), each leader epoch with the
    /// offsets it covers, the time span, the largest batches, and the segments whose scan
    /// stopped at damage (see `verify`).
    Stats {
        /// A data directory or its partition directory.
        path: PathBuf,
    },
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("keel-dump: {message}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let code = match cli.command {
        Command::Log {
            paths,
            from,
            to,
            json,
            records,
        } => {
            let options = log::LogOptions {
                from_offset: from,
                to_offset: to,
                json,
                records,
                ..log::LogOptions::default()
            };
            let mut code = ExitCode::SUCCESS;
            for path in &paths {
                let result =
                    discover(path).and_then(|layout| log::list(&layout, &options, &mut out));
                match result {
                    Ok(listed) if !json => {
                        let _ = writeln!(
                            out,
                            "# {}: {} batches, {} records, {} bad{}",
                            path.display(),
                            listed.batches,
                            listed.records,
                            listed.bad,
                            if listed.unreadable_records > 0 {
                                format!(", {} unreadable records", listed.unreadable_records)
                            } else {
                                String::new()
                            }
                        );
                    }
                    Ok(_) => {}
                    Err(e) => code = fail(format!("{}: {e}", path.display())),
                }
            }
            code
        }
        Command::Verify { path } => match discover(&path) {
            Err(e) => fail(format!("{}: {e}", path.display())),
            Ok(layout) => {
                let report = verify::verify(&layout);
                for note in &report.notes {
                    let _ = writeln!(out, "note: {note}");
                }
                for problem in &report.problems {
                    let _ = writeln!(out, "{problem}");
                }
                let range = report
                    .log_range
                    .map_or("empty".to_string(), |(a, b)| format!("offsets {a}..{b}"));
                let _ = writeln!(
                    out,
                    "verify: {} segment(s), {} batch(es), {} record(s), {range}, {} snapshot(s): {}",
                    report.segments,
                    report.batches,
                    report.records,
                    report.snapshots,
                    if report.problems.is_empty() {
                        "no problems".to_string()
                    } else {
                        format!("{} problem(s)", report.problems.len())
                    }
                );
                if report.problems.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
        },
        Command::Snapshot {
            file,
            json,
            records,
        } => snapshot(
            &file,
            &keel::dump::snapshot::SnapshotOptions { json, records },
            &mut out,
        ),
        Command::Image { path, at, json } => image(&path, at, json, &mut out),
        Command::QuorumState { path } => quorum_state(&path, &mut out),
        Command::Stats { path } => {
            match discover(&path).and_then(|layout| stats::collect(&layout)) {
                Ok(stats) => {
                    let _ = write!(out, "{}", stats.text());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("{}: {e}", path.display())),
            }
        }
    };
    let _ = out.flush();
    code
}

fn snapshot(file: &Path, options: &snapshot::SnapshotOptions, out: &mut dyn Write) -> ExitCode {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let Some(id) = SnapshotId::parse_file_name(name) else {
        return fail(format!(
            "{} is not named <end offset>-<epoch>.checkpoint",
            file.display()
        ));
    };
    match snapshot::describe(file, id, options, out) {
        Ok(described) if described.valid && described.unreadable_records == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => fail(format!("{}: {e}", file.display())),
    }
}

fn image(path: &Path, at: Option<u64>, json: bool, out: &mut dyn Write) -> ExitCode {
    let built = discover(path)
        .and_then(|layout| image::build(&layout, at, keel::dump::stream::ReadConfig::default()));
    let built = match built {
        Ok(Ok(built)) => built,
        Ok(Err(reason)) => return fail(format!("{}: {reason}", path.display())),
        Err(e) => return fail(format!("{}: {e}", path.display())),
    };
    let written = if json {
        image::write_json(&built, out)
    } else {
        image::write_text(&built, out)
    };
    match written {
        Err(e) => fail(e),
        Ok(()) if built.error.is_some() => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    }
}

fn quorum_state(path: &Path, out: &mut dyn Write) -> ExitCode {
    let layout = match discover(path) {
        Ok(layout) => layout,
        Err(e) => return fail(format!("{}: {e}", path.display())),
    };
    let mut code = ExitCode::SUCCESS;
    if let Some(data_dir) = &layout.data_dir {
        let meta_path = data_dir.join(META_PROPERTIES_FILE);
        match files::read_small(&meta_path)
            .map_err(|e| e.to_string())
            .and_then(|b| MetaProperties::decode(&b))
        {
            Ok(meta) => {
                let _ = writeln!(out, "cluster id:     {}", meta.cluster_id);
                let _ = writeln!(out, "node id:        {}", meta.node_id);
                let _ = writeln!(out, "directory id:   {}", meta.directory_id);
            }
            Err(reason) => {
                let _ = writeln!(out, "{}: {reason}", meta_path.display());
                code = ExitCode::from(1);
            }
        }
    }
    let state_path = layout.partition_dir.join(QUORUM_STATE_FILE);
    if !state_path.exists() {
        let _ = writeln!(
            out,
            "quorum-state:   none (the node never took part in an election)"
        );
    } else {
        match files::read_small(&state_path)
            .map_err(|e| e.to_string())
            .and_then(|b| QuorumState::decode(&b))
        {
            Ok(state) => {
                let _ = writeln!(out, "epoch:          {}", state.epoch);
                let _ = writeln!(
                    out,
                    "leader:         {}",
                    state
                        .leader_id
                        .map_or("unknown".into(), |id| id.to_string())
                );
                let _ = writeln!(
                    out,
                    "voted for:      {}",
                    state.voted_for.map_or("nobody".into(), |v| format!(
                        "node {} (directory {})",
                        v.node_id, v.directory_id
                    ))
                );
                let _ = writeln!(
                    out,
                    "written by:     directory {}",
                    state.local_directory_id
                );
            }
            Err(reason) => {
                let _ = writeln!(out, "{}: {reason}", state_path.display());
                code = ExitCode::from(1);
            }
        }
    }
    let pins = layout.partition_dir.join("voter-directories");
    if let Ok(bytes) = files::read_small(&pins) {
        let _ = writeln!(out, "pinned directory ids of the other voters:");
        for line in String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.starts_with('#'))
        {
            let _ = writeln!(out, "  node {line}");
        }
    }
    let checkpoint = layout.partition_dir.join(EPOCH_CHECKPOINT_FILE);
    if let Ok(history) = files::read_small(&checkpoint)
        .map_err(|e| e.to_string())
        .and_then(|b| EpochHistory::decode(&b))
    {
        let _ = writeln!(out, "epoch history (epoch: first offset):");
        for entry in history.entries() {
            let _ = writeln!(out, "  {}: {}", entry.epoch, entry.start_offset);
        }
    }
    code
}
