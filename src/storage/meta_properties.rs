//! `meta.properties` of a data directory (Kafka's keys: `version=1`, `cluster.id`, `node.id`,
//! `directory.id`) and the 16-byte Kafka uuid with its 22-character base64url text form.
//!
//! The file is Java-properties text so Kafka operators can read it; keel adds a last comment
//! line `#crc32=XXXXXXXX` over every byte before it, which Kafka tools ignore and keel checks
//! when present. It is written once at format time, atomically, and read at every start; a
//! changed directory id means the disk was replaced and the node must not vote as its old self.

use std::fmt;
use std::path::Path;

use super::error::{Result, StorageError};
use super::fsio;
use crate::constants::SMALL_FILE_BYTES_MAX;

/// File name inside the data directory.
pub const META_PROPERTIES_FILE: &str = "meta.properties";
/// The only `version` keel writes and reads (Kafka's KRaft meta.properties version 1).
pub const META_PROPERTIES_VERSION: u32 = 1;
/// Longest cluster id accepted. Kafka's are 22 characters (a base64url uuid).
const CLUSTER_ID_CHARS_MAX: usize = 64;
const CRC_PREFIX: &str = "#crc32=";

/// A 16-byte uuid as Kafka uses them (topic ids, directory ids).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Kafka's ZERO_UUID: "no id".
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// A random version-4 uuid from the kernel's CSPRNG, avoiding what Kafka avoids: ids whose
    /// text starts with '-' (they look like command-line flags) and the reserved ids below 100
    /// (ZERO, and directory ids UNASSIGNED=0, LOST=1, MIGRATING=2, ...).
    pub fn random() -> Result<Uuid> {
        loop {
            let mut bytes = [0u8; 16];
            // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer we own.
            let filled = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
            if filled != bytes.len() as isize {
                return Err(StorageError::io(
                    "getrandom",
                    std::io::Error::last_os_error(),
                ));
            }
            bytes[6] = (bytes[6] & 0x0f) | 0x40;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            let uuid = Uuid(bytes);
            let reserved = bytes[..15].iter().all(|&b| b == 0) && bytes[15] < 100;
            if !reserved && !uuid.to_string().starts_with('-') {
                return Ok(uuid);
            }
        }
    }

    /// Parses the 22-character unpadded base64url form.
    pub fn parse(text: &str) -> Option<Uuid> {
        let chars = text.as_bytes();
        if chars.len() != 22 {
            return None;
        }
        let mut bits: u128 = 0;
        for (i, &c) in chars.iter().enumerate() {
            let value = u128::from(base64url_value(c)?);
            if i < 21 {
                bits = (bits << 6) | value;
            } else {
                // The last character carries 2 bits; its 4 low bits must be zero.
                if value & 0x0f != 0 {
                    return None;
                }
                bits = (bits << 2) | (value >> 4);
            }
        }
        Some(Uuid(bits.to_be_bytes()))
    }
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_value(c: u8) -> Option<u8> {
    BASE64URL.iter().position(|&x| x == c).map(|p| p as u8)
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = u128::from_be_bytes(self.0);
        let mut text = [0u8; 22];
        for (i, slot) in text.iter_mut().enumerate().take(21) {
            *slot = BASE64URL[((bits >> (122 - 6 * i)) & 0x3f) as usize];
        }
        text[21] = BASE64URL[((bits & 0x3) << 4) as usize];
        f.write_str(std::str::from_utf8(&text).expect("base64url is ASCII"))
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

/// The identity of a data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaProperties {
    pub cluster_id: String,
    pub node_id: u32,
    pub directory_id: Uuid,
}

impl MetaProperties {
    /// The file's text, CRC line included.
    pub fn encode(&self) -> Vec<u8> {
        let body = format!(
            "#\n#Written by keel\nversion={META_PROPERTIES_VERSION}\ncluster.id={}\nnode.id={}\ndirectory.id={}\n",
            self.cluster_id, self.node_id, self.directory_id
        );
        let crc = crc32fast::hash(body.as_bytes());
        format!("{body}{CRC_PREFIX}{crc:08x}\n").into_bytes()
    }

    /// Parses and checks the file's text.
    pub fn decode(bytes: &[u8]) -> std::result::Result<MetaProperties, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        if let Some(at) = text.rfind(CRC_PREFIX) {
            let (body, crc_line) = text.split_at(at);
            let stored = crc_line[CRC_PREFIX.len()..].trim_end();
            let stored = u32::from_str_radix(stored, 16)
                .map_err(|_| format!("crc line {crc_line:?} is not hex"))?;
            let computed = crc32fast::hash(body.as_bytes());
            if stored != computed {
                return Err(format!(
                    "CRC mismatch: stored {stored:08x}, computed {computed:08x}"
                ));
            }
        }
        let (mut version, mut cluster_id, mut node_id, mut directory_id) = (None, None, None, None);
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or(format!("line {line:?} is not key=value"))?;
            let (key, value) = (key.trim(), value.trim());
            let slot = match key {
                "version" => &mut version,
                "cluster.id" => &mut cluster_id,
                "node.id" => &mut node_id,
                "directory.id" => &mut directory_id,
                _ => continue,
            };
            if slot.replace(value.to_string()).is_some() {
                return Err(format!("key {key} appears twice"));
            }
        }
        let version = version.ok_or("missing version")?;
        if version != META_PROPERTIES_VERSION.to_string() {
            return Err(format!(
                "version {version:?} is not {META_PROPERTIES_VERSION}"
            ));
        }
        let cluster_id = cluster_id.ok_or("missing cluster.id")?;
        let valid_cluster_id = !cluster_id.is_empty()
            && cluster_id.len() <= CLUSTER_ID_CHARS_MAX
            && cluster_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_cluster_id {
            return Err(format!(
                "cluster.id {cluster_id:?} is not 1 to {CLUSTER_ID_CHARS_MAX} characters of [A-Za-z0-9_-]"
            ));
        }
        let node_id = node_id.ok_or("missing node.id")?;
        let node_id: u32 = node_id
            .parse()
            .map_err(|_| format!("node.id {node_id:?} is not a non-negative integer"))?;
        let directory_id = directory_id.ok_or("missing directory.id")?;
        let directory_id = Uuid::parse(&directory_id).ok_or(format!(
            "directory.id {directory_id:?} is not a base64url uuid"
        ))?;
        Ok(MetaProperties {
            cluster_id,
            node_id,
            directory_id,
        })
    }

    /// Writes `data_dir/meta.properties` atomically.
    pub fn write(&self, data_dir: &Path) -> Result<()> {
        fsio::write_atomically(data_dir, META_PROPERTIES_FILE, &self.encode())
    }

    /// Reads `data_dir/meta.properties`; `Ok(None)` when the directory was never formatted.
    pub fn read(data_dir: &Path) -> Result<Option<MetaProperties>> {
        let path = data_dir.join(META_PROPERTIES_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = fsio::read_bounded(&path, SMALL_FILE_BYTES_MAX)?;
        MetaProperties::decode(&bytes)
            .map(Some)
            .map_err(|reason| StorageError::bad_file(&path, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_is_kafkas_22_character_base64url() {
        let uuid = Uuid([0xff; 16]);
        assert_eq!(uuid.to_string(), "_____________________w");
        assert_eq!(Uuid::parse("_____________________w"), Some(uuid));
        assert_eq!(Uuid::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
        // Kafka's METADATA_TOPIC_ID is Uuid(0, 1): "AAAAAAAAAAAAAAAAAAAAAQ".
        let mut one = [0u8; 16];
        one[15] = 1;
        assert_eq!(Uuid(one).to_string(), "AAAAAAAAAAAAAAAAAAAAAQ");
        assert_eq!(
            Uuid::parse("AAAAAAAAAAAAAAAAAAAAAB"),
            None,
            "non-zero padding bits"
        );
        assert_eq!(Uuid::parse("AAAA"), None);
        assert_eq!(Uuid::parse("AAAAAAAAAAAAAAAAAAAA=A"), None);
        for _ in 0..100 {
            let random = Uuid::random().unwrap();
            assert_eq!(Uuid::parse(&random.to_string()), Some(random));
            assert!(!random.to_string().starts_with('-'));
        }
    }

    #[test]
    fn meta_properties_round_trip_and_damage_is_named() {
        let meta = MetaProperties {
            cluster_id: "MkU3OEVBNTcwNTJENDM2Qk".to_string(),
            node_id: 3,
            directory_id: Uuid::random().unwrap(),
        };
        let text = meta.encode();
        assert_eq!(MetaProperties::decode(&text).unwrap(), meta);
        let mut flipped = text.clone();
        let at = String::from_utf8_lossy(&text).find("node.id=3").unwrap() + 8;
        flipped[at] = b'4';
        assert!(
            MetaProperties::decode(&flipped)
                .unwrap_err()
                .contains("CRC mismatch")
        );
        let without_crc = String::from_utf8(text)
            .unwrap()
            .replace("#crc32=", "#other=");
        assert_eq!(
            MetaProperties::decode(without_crc.as_bytes()).unwrap(),
            meta,
            "Kafka-written files have no CRC line"
        );
        for (bad, why) in [
            (
                "version=0\ncluster.id=a\nnode.id=1\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAA\n",
                "version",
            ),
            (
                "version=1\nnode.id=1\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAA\n",
                "missing cluster.id",
            ),
            (
                "version=1\ncluster.id=a\nnode.id=-1\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAA\n",
                "node.id",
            ),
            (
                "version=1\ncluster.id=a\nnode.id=1\ndirectory.id=xyz\n",
                "directory.id",
            ),
            ("version=1\nversion=1\n", "twice"),
        ] {
            let error = MetaProperties::decode(bad.as_bytes()).unwrap_err();
            assert!(error.contains(why), "{error:?} should mention {why}");
        }
    }
}
