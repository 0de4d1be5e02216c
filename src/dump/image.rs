//! `keel-dump image`: the metadata as it was at an offset, rebuilt the way a node rebuilds it:
//! the newest usable snapshot at or below the offset loaded with `metadata::snapshot`'s
//! loader, then the log's records after it applied with `Image::apply`, in order, up to the
//! offset. Printed as text (topics in the layout of Kafka's `kafka-topics --describe`) or as
//! one JSON document.
//!
//! A dump cannot know the high watermark (it lives in the leader's memory, not in any file),
//! so an image of the whole log may include records that are not committed yet; the output
//! says so. A record that does not decode or apply, a gap in the offsets, or damage stops the
//! replay there, and the image is shown as of the last record before it, with the reason and
//! the offset. The log is streamed; what stays in memory is the image itself, whose size is
//! the cluster's metadata, not the log's.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::metadata::image::{
    BrokerRegistration, ConfigResource, Image, LEADER_RECOVERING, NO_LEADER, RESOURCE_BROKER,
    RESOURCE_TOPIC, TopicImage,
};
use crate::metadata::record::{MetadataRecord, decode_control_at};
use crate::metadata::snapshot::SnapshotLoader;
use crate::protocol::Uuid;
use crate::storage::batch::{BatchRef, ScanItem};
use crate::storage::segment::SEGMENT_HEADER_BYTES;
use crate::storage::snapshot::SnapshotId;

use super::files::{Layout, open};
use super::records::{listener_text, security_protocol_name};
use super::snapshot::SnapshotFile;
use super::stream::{ReadConfig, Source};
use crate::json_escape::json_string;

/// Said with every image: the files cannot tell committed records from uncommitted ones.
pub const HIGH_WATERMARK_NOTE: &str = "the files do not record the high watermark (it lives in the \
leader's memory), so the newest records in this image may not be committed yet: a new leader \
could still replace them";

/// An image and how it was made.
#[derive(Debug)]
pub struct Built {
    pub image: Image,
    /// The snapshot loaded, if any.
    pub snapshot: Option<(SnapshotId, PathBuf)>,
    /// The first and last log offsets applied (records and control records).
    pub replayed: Option<(u64, u64)>,
    /// What the reader should know (snapshots skipped, where the log ended).
    pub notes: Vec<String>,
    /// What stopped the replay before the requested offset: a record that does not decode or
    /// apply, a gap, damage. The image is as of the last record before it.
    pub error: Option<String>,
}

/// The newest snapshot at or below `at` that is valid and loads, with notes on those skipped.
fn load_snapshot(
    layout: &Layout,
    at: Option<u64>,
    notes: &mut Vec<String>,
) -> io::Result<Option<(Image, SnapshotId, PathBuf)>> {
    for (id, path) in layout.snapshots.iter().rev() {
        // A snapshot at end offset k holds offsets up to k - 1.
        if at.is_some_and(|at| id.end_offset > at.saturating_add(1)) {
            continue;
        }
        let snapshot = match SnapshotFile::open(path, *id)? {
            Ok(snapshot) => snapshot,
            Err(reason) => {
                notes.push(format!("skipped snapshot {}: {reason}", path.display()));
                continue;
            }
        };
        let mut loader = SnapshotLoader::new();
        let mut scanner = snapshot.batches();
        let mut failure = None;
        while let Some(item) = scanner.next_item()? {
            let ScanItem::Batch { batch, .. } = item else {
                continue;
            };
            for record in batch.records() {
                let applied = if batch.header.is_control() {
                    loader.apply_control(record)
                } else {
                    loader.apply(record)
                };
                if let Err(e) = applied {
                    failure = Some(e.to_string());
                    break;
                }
            }
            if failure.is_some() {
                break;
            }
        }
        let loaded = match failure {
            Some(reason) => Err(reason),
            None => loader
                .finish(id.end_offset, false)
                .map_err(|e| e.to_string()),
        };
        match loaded {
            Ok(image) => return Ok(Some((image, *id, path.clone()))),
            Err(reason) => notes.push(format!("skipped snapshot {}: {reason}", path.display())),
        }
    }
    Ok(None)
}

/// Replays the log onto `image` from `next` up to `at` (everything without `at`).
struct Replay {
    image: Image,
    next: u64,
    at: Option<u64>,
    replayed: Option<(u64, u64)>,
    error: Option<String>,
    done: bool,
}

impl Replay {
    fn batch(&mut self, file: &str, position: u64, batch: &BatchRef<'_>) {
        let h = batch.header;
        if h.last_offset() < self.next {
            return;
        }
        if h.base_offset > self.next {
            self.error = Some(format!(
                "{file} at byte {position}: the batch starts at offset {}, but offset {} comes next",
                h.base_offset, self.next
            ));
            return;
        }
        for (offset, record) in (h.base_offset..).zip(batch.records()) {
            if offset < self.next {
                continue;
            }
            if self.at.is_some_and(|at| offset > at) {
                self.done = true;
                return;
            }
            let applied = if h.is_control() {
                decode_control_at(offset, record)
                    .map(|_| self.image.advance_to(offset))
                    .map_err(|e| e.to_string())
            } else {
                MetadataRecord::decode_at(offset, record)
                    .map_err(|e| e.to_string())
                    .and_then(|r| self.image.apply(offset, &r).map_err(|e| e.to_string()))
            };
            if let Err(reason) = applied {
                self.error = Some(reason);
                return;
            }
            self.replayed = Some((self.replayed.map_or(offset, |(first, _)| first), offset));
            self.next = offset + 1;
        }
    }

    fn stopped(&self) -> bool {
        self.done || self.error.is_some()
    }
}

/// Builds the image at `at` (the whole log without it). `Ok(Err)` when there is nothing to
/// build it from (the log's start was deleted and no snapshot covers it).
pub fn build(
    layout: &Layout,
    at: Option<u64>,
    read: ReadConfig,
) -> io::Result<Result<Built, String>> {
    let mut notes = Vec::new();
    let snapshot = load_snapshot(layout, at, &mut notes)?;
    let (image, start, snapshot) = match snapshot {
        Some((image, id, path)) => (image, id.end_offset, Some((id, path))),
        None => (Image::new(), 0, None),
    };
    if let Some((log_start, _)) = layout.segments.first()
        && *log_start > start
    {
        return Ok(Err(match &snapshot {
            Some((id, _)) => format!(
                "the newest usable snapshot ends at offset {} but the log starts at {log_start}: \
                 offsets {}..{log_start} are in neither",
                id.end_offset, id.end_offset
            ),
            None => format!(
                "the log starts at offset {log_start} and no usable snapshot{} covers the offsets before it",
                at.map_or(String::new(), |at| format!(" at or below offset {at}"))
            ),
        }));
    }
    let mut replay = Replay {
        image,
        next: start,
        at,
        replayed: None,
        error: None,
        done: false,
    };
    let header = u64::from(SEGMENT_HEADER_BYTES);
    for (i, (base, path)) in layout.segments.iter().enumerate() {
        if replay.stopped() || at.is_some_and(|at| *base > at) {
            break;
        }
        // Every offset of this segment is below the next one's base.
        if layout
            .segments
            .get(i + 1)
            .is_some_and(|(next_base, _)| *next_base <= replay.next)
        {
            continue;
        }
        let file = open(path)?;
        let shown = path.display().to_string();
        if Source::size(&file)? < header {
            replay.error = Some(format!("{shown} is shorter than its header"));
            break;
        }
        let mut scanner = read.scanner(&file, header, None);
        while let Some(item) = scanner.next_item()? {
            match item {
                ScanItem::Batch { position, batch } => {
                    replay.batch(&shown, header + position as u64, &batch);
                }
                ScanItem::CleanEnd { .. } => {}
                ScanItem::TornTail {
                    position, error, ..
                } if i + 1 < layout.segments.len() => {
                    replay.error = Some(format!(
                        "{shown} at byte {}: {error}, in a sealed segment: the log is corrupt there (see `keel-dump verify`)",
                        header + position as u64
                    ));
                }
                ScanItem::TornTail {
                    position, error, ..
                } => {
                    // What recovery would cut: the image of the log recovery would keep.
                    notes.push(format!(
                        "{shown}: the log ends in an incomplete batch at byte {} ({error}), which recovery would cut",
                        header + position as u64
                    ));
                }
                ScanItem::Corrupt {
                    position, error, ..
                } => {
                    replay.error = Some(format!(
                        "{shown} at byte {}: {error}, and valid data follows: the log is corrupt there (see `keel-dump verify`)",
                        header + position as u64
                    ));
                }
            }
            if replay.stopped() {
                break;
            }
        }
    }
    if let Some(at) = at
        && !replay.stopped()
        && replay.next <= at
    {
        notes.push(format!(
            "the log ends at offset {}, before offset {at}",
            replay.next.saturating_sub(1)
        ));
    }
    Ok(Ok(Built {
        image: replay.image,
        snapshot,
        replayed: replay.replayed,
        notes,
        error: replay.error,
    }))
}

fn ids(list: &[i32]) -> String {
    let parts: Vec<String> = list.iter().map(i32::to_string).collect();
    parts.join(",")
}

fn broker_state(broker: &BrokerRegistration) -> &'static str {
    match (broker.fenced, broker.in_controlled_shutdown) {
        (false, false) => "unfenced",
        (false, true) => "unfenced, in controlled shutdown",
        (true, false) => "fenced",
        (true, true) => "fenced, in controlled shutdown",
    }
}

fn resource_text(resource: &ConfigResource) -> String {
    match resource.resource_type {
        RESOURCE_BROKER if resource.name.is_empty() => "broker <default> (cluster-wide)".into(),
        RESOURCE_BROKER => format!("broker {}", resource.name),
        RESOURCE_TOPIC => format!("topic {} (no such topic)", resource.name),
        other => format!("resource type {other} {}", resource.name),
    }
}

/// Configs shown in the configs section: all but those of existing topics, which are shown
/// with their topic.
fn other_configs(
    image: &Image,
) -> impl Iterator<Item = (&ConfigResource, &std::collections::BTreeMap<String, String>)> {
    image.config_resources().filter(|(resource, _)| {
        resource.resource_type != RESOURCE_TOPIC || image.topic_by_name(&resource.name).is_none()
    })
}

fn key_values(configs: Option<&std::collections::BTreeMap<String, String>>) -> String {
    let parts: Vec<String> = configs
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.join(",")
}

fn where_from(built: &Built) -> String {
    let mut from = match &built.snapshot {
        Some((id, path)) => format!(
            "snapshot {} (offsets up to {})",
            path.file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
            id.end_offset.saturating_sub(1)
        ),
        None => "no snapshot".into(),
    };
    match built.replayed {
        Some((first, last)) => {
            let _ = write!(from, ", then the log's offsets {first}..{last}");
        }
        None => from.push_str(", no log records"),
    }
    from
}

/// Writes the image as text.
pub fn write_text(built: &Built, out: &mut dyn Write) -> io::Result<()> {
    let image = &built.image;
    match image.offset() {
        Some(offset) => writeln!(out, "image at offset {offset}: {}", where_from(built))?,
        None => writeln!(out, "image of an empty log: {}", where_from(built))?,
    }
    writeln!(out, "note: {HIGH_WATERMARK_NOTE}")?;
    for note in &built.notes {
        writeln!(out, "note: {note}")?;
    }
    if let Some(error) = &built.error {
        writeln!(out, "STOPPED: {error}")?;
    }
    writeln!(out, "features:")?;
    for (name, level) in image.features() {
        writeln!(out, "  {name}: {level}")?;
    }
    writeln!(out, "brokers ({}):", image.broker_count())?;
    for broker in image.brokers() {
        let listeners: Vec<String> = broker
            .listeners
            .iter()
            .map(|l| listener_text(&l.name, &l.host, l.port, l.security_protocol))
            .collect();
        let features: Vec<String> = broker
            .features
            .iter()
            .map(|f| format!("{}:{}-{}", f.name, f.min_supported, f.max_supported))
            .collect();
        writeln!(
            out,
            "  broker {}: epoch {}, {}, rack {}, listeners {}, features {}, incarnation {}",
            broker.id,
            broker.epoch,
            broker_state(broker),
            broker.rack_name().unwrap_or("none"),
            listeners.join(","),
            features.join(","),
            broker.incarnation_id
        )?;
    }
    writeln!(
        out,
        "topics ({}, {} partitions):",
        image.topic_count(),
        image.partition_count()
    )?;
    for topic in image.topics() {
        write_topic_text(image, topic, out)?;
    }
    writeln!(out, "configs (topics' are shown with their topic):")?;
    for (resource, configs) in other_configs(image) {
        writeln!(
            out,
            "  {}: {}",
            resource_text(resource),
            key_values(Some(configs))
        )?;
    }
    Ok(())
}

fn write_topic_text(image: &Image, topic: &TopicImage, out: &mut dyn Write) -> io::Result<()> {
    let replication = topic.partition(0).map_or(0, |p| p.replicas().len());
    writeln!(
        out,
        "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {replication}\tConfigs: {}",
        topic.name(),
        topic.id(),
        topic.partition_count(),
        key_values(image.configs(&ConfigResource::topic(topic.name())))
    )?;
    for p in topic.partitions() {
        let leader = if p.leader() == NO_LEADER {
            "none".to_string()
        } else {
            p.leader().to_string()
        };
        let mut line = format!(
            "\tTopic: {}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\tLeaderEpoch: {}\tPartitionEpoch: {}",
            topic.name(),
            p.partition_id(),
            ids(p.replicas()),
            ids(p.isr()),
            p.leader_epoch(),
            p.partition_epoch()
        );
        let extras = p.extras();
        for (name, list) in [
            ("AddingReplicas", &extras.adding_replicas),
            ("RemovingReplicas", &extras.removing_replicas),
            ("Elr", &extras.eligible_leader_replicas),
            ("LastKnownElr", &extras.last_known_elr),
        ] {
            if !list.is_empty() {
                let _ = write!(line, "\t{name}: {}", ids(list));
            }
        }
        if p.leader_recovery_state() == LEADER_RECOVERING {
            line.push_str("\tLeaderRecoveryState: RECOVERING");
        }
        if !extras.directories.is_empty() {
            let dirs: Vec<String> = extras.directories.iter().map(Uuid::to_string).collect();
            let _ = write!(line, "\tDirectories: {}", dirs.join(","));
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn json_ints(list: &[i32]) -> String {
    format!("[{}]", ids(list))
}

fn json_uuids(list: &[Uuid]) -> String {
    let parts: Vec<String> = list.iter().map(|id| json_string(&id.to_string())).collect();
    format!("[{}]", parts.join(","))
}

fn json_configs(configs: Option<&std::collections::BTreeMap<String, String>>) -> String {
    let parts: Vec<String> = configs
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn json_opt_str(value: Option<&str>) -> String {
    value.map_or("null".into(), json_string)
}

/// Writes the image as one JSON document (a line per broker, topic and config resource, so
/// that a large image is not one enormous line).
pub fn write_json(built: &Built, out: &mut dyn Write) -> io::Result<()> {
    let image = &built.image;
    let offset = image.offset().map_or("null".into(), |o| o.to_string());
    let snapshot = built.snapshot.as_ref().map_or("null".into(), |(id, path)| {
        format!(
            "{{\"file\":{},\"end_offset\":{},\"epoch\":{}}}",
            json_string(&path.display().to_string()),
            id.end_offset,
            id.epoch
        )
    });
    let replayed = built.replayed.map_or("null".into(), |(first, last)| {
        format!("{{\"first_offset\":{first},\"last_offset\":{last}}}")
    });
    let notes: Vec<String> = built.notes.iter().map(|n| json_string(n)).collect();
    writeln!(
        out,
        "{{\"offset\":{offset},\"snapshot\":{snapshot},\"log\":{replayed},\"high_watermark_known\":false,\"note\":{},\"notes\":[{}],\"error\":{},",
        json_string(HIGH_WATERMARK_NOTE),
        notes.join(","),
        json_opt_str(built.error.as_deref())
    )?;
    let features: Vec<String> = image
        .features()
        .iter()
        .map(|(name, level)| format!("{}:{level}", json_string(name)))
        .collect();
    writeln!(out, "\"features\":{{{}}},", features.join(","))?;
    writeln!(out, "\"brokers\":[")?;
    for (i, broker) in image.brokers().enumerate() {
        let listeners: Vec<String> = broker
            .listeners
            .iter()
            .map(|l| {
                format!(
                    "{{\"name\":{},\"host\":{},\"port\":{},\"security_protocol\":{}}}",
                    json_string(&l.name),
                    json_string(&l.host),
                    l.port,
                    json_string(&security_protocol_name(l.security_protocol))
                )
            })
            .collect();
        let features: Vec<String> = broker
            .features
            .iter()
            .map(|f| {
                format!(
                    "{{\"name\":{},\"min\":{},\"max\":{}}}",
                    json_string(&f.name),
                    f.min_supported,
                    f.max_supported
                )
            })
            .collect();
        writeln!(
            out,
            "{}{{\"id\":{},\"epoch\":{},\"incarnation_id\":{},\"fenced\":{},\"in_controlled_shutdown\":{},\"rack\":{},\"listeners\":[{}],\"features\":[{}],\"log_dirs\":{}}}",
            if i > 0 { "," } else { "" },
            broker.id,
            broker.epoch,
            json_string(&broker.incarnation_id.to_string()),
            broker.fenced,
            broker.in_controlled_shutdown,
            json_opt_str(broker.rack.as_deref()),
            listeners.join(","),
            features.join(","),
            json_uuids(&broker.log_dirs)
        )?;
    }
    writeln!(out, "],")?;
    writeln!(out, "\"topics\":[")?;
    for (i, topic) in image.topics().enumerate() {
        let mut partitions = Vec::with_capacity(topic.partition_count() as usize);
        for p in topic.partitions() {
            let extras = p.extras();
            let mut object = format!(
                "{{\"partition\":{},\"leader\":{},\"replicas\":{},\"isr\":{},\"leader_epoch\":{},\"partition_epoch\":{},\"leader_recovery_state\":{}",
                p.partition_id(),
                p.leader(),
                json_ints(p.replicas()),
                json_ints(p.isr()),
                p.leader_epoch(),
                p.partition_epoch(),
                p.leader_recovery_state()
            );
            for (name, list) in [
                ("adding_replicas", &extras.adding_replicas),
                ("removing_replicas", &extras.removing_replicas),
                ("eligible_leader_replicas", &extras.eligible_leader_replicas),
                ("last_known_elr", &extras.last_known_elr),
            ] {
                if !list.is_empty() {
                    let _ = write!(object, ",\"{name}\":{}", json_ints(list));
                }
            }
            if !extras.directories.is_empty() {
                let _ = write!(
                    object,
                    ",\"directories\":{}",
                    json_uuids(&extras.directories)
                );
            }
            object.push('}');
            partitions.push(object);
        }
        writeln!(
            out,
            "{}{{\"name\":{},\"id\":{},\"configs\":{},\"partitions\":[{}]}}",
            if i > 0 { "," } else { "" },
            json_string(topic.name()),
            json_string(&topic.id().to_string()),
            json_configs(image.configs(&ConfigResource::topic(topic.name()))),
            partitions.join(",")
        )?;
    }
    writeln!(out, "],")?;
    writeln!(out, "\"configs\":[")?;
    for (i, (resource, configs)) in other_configs(image).enumerate() {
        writeln!(
            out,
            "{}{{\"resource_type\":{},\"resource_name\":{},\"configs\":{}}}",
            if i > 0 { "," } else { "" },
            resource.resource_type,
            json_string(&resource.name),
            json_configs(Some(configs))
        )?;
    }
    writeln!(out, "]}}")
}
