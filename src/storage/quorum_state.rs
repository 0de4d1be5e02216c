//! The `quorum-state` file: the election state Raft must persist before acting in a new role
//! (epoch, voted-for id and directory id, leader id) and this voter's own directory id.
//!
//! A fixed 60-byte big-endian record with magic, version and a CRC over everything before the
//! CRC; replaced atomically (temp file, fsync, rename, directory fsync), so a crash leaves the
//! old or the new state, and any damage is reported, never guessed around.

use std::path::Path;

use byteorder::{BigEndian, ByteOrder};

use super::error::{Result, StorageError};
use super::fsio;
#[cfg(test)]
use super::meta_properties::random_uuid;
use crate::uuid::Uuid;

/// File name inside the partition directory (Kafka's name).
pub const QUORUM_STATE_FILE: &str = "quorum-state";
/// First 8 bytes of the file.
pub const QUORUM_STATE_MAGIC: &[u8; 8] = b"KEELQST\n";
/// Format version written by this code.
pub const QUORUM_STATE_VERSION: u16 = 1;
/// Exact size of the file.
pub const QUORUM_STATE_BYTES: usize = 60;

const FLAG_VOTED: u8 = 0x01;
const FLAG_LEADER: u8 = 0x02;

/// Who this node voted for in `epoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vote {
    pub node_id: u32,
    /// The voter's directory id, or [`Uuid::ZERO`] when the candidate did not send one.
    pub directory_id: Uuid,
}

/// The persisted election state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuorumState {
    pub epoch: u32,
    pub voted_for: Option<Vote>,
    pub leader_id: Option<u32>,
    /// This node's own directory id (from meta.properties), so a replaced disk is noticed.
    pub local_directory_id: Uuid,
}

impl QuorumState {
    pub fn encode(&self) -> [u8; QUORUM_STATE_BYTES] {
        let mut bytes = [0u8; QUORUM_STATE_BYTES];
        bytes[..8].copy_from_slice(QUORUM_STATE_MAGIC);
        BigEndian::write_u16(&mut bytes[8..], QUORUM_STATE_VERSION);
        let mut flags = 0;
        if self.voted_for.is_some() {
            flags |= FLAG_VOTED;
        }
        if self.leader_id.is_some() {
            flags |= FLAG_LEADER;
        }
        bytes[10] = flags;
        BigEndian::write_u32(&mut bytes[12..], self.epoch);
        if let Some(vote) = self.voted_for {
            BigEndian::write_u32(&mut bytes[16..], vote.node_id);
            bytes[20..36].copy_from_slice(vote.directory_id.as_bytes());
        }
        BigEndian::write_u32(&mut bytes[36..], self.leader_id.unwrap_or(0));
        bytes[40..56].copy_from_slice(self.local_directory_id.as_bytes());
        let crc = crc32fast::hash(&bytes[..56]);
        BigEndian::write_u32(&mut bytes[56..], crc);
        bytes
    }

    pub fn decode(bytes: &[u8]) -> std::result::Result<QuorumState, String> {
        if bytes.len() != QUORUM_STATE_BYTES {
            return Err(format!(
                "{} bytes, expected {QUORUM_STATE_BYTES}",
                bytes.len()
            ));
        }
        if &bytes[..8] != QUORUM_STATE_MAGIC {
            return Err("magic is wrong".to_string());
        }
        let stored = BigEndian::read_u32(&bytes[56..]);
        let computed = crc32fast::hash(&bytes[..56]);
        if stored != computed {
            return Err(format!(
                "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ));
        }
        let version = BigEndian::read_u16(&bytes[8..]);
        if version != QUORUM_STATE_VERSION {
            return Err(format!("version {version} is not {QUORUM_STATE_VERSION}"));
        }
        let flags = bytes[10];
        if flags & !(FLAG_VOTED | FLAG_LEADER) != 0 || bytes[11] != 0 {
            return Err(format!(
                "unknown flags {flags:#04x} or non-zero reserved byte"
            ));
        }
        let voted_for = (flags & FLAG_VOTED != 0).then(|| Vote {
            node_id: BigEndian::read_u32(&bytes[16..]),
            directory_id: Uuid::from_bytes(bytes[20..36].try_into().expect("16 bytes")),
        });
        let leader_id = (flags & FLAG_LEADER != 0).then(|| BigEndian::read_u32(&bytes[36..]));
        Ok(QuorumState {
            epoch: BigEndian::read_u32(&bytes[12..]),
            voted_for,
            leader_id,
            local_directory_id: Uuid::from_bytes(bytes[40..56].try_into().expect("16 bytes")),
        })
    }

    /// Replaces `dir/quorum-state` atomically; returns once the new state is durable.
    pub fn write(&self, dir: &Path) -> Result<()> {
        fsio::write_atomically(dir, QUORUM_STATE_FILE, &self.encode())
    }

    /// Reads `dir/quorum-state`; `Ok(None)` when it does not exist yet.
    pub fn read(dir: &Path) -> Result<Option<QuorumState>> {
        let path = dir.join(QUORUM_STATE_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = fsio::read_bounded(&path, crate::constants::SMALL_FILE_BYTES_MAX)?;
        QuorumState::decode(&bytes)
            .map(Some)
            .map_err(|reason| StorageError::bad_file(&path, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_state_round_trips_with_and_without_optional_fields() {
        let directory = random_uuid().unwrap();
        for state in [
            QuorumState {
                epoch: 0,
                voted_for: None,
                leader_id: None,
                local_directory_id: directory,
            },
            QuorumState {
                epoch: 9,
                voted_for: Some(Vote {
                    node_id: 2,
                    directory_id: random_uuid().unwrap(),
                }),
                leader_id: None,
                local_directory_id: directory,
            },
            QuorumState {
                epoch: u32::MAX,
                voted_for: None,
                leader_id: Some(0),
                local_directory_id: directory,
            },
        ] {
            assert_eq!(QuorumState::decode(&state.encode()).unwrap(), state);
        }
    }

    #[test]
    fn every_damaged_byte_and_every_wrong_length_is_rejected() {
        let state = QuorumState {
            epoch: 5,
            voted_for: None,
            leader_id: Some(1),
            local_directory_id: Uuid::ZERO,
        };
        let bytes = state.encode();
        for at in 0..bytes.len() {
            let mut damaged = bytes;
            damaged[at] ^= 0x20;
            assert!(
                QuorumState::decode(&damaged).is_err(),
                "damage at byte {at} accepted"
            );
        }
        assert!(QuorumState::decode(&bytes[..59]).is_err());
        assert!(QuorumState::decode(&[]).is_err());
    }
}
