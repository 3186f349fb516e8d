//! [`TypedTestDriver`]: the [`TestDriver`] with typed input and output,
//! encoding and decoding records the way DSL sources and sinks do.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::builder::SinkInfo;
use super::codec::{decode_key, encode_key, encode_value, KeyLayout};
use super::Data;
use crate::error::{EngineError, Result};
use crate::plan::{LogicalPlan, WindowKind};
use crate::runtime::MetricsSnapshot;
use crate::testing::{OutputRecord, TestDriver};

/// A record read back from an output topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRecord<K, V> {
    /// The key (a missing key reads as JSON `null`, which `()` and
    /// `Option<_>` accept).
    pub key: K,
    /// The value; `None` for a tombstone.
    pub value: Option<V>,
    /// The record timestamp (the event time of the row that produced it).
    pub timestamp: i64,
}

/// Runs a [`StreamsBuilder`](super::StreamsBuilder)'s topology
/// synchronously (see [`TestDriver`]) with typed records: keys and values
/// are serialized as the DSL's sources read them, and outputs decoded as
/// its sinks wrote them, windowed keys included. Make one with
/// [`StreamsBuilder::test_driver`](super::StreamsBuilder::test_driver).
pub struct TypedTestDriver {
    driver: TestDriver,
    sinks: BTreeMap<String, SinkInfo>,
}

impl std::fmt::Debug for TypedTestDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedTestDriver").field("driver", &self.driver).finish()
    }
}

fn read_error(topic: &str, r: &OutputRecord, what: &str, reason: impl std::fmt::Display) -> EngineError {
    EngineError::plan(
        format!("reading output topic {topic}"),
        format!("the {what} of the record at partition {} time {} does not decode: {reason}", r.partition, r.timestamp),
    )
}

fn be_i64(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.try_into().ok()?))
}

impl TypedTestDriver {
    pub(crate) fn new(application_id: &str, plans: &[Arc<LogicalPlan>], sinks: BTreeMap<String, SinkInfo>) -> Result<Self> {
        Ok(TypedTestDriver { driver: TestDriver::new(application_id, plans)?, sinks })
    }

    /// Appends a record with `key` and `value` at `timestamp` to `topic`
    /// and processes everything it leads to. A `()` key is written as no
    /// key.
    ///
    /// # Errors
    /// A key or value that does not serialize to JSON; unknown topic; task
    /// failures.
    pub fn pipe_input<K: Data, V: Data>(&mut self, topic: &str, key: K, value: V, timestamp: i64) -> Result<()> {
        let value = encode_value(&value).map_err(|reason| EngineError::Encode { topic: topic.into(), reason })?;
        self.pipe_keyed(topic, &key, Some(value.as_bytes()), timestamp)
    }

    /// Appends a tombstone (null value) for `key`: deletes the key from a
    /// table read from `topic`.
    ///
    /// # Errors
    /// As [`TypedTestDriver::pipe_input`].
    pub fn pipe_tombstone<K: Data>(&mut self, topic: &str, key: K, timestamp: i64) -> Result<()> {
        self.pipe_keyed(topic, &key, None, timestamp)
    }

    fn pipe_keyed<K: Data>(&mut self, topic: &str, key: &K, value: Option<&[u8]>, timestamp: i64) -> Result<()> {
        let layout = KeyLayout::of::<K>();
        let key = if layout.unit {
            None
        } else {
            Some(encode_key(layout, key).map_err(|reason| EngineError::Encode { topic: topic.into(), reason })?)
        };
        self.driver.pipe(topic, key.as_deref().map(str::as_bytes), value, timestamp)
    }

    /// Appends a record of raw bytes (for example a malformed one).
    ///
    /// # Errors
    /// Unknown topic; task failures.
    pub fn pipe_raw(&mut self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) -> Result<()> {
        self.driver.pipe(topic, key, value, timestamp)
    }

    /// The records written to `topic` since the last read, decoded as keys
    /// `K` and values `V`. For windowed outputs of this topology, ask for
    /// `K = Windowed<inner>`: the window comes from the key bytes (inner key,
    /// then the 8-byte big-endian start; for sessions the end, then the
    /// start).
    ///
    /// # Errors
    /// Unknown topic; a record that does not decode as `K` and `V` (the
    /// message says which part and why).
    pub fn read_output<K: Data, V: Data>(&mut self, topic: &str) -> Result<Vec<TestRecord<K, V>>> {
        let info = self.sinks.get(topic).copied();
        let records = self.driver.read_output(topic)?;
        let mut out = Vec::with_capacity(records.len());
        for r in &records {
            let key: K = match (&r.key, info.and_then(|i| i.window.map(|w| (i.key, w)))) {
                (None, _) => serde_json::from_value(Value::Null).map_err(|e| read_error(topic, r, "key", e))?,
                (Some(bytes), Some((layout, window))) => {
                    let (inner, start, end) = match window.kind {
                        WindowKind::Session { .. } if bytes.len() >= 16 => {
                            let n = bytes.len() - 16;
                            (&bytes[..n], be_i64(&bytes[n + 8..]), be_i64(&bytes[n..n + 8]))
                        }
                        WindowKind::Tumbling { size_ms }
                        | WindowKind::Hopping { size_ms, .. }
                        | WindowKind::Sliding { difference_ms: size_ms }
                            if bytes.len() >= 8 =>
                        {
                            let n = bytes.len() - 8;
                            let start = be_i64(&bytes[n..]);
                            (&bytes[..n], start, start.map(|s| s.saturating_add(size_ms)))
                        }
                        _ => return Err(read_error(topic, r, "key", "too short for a windowed key")),
                    };
                    let text = std::str::from_utf8(inner).map_err(|e| read_error(topic, r, "key", e))?;
                    let window = start.zip(end);
                    decode_key(layout.windowed(), text, window)
                        .map_err(|e| read_error(topic, r, "key", format!("{e} (the topic is windowed: read it as Windowed<K>)")))?
                }
                (Some(bytes), None) => {
                    let text = std::str::from_utf8(bytes).map_err(|e| read_error(topic, r, "key", e))?;
                    decode_key(KeyLayout::of::<K>(), text, None).map_err(|e| read_error(topic, r, "key", e))?
                }
            };
            let value = match &r.value {
                None => None,
                Some(v) => Some(serde_json::from_slice::<V>(v).map_err(|e| read_error(topic, r, "value", e))?),
            };
            out.push(TestRecord { key, value, timestamp: r.timestamp });
        }
        Ok(out)
    }

    /// [`TypedTestDriver::read_output`] as `(key, value)` pairs, tombstones
    /// left out.
    ///
    /// # Errors
    /// As [`TypedTestDriver::read_output`].
    pub fn read_key_values<K: Data, V: Data>(&mut self, topic: &str) -> Result<Vec<(K, V)>> {
        Ok(self.read_output::<K, V>(topic)?.into_iter().filter_map(|r| Some((r.key, r.value?))).collect())
    }

    /// Moves the mocked wall clock forward.
    ///
    /// # Errors
    /// Task failures.
    pub fn advance_wall_clock(&mut self, by: Duration) -> Result<()> {
        self.driver.advance_wall_clock(by)
    }

    /// The tasks' counters (decode errors, late records, …).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.driver.metrics()
    }

    /// The untyped driver underneath.
    pub fn driver(&mut self) -> &mut TestDriver {
        &mut self.driver
    }
}
