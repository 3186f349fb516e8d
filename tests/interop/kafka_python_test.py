#!/usr/bin/env python3
"""kafka-python against a Kafka-protocol broker: produce (every codec),
assign consume, group consume with commits.

Usage: kafka_python_test.py HOST:PORT — PASS/FAIL per check; exit 1 on failure.
"""
import sys
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

import consumed

BROKER = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
RUN = uuid.uuid4().hex[:8]
failures = []


def check(name, fn):
    consumed.begin(name)
    t0 = time.time()
    try:
        fn()
        print(f"PASS kafka-python: {name} ({time.time() - t0:.1f}s)", flush=True)
    except Exception as e:  # noqa: BLE001
        print(f"FAIL kafka-python: {name}: {type(e).__name__}: {e}", flush=True)
        failures.append(name)


def create(topic, partitions):
    a = KafkaAdminClient(bootstrap_servers=BROKER)
    a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    a.close()


def produce(topic, values, **conf):
    p = KafkaProducer(bootstrap_servers=BROKER, linger_ms=5, **conf)
    futures = [p.send(topic, key=b"k%d" % i, value=v, headers=[("h", b"1"), ("h", b"2")]) for i, v in enumerate(values)]
    p.flush(20)
    for f in futures:
        f.get(10)
    p.close()


def codec_test(codec):
    def run():
        topic = f"kp-{codec or 'none'}-{RUN}"
        create(topic, 2)
        values = [f"kp-{codec}-{i}".encode() * 3 for i in range(200)]
        produce(topic, values, compression_type=codec)
        c = KafkaConsumer(bootstrap_servers=BROKER, enable_auto_commit=False, consumer_timeout_ms=5000)
        tps = [TopicPartition(topic, p) for p in range(2)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        got = []
        for m in c:
            got.append(m)
            if len(got) == len(values):
                break
        c.close()
        consumed.record("kafka-python", [(m.partition, m.key, m.value, m.headers) for m in got])
        assert sorted(m.value for m in got) == sorted(values), f"got {len(got)} of {len(values)}"
        assert all(m.headers == [("h", b"1"), ("h", b"2")] for m in got), got[0].headers
    return run


def test_group():
    topic = f"kp-group-{RUN}"
    group = f"kp-g-{RUN}"
    create(topic, 3)
    produce(topic, [b"g%d" % i for i in range(150)])
    c = KafkaConsumer(topic, bootstrap_servers=BROKER, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=8000)
    got = []
    for m in c:
        got.append(m.value)
        consumed.record("kafka-python", [(m.partition, m.key, m.value)])
        if len(got) == 150:
            break
    c.commit()
    c.close()
    assert len(set(got)) == 150, f"got {len(set(got))}"
    produce(topic, [b"late%d" % i for i in range(10)])
    c = KafkaConsumer(topic, bootstrap_servers=BROKER, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=8000)
    late = []
    for m in c:
        late.append(m.value)
        consumed.record("kafka-python", [(m.partition, m.key, m.value)])
        if len(late) == 10:
            break
    c.close()
    assert sorted(late) == sorted(b"late%d" % i for i in range(10)), late[:5]


for codec in [None, "gzip", "snappy", "lz4", "zstd"]:
    check(f"produce+assign consume, compression {codec or 'none'}, duplicate headers", codec_test(codec))
check("group consume with commit, resume from committed offset", test_group)
print(f"kafka-python: {len(failures)} failed" if failures else "kafka-python: all passed", flush=True)
sys.exit(1 if failures else 0)
