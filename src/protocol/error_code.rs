//! Kafka error codes: the numbers and names of `org.apache.kafka.common.protocol.Errors` that
//! the quorum, controller and admin APIs can return or receive.
//!
//! Messages carry error codes as plain `i16` fields (as on the wire, so an unknown code from a
//! newer peer still round-trips); [`ErrorCode`] is the typed view used by the code that acts on
//! them. Codes outside this list decode to `None` from [`ErrorCode::from_code`]; callers treat
//! them as [`ErrorCode::UnknownServerError`], as Kafka's `Errors.forCode` does.

use std::fmt;

macro_rules! error_codes {
    ($( $variant:ident = $code:literal, $name:literal, $meaning:literal; )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i16)]
        pub enum ErrorCode {
            $( #[doc = $meaning] $variant = $code, )*
        }

        impl ErrorCode {
            /// Every code keel knows, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            pub fn from_code(code: i16) -> Option<ErrorCode> {
                match code {
                    $( $code => Some(ErrorCode::$variant), )*
                    _ => None,
                }
            }

            /// Kafka's name for the code (`NOT_CONTROLLER`), as Kafka's tools print it.
            pub fn name(self) -> &'static str {
                match self { $( ErrorCode::$variant => $name, )* }
            }

            /// One sentence saying what the code means.
            pub fn meaning(self) -> &'static str {
                match self { $( ErrorCode::$variant => $meaning, )* }
            }
        }
    };
}

error_codes! {
    UnknownServerError = -1, "UNKNOWN_SERVER_ERROR", "The server hit an unexpected error.";
    None = 0, "NONE", "No error.";
    OffsetOutOfRange = 1, "OFFSET_OUT_OF_RANGE", "The requested offset is outside the range the server holds.";
    CorruptMessage = 2, "CORRUPT_MESSAGE", "A message failed its CRC check or is otherwise corrupt.";
    UnknownTopicOrPartition = 3, "UNKNOWN_TOPIC_OR_PARTITION", "This server does not host this topic or partition.";
    InvalidFetchSize = 4, "INVALID_FETCH_SIZE", "The requested fetch size is invalid.";
    LeaderNotAvailable = 5, "LEADER_NOT_AVAILABLE", "There is no leader for this partition right now (an election is under way).";
    NotLeaderOrFollower = 6, "NOT_LEADER_OR_FOLLOWER", "This server is not the leader (or a replica) of the partition.";
    RequestTimedOut = 7, "REQUEST_TIMED_OUT", "The request did not complete within its timeout.";
    BrokerNotAvailable = 8, "BROKER_NOT_AVAILABLE", "The broker is not available.";
    ReplicaNotAvailable = 9, "REPLICA_NOT_AVAILABLE", "The replica is not available for the requested partition.";
    MessageTooLarge = 10, "MESSAGE_TOO_LARGE", "The request included a message larger than the server accepts.";
    NetworkException = 13, "NETWORK_EXCEPTION", "The server disconnected before a response was received.";
    InvalidTopicException = 17, "INVALID_TOPIC_EXCEPTION", "The topic name is invalid.";
    RecordListTooLarge = 18, "RECORD_LIST_TOO_LARGE", "The batch is larger than the server accepts.";
    NotEnoughReplicas = 19, "NOT_ENOUGH_REPLICAS", "Fewer in-sync replicas than required.";
    TopicAuthorizationFailed = 29, "TOPIC_AUTHORIZATION_FAILED", "Not authorized to access the topic.";
    GroupAuthorizationFailed = 30, "GROUP_AUTHORIZATION_FAILED", "Not authorized to access the group.";
    ClusterAuthorizationFailed = 31, "CLUSTER_AUTHORIZATION_FAILED", "Not authorized to perform a cluster action.";
    UnsupportedVersion = 35, "UNSUPPORTED_VERSION", "The server does not support this version of the API.";
    TopicAlreadyExists = 36, "TOPIC_ALREADY_EXISTS", "A topic with this name already exists.";
    InvalidPartitions = 37, "INVALID_PARTITIONS", "The number of partitions is invalid.";
    InvalidReplicationFactor = 38, "INVALID_REPLICATION_FACTOR", "The replication factor is below 1 or above the number of available brokers.";
    InvalidReplicaAssignment = 39, "INVALID_REPLICA_ASSIGNMENT", "The replica assignment is invalid.";
    InvalidConfig = 40, "INVALID_CONFIG", "The configuration is invalid.";
    NotController = 41, "NOT_CONTROLLER", "This node is not the active controller.";
    InvalidRequest = 42, "INVALID_REQUEST", "The request is malformed or inconsistent.";
    PolicyViolation = 44, "POLICY_VIOLATION", "The request violates a configured policy.";
    TransactionalIdAuthorizationFailed = 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "Not authorized to use the transactional id.";
    OperationNotAttempted = 55, "OPERATION_NOT_ATTEMPTED", "The server did not attempt this operation.";
    KafkaStorageError = 56, "KAFKA_STORAGE_ERROR", "A disk error occurred while accessing the log.";
    ReassignmentInProgress = 60, "REASSIGNMENT_IN_PROGRESS", "A partition reassignment is in progress.";
    ListenerNotFound = 72, "LISTENER_NOT_FOUND", "The leader has no endpoint on the listener the request came in on.";
    TopicDeletionDisabled = 73, "TOPIC_DELETION_DISABLED", "Topic deletion is disabled.";
    FencedLeaderEpoch = 74, "FENCED_LEADER_EPOCH", "The leader epoch in the request is older than the receiver's.";
    UnknownLeaderEpoch = 75, "UNKNOWN_LEADER_EPOCH", "The leader epoch in the request is newer than the receiver's.";
    StaleBrokerEpoch = 77, "STALE_BROKER_EPOCH", "The broker epoch has changed.";
    OffsetNotAvailable = 78, "OFFSET_NOT_AVAILABLE", "The leader's high watermark has not caught up since its election.";
    EligibleLeadersNotAvailable = 83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", "No eligible replica can become the partition leader.";
    ElectionNotNeeded = 84, "ELECTION_NOT_NEEDED", "The partition already has the leader the election would choose.";
    InvalidRecord = 87, "INVALID_RECORD", "A record failed validation.";
    ThrottlingQuotaExceeded = 89, "THROTTLING_QUOTA_EXCEEDED", "The throttling quota has been exceeded.";
    ResourceNotFound = 91, "RESOURCE_NOT_FOUND", "The request refers to a resource that does not exist.";
    DuplicateResource = 92, "DUPLICATE_RESOURCE", "The request refers to the same resource twice.";
    InconsistentVoterSet = 94, "INCONSISTENT_VOTER_SET", "The sender or receiver of a voter-only request is not a voter.";
    InvalidUpdateVersion = 95, "INVALID_UPDATE_VERSION", "The update version is invalid.";
    FeatureUpdateFailed = 96, "FEATURE_UPDATE_FAILED", "The finalized features could not be updated.";
    SnapshotNotFound = 98, "SNAPSHOT_NOT_FOUND", "The requested snapshot does not exist.";
    PositionOutOfRange = 99, "POSITION_OUT_OF_RANGE", "The requested position is outside the snapshot.";
    UnknownTopicId = 100, "UNKNOWN_TOPIC_ID", "This server does not host this topic id.";
    DuplicateBrokerRegistration = 101, "DUPLICATE_BROKER_REGISTRATION", "This broker id is already registered by a live broker.";
    BrokerIdNotRegistered = 102, "BROKER_ID_NOT_REGISTERED", "This broker id is not registered.";
    InconsistentTopicId = 103, "INCONSISTENT_TOPIC_ID", "The topic id does not match the one the server has.";
    InconsistentClusterId = 104, "INCONSISTENT_CLUSTER_ID", "The cluster id in the request does not match the server's.";
    IneligibleReplica = 107, "INELIGIBLE_REPLICA", "The new ISR contains a replica that is not eligible.";
    NewLeaderElected = 108, "NEW_LEADER_ELECTED", "The partition state was updated but the leader has changed.";
    MismatchedEndpointType = 114, "MISMATCHED_ENDPOINT_TYPE", "The request was sent to an endpoint of the wrong type.";
    UnsupportedEndpointType = 115, "UNSUPPORTED_ENDPOINT_TYPE", "This endpoint type is not supported.";
    UnknownControllerId = 116, "UNKNOWN_CONTROLLER_ID", "This controller id is not known.";
    InvalidRegistration = 119, "INVALID_REGISTRATION", "The controller considers the broker registration invalid.";
    InvalidVoterKey = 125, "INVALID_VOTER_KEY", "The voter key (id and directory id) does not match the receiver's.";
    DuplicateVoter = 126, "DUPLICATE_VOTER", "The voter is already part of the voter set.";
    VoterNotFound = 127, "VOTER_NOT_FOUND", "The voter is not part of the voter set.";
}

impl ErrorCode {
    pub fn code(self) -> i16 {
        self as i16
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kafkas_numbers() {
        // Spot checks against apache/kafka Errors.java.
        assert_eq!(ErrorCode::UnsupportedVersion.code(), 35);
        assert_eq!(ErrorCode::NotController.code(), 41);
        assert_eq!(ErrorCode::FencedLeaderEpoch.code(), 74);
        assert_eq!(ErrorCode::InconsistentClusterId.code(), 104);
        assert_eq!(ErrorCode::InvalidVoterKey.code(), 125);
    }

    #[test]
    fn every_code_round_trips_and_is_listed_once_in_order() {
        for pair in ErrorCode::ALL.windows(2) {
            assert!(
                pair[0].code() < pair[1].code(),
                "{:?} before {:?}",
                pair[0],
                pair[1]
            );
        }
        for &error in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(error.code()), Some(error));
        }
        assert_eq!(ErrorCode::from_code(12345), None);
    }

    #[test]
    fn names_read_like_kafkas_tools() {
        assert_eq!(ErrorCode::NotController.to_string(), "NOT_CONTROLLER (41)");
    }
}
