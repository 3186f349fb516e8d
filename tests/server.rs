//! The server end to end over its REST API: DDL, inserts, pull and push
//! queries, ksqlDB's error bodies, and a restart that brings the catalog,
//! the queries and their state back.

use std::time::Duration;

use riffle::log::{Log, LogConfig};
use riffle::server::{RestClient, Server, ServerConfig};
use serde_json::{json, Value};

fn config() -> ServerConfig {
    ServerConfig { rest: "127.0.0.1:0".parse().expect("address"), kafka: None, ..ServerConfig::default() }
}

/// A server on a log in `dir` (REST on a free loopback port), and a client.
async fn start(dir: &std::path::Path) -> (Log, Server, RestClient) {
    let log = Log::open(dir, LogConfig::default()).expect("log");
    let server = Server::start(log.clone(), dir, config()).await.expect("server");
    let client = RestClient::new(server.rest_addr());
    (log, server, client)
}

async fn ksql_ok(c: &RestClient, sql: &str) -> Value {
    let r = c.ksql(sql, &json!({})).await.expect("request");
    assert_eq!(r.status, 200, "{sql}: {}", r.body);
    r.body
}

/// Pull-queries `sql` until it returns `want` rows (queries run
/// asynchronously on the server), then returns the rows.
async fn pull_rows(c: &RestClient, sql: &str, want: usize) -> Vec<Value> {
    for _ in 0..200 {
        let r = c.query(sql, &json!({})).await.expect("request");
        assert_eq!(r.status, 200, "{sql}: {}", r.body);
        let rows: Vec<Value> = r.body.as_array().expect("array").iter().filter_map(|e| e.get("row").cloned()).collect();
        if rows.len() == want {
            return rows.into_iter().map(|r| r["columns"].clone()).collect();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{sql}: never got {want} rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_inserts_pull_and_push_queries_over_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, server, c) = start(dir.path()).await;

    let created = ksql_ok(&c, "CREATE STREAM pv (user STRING KEY, page STRING) WITH (kafka_topic='pv', value_format='JSON', partitions=2);").await;
    assert_eq!(created[0]["@type"], "currentStatus");
    assert_eq!(created[0]["commandStatus"]["message"], "Stream created");
    let ctas = ksql_ok(&c, "CREATE TABLE views AS SELECT user, COUNT(*) AS n FROM pv GROUP BY user;").await;
    assert_eq!(ctas[0]["commandStatus"]["queryId"], "CTAS_VIEWS_0");
    ksql_ok(&c, "INSERT INTO pv (user, page) VALUES ('alice', '/a'); INSERT INTO pv (user, page) VALUES ('bob', '/b'); INSERT INTO pv (user, page) VALUES ('alice', '/c');").await;

    // Pull: a key lookup and a scan, with ksqlDB's header.
    let lookup = pull_rows(&c, "SELECT user, n FROM views WHERE user = 'alice';", 1).await;
    assert_eq!(lookup, vec![json!(["alice", 2])]);
    let r = c.query("SELECT * FROM views;", &json!({})).await.expect("request");
    assert_eq!(r.body[0]["header"]["schema"], "`USER` STRING KEY, `N` BIGINT");
    let mut all = pull_rows(&c, "SELECT * FROM views;", 2).await;
    all.sort_by_key(|v| v[0].as_str().map(str::to_string));
    assert_eq!(all, vec![json!(["alice", 2]), json!(["bob", 1])]);

    // Push from the beginning, ending at the limit.
    let r = c
        .query("SELECT page FROM pv EMIT CHANGES LIMIT 3;", &json!({"ksql.streams.auto.offset.reset": "earliest"}))
        .await
        .expect("request");
    let elements = r.body.as_array().expect("array");
    assert_eq!(elements[0]["header"]["schema"], "`PAGE` STRING");
    assert_eq!(elements.iter().filter(|e| e.get("row").is_some()).count(), 3);
    assert_eq!(elements.last().expect("final")["finalMessage"], "Limit Reached");

    // Push from the end (the default): sees only what comes after it starts.
    let mut rows = c.query_stream("SELECT user, page FROM pv WHERE user = 'carol' EMIT CHANGES;", &json!({})).await.expect("push");
    let meta = rows.next().await.expect("read").expect("metadata");
    assert_eq!(meta["columnNames"], json!(["USER", "PAGE"]));
    let id = meta["queryId"].as_str().expect("query id").to_string();
    ksql_ok(&c, "INSERT INTO pv (user, page) VALUES ('carol', '/x');").await;
    let row = tokio::time::timeout(Duration::from_secs(10), rows.next()).await.expect("a row in time").expect("read");
    assert_eq!(row, Some(json!(["carol", "/x"])));
    assert_eq!(c.close_query(&id).await.expect("close").status, 200);
    assert_eq!(c.close_query("no_such_query").await.expect("close").status, 404);

    server.shutdown().await;
    log.close().expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_ksqldb_error_bodies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, server, c) = start(dir.path()).await;

    let r = c.ksql("CREATE STREAM s (a INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);", &json!({})).await.expect("request");
    assert_eq!(r.status, 200);
    // A syntax error names the position.
    let r = c.ksql("CREATE STREAM oops (a INT WITH (kafka_topic='x');", &json!({})).await.expect("request");
    assert_eq!(r.status, 400);
    assert_eq!(r.body["@type"], "statement_error");
    assert_eq!(r.body["error_code"], 40001);
    assert!(r.body["message"].as_str().expect("message").contains("line 1:"), "{}", r.body);
    // A semantic error, with the statement it belongs to.
    let r = c.query("SELECT nope FROM s EMIT CHANGES;", &json!({})).await.expect("request");
    assert_eq!(r.status, 400);
    assert_eq!(r.body["statementText"], "SELECT nope FROM s EMIT CHANGES;");
    // SELECT on /ksql, and other statements on /query, are refused.
    let r = c.ksql("SELECT * FROM s EMIT CHANGES;", &json!({})).await.expect("request");
    assert_eq!(r.status, 400);
    let r = c.query("SHOW STREAMS;", &json!({})).await.expect("request");
    assert_eq!(r.status, 400);
    // An unknown source in a pull query.
    let r = c.query("SELECT * FROM missing;", &json!({})).await.expect("request");
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().expect("message").contains("MISSING"), "{}", r.body);
    // Nothing was lost: the stream is still there.
    let r = c.ksql("SHOW STREAMS;", &json!({})).await.expect("request");
    let names: Vec<&str> = r.body[0]["streams"].as_array().expect("streams").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, vec!["KSQL_PROCESSING_LOG", "S"]);

    server.shutdown().await;
    log.close().expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_replays_the_catalog_and_resumes_queries_with_their_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (log, server, c) = start(dir.path()).await;
        ksql_ok(&c, "CREATE STREAM orders (id STRING KEY, amount INT) WITH (kafka_topic='orders', value_format='JSON', partitions=1);").await;
        ksql_ok(&c, "CREATE TABLE totals AS SELECT id, SUM(amount) AS total FROM orders GROUP BY id;").await;
        ksql_ok(&c, "INSERT INTO orders (id, amount) VALUES ('a', 5); INSERT INTO orders (id, amount) VALUES ('a', 7);").await;
        assert_eq!(pull_rows(&c, "SELECT total FROM totals WHERE id = 'a';", 1).await, vec![json!([12])]);
        server.shutdown().await;
        log.close().expect("close");
    }
    let log = Log::open(dir.path(), LogConfig::default()).expect("reopen");
    let server = Server::start(log.clone(), dir.path(), config()).await.expect("restart");
    assert!(server.replay_failures().is_empty(), "{:?}", server.replay_failures());
    let c = RestClient::new(server.rest_addr());
    let r = c.ksql("SHOW QUERIES;", &json!({})).await.expect("request");
    assert_eq!(r.body[0]["queries"][0]["id"], "CTAS_TOTALS_0");
    ksql_ok(&c, "INSERT INTO orders (id, amount) VALUES ('a', 1);").await;
    // 12 restored, +1 new, and the old inputs were not processed twice.
    let mut total = Vec::new();
    for _ in 0..200 {
        total = pull_rows(&c, "SELECT total FROM totals WHERE id = 'a';", 1).await;
        if total == vec![json!([13])] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(total, vec![json!([13])]);
    server.shutdown().await;
    log.close().expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_records_go_to_the_processing_log_and_the_query_keeps_running() {
    use riffle::log::{LogClient as _, Record};
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, server, c) = start(dir.path()).await;
    ksql_ok(&c, "CREATE STREAM readings (id STRING KEY, temp DOUBLE) WITH (kafka_topic='readings', value_format='JSON', partitions=1);").await;
    ksql_ok(&c, "CREATE TABLE maxima AS SELECT id, MAX(temp) AS hottest FROM readings GROUP BY id;").await;
    for value in [&br#"{"temp": 20.5}"#[..], b"{not json", br#"{"temp": 31.0}"#] {
        log.append("readings", 0, &[Record::keyed("s1", value.to_vec())]).expect("append");
    }
    // The good records on both sides of the bad one were processed.
    assert_eq!(pull_rows(&c, "SELECT hottest FROM maxima WHERE id = 's1';", 1).await, vec![json!([31.0])]);
    // The bad one is in KSQL_PROCESSING_LOG with where it came from.
    let rows = pull_rows(&c, "SELECT MESSAGE->DESERIALIZATIONERROR->TOPIC, MESSAGE->DESERIALIZATIONERROR->`OFFSET`, MESSAGE->DESERIALIZATIONERROR->TARGET FROM KSQL_PROCESSING_LOG;", 1).await;
    assert_eq!(rows, vec![json!(["readings", 1, "value"])]);
    server.shutdown().await;
    log.close().expect("close");
}
