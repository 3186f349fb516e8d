//! ksqlDB's header columns: `HEADERS` (every header of the record, as
//! `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`) and `HEADER('k')` (the last
//! value of header `k`, as BYTES) read the record's headers like ordinary
//! value columns; they are checked for type and never written to.

use bytes::Bytes;
use riffle_sql::Session;

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
    let err = |s: &mut Session, sql: &str| s.execute(sql).expect_err(sql).to_string();
    assert_eq!(
        err(&mut s, "CREATE STREAM B1 (K STRING KEY, H BYTES HEADERS) WITH (kafka_topic='b1', value_format='JSON', partitions=1);"),
        "Invalid type for HEADERS column: expected ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>, got BYTES"
    );
    assert_eq!(
        err(&mut s, "CREATE STREAM B2 (K STRING KEY, H INT HEADER('x')) WITH (kafka_topic='b2', value_format='JSON', partitions=1);"),
        "Invalid type for HEADER('key') column: expected BYTES, got INTEGER"
    );
    s.execute(
        "CREATE STREAM S (K STRING KEY, H1 BYTES HEADER('a'), V BIGINT) WITH (kafka_topic='s', value_format='JSON', partitions=1);
         CREATE STREAM PLAIN (K STRING KEY, V BIGINT) WITH (kafka_topic='plain', value_format='JSON', partitions=1);",
    )
    .unwrap();
    assert_eq!(err(&mut s, "INSERT INTO S VALUES ('k', null, 1);"), "Cannot insert into HEADER columns: H1");
    assert_eq!(err(&mut s, "INSERT INTO S SELECT * FROM PLAIN;"), "Cannot insert into S because it has header columns");
}
