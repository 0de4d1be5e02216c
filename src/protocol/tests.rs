//! Property and malformed-input tests over every generated message at every supported version.

use proptest::prelude::*;
use proptest::test_runner::Config;

use super::message::Message;
use super::messages::*;
use super::primitives::{DecodeErrorKind, EncodeError, RawTaggedField, Reader};

/// Encodes `value` at `version`, checks that decoding gives it back and re-encoding gives the
/// same bytes, and that every strict prefix of the bytes is refused as truncated.
fn check_round_trip<M: Message>(value: &M, version: i16) -> Result<(), TestCaseError> {
    let bytes = value
        .to_bytes(version)
        .map_err(|e| TestCaseError::fail(format!("{} v{version} did not encode: {e}", M::NAME)))?;
    let decoded = M::from_bytes(&bytes, version)
        .map_err(|e| TestCaseError::fail(format!("{} v{version} did not decode: {e}", M::NAME)))?;
    prop_assert_eq!(&decoded, value);
    prop_assert_eq!(decoded.to_bytes(version).unwrap(), bytes.clone());
    for cut in 0..bytes.len() {
        let error = M::decode(&mut Reader::new(&bytes[..cut]), version)
            .expect_err("a strict prefix of an encoding cannot decode");
        prop_assert!(
            matches!(
                error.kind,
                DecodeErrorKind::Truncated { .. } | DecodeErrorKind::LengthTooLarge { .. }
            ),
            "{} v{} cut at {}: {}",
            M::NAME,
            version,
            cut,
            error
        );
    }
    Ok(())
}

macro_rules! round_trip_test {
    ($message:ident, $module:ident) => {
        mod $module {
            use super::*;
            proptest! {
                #![proptest_config(Config { cases: 256, ..Config::default() })]
                #[test]
                fn round_trips_at_every_supported_version(
                    (version, value) in (<$message as Message>::VERSIONS)
                        .prop_flat_map(|v| (Just(v), $message::arbitrary(v)))
                ) {
                    check_round_trip(&value, version)?;
                }
            }

            proptest! {
                #![proptest_config(Config { cases: 256, ..Config::default() })]
                /// A value built for any version, narrowed to any other, encodes there and
                /// decodes back to the narrowed value; narrowing a value already valid at a
                /// version changes nothing.
                #[test]
                fn narrows_from_any_version_to_any_other(
                    (from, to, value, native) in (<$message as Message>::VERSIONS, <$message as Message>::VERSIONS)
                        .prop_flat_map(|(from, to)| (Just(from), Just(to), $message::arbitrary(from), $message::arbitrary(to)))
                ) {
                    let mut narrowed = value.clone();
                    narrowed.narrow_to_version(to);
                    let bytes = narrowed.to_bytes(to).map_err(|e| {
                        TestCaseError::fail(format!("{} v{from} narrowed to v{to} did not encode: {e}", <$message as Message>::NAME))
                    })?;
                    prop_assert_eq!(&$message::from_bytes(&bytes, to).unwrap(), &narrowed);
                    let mut unchanged = native.clone();
                    unchanged.narrow_to_version(to);
                    prop_assert_eq!(unchanged, native);
                }
            }

            #[test]
            fn refuses_versions_outside_its_range() {
                let below = *<$message as Message>::VERSIONS.start() - 1;
                let above = *<$message as Message>::VERSIONS.end() + 1;
                for version in [below, above] {
                    assert!(matches!(
                        $message::default().to_bytes(version),
                        Err(EncodeError::UnsupportedVersion { .. })
                    ));
                    let error = $message::decode(&mut Reader::new(&[0; 64]), version).unwrap_err();
                    assert_eq!(error.kind, DecodeErrorKind::UnsupportedVersion { version });
                }
            }
        }
    };
}

for_each_message!(round_trip_test);

#[test]
fn every_api_has_both_directions_and_one_version_range() {
    for &api in ApiKey::ALL {
        assert_eq!(ApiKey::from_i16(api as i16), Some(api));
        assert!(!api.versions().is_empty(), "{}", api.name());
    }
}

#[test]
fn unknown_tagged_fields_are_skipped_kept_and_re_encoded_in_tag_order() {
    // A flexible DescribeQuorumRequest v0: no topics, then a tag section with two unknown tags.
    let bytes = [0x01, 0x02, 0x05, 0x02, 0xaa, 0xbb, 0x09, 0x00];
    let decoded = DescribeQuorumRequest::from_bytes(&bytes, 0).unwrap();
    assert!(decoded.topics.is_empty());
    assert_eq!(
        decoded.unknown_tagged_fields,
        vec![
            RawTaggedField {
                tag: 5,
                data: vec![0xaa, 0xbb]
            },
            RawTaggedField {
                tag: 9,
                data: vec![]
            },
        ]
    );
    assert_eq!(decoded.to_bytes(0).unwrap(), bytes);
}

#[test]
fn tagged_fields_out_of_order_are_refused() {
    let bytes = [0x01, 0x02, 0x09, 0x00, 0x05, 0x00];
    let error = DescribeQuorumRequest::from_bytes(&bytes, 0).unwrap_err();
    assert_eq!(
        error.kind,
        DecodeErrorKind::TagsOutOfOrder {
            previous: 9,
            tag: 5
        }
    );
    assert_eq!(error.position, 4);
}

#[test]
fn a_known_tagged_field_must_fill_exactly_its_declared_size() {
    // FetchSnapshotRequest v0: ClusterId is tag 0. Declare 3 bytes holding a 1-byte string.
    let mut bytes = vec![];
    bytes.extend_from_slice(&(-1i32).to_be_bytes()); // ReplicaId
    bytes.extend_from_slice(&i32::MAX.to_be_bytes()); // MaxBytes
    bytes.push(0x01); // Topics: empty
    bytes.extend_from_slice(&[0x01, 0x00, 0x03, 0x01, 0x00, 0x00]); // one tag: 0, size 3, "" + 2 extra
    let error = FetchSnapshotRequest::from_bytes(&bytes, 0).unwrap_err();
    assert_eq!(
        error.kind,
        DecodeErrorKind::TaggedFieldSizeMismatch {
            tag: 0,
            declared: 3,
            used: 1
        }
    );
}

#[test]
fn a_known_tagged_field_is_decoded_from_its_section() {
    let request = FetchSnapshotRequest {
        cluster_id: Some("keel-cluster".into()),
        ..FetchSnapshotRequest::default()
    };
    let bytes = request.to_bytes(1).unwrap();
    assert_eq!(
        FetchSnapshotRequest::from_bytes(&bytes, 1)
            .unwrap()
            .cluster_id
            .as_deref(),
        Some("keel-cluster")
    );
    // A default (null) cluster id is not written at all: the section is empty.
    let bare = FetchSnapshotRequest::default().to_bytes(1).unwrap();
    assert_eq!(*bare.last().unwrap(), 0x00);
    assert_eq!(bytes.len(), bare.len() + 2 + 13);
}

#[test]
fn null_in_a_non_nullable_array_is_refused() {
    // DescribeQuorumRequest v0 with a null Topics array (compact length 0).
    let error = DescribeQuorumRequest::from_bytes(&[0x00, 0x00], 0).unwrap_err();
    assert_eq!(error.kind, DecodeErrorKind::NullNotAllowed);
    assert_eq!(error.field, "Topics");
}

#[test]
fn a_huge_array_count_over_a_short_body_is_refused_before_allocating() {
    // BeginQuorumEpochRequest v0 (classic): ClusterId null, then Topics claims 2^31-1 entries.
    let mut bytes = vec![0xff, 0xff];
    bytes.extend_from_slice(&i32::MAX.to_be_bytes());
    bytes.extend_from_slice(&[0; 8]);
    let error = BeginQuorumEpochRequest::from_bytes(&bytes, 0).unwrap_err();
    assert!(
        matches!(error.kind, DecodeErrorKind::LengthTooLarge { .. }),
        "{error}"
    );
    assert_eq!(error.field, "Topics");
}

#[test]
fn a_value_the_version_cannot_carry_is_refused_not_dropped() {
    // PreVote exists from Vote v2: a v1 encoding would silently turn a pre-vote into a vote.
    let request = VoteRequest {
        topics: vec![super::messages::vote_request::TopicData {
            partitions: vec![super::messages::vote_request::PartitionData {
                pre_vote: true,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..VoteRequest::default()
    };
    assert_eq!(
        request.to_bytes(1),
        Err(EncodeError::FieldNotInVersion {
            message: "VoteRequest",
            field: "PreVote",
            version: 1
        })
    );
    assert!(request.to_bytes(2).is_ok());
}

#[test]
fn ignorable_fields_are_dropped_in_versions_without_them_and_the_rest_refused() {
    // ErrorMessage (v2+) is ignorable, as in Kafka: an older reader loses only the text.
    let response = DescribeQuorumResponse {
        error_message: Some("no leader".into()),
        ..DescribeQuorumResponse::default()
    };
    assert_eq!(
        response.to_bytes(1),
        DescribeQuorumResponse::default().to_bytes(1)
    );
    // Nodes (v2+) is not: writing v1 would lose the listeners, so encoding fails instead.
    let response = DescribeQuorumResponse {
        nodes: vec![super::messages::describe_quorum_response::Node::default()],
        ..DescribeQuorumResponse::default()
    };
    assert_eq!(
        response.to_bytes(1),
        Err(EncodeError::FieldNotInVersion {
            message: "DescribeQuorumResponse",
            field: "Nodes",
            version: 1
        })
    );
}

#[test]
fn unknown_tagged_fields_cannot_be_written_in_a_non_flexible_version() {
    let request = BeginQuorumEpochRequest {
        unknown_tagged_fields: vec![RawTaggedField {
            tag: 7,
            data: vec![1],
        }],
        ..BeginQuorumEpochRequest::default()
    };
    assert!(matches!(
        request.to_bytes(0),
        Err(EncodeError::FieldNotInVersion { .. })
    ));
    assert!(request.to_bytes(1).is_ok());
}
