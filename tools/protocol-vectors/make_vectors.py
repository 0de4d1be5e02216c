#!/usr/bin/env python3
"""Writes the encoder-produced test vectors in protocol-spec/vectors/ with kafka-python.

kafka-python 3.x encodes messages at run time from Kafka's JSON message definitions. That
makes it an encoder independent of keel's (different language, different code generator):
- for Fetch, DescribeQuorum, DescribeCluster, Metadata, CreateTopics, DeleteTopics,
  CreatePartitions, DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, Produce,
  ListOffsets and FindCoordinator it uses the copies
  of Kafka 4.x's own JSON that ship inside kafka-python, so both the encoder and the schema are
  independent of keel;
- for Vote, BeginQuorumEpoch, EndQuorumEpoch, FetchSnapshot, BrokerRegistration,
  BrokerHeartbeat, UnregisterBroker and AlterPartition (which kafka-python does not ship) it
  reads keel's schemas from protocol-spec/schemas/, so the encoder is independent but the schema
  is keel's (those schemas were checked field by field against Kafka's generated message
  classes; see protocol-spec/README.md).

Vectors captured from real clients (kcat, confluent-kafka, kafka-python) are written by hand,
not by this script; see protocol-spec/vectors/README.md.

keel's test (tests/protocol_vectors.rs) decodes every vector, compares it with the message it
builds from the same values, and re-encodes it byte for byte.

Usage: python3 -m venv /tmp/kpy && /tmp/kpy/bin/pip install kafka-python==3.0.12
       /tmp/kpy/bin/python tools/protocol-vectors/make_vectors.py
Not run by CI: the vectors are checked in.
"""

import os
import shutil
import sys
import tempfile
import uuid

import kafka
from kafka.protocol.api_message import ApiMessage
from kafka.protocol.admin.cluster import (DescribeClusterRequest, DescribeClusterResponse,
                                         DescribeQuorumRequest, DescribeQuorumResponse)
from kafka.protocol.admin.configs import (AlterConfigsRequest, AlterConfigsResponse,
                                         DescribeConfigsRequest, DescribeConfigsResponse,
                                         IncrementalAlterConfigsRequest,
                                         IncrementalAlterConfigsResponse)
from kafka.protocol.admin.topics import (CreatePartitionsRequest, CreatePartitionsResponse,
                                        CreateTopicsRequest, CreateTopicsResponse,
                                        DeleteTopicsRequest, DeleteTopicsResponse)
from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata.find_coordinator import (FindCoordinatorRequest,
                                                     FindCoordinatorResponse)
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMAS = os.path.join(ROOT, "protocol-spec", "schemas")
VECTORS = os.path.join(ROOT, "protocol-spec", "vectors")

# keel's schemas as a Python package, for the APIs kafka-python does not ship.
package_dir = tempfile.mkdtemp()
os.makedirs(os.path.join(package_dir, "keelschemas"))
open(os.path.join(package_dir, "keelschemas", "__init__.py"), "w").close()
for name in os.listdir(SCHEMAS):
    if name.endswith(".json"):
        shutil.copy(os.path.join(SCHEMAS, name), os.path.join(package_dir, "keelschemas", name))
sys.path.insert(0, package_dir)
import keelschemas  # noqa: E402


class VoteRequest(ApiMessage, load_json=keelschemas): pass
class VoteResponse(ApiMessage, load_json=keelschemas): pass
class BeginQuorumEpochRequest(ApiMessage, load_json=keelschemas): pass
class BeginQuorumEpochResponse(ApiMessage, load_json=keelschemas): pass
class EndQuorumEpochRequest(ApiMessage, load_json=keelschemas): pass
class EndQuorumEpochResponse(ApiMessage, load_json=keelschemas): pass
class FetchSnapshotRequest(ApiMessage, load_json=keelschemas): pass
class FetchSnapshotResponse(ApiMessage, load_json=keelschemas): pass
class BrokerRegistrationRequest(ApiMessage, load_json=keelschemas): pass
class BrokerRegistrationResponse(ApiMessage, load_json=keelschemas): pass
class BrokerHeartbeatRequest(ApiMessage, load_json=keelschemas): pass
class BrokerHeartbeatResponse(ApiMessage, load_json=keelschemas): pass
class UnregisterBrokerRequest(ApiMessage, load_json=keelschemas): pass
class UnregisterBrokerResponse(ApiMessage, load_json=keelschemas): pass
class AlterPartitionRequest(ApiMessage, load_json=keelschemas): pass
class AlterPartitionResponse(ApiMessage, load_json=keelschemas): pass


def build(cls, values, version=None):
    """Builds a kafka-python message from nested dicts, following the schema's structs."""
    kwargs = {} if version is None else {"version": version}
    for key, value in values.items():
        field = cls._struct.fields[key]
        if field.is_struct_array():
            nested = getattr(cls, field.type_str)
            kwargs[key] = None if value is None else [build(nested, v) for v in value]
        elif field.is_struct():
            kwargs[key] = build(getattr(cls, field.type_str), value)
        else:
            kwargs[key] = value
    return cls(**kwargs)


def write(name, cls, version, values, source, correlation_id, client_id="keel"):
    message = build(cls, values, version)
    message.with_header(correlation_id=correlation_id, client_id=client_id)
    frame = message.encode(header=True, framed=True)
    direction = "request" if cls.is_request() else "response"
    api = cls.name[: -len("Request")] if cls.is_request() else cls.name[: -len("Response")]
    path = os.path.join(VECTORS, name + ".hex")
    with open(path, "w") as out:
        out.write(f"# {cls.name} v{version}: {source}\n")
        out.write(f"# Encoded by kafka-python {kafka.__version__} (tools/protocol-vectors/make_vectors.py).\n")
        out.write(f"# direction: {direction}\n# api: {api}\n# version: {version}\n")
        for i in range(0, len(frame), 32):
            out.write(frame[i : i + 32].hex() + "\n")
    print(f"{path}: {len(frame)} bytes")


KAFKA_SCHEMA = "schema: Kafka 4.x's own JSON as shipped in kafka-python"
KEEL_SCHEMA = "schema: keel's protocol-spec/schemas/"
METADATA_TOPIC_ID = uuid.UUID(int=1)
DIR_1 = uuid.UUID("0a1b2c3d-4e5f-4061-8273-8495a6b7c8d9")
DIR_2 = uuid.UUID("f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b")
CLUSTER = "MkU3OEVBNTcwNTJENDM2Qg"

write("vote-v2-request", VoteRequest, 2, {
    "cluster_id": CLUSTER, "voter_id": 3,
    "topics": [{"topic_name": "__cluster_metadata", "partitions": [{
        "partition_index": 0, "replica_epoch": 7, "replica_id": 2,
        "replica_directory_id": DIR_2, "voter_directory_id": DIR_1,
        "last_offset_epoch": 6, "last_offset": 1234, "pre_vote": True}]}],
}, "a pre-vote from node 2 to node 3; " + KEEL_SCHEMA, 11)

write("vote-v2-response", VoteResponse, 2, {
    "error_code": 0,
    "topics": [{"topic_name": "__cluster_metadata", "partitions": [{
        "partition_index": 0, "error_code": 0, "leader_id": -1, "leader_epoch": 6, "vote_granted": True}]}],
    "node_endpoints": [{"node_id": 3, "host": "127.0.0.1", "port": 9095}],
}, "vote granted, with the tagged NodeEndpoints; " + KEEL_SCHEMA, 11)

write("begin-quorum-epoch-v0-request", BeginQuorumEpochRequest, 0, {
    "cluster_id": CLUSTER,
    "topics": [{"topic_name": "__cluster_metadata", "partitions": [{
        "partition_index": 0, "leader_id": 1, "leader_epoch": 8}]}],
}, "the non-flexible version (request header v1); " + KEEL_SCHEMA, 12)

write("begin-quorum-epoch-v1-request", BeginQuorumEpochRequest, 1, {
    "cluster_id": CLUSTER, "voter_id": 2,
    "topics": [{"topic_name": "__cluster_metadata", "partitions": [{
        "partition_index": 0, "voter_directory_id": DIR_2, "leader_id": 1, "leader_epoch": 8}]}],
    "leader_endpoints": [{"name": "CONTROLLER", "host": "127.0.0.1", "port": 9093}],
}, "node 1 announces epoch 8 to node 2; " + KEEL_SCHEMA, 13)

write("begin-quorum-epoch-v1-response", BeginQuorumEpochResponse, 1, {
    "error_code": 0,
    "topics": [{"topic_name": "__cluster_metadata", "partitions": [{
        "partition_index": 0, "error_code": 0, "leader_id": 1, "leader_epoch": 8}]}],
}, KEEL_SCHEMA, 13)

write("end-quorum-epoch-v1-request", EndQuorumEpochRequest, 1, {
    "cluster_id": CLUSTER,
    "topics": [{"topic_name": "__cluster_metadata", "partitions": [{
        "partition_index": 0, "leader_id": 1, "leader_epoch": 8,
        "preferred_candidates": [{"candidate_id": 2, "candidate_directory_id": DIR_2},
                                 {"candidate_id": 3, "candidate_directory_id": DIR_1}]}]}],
    "leader_endpoints": [{"name": "CONTROLLER", "host": "127.0.0.1", "port": 9093}],
}, "node 1 resigns, preferring 2 then 3; " + KEEL_SCHEMA, 14)

write("end-quorum-epoch-v1-response", EndQuorumEpochResponse, 1, {
    "error_code": 0,
    "topics": [{"topic_name": "__cluster_metadata", "partitions": [{
        "partition_index": 0, "error_code": 74, "leader_id": 2, "leader_epoch": 9}]}],
    "node_endpoints": [{"node_id": 2, "host": "127.0.0.1", "port": 9094}],
}, "FENCED_LEADER_EPOCH: the receiver already follows epoch 9; " + KEEL_SCHEMA, 14)

write("fetch-v17-request", FetchRequest, 17, {
    "cluster_id": CLUSTER,
    "replica_state": {"replica_id": 2, "replica_epoch": -1},
    "max_wait_ms": 500, "min_bytes": 0, "max_bytes": 8388608, "isolation_level": 0,
    "session_id": 0, "session_epoch": -1,
    "topics": [{"topic_id": METADATA_TOPIC_ID, "partitions": [{
        "partition": 0, "current_leader_epoch": 8, "fetch_offset": 1235, "last_fetched_epoch": 7,
        "log_start_offset": -1, "partition_max_bytes": 8388608, "replica_directory_id": DIR_2}]}],
    "forgotten_topics_data": [], "rack_id": "",
}, "a KRaft follower fetch from node 2; " + KAFKA_SCHEMA, 15)

write("fetch-v12-request", FetchRequest, 12, {
    "cluster_id": None, "replica_id": 5,
    "max_wait_ms": 500, "min_bytes": 0, "max_bytes": 8388608, "isolation_level": 0,
    "session_id": 0, "session_epoch": -1,
    "topics": [{"topic": "__cluster_metadata", "partitions": [{
        "partition": 0, "current_leader_epoch": 8, "fetch_offset": 0, "last_fetched_epoch": -1,
        "log_start_offset": -1, "partition_max_bytes": 1048576}]}],
    "forgotten_topics_data": [], "rack_id": "",
}, "the oldest version controllers take: topic by name, ReplicaId in the body; " + KAFKA_SCHEMA, 16)

write("fetch-v17-response", FetchResponse, 17, {
    "throttle_time_ms": 0, "error_code": 0, "session_id": 0,
    "responses": [{"topic_id": METADATA_TOPIC_ID, "partitions": [{
        "partition_index": 0, "error_code": 0, "high_watermark": 1200, "last_stable_offset": 1200,
        "log_start_offset": 0,
        "diverging_epoch": {"epoch": 6, "end_offset": 1100},
        "current_leader": {"leader_id": 1, "leader_epoch": 8},
        "aborted_transactions": None, "preferred_read_replica": -1,
        "records": bytes(range(16))}]}],
    "node_endpoints": [{"node_id": 1, "host": "127.0.0.1", "port": 9093, "rack": None}],
}, "a diverging-epoch answer with the leader's endpoint; " + KAFKA_SCHEMA, 15)

write("fetch-snapshot-v1-request", FetchSnapshotRequest, 1, {
    "cluster_id": CLUSTER, "replica_id": 2, "max_bytes": 1048576,
    "topics": [{"name": "__cluster_metadata", "partitions": [{
        "partition": 0, "current_leader_epoch": 8,
        "snapshot_id": {"end_offset": 1000, "epoch": 7}, "position": 65536,
        "replica_directory_id": DIR_2}]}],
}, "the second chunk of snapshot 1000-7; " + KEEL_SCHEMA, 17)

write("fetch-snapshot-v1-response", FetchSnapshotResponse, 1, {
    "throttle_time_ms": 0, "error_code": 0,
    "topics": [{"name": "__cluster_metadata", "partitions": [{
        "index": 0, "error_code": 0, "snapshot_id": {"end_offset": 1000, "epoch": 7},
        "current_leader": {"leader_id": 1, "leader_epoch": 8},
        "size": 70000, "position": 65536, "unaligned_records": bytes([0xab] * 12)}]}],
    "node_endpoints": [{"node_id": 1, "host": "127.0.0.1", "port": 9093}],
}, KEEL_SCHEMA, 17)

write("describe-quorum-v2-request", DescribeQuorumRequest, 2, {
    "topics": [{"topic_name": "__cluster_metadata", "partitions": [{"partition_index": 0}]}],
}, "as kafka-metadata-quorum.sh asks; " + KAFKA_SCHEMA, 18, client_id="adminclient-1")

write("describe-quorum-v2-response", DescribeQuorumResponse, 2, {
    "error_code": 0, "error_message": None,
    "topics": [{"topic_name": "__cluster_metadata", "partitions": [{
        "partition_index": 0, "error_code": 0, "error_message": None,
        "leader_id": 1, "leader_epoch": 8, "high_watermark": 1200,
        "current_voters": [
            {"replica_id": 1, "replica_directory_id": DIR_1, "log_end_offset": 1235,
             "last_fetch_timestamp": 1763700000000, "last_caught_up_timestamp": 1763700000000},
            {"replica_id": 2, "replica_directory_id": DIR_2, "log_end_offset": 1200,
             "last_fetch_timestamp": 1763699999500, "last_caught_up_timestamp": 1763699999000}],
        "observers": [
            {"replica_id": 101, "replica_directory_id": uuid.UUID(int=0), "log_end_offset": 1100,
             "last_fetch_timestamp": 1763699998000, "last_caught_up_timestamp": -1}]}]}],
    "nodes": [{"node_id": 1, "listeners": [{"name": "CONTROLLER", "host": "127.0.0.1", "port": 9093}]},
              {"node_id": 2, "listeners": [{"name": "CONTROLLER", "host": "127.0.0.1", "port": 9094}]}],
}, KAFKA_SCHEMA, 18)

write("describe-quorum-v0-response", DescribeQuorumResponse, 0, {
    "error_code": 0,
    "topics": [{"topic_name": "__cluster_metadata", "partitions": [{
        "partition_index": 0, "error_code": 0, "leader_id": 1, "leader_epoch": 8, "high_watermark": 1200,
        "current_voters": [{"replica_id": 1, "log_end_offset": 1235}],
        "observers": []}]}],
}, "the v0 shape older kafka-metadata-quorum.sh versions read; " + KAFKA_SCHEMA, 19)

write("describe-cluster-v1-request", DescribeClusterRequest, 1, {
    "include_cluster_authorized_operations": False, "endpoint_type": 2,
}, "what kafka-metadata-quorum.sh --bootstrap-controller asks; " + KAFKA_SCHEMA, 20, client_id="adminclient-1")

write("describe-cluster-v1-response", DescribeClusterResponse, 1, {
    "throttle_time_ms": 0, "error_code": 0, "error_message": None, "endpoint_type": 2,
    "cluster_id": CLUSTER, "controller_id": 2,
    "brokers": [{"broker_id": 1, "host": "127.0.0.1", "port": 9093, "rack": None},
                {"broker_id": 2, "host": "127.0.0.1", "port": 9094, "rack": None}],
    "authorized_operations": None,  # kafka-python writes INT32_MIN for "not requested"
}, "a controller's answer; " + KAFKA_SCHEMA, 20)


# --- Client and admin APIs (Kafka 4.x's own JSON). Topic ids, names and numbers are made up but
# distinctive, so a field read from the wrong place shows.

PAYMENTS_ID = uuid.UUID("5f1d9c2e-8a4b-4c3d-9e7f-102132435465")
METRICS_ID = uuid.UUID("0b8e6a4c-2d1f-4e3a-8b5c-a6b7c8d9e0f1")
GONE_ID = uuid.UUID("deadbeef-0000-4000-8000-00000000c0de")
ZERO_ID = uuid.UUID(int=0)
BROKERS = [{"node_id": 1, "host": "10.0.0.1", "port": 9092, "rack": "rack-a"},
           {"node_id": 2, "host": "broker-2.example", "port": 19092, "rack": None}]

write("metadata-v4-request", MetadataRequest, 4, {
    "topics": [{"name": "payments"}, {"name": "audit-log"}], "allow_auto_topic_creation": False,
}, "two named topics, no auto-creation (librdkafka and kafka-python cap Metadata at v4 against the "
   "set in kafka-clients.md); " + KAFKA_SCHEMA, 30, client_id="adminclient-1")

write("metadata-v4-response", MetadataResponse, 4, {
    "throttle_time_ms": 0, "brokers": BROKERS, "cluster_id": CLUSTER, "controller_id": 2,
    "topics": [
        {"error_code": 0, "name": "payments", "is_internal": False, "partitions": [
            {"error_code": 0, "partition_index": 0, "leader_id": 1, "replica_nodes": [1, 2], "isr_nodes": [1, 2]},
            {"error_code": 9, "partition_index": 1, "leader_id": 2, "replica_nodes": [2, 1], "isr_nodes": [2]}]},
        {"error_code": 3, "name": "audit-log", "is_internal": False, "partitions": []}],
}, "one topic with a partition short of replicas, one unknown topic; " + KAFKA_SCHEMA, 30)

write("metadata-v12-request", MetadataRequest, 12, {
    "topics": [{"topic_id": PAYMENTS_ID, "name": None}, {"topic_id": ZERO_ID, "name": "audit-log"},
               {"topic_id": GONE_ID, "name": None}],
    "allow_auto_topic_creation": False, "include_topic_authorized_operations": True,
}, "topics by id and by name (v12 is the first version that looks topics up by id); " + KAFKA_SCHEMA,
   31, client_id="adminclient-1")

write("metadata-v12-response", MetadataResponse, 12, {
    "throttle_time_ms": 0, "brokers": BROKERS, "cluster_id": CLUSTER, "controller_id": 1,
    "topics": [
        {"error_code": 0, "name": "payments", "topic_id": PAYMENTS_ID, "is_internal": False, "partitions": [
            {"error_code": 0, "partition_index": 0, "leader_id": 1, "leader_epoch": 14,
             "replica_nodes": [1, 2, 3], "isr_nodes": [1, 2], "offline_replicas": [3]}],
         "authorized_operations": {3, 4, 8}},
        {"error_code": 3, "name": "audit-log", "topic_id": ZERO_ID, "is_internal": False, "partitions": [],
         "authorized_operations": None},
        {"error_code": 100, "name": None, "topic_id": GONE_ID, "is_internal": False, "partitions": [],
         "authorized_operations": None}],
}, "a topic found by id (with leader epoch, offline replica, authorized operations), an unknown "
   "name and an unknown id; " + KAFKA_SCHEMA, 31)

CREATE_TOPICS = [
    {"name": "payments", "num_partitions": 6, "replication_factor": 3, "assignments": [],
     "configs": [{"name": "retention.ms", "value": "604800000"}, {"name": "cleanup.policy", "value": "compact"}]},
    {"name": "audit-log", "num_partitions": -1, "replication_factor": -1,
     "assignments": [{"partition_index": 0, "broker_ids": [1, 2]}, {"partition_index": 1, "broker_ids": [2, 3]}],
     "configs": [{"name": "compression.type", "value": None}]},
]

write("create-topics-v4-request", CreateTopicsRequest, 4, {
    "topics": CREATE_TOPICS, "timeout_ms": 30000, "validate_only": True,
}, "one topic by count, one by explicit assignment, validate only; " + KAFKA_SCHEMA, 32,
   client_id="adminclient-1")

write("create-topics-v4-response", CreateTopicsResponse, 4, {
    "throttle_time_ms": 0, "topics": [
        {"name": "payments", "error_code": 0, "error_message": None},
        {"name": "audit-log", "error_code": 36, "error_message": "Topic 'audit-log' already exists."}],
}, KAFKA_SCHEMA, 32)

write("create-topics-v7-request", CreateTopicsRequest, 7, {
    "topics": CREATE_TOPICS, "timeout_ms": 30000, "validate_only": False,
}, "the newest version (flexible); " + KAFKA_SCHEMA, 33, client_id="adminclient-1")

write("create-topics-v7-response", CreateTopicsResponse, 7, {
    "throttle_time_ms": 0, "topics": [
        {"name": "payments", "topic_id": PAYMENTS_ID, "error_code": 0, "error_message": None,
         "num_partitions": 6, "replication_factor": 3, "configs": [
             {"name": "retention.ms", "value": "604800000", "read_only": False, "config_source": 1, "is_sensitive": False},
             {"name": "sasl.jaas.config", "value": None, "read_only": True, "config_source": 4, "is_sensitive": True}]},
        {"name": "metrics", "topic_id": METRICS_ID, "error_code": 0, "error_message": None,
         "topic_config_error_code": 29, "num_partitions": 3, "replication_factor": 2, "configs": None},
        {"name": "audit-log", "topic_id": ZERO_ID, "error_code": 36,
         "error_message": "Topic 'audit-log' already exists.", "num_partitions": -1, "replication_factor": -1,
         "configs": None}],
}, "created with configs, created without (tagged TopicConfigErrorCode), already exists; " + KAFKA_SCHEMA, 33)

write("delete-topics-v1-request", DeleteTopicsRequest, 1, {
    "topic_names": ["payments", "audit-log"], "timeout_ms": 15000,
}, KAFKA_SCHEMA, 34, client_id="adminclient-1")

write("delete-topics-v1-response", DeleteTopicsResponse, 1, {
    "throttle_time_ms": 0, "responses": [{"name": "payments", "error_code": 0},
                                         {"name": "audit-log", "error_code": 3}],
}, KAFKA_SCHEMA, 34)

write("delete-topics-v6-request", DeleteTopicsRequest, 6, {
    "topics": [{"name": "payments", "topic_id": ZERO_ID}, {"name": None, "topic_id": GONE_ID}],
    "timeout_ms": 15000,
}, "one topic by name, one by id (what kafka-python sends for names: name plus a zero id); "
   + KAFKA_SCHEMA, 35, client_id="adminclient-1")

write("delete-topics-v6-response", DeleteTopicsResponse, 6, {
    "throttle_time_ms": 0, "responses": [
        {"name": "payments", "topic_id": PAYMENTS_ID, "error_code": 0, "error_message": None},
        {"name": None, "topic_id": GONE_ID, "error_code": 100, "error_message": "This server does not host this topic ID."}],
}, KAFKA_SCHEMA, 35)

write("create-partitions-v0-request", CreatePartitionsRequest, 0, {
    "topics": [{"name": "payments", "count": 8, "assignments": [{"broker_ids": [1, 2]}, {"broker_ids": [2, 3]}]},
               {"name": "audit-log", "count": 4, "assignments": None}],
    "timeout_ms": 25000, "validate_only": False,
}, "two new partitions placed by hand, and a count with no placement; " + KAFKA_SCHEMA, 36,
   client_id="adminclient-1")

write("create-partitions-v0-response", CreatePartitionsResponse, 0, {
    "throttle_time_ms": 0, "results": [
        {"name": "payments", "error_code": 0, "error_message": None},
        {"name": "audit-log", "error_code": 37, "error_message": "Topic already has 4 partition(s)."}],
}, KAFKA_SCHEMA, 36)

write("describe-configs-v1-request", DescribeConfigsRequest, 1, {
    "resources": [{"resource_type": 2, "resource_name": "payments",
                   "configuration_keys": ["retention.ms", "cleanup.policy"]},
                  {"resource_type": 4, "resource_name": "1", "configuration_keys": None}],
    "include_synonyms": True,
}, "two keys of a topic, every key of broker 1, with synonyms; " + KAFKA_SCHEMA, 37,
   client_id="adminclient-1")

write("describe-configs-v1-response", DescribeConfigsResponse, 1, {
    "throttle_time_ms": 0, "results": [
        {"error_code": 0, "error_message": None, "resource_type": 2, "resource_name": "payments", "configs": [
            {"name": "retention.ms", "value": "604800000", "read_only": False, "config_source": 1,
             "is_sensitive": False, "synonyms": [
                 {"name": "retention.ms", "value": "604800000", "source": 1},
                 {"name": "log.retention.hours", "value": "168", "source": 4}]},
            {"name": "cleanup.policy", "value": "compact", "read_only": False, "config_source": 1,
             "is_sensitive": False, "synonyms": []}]},
        {"error_code": 0, "error_message": None, "resource_type": 4, "resource_name": "1", "configs": [
            {"name": "ssl.key.password", "value": None, "read_only": True, "config_source": 4,
             "is_sensitive": True, "synonyms": []}]}],
}, KAFKA_SCHEMA, 37)

write("alter-configs-v0-request", AlterConfigsRequest, 0, {
    "resources": [{"resource_type": 2, "resource_name": "payments", "configs": [
        {"name": "retention.ms", "value": "86400000"}, {"name": "cleanup.policy", "value": None}]},
                  {"resource_type": 4, "resource_name": "2", "configs": [
        {"name": "log.cleaner.threads", "value": "2"}]}],
    "validate_only": True,
}, KAFKA_SCHEMA, 38, client_id="adminclient-1")

write("alter-configs-v0-response", AlterConfigsResponse, 0, {
    "throttle_time_ms": 0, "responses": [
        {"error_code": 0, "error_message": None, "resource_type": 2, "resource_name": "payments"},
        {"error_code": 40, "error_message": "Invalid value for log.cleaner.threads", "resource_type": 4,
         "resource_name": "2"}],
}, KAFKA_SCHEMA, 38)

write("incremental-alter-configs-v1-request", IncrementalAlterConfigsRequest, 1, {
    "resources": [{"resource_type": 2, "resource_name": "payments", "configs": [
        {"name": "retention.ms", "config_operation": 0, "value": "86400000"},
        {"name": "cleanup.policy", "config_operation": 2, "value": "delete"},
        {"name": "min.insync.replicas", "config_operation": 1, "value": None}]}],
    "validate_only": False,
}, "set, append and delete on one topic; " + KAFKA_SCHEMA, 39, client_id="adminclient-1")

write("incremental-alter-configs-v1-response", IncrementalAlterConfigsResponse, 1, {
    "throttle_time_ms": 0, "responses": [
        {"error_code": 0, "error_message": None, "resource_type": 2, "resource_name": "payments"}],
}, KAFKA_SCHEMA, 39)

# --- Broker-to-controller RPCs (keel's schemas), at their newest versions.

INCARNATION = uuid.UUID("7c6b5a49-3827-4615-a4b3-c2d1e0f9a8b7")

write("broker-registration-v4-request", BrokerRegistrationRequest, 4, {
    "broker_id": 4, "cluster_id": CLUSTER, "incarnation_id": INCARNATION,
    "listeners": [{"name": "PLAINTEXT", "host": "10.0.0.4", "port": 9092, "security_protocol": 0},
                  {"name": "SSL", "host": "broker-4.example", "port": 9443, "security_protocol": 1}],
    "features": [{"name": "metadata.version", "min_supported_version": 7, "max_supported_version": 26},
                 {"name": "kraft.version", "min_supported_version": 0, "max_supported_version": 1}],
    "rack": "rack-b", "is_migrating_zk_broker": False, "log_dirs": [DIR_1, DIR_2],
    "previous_broker_epoch": 4321,
}, "broker 4 re-registering after a clean shutdown; " + KEEL_SCHEMA, 40, client_id="broker-4")

write("broker-registration-v4-response", BrokerRegistrationResponse, 4, {
    "throttle_time_ms": 0, "error_code": 0, "broker_epoch": 5678,
}, KEEL_SCHEMA, 40)

write("broker-heartbeat-v1-request", BrokerHeartbeatRequest, 1, {
    "broker_id": 4, "broker_epoch": 5678, "current_metadata_offset": 91011,
    "want_fence": False, "want_shut_down": True, "offline_log_dirs": [DIR_2],
}, "a broker shutting down with one failed log directory (tagged OfflineLogDirs); " + KEEL_SCHEMA,
   41, client_id="broker-4")

write("broker-heartbeat-v1-response", BrokerHeartbeatResponse, 1, {
    "throttle_time_ms": 0, "error_code": 0, "is_caught_up": True, "is_fenced": False,
    "should_shut_down": True,
}, KEEL_SCHEMA, 41)

write("unregister-broker-v0-request", UnregisterBrokerRequest, 0, {
    "broker_id": 7,
}, KEEL_SCHEMA, 42, client_id="adminclient-1")

write("unregister-broker-v0-response", UnregisterBrokerResponse, 0, {
    "throttle_time_ms": 0, "error_code": 102, "error_message": "Broker ID 7 is not currently registered",
}, KEEL_SCHEMA, 42)

write("alter-partition-v3-request", AlterPartitionRequest, 3, {
    "broker_id": 4, "broker_epoch": 5678, "topics": [{"topic_id": PAYMENTS_ID, "partitions": [{
        "partition_index": 2, "leader_epoch": 11,
        "new_isr_with_epochs": [{"broker_id": 4, "broker_epoch": 5678}, {"broker_id": 5, "broker_epoch": 6789}],
        "leader_recovery_state": 0, "partition_epoch": 23}]}],
}, "the leader of payments-2 shrinks the ISR to brokers 4 and 5; " + KEEL_SCHEMA, 43, client_id="broker-4")

write("alter-partition-v3-response", AlterPartitionResponse, 3, {
    "throttle_time_ms": 0, "error_code": 0, "topics": [{"topic_id": PAYMENTS_ID, "partitions": [{
        "partition_index": 2, "error_code": 0, "leader_id": 4, "leader_epoch": 11, "isr": [4, 5],
        "leader_recovery_state": 0, "partition_epoch": 24}]}],
}, KEEL_SCHEMA, 43)


# --- The client APIs keel brokers refuse (src/node/not_served.rs), at the versions real clients
# send, with keel's refusals. Kafka 4.x's own JSON.
NOT_SERVED = ("keel brokers serve metadata only: no Produce, Fetch, ListOffsets or consumer groups "
              "(keel stores cluster metadata, not messages); topics, configs and the cluster are "
              "managed with the admin APIs")

write("produce-v7-request", ProduceRequest, 7, {
    "transactional_id": None, "acks": -1, "timeout_ms": 30000,
    "topic_data": [{"name": "orders", "partition_data": [{"index": 2, "records": bytes(range(24))}]}],
}, "the shape kcat -P (librdkafka 2.0.2) sends: one partition; " + KAFKA_SCHEMA, 50, client_id="rdkafka")

write("produce-v7-response", ProduceResponse, 7, {
    "responses": [{"name": "orders", "partition_responses": [{
        "index": 2, "error_code": 29, "base_offset": -1, "log_append_time_ms": -1, "log_start_offset": -1}]}],
    "throttle_time_ms": 0,
}, "keel's refusal (TOPIC_AUTHORIZATION_FAILED); " + KAFKA_SCHEMA, 50)

write("produce-v9-response", ProduceResponse, 9, {
    "responses": [{"name": "orders", "partition_responses": [{
        "index": 0, "error_code": 29, "base_offset": -1, "log_append_time_ms": -1, "log_start_offset": -1,
        "record_errors": [], "error_message": NOT_SERVED}]}],
    "throttle_time_ms": 0,
}, "keel's refusal with its message (flexible); " + KAFKA_SCHEMA, 51)

write("list-offsets-v2-request", ListOffsetsRequest, 2, {
    "replica_id": -1, "isolation_level": 0,
    "topics": [{"name": "orders", "partitions": [{"partition_index": 0, "timestamp": -1}]}],
}, "the shape kcat -C (librdkafka 2.0.2) sends for offset END; " + KAFKA_SCHEMA, 52, client_id="rdkafka")

write("list-offsets-v2-response", ListOffsetsResponse, 2, {
    "throttle_time_ms": 0,
    "topics": [{"name": "orders", "partitions": [{
        "partition_index": 0, "error_code": 0, "timestamp": -1, "offset": 0}]}],
}, "keel's answer for the latest offset: 0, an empty log; " + KAFKA_SCHEMA, 52)

write("fetch-v11-request", FetchRequest, 11, {
    "replica_id": -1, "max_wait_ms": 500, "min_bytes": 1, "max_bytes": 52428800,
    "isolation_level": 0, "session_id": 0, "session_epoch": -1,
    "topics": [{"topic": "orders", "partitions": [{
        "partition": 0, "current_leader_epoch": -1, "fetch_offset": 0, "log_start_offset": -1,
        "partition_max_bytes": 1048576}]}],
    "forgotten_topics_data": [], "rack_id": "",
}, "the shape aiokafka 0.14's assigned consumer sends after ListOffsets; " + KAFKA_SCHEMA, 55,
   client_id="aiokafka-0.14.0")

write("fetch-v11-response", FetchResponse, 11, {
    "throttle_time_ms": 0, "error_code": 0, "session_id": 0,
    "responses": [{"topic": "orders", "partitions": [{
        "partition_index": 0, "error_code": 29, "high_watermark": -1, "last_stable_offset": -1,
        "log_start_offset": -1, "aborted_transactions": [], "preferred_read_replica": -1,
        "records": b""}]}],
}, "keel's refusal (TOPIC_AUTHORIZATION_FAILED), no aborted transactions and an empty record set, as Kafka answers a partition in error; " + KAFKA_SCHEMA, 55)

write("find-coordinator-v2-request", FindCoordinatorRequest, 2, {
    "key": "keel-test", "key_type": 0,
}, "the shape kcat -G and kafkajs send; " + KAFKA_SCHEMA, 53, client_id="rdkafka")

write("find-coordinator-v2-response", FindCoordinatorResponse, 2, {
    "throttle_time_ms": 0, "error_code": 30, "error_message": NOT_SERVED,
    "node_id": -1, "host": "", "port": -1,
}, "keel's refusal (GROUP_AUTHORIZATION_FAILED) with its message; " + KAFKA_SCHEMA, 53)

write("find-coordinator-v4-response", FindCoordinatorResponse, 4, {
    "throttle_time_ms": 0,
    "coordinators": [{"key": "keel-test", "node_id": -1, "host": "", "port": -1,
                      "error_code": 30, "error_message": NOT_SERVED}],
}, "keel's refusal of kafka-python 3.0.12's batched lookup; " + KAFKA_SCHEMA, 54)
