#!/usr/bin/env python3
"""confluent-kafka (librdkafka) against a Kafka-protocol broker.

Usage: confluent_test.py HOST:PORT
Prints one PASS/FAIL line per check; exits 1 if any check failed.
"""
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

import consumed

BROKER = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
RUN = uuid.uuid4().hex[:8]
failures = []


def check(name, fn):
    consumed.begin(name)
    t0 = time.time()
    try:
        fn()
        print(f"PASS confluent-kafka: {name} ({time.time() - t0:.1f}s)", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        print(f"FAIL confluent-kafka: {name}: {type(e).__name__}: {e}", flush=True)
        failures.append(name)


_ADMIN = AdminClient({"bootstrap.servers": BROKER})


def admin():
    return _ADMIN


def create(topic, partitions=1):
    fs = admin().create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    for f in fs.values():
        f.result(15)


def produce(topic, values, headers=None, **conf):
    p = Producer({"bootstrap.servers": BROKER, "linger.ms": 5, **conf})
    errors = []

    def cb(err, _msg):
        if err is not None:
            errors.append(err)

    for i, v in enumerate(values):
        p.produce(topic, value=v, key=f"k{i}".encode(), headers=headers, on_delivery=cb)
        p.poll(0)
    left = p.flush(20)
    assert left == 0, f"{left} messages not delivered"
    assert not errors, f"delivery errors: {errors[:3]}"


def read_assigned(topic, partitions, n, timeout=20, **conf):
    c = Consumer({"bootstrap.servers": BROKER, "group.id": f"assign-{RUN}", "enable.auto.commit": False, **conf})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise RuntimeError(m.error())
        out.append(m)
    c.close()
    consumed.record("confluent-kafka", [(m.partition(), m.key(), m.value(), m.headers()) for m in out])
    return out


def test_create_topics():
    names = [f"cf-create-{RUN}-{i}" for i in range(2)]
    fs = admin().create_topics([NewTopic(n, num_partitions=3, replication_factor=1) for n in names])
    for f in fs.values():
        f.result(15)
    md = admin().list_topics(timeout=10)
    for n in names:
        assert n in md.topics, f"{n} missing from metadata"
        assert len(md.topics[n].partitions) == 3
    again = admin().create_topics([NewTopic(names[0], num_partitions=1, replication_factor=1)])
    try:
        again[names[0]].result(15)
        raise AssertionError("creating an existing topic succeeded")
    except Exception as e:  # noqa: BLE001
        assert "TOPIC_ALREADY_EXISTS" in str(e) or "already exists" in str(e), e


def codec_test(codec):
    def run():
        topic = f"cf-codec-{codec}-{RUN}"
        create(topic, 2)
        values = [(f"{codec}-value-{i}-" + "x" * (i % 50)).encode() for i in range(300)]
        produce(topic, values, **{"compression.type": codec})
        got = read_assigned(topic, 2, len(values))
        assert sorted(m.value() for m in got) == sorted(values), f"got {len(got)} of {len(values)}"
    return run


def test_idempotent():
    topic = f"cf-idem-{RUN}"
    create(topic, 3)
    values = [f"idem-{i}".encode() for i in range(2000)]
    produce(topic, values, **{"enable.idempotence": True, "acks": "all", "compression.type": "lz4"})
    got = read_assigned(topic, 3, len(values))
    assert len(got) == len(values), f"got {len(got)} want {len(values)}"
    assert len({m.value() for m in got}) == len(values), "duplicates"
    for p in range(3):
        offs = [m.offset() for m in got if m.partition() == p]
        assert offs == list(range(len(offs))), f"partition {p} offsets not dense"


def test_acks_zero():
    topic = f"cf-acks0-{RUN}"
    create(topic, 1)
    produce(topic, [b"a0-%d" % i for i in range(50)], acks=0)
    got = read_assigned(topic, 1, 50)
    assert len(got) == 50, f"got {len(got)}"


def test_headers():
    topic = f"cf-headers-{RUN}"
    create(topic, 1)
    hdrs = [("h", b"1"), ("h", b"2"), ("other", b""), ("h", None)]
    produce(topic, [b"with-headers"], headers=hdrs)
    got = read_assigned(topic, 1, 1)
    assert len(got) == 1
    assert got[0].headers() == hdrs, f"headers {got[0].headers()} != {hdrs}"


def test_group_two_members():
    topic = f"cf-group-{RUN}"
    group = f"cf-g-{RUN}"
    create(topic, 4)
    produce(topic, [f"g-{i}".encode() for i in range(400)])
    conf = {
        "bootstrap.servers": BROKER, "group.id": group, "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "session.timeout.ms": 10000, "heartbeat.interval.ms": 500,
    }
    a, b = Consumer(conf), Consumer(conf)
    a.subscribe([topic])
    b.subscribe([topic])
    seen = {id(a): [], id(b): []}
    deadline = time.time() + 60
    while time.time() < deadline:
        for c in (a, b):
            m = c.poll(0.2)
            if m is not None and not m.error():
                seen[id(c)].append(m.value())
        both = a.assignment() and b.assignment()
        if both and len(set(seen[id(a)] + seen[id(b)])) >= 400:
            break
    assert a.assignment() and b.assignment(), f"assignments {a.assignment()} / {b.assignment()}"
    parts_a = {tp.partition for tp in a.assignment()}
    parts_b = {tp.partition for tp in b.assignment()}
    assert not parts_a & parts_b and parts_a | parts_b == {0, 1, 2, 3}, (parts_a, parts_b)
    total = seen[id(a)] + seen[id(b)]
    assert len(set(total)) == 400, f"consumed {len(set(total))} distinct of 400"
    a.commit(asynchronous=False)
    b.commit(asynchronous=False)
    committed = a.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
    assert sum(tp.offset for tp in committed) == 400, [(tp.partition, tp.offset) for tp in committed]
    a.close()
    b.close()
    produce(topic, [f"late-{i}".encode() for i in range(40)])
    c = Consumer(conf)
    c.subscribe([topic])
    late = []
    deadline = time.time() + 30
    while len(late) < 40 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            late.append(m.value())
    c.close()
    assert sorted(late) == sorted(f"late-{i}".encode() for i in range(40)), f"resumed with {len(late)} records"


def test_transactions():
    """Commit, abort, commit: read_committed sees only the committed
    records (it must skip the aborted ones using the aborted-transaction
    list), read_uncommitted sees all of them; offsets sent with the
    committed transaction become the group's committed offsets."""
    topic = f"cf-txn-{RUN}"
    group = f"cf-txn-g-{RUN}"
    create(topic, 2)
    p = Producer({"bootstrap.servers": BROKER, "transactional.id": f"txn-{RUN}", "linger.ms": 5,
                  "compression.type": "lz4"})
    p.init_transactions(15)
    meta_consumer = Consumer({"bootstrap.servers": BROKER, "group.id": group, "enable.auto.commit": False})
    batches = [("c", True), ("a", False), ("d", True)]
    for tag, commit in batches:
        p.begin_transaction()
        for i in range(50):
            p.produce(topic, value=f"{tag}-{i}".encode(), key=f"k{i}".encode())
        p.flush(15)
        if tag == "c":
            offsets = [TopicPartition(topic, 0, 7), TopicPartition(topic, 1, 9)]
            p.send_offsets_to_transaction(offsets, meta_consumer.consumer_group_metadata(), 15)
        if tag == "a":
            offsets = [TopicPartition(topic, 0, 1000)]
            p.send_offsets_to_transaction(offsets, meta_consumer.consumer_group_metadata(), 15)
        if commit:
            p.commit_transaction(15)
        else:
            p.abort_transaction(15)
    committed = {f"{t}-{i}".encode() for t, c in batches if c for i in range(50)}
    aborted = {f"a-{i}".encode() for i in range(50)}

    got = read_assigned(topic, 2, len(committed) + 1, timeout=8, **{"isolation.level": "read_committed"})
    values = [m.value() for m in got]
    assert set(values) == committed and len(values) == len(committed), \
        f"read_committed got {len(values)} records, {len(set(values) & aborted)} aborted ones"
    got = read_assigned(topic, 2, len(committed) + len(aborted), **{"isolation.level": "read_uncommitted"})
    values = {m.value() for m in got}
    assert values == committed | aborted, f"read_uncommitted got {len(values)} distinct records"
    offs = meta_consumer.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    assert [tp.offset for tp in offs] == [7, 9], f"committed offsets {[(tp.partition, tp.offset) for tp in offs]}"
    meta_consumer.close()


def test_delete_topics():
    topic = f"cf-delete-{RUN}"
    create(topic, 2)
    fs = admin().delete_topics([topic])
    for f in fs.values():
        f.result(15)
    md = admin().list_topics(timeout=10)
    assert topic not in md.topics, "topic still listed"


check("create topics", test_create_topics)
for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
    check(f"produce+assign consume with compression {codec}", codec_test(codec))
check("idempotent produce (2000 records, 3 partitions, lz4)", test_idempotent)
check("acks=0 produce", test_acks_zero)
check("duplicate headers preserved", test_headers)
check("group consume with commits across two members", test_group_two_members)
check("transactions: commit, abort, read_committed vs read_uncommitted, offsets", test_transactions)
check("delete topics", test_delete_topics)
print(f"confluent-kafka: {len(failures)} failed" if failures else "confluent-kafka: all passed", flush=True)
sys.exit(1 if failures else 0)
