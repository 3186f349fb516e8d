#!/usr/bin/env python3
"""aiokafka against a Kafka-protocol broker: produce, consume, groups.

Usage: aiokafka_test.py HOST:PORT — PASS/FAIL per check; exit 1 on failure.
"""
import asyncio
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

import consumed

BROKER = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
RUN = uuid.uuid4().hex[:8]
failures = []


async def check(name, coro):
    consumed.begin(name)
    t0 = time.time()
    try:
        await asyncio.wait_for(coro, 60)
        print(f"PASS aiokafka: {name} ({time.time() - t0:.1f}s)", flush=True)
    except Exception as e:  # noqa: BLE001
        print(f"FAIL aiokafka: {name}: {type(e).__name__}: {e}", flush=True)
        failures.append(name)


async def create(topic, partitions):
    a = AIOKafkaAdminClient(bootstrap_servers=BROKER)
    await a.start()
    try:
        await a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await a.close()


async def produce(topic, values, **conf):
    p = AIOKafkaProducer(bootstrap_servers=BROKER, linger_ms=5, **conf)
    await p.start()
    try:
        futs = [await p.send(topic, key=b"k%d" % i, value=v) for i, v in enumerate(values)]
        await asyncio.gather(*futs)
    finally:
        await p.stop()


async def take(c, n):
    out = []
    while len(out) < n:
        batch = await c.getmany(timeout_ms=1000)
        for msgs in batch.values():
            out.extend(m.value for m in msgs)
            consumed.record("aiokafka", [(m.partition, m.key, m.value) for m in msgs])
    return out


async def test_produce_consume(codec):
    topic = f"aio-{codec or 'none'}-{RUN}"
    await create(topic, 2)
    values = [f"aio-{i}".encode() for i in range(200)]
    await produce(topic, values, compression_type=codec)
    c = AIOKafkaConsumer(bootstrap_servers=BROKER, enable_auto_commit=False)
    await c.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(2)]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        got = await take(c, len(values))
    finally:
        await c.stop()
    assert sorted(got) == sorted(values), f"got {len(got)}"


async def test_group():
    topic = f"aio-group-{RUN}"
    group = f"aio-g-{RUN}"
    await create(topic, 3)
    await produce(topic, [b"g%d" % i for i in range(90)])
    c = AIOKafkaConsumer(topic, bootstrap_servers=BROKER, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=False)
    await c.start()
    try:
        got = await take(c, 90)
        await c.commit()
    finally:
        await c.stop()
    assert len(set(got)) == 90, len(set(got))
    await produce(topic, [b"late%d" % i for i in range(6)])
    c = AIOKafkaConsumer(topic, bootstrap_servers=BROKER, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=False)
    await c.start()
    try:
        late = await take(c, 6)
    finally:
        await c.stop()
    assert sorted(late) == sorted(b"late%d" % i for i in range(6)), late


async def main():
    for codec in [None, "gzip", "lz4", "zstd"]:
        await check(f"produce+assign consume, compression {codec or 'none'}", test_produce_consume(codec))
    await check("group consume with commit, resume from committed offset", test_group())
    print(f"aiokafka: {len(failures)} failed" if failures else "aiokafka: all passed", flush=True)


asyncio.run(main())
sys.exit(1 if failures else 0)
