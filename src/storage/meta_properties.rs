//! `meta.properties` of a data directory (Kafka's keys: `version=1`, `cluster.id`, `node.id`,
//! `directory.id`), and fresh random ids for it.
//!
//! The file is Java-properties text so Kafka operators can read it; keel adds a last comment
//! line `#crc32=XXXXXXXX` over every byte before it, which Kafka tools ignore and keel checks
//! when present. It is written once at format time, atomically, and read at every start; a
//! changed directory id means the disk was replaced and the node must not vote as its old self.

use std::path::Path;

use super::error::{Result, StorageError};
use super::fsio;
use crate::constants::SMALL_FILE_BYTES_MAX;
use crate::uuid::Uuid;

/// File name inside the data directory.
pub const META_PROPERTIES_FILE: &str = "meta.properties";
/// The only `version` keel writes and reads (Kafka's KRaft meta.properties version 1).
pub const META_PROPERTIES_VERSION: u32 = 1;
/// Longest cluster id accepted. Kafka's are 22 characters (a base64url uuid).
const CLUSTER_ID_CHARS_MAX: usize = 64;
const CRC_PREFIX: &str = "#crc32=";

/// A random version-4 uuid from the kernel's CSPRNG (`getrandom`), for directory ids and
/// cluster ids. [`Uuid::from_random_bytes`] rejects the forms Kafka avoids; those draw again.
pub fn random_uuid() -> Result<Uuid> {
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
        if let Some(id) = Uuid::from_random_bytes(bytes) {
            return Ok(id);
        }
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
        let directory_id = directory_id
            .parse::<Uuid>()
            .map_err(|_| format!("directory.id {directory_id:?} is not a base64url uuid"))?;
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
    fn random_ids_are_distinct_version_4_and_print_as_kafka_ids() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let id = random_uuid().unwrap();
            assert_eq!(id.as_bytes()[6] >> 4, 4, "version 4");
            assert_eq!(id.to_string().parse::<Uuid>().unwrap(), id);
            assert!(!id.to_string().starts_with('-'));
            assert!(seen.insert(id), "a repeated random id");
        }
    }

    #[test]
    fn meta_properties_round_trip_and_damage_is_named() {
        let meta = MetaProperties {
            cluster_id: "MkU3OEVBNTcwNTJENDM2Qk".to_string(),
            node_id: 3,
            directory_id: random_uuid().unwrap(),
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
