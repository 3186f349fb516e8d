//! Statement-level rules of the SQL layer, as ksqlDB has them: which key
//! format a `CREATE … AS SELECT` writes, read-only `CREATE SOURCE`
//! sources, header columns, and the wording of refused statements.

use bytes::Bytes;
use riffle_sql::Session;

/// The error `sql` fails with.
fn error(s: &mut Session, sql: &str) -> String {
    s.execute(sql).expect_err(sql).to_string()
}

fn key_format(session: &Session, source: &str) -> &'static str {
    session.catalog().source(source).expect("source exists").key_format.kind.name()
}

#[test]
fn sinks_take_the_key_format_ksqldb_would() {
    let mut s = Session::new(Default::default()).unwrap();
    s.execute(
        "CREATE STREAM KEYED (ID INT KEY, NAME STRING) WITH (kafka_topic='keyed', value_format='JSON', partitions=1);
         CREATE STREAM KEYLESS (ID INT, NAME STRING) WITH (kafka_topic='keyless', key_format='NONE', value_format='JSON', partitions=1);
         CREATE STREAM SAME AS SELECT * FROM KEYED;
         CREATE STREAM DROPPED AS SELECT ID, NAME FROM KEYED PARTITION BY NULL;
         CREATE STREAM GAINED AS SELECT ID, NAME FROM KEYLESS PARTITION BY ID;
         CREATE STREAM EXPLICIT WITH (key_format='JSON') AS SELECT ID, NAME FROM KEYLESS PARTITION BY ID;",
    )
    .unwrap();
    assert_eq!(key_format(&s, "SAME"), "KAFKA");
    assert_eq!(key_format(&s, "DROPPED"), "NONE");
    assert_eq!(key_format(&s, "GAINED"), "KAFKA");
    assert_eq!(key_format(&s, "EXPLICIT"), "JSON");
    let e = s
        .execute("CREATE STREAM BAD WITH (key_format='DELIMITED') AS SELECT ID, NAME FROM KEYED PARTITION BY NULL;")
        .unwrap_err();
    assert_eq!(e.to_string(), "Key format specified for stream without key columns.");
    // A key the format cannot hold: ksqlDB's message, said once.
    let e = s
        .execute("CREATE TABLE T2 WITH (key_format='KAFKA') AS SELECT ID, NAME, COUNT(*) AS N FROM KEYED GROUP BY ID, NAME;")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("Key format does not support schema.\nformat: KAFKA\n"), "{e}");
    assert_eq!(e.matches("Key format does not support schema").count(), 1, "{e}");
}

#[test]
fn source_streams_and_tables_refuse_writes() {
    let mut s = Session::new(Default::default()).unwrap();
    s.execute(
        "CREATE SOURCE STREAM INPUT (K STRING KEY, V INT) WITH (kafka_topic='input', value_format='JSON', partitions=1);
         CREATE SOURCE TABLE T (K STRING PRIMARY KEY, V INT) WITH (kafka_topic='t', value_format='JSON', partitions=1);
         CREATE STREAM OTHER (K STRING KEY, V INT) WITH (kafka_topic='other', value_format='JSON', partitions=1);",
    )
    .unwrap();
    assert_eq!(error(&mut s, "INSERT INTO INPUT (K, V) VALUES ('a', 1);"), "Cannot insert values into read-only stream: INPUT");
    assert_eq!(error(&mut s, "INSERT INTO T (K, V) VALUES ('a', 1);"), "Cannot insert values into read-only table: T");
    assert_eq!(error(&mut s, "INSERT INTO INPUT SELECT * FROM OTHER;"), "Cannot insert into read-only stream: INPUT");
    assert_eq!(
        error(&mut s, "CREATE OR REPLACE STREAM INPUT (K STRING KEY, V INT) WITH (kafka_topic='input', value_format='JSON');"),
        "Cannot add stream 'INPUT': CREATE OR REPLACE is not supported on source streams."
    );
    assert_eq!(
        error(&mut s, "CREATE OR REPLACE SOURCE STREAM NEW (K STRING KEY) WITH (kafka_topic='new', value_format='JSON', partitions=1);"),
        "Cannot add stream 'NEW': CREATE OR REPLACE is not supported on source streams."
    );
    assert_eq!(error(&mut s, "DROP STREAM INPUT DELETE TOPIC;"), "Cannot delete topic for read-only source: INPUT");
    // Dropping without the topic is allowed; a plain stream of the same
    // name is then writable.
    s.execute("DROP STREAM INPUT;").unwrap();
    s.execute(
        "CREATE STREAM INPUT (K STRING KEY, V INT) WITH (kafka_topic='input', value_format='JSON');
         INSERT INTO INPUT (K, V) VALUES ('a', 1);",
    )
    .unwrap();
    // Ordinary streams take inserts.
    s.execute("INSERT INTO OTHER (K, V) VALUES ('a', 1);").unwrap();
}

#[test]
fn misnamed_sources_timestamps_and_formats() {
    let mut s = Session::new(Default::default()).unwrap();
    s.execute(
        r#"CREATE STREAM "lower" (ID INT KEY, V STRING) WITH (kafka_topic='lower', value_format='JSON', partitions=1);
           CREATE STREAM UPPER (ID INT KEY, V STRING, N INT) WITH (kafka_topic='upper', value_format='JSON', partitions=1);"#,
    )
    .unwrap();
    assert_eq!(
        error(&mut s, "INSERT INTO lower (ID, V) VALUES (1, 'a');"),
        "Cannot insert values into an unknown stream/table: `LOWER`\nDid you mean \"lower\"? Hint: wrap the source name in double quotes to make it case-sensitive."
    );
    assert_eq!(
        error(&mut s, r#"INSERT INTO "upper" (ID, V) VALUES (1, 'a');"#),
        "Cannot insert values into an unknown stream/table: `upper`\nDid you mean UPPER? Hint: try removing double quotes from the source name."
    );
    assert_eq!(error(&mut s, "INSERT INTO NOPE (ID) VALUES (1);"), "Cannot insert values into an unknown stream/table: `NOPE`");
    assert_eq!(
        error(&mut s, "CREATE STREAM TS WITH (timestamp='n') AS SELECT ID, N FROM UPPER;"),
        "Timestamp column, `N`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp_format specified."
    );
    assert_eq!(
        error(&mut s, "CREATE STREAM F WITH (kafka_topic='f', key_format='KAFKA', format='JSON');"),
        "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'."
    );
}

fn values(s: &Session, topic: &str) -> Vec<serde_json::Value> {
    s.read_topic(topic)
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(r.value.as_deref().unwrap()).unwrap())
        .collect()
}

#[test]
fn header_columns_read_the_records_headers() {
    let mut s = Session::new(Default::default()).unwrap();
    s.execute(
        "CREATE STREAM SRC (K STRING KEY, V BIGINT, H ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS, A BYTES HEADER('a'))
           WITH (kafka_topic='src', value_format='JSON', partitions=1);
         CREATE STREAM ALL_OF_IT AS SELECT * FROM SRC;
         CREATE STREAM PICKED AS SELECT K, LEN(A) AS A_LEN FROM SRC WHERE H[1]->KEY = 'a';",
    )
    .unwrap();
    let h = |k: &str, v: Option<&'static [u8]>| (k.to_string(), v.map(Bytes::from_static));
    s.produce("src", Some(Bytes::from_static(b"k1")), Some(Bytes::from_static(br#"{"V":1}"#)), 1, vec![]).unwrap();
    s.produce(
        "src",
        Some(Bytes::from_static(b"k2")),
        Some(Bytes::from_static(br#"{"V":2}"#)),
        2,
        vec![h("a", Some(b"!")), h("b", None), h("a", Some(b"xyz"))],
    )
    .unwrap();
    s.run().unwrap();
    assert_eq!(
        values(&s, "ALL_OF_IT"),
        vec![
            serde_json::json!({"V": 1, "H": [], "A": null}),
            // BYTES as base64; HEADER('a') is the last `a`.
            serde_json::json!({"V": 2, "H": [{"KEY": "a", "VALUE": "IQ=="}, {"KEY": "b", "VALUE": null}, {"KEY": "a", "VALUE": "eHl6"}], "A": "eHl6"}),
        ]
    );
    assert_eq!(values(&s, "PICKED"), vec![serde_json::json!({"A_LEN": 3})]);
    let src = s.catalog().source("SRC").unwrap().schema_string();
    assert!(src.ends_with("`H` ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>> HEADERS, `A` BYTES HEADER('a')"), "{src}");
}

#[test]
fn header_columns_are_typed_and_read_only() {
    let mut s = Session::new(Default::default()).unwrap();
    assert_eq!(
        error(&mut s, "CREATE STREAM B1 (K STRING KEY, H BYTES HEADERS) WITH (kafka_topic='b1', value_format='JSON', partitions=1);"),
        "Invalid type for HEADERS column: expected ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>, got BYTES"
    );
    assert_eq!(
        error(&mut s, "CREATE STREAM B2 (K STRING KEY, H INT HEADER('x')) WITH (kafka_topic='b2', value_format='JSON', partitions=1);"),
        "Invalid type for HEADER('key') column: expected BYTES, got INTEGER"
    );
    s.execute(
        "CREATE STREAM S (K STRING KEY, H1 BYTES HEADER('a'), V BIGINT) WITH (kafka_topic='s', value_format='JSON', partitions=1);
         CREATE STREAM PLAIN (K STRING KEY, V BIGINT) WITH (kafka_topic='plain', value_format='JSON', partitions=1);",
    )
    .unwrap();
    assert_eq!(error(&mut s, "INSERT INTO S VALUES ('k', null, 1);"), "Cannot insert into HEADER columns: H1");
    assert_eq!(error(&mut s, "INSERT INTO S SELECT * FROM PLAIN;"), "Cannot insert into S because it has header columns");
}

/// Struct casts go by field name, also where an array constructor widens a
/// struct column to the union of its elements' fields.
#[test]
fn struct_casts_match_fields_by_name() {
    let mut s = Session::new(Default::default()).unwrap();
    s.execute(
        "CREATE STREAM SRC (K STRING KEY, S STRUCT<A INT, B INT>) WITH (kafka_topic='src', value_format='JSON', partitions=1);
         CREATE STREAM CAST_OUT AS SELECT K, CAST(S AS STRUCT<B STRING, C INT>) AS T FROM SRC;
         CREATE STREAM ARRAY_OUT AS SELECT K, ARRAY[S, STRUCT(C := 7, A := 5)] AS L FROM SRC;",
    )
    .unwrap();
    s.produce("src", Some(Bytes::from_static(b"k")), Some(Bytes::from_static(br#"{"S":{"A":1,"B":2}}"#)), 1, vec![]).unwrap();
    s.run().unwrap();
    assert_eq!(values(&s, "CAST_OUT"), vec![serde_json::json!({"T": {"B": "2", "C": null}})]);
    assert_eq!(
        values(&s, "ARRAY_OUT"),
        vec![serde_json::json!({"L": [{"A": 1, "B": 2, "C": null}, {"A": 5, "B": null, "C": 7}]})]
    );
}
