//! The directory ids of the other voters, pinned at format time or on first contact, and kept
//! on disk.
//!
//! `controller.quorum.voters` names voters by id and address only (Kafka's static quorum). The
//! directory ids (KIP-853) come from `keel format --initial-controllers`, which pins every
//! other voter's before the node ever starts; a node formatted without it learns each peer's
//! directory id from the first request or response that carries it, and pins it durably
//! before acting on that message (which leaves a window: a voter that never heard from a
//! disk before it was replaced would pin the replacement). From then on a peer that
//! presents another directory id is a different disk under the same node id (a replaced or
//! wiped disk that lost what it acknowledged), and the node treats it as a non-voter: it may
//! fetch and catch up, but its votes are refused and its fetch offset does not count toward the
//! high watermark (KAFKA-14077). See `docs/operations.md` for how an operator re-admits it.
//!
//! File `voter-directories` in the metadata partition directory: lines `<node id> <uuid>`, then
//! `#crc32=<hex>` over everything before it; replaced atomically (temp, fsync, rename, fsync).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::constants::SMALL_FILE_BYTES_MAX;
use crate::protocol::Uuid;
use crate::raft::NodeId;
use crate::storage::error::{Result, StorageError};
use crate::storage::fsio;

pub const VOTER_DIRECTORIES_FILE: &str = "voter-directories";
const CRC_PREFIX: &str = "#crc32=";

/// What a presented directory id means for a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// No directory id was sent (an older request version): nothing to check.
    Absent,
    /// It is the pinned one (or was just pinned, durably).
    Known,
    /// It differs from the pinned one: another disk under that node id.
    Changed { pinned: Uuid },
}

#[derive(Debug)]
pub struct VoterDirectories {
    dir: PathBuf,
    pins: BTreeMap<NodeId, Uuid>,
}

impl VoterDirectories {
    /// Loads the pins of the partition directory `dir` (none if the file does not exist).
    pub fn load(dir: &Path) -> Result<VoterDirectories> {
        let path = dir.join(VOTER_DIRECTORIES_FILE);
        let pins = if path.exists() {
            let bytes = fsio::read_bounded(&path, SMALL_FILE_BYTES_MAX)?;
            decode(&bytes).map_err(|reason| StorageError::BadFile {
                path: path.clone(),
                reason,
            })?
        } else {
            BTreeMap::new()
        };
        Ok(VoterDirectories {
            dir: dir.to_owned(),
            pins,
        })
    }

    /// Pins `directory` for voter `id` durably, replacing any earlier pin: at format time, and
    /// when an operator re-admits a replaced disk that has caught up.
    pub fn pin(&mut self, id: NodeId, directory: Uuid) -> Result<()> {
        assert!(
            directory != Uuid::ZERO,
            "a zero directory id cannot be pinned"
        );
        self.pins.insert(id, directory);
        fsio::write_atomically(&self.dir, VOTER_DIRECTORIES_FILE, &encode(&self.pins))
    }

    /// Every pin, by node id.
    pub fn pins(&self) -> impl Iterator<Item = (NodeId, Uuid)> + '_ {
        self.pins.iter().map(|(&id, &directory)| (id, directory))
    }

    pub fn pinned(&self, id: NodeId) -> Option<Uuid> {
        self.pins.get(&id).copied()
    }

    /// Checks the directory id `presented` by peer `id`, pinning it durably if it is the first
    /// one seen for that peer.
    pub fn check(&mut self, id: NodeId, presented: Uuid) -> Result<Presented> {
        if presented == Uuid::ZERO {
            return Ok(Presented::Absent);
        }
        match self.pins.get(&id) {
            Some(&pinned) if pinned == presented => Ok(Presented::Known),
            Some(&pinned) => Ok(Presented::Changed { pinned }),
            None => {
                self.pins.insert(id, presented);
                fsio::write_atomically(&self.dir, VOTER_DIRECTORIES_FILE, &encode(&self.pins))?;
                Ok(Presented::Known)
            }
        }
    }
}

fn encode(pins: &BTreeMap<NodeId, Uuid>) -> Vec<u8> {
    let mut body =
        String::from("# keel: directory ids of the other voters (node id, directory id)\n");
    for (id, directory) in pins {
        body.push_str(&format!("{id} {directory}\n"));
    }
    let crc = crc32fast::hash(body.as_bytes());
    format!("{body}{CRC_PREFIX}{crc:08x}\n").into_bytes()
}

fn decode(bytes: &[u8]) -> std::result::Result<BTreeMap<NodeId, Uuid>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let crc_at = text.rfind(CRC_PREFIX).ok_or("no CRC line")?;
    let (body, crc_line) = text.split_at(crc_at);
    let stored = u32::from_str_radix(crc_line[CRC_PREFIX.len()..].trim(), 16)
        .map_err(|_| "bad CRC line".to_string())?;
    let actual = crc32fast::hash(body.as_bytes());
    if stored != actual {
        return Err(format!(
            "CRC mismatch: stored {stored:08x}, computed {actual:08x}"
        ));
    }
    let mut pins = BTreeMap::new();
    for line in body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (id, directory) = line
            .split_once(' ')
            .ok_or_else(|| format!("bad line {line:?}"))?;
        let id: NodeId = id.parse().map_err(|_| format!("bad node id in {line:?}"))?;
        let directory: Uuid = directory.parse().map_err(|e| format!("{e}"))?;
        if pins.insert(id, directory).is_some() {
            return Err(format!("node {id} pinned twice"));
        }
    }
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("keel-pins-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_first_directory_id_seen_is_pinned_durably_and_a_different_one_is_a_different_disk() {
        let dir = temp_dir("pin");
        let first = Uuid::from_bytes([1; 16]);
        let replaced = Uuid::from_bytes([2; 16]);
        let mut pins = VoterDirectories::load(&dir).unwrap();
        assert_eq!(pins.check(2, Uuid::ZERO).unwrap(), Presented::Absent);
        assert_eq!(pins.check(2, first).unwrap(), Presented::Known);
        assert_eq!(pins.check(2, first).unwrap(), Presented::Known);
        // After a restart the pin is still there.
        let mut pins = VoterDirectories::load(&dir).unwrap();
        assert_eq!(pins.pinned(2), Some(first));
        assert_eq!(
            pins.check(2, replaced).unwrap(),
            Presented::Changed { pinned: first }
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_pin_file_is_refused_with_its_path() {
        let dir = temp_dir("damaged");
        let mut pins = VoterDirectories::load(&dir).unwrap();
        pins.check(3, Uuid::from_bytes([3; 16])).unwrap();
        let path = dir.join(VOTER_DIRECTORIES_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.iter().position(|&b| b == b'3').unwrap();
        bytes[at] = b'4';
        std::fs::write(&path, bytes).unwrap();
        let err = VoterDirectories::load(&dir).unwrap_err();
        assert!(err.to_string().contains(VOTER_DIRECTORIES_FILE), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_example_in_storage_format_md_decodes() {
        let text = "# keel: directory ids of the other voters (node id, directory id)\n\
                    1 pFD0dYoBTmO13BFhHp3EXA\n\
                    3 3Db5QLSqSZieL3rJBUUegA\n\
                    #crc32=e0b1ec6f\n";
        let pins = decode(text.as_bytes()).unwrap();
        assert_eq!(pins.len(), 2);
        assert_eq!(pins[&3].to_string(), "3Db5QLSqSZieL3rJBUUegA");
        assert_eq!(
            encode(&pins),
            text.as_bytes(),
            "keel writes it the same way"
        );
    }
}
