//! The node's state machine: the metadata image built from committed records, the quorum
//! controller that runs on the Raft leader, the replies that wait for their records to commit,
//! and snapshots of the image.
//!
//! Invariants:
//! - Records are applied in log order, each exactly once, and only below the high watermark
//!   (`applied_end` never passes it). A committed record that does not decode or apply is
//!   [`Fatal`], named by its offset: a replica that skipped it would diverge from the others.
//! - The controller is active only while this node leads epoch `active_epoch` and the epoch's
//!   LeaderChange record has been applied, so the image holds every record of earlier epochs
//!   (the point at which Kafka's controller claims leadership too).
//! - A reply leaves only once the records it depends on are applied (committed). Replies still
//!   waiting when leadership is lost are handed back to be answered `NOT_CONTROLLER`.
//! - Snapshots are of the committed image only. One is written in steps of a bounded size
//!   (`SNAPSHOT_STEP_BYTES`, or one topic if larger, per event-loop iteration) from a clone of
//!   the image, so a large image never stalls the loop; the file gets its name only when
//!   complete and durable, and only then is Raft told of it (which may delete the log prefix
//!   it covers).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use log::info;

use super::Fatal;
use super::controller_wire::{ControllerReply, ControllerRequest};
use crate::batch_size::{EMPTY_BATCH_BYTES, record_bytes};
use crate::constants::{
    BATCH_BYTES_MAX, BATCH_RECORDS_MAX, SNAPSHOT_AT_SHUTDOWN_BYTES_MIN, SNAPSHOT_STEP_BYTES,
};
use crate::metadata::controller::{ControllerConfig, Outcome};
use crate::metadata::record::decode_control_at;
use crate::metadata::snapshot::{
    SnapshotLoader, config_records, encode_snapshot_footer, encode_snapshot_header,
    prelude_records, topic_records,
};
use crate::metadata::{Controller, Image, MetadataRecord};
use crate::protocol::Uuid;
use crate::storage::batch::decode_batch;
use crate::storage::snapshot::{
    SnapshotId, SnapshotReader, SnapshotWriter, delete_snapshots_before, latest_snapshot,
};
use crate::storage::{Log, StorageError};

/// When a node writes a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// After this many bytes of records applied since the last snapshot.
    pub max_record_bytes: u64,
    /// After this long since the last snapshot, if anything was applied (0: never by age).
    pub max_interval_ms: u64,
}

/// What a request to the controller turned into.
pub enum Handled {
    /// Answer now.
    Reply(ControllerReply),
    /// The controller is not active here: answer `NOT_CONTROLLER`.
    NotController,
    /// Propose `records` (if any) as one batch at the offset given to
    /// [`StateMachine::handle`]; then answer now (`release_at` is `None`) or hold the reply
    /// with [`StateMachine::wait`] until the record at `release_at` is applied.
    Propose {
        records: Vec<Vec<u8>>,
        reply: ControllerReply,
        release_at: Option<u64>,
    },
}

pub struct StateMachine<W> {
    dir: PathBuf,
    controller: Controller,
    /// Every record below this offset is applied to the committed image.
    applied_end: u64,
    /// The epoch of the batch holding `applied_end - 1` (0 before any record).
    applied_epoch: u32,
    /// The epoch this node leads with an active controller.
    active_epoch: Option<u32>,
    /// Replies waiting for their records, by (offset to pass, arrival order).
    waiting: BTreeMap<(u64, u64), (W, ControllerReply)>,
    next_waiting: u64,
    policy: SnapshotPolicy,
    bytes_since_snapshot: u64,
    last_snapshot_ms: u64,
    latest_snapshot: Option<SnapshotId>,
    job: Option<SnapshotJob>,
}

impl<W> StateMachine<W> {
    /// Loads the newest snapshot of partition directory `dir`, if any: the image starts there,
    /// and the log after it is applied as it is committed.
    pub fn open(
        dir: &Path,
        config: ControllerConfig,
        policy: SnapshotPolicy,
        now_ms: u64,
    ) -> Result<StateMachine<W>, Fatal> {
        let latest = latest_snapshot(dir)?;
        let image = match latest {
            Some(id) => {
                let image = load_snapshot(dir, id)?;
                info!(
                    "loaded snapshot {}: {} brokers, {} topics, {} partitions",
                    id.file_name(),
                    image.broker_count(),
                    image.topic_count(),
                    image.partition_count()
                );
                image
            }
            None => Image::new(),
        };
        Ok(StateMachine {
            dir: dir.to_owned(),
            controller: Controller::new(config, image),
            applied_end: latest.map_or(0, |id| id.end_offset),
            applied_epoch: latest.map_or(0, |id| id.epoch),
            active_epoch: None,
            waiting: BTreeMap::new(),
            next_waiting: 0,
            policy,
            bytes_since_snapshot: 0,
            last_snapshot_ms: now_ms,
            latest_snapshot: latest,
            job: None,
        })
    }

    /// The committed image.
    pub fn image(&self) -> &Image {
        self.controller.committed()
    }

    pub fn applied_end(&self) -> u64 {
        self.applied_end
    }

    pub fn is_active(&self) -> bool {
        self.active_epoch.is_some()
    }

    /// Applies every committed record of `log` below `high_watermark` not applied yet, and
    /// returns the replies this released, in order.
    pub fn apply_committed(
        &mut self,
        log: &Log,
        high_watermark: u64,
    ) -> Result<Vec<(W, ControllerReply)>, Fatal> {
        while self.applied_end < high_watermark {
            let bytes = log.read(self.applied_end, BATCH_BYTES_MAX)?;
            assert!(
                !bytes.is_empty(),
                "the log ends at {} below the high watermark {high_watermark}",
                self.applied_end
            );
            let mut position = 0;
            while position < bytes.len() && self.applied_end < high_watermark {
                let batch = decode_batch(&bytes[position..], log.config().batch_bytes_max)
                    .map_err(|e| {
                        Fatal::Storage(StorageError::invalid_argument(format!(
                            "the committed batch at offset {} does not decode: {e:?}",
                            self.applied_end
                        )))
                    })?;
                position += batch.bytes.len();
                let header = batch.header;
                for (offset, record) in (header.base_offset..).zip(batch.records()) {
                    if offset < self.applied_end {
                        continue;
                    }
                    if offset >= high_watermark {
                        break;
                    }
                    if header.is_control() {
                        decode_control_at(offset, record)
                            .map_err(|e| Fatal::Metadata(e.to_string()))?;
                        self.controller.advance(offset);
                    } else {
                        let decoded = MetadataRecord::decode_at(offset, record)
                            .map_err(|e| Fatal::Metadata(e.to_string()))?;
                        self.controller
                            .replay(offset, &decoded)
                            .map_err(|e| Fatal::Metadata(e.to_string()))?;
                    }
                    self.bytes_since_snapshot += record.len() as u64;
                    self.applied_end = offset + 1;
                    self.applied_epoch = header.leader_epoch;
                }
            }
        }
        Ok(self.released())
    }

    /// The waiting replies whose records are all applied now.
    fn released(&mut self) -> Vec<(W, ControllerReply)> {
        let still_waiting = self.waiting.split_off(&(self.applied_end, 0));
        std::mem::replace(&mut self.waiting, still_waiting)
            .into_values()
            .collect()
    }

    /// Keeps the controller's activity in line with Raft: `leading` is `Some((epoch,
    /// epoch_start_offset))` while this node is the leader. Returns the waiters of replies
    /// dropped because leadership was lost (to be answered `NOT_CONTROLLER`).
    pub fn sync_leadership(&mut self, leading: Option<(u32, u64)>, now_ms: u64) -> Vec<W> {
        let mut dropped = Vec::new();
        if let Some(active) = self.active_epoch
            && leading.map(|(epoch, _)| epoch) != Some(active)
        {
            self.controller.deactivate();
            self.active_epoch = None;
            dropped = std::mem::take(&mut self.waiting)
                .into_values()
                .map(|(waiter, _)| waiter)
                .collect();
            info!(
                "no longer the active controller (epoch {active}); {} replies answered NOT_CONTROLLER",
                dropped.len()
            );
        }
        if self.active_epoch.is_none()
            && let Some((epoch, start)) = leading
            && self.applied_end > start
        {
            self.controller.activate(now_ms);
            self.active_epoch = Some(epoch);
            info!(
                "active controller in epoch {epoch}: image at offset {}, {} brokers, {} topics, {} partitions",
                self.applied_end,
                self.image().broker_count(),
                self.image().topic_count(),
                self.image().partition_count()
            );
        }
        dropped
    }

    /// Runs `request` on the controller. `next_offset` is the offset the next proposed batch
    /// gets; `new_topic_id` draws topic ids.
    pub fn handle(
        &mut self,
        request: ControllerRequest,
        now_ms: u64,
        next_offset: u64,
        new_topic_id: &mut dyn FnMut() -> Uuid,
    ) -> Handled {
        use ControllerReply as Reply;
        use ControllerRequest as Request;
        if let Request::DescribeConfigs(request) = &request {
            // A read of the committed image: any controller answers.
            return Handled::Reply(Reply::DescribeConfigs(
                self.controller.describe_configs(request),
            ));
        }
        if self.active_epoch.is_none() {
            return Handled::NotController;
        }
        let c = &mut self.controller;
        let outcome: Outcome<ControllerReply> = match request {
            Request::RegisterBroker(r) => map(
                c.register_broker(now_ms, next_offset, &r),
                Reply::RegisterBroker,
            ),
            Request::Heartbeat(r) => map(
                c.broker_heartbeat(now_ms, next_offset, &r),
                Reply::Heartbeat,
            ),
            Request::UnregisterBroker { broker_id } => map(
                c.unregister_broker(next_offset, broker_id),
                Reply::UnregisterBroker,
            ),
            Request::AlterPartition(r) => {
                map(c.alter_partition(next_offset, &r), Reply::AlterPartition)
            }
            Request::CreateTopics(r) => map(
                c.create_topics(next_offset, &r, new_topic_id),
                Reply::CreateTopics,
            ),
            Request::DeleteTopics(r) => map(c.delete_topics(next_offset, &r), Reply::DeleteTopics),
            Request::CreatePartitions(r) => map(
                c.create_partitions(next_offset, &r),
                Reply::CreatePartitions,
            ),
            Request::IncrementalAlterConfigs(r) => map(
                c.incremental_alter_configs(next_offset, &r),
                Reply::AlterConfigs,
            ),
            Request::AlterConfigs(r) => map(c.alter_configs(next_offset, &r), Reply::AlterConfigs),
            Request::DescribeConfigs(_) => unreachable!("answered above"),
        };
        Handled::Propose {
            records: outcome.records,
            reply: outcome.reply,
            release_at: outcome.release_at,
        }
    }

    /// Holds a reply until the record at `release_at` is applied.
    pub fn wait(&mut self, release_at: u64, waiter: W, reply: ControllerReply) {
        assert!(
            self.is_active(),
            "only the active controller's replies wait"
        );
        self.waiting
            .insert((release_at, self.next_waiting), (waiter, reply));
        self.next_waiting += 1;
    }

    /// Raft refused the batch proposed at `offset` (or it was lost): the controller forgets it
    /// and everything after it. Returns the waiters whose replies were decided on that state.
    pub fn abandon(&mut self, offset: u64) -> Vec<W> {
        self.controller.abandon(offset);
        let abandoned = self.waiting.split_off(&(offset, 0));
        abandoned.into_values().map(|(waiter, _)| waiter).collect()
    }

    /// The controller's housekeeping (fencing, leader moves): at most one batch.
    pub fn tick(&mut self, now_ms: u64, next_offset: u64) -> Option<Vec<Vec<u8>>> {
        self.active_epoch?;
        self.controller.tick(now_ms, next_offset)
    }

    /// Starts a snapshot if the policy asks for one and none is being written.
    pub fn maybe_start_snapshot(&mut self, now_ms: u64, wall_ms: i64) -> Result<(), Fatal> {
        let nothing_new = self
            .latest_snapshot
            .is_some_and(|id| id.end_offset >= self.applied_end)
            || self.applied_end == 0;
        if self.job.is_some() || nothing_new {
            return Ok(());
        }
        let by_size = self.bytes_since_snapshot >= self.policy.max_record_bytes;
        let by_age = self.policy.max_interval_ms > 0
            && now_ms >= self.last_snapshot_ms + self.policy.max_interval_ms;
        if !(by_size || by_age) {
            return Ok(());
        }
        self.start_snapshot(now_ms, wall_ms)
    }

    /// At a clean shutdown: starts a snapshot of what this node applied when the log after
    /// its latest snapshot holds at least [`SNAPSHOT_AT_SHUTDOWN_BYTES_MIN`], so that the next
    /// start loads it instead of replaying that log. True if one is being written (this one or
    /// one already under way); the caller lets it finish before exiting.
    pub fn start_shutdown_snapshot(&mut self, now_ms: u64, wall_ms: i64) -> Result<bool, Fatal> {
        let nothing_new = self
            .latest_snapshot
            .is_some_and(|id| id.end_offset >= self.applied_end)
            || self.applied_end == 0;
        if self.job.is_none()
            && !nothing_new
            && self.bytes_since_snapshot >= SNAPSHOT_AT_SHUTDOWN_BYTES_MIN
        {
            self.start_snapshot(now_ms, wall_ms)?;
        }
        Ok(self.job.is_some())
    }

    fn start_snapshot(&mut self, now_ms: u64, wall_ms: i64) -> Result<(), Fatal> {
        let id = SnapshotId {
            end_offset: self.applied_end,
            epoch: self.applied_epoch,
        };
        let mut writer = SnapshotWriter::create(&self.dir, id)?;
        writer.append_control(wall_ms, &[&encode_snapshot_header(wall_ms)])?;
        info!(
            "writing snapshot {} ({} bytes of records since the last one)",
            id.file_name(),
            self.bytes_since_snapshot
        );
        self.job = Some(SnapshotJob {
            image: self.controller.committed().clone(),
            writer,
            stage: Stage::Prelude,
            batch: Vec::new(),
            batch_bytes: EMPTY_BATCH_BYTES,
            timestamp_ms: wall_ms,
        });
        self.bytes_since_snapshot = 0;
        self.last_snapshot_ms = now_ms;
        Ok(())
    }

    /// One bounded step of the snapshot being written. Returns its id once it is complete
    /// and durable under its final name (older snapshots are deleted then).
    pub fn snapshot_step(&mut self) -> Result<Option<SnapshotId>, Fatal> {
        let Some(job) = self.job.as_mut() else {
            return Ok(None);
        };
        if !job.step(SNAPSHOT_STEP_BYTES)? {
            return Ok(None);
        }
        let job = self.job.take().expect("just stepped");
        let id = job.writer.finish()?;
        let deleted = delete_snapshots_before(&self.dir, id)?;
        info!(
            "snapshot {} written; {deleted} older snapshot(s) deleted",
            id.file_name()
        );
        self.latest_snapshot = Some(id);
        Ok(Some(id))
    }

    /// True while a snapshot is being written.
    pub fn snapshot_in_progress(&self) -> bool {
        self.job.is_some()
    }

    /// A snapshot received from the leader replaced the log: the image is now that
    /// snapshot's. A snapshot being written of an older image is dropped.
    pub fn install_snapshot(&mut self, id: SnapshotId) -> Result<(), Fatal> {
        assert!(
            !self.is_active(),
            "a leader never installs a snapshot from another node"
        );
        if let Some(job) = self.job.take() {
            job.writer.abort()?;
        }
        let image = load_snapshot(&self.dir, id)?;
        info!(
            "loaded the leader's snapshot {}: {} brokers, {} topics, {} partitions",
            id.file_name(),
            image.broker_count(),
            image.topic_count(),
            image.partition_count()
        );
        self.controller.load_snapshot(image);
        self.applied_end = id.end_offset;
        self.applied_epoch = id.epoch;
        self.latest_snapshot = Some(id);
        self.bytes_since_snapshot = 0;
        Ok(())
    }
}

fn map<R>(
    outcome: Outcome<R>,
    wrap: impl FnOnce(R) -> ControllerReply,
) -> Outcome<ControllerReply> {
    Outcome {
        records: outcome.records,
        reply: wrap(outcome.reply),
        release_at: outcome.release_at,
    }
}

/// Loads the image of snapshot `id` in `dir` (header and footer records required: keel
/// writes both).
pub fn load_snapshot(dir: &Path, id: SnapshotId) -> Result<Image, Fatal> {
    let reader = SnapshotReader::open(dir, id)?;
    let mut loader = SnapshotLoader::new();
    let path = dir.join(id.file_name());
    let named =
        |e: &dyn std::fmt::Display| Fatal::Metadata(format!("snapshot {}: {e}", path.display()));
    for batch in reader.batches() {
        let control = batch.header.is_control();
        for record in batch.records() {
            let applied = if control {
                loader.apply_control(record)
            } else {
                loader.apply(record)
            };
            applied.map_err(|e| named(&e))?;
        }
    }
    loader.finish(id.end_offset, true).map_err(|e| named(&e))
}

enum Stage {
    /// Features and brokers.
    Prelude,
    /// Topics in name order, resuming after the named one.
    Topics { after: Option<String> },
    /// Configs, then the footer.
    Configs,
}

/// A snapshot being written from a clone of the committed image.
struct SnapshotJob {
    image: Image,
    writer: SnapshotWriter,
    stage: Stage,
    /// Records of the batch being filled.
    batch: Vec<Vec<u8>>,
    batch_bytes: u64,
    timestamp_ms: i64,
}

impl SnapshotJob {
    /// Writes about `budget_bytes` of records. Returns true once every record and the footer
    /// are written (the file is then ready to finish).
    fn step(&mut self, budget_bytes: u64) -> Result<bool, StorageError> {
        let mut out = BatchOut {
            writer: &mut self.writer,
            batch: &mut self.batch,
            batch_bytes: &mut self.batch_bytes,
            timestamp_ms: self.timestamp_ms,
            written: 0,
        };
        loop {
            match &mut self.stage {
                Stage::Prelude => {
                    for record in prelude_records(&self.image) {
                        out.push(record.encode())?;
                    }
                    self.stage = Stage::Topics { after: None };
                }
                Stage::Topics { after } => {
                    let mut next = self.image.topics_after(after.as_deref());
                    match next.next() {
                        Some(topic) => {
                            for record in topic_records(topic) {
                                out.push(record.encode())?;
                            }
                            *after = Some(topic.name().to_owned());
                        }
                        None => self.stage = Stage::Configs,
                    }
                }
                Stage::Configs => {
                    for record in config_records(&self.image) {
                        out.push(record.encode())?;
                    }
                    out.flush()?;
                    out.writer
                        .append_control(self.timestamp_ms, &[&encode_snapshot_footer()])?;
                    return Ok(true);
                }
            }
            if out.written >= budget_bytes {
                return Ok(false);
            }
        }
    }
}

/// Fills batches of at most `BATCH_RECORDS_MAX` records and `BATCH_BYTES_MAX` bytes.
struct BatchOut<'a> {
    writer: &'a mut SnapshotWriter,
    batch: &'a mut Vec<Vec<u8>>,
    batch_bytes: &'a mut u64,
    timestamp_ms: i64,
    written: u64,
}

impl BatchOut<'_> {
    fn push(&mut self, record: Vec<u8>) -> Result<(), StorageError> {
        let size = record_bytes(record.len());
        if self.batch.len() >= BATCH_RECORDS_MAX as usize
            || *self.batch_bytes + size > u64::from(BATCH_BYTES_MAX)
        {
            self.flush()?;
        }
        *self.batch_bytes += size;
        self.written += size;
        self.batch.push(record);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StorageError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let records: Vec<&[u8]> = self.batch.iter().map(Vec::as_slice).collect();
        self.writer.append(self.timestamp_ms, &records)?;
        self.batch.clear();
        *self.batch_bytes = EMPTY_BATCH_BYTES;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
