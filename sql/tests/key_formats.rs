//! Which key format a `CREATE … AS SELECT` writes, as ksqlDB chooses it:
//! the first source's, except that a query with no key columns writes no
//! key (NONE) and a keyless source whose query gains a key takes the
//! default (KAFKA).

use riffle_sql::Session;

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
