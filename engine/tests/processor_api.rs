//! The processor API: a user operator with its own key-value store that
//! accumulates per key, reports on wall-clock punctuation and marks
//! stream-time boundaries on stream-time punctuation — driven by the
//! `TestDriver`, which mocks the wall clock.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use riffle_engine::format::{JsonFormat, KafkaFormat};
use riffle_engine::plan::TimestampSpec;
use riffle_engine::processor::ProcessorSupplier;
use riffle_engine::{Batch, InitContext, OpContext, Operator, PlanBuilder, Result, TestDriver};
use riffle_state::{KeyValueSpec, KeyValueStore, KvStore, ReadOnlyKeyValueStore};

/// Emits a `__tick` row each time stream time crosses a multiple of this.
const TICK_MS: i64 = 10_000;

#[derive(Debug)]
struct Totals {
    schema: SchemaRef,
}

impl ProcessorSupplier for Totals {
    fn get(&self, _partition: i32) -> Box<dyn Operator> {
        Box::new(TotalsOp { schema: self.schema.clone(), store: None, dirty: BTreeSet::new(), next_tick: None })
    }
}

/// Running total per user in a logged store; dirty totals go out on
/// wall-clock punctuation.
struct TotalsOp {
    schema: SchemaRef,
    store: Option<Arc<KvStore>>,
    dirty: BTreeSet<String>,
    next_tick: Option<i64>,
}

impl TotalsOp {
    fn rows(&self, rows: &[(String, f64)], time: i64) -> Result<Batch> {
        let users = StringArray::from(rows.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>());
        let totals = Float64Array::from(rows.iter().map(|(_, t)| *t).collect::<Vec<_>>());
        let batch = RecordBatch::try_new(self.schema.clone(), vec![Arc::new(users), Arc::new(totals)])
            .map_err(|e| riffle_engine::EngineError::arrow("totals", e))?;
        Ok(Batch::new(batch, Int64Array::from(vec![time; rows.len()])))
    }

    fn total(&self, user: &str) -> Result<f64> {
        let store = self.store.as_ref().ok_or_else(|| riffle_engine::EngineError::Internal("not initialized".into()))?;
        let old = store.get(user.as_bytes()).map_err(|e| riffle_engine::EngineError::state("totals", e))?;
        Ok(old.and_then(|b| <[u8; 8]>::try_from(&b[..]).ok()).map_or(0.0, f64::from_le_bytes))
    }
}

impl Operator for TotalsOp {
    fn name(&self) -> &str {
        "totals"
    }

    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.store = Some(ctx.key_value_store(KeyValueSpec { name: "totals-store".into(), cache_bytes: 0, logged: true })?);
        Ok(())
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, _ctx: &mut OpContext<'_>) -> Result<()> {
        let users = batch.rows.column(0).as_string::<i32>().clone();
        let amounts = batch.rows.column(1).as_primitive::<Float64Type>().clone();
        for i in 0..batch.len() {
            if users.is_null(i) || amounts.is_null(i) {
                continue;
            }
            let user = users.value(i);
            let total = self.total(user)? + amounts.value(i);
            let store = self.store.as_ref().ok_or_else(|| riffle_engine::EngineError::Internal("not initialized".into()))?;
            store.put(user.as_bytes(), &total.to_le_bytes()).map_err(|e| riffle_engine::EngineError::state("totals", e))?;
            self.dirty.insert(user.to_string());
        }
        Ok(())
    }

    fn on_time(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        let next = *self.next_tick.get_or_insert((ctx.stream_time.div_euclid(TICK_MS) + 1) * TICK_MS);
        if ctx.stream_time >= next {
            let boundary = ctx.stream_time.div_euclid(TICK_MS) * TICK_MS;
            let tick = self.rows(&[("__tick".to_string(), boundary as f64)], boundary)?;
            ctx.emit(tick);
            self.next_tick = Some(boundary + TICK_MS);
        }
        Ok(())
    }

    fn on_wall_clock(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        let dirty = std::mem::take(&mut self.dirty);
        let rows = dirty.into_iter().map(|u| Ok((u.clone(), self.total(&u)?))).collect::<Result<Vec<_>>>()?;
        let out = self.rows(&rows, ctx.stream_time.max(0))?;
        ctx.emit(out);
        Ok(())
    }
}

fn outputs(d: &mut TestDriver) -> Vec<(String, f64)> {
    d.read_output("totals")
        .expect("read")
        .iter()
        .map(|r| (r.key_str().unwrap_or_default(), r.value_json().expect("json")["amount"].as_f64().expect("amount")))
        .collect()
}

#[test]
fn a_user_operator_keeps_state_and_punctuates_on_stream_and_wall_clock_time() -> Result<()> {
    let key = [Field::new("user", DataType::Utf8, true)];
    let value = Schema::new(vec![Field::new("amount", DataType::Float64, true)]);
    let source = PlanBuilder::stream("payments", Arc::new(KafkaFormat), Arc::new(JsonFormat), &key, value, TimestampSpec::Record)?;
    let schema = source.meta().schema.clone();
    let plan = source
        .process("totals", Arc::new(Totals { schema }), None)?
        .sink("totals", Arc::new(KafkaFormat), Arc::new(JsonFormat))?
        .build();
    let mut d = TestDriver::new("processor-api", &[plan])?;

    d.pipe("payments", Some(b"ann"), Some(br#"{"amount": 5.0}"#), 1_000)?;
    d.pipe("payments", Some(b"bob"), Some(br#"{"amount": 2.5}"#), 2_000)?;
    d.pipe("payments", Some(b"ann"), Some(br#"{"amount": 1.0}"#), 3_000)?;
    // Nothing yet: totals go out on wall-clock punctuation only.
    assert_eq!(outputs(&mut d), vec![]);
    d.advance_wall_clock(Duration::from_secs(1))?;
    assert_eq!(outputs(&mut d), vec![("ann".into(), 6.0), ("bob".into(), 2.5)]);

    // Stream time crosses 10 s: a tick; only bob changed since the report.
    d.pipe("payments", Some(b"bob"), Some(br#"{"amount": 4.0}"#), 12_500)?;
    assert_eq!(outputs(&mut d), vec![("__tick".into(), 10_000.0)]);
    d.advance_wall_clock(Duration::from_secs(1))?;
    assert_eq!(outputs(&mut d), vec![("bob".into(), 6.5)]);
    // Nothing dirty: a punctuation emits nothing.
    d.advance_wall_clock(Duration::from_secs(1))?;
    assert_eq!(outputs(&mut d), vec![]);
    Ok(())
}
