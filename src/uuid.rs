//! Kafka's 128-bit ids (topic ids, directory ids, cluster ids, incarnation ids).
//!
//! On the wire a uuid is 16 raw bytes. As text, Kafka writes it as 22 characters of unpadded
//! URL-safe base64 (`org.apache.kafka.common.Uuid#toString`); keel does the same so ids look
//! identical in both systems' tools and files.
//!
//! This module is pure: randomness comes in as bytes from the caller. It is a leaf: it uses no
//! other module of keel and every module may use it (storage writes ids into `meta.properties`
//! and `quorum-state`, the codec carries them on the wire as `protocol::Uuid`).

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uuid([u8; 16]);

const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl Uuid {
    /// The all-zero id: Kafka's "no id" (`Uuid.ZERO_UUID`).
    pub const ZERO: Uuid = Uuid([0; 16]);
    /// Kafka's id of the `__cluster_metadata` topic (`Uuid.ONE_UUID`).
    pub const METADATA_TOPIC_ID: Uuid = Uuid([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Uuid(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Turns 16 random bytes into a version-4 uuid, as `java.util.UUID.randomUUID` does.
    /// Returns `None` for the ids Kafka reserves (zero, the metadata topic id) and for ids whose
    /// text starts with `-` (Kafka avoids those because command-line tools take them for
    /// options); the caller draws new bytes.
    pub fn from_random_bytes(mut bytes: [u8; 16]) -> Option<Self> {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let id = Uuid(bytes);
        let reserved = id == Uuid::ZERO || id == Uuid::METADATA_TOPIC_ID;
        if reserved || id.to_string().starts_with('-') {
            return None;
        }
        Some(id)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; 22];
        let mut bits: u32 = 0;
        let mut bit_count = 0;
        let mut out = 0;
        for &byte in &self.0 {
            bits = (bits << 8) | u32::from(byte);
            bit_count += 8;
            while bit_count >= 6 {
                bit_count -= 6;
                text[out] = BASE64_URL[((bits >> bit_count) & 0x3f) as usize];
                out += 1;
            }
        }
        // 128 bits leave 2 over: the last character carries them in its high bits.
        text[out] = BASE64_URL[((bits << (6 - bit_count)) & 0x3f) as usize];
        assert_eq!(out + 1, text.len());
        f.write_str(std::str::from_utf8(&text).expect("base64 alphabet is ASCII"))
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

/// Why a string is not a Kafka uuid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseUuidError(pub String);

impl fmt::Display for ParseUuidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a uuid: expected 22 characters of unpadded URL-safe base64",
            self.0
        )
    }
}

impl std::error::Error for ParseUuidError {}

impl FromStr for Uuid {
    type Err = ParseUuidError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseUuidError(text.to_owned());
        if text.len() != 22 {
            return Err(error());
        }
        let mut bytes = [0u8; 16];
        let mut bits: u32 = 0;
        let mut bit_count = 0;
        let mut out = 0;
        for (i, c) in text.bytes().enumerate() {
            let value = BASE64_URL.iter().position(|&a| a == c).ok_or_else(error)? as u32;
            if i == 21 {
                // Only the top 2 bits of the last character carry data; the rest must be zero
                // or the text has no unique byte form.
                if value & 0x0f != 0 {
                    return Err(error());
                }
                bytes[out] = ((bits << 2) | (value >> 4)) as u8;
                out += 1;
                break;
            }
            bits = (bits << 6) | value;
            bit_count += 6;
            if bit_count >= 8 {
                bit_count -= 8;
                bytes[out] = (bits >> bit_count) as u8;
                out += 1;
                bits &= (1 << bit_count) - 1;
            }
        }
        assert_eq!(out, 16);
        Ok(Uuid(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kafkas_well_known_ids_print_as_kafka_prints_them() {
        assert_eq!(Uuid::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(
            Uuid::METADATA_TOPIC_ID.to_string(),
            "AAAAAAAAAAAAAAAAAAAAAQ"
        );
    }

    #[test]
    fn a_cluster_id_from_kafka_tooling_parses() {
        // The cluster id a mock broker returned to kcat in ../shared/notes/kafka-clients.md.
        let id: Uuid = "MkU3OEVBNTcwNTJENDM2Qg".parse().unwrap();
        assert_eq!(id.to_string(), "MkU3OEVBNTcwNTJENDM2Qg");
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "",
            "AAAA",
            "AAAAAAAAAAAAAAAAAAAAA*",
            "AAAAAAAAAAAAAAAAAAAAAB",
            "AAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(bad.parse::<Uuid>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn random_ids_are_version_4_and_avoid_reserved_forms() {
        assert_eq!(
            Uuid::from_random_bytes([0; 16]).map(|u| u.as_bytes()[6] >> 4),
            Some(4)
        );
        // 0xf8 as the first byte makes the text start with '-' (index 62 of the alphabet).
        assert!(Uuid::from_random_bytes([0xf8; 16]).is_none());
    }

    proptest! {
        #[test]
        fn text_form_round_trips(bytes in any::<[u8; 16]>()) {
            let id = Uuid::from_bytes(bytes);
            let text = id.to_string();
            prop_assert_eq!(text.len(), 22);
            prop_assert_eq!(text.parse::<Uuid>().unwrap(), id);
        }
    }
}
