//! The contract every generated message type fulfils, and the header rules that tie a body to
//! the request/response headers around it.
//!
//! Generated code (see `build.rs` and `protocol-spec/schemas/`) implements [`Message`] for every
//! schema and [`ApiMessage`] for every request and response; this module holds the pieces that
//! are not per-schema.

use std::fmt::Debug;
use std::ops::RangeInclusive;

use super::ApiKey;
use super::primitives::{
    DecodeError, DecodeErrorKind, EncodeError, RawTaggedField, Reader, Writer,
};

/// A schema-described structure with a version-aware encoding.
pub trait Message: Sized + Clone + PartialEq + Debug + Default {
    /// The schema's name, e.g. `VoteRequest`.
    const NAME: &'static str;
    /// The versions keel supports for this message.
    const VERSIONS: RangeInclusive<i16>;

    /// Whether `version` uses the flexible (compact, tagged-field) encoding. Defined for every
    /// version, supported or not, because the header of a request with an unsupported version
    /// must still be parsed (KIP-511).
    fn is_flexible(version: i16) -> bool;

    /// Appends the encoding of `self` at `version`.
    fn encode(&self, out: &mut Vec<u8>, version: i16) -> Result<(), EncodeError>;

    /// Decodes one message at `version`, leaving the reader after its last byte.
    fn decode(reader: &mut Reader<'_>, version: i16) -> Result<Self, DecodeError>;

    /// Makes the value carry only what `version` can, as Kafka's brokers answer an older
    /// client: a field the version lacks goes back to its default, a null the version cannot
    /// carry becomes the empty value, unknown tagged fields go where the version is not
    /// flexible, and the same inside every nested struct. A value already valid at `version`
    /// is left exactly as it is. Afterwards [`Message::encode`] at `version` fails only for
    /// what no version can carry (a string longer than its length prefix) or for a version
    /// keel does not support.
    ///
    /// Encoding itself still refuses what a version cannot carry: narrowing is the explicit
    /// step a caller takes when it builds an answer from everything it knows.
    fn narrow_to_version(&mut self, version: i16);

    /// The encoding of `self` at `version` as a new vector.
    fn to_bytes(&self, version: i16) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode(&mut out, version)?;
        Ok(out)
    }

    /// Decodes a message that must fill `bytes` exactly.
    fn from_bytes(bytes: &[u8], version: i16) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let message = Self::decode(&mut reader, version)?;
        if !reader.is_empty() {
            return Err(reader
                .error(DecodeErrorKind::LengthTooLarge {
                    length: bytes.len() as u64,
                    limit: reader.position() as u64,
                })
                .in_message(Self::NAME));
        }
        Ok(message)
    }
}

/// A request or response body of a Kafka API.
pub trait ApiMessage: Message {
    const API_KEY: ApiKey;
}

/// Fails with [`DecodeErrorKind::UnsupportedVersion`] unless `M` supports `version`.
pub(crate) fn check_decode_version<M: Message>(
    reader: &Reader<'_>,
    version: i16,
) -> Result<(), DecodeError> {
    if M::VERSIONS.contains(&version) {
        Ok(())
    } else {
        Err(reader
            .error(DecodeErrorKind::UnsupportedVersion { version })
            .in_message(M::NAME))
    }
}

/// Fails with [`EncodeError::UnsupportedVersion`] unless `M` supports `version`.
pub(crate) fn check_encode_version<M: Message>(version: i16) -> Result<(), EncodeError> {
    if M::VERSIONS.contains(&version) {
        Ok(())
    } else {
        Err(EncodeError::UnsupportedVersion {
            message: M::NAME,
            version,
        })
    }
}

/// Writes a tagged-field section: known fields (already encoded, any order) merged with the
/// unknown ones a decoder kept, in strictly ascending tag order as Kafka requires.
pub(crate) fn write_tagged_fields(
    out: &mut Vec<u8>,
    mut known: Vec<(u32, Vec<u8>)>,
    unknown: &[RawTaggedField],
) {
    known.extend(unknown.iter().map(|field| (field.tag, field.data.clone())));
    known.sort_by_key(|(tag, _)| *tag);
    for pair in known.windows(2) {
        assert!(
            pair[0].0 < pair[1].0,
            "duplicate tag {} in one tagged-field section",
            pair[0].0
        );
    }
    out.put_unsigned_varint(u32::try_from(known.len()).expect("tag count fits u32"));
    for (tag, data) in known {
        out.put_unsigned_varint(tag);
        out.put_unsigned_varint(u32::try_from(data.len()).expect("tagged field fits u32"));
        out.put_raw(&data);
    }
}

/// Reads a tagged-field section, handing each field to `read_known`, which returns `Ok(false)`
/// for tags it does not know (those are kept in `unknown`).
pub(crate) fn read_tagged_fields<'a>(
    reader: &mut Reader<'a>,
    unknown: &mut Vec<RawTaggedField>,
    mut read_known: impl FnMut(u32, &mut Reader<'a>) -> Result<bool, DecodeError>,
) -> Result<(), DecodeError> {
    let count = reader.read_unsigned_varint()?;
    let mut previous: Option<u32> = None;
    for _ in 0..count {
        let at = reader.position();
        let (tag, mut value) = reader.read_raw_tagged_field()?;
        if let Some(previous) = previous
            && tag <= previous
        {
            let mut error = reader.error(DecodeErrorKind::TagsOutOfOrder { previous, tag });
            error.position = at;
            return Err(error);
        }
        previous = Some(tag);
        let declared = value.remaining();
        if read_known(tag, &mut value)? {
            if !value.is_empty() {
                let mut error = reader.error(DecodeErrorKind::TaggedFieldSizeMismatch {
                    tag,
                    declared,
                    used: declared - value.remaining(),
                });
                error.position = at;
                return Err(error);
            }
        } else {
            unknown.push(RawTaggedField {
                tag,
                data: value.rest().to_vec(),
            });
        }
    }
    Ok(())
}

/// Unknown tagged fields for property tests: tags far above any Kafka uses (so they never
/// collide with `known`), ascending, with arbitrary payloads.
#[cfg(test)]
pub(crate) fn arbitrary_unknown_tagged_fields(
    known: &[u32],
) -> proptest::strategy::BoxedStrategy<Vec<RawTaggedField>> {
    use proptest::prelude::*;
    assert!(
        known.iter().all(|&tag| tag < 1000),
        "known tags stay below the unknown range"
    );
    proptest::collection::btree_map(
        1000u32..1008,
        proptest::collection::vec(any::<u8>(), 0..6),
        0..3,
    )
    .prop_map(|fields| {
        fields
            .into_iter()
            .map(|(tag, data)| RawTaggedField { tag, data })
            .collect()
    })
    .boxed()
}
