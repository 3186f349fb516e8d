#!/usr/bin/env python3
"""ksqlDB's Python clients against `riffle server`'s REST API.

    python3 ksql_clients_test.py http://127.0.0.1:8088

Drives the server with `ksql-python-ng` (import `ksql`: /info, /ksql,
/query over HTTP/1.1, /query-stream and /inserts-stream over HTTP/2
cleartext, /close-query) and `ksqldb` (/ksql with requests, /query-stream
and /inserts-stream with httpx over HTTP/2). Prints one line per check and
exits 1 if any failed.
"""
import asyncio
import json
import sys
import time
import uuid

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8088"
EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}
FAILURES = []


def check(name, fn):
    try:
        fn()
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001 - report every failure and go on
        print(f"FAIL {name}: {type(e).__name__}: {e}")
        FAILURES.append(name)


def elements(chunks):
    """The /query (HTTP/1.1) response: one JSON array, streamed in chunks."""
    return json.loads("".join(chunks))


def until(fn, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        result = fn()
        if result or time.time() > deadline:
            return result
        time.sleep(0.1)


def ksql_python_ng():
    from ksql import KSQLAPI
    from ksql.errors import KSQLError

    suffix = uuid.uuid4().hex[:8].upper()
    stream, table = f"PV_{suffix}", f"VIEWS_{suffix}"
    client = KSQLAPI(URL)  # reads /info for the version

    def ddl():
        r = client.ksql(
            f"CREATE STREAM {stream} (user STRING KEY, page STRING) "
            f"WITH (kafka_topic='{stream.lower()}', value_format='JSON', partitions=2);"
        )
        assert r[0]["@type"] == "currentStatus", r
        r = client.ksql(f"CREATE TABLE {table} AS SELECT user, COUNT(*) AS views FROM {stream} GROUP BY user;")
        assert r[0]["commandStatus"]["queryId"], r

    def inserts_http2():
        rows = [{"USER": "alice", "PAGE": "/a"}, {"USER": "bob", "PAGE": "/b"}, {"USER": "alice", "PAGE": "/c"}]
        acks = client.inserts_stream(stream, rows)
        assert [a["status"] for a in acks] == ["ok", "ok", "ok"], acks

    def show():
        names = [s["name"] for s in client.ksql("SHOW STREAMS;")[0]["streams"]]
        assert stream in names, names
        tables = [t["name"] for t in client.ksql("SHOW TABLES;")[0]["tables"]]
        assert table in tables, tables
        described = client.ksql(f"DESCRIBE {table};")[0]["sourceDescription"]
        assert [f["name"] for f in described["fields"]] == ["USER", "VIEWS"], described

    def push_http1():
        got = elements(client.query(f"SELECT page FROM {stream} EMIT CHANGES LIMIT 3;", stream_properties=EARLIEST))
        assert got[0]["header"]["schema"] == "`PAGE` STRING", got
        pages = sorted(e["row"]["columns"][0] for e in got if "row" in e)
        assert pages == ["/a", "/b", "/c"], got
        assert got[-1].get("finalMessage") == "Limit Reached", got

    def pull_http1():
        def alice():
            got = elements(client.query(f"SELECT user, views FROM {table} WHERE user = 'alice';"))
            rows = [e["row"]["columns"] for e in got if "row" in e]
            return rows if rows == [["alice", 2]] else None

        assert until(alice), "alice never reached 2 views"

    def pull_http2():
        text = "".join(client.query(f"SELECT * FROM {table};", use_http2=True))
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert lines[0]["columnNames"] == ["USER", "VIEWS"], lines
        assert sorted(map(tuple, lines[1:])) == [("alice", 2), ("bob", 1)], lines

    def close_query():
        # A push query without a limit, closed by id from another request.
        chunks = client.query(f"SELECT * FROM {stream} EMIT CHANGES;", use_http2=True, stream_properties=EARLIEST)
        meta = json.loads(next(iter(chunks)).splitlines()[0])
        assert client.close_query(meta["queryId"]) is True, meta
        chunks.close()

    def errors():
        try:
            client.ksql("CREATE STREAM broken (a INT WITH (kafka_topic='x');")
        except KSQLError as e:
            assert e.error_code == 40001, e.error_code
            assert "line 1:" in str(e.msg), e.msg
        else:
            raise AssertionError("a syntax error was accepted")

    for name, fn in [("ddl", ddl), ("inserts-stream (HTTP/2)", inserts_http2), ("show/describe", show),
                     ("push query /query (HTTP/1.1)", push_http1), ("pull query /query (HTTP/1.1)", pull_http1),
                     ("pull query /query-stream (HTTP/2)", pull_http2), ("close-query", close_query),
                     ("error body", errors)]:
        check(f"ksql-python-ng: {name}", fn)


def ksqldb_package():
    from ksqldb import KSQLdbClient

    suffix = uuid.uuid4().hex[:8].upper()
    stream = f"ORDERS_{suffix}"
    client = KSQLdbClient(URL)

    def ddl():
        r = client.ksql(
            f"CREATE STREAM {stream} (id STRING KEY, amount INT) "
            f"WITH (kafka_topic='{stream.lower()}', value_format='JSON', partitions=1);"
        )
        assert r[0]["commandStatus"]["status"] == "SUCCESS", r

    def inserts():
        acks = client.inserts_stream(stream, [{"ID": "o1", "AMOUNT": 5}, {"ID": "o2", "AMOUNT": 7}])
        assert all(a["status"] == "ok" for a in acks), acks

    def push_query():
        async def collect():
            sql = f"SELECT id, amount FROM {stream} EMIT CHANGES LIMIT 2;"
            return [row async for row in client.query_async(sql, stream_properties=EARLIEST, timeout=20)]

        rows = asyncio.run(collect())
        assert rows[0]["columnNames"] == ["ID", "AMOUNT"], rows
        assert sorted(map(tuple, rows[1:])) == [("o1", 5), ("o2", 7)], rows

    def pull_query():
        rows = client.query_sync(f"SELECT * FROM {stream};", timeout=20)
        assert rows[0]["columnNames"] == ["ID", "AMOUNT"], rows
        assert len(rows) == 3, rows

    for name, fn in [("ddl", ddl), ("inserts-stream (HTTP/2)", inserts), ("push query (HTTP/2)", push_query),
                     ("pull query on a stream (HTTP/2)", pull_query)]:
        check(f"ksqldb: {name}", fn)


if __name__ == "__main__":
    ksql_python_ng()
    ksqldb_package()
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed: {', '.join(FAILURES)}")
        sys.exit(1)
    print("all ksqlDB client checks passed")
