//! Typed interactive queries: read a running app's aggregation stores by
//! the name given with [`KTable::materialize_as`](super::KTable::materialize_as)
//! (Kafka Streams' `Materialized.as` and `KafkaStreams#store`).
//!
//! A view reads the stores of **this instance's** tasks. With several
//! instances of one application, a key lives on exactly one of them:
//! [`KeyValueStoreView::key_owner`] says which (its `application.server`
//! endpoint), so a service can forward the lookup there.

use std::marker::PhantomData;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::codec::{decode_key, decode_value, encode_key, KeyLayout, TextColumn, KEY, VALUE};
use super::{Data, Windowed};
use crate::error::{EngineError, Result};
use crate::plan::{WINDOWEND, WINDOWSTART};
use crate::runtime::{InstanceMetadata, StreamsApp};

impl StreamsApp {
    /// A typed view of the key-value store `name` (an unwindowed DSL
    /// aggregation named with `materialize_as`).
    pub fn key_value_store<K: Data, V: Data>(&self, name: &str) -> KeyValueStoreView<'_, K, V> {
        KeyValueStoreView { app: self, name: name.to_string(), _t: PhantomData }
    }

    /// A typed view of the window store `name` (a windowed DSL aggregation
    /// named with `materialize_as`: tumbling, hopping, sliding or session
    /// windows); `K` is the key inside the window. Session stores are read
    /// by key ([`WindowStoreView::fetch`]); `all` is refused for them.
    pub fn window_store<K: Data, V: Data>(&self, name: &str) -> WindowStoreView<'_, K, V> {
        WindowStoreView { app: self, name: name.to_string(), _t: PhantomData }
    }
}

/// Read-only typed access to a key-value store of a running app.
pub struct KeyValueStoreView<'a, K, V> {
    app: &'a StreamsApp,
    name: String,
    _t: PhantomData<fn() -> (K, V)>,
}

/// Read-only typed access to a window store of a running app.
pub struct WindowStoreView<'a, K, V> {
    app: &'a StreamsApp,
    name: String,
    _t: PhantomData<fn() -> (K, V)>,
}

fn key_text<K: Data>(store: &str, key: &K) -> Result<String> {
    encode_key(KeyLayout::of::<K>(), key).map_err(|reason| EngineError::Expr { expr: format!("key of store {store:?}"), reason })
}

fn key_batch(text: &str) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![Field::new(KEY, DataType::Utf8, true)]));
    let col: ArrayRef = Arc::new(StringArray::from(vec![text]));
    RecordBatch::try_new(schema, vec![col]).map_err(|e| EngineError::arrow("query key", e))
}

fn bad_row(store: &str, reason: String) -> EngineError {
    EngineError::Expr { expr: format!("row of store {store:?}"), reason }
}

/// `(key text, window, value)` of every row.
fn rows<V: Data>(store: &str, batch: &RecordBatch) -> Result<Vec<(String, Option<(i64, i64)>, V)>> {
    let keys = TextColumn::new(batch.column_by_name(KEY));
    let values = TextColumn::new(batch.column_by_name(VALUE));
    let bound = |name: &str| batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned());
    let (starts, ends) = (bound(WINDOWSTART), bound(WINDOWEND));
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let key = keys.get(i).map(|k| k.into_owned()).unwrap_or_default();
        let Some(text) = values.get(i) else { continue };
        let value = decode_value::<V>(&text).map_err(|r| bad_row(store, r))?;
        let window = match (&starts, &ends) {
            (Some(s), Some(e)) if s.is_valid(i) && e.is_valid(i) => Some((s.value(i), e.value(i))),
            _ => None,
        };
        out.push((key, window, value));
    }
    Ok(out)
}

impl<K: Data, V: Data> KeyValueStoreView<'_, K, V> {
    /// The value of `key`, if this instance holds it.
    ///
    /// # Errors
    /// An unknown store, a value that does not decode as `V`, an app that is
    /// not running.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        let batch = self.app.query(&self.name, Some(&key_batch(&key_text(&self.name, key)?)?), None)?;
        Ok(rows::<V>(&self.name, &batch)?.into_iter().next().map(|(_, _, v)| v))
    }

    /// Every key this instance holds, with its value.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn all(&self) -> Result<Vec<(K, V)>> {
        let batch = self.app.query(&self.name, None, None)?;
        let layout = KeyLayout::of::<K>();
        rows::<V>(&self.name, &batch)?
            .into_iter()
            .map(|(k, _, v)| Ok((decode_key::<K>(layout, &k, None).map_err(|r| bad_row(&self.name, r))?, v)))
            .collect()
    }

    /// The instance that holds `key` (see [`StreamsApp::key_owner`]).
    ///
    /// # Errors
    /// An unknown store; a key that does not serialize.
    pub fn key_owner(&self, key: &K) -> Result<Option<InstanceMetadata>> {
        self.app.key_owner(&self.name, key_text(&self.name, key)?.as_bytes())
    }
}

impl<K: Data, V: Data> WindowStoreView<'_, K, V> {
    /// The windows of `key` that start in `[from, to]` (ms, inclusive), in
    /// start order.
    ///
    /// # Errors
    /// An unknown store, a value that does not decode as `V`, an app that is
    /// not running.
    pub fn fetch(&self, key: &K, from: i64, to: i64) -> Result<Vec<(Windowed<K>, V)>> {
        let batch = self.app.query(&self.name, Some(&key_batch(&key_text(&self.name, key)?)?), Some((from, to)))?;
        self.typed(&batch)
    }

    /// Every window of every key this instance holds.
    ///
    /// # Errors
    /// As [`fetch`](Self::fetch).
    pub fn all(&self) -> Result<Vec<(Windowed<K>, V)>> {
        let batch = self.app.query(&self.name, None, None)?;
        self.typed(&batch)
    }

    /// The instance that holds `key` (see [`StreamsApp::key_owner`]).
    ///
    /// # Errors
    /// An unknown store; a key that does not serialize.
    pub fn key_owner(&self, key: &K) -> Result<Option<InstanceMetadata>> {
        self.app.key_owner(&self.name, key_text(&self.name, key)?.as_bytes())
    }

    fn typed(&self, batch: &RecordBatch) -> Result<Vec<(Windowed<K>, V)>> {
        let layout = KeyLayout::of::<K>().windowed();
        let mut out = rows::<V>(&self.name, batch)?
            .into_iter()
            .map(|(k, w, v)| {
                let w = w.ok_or_else(|| bad_row(&self.name, "a windowed row without window bounds; is this a window store?".into()))?;
                Ok((decode_key::<Windowed<K>>(layout, &k, Some(w)).map_err(|r| bad_row(&self.name, r))?, v))
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|(w, _)| w.start);
        Ok(out)
    }
}
