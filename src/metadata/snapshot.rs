//! Snapshots of the image (KIP-630 in spirit): the image as an ordered stream of records that
//! rebuilds an equal image when applied to an empty one. Pure: no I/O.
//!
//! A snapshot at offset `k` holds, in this order:
//!
//! 1. the SnapshotHeader control record ([`encode_snapshot_header`]);
//! 2. FeatureLevelRecords (by name), RegisterBrokerRecords (by broker id, with the current
//!    fencing and controlled-shutdown state), for each topic (by name) its TopicRecord and its
//!    PartitionRecords (by index, with the current leader, ISR and epochs), then
//!    ConfigRecords (by resource, then key) — [`image_records`], framed by
//!    [`encoded_records`], grouped into bounded batches by [`SnapshotBatches`];
//! 3. the SnapshotFooter control record ([`encode_snapshot_footer`]).
//!
//! Writing the bytes to a file (`storage::snapshot`) and choosing when to snapshot are the
//! node's. Loading is [`SnapshotLoader`]: it applies the records in order and gives the image
//! the offset the snapshot covers, so that "load the snapshot at `k`, replay the log from `k`"
//! builds the image that "replay the log from 0" builds (the property test in this module and
//! in `tests/metadata_snapshot.rs`).
//!
//! The records order needs no more than the image's own rules: partitions follow their topic,
//! and a topic's configs follow every topic. Derived state (per-broker load, name collisions)
//! is rebuilt by applying, never stored.

use std::fmt;

use super::image::{ApplyErrorKind, Image, TopicImage};
use super::record::{ControlRecord, LogRecordError, MetadataRecord, decode_control};
use crate::batch_size::{EMPTY_BATCH_BYTES, batch_bytes, record_bytes};
use crate::constants::{BATCH_BYTES_MAX, BATCH_RECORDS_MAX};
use crate::protocol::messages::{ConfigRecord, FeatureLevelRecord, TopicRecord};

pub use super::record::{encode_snapshot_footer, encode_snapshot_header};

/// The image as records, in snapshot order. Lazy: a million partitions are never all in
/// memory as records at once. The same order, in pieces a writer can resume between, is
/// [`prelude_records`], then [`topic_records`] for each topic in name order, then
/// [`config_records`].
pub fn image_records(image: &Image) -> impl Iterator<Item = MetadataRecord> + '_ {
    prelude_records(image)
        .chain(image.topics().flat_map(topic_records))
        .chain(config_records(image))
}

/// The features and brokers of the image, which come first in a snapshot.
pub fn prelude_records(image: &Image) -> impl Iterator<Item = MetadataRecord> + '_ {
    let features = image.features().iter().map(|(name, &level)| {
        MetadataRecord::FeatureLevel(FeatureLevelRecord {
            name: name.clone(),
            feature_level: level,
            ..Default::default()
        })
    });
    let brokers = image
        .brokers()
        .map(|broker| MetadataRecord::RegisterBroker(broker.to_record()));
    features.chain(brokers)
}

/// One topic's TopicRecord followed by its PartitionRecords, by index.
pub fn topic_records(topic: &TopicImage) -> impl Iterator<Item = MetadataRecord> + '_ {
    std::iter::once(MetadataRecord::Topic(TopicRecord {
        name: topic.name().to_owned(),
        topic_id: topic.id(),
        ..Default::default()
    }))
    .chain(
        topic
            .partitions()
            .map(|partition| MetadataRecord::Partition(partition.to_record())),
    )
}

/// The configs of the image, which come last (a topic's configs follow every topic).
pub fn config_records(image: &Image) -> impl Iterator<Item = MetadataRecord> + '_ {
    image.config_resources().flat_map(|(resource, configs)| {
        configs.iter().map(move |(name, value)| {
            MetadataRecord::Config(ConfigRecord {
                resource_type: resource.resource_type,
                resource_name: resource.name.clone(),
                name: name.clone(),
                value: Some(value.clone()),
                ..Default::default()
            })
        })
    })
}

/// The image as framed records (each at the version keel writes), in snapshot order.
pub fn encoded_records(image: &Image) -> impl Iterator<Item = Vec<u8>> + '_ {
    image_records(image).map(|record| record.encode())
}

/// Groups framed records into batches that the log and a snapshot file accept: at most
/// `max_records` records and `max_bytes` bytes (batch header and record length prefixes
/// included) each.
pub struct SnapshotBatches<I: Iterator<Item = Vec<u8>>> {
    records: std::iter::Peekable<I>,
    max_records: usize,
    max_bytes: u64,
}

impl<I: Iterator<Item = Vec<u8>>> SnapshotBatches<I> {
    pub fn new(records: I, max_records: usize, max_bytes: u64) -> Self {
        assert!(max_records > 0);
        assert!(max_bytes > batch_bytes([0]));
        SnapshotBatches {
            records: records.peekable(),
            max_records,
            max_bytes,
        }
    }
}

/// The image's records in batches of at most `BATCH_RECORDS_MAX` records and `BATCH_BYTES_MAX`
/// bytes.
pub fn snapshot_batches(image: &Image) -> SnapshotBatches<impl Iterator<Item = Vec<u8>> + '_> {
    SnapshotBatches::new(
        encoded_records(image),
        BATCH_RECORDS_MAX as usize,
        u64::from(BATCH_BYTES_MAX),
    )
}

impl<I: Iterator<Item = Vec<u8>>> Iterator for SnapshotBatches<I> {
    type Item = Vec<Vec<u8>>;

    fn next(&mut self) -> Option<Vec<Vec<u8>>> {
        let mut batch = Vec::new();
        let mut bytes = EMPTY_BATCH_BYTES;
        while batch.len() < self.max_records {
            let Some(next) = self.records.peek() else {
                break;
            };
            let size = record_bytes(next.len());
            if !batch.is_empty() && bytes + size > self.max_bytes {
                break;
            }
            assert!(
                bytes + size <= self.max_bytes,
                "one record of {} bytes does not fit a batch of {} bytes",
                next.len(),
                self.max_bytes
            );
            bytes += size;
            batch.push(self.records.next().expect("peeked"));
        }
        (!batch.is_empty()).then_some(batch)
    }
}

/// Why a snapshot could not be loaded.
#[derive(Clone, PartialEq, Debug)]
pub enum SnapshotError {
    /// A record that does not decode (`offset` is its position in the snapshot).
    Record(LogRecordError),
    /// A record that does not apply, at its position in the snapshot.
    Apply {
        position: u64,
        record: &'static str,
        kind: ApplyErrorKind,
    },
    /// A control record other than the header first and the footer last.
    Misplaced { position: u64, what: &'static str },
    /// The snapshot ended without its footer.
    NoFooter,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Record(e) => write!(f, "snapshot record {}: {}", e.offset, e.error),
            SnapshotError::Apply {
                position,
                record,
                kind,
            } => write!(
                f,
                "snapshot record {position} ({record}) cannot apply: {kind}"
            ),
            SnapshotError::Misplaced { position, what } => {
                write!(f, "snapshot record {position}: misplaced {what}")
            }
            SnapshotError::NoFooter => write!(f, "the snapshot has no footer"),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// Rebuilds an image from a snapshot's records, in order.
///
/// Data records go to [`apply`](Self::apply) (or [`apply_record`](Self::apply_record) when
/// already decoded), control records to [`apply_control`](Self::apply_control); positions
/// count every record from 0. The header is optional (a snapshot written without control
/// batches has none); a footer, when given, must be the last record. [`finish`](Self::finish)
/// gives the image the offset the snapshot covers.
#[derive(Default)]
pub struct SnapshotLoader {
    image: Image,
    position: u64,
    footer_seen: bool,
}

impl SnapshotLoader {
    pub fn new() -> SnapshotLoader {
        SnapshotLoader::default()
    }

    fn check_open(&self) -> Result<(), SnapshotError> {
        if self.footer_seen {
            return Err(SnapshotError::Misplaced {
                position: self.position,
                what: "record after the footer",
            });
        }
        Ok(())
    }

    /// Applies one framed data record.
    pub fn apply(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let record =
            MetadataRecord::decode_at(self.position, bytes).map_err(SnapshotError::Record)?;
        self.apply_record(&record)
    }

    /// Applies one decoded data record.
    pub fn apply_record(&mut self, record: &MetadataRecord) -> Result<(), SnapshotError> {
        self.check_open()?;
        self.image
            .apply_record(record)
            .map_err(|kind| SnapshotError::Apply {
                position: self.position,
                record: record.name(),
                kind,
            })?;
        self.position += 1;
        Ok(())
    }

    /// Takes one framed control record: the header (only first) or the footer (only last).
    pub fn apply_control(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.check_open()?;
        let record =
            decode_control(bytes).map_err(|e| SnapshotError::Record(e.at(self.position)))?;
        match record {
            ControlRecord::SnapshotHeader(_) if self.position == 0 => {}
            ControlRecord::SnapshotFooter(_) => self.footer_seen = true,
            ControlRecord::SnapshotHeader(_) => {
                return Err(SnapshotError::Misplaced {
                    position: self.position,
                    what: "snapshot header",
                });
            }
            ControlRecord::LeaderChange(_) => {
                return Err(SnapshotError::Misplaced {
                    position: self.position,
                    what: "leader change record",
                });
            }
        }
        self.position += 1;
        Ok(())
    }

    /// The image of a snapshot that covers the log up to (not including) `end_offset`.
    /// `require_footer`: the snapshot format in use writes footers.
    pub fn finish(self, end_offset: u64, require_footer: bool) -> Result<Image, SnapshotError> {
        if require_footer && !self.footer_seen {
            return Err(SnapshotError::NoFooter);
        }
        let mut image = self.image;
        image.set_offset(end_offset.checked_sub(1));
        Ok(image)
    }
}

/// Loads an image from framed data records (no control records), covering the log up to
/// `end_offset`.
pub fn load_image<'a>(
    records: impl IntoIterator<Item = &'a [u8]>,
    end_offset: u64,
) -> Result<Image, SnapshotError> {
    let mut loader = SnapshotLoader::new();
    for record in records {
        loader.apply(record)?;
    }
    loader.finish(end_offset, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Uuid;
    use crate::protocol::messages::{PartitionRecord, RegisterBrokerRecord};

    #[test]
    fn batches_respect_record_and_byte_limits_and_keep_order() {
        let records: Vec<Vec<u8>> = (0..25u8).map(|i| vec![i; usize::from(i) + 1]).collect();
        let batches: Vec<_> = SnapshotBatches::new(records.clone().into_iter(), 4, 200).collect();
        for batch in &batches {
            assert!(!batch.is_empty() && batch.len() <= 4);
            let bytes = batch_bytes(batch.iter().map(Vec::len));
            assert!(bytes <= 200);
        }
        assert_eq!(batches.concat(), records);
        assert!(
            SnapshotBatches::new(std::iter::empty(), 4, 200)
                .next()
                .is_none()
        );
    }

    #[test]
    fn the_footer_ends_the_snapshot_and_the_header_opens_it() {
        let mut loader = SnapshotLoader::new();
        loader.apply_control(&encode_snapshot_header(5)).unwrap();
        assert!(matches!(
            loader.apply_control(&encode_snapshot_header(5)),
            Err(SnapshotError::Misplaced { position: 1, .. })
        ));
        loader.apply_control(&encode_snapshot_footer()).unwrap();
        assert!(matches!(
            loader.apply(&MetadataRecord::NoOp(Default::default()).encode()),
            Err(SnapshotError::Misplaced { .. })
        ));
        assert_eq!(loader.finish(10, true).unwrap().offset(), Some(9));
        assert_eq!(
            SnapshotLoader::new().finish(0, true),
            Err(SnapshotError::NoFooter)
        );
    }

    #[test]
    fn a_bad_snapshot_record_names_its_position() {
        let topic_id = Uuid::from_bytes([3; 16]);
        let good = MetadataRecord::RegisterBroker(RegisterBrokerRecord::default()).encode();
        let orphan = MetadataRecord::Partition(PartitionRecord {
            topic_id,
            partition_id: 0,
            ..Default::default()
        })
        .encode();
        let error = load_image([&good[..], &orphan[..]], 10).unwrap_err();
        assert_eq!(
            error,
            SnapshotError::Apply {
                position: 1,
                record: "PartitionRecord",
                kind: ApplyErrorKind::UnknownTopic(topic_id),
            }
        );
        let error = load_image([&good[..], &[0x01, 0x63, 0x00][..]], 10).unwrap_err();
        assert!(matches!(
            error,
            SnapshotError::Record(LogRecordError { offset: 1, .. })
        ));
        assert!(error.to_string().starts_with("snapshot record 1:"));
    }
}
