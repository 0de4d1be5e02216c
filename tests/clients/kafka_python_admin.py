"""kafka-python's KafkaAdminClient against a keel broker: every admin call a Kafka user
makes, and Kafka's error codes where they should come back. Run by tests/real_clients.rs:

    python3 kafka_python_admin.py BOOTSTRAP BROKER_COUNT

Prints one line per check and exits non-zero on the first one that fails.
"""

import sys

from kafka.admin import (
    ConfigResource,
    ConfigResourceType,
    KafkaAdminClient,
    NewPartitions,
    NewTopic,
)
from kafka.errors import (
    InvalidPartitionsError,
    InvalidReplicationFactorError,
    InvalidTopicError,
    TopicAlreadyExistsError,
)


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def expect_error(name, error_type, call):
    try:
        call()
    except error_type as e:
        print(f"ok   {name}: {type(e).__name__}")
        return
    except Exception as e:  # noqa: BLE001 - any other outcome is the failure we report
        print(f"FAIL {name}: expected {error_type.__name__}, got {type(e).__name__}: {e}")
        sys.exit(1)
    print(f"FAIL {name}: expected {error_type.__name__}, got no error")
    sys.exit(1)


def main():
    bootstrap, broker_count = sys.argv[1], int(sys.argv[2])
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="keel-real-client-test",
        request_timeout_ms=20000,
    )

    # kafka-python infers a broker version from ApiVersions and refuses server-side
    # defaults (-1) below 2.4, so partitions and replication factor are always given.
    admin.create_topics([NewTopic("py-orders", 3, min(2, broker_count))])
    admin.create_topics([NewTopic("py-payments", 1, 1, topic_configs={"retention.ms": "60000"})])
    topics = admin.list_topics()
    check("list_topics shows the created topics", {"py-orders", "py-payments"} <= set(topics), topics)

    described = admin.describe_topics(["py-orders"])
    partitions = described[0]["partitions"]
    check("describe_topics: 3 partitions", len(partitions) == 3, described)
    check(
        "describe_topics: replicas and leaders",
        all(
            len(p["replica_nodes"]) == min(2, broker_count) and p["leader_id"] in p["replica_nodes"]
            for p in partitions
        ),
        partitions,
    )

    cluster = admin.describe_cluster()
    check("describe_cluster: every broker", len(cluster["brokers"]) == broker_count, cluster)
    check(
        "describe_cluster: the controller is a listed broker",
        cluster["controller_id"] in [b["broker_id"] for b in cluster["brokers"]],
        cluster,
    )

    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "py-payments")])
    text = repr(configs)
    check("describe_configs: the topic's retention.ms", "retention.ms" in text and "60000" in text, text)

    admin.create_partitions({"py-orders": NewPartitions(5)})
    described = admin.describe_topics(["py-orders"])
    check("create_partitions: 5 partitions", len(described[0]["partitions"]) == 5, described)

    expect_error(
        "an existing topic",
        TopicAlreadyExistsError,
        lambda: admin.create_topics([NewTopic("py-orders", 1, 1)]),
    )
    expect_error(
        "an invalid topic name",
        InvalidTopicError,
        lambda: admin.create_topics([NewTopic("bad/name", 1, 1)]),
    )
    expect_error(
        "a replication factor above the broker count",
        InvalidReplicationFactorError,
        lambda: admin.create_topics([NewTopic("py-too-many", 1, broker_count + 1)]),
    )
    expect_error(
        "a partition count that does not increase",
        InvalidPartitionsError,
        lambda: admin.create_partitions({"py-orders": NewPartitions(2)}),
    )

    # A broker's configs: kafka-python checks the keys it alters against the broker's own
    # DescribeConfigs list first (raise_on_unknown, on by default), as against Kafka.
    broker_id = str(cluster["brokers"][0]["broker_id"])
    altered = admin.alter_configs(
        [ConfigResource(ConfigResourceType.BROKER, broker_id, {"log.cleaner.threads": "2"})]
    )
    check("alter_configs on a broker, checked against its list", altered == {"broker": {broker_id: "OK"}}, altered)
    every = admin.describe_configs(
        [ConfigResource(ConfigResourceType.BROKER, broker_id)], config_filter="all"
    )["broker"][broker_id]
    check("describe_configs of a broker lists Kafka's broker configs", len(every) > 250, len(every))
    cleaner = every.get("log.cleaner.threads", {})
    check(
        "the altered key is dynamic and set",
        cleaner.get("value") == "2" and cleaner.get("config_source") == "DYNAMIC_BROKER_CONFIG",
        cleaner,
    )
    check(
        "a key Kafka reads only at start is read-only",
        every.get("log.dirs", {}).get("read_only") is True,
        every.get("log.dirs"),
    )
    expect_error(
        "a key no Kafka broker has",
        ValueError,
        lambda: admin.alter_configs(
            [ConfigResource(ConfigResourceType.BROKER, broker_id, {"log.retention.forever": "1"})]
        ),
    )

    admin.delete_topics(["py-orders", "py-payments"])
    topics = admin.list_topics()
    check("delete_topics: gone", not ({"py-orders", "py-payments"} & set(topics)), topics)
    admin.close()
    print("all checks passed")


if __name__ == "__main__":
    main()
