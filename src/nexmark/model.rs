//! The three Nexmark event types and their JSON form.
//!
//! Field names and meanings follow the Nexmark schema as the Flink and
//! RisingWave suites use it (`dateTime` and `expires` are epoch
//! milliseconds here rather than SQL timestamps, so that ksqlDB's
//! `timestamp='dateTime'` can read them without a format string).

use std::fmt::Write as _;

/// A new user of the auction site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Unique id, from 1000 up.
    pub id: i64,
    /// First and last name, e.g. `Peter Smith`.
    pub name: String,
    /// A random e-mail address.
    pub email_address: String,
    /// Sixteen digits in four groups.
    pub credit_card: String,
    /// One of ten US cities.
    pub city: String,
    /// One of six US states (`AZ CA ID OR WA WY`).
    pub state: String,
    /// Registration time, epoch milliseconds.
    pub date_time: i64,
    /// Padding to the spec's average record size.
    pub extra: String,
}

/// A new auction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auction {
    /// Unique id, from 1000 up.
    pub id: i64,
    /// A random item name.
    pub item_name: String,
    /// A random description.
    pub description: String,
    /// The opening price, in cents.
    pub initial_bid: i64,
    /// The reserve price, in cents (above `initial_bid`).
    pub reserve: i64,
    /// When the auction opened, epoch milliseconds.
    pub date_time: i64,
    /// When it closes, epoch milliseconds (after `date_time`).
    pub expires: i64,
    /// The selling person's id (a person generated before this auction).
    pub seller: i64,
    /// Category, 10 to 14.
    pub category: i64,
    /// Padding to the spec's average record size.
    pub extra: String,
}

/// A bid on an auction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bid {
    /// The auction's id (an auction generated before this bid).
    pub auction: i64,
    /// The bidding person's id.
    pub bidder: i64,
    /// The price, in cents.
    pub price: i64,
    /// Where the bid came from (`Google`, …, or `channel-<n>`).
    pub channel: String,
    /// The URL of the bid page.
    pub url: String,
    /// When the bid was made, epoch milliseconds.
    pub date_time: i64,
    /// Padding to the spec's average record size.
    pub extra: String,
}

/// One Nexmark event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new person (2% of events).
    Person(Person),
    /// A new auction (6%).
    Auction(Auction),
    /// A bid (92%).
    Bid(Bid),
}

impl Event {
    /// The event time, epoch milliseconds.
    pub fn date_time(&self) -> i64 {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }

    /// The topic this event is written to: `person`, `auction` or `bid`.
    pub fn topic(&self) -> &'static str {
        match self {
            Event::Person(_) => "person",
            Event::Auction(_) => "auction",
            Event::Bid(_) => "bid",
        }
    }

    /// The record key: the person's or auction's id, or the bid's auction,
    /// as an 8-byte big-endian integer (ksqlDB's `KAFKA` format for
    /// `BIGINT`).
    pub fn key(&self) -> [u8; 8] {
        match self {
            Event::Person(p) => p.id,
            Event::Auction(a) => a.id,
            Event::Bid(b) => b.auction,
        }
        .to_be_bytes()
    }

    /// Appends the JSON value (one flat object, field names as in the
    /// Nexmark schema) to `out`.
    pub fn write_json(&self, out: &mut String) {
        // Generated strings hold only letters, digits, spaces, '_', '@',
        // '.', '/', ':', '?', '=' and '&': no escaping is needed.
        let _ = match self {
            Event::Person(p) => write!(
                out,
                r#"{{"id":{},"name":"{}","emailAddress":"{}","creditCard":"{}","city":"{}","state":"{}","dateTime":{},"extra":"{}"}}"#,
                p.id, p.name, p.email_address, p.credit_card, p.city, p.state, p.date_time, p.extra
            ),
            Event::Auction(a) => write!(
                out,
                r#"{{"id":{},"itemName":"{}","description":"{}","initialBid":{},"reserve":{},"dateTime":{},"expires":{},"seller":{},"category":{},"extra":"{}"}}"#,
                a.id, a.item_name, a.description, a.initial_bid, a.reserve, a.date_time, a.expires, a.seller, a.category, a.extra
            ),
            Event::Bid(b) => write!(
                out,
                r#"{{"auction":{},"bidder":{},"price":{},"channel":"{}","url":"{}","dateTime":{},"extra":"{}"}}"#,
                b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra
            ),
        };
    }
}
