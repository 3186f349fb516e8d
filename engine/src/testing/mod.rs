//! Testing support: [`TestDriver`], Riffle's `TopologyTestDriver`.

mod driver;

pub use driver::{OutputRecord, TestDriver};
