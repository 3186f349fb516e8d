//! Sources declared with `CREATE SOURCE` are read-only, as in ksqlDB:
//! nothing inserts into them, their topic is not deleted with them, and
//! they cannot be replaced.

use riffle_sql::Session;

fn error(s: &mut Session, sql: &str) -> String {
    s.execute(sql).expect_err(sql).to_string()
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
