//! The Nexmark queries as ksqlDB statements.
//!
//! Each query is a script: the source declarations it needs, then one or
//! more persistent queries (`CREATE STREAM|TABLE … AS SELECT`). Where
//! Flink's query nests sub-queries, the ksqlDB form is a chain of
//! persistent queries through topics (ksqlDB has no sub-queries); all of
//! them run in one application and the last one's topic is the result.
//!
//! Sources: `person`, `auction` and `bid`, one topic each, JSON values,
//! keyed by the person's id, the auction's id and the bid's auction
//! (8-byte big-endian, ksqlDB's `KAFKA` key format), event time from
//! `dateTime` (epoch ms). Differences from the Flink text are listed per
//! query.

use super::generator::GeneratorConfig;

/// The bid stream, keyed by auction.
pub const BID: &str = "CREATE STREAM bid (auction BIGINT KEY, bidder BIGINT, price BIGINT, channel STRING, url STRING, \
     dateTime BIGINT, extra STRING) WITH (kafka_topic='bid', value_format='JSON', timestamp='dateTime');";
/// The auction stream, keyed by id.
pub const AUCTION: &str = "CREATE STREAM auction (id BIGINT KEY, itemName STRING, description STRING, initialBid BIGINT, \
     reserve BIGINT, dateTime BIGINT, expires BIGINT, seller BIGINT, category BIGINT, extra STRING) \
     WITH (kafka_topic='auction', value_format='JSON', timestamp='dateTime');";
/// People as a table keyed by id (for the stream-table join of q3).
pub const PERSON_TABLE: &str = "CREATE TABLE person (id BIGINT PRIMARY KEY, name STRING, emailAddress STRING, \
     creditCard STRING, city STRING, state STRING, dateTime BIGINT, extra STRING) \
     WITH (kafka_topic='person', value_format='JSON', timestamp='dateTime');";
/// People as a stream keyed by id (for the window join of q8).
pub const PERSON_STREAM: &str = "CREATE STREAM person (id BIGINT KEY, name STRING, emailAddress STRING, \
     creditCard STRING, city STRING, state STRING, dateTime BIGINT, extra STRING) \
     WITH (kafka_topic='person', value_format='JSON', timestamp='dateTime');";

/// One Nexmark query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Query {
    /// Pass-through: every bid, projected.
    Q0,
    /// Currency conversion: every bid with its price × 0.908.
    Q1,
    /// Selection: bids on auctions whose id is a multiple of 123.
    Q2,
    /// Local item suggestion: category-10 auctions by sellers in OR, ID or
    /// CA, with the seller's name, city and state (auction ⋈ person).
    Q3,
    /// Average closing price per category: the highest bid within each
    /// auction's lifetime, averaged per category.
    Q4,
    /// Hot items: per 10-second window sliding by 2 seconds, the
    /// auction(s) with the most bids.
    Q5,
    /// Highest bid: per 10-second tumbling window, the bid(s) with the
    /// highest price.
    Q7,
    /// Monitor new users: people who opened an auction in the same
    /// 10-second tumbling window as they registered.
    Q8,
}

impl Query {
    /// Every query, in order.
    pub const ALL: [Query; 8] = [Query::Q0, Query::Q1, Query::Q2, Query::Q3, Query::Q4, Query::Q5, Query::Q7, Query::Q8];

    /// `q0`, `q1`, ….
    pub fn name(self) -> &'static str {
        match self {
            Query::Q0 => "q0",
            Query::Q1 => "q1",
            Query::Q2 => "q2",
            Query::Q3 => "q3",
            Query::Q4 => "q4",
            Query::Q5 => "q5",
            Query::Q7 => "q7",
            Query::Q8 => "q8",
        }
    }

    /// The query named `name` (`q0`, `Q7`, …), if any.
    pub fn parse(name: &str) -> Option<Query> {
        Query::ALL.into_iter().find(|q| q.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The source topics it reads.
    pub fn inputs(self) -> &'static [&'static str] {
        match self {
            Query::Q0 | Query::Q1 | Query::Q2 | Query::Q5 | Query::Q7 => &["bid"],
            Query::Q3 | Query::Q8 => &["person", "auction"],
            Query::Q4 => &["auction", "bid"],
        }
    }

    /// The topic that holds the result (the last statement's).
    pub fn output_topic(self) -> &'static str {
        match self {
            Query::Q0 => "Q0",
            Query::Q1 => "Q1",
            Query::Q2 => "Q2",
            Query::Q3 => "Q3",
            Query::Q4 => "Q4",
            Query::Q5 => "Q5",
            Query::Q7 => "Q7",
            Query::Q8 => "Q8",
        }
    }

    /// The script: source declarations and persistent queries. `config`
    /// gives q4 its join window (the longest auction).
    pub fn sql(self, config: &GeneratorConfig) -> String {
        match self {
            // Flink: SELECT auction, bidder, price, dateTime, extra FROM bid.
            Query::Q0 => format!("{BID}\nCREATE STREAM q0 AS SELECT auction, bidder, price, dateTime, extra FROM bid;"),
            // Flink: … 0.908 * price AS price … (a DECIMAL product, as here).
            Query::Q1 => format!(
                "{BID}\nCREATE STREAM q1 AS SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid;"
            ),
            // Flink: WHERE MOD(auction, 123) = 0; ksqlDB spells MOD as %.
            Query::Q2 => format!("{BID}\nCREATE STREAM q2 AS SELECT auction, price FROM bid WHERE auction % 123 = 0;"),
            // Flink joins two streams and keeps both sides forever; ksqlDB's
            // form is a stream-table join (people never change, and every
            // seller registered before the auction, so the result is the
            // same). The seller's id is the result's key (ksqlDB requires
            // the join key in the projection).
            Query::Q3 => format!(
                "{PERSON_TABLE}\n{AUCTION}\n\
                 CREATE STREAM q3 AS SELECT P.id AS id, P.name AS name, P.city AS city, P.state AS state, A.id AS auction \
                 FROM auction A JOIN person P ON A.seller = P.id \
                 WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');"
            ),
            // Flink: the inner query (MAX(price) per auction over bids
            // between dateTime and expires) becomes a window join (bounded by
            // the longest auction) and a table; the outer AVG per category
            // is a table aggregation over it (with retractions, as Flink's).
            Query::Q4 => format!(
                "{AUCTION}\n{BID}\n\
                 CREATE STREAM q4_winning WITH (kafka_topic='q4_winning') AS \
                 SELECT A.id AS id, A.category AS category, B.price AS price FROM auction A JOIN bid B \
                 WITHIN (0 MILLISECONDS, {} MILLISECONDS) GRACE PERIOD 0 MILLISECONDS ON A.id = B.auction \
                 WHERE B.dateTime BETWEEN A.dateTime AND A.expires;\n\
                 CREATE TABLE q4_max WITH (kafka_topic='q4_max') AS \
                 SELECT id, LATEST_BY_OFFSET(category) AS category, MAX(price) AS final FROM q4_winning GROUP BY id;\n\
                 CREATE TABLE q4 AS SELECT category, AVG(final) AS avg_final FROM q4_max GROUP BY category;",
                config.max_auction_length_ms()
            ),
            // Flink joins the per-window counts with their per-window
            // maximum. Here: counts per auction and hopping window (emit
            // final), re-timed to the window start and keyed by it; the
            // maximum per window start (a 2-second tumbling window holds
            // exactly one hop's counts); then the counts joined with that
            // maximum on the window start, keeping those that reach it
            // (ties all kept, as in Flink). The maximum's window has a
            // grace period: with several partitions, the counts of one
            // window reach it from each upstream task at its own pace.
            Query::Q5 => format!(
                "{BID}\n\
                 CREATE TABLE q5_counts WITH (kafka_topic='q5_counts') AS \
                 SELECT auction, AS_VALUE(auction) AS auction_id, WINDOWSTART AS starttime, COUNT(*) AS num FROM bid \
                 WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 2 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY auction EMIT FINAL;\n\
                 CREATE STREAM q5_counts_s (auction_id BIGINT, starttime BIGINT, num BIGINT) \
                 WITH (kafka_topic='q5_counts', value_format='JSON');\n\
                 CREATE STREAM q5_by_start WITH (kafka_topic='q5_by_start', timestamp='starttime') AS \
                 SELECT starttime, auction_id AS auction, num FROM q5_counts_s PARTITION BY starttime;\n\
                 CREATE TABLE q5_max WITH (kafka_topic='q5_max') AS \
                 SELECT starttime, AS_VALUE(starttime) AS start_v, MAX(num) AS maxn FROM q5_by_start \
                 WINDOW TUMBLING (SIZE 2 SECONDS, GRACE PERIOD 30 SECONDS) GROUP BY starttime EMIT FINAL;\n\
                 CREATE STREAM q5_max_s (start_v BIGINT, maxn BIGINT) WITH (kafka_topic='q5_max', value_format='JSON');\n\
                 CREATE STREAM q5_max_by_start WITH (kafka_topic='q5_max_by_start') AS \
                 SELECT start_v AS starttime, maxn FROM q5_max_s PARTITION BY start_v;\n\
                 CREATE STREAM q5 AS SELECT C.starttime AS starttime, C.auction AS auction, C.num AS num \
                 FROM q5_by_start C JOIN q5_max_by_start M WITHIN 1 SECOND GRACE PERIOD 60 SECONDS \
                 ON C.starttime = M.starttime WHERE C.num >= M.maxn;"
            ),
            // Flink joins every bid with the per-window maximum on price.
            // Here the maximum is computed in two steps (per auction, then
            // per window, as Flink's local-global aggregation does), then
            // joined with the bids on price within the window. As in q5, the
            // per-window step has a grace period for its several inputs.
            Query::Q7 => format!(
                "{BID}\n\
                 CREATE TABLE q7_local WITH (kafka_topic='q7_local') AS \
                 SELECT auction, WINDOWSTART AS starttime, MAX(price) AS maxprice FROM bid \
                 WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY auction EMIT FINAL;\n\
                 CREATE STREAM q7_local_s (starttime BIGINT, maxprice BIGINT) WITH (kafka_topic='q7_local', value_format='JSON');\n\
                 CREATE TABLE q7_max WITH (kafka_topic='q7_max') AS \
                 SELECT starttime, AS_VALUE(starttime) AS start_v, MAX(maxprice) AS maxprice FROM q7_local_s \
                 WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 30 SECONDS) GROUP BY starttime EMIT FINAL;\n\
                 CREATE STREAM q7_max_s (start_v BIGINT, maxprice BIGINT) WITH (kafka_topic='q7_max', value_format='JSON');\n\
                 CREATE STREAM q7_max_by_price WITH (kafka_topic='q7_max_by_price') AS \
                 SELECT maxprice, start_v AS starttime FROM q7_max_s PARTITION BY maxprice;\n\
                 CREATE STREAM q7 AS SELECT B.auction AS auction, B.price AS price, B.bidder AS bidder, \
                 B.dateTime AS dateTime, B.extra AS extra \
                 FROM bid B JOIN q7_max_by_price M WITHIN (0 SECONDS, 10 SECONDS) GRACE PERIOD 60 SECONDS \
                 ON B.price = M.maxprice WHERE B.dateTime >= M.starttime AND B.dateTime < M.starttime + 10000;"
            ),
            // Flink joins two windowed GROUP BYs (which de-duplicate). Here:
            // a window join of people and auctions restricted to the same
            // 10-second window, then a table keyed by (id, window start)
            // that de-duplicates. Auctions reach the join through a
            // repartition topic (re-keyed by seller) and can trail the
            // people by a poll or, with several threads, by another
            // thread's progress: the grace period covers that.
            Query::Q8 => format!(
                "{PERSON_STREAM}\n{AUCTION}\n\
                 CREATE STREAM q8_join WITH (kafka_topic='q8_join') AS \
                 SELECT P.id AS id, P.name AS name, (P.dateTime / 10000) * 10000 AS starttime \
                 FROM person P JOIN auction A WITHIN (0 SECONDS, 10 SECONDS) GRACE PERIOD 10 MINUTES ON P.id = A.seller \
                 WHERE P.dateTime / 10000 = A.dateTime / 10000;\n\
                 CREATE TABLE q8 WITH (key_format='JSON') AS \
                 SELECT id, starttime, LATEST_BY_OFFSET(name) AS name FROM q8_join GROUP BY id, starttime;"
            ),
        }
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
