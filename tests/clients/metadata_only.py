"""One Kafka client library in one mode against a keel broker, for
tests/clients_metadata_only.rs: keel brokers serve metadata only, so a producer or consumer
must fail at once. Run as

    python3 metadata_only.py LIBRARY MODE BOOTSTRAP TOPIC

LIBRARY is kafka-python, confluent-kafka or aiokafka; MODE is producer, group (a consumer in
a consumer group, subscribed to TOPIC) or assign (a consumer assigned partition 0 of TOPIC).
Prints one line

    RESULT <library> <mode> <seconds> <outcome>: <error type>: <error text>

where seconds is the time from creating the client to the error, and outcome is `failed`,
`no-error` or `timeout` (nothing happened within 10 s). Exits 0 whatever the outcome (the test
judges it); 3 if the library is not installed.
"""

import logging
import sys
import time

BOUND_S = 10.0

library, mode, bootstrap, topic = sys.argv[1:5]
logging.basicConfig(level=logging.CRITICAL)


def report(seconds, outcome, error=None):
    what = f"{type(error).__name__}: {error}" if error is not None else "-"
    print(f"RESULT {library} {mode} {seconds:.3f} {outcome}: {what}", flush=True)


def kafka_python():
    import kafka

    start = time.monotonic()
    if mode == "producer":
        producer = kafka.KafkaProducer(bootstrap_servers=bootstrap)
        producer.send(topic, b"hello").get(timeout=BOUND_S)
        return start
    if mode == "group":
        consumer = kafka.KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="keel-test")
    else:
        consumer = kafka.KafkaConsumer(bootstrap_servers=bootstrap)
        consumer.assign([kafka.TopicPartition(topic, 0)])
    deadline = start + BOUND_S
    while time.monotonic() < deadline:
        consumer.poll(timeout_ms=100)
    raise TimeoutError()


def confluent_kafka():
    import confluent_kafka as ck

    start = time.monotonic()
    errors = []
    if mode == "producer":
        producer = ck.Producer({"bootstrap.servers": bootstrap})
        producer.produce(topic, b"hello", on_delivery=lambda error, _message: errors.append(error))
        producer.flush(BOUND_S)
        if not errors:
            raise TimeoutError()
        if errors[0] is not None:
            raise ck.KafkaException(errors[0])
        return start
    consumer = ck.Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "keel-test",
        "error_cb": errors.append,
    })
    if mode == "group":
        consumer.subscribe([topic])
    else:
        consumer.assign([ck.TopicPartition(topic, 0)])
    deadline = start + BOUND_S
    while time.monotonic() < deadline:
        message = consumer.poll(0.05)
        if errors:
            raise ck.KafkaException(errors[0])
        if message is not None and message.error():
            raise ck.KafkaException(message.error())
    raise TimeoutError()


def aiokafka():
    import asyncio

    import aiokafka as ak

    start = time.monotonic()

    async def run():
        if mode == "producer":
            producer = ak.AIOKafkaProducer(bootstrap_servers=bootstrap)
            await producer.start()
            try:
                await asyncio.wait_for(producer.send_and_wait(topic, b"hello"), BOUND_S)
            finally:
                await producer.stop()
            return
        if mode == "group":
            consumer = ak.AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="keel-test")
        else:
            consumer = ak.AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            if mode == "assign":
                consumer.assign([ak.TopicPartition(topic, 0)])
            await asyncio.wait_for(consumer.getone(), BOUND_S)
        finally:
            await consumer.stop()

    asyncio.run(run())
    return start


def main():
    runner = {"kafka-python": kafka_python, "confluent-kafka": confluent_kafka, "aiokafka": aiokafka}[library]
    module = {"kafka-python": "kafka", "confluent-kafka": "confluent_kafka", "aiokafka": "aiokafka"}[library]
    try:
        __import__(module)
    except ImportError:
        print(f"NOT INSTALLED {library}")
        sys.exit(3)
    start = time.monotonic()
    try:
        runner()
    except (TimeoutError, asyncio_timeout()) as error:
        report(time.monotonic() - start, "timeout", error)
        return
    except Exception as error:  # noqa: BLE001 - every failure is the outcome reported
        report(time.monotonic() - start, "failed", error)
        return
    report(time.monotonic() - start, "no-error")


def asyncio_timeout():
    import asyncio

    return asyncio.TimeoutError


main()
