//! A deterministic Nexmark event generator, after the Beam / Flink
//! `NexmarkGenerator` (`PersonGenerator`, `AuctionGenerator`,
//! `BidGenerator`, `GeneratorConfig`).
//!
//! Event `n` (from 0) is a person when `n % 50 == 0`, an auction when
//! `n % 50` is 1..=3, and a bid otherwise: the standard 2 / 6 / 92 mix. Its
//! time is `base_time_ms + n × inter_event_delay_us / 1000`. Ids, hot
//! sellers, hot auctions and hot bidders, prices, categories, auction
//! lengths and the `extra` padding follow the reference generator, with one
//! deliberate difference: sellers and bid auctions are drawn only from
//! persons and auctions that already exist (the reference adds a "lead" of
//! up to 10 ids not generated yet), so every join key refers to an earlier
//! event. The random sequence is `rand`'s seeded `StdRng`, not Java's
//! `Random`, so individual values differ from the Java generator's; the
//! distributions are the same.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::model::{Auction, Bid, Event, Person};

/// First person id.
pub const FIRST_PERSON_ID: i64 = 1000;
/// First auction id.
pub const FIRST_AUCTION_ID: i64 = 1000;
/// First category id; categories are `10..10 + NUM_CATEGORIES`.
pub const FIRST_CATEGORY_ID: i64 = 10;
/// How many categories.
pub const NUM_CATEGORIES: i64 = 5;

const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const TOTAL_PROPORTION: u64 = 50;
/// Hot auctions, sellers and bidders come from batches of this many.
const HOT_AUCTION_RATIO: i64 = 100;
const HOT_SELLER_RATIO: i64 = 100;
const HOT_BIDDER_RATIO: i64 = 100;
const HOT_CHANNELS_RATIO: u32 = 2;
const CHANNELS_NUMBER: usize = 10_000;

const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] =
    ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"];
const FIRST_NAMES: [&str; 11] = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
const LAST_NAMES: [&str; 9] = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];

/// What to generate. [`GeneratorConfig::default`] is the reference
/// configuration (10,000 events per second of event time, 1,000 active
/// people, 100 auctions in flight, hot ratios 2 / 4 / 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// How many events.
    pub events: u64,
    /// Event time between two consecutive events, microseconds.
    pub inter_event_delay_us: u64,
    /// Event time of the first event, epoch milliseconds.
    pub base_time_ms: i64,
    /// Seed of the random sequence.
    pub seed: u64,
    /// Sellers and bidders that are not hot come from the latest this many
    /// people.
    pub num_active_people: i64,
    /// Bids that are not on a hot auction go to one of the latest this
    /// many auctions; auction lengths average the event time it takes to
    /// generate this many auctions.
    pub num_in_flight_auctions: i64,
    /// One bid in this many is *not* on a hot auction.
    pub hot_auction_ratio: u32,
    /// One auction in this many is *not* by a hot seller.
    pub hot_sellers_ratio: u32,
    /// One bid in this many is *not* by a hot bidder.
    pub hot_bidders_ratio: u32,
    /// Average person record size the `extra` field pads to, bytes.
    pub avg_person_bytes: usize,
    /// Average auction record size, bytes.
    pub avg_auction_bytes: usize,
    /// Average bid record size, bytes.
    pub avg_bid_bytes: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            events: 1_000_000,
            inter_event_delay_us: 100,
            // 2015-07-15 00:00:00 UTC, the reference generator's BASE_TIME.
            base_time_ms: 1_436_918_400_000,
            seed: 42,
            num_active_people: 1000,
            num_in_flight_auctions: 100,
            hot_auction_ratio: 2,
            hot_sellers_ratio: 4,
            hot_bidders_ratio: 4,
            avg_person_bytes: 200,
            avg_auction_bytes: 500,
            avg_bid_bytes: 100,
        }
    }
}

impl GeneratorConfig {
    /// The event time of event `n`, epoch milliseconds.
    pub fn timestamp_of(&self, n: u64) -> i64 {
        self.base_time_ms + ((n as u128 * self.inter_event_delay_us as u128) / 1000) as i64
    }

    /// The longest an auction can run (`expires - dateTime`), ms: twice
    /// the event time it takes to generate `num_in_flight_auctions`
    /// auctions.
    pub fn max_auction_length_ms(&self) -> i64 {
        2 * self.auction_horizon_ms().max(1)
    }

    fn auction_horizon_ms(&self) -> i64 {
        let events = (self.num_in_flight_auctions as u64 * TOTAL_PROPORTION) / AUCTION_PROPORTION;
        self.timestamp_of(events) - self.timestamp_of(0)
    }
}

/// Base-0 id of the last person generated at or before event `n`.
fn last_base0_person_id(n: u64) -> i64 {
    let epoch = n / TOTAL_PROPORTION;
    let offset = (n % TOTAL_PROPORTION).min(PERSON_PROPORTION - 1);
    (epoch * PERSON_PROPORTION + offset) as i64
}

/// Base-0 id of the last auction generated at or before event `n` (-1
/// before the first).
fn last_base0_auction_id(n: u64) -> i64 {
    let mut epoch = (n / TOTAL_PROPORTION) as i64;
    let mut offset = (n % TOTAL_PROPORTION) as i64;
    let (pp, ap) = (PERSON_PROPORTION as i64, AUCTION_PROPORTION as i64);
    if offset < pp {
        epoch -= 1;
        offset = ap - 1;
    } else if offset >= pp + ap {
        offset = ap - 1;
    } else {
        offset -= pp;
    }
    epoch * ap + offset
}

/// An iterator over the events of a [`GeneratorConfig`], in order.
///
/// ```
/// use riffle::nexmark::{Event, Generator, GeneratorConfig};
/// let events: Vec<Event> = Generator::new(GeneratorConfig { events: 100, ..Default::default() }).collect();
/// assert_eq!(events.iter().filter(|e| matches!(e, Event::Bid(_))).count(), 92);
/// ```
#[derive(Debug)]
pub struct Generator {
    config: GeneratorConfig,
    rng: StdRng,
    next: u64,
    /// `(channel, url)` of the non-hot channels, made once.
    channels: Vec<(String, String)>,
    hot_urls: Vec<String>,
}

impl Generator {
    /// A generator at event 0.
    pub fn new(config: GeneratorConfig) -> Generator {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let hot_urls = (0..HOT_CHANNELS.len()).map(|_| base_url(&mut rng)).collect();
        let channels = (0..CHANNELS_NUMBER)
            .map(|i| {
                let mut url = base_url(&mut rng);
                if rng.gen_range(0..10) > 0 {
                    url.push_str(&format!("&channel_id={}", (i as i32).reverse_bits().unsigned_abs()));
                }
                (format!("channel-{i}"), url)
            })
            .collect();
        Generator { config, rng, next: 0, channels, hot_urls }
    }

    /// The configuration.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// A seller or bidder among the latest `num_active_people` people.
    fn next_base0_person_id(&mut self, n: u64) -> i64 {
        let num_people = last_base0_person_id(n) + 1;
        let active = num_people.min(self.config.num_active_people).max(1);
        num_people - active + self.rng.gen_range(0..active)
    }

    /// An auction among the latest `num_in_flight_auctions`.
    fn next_base0_auction_id(&mut self, n: u64) -> i64 {
        let max = last_base0_auction_id(n).max(0);
        let min = (max - self.config.num_in_flight_auctions).max(0);
        min + self.rng.gen_range(0..=max - min)
    }

    fn next_price(&mut self) -> i64 {
        (10f64.powf(self.rng.gen::<f64>() * 6.0) * 100.0).round() as i64
    }

    fn person(&mut self, n: u64, ts: i64) -> Person {
        let id = last_base0_person_id(n) + FIRST_PERSON_ID;
        let name = format!(
            "{} {}",
            FIRST_NAMES[self.rng.gen_range(0..FIRST_NAMES.len())],
            LAST_NAMES[self.rng.gen_range(0..LAST_NAMES.len())]
        );
        let email_address = format!("{}@{}.com", next_string(&mut self.rng, 7, '_'), next_string(&mut self.rng, 5, '_'));
        let credit_card = (0..4).map(|_| format!("{:04}", self.rng.gen_range(0..10_000))).collect::<Vec<_>>().join(" ");
        let city = US_CITIES[self.rng.gen_range(0..US_CITIES.len())].to_string();
        let state = US_STATES[self.rng.gen_range(0..US_STATES.len())].to_string();
        let size = 8 + name.len() + email_address.len() + credit_card.len() + city.len() + state.len();
        let extra = next_extra(&mut self.rng, size, self.config.avg_person_bytes);
        Person { id, name, email_address, credit_card, city, state, date_time: ts, extra }
    }

    fn auction(&mut self, n: u64, ts: i64) -> Auction {
        let id = last_base0_auction_id(n) + FIRST_AUCTION_ID;
        let seller = if self.rng.gen_range(0..self.config.hot_sellers_ratio.max(1)) > 0 {
            // The first person of the latest batch of HOT_SELLER_RATIO.
            (last_base0_person_id(n) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO
        } else {
            self.next_base0_person_id(n)
        } + FIRST_PERSON_ID;
        let category = FIRST_CATEGORY_ID + self.rng.gen_range(0..NUM_CATEGORIES);
        let initial_bid = self.next_price();
        let horizon = self.config.auction_horizon_ms();
        let expires = ts + 1 + self.rng.gen_range(0..(horizon * 2).max(1));
        let item_name = next_string(&mut self.rng, 20, ' ');
        let description = next_string(&mut self.rng, 100, ' ');
        let reserve = initial_bid + self.next_price();
        let size = 8 + item_name.len() + description.len() + 40;
        let extra = next_extra(&mut self.rng, size, self.config.avg_auction_bytes);
        Auction { id, item_name, description, initial_bid, reserve, date_time: ts, expires, seller, category, extra }
    }

    fn bid(&mut self, n: u64, ts: i64) -> Bid {
        let auction = if self.rng.gen_range(0..self.config.hot_auction_ratio.max(1)) > 0 {
            // The first auction of the latest batch of HOT_AUCTION_RATIO.
            (last_base0_auction_id(n) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
        } else {
            self.next_base0_auction_id(n)
        } + FIRST_AUCTION_ID;
        let bidder = if self.rng.gen_range(0..self.config.hot_bidders_ratio.max(1)) > 0 {
            // The second person of the latest batch, so that hot bidders
            // and hot sellers differ.
            (last_base0_person_id(n) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1
        } else {
            self.next_base0_person_id(n)
        } + FIRST_PERSON_ID;
        let price = self.next_price();
        let (channel, url) = if self.rng.gen_range(0..HOT_CHANNELS_RATIO) > 0 {
            let i = self.rng.gen_range(0..HOT_CHANNELS.len());
            (HOT_CHANNELS[i].to_string(), self.hot_urls[i].clone())
        } else {
            self.channels[self.rng.gen_range(0..CHANNELS_NUMBER)].clone()
        };
        let extra = next_extra(&mut self.rng, 32, self.config.avg_bid_bytes);
        Bid { auction, bidder, price, channel, url, date_time: ts, extra }
    }
}

impl Iterator for Generator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.next >= self.config.events {
            return None;
        }
        let n = self.next;
        self.next += 1;
        let ts = self.config.timestamp_of(n);
        let rem = n % TOTAL_PROPORTION;
        Some(if rem < PERSON_PROPORTION {
            Event::Person(self.person(n, ts))
        } else if rem < PERSON_PROPORTION + AUCTION_PROPORTION {
            Event::Auction(self.auction(n, ts))
        } else {
            Event::Bid(self.bid(n, ts))
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.config.events - self.next) as usize;
        (left, Some(left))
    }
}

/// 3 to `max_len - 1` lower-case letters, about one in 13 replaced by
/// `special`, trimmed.
fn next_string(rng: &mut StdRng, max_len: usize, special: char) -> String {
    let len = rng.gen_range(3..max_len.max(4));
    let s: String = (0..len)
        .map(|_| if rng.gen_range(0..13) == 0 { special } else { (b'a' + rng.gen_range(0..26u8)) as char })
        .collect();
    s.trim().to_string()
}

/// Letters to pad a record of `current` bytes to `average` bytes, ±20%.
fn next_extra(rng: &mut StdRng, current: usize, average: usize) -> String {
    if current > average {
        return String::new();
    }
    let desired = average - current;
    let delta = (desired as f64 * 0.2).round() as usize;
    let len = desired - delta + if delta == 0 { 0 } else { rng.gen_range(0..2 * delta) };
    (0..len).map(|_| (b'a' + rng.gen_range(0..26u8)) as char).collect()
}

fn base_url(rng: &mut StdRng) -> String {
    format!(
        "https://www.nexmark.com/{}/{}/{}/item.htm?query=1",
        next_string(rng, 5, '_'),
        next_string(rng, 5, '_'),
        next_string(rng, 5, '_')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_one_person_three_auctions_46_bids_per_50() {
        let events: Vec<Event> = Generator::new(GeneratorConfig { events: 5000, ..Default::default() }).collect();
        let persons = events.iter().filter(|e| matches!(e, Event::Person(_))).count();
        let auctions = events.iter().filter(|e| matches!(e, Event::Auction(_))).count();
        assert_eq!((persons, auctions, events.len() - persons - auctions), (100, 300, 4600));
    }

    #[test]
    fn sellers_and_auctions_refer_to_earlier_events() {
        let mut persons = std::collections::HashSet::new();
        let mut auctions = std::collections::HashSet::new();
        for e in Generator::new(GeneratorConfig { events: 20_000, ..Default::default() }) {
            match e {
                Event::Person(p) => assert!(persons.insert(p.id)),
                Event::Auction(a) => {
                    assert!(persons.contains(&a.seller), "seller {} of auction {}", a.seller, a.id);
                    assert!(a.expires > a.date_time);
                    assert!((10..15).contains(&a.category));
                    assert!(auctions.insert(a.id));
                }
                Event::Bid(b) => assert!(auctions.contains(&b.auction), "bid on auction {}", b.auction),
            }
        }
    }

    #[test]
    fn same_seed_same_events() {
        let c = GeneratorConfig { events: 1000, ..Default::default() };
        assert!(Generator::new(c.clone()).eq(Generator::new(c)));
    }
}
