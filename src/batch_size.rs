//! The size of a record batch in bytes, the one formula every writer of batches counts with:
//! the fixed header, then per record a 4-byte length prefix and the record's bytes. The layout
//! itself is `storage::batch`'s (and `protocol-spec/storage-format.md`'s).
//!
//! The controller checks an operation's records against `BATCH_BYTES_MAX` with it before it
//! proposes them, snapshots and the node's staged batches cut their batches with it, and
//! storage sizes the batch it encodes with it, so all of them agree on what fits. A leaf: it
//! uses no other module of keel, and every module may use it. Pure.

/// Bytes of the fixed batch header before the first record.
pub const BATCH_HEADER_BYTES: usize = 48;
/// Bytes of the length prefix in front of each record.
pub const RECORD_LENGTH_BYTES: usize = 4;
/// The size of a batch that holds no record yet: where a running total starts.
pub const EMPTY_BATCH_BYTES: u64 = BATCH_HEADER_BYTES as u64;

/// The bytes one record of `record_len` bytes adds to a batch.
pub const fn record_bytes(record_len: usize) -> u64 {
    (RECORD_LENGTH_BYTES + record_len) as u64
}

/// The size of the batch holding records of these lengths.
pub fn batch_bytes(record_lens: impl IntoIterator<Item = usize>) -> u64 {
    EMPTY_BATCH_BYTES + record_lens.into_iter().map(record_bytes).sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_its_header_and_each_record_with_its_length() {
        assert_eq!(batch_bytes([]), 48);
        assert_eq!(batch_bytes([0]), 52);
        assert_eq!(batch_bytes([10, 0, 3]), 48 + 14 + 4 + 7);
        assert_eq!(record_bytes(100), 104);
    }
}
