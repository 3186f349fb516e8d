//! Planner snapshot tests: `EXPLAIN` output for representative queries is
//! pinned in `tests/snapshots/*.txt`. A planner change that alters a plan
//! fails here; if the change is intended, re-record with
//! `RIFFLE_BLESS=1 cargo test --release -p riffle-sql --test explain` and
//! review the diff.

use std::path::Path;

use riffle_sql::{Executed, Session};

const DDL: &str = "
    CREATE STREAM pageviews (user_id STRING KEY, page STRING, ms BIGINT, region STRING)
        WITH (kafka_topic='pageviews', value_format='JSON', timestamp='ms');
    CREATE TABLE users (id STRING PRIMARY KEY, name STRING, region STRING)
        WITH (kafka_topic='users', value_format='JSON');
    CREATE STREAM clicks (user_id STRING KEY, url STRING)
        WITH (kafka_topic='clicks', value_format='JSON');
";

fn explain(name: &str, query: &str) {
    let mut s = Session::new(Default::default()).expect("session");
    s.execute(DDL).expect("DDL runs");
    let out = s.execute(&format!("EXPLAIN {query}")).expect("EXPLAIN runs");
    let Some(Executed::Rows(rows)) = out.into_iter().next() else { panic!("EXPLAIN returns rows") };
    let text = rows.join("\n") + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(format!("{name}.txt"));
    if std::env::var_os("RIFFLE_BLESS").is_some() {
        std::fs::write(&path, &text).expect("snapshot written");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (record it with RIFFLE_BLESS=1)", path.display()));
    assert_eq!(text, want, "plan for {name} changed; re-record with RIFFLE_BLESS=1 if intended");
}

#[test]
fn filter_and_project() {
    explain("filter_project", "CREATE STREAM eu AS SELECT user_id, UCASE(page) AS page FROM pageviews WHERE region = 'eu';");
}

#[test]
fn tumbling_count_emit_final() {
    explain(
        "tumbling_final",
        "CREATE TABLE per_page AS SELECT page, COUNT(*) AS views FROM pageviews \
         WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 5 MINUTES) GROUP BY page EMIT FINAL;",
    );
}

#[test]
fn stream_table_join() {
    explain(
        "stream_table_join",
        "CREATE STREAM enriched AS SELECT p.user_id, p.page, u.name FROM pageviews p LEFT JOIN users u ON p.user_id = u.id;",
    );
}

#[test]
fn stream_stream_join() {
    explain(
        "stream_stream_join",
        "CREATE STREAM both_ AS SELECT p.user_id, p.page, c.url FROM pageviews p JOIN clicks c WITHIN 1 MINUTE ON p.user_id = c.user_id;",
    );
}

#[test]
fn partition_by() {
    explain("partition_by", "CREATE STREAM by_page AS SELECT page, user_id FROM pageviews PARTITION BY page;");
}

#[test]
fn table_aggregate_with_having() {
    explain(
        "table_aggregate_having",
        "CREATE TABLE per_region AS SELECT region, COUNT(*) AS n FROM users GROUP BY region HAVING COUNT(*) > 1;",
    );
}
