//! The frame of every record in the metadata log, the typed metadata records, and the control
//! records.
//!
//! Storage keeps records as opaque byte strings; this module gives them meaning. A record is
//! framed exactly as Kafka frames metadata record values (`AbstractApiMessageSerde`):
//!
//! ```text
//! frame_version  unsigned varint, always 1 (Kafka rejects 0, its 2.8 preview format)
//! record_type    unsigned varint: a metadata record type (data batches) or a control record
//!                type (control batches: 2 LeaderChange, 3 SnapshotHeader, 4 SnapshotFooter)
//! version        unsigned varint: the version of that record's schema
//! body           the record at that version, flexible encoding (protocol-spec/schemas/)
//! ```
//!
//! - [`MetadataRecord`] is every record of a data batch keel understands, decoded by type and
//!   version ([`MetadataRecord::decode`]); keel writes each at the highest version it knows
//!   ([`MetadataRecord::encode`]).
//! - [`ControlRecord`] is every record of a control batch ([`decode_control`]).
//! - A reader that knows where a record sits in the log reports a failure with
//!   [`RecordError::at`], which names the offset ([`LogRecordError`]).
//!
//! Decoding never panics and names what is wrong; an unknown type or version is an error, not
//! a skip (a replica that cannot read a committed record must stop, not diverge).

use std::fmt;

use crate::protocol::messages::{
    BrokerRegistrationChangeRecord, ConfigRecord, FeatureLevelRecord, LeaderChangeMessage,
    NoOpRecord, PartitionChangeRecord, PartitionRecord, RegisterBrokerRecord, RemoveTopicRecord,
    SnapshotFooterRecord, SnapshotHeaderRecord, TopicRecord, UnregisterBrokerRecord,
};
use crate::protocol::primitives::{Reader, Writer};
use crate::protocol::{DecodeError, EncodeError, Message};

/// The only frame version keel writes or reads (Kafka's current metadata frame).
pub const FRAME_VERSION: u32 = 1;

/// Control record types, Kafka's `ControlRecordType` numbers.
pub const CONTROL_LEADER_CHANGE: u16 = 2;
pub const CONTROL_SNAPSHOT_HEADER: u16 = 3;
pub const CONTROL_SNAPSHOT_FOOTER: u16 = 4;

/// The version of LeaderChangeMessage keel writes: 1 carries voter directory ids (KIP-853).
pub const LEADER_CHANGE_VERSION: i16 = 1;
/// The versions of the snapshot header and footer keel writes (the only ones Kafka has).
pub const SNAPSHOT_HEADER_VERSION: i16 = 0;
pub const SNAPSHOT_FOOTER_VERSION: i16 = 0;

/// A decoded frame: which record, which version, and its body bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFrame<'a> {
    pub record_type: u16,
    pub version: i16,
    pub body: &'a [u8],
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordError {
    /// The frame header itself is malformed.
    Frame(DecodeError),
    /// A frame version keel does not know.
    FrameVersion(u32),
    /// A record type or version keel does not know.
    Unknown {
        control: bool,
        record_type: u16,
        version: i16,
    },
    /// The body does not decode as its schema says.
    Body {
        record_type: u16,
        version: i16,
        error: DecodeError,
    },
}

impl RecordError {
    /// This error, for the record at `offset` of the log (or at that position of a snapshot).
    pub fn at(self, offset: u64) -> LogRecordError {
        LogRecordError {
            offset,
            error: self,
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Frame(e) => write!(f, "malformed record frame: {e}"),
            RecordError::FrameVersion(v) => write!(f, "record frame version {v} is not 1"),
            RecordError::Unknown {
                control,
                record_type,
                version,
            } => write!(
                f,
                "unknown {} record type {record_type} version {version}",
                if *control { "control" } else { "metadata" }
            ),
            RecordError::Body {
                record_type,
                version,
                error,
            } => write!(f, "record type {record_type} version {version}: {error}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// A record that could not be read, with the offset it sits at. The node reports it and
/// stops: skipping a committed record would build a different state from the same log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecordError {
    pub offset: u64,
    pub error: RecordError,
}

impl fmt::Display for LogRecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record at offset {}: {}", self.offset, self.error)
    }
}

impl std::error::Error for LogRecordError {}

/// Frames `body` as record `record_type` at `version`, or says why `body` cannot be written at
/// that version.
pub fn try_encode_record<M: Message>(
    record_type: u16,
    version: i16,
    body: &M,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    out.put_unsigned_varint(FRAME_VERSION);
    out.put_unsigned_varint(u32::from(record_type));
    out.put_unsigned_varint(u32::from(version.max(0) as u16));
    body.encode(&mut out, version)?;
    Ok(out)
}

/// Frames `body` as record `record_type` at `version`. Only for records keel builds itself,
/// which always fit their version: a failure is a bug.
pub fn encode_record<M: Message>(record_type: u16, version: i16, body: &M) -> Vec<u8> {
    assert!(version >= 0);
    try_encode_record(record_type, version, body)
        .unwrap_or_else(|e| panic!("a record keel builds always encodes: {e}"))
}

/// Reads a frame's header; the body is left to the caller's schema.
pub fn decode_frame(bytes: &[u8]) -> Result<RecordFrame<'_>, RecordError> {
    let mut reader = Reader::new(bytes);
    let frame_version = reader.read_unsigned_varint().map_err(RecordError::Frame)?;
    if frame_version != FRAME_VERSION {
        return Err(RecordError::FrameVersion(frame_version));
    }
    let record_type = reader.read_unsigned_varint().map_err(RecordError::Frame)?;
    let version = reader.read_unsigned_varint().map_err(RecordError::Frame)?;
    let (Ok(record_type), Ok(version)) = (u16::try_from(record_type), i16::try_from(version))
    else {
        return Err(RecordError::Unknown {
            control: false,
            record_type: u16::try_from(record_type).unwrap_or(u16::MAX),
            version: i16::try_from(version).unwrap_or(i16::MAX),
        });
    };
    Ok(RecordFrame {
        record_type,
        version,
        body: reader.rest(),
    })
}

/// Decodes a frame's body as `M`, which must fill it exactly.
pub fn decode_body<M: Message>(frame: &RecordFrame<'_>) -> Result<M, RecordError> {
    M::from_bytes(frame.body, frame.version).map_err(|error| RecordError::Body {
        record_type: frame.record_type,
        version: frame.version,
        error,
    })
}

macro_rules! metadata_records {
    ($( $variant:ident($message:ident), )*) => {
        /// Every record of a data batch that keel understands (Kafka's metadata record types of
        /// the same numbers). Decoding accepts every version of each schema keel has; encoding
        /// writes the highest.
        #[derive(Debug, Clone, PartialEq)]
        pub enum MetadataRecord {
            $( $variant($message), )*
        }

        impl MetadataRecord {
            /// Every metadata record type keel reads, ascending.
            pub const TYPES: &'static [u16] = &[ $( $message::RECORD_TYPE, )* ];

            /// The record type in the frame (Kafka's `apiKey`).
            pub fn record_type(&self) -> u16 {
                match self { $( MetadataRecord::$variant(_) => $message::RECORD_TYPE, )* }
            }

            /// The schema name, e.g. `PartitionRecord`.
            pub fn name(&self) -> &'static str {
                match self { $( MetadataRecord::$variant(_) => $message::NAME, )* }
            }

            /// The version keel writes: the highest it knows.
            pub fn write_version(&self) -> i16 {
                match self {
                    $( MetadataRecord::$variant(_) => *<$message as Message>::VERSIONS.end(), )*
                }
            }

            /// The versions keel reads for `record_type`, if it knows the type.
            pub fn versions_of(record_type: u16) -> Option<std::ops::RangeInclusive<i16>> {
                match record_type {
                    $( t if t == $message::RECORD_TYPE => Some(<$message as Message>::VERSIONS), )*
                    _ => None,
                }
            }

            /// The framed record at `version`, or why this value cannot be written at it.
            pub fn encode_at(&self, version: i16) -> Result<Vec<u8>, EncodeError> {
                match self {
                    $( MetadataRecord::$variant(body) => try_encode_record($message::RECORD_TYPE, version, body), )*
                }
            }

            /// Decodes a frame whose type is a metadata record type.
            pub fn decode_frame(frame: &RecordFrame<'_>) -> Result<MetadataRecord, RecordError> {
                match frame.record_type {
                    $(
                        t if t == $message::RECORD_TYPE
                            && <$message as Message>::VERSIONS.contains(&frame.version) =>
                        {
                            decode_body::<$message>(frame).map(MetadataRecord::$variant)
                        }
                    )*
                    record_type => Err(RecordError::Unknown {
                        control: false,
                        record_type,
                        version: frame.version,
                    }),
                }
            }
        }

        $(
            impl From<$message> for MetadataRecord {
                fn from(body: $message) -> MetadataRecord {
                    MetadataRecord::$variant(body)
                }
            }
        )*
    };
}

metadata_records! {
    RegisterBroker(RegisterBrokerRecord),
    UnregisterBroker(UnregisterBrokerRecord),
    Topic(TopicRecord),
    Partition(PartitionRecord),
    Config(ConfigRecord),
    PartitionChange(PartitionChangeRecord),
    RemoveTopic(RemoveTopicRecord),
    FeatureLevel(FeatureLevelRecord),
    BrokerRegistrationChange(BrokerRegistrationChangeRecord),
    NoOp(NoOpRecord),
}

impl MetadataRecord {
    /// The framed record at [`write_version`](Self::write_version). Only for records keel
    /// builds, whose strings and arrays fit the wire's limits: a failure is a bug.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_at(self.write_version())
            .unwrap_or_else(|e| panic!("a record keel builds always encodes: {e}"))
    }

    /// Decodes the record of a data batch.
    pub fn decode(bytes: &[u8]) -> Result<MetadataRecord, RecordError> {
        Self::decode_versioned(bytes).map(|(record, _)| record)
    }

    /// Decodes the record of a data batch and says at which version it was written.
    pub fn decode_versioned(bytes: &[u8]) -> Result<(MetadataRecord, i16), RecordError> {
        let frame = decode_frame(bytes)?;
        Self::decode_frame(&frame).map(|record| (record, frame.version))
    }

    /// Decodes the record at `offset` of a data batch; a failure names the offset.
    pub fn decode_at(offset: u64, bytes: &[u8]) -> Result<MetadataRecord, LogRecordError> {
        Self::decode(bytes).map_err(|e| e.at(offset))
    }
}

/// Every record of a control batch that keel understands (Kafka's `ControlRecordType`).
#[derive(Debug, Clone, PartialEq)]
pub enum ControlRecord {
    /// Type 2: the first record of a leader's epoch (KIP-595).
    LeaderChange(LeaderChangeMessage),
    /// Type 3: the first record of a snapshot (KIP-630).
    SnapshotHeader(SnapshotHeaderRecord),
    /// Type 4: the last record of a snapshot (KIP-630).
    SnapshotFooter(SnapshotFooterRecord),
}

impl ControlRecord {
    pub fn record_type(&self) -> u16 {
        match self {
            ControlRecord::LeaderChange(_) => CONTROL_LEADER_CHANGE,
            ControlRecord::SnapshotHeader(_) => CONTROL_SNAPSHOT_HEADER,
            ControlRecord::SnapshotFooter(_) => CONTROL_SNAPSHOT_FOOTER,
        }
    }

    /// The framed record at the version keel writes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ControlRecord::LeaderChange(m) => {
                encode_record(CONTROL_LEADER_CHANGE, LEADER_CHANGE_VERSION, m)
            }
            ControlRecord::SnapshotHeader(m) => {
                encode_record(CONTROL_SNAPSHOT_HEADER, SNAPSHOT_HEADER_VERSION, m)
            }
            ControlRecord::SnapshotFooter(m) => {
                encode_record(CONTROL_SNAPSHOT_FOOTER, SNAPSHOT_FOOTER_VERSION, m)
            }
        }
    }
}

/// The NoOp record the active controller writes when idle.
pub fn encode_no_op() -> Vec<u8> {
    encode_record(NoOpRecord::RECORD_TYPE, 0, &NoOpRecord::default())
}

/// A LeaderChange control record.
pub fn encode_leader_change(message: &LeaderChangeMessage) -> Vec<u8> {
    encode_record(CONTROL_LEADER_CHANGE, LEADER_CHANGE_VERSION, message)
}

/// The SnapshotHeader control record that opens a snapshot.
pub fn encode_snapshot_header(last_contained_log_timestamp_ms: i64) -> Vec<u8> {
    ControlRecord::SnapshotHeader(SnapshotHeaderRecord {
        version: SNAPSHOT_HEADER_VERSION,
        last_contained_log_timestamp: last_contained_log_timestamp_ms,
        ..Default::default()
    })
    .encode()
}

/// The SnapshotFooter control record that closes a snapshot.
pub fn encode_snapshot_footer() -> Vec<u8> {
    ControlRecord::SnapshotFooter(SnapshotFooterRecord {
        version: SNAPSHOT_FOOTER_VERSION,
        ..Default::default()
    })
    .encode()
}

/// Decodes a record of a control batch.
pub fn decode_control(bytes: &[u8]) -> Result<ControlRecord, RecordError> {
    let frame = decode_frame(bytes)?;
    let known = |versions: std::ops::RangeInclusive<i16>| versions.contains(&frame.version);
    match frame.record_type {
        CONTROL_LEADER_CHANGE if known(LeaderChangeMessage::VERSIONS) => {
            decode_body(&frame).map(ControlRecord::LeaderChange)
        }
        CONTROL_SNAPSHOT_HEADER if known(SnapshotHeaderRecord::VERSIONS) => {
            decode_body(&frame).map(ControlRecord::SnapshotHeader)
        }
        CONTROL_SNAPSHOT_FOOTER if known(SnapshotFooterRecord::VERSIONS) => {
            decode_body(&frame).map(ControlRecord::SnapshotFooter)
        }
        record_type => Err(RecordError::Unknown {
            control: true,
            record_type,
            version: frame.version,
        }),
    }
}

/// Decodes the record at `offset` of a control batch; a failure names the offset.
pub fn decode_control_at(offset: u64, bytes: &[u8]) -> Result<ControlRecord, LogRecordError> {
    decode_control(bytes).map_err(|e| e.at(offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Uuid;
    use crate::protocol::messages::leader_change_message::Voter;
    use crate::protocol::messages::register_broker_record::{BrokerEndpoint, BrokerFeature};
    use proptest::prelude::*;

    #[test]
    fn no_op_is_kafkas_bytes() {
        // Kafka's NoOpRecord value: frame 1, type 20, version 0, an empty tagged-field section.
        assert_eq!(encode_no_op(), [0x01, 0x14, 0x00, 0x00]);
        let bytes = encode_no_op();
        let frame = decode_frame(&bytes).unwrap();
        assert_eq!((frame.record_type, frame.version), (20, 0));
        let _: NoOpRecord = decode_body(&frame).unwrap();
        assert_eq!(
            MetadataRecord::decode(&bytes).unwrap(),
            MetadataRecord::NoOp(NoOpRecord::default())
        );
    }

    #[test]
    fn leader_change_round_trips() {
        let voter = |id: i32, dir: u8| Voter {
            voter_id: id,
            voter_directory_id: Uuid::from_bytes([dir; 16]),
            ..Default::default()
        };
        let message = LeaderChangeMessage {
            version: LEADER_CHANGE_VERSION,
            leader_id: 2,
            voters: vec![voter(1, 1), voter(2, 2), voter(3, 3)],
            granting_voters: vec![voter(2, 2), voter(3, 3)],
            ..Default::default()
        };
        let bytes = encode_leader_change(&message);
        assert_eq!(&bytes[..3], &[0x01, 0x02, 0x01]);
        assert_eq!(
            decode_control(&bytes).unwrap(),
            ControlRecord::LeaderChange(message)
        );
    }

    #[test]
    fn snapshot_header_and_footer_are_kafkas_bytes() {
        // Frame 1, control type 3, version 0; Version int16 0; LastContainedLogTimestamp int64;
        // empty tagged-field section.
        let header = encode_snapshot_header(0x0102_0304_0506_0708);
        assert_eq!(
            header,
            [
                0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00
            ]
        );
        assert!(matches!(
            decode_control(&header).unwrap(),
            ControlRecord::SnapshotHeader(SnapshotHeaderRecord {
                last_contained_log_timestamp: 0x0102_0304_0506_0708,
                ..
            })
        ));
        let footer = encode_snapshot_footer();
        assert_eq!(footer, [0x01, 0x04, 0x00, 0x00, 0x00, 0x00]);
        assert_eq!(decode_control(&footer).unwrap().record_type(), 4);
    }

    #[test]
    fn unknown_types_versions_and_frames_are_errors_not_skips() {
        assert_eq!(
            decode_frame(&[0x00, 0x14, 0x00, 0x00]),
            Err(RecordError::FrameVersion(0))
        );
        assert!(matches!(
            decode_control(&encode_no_op()),
            Err(RecordError::Unknown {
                control: true,
                record_type: 20,
                ..
            })
        ));
        assert!(matches!(
            decode_control(&[0x01, 0x02, 0x07, 0x00]),
            Err(RecordError::Unknown {
                record_type: 2,
                version: 7,
                ..
            })
        ));
        assert!(matches!(
            decode_frame(&[0x01, 0x80]),
            Err(RecordError::Frame(_))
        ));
        let mut truncated = encode_leader_change(&LeaderChangeMessage::default());
        truncated.pop();
        assert!(matches!(
            decode_control(&truncated),
            Err(RecordError::Body { .. })
        ));
        // Kafka record types keel does not read (ACLs, quotas, ...) and future versions of the
        // ones it does are errors, never skipped.
        for (record_type, version) in [(18u8, 0u8), (7, 0), (3, 3), (0, 4), (17, 3), (12, 1)] {
            let bytes = [0x01, record_type, version, 0x00];
            assert_eq!(
                MetadataRecord::decode(&bytes),
                Err(RecordError::Unknown {
                    control: false,
                    record_type: u16::from(record_type),
                    version: i16::from(version)
                }),
                "type {record_type} version {version}"
            );
        }
        // A control record in a data batch is an unknown metadata type (2 is TopicRecord's
        // number, but a LeaderChange body is not a TopicRecord).
        assert!(MetadataRecord::decode(&encode_snapshot_footer()).is_err());
    }

    #[test]
    fn a_failure_at_an_offset_names_the_offset() {
        let error = MetadataRecord::decode_at(4711, &[0x01, 0x63, 0x00, 0x00]).unwrap_err();
        assert_eq!(error.offset, 4711);
        assert_eq!(
            error.to_string(),
            "record at offset 4711: unknown metadata record type 99 version 0"
        );
        let error = decode_control_at(17, &[0x02]).unwrap_err();
        assert_eq!(error.offset, 17);
        assert_eq!(error.error, RecordError::FrameVersion(2));
    }

    #[test]
    fn the_record_types_are_kafkas_numbers() {
        assert_eq!(
            MetadataRecord::TYPES,
            &[0, 1, 2, 3, 4, 5, 9, 12, 17, 20],
            "RegisterBroker 0, UnregisterBroker 1, Topic 2, Partition 3, Config 4, \
             PartitionChange 5, RemoveTopic 9, FeatureLevel 12, BrokerRegistrationChange 17, NoOp 20"
        );
        let versions = |t| MetadataRecord::versions_of(t).unwrap();
        assert_eq!(versions(0), 0..=3);
        assert_eq!(versions(3), 0..=2);
        assert_eq!(versions(5), 0..=2);
        assert_eq!(versions(17), 0..=2);
        assert_eq!(versions(12), 0..=0);
        assert_eq!(MetadataRecord::versions_of(6), None);
    }

    #[test]
    fn a_register_broker_record_is_kafkas_bytes() {
        // Hand-assembled from Kafka's RegisterBrokerRecord v3 schema.
        let record = MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: 1,
            incarnation_id: Uuid::from_bytes([7; 16]),
            broker_epoch: 42,
            end_points: vec![BrokerEndpoint {
                name: "PLAINTEXT".into(),
                host: "h".into(),
                port: 9092,
                security_protocol: 0,
                ..Default::default()
            }],
            features: vec![BrokerFeature {
                name: "metadata.version".into(),
                min_supported_version: 1,
                max_supported_version: 21,
                ..Default::default()
            }],
            rack: None,
            fenced: true,
            in_controlled_shutdown: false,
            log_dirs: vec![Uuid::from_bytes([9; 16])],
            ..Default::default()
        });
        let mut want = vec![0x01, 0x00, 0x03]; // frame 1, type 0, version 3
        want.extend_from_slice(&1i32.to_be_bytes()); // BrokerId
        want.push(0x00); // IsMigratingZkBroker
        want.extend_from_slice(&[7; 16]); // IncarnationId
        want.extend_from_slice(&42i64.to_be_bytes()); // BrokerEpoch
        want.push(0x02); // EndPoints: 1 entry
        want.extend_from_slice(b"\x0aPLAINTEXT\x02h");
        want.extend_from_slice(&9092u16.to_be_bytes());
        want.extend_from_slice(&[0x00, 0x00, 0x00]); // SecurityProtocol, no tags
        want.push(0x02); // Features: 1 entry
        want.extend_from_slice(b"\x11metadata.version");
        want.extend_from_slice(&[0x00, 0x01, 0x00, 0x15, 0x00]);
        want.push(0x00); // Rack: null
        want.push(0x01); // Fenced
        want.push(0x00); // InControlledShutdown
        want.extend_from_slice(&[0x01, 0x00, 0x11, 0x02]); // one tag: 0, 17 bytes, 1 uuid
        want.extend_from_slice(&[9; 16]);
        assert_eq!(record.encode(), want);
        assert_eq!(
            MetadataRecord::decode_versioned(&want).unwrap(),
            (record, 3)
        );
    }

    #[test]
    fn a_partition_change_carries_only_what_changes() {
        let change = MetadataRecord::PartitionChange(PartitionChangeRecord {
            partition_id: 0,
            topic_id: Uuid::from_bytes([1; 16]),
            leader: 3,
            ..Default::default()
        });
        let bytes = change.encode();
        // frame(3) + PartitionId(4) + TopicId(16) + tags: count 1, tag 1, size 4, int32 3.
        assert_eq!(bytes.len(), 3 + 4 + 16 + 1 + 2 + 4);
        assert_eq!(&bytes[bytes.len() - 7..], &[0x01, 0x01, 0x04, 0, 0, 0, 3]);
        assert_eq!(MetadataRecord::decode(&bytes).unwrap(), change);
    }

    /// Any metadata record at any version keel reads, with its version.
    fn arbitrary_record() -> impl Strategy<Value = (MetadataRecord, i16)> {
        macro_rules! at_every_version {
            ($($variant:ident($message:ident)),*) => {
                prop_oneof![$(
                    (<$message as Message>::VERSIONS).prop_flat_map(|v| {
                        $message::arbitrary(v).prop_map(move |m| (MetadataRecord::$variant(m), v))
                    }),
                )*]
            };
        }
        at_every_version!(
            RegisterBroker(RegisterBrokerRecord),
            UnregisterBroker(UnregisterBrokerRecord),
            Topic(TopicRecord),
            Partition(PartitionRecord),
            Config(ConfigRecord),
            PartitionChange(PartitionChangeRecord),
            RemoveTopic(RemoveTopicRecord),
            FeatureLevel(FeatureLevelRecord),
            BrokerRegistrationChange(BrokerRegistrationChangeRecord),
            NoOp(NoOpRecord)
        )
    }

    fn arbitrary_control() -> impl Strategy<Value = ControlRecord> {
        prop_oneof![
            LeaderChangeMessage::arbitrary(LEADER_CHANGE_VERSION)
                .prop_map(ControlRecord::LeaderChange),
            SnapshotHeaderRecord::arbitrary(0).prop_map(ControlRecord::SnapshotHeader),
            SnapshotFooterRecord::arbitrary(0).prop_map(ControlRecord::SnapshotFooter),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn every_record_round_trips_framed_at_every_version((record, version) in arbitrary_record()) {
            let bytes = record.encode_at(version).unwrap();
            let (decoded, decoded_version) = MetadataRecord::decode_versioned(&bytes).unwrap();
            prop_assert_eq!(decoded_version, version);
            prop_assert_eq!(&decoded, &record);
            prop_assert_eq!(decoded.encode_at(version).unwrap(), bytes.clone());
            // Every strict prefix is refused (the frame or the body is cut short).
            for cut in 0..bytes.len() {
                prop_assert!(MetadataRecord::decode(&bytes[..cut]).is_err(), "cut at {}", cut);
            }
            // Trailing bytes after the body are refused, not ignored.
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(MetadataRecord::decode(&longer).is_err());
        }

        #[test]
        fn every_control_record_round_trips(record in arbitrary_control()) {
            let bytes = record.encode();
            prop_assert_eq!(decode_control(&bytes).unwrap(), record);
            for cut in 0..bytes.len() {
                prop_assert!(decode_control(&bytes[..cut]).is_err());
            }
        }

        #[test]
        fn corrupt_records_are_errors_never_panics(
            (record, version) in arbitrary_record(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut bytes = record.encode_at(version).unwrap();
            for (at, xor) in flips {
                let len = bytes.len();
                bytes[at % len] ^= xor;
            }
            // Either an error or some valid record: never a panic. What decodes re-encodes.
            if let Ok((decoded, v)) = MetadataRecord::decode_versioned(&bytes) {
                prop_assert!(decoded.encode_at(v).is_ok());
            }
            let _ = decode_control(&bytes);
        }

        #[test]
        fn random_bytes_are_errors_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = MetadataRecord::decode(&bytes);
            let _ = decode_control(&bytes);
        }
    }
}
