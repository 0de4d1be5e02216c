#!/usr/bin/env python3
"""Writes the encoder-produced test vectors in protocol-spec/vectors/ with kafka-python.

kafka-python 3.x encodes messages at run time from Kafka's JSON message definitions. That
makes it an encoder independent of keel's (different language, different code generator):
- for Fetch and DescribeQuorum it uses the copies of Kafka 4.x's own JSON that ship inside
  kafka-python, so both the encoder and the schema are independent of keel;
- for Vote, BeginQuorumEpoch, EndQuorumEpoch and FetchSnapshot (which kafka-python does not
  ship) it reads keel's schemas from protocol-spec/schemas/, so the encoder is independent but
  the schema is keel's (those schemas were checked field by field against Kafka's generated
  message classes; see protocol-spec/README.md).

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
from kafka.protocol.consumer.fetch import FetchRequest, FetchResponse

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
}, "the oldest version keel takes: topic by name, ReplicaId in the body; " + KAFKA_SCHEMA, 16)

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
