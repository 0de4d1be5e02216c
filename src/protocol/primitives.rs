//! Kafka's primitive wire types: a bounds-checked reader and an appending writer.
//!
//! Everything here follows `org.apache.kafka.common.protocol.types` byte for byte: fixed-width
//! integers are big-endian; varints are base-128 little-endian groups (zig-zag for the signed
//! forms); classic strings/bytes/arrays carry an int16/int32 length (-1 = null); the compact
//! (flexible-version) forms carry an unsigned varint of length + 1 (0 = null).
//!
//! Invariants of [`Reader`]:
//! - it never reads past its slice and never panics on any input;
//! - it never allocates more than the bytes actually present justify: a length prefix is checked
//!   against the remaining bytes *before* anything is allocated, so a claimed length of 2^31 over
//!   a 20-byte buffer is an error, not an allocation.

use std::fmt;

use crate::uuid::Uuid;

/// Why a byte sequence is not a valid encoding. Carried inside [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended before the value did.
    Truncated { needed: usize, remaining: usize },
    /// A length or count below -1 (classic forms) where only -1 means null.
    NegativeLength(i64),
    /// A length or count larger than the bytes that remain, or than the type allows.
    LengthTooLarge { length: u64, limit: u64 },
    /// An unsigned varint longer than 5 bytes, or one whose value does not fit 32 bits.
    VarintTooLong,
    /// An unsigned varlong longer than 10 bytes, or one whose value does not fit 64 bits.
    VarlongTooLong,
    /// A string that is not valid UTF-8.
    InvalidUtf8,
    /// Null was sent for a field that is not nullable in this version.
    NullNotAllowed,
    /// Tagged fields must appear in strictly ascending tag order (Kafka rejects the rest).
    TagsOutOfOrder { previous: u32, tag: u32 },
    /// A known tagged field whose value did not fill exactly the size its header declared.
    TaggedFieldSizeMismatch {
        tag: u32,
        declared: usize,
        used: usize,
    },
    /// The message has no schema for this version.
    UnsupportedVersion { version: i16 },
}

/// A decode failure: what went wrong, in which field, at which byte of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    /// Byte offset from the start of the slice the [`Reader`] was created over.
    pub position: usize,
    /// The innermost schema field being read, `""` if not inside a field.
    pub field: &'static str,
    /// The message (struct) being read, `""` if not inside a message.
    pub message: &'static str,
}

impl DecodeError {
    fn at(kind: DecodeErrorKind, position: usize) -> Self {
        Self {
            kind,
            position,
            field: "",
            message: "",
        }
    }

    /// Names the field being read, unless an inner field already did.
    pub fn in_field(mut self, field: &'static str) -> Self {
        if self.field.is_empty() {
            self.field = field;
        }
        self
    }

    /// Names the message being read, unless an inner message already did.
    pub fn in_message(mut self, message: &'static str) -> Self {
        if self.message.is_empty() {
            self.message = message;
        }
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.message.is_empty(), self.field.is_empty()) {
            (false, false) => write!(f, "{}.{}", self.message, self.field)?,
            (false, true) => write!(f, "{}", self.message)?,
            (true, false) => write!(f, "{}", self.field)?,
            (true, true) => write!(f, "input")?,
        }
        write!(f, " at byte {}: ", self.position)?;
        match &self.kind {
            DecodeErrorKind::Truncated { needed, remaining } => {
                write!(f, "truncated: need {needed} bytes, {remaining} remain")
            }
            DecodeErrorKind::NegativeLength(n) => write!(f, "negative length {n}"),
            DecodeErrorKind::LengthTooLarge { length, limit } => {
                write!(f, "length {length} exceeds the limit of {limit}")
            }
            DecodeErrorKind::VarintTooLong => write!(f, "unsigned varint does not fit 32 bits"),
            DecodeErrorKind::VarlongTooLong => write!(f, "unsigned varlong does not fit 64 bits"),
            DecodeErrorKind::InvalidUtf8 => write!(f, "string is not valid UTF-8"),
            DecodeErrorKind::NullNotAllowed => write!(f, "null is not allowed here"),
            DecodeErrorKind::TagsOutOfOrder { previous, tag } => {
                write!(
                    f,
                    "tagged field {tag} follows tag {previous}: tags must ascend"
                )
            }
            DecodeErrorKind::TaggedFieldSizeMismatch {
                tag,
                declared,
                used,
            } => write!(
                f,
                "tagged field {tag} declared {declared} bytes but its value used {used}"
            ),
            DecodeErrorKind::UnsupportedVersion { version } => {
                write!(f, "version {version} is not supported")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// An encode failure: the value cannot be represented in the requested version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The message has no schema for this version.
    UnsupportedVersion { message: &'static str, version: i16 },
    /// A field that this version does not carry holds a non-default value, and the schema
    /// does not mark it ignorable: writing would silently drop data (Kafka refuses too).
    FieldNotInVersion {
        message: &'static str,
        field: &'static str,
        version: i16,
    },
    /// Null in a field that is not nullable in this version.
    NullNotAllowed {
        message: &'static str,
        field: &'static str,
        version: i16,
    },
    /// A string, bytes or array longer than its length prefix can express.
    TooLong {
        field: &'static str,
        length: usize,
        limit: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::UnsupportedVersion { message, version } => {
                write!(f, "{message} has no version {version}")
            }
            EncodeError::FieldNotInVersion {
                message,
                field,
                version,
            } => write!(
                f,
                "{message}.{field} holds a non-default value but version {version} cannot carry it"
            ),
            EncodeError::NullNotAllowed {
                message,
                field,
                version,
            } => write!(
                f,
                "{message}.{field} is null but not nullable in version {version}"
            ),
            EncodeError::TooLong {
                field,
                length,
                limit,
            } => write!(f, "{field} has length {length}, above the limit of {limit}"),
        }
    }
}

impl std::error::Error for EncodeError {}

pub use crate::constants::WIRE_STRING_BYTES_MAX as STRING_BYTES_MAX;

/// A tagged field that this version of keel does not know, kept so that re-encoding a decoded
/// message reproduces its bytes exactly (Kafka keeps them the same way).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawTaggedField {
    pub tag: u32,
    pub data: Vec<u8>,
}

/// A bounds-checked cursor over an input slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Position of `buf[0]` in the outermost input, so errors name absolute byte offsets.
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            base: 0,
        }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes read so far, counted from the start of the outermost input.
    pub fn position(&self) -> usize {
        self.base + self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes not yet read, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::at(kind, self.position())
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.truncated(n));
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    #[cold]
    #[inline(never)]
    fn truncated(&self, needed: usize) -> DecodeError {
        self.error(DecodeErrorKind::Truncated {
            needed,
            remaining: self.remaining(),
        })
    }

    #[inline]
    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Splits off the next `n` bytes as a reader of their own (used for tagged fields, whose
    /// values must fill exactly their declared size).
    pub fn sub_reader(&mut self, n: usize) -> Result<Reader<'a>, DecodeError> {
        let start = self.position();
        let bytes = self.take(n)?;
        Ok(Reader {
            buf: bytes,
            pos: 0,
            base: start,
        })
    }

    #[inline]
    pub fn read_i8(&mut self) -> Result<i8, DecodeError> {
        Ok(i8::from_be_bytes(self.take_array()?))
    }

    #[inline]
    pub fn read_i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.take_array()?))
    }

    #[inline]
    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take_array()?))
    }

    #[inline]
    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take_array()?))
    }

    #[inline]
    pub fn read_u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take_array()?))
    }

    #[inline]
    pub fn read_u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.take_array()?))
    }

    #[inline]
    pub fn read_f64(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_be_bytes(self.take_array()?))
    }

    /// Any non-zero byte is true, as Kafka reads it.
    #[inline]
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.read_i8()? != 0)
    }

    #[inline]
    pub fn read_uuid(&mut self) -> Result<Uuid, DecodeError> {
        Ok(Uuid::from_bytes(self.take_array()?))
    }

    /// Unsigned varint of at most 5 bytes whose value fits 32 bits.
    #[inline]
    pub fn read_unsigned_varint(&mut self) -> Result<u32, DecodeError> {
        let start = self.position();
        let mut value: u32 = 0;
        for i in 0..5 {
            let byte = self.take_array::<1>()?[0];
            if i == 4 && byte > 0x0f {
                return Err(DecodeError::at(DecodeErrorKind::VarintTooLong, start));
            }
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        unreachable!("the fifth byte either ends the varint or fails the 0x0f check")
    }

    /// Unsigned varlong of at most 10 bytes whose value fits 64 bits.
    #[inline]
    pub fn read_unsigned_varlong(&mut self) -> Result<u64, DecodeError> {
        let start = self.position();
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = self.take_array::<1>()?[0];
            if i == 9 && byte > 0x01 {
                return Err(DecodeError::at(DecodeErrorKind::VarlongTooLong, start));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        unreachable!("the tenth byte either ends the varlong or fails the 0x01 check")
    }

    /// Signed (zig-zag) varint.
    #[inline]
    pub fn read_varint(&mut self) -> Result<i32, DecodeError> {
        let raw = self.read_unsigned_varint()?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// Signed (zig-zag) varlong.
    #[inline]
    pub fn read_varlong(&mut self) -> Result<i64, DecodeError> {
        let raw = self.read_unsigned_varlong()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// Reads a length prefix: `None` for null, else a length no larger than `limit` and no
    /// larger than the bytes that remain after the prefix (each unit is at least one byte).
    fn read_length(
        &mut self,
        compact: bool,
        wide: bool,
        limit: u64,
    ) -> Result<Option<usize>, DecodeError> {
        let start = self.position();
        let length: i64 = if compact {
            i64::from(self.read_unsigned_varint()?) - 1
        } else if wide {
            i64::from(self.read_i32()?)
        } else {
            i64::from(self.read_i16()?)
        };
        if length == -1 {
            return Ok(None);
        }
        if length < -1 {
            return Err(DecodeError::at(
                DecodeErrorKind::NegativeLength(length),
                start,
            ));
        }
        let length = length as u64;
        let limit = limit.min(self.remaining() as u64);
        if length > limit {
            return Err(DecodeError::at(
                DecodeErrorKind::LengthTooLarge { length, limit },
                start,
            ));
        }
        Ok(Some(length as usize))
    }

    pub fn read_nullable_string(&mut self, compact: bool) -> Result<Option<String>, DecodeError> {
        let Some(length) = self.read_length(compact, false, STRING_BYTES_MAX as u64)? else {
            return Ok(None);
        };
        let start = self.position();
        let bytes = self.take(length)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Some(text.to_owned())),
            Err(_) => Err(DecodeError::at(DecodeErrorKind::InvalidUtf8, start)),
        }
    }

    pub fn read_string(&mut self, compact: bool) -> Result<String, DecodeError> {
        let start = self.position();
        self.read_nullable_string(compact)?
            .ok_or_else(|| DecodeError::at(DecodeErrorKind::NullNotAllowed, start))
    }

    pub fn read_nullable_bytes(&mut self, compact: bool) -> Result<Option<Vec<u8>>, DecodeError> {
        let Some(length) = self.read_length(compact, true, i32::MAX as u64)? else {
            return Ok(None);
        };
        Ok(Some(self.take(length)?.to_vec()))
    }

    pub fn read_bytes(&mut self, compact: bool) -> Result<Vec<u8>, DecodeError> {
        let start = self.position();
        self.read_nullable_bytes(compact)?
            .ok_or_else(|| DecodeError::at(DecodeErrorKind::NullNotAllowed, start))
    }

    /// Reads an array count: `None` for a null array. Like Kafka, a count larger than the
    /// bytes that remain is refused before anything is allocated.
    pub fn read_array_length(&mut self, compact: bool) -> Result<Option<usize>, DecodeError> {
        self.read_length(compact, true, i32::MAX as u64)
    }

    /// Reads an array of `count` elements with `read_element`. Pre-allocates at most as many
    /// element slots as there are input bytes left *in element-sized units*, so the allocation
    /// never exceeds the input size whatever the declared count.
    pub fn read_elements<T>(
        &mut self,
        count: usize,
        mut read_element: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let element_bytes = std::mem::size_of::<T>().max(1);
        let mut elements = Vec::with_capacity(count.min(self.remaining() / element_bytes));
        for _ in 0..count {
            elements.push(read_element(self)?);
        }
        Ok(elements)
    }

    /// Reads one tagged-field header pair and the raw value bytes that follow.
    pub fn read_raw_tagged_field(&mut self) -> Result<(u32, Reader<'a>), DecodeError> {
        let tag = self.read_unsigned_varint()?;
        let start = self.position();
        let size = self.read_unsigned_varint()? as usize;
        if size > self.remaining() {
            return Err(DecodeError::at(
                DecodeErrorKind::LengthTooLarge {
                    length: size as u64,
                    limit: self.remaining() as u64,
                },
                start,
            ));
        }
        Ok((tag, self.sub_reader(size)?))
    }
}

/// Appends Kafka-encoded values to a byte vector.
pub trait Writer {
    fn put_i8(&mut self, v: i8);
    fn put_i16(&mut self, v: i16);
    fn put_i32(&mut self, v: i32);
    fn put_i64(&mut self, v: i64);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_f64(&mut self, v: f64);
    fn put_bool(&mut self, v: bool);
    fn put_uuid(&mut self, v: &Uuid);
    fn put_unsigned_varint(&mut self, v: u32);
    fn put_unsigned_varlong(&mut self, v: u64);
    fn put_varint(&mut self, v: i32);
    fn put_varlong(&mut self, v: i64);
    fn put_raw(&mut self, bytes: &[u8]);
    /// Writes a length prefix; `None` is null.
    fn put_length(&mut self, length: Option<usize>, compact: bool, wide: bool);
}

impl Writer for Vec<u8> {
    fn put_i8(&mut self, v: i8) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i16(&mut self, v: i16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_f64(&mut self, v: f64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_bool(&mut self, v: bool) {
        self.push(u8::from(v));
    }
    fn put_uuid(&mut self, v: &Uuid) {
        self.extend_from_slice(v.as_bytes());
    }
    fn put_unsigned_varint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.push(v as u8);
    }
    fn put_unsigned_varlong(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.push(v as u8);
    }
    fn put_varint(&mut self, v: i32) {
        self.put_unsigned_varint(((v << 1) ^ (v >> 31)) as u32);
    }
    fn put_varlong(&mut self, v: i64) {
        self.put_unsigned_varlong(((v << 1) ^ (v >> 63)) as u64);
    }
    fn put_raw(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_length(&mut self, length: Option<usize>, compact: bool, wide: bool) {
        match (length, compact) {
            (None, true) => self.put_unsigned_varint(0),
            (None, false) if wide => self.put_i32(-1),
            (None, false) => self.put_i16(-1),
            (Some(n), true) => {
                let n = u32::try_from(n + 1).expect("length checked by the caller");
                self.put_unsigned_varint(n)
            }
            (Some(n), false) if wide => {
                self.put_i32(i32::try_from(n).expect("length checked by the caller"))
            }
            (Some(n), false) => {
                self.put_i16(i16::try_from(n).expect("length checked by the caller"))
            }
        }
    }
}

/// Checks that a string fits a Kafka length prefix (int16 for classic strings; Kafka applies
/// the same 32767-byte limit to compact strings).
pub fn check_string_length(field: &'static str, s: &str) -> Result<(), EncodeError> {
    if s.len() > STRING_BYTES_MAX {
        return Err(EncodeError::TooLong {
            field,
            length: s.len(),
            limit: STRING_BYTES_MAX,
        });
    }
    Ok(())
}

/// Checks that bytes or an array count fit an int32 length prefix.
pub fn check_wide_length(field: &'static str, length: usize) -> Result<(), EncodeError> {
    // Compact lengths are written as length + 1 in a u32, classic ones as an i32: the smaller
    // of the two bounds (i32::MAX - 1 for compact) is applied to both for simplicity.
    let limit = i32::MAX as usize - 1;
    if length > limit {
        return Err(EncodeError::TooLong {
            field,
            length,
            limit,
        });
    }
    Ok(())
}

pub fn write_nullable_string(
    w: &mut Vec<u8>,
    field: &'static str,
    s: Option<&str>,
    compact: bool,
) -> Result<(), EncodeError> {
    match s {
        None => w.put_length(None, compact, false),
        Some(s) => {
            check_string_length(field, s)?;
            w.put_length(Some(s.len()), compact, false);
            w.put_raw(s.as_bytes());
        }
    }
    Ok(())
}

pub fn write_nullable_bytes(
    w: &mut Vec<u8>,
    field: &'static str,
    b: Option<&[u8]>,
    compact: bool,
) -> Result<(), EncodeError> {
    match b {
        None => w.put_length(None, compact, true),
        Some(b) => {
            check_wide_length(field, b.len())?;
            w.put_length(Some(b.len()), compact, true);
            w.put_raw(b);
        }
    }
    Ok(())
}

/// Writes an array count (`None` = null array).
pub fn write_array_length(
    w: &mut Vec<u8>,
    field: &'static str,
    length: Option<usize>,
    compact: bool,
) -> Result<(), EncodeError> {
    if let Some(n) = length {
        check_wide_length(field, n)?;
    }
    w.put_length(length, compact, true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsigned_varint_bytes(v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_unsigned_varint(v);
        out
    }

    #[test]
    fn unsigned_varints_match_kafkas_byte_utils_vectors() {
        // The table from apache/kafka ByteUtilsTest and kafka-python test_varint.py.
        let vectors: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (63, &[0x3f]),
            (64, &[0x40]),
            (8191, &[0xff, 0x3f]),
            (8192, &[0x80, 0x40]),
            (1_048_575, &[0xff, 0xff, 0x3f]),
            (1_048_576, &[0x80, 0x80, 0x40]),
            (u32::MAX, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (value, bytes) in vectors {
            assert_eq!(unsigned_varint_bytes(*value), *bytes, "encoding {value}");
            assert_eq!(Reader::new(bytes).read_unsigned_varint().unwrap(), *value);
        }
    }

    #[test]
    fn signed_varints_zigzag_like_kafka() {
        let vectors: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (value, bytes) in vectors {
            let mut out = Vec::new();
            out.put_varint(*value);
            assert_eq!(out, *bytes, "encoding {value}");
            assert_eq!(Reader::new(bytes).read_varint().unwrap(), *value);
        }
        let mut out = Vec::new();
        out.put_varlong(i64::MIN);
        assert_eq!(
            out,
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        assert_eq!(Reader::new(&out).read_varlong().unwrap(), i64::MIN);
    }

    #[test]
    fn an_unterminated_varint_is_truncated_not_a_panic() {
        let err = Reader::new(&[0x80, 0x80])
            .read_unsigned_varint()
            .unwrap_err();
        assert_eq!(
            err.kind,
            DecodeErrorKind::Truncated {
                needed: 1,
                remaining: 0
            }
        );
    }

    #[test]
    fn a_varint_beyond_32_bits_is_refused() {
        let err = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x10])
            .read_unsigned_varint()
            .unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::VarintTooLong);
        assert_eq!(err.position, 0);
        let err = Reader::new(&[0xff; 6]).read_unsigned_varint().unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::VarintTooLong);
        let err = Reader::new(&[0xff; 11])
            .read_unsigned_varlong()
            .unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::VarlongTooLong);
    }

    #[test]
    fn compact_and_classic_strings_match_kafka() {
        let mut out = Vec::new();
        write_nullable_string(&mut out, "s", Some("kafka"), true).unwrap();
        write_nullable_string(&mut out, "s", None, true).unwrap();
        write_nullable_string(&mut out, "s", Some(""), true).unwrap();
        write_nullable_string(&mut out, "s", Some("ab"), false).unwrap();
        write_nullable_string(&mut out, "s", None, false).unwrap();
        assert_eq!(
            out,
            [
                6, b'k', b'a', b'f', b'k', b'a', 0, 1, 0, 2, b'a', b'b', 0xff, 0xff
            ]
        );
        let mut r = Reader::new(&out);
        assert_eq!(r.read_string(true).unwrap(), "kafka");
        assert_eq!(r.read_nullable_string(true).unwrap(), None);
        assert_eq!(r.read_string(true).unwrap(), "");
        assert_eq!(r.read_string(false).unwrap(), "ab");
        assert_eq!(r.read_nullable_string(false).unwrap(), None);
        assert!(r.is_empty());
    }

    #[test]
    fn null_in_a_non_nullable_string_is_an_error() {
        let err = Reader::new(&[0x00]).read_string(true).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::NullNotAllowed);
        let err = Reader::new(&[0xff, 0xff]).read_string(false).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::NullNotAllowed);
    }

    #[test]
    fn a_huge_length_over_a_short_buffer_is_an_error_not_an_allocation() {
        let mut input = vec![0x7f, 0xff, 0xff, 0xff];
        input.extend_from_slice(&[0u8; 16]);
        let err = Reader::new(&input).read_bytes(false).unwrap_err();
        assert_eq!(
            err.kind,
            DecodeErrorKind::LengthTooLarge {
                length: i32::MAX as u64,
                limit: 16
            }
        );
        let err = Reader::new(&input).read_array_length(false).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::LengthTooLarge { .. }));
        // A compact length of 2^32-2 over a 4-byte buffer.
        let err = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3, 4])
            .read_bytes(true)
            .unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::LengthTooLarge { .. }));
    }

    #[test]
    fn negative_lengths_other_than_minus_one_are_errors() {
        let err = Reader::new(&[0xff, 0xfe])
            .read_nullable_string(false)
            .unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::NegativeLength(-2));
        let err = Reader::new(&[0x80, 0, 0, 0])
            .read_array_length(false)
            .unwrap_err();
        assert_eq!(
            err.kind,
            DecodeErrorKind::NegativeLength(i64::from(i32::MIN))
        );
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let err = Reader::new(&[3, 0xc3, 0x28]).read_string(true).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::InvalidUtf8);
        assert_eq!(err.position, 1);
    }

    #[test]
    fn strings_longer_than_an_int16_cannot_be_encoded() {
        let long = "x".repeat(STRING_BYTES_MAX + 1);
        let err = write_nullable_string(&mut Vec::new(), "Name", Some(&long), true).unwrap_err();
        assert!(matches!(err, EncodeError::TooLong { field: "Name", .. }));
    }

    mod round_trips {
        use super::super::*;
        use proptest::prelude::*;

        macro_rules! fixed_width_round_trip {
            ($name:ident, $ty:ty, $put:ident, $read:ident, $bytes:expr) => {
                proptest! {
                    #[test]
                    fn $name(value in any::<$ty>()) {
                        let mut out = Vec::new();
                        out.$put(value);
                        prop_assert_eq!(out.len(), $bytes);
                        prop_assert_eq!(&out[..], &value.to_be_bytes()[..]);
                        let mut r = Reader::new(&out);
                        prop_assert_eq!(r.$read().unwrap(), value);
                        prop_assert!(r.is_empty());
                        prop_assert!(Reader::new(&out[..$bytes - 1]).$read().is_err());
                    }
                }
            };
        }

        fixed_width_round_trip!(int8, i8, put_i8, read_i8, 1);
        fixed_width_round_trip!(int16, i16, put_i16, read_i16, 2);
        fixed_width_round_trip!(int32, i32, put_i32, read_i32, 4);
        fixed_width_round_trip!(int64, i64, put_i64, read_i64, 8);
        fixed_width_round_trip!(uint16, u16, put_u16, read_u16, 2);
        fixed_width_round_trip!(uint32, u32, put_u32, read_u32, 4);

        proptest! {
            #[test]
            fn float64(bits in any::<u64>()) {
                let value = f64::from_bits(bits);
                let mut out = Vec::new();
                out.put_f64(value);
                prop_assert_eq!(Reader::new(&out).read_f64().unwrap().to_bits(), bits);
            }

            #[test]
            fn bool_writes_0_or_1_and_reads_any_non_zero_as_true(value in any::<bool>(), other in 1u8..) {
                let mut out = Vec::new();
                out.put_bool(value);
                prop_assert_eq!(out.clone(), vec![u8::from(value)]);
                prop_assert_eq!(Reader::new(&out).read_bool().unwrap(), value);
                prop_assert!(Reader::new(&[other]).read_bool().unwrap());
            }

            #[test]
            fn uuid(bytes in any::<[u8; 16]>()) {
                let mut out = Vec::new();
                out.put_uuid(&Uuid::from_bytes(bytes));
                prop_assert_eq!(Reader::new(&out).read_uuid().unwrap(), Uuid::from_bytes(bytes));
            }

            #[test]
            fn varints(u in any::<u32>(), s in any::<i32>(), ul in any::<u64>(), sl in any::<i64>()) {
                let mut out = Vec::new();
                out.put_unsigned_varint(u);
                out.put_varint(s);
                out.put_unsigned_varlong(ul);
                out.put_varlong(sl);
                let mut r = Reader::new(&out);
                prop_assert_eq!(r.read_unsigned_varint().unwrap(), u);
                prop_assert_eq!(r.read_varint().unwrap(), s);
                prop_assert_eq!(r.read_unsigned_varlong().unwrap(), ul);
                prop_assert_eq!(r.read_varlong().unwrap(), sl);
                prop_assert!(r.is_empty());
                for cut in 0..out.len() {
                    let mut r = Reader::new(&out[..cut]);
                    let all = r.read_unsigned_varint().and_then(|_| r.read_varint())
                        .and_then(|_| r.read_unsigned_varlong()).and_then(|_| r.read_varlong());
                    prop_assert!(all.is_err(), "a prefix of {} bytes decoded", cut);
                }
            }

            #[test]
            fn strings_in_all_four_forms(text in "\\PC{0,40}", null in any::<bool>()) {
                for compact in [false, true] {
                    let value = if null { None } else { Some(text.as_str()) };
                    let mut out = Vec::new();
                    write_nullable_string(&mut out, "s", value, compact).unwrap();
                    let mut r = Reader::new(&out);
                    let decoded = r.read_nullable_string(compact).unwrap();
                    prop_assert_eq!(decoded.as_deref(), value);
                    prop_assert!(r.is_empty());
                    if !null {
                        prop_assert_eq!(Reader::new(&out).read_string(compact).unwrap(), text.clone());
                    }
                    for cut in 0..out.len() {
                        prop_assert!(Reader::new(&out[..cut]).read_nullable_string(compact).is_err());
                    }
                }
            }

            #[test]
            fn bytes_in_all_four_forms(data in proptest::collection::vec(any::<u8>(), 0..300), null in any::<bool>()) {
                for compact in [false, true] {
                    let value = if null { None } else { Some(data.as_slice()) };
                    let mut out = Vec::new();
                    write_nullable_bytes(&mut out, "b", value, compact).unwrap();
                    let mut r = Reader::new(&out);
                    let decoded = r.read_nullable_bytes(compact).unwrap();
                    prop_assert_eq!(decoded.as_deref(), value);
                    prop_assert!(r.is_empty());
                    for cut in 0..out.len() {
                        prop_assert!(Reader::new(&out[..cut]).read_nullable_bytes(compact).is_err());
                    }
                }
            }

            #[test]
            fn arrays_of_int32(items in proptest::collection::vec(any::<i32>(), 0..50), null in any::<bool>()) {
                for compact in [false, true] {
                    let mut out = Vec::new();
                    write_array_length(&mut out, "a", (!null).then_some(items.len()), compact).unwrap();
                    if !null {
                        for item in &items {
                            out.put_i32(*item);
                        }
                    }
                    let mut r = Reader::new(&out);
                    let decoded = r
                        .read_array_length(compact)
                        .unwrap()
                        .map(|n| r.read_elements(n, Reader::read_i32).unwrap());
                    prop_assert_eq!(decoded, (!null).then(|| items.clone()));
                    prop_assert!(r.is_empty());
                }
            }
        }
    }

    #[test]
    fn errors_name_field_message_and_absolute_position() {
        let mut r = Reader::new(&[0, 0, 0, 0, 0xc3, 0x28]);
        r.read_i16().unwrap();
        let mut sub = r.sub_reader(4).unwrap();
        sub.read_i16().unwrap();
        let err = sub
            .read_i32()
            .unwrap_err()
            .in_field("LeaderId")
            .in_message("VoteResponse");
        assert_eq!(err.position, 4);
        assert_eq!(
            err.to_string(),
            "VoteResponse.LeaderId at byte 4: truncated: need 4 bytes, 2 remain"
        );
    }
}
