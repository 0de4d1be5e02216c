//! The frame of every record in the metadata log, and the records the quorum itself writes.
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
//! Decoding never panics and names what is wrong; an unknown type or version is an error, not
//! a skip (a replica that cannot read a committed record must stop, not diverge).

use std::fmt;

use crate::protocol::messages::{LeaderChangeMessage, NoOpRecord};
use crate::protocol::primitives::{Reader, Writer};
use crate::protocol::{DecodeError, Message};

/// The only frame version keel writes or reads (Kafka's current metadata frame).
pub const FRAME_VERSION: u32 = 1;

/// Control record types, Kafka's `ControlRecordType` numbers.
pub const CONTROL_LEADER_CHANGE: u16 = 2;

/// The version of LeaderChangeMessage keel writes: 1 carries voter directory ids (KIP-853).
pub const LEADER_CHANGE_VERSION: i16 = 1;

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

/// Frames `body` as record `record_type` at `version`.
pub fn encode_record<M: Message>(record_type: u16, version: i16, body: &M) -> Vec<u8> {
    assert!(version >= 0);
    let mut out = Vec::new();
    out.put_unsigned_varint(FRAME_VERSION);
    out.put_unsigned_varint(u32::from(record_type));
    out.put_unsigned_varint(version as u32);
    body.encode(&mut out, version)
        .unwrap_or_else(|e| panic!("a record keel builds always encodes: {e}"));
    out
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
            record_type: u16::MAX,
            version: i16::MAX,
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

/// The NoOp record the active controller writes when idle.
pub fn encode_no_op() -> Vec<u8> {
    encode_record(NoOpRecord::RECORD_TYPE, 0, &NoOpRecord::default())
}

/// A LeaderChange control record.
pub fn encode_leader_change(message: &LeaderChangeMessage) -> Vec<u8> {
    encode_record(CONTROL_LEADER_CHANGE, LEADER_CHANGE_VERSION, message)
}

/// Decodes a record of a control batch.
pub fn decode_control(bytes: &[u8]) -> Result<LeaderChangeMessage, RecordError> {
    let frame = decode_frame(bytes)?;
    match frame.record_type {
        CONTROL_LEADER_CHANGE if LeaderChangeMessage::VERSIONS.contains(&frame.version) => {
            decode_body(&frame)
        }
        record_type => Err(RecordError::Unknown {
            control: true,
            record_type,
            version: frame.version,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Uuid;
    use crate::protocol::messages::leader_change_message::Voter;

    #[test]
    fn no_op_is_kafkas_bytes() {
        // Kafka's NoOpRecord value: frame 1, type 20, version 0, an empty tagged-field section.
        assert_eq!(encode_no_op(), [0x01, 0x14, 0x00, 0x00]);
        let bytes = encode_no_op();
        let frame = decode_frame(&bytes).unwrap();
        assert_eq!((frame.record_type, frame.version), (20, 0));
        let _: NoOpRecord = decode_body(&frame).unwrap();
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
        assert_eq!(decode_control(&bytes).unwrap(), message);
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
    }
}
