//! Statements ksqlDB refuses, refused with ksqlDB's words.

use riffle_sql::Session;

fn error(s: &mut Session, sql: &str) -> String {
    s.execute(sql).expect_err(sql).to_string()
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
