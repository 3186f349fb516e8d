//! [`Session`]: runs ksqlDB statements against an embedded log.
//!
//! Persistent queries (`CREATE … AS SELECT`, `INSERT INTO … SELECT`) run
//! synchronously: every [`Session::produce`] appends one record and then
//! runs every query's tasks until nothing is left to read, so outputs of one
//! query feed the next, one record at a time — the semantics of ksqlDB's
//! query-validation tests.

use std::collections::BTreeMap;

use bytes::Bytes;
use riffle_log::StoredRecord;

use crate::catalog::{Catalog, SourceInfo};
use crate::error::{Result, SqlError};

/// What a statement did.
#[derive(Debug, Clone, PartialEq)]
pub enum Executed {
    /// A DDL or DML statement: its message (`Stream created`, …).
    Message(String),
    /// A persistent query started: its id.
    QueryStarted(String),
    /// Rows of a `SHOW`/`DESCRIBE`/`EXPLAIN`/pull query, as text.
    Rows(Vec<String>),
}

/// A ksqlDB session over an embedded log. See the module docs.
#[derive(Debug)]
pub struct Session {
    catalog: Catalog,
    properties: BTreeMap<String, String>,
}

impl Session {
    /// A session over a fresh embedded log in a temporary directory, with
    /// these properties (`ksql.…` settings, as in `SET`).
    ///
    /// # Errors
    /// I/O creating the log.
    pub fn new(properties: BTreeMap<String, String>) -> Result<Session> {
        Ok(Session { catalog: Catalog::default(), properties })
    }

    /// Parses and runs every statement in `sql`, in order; stops at the
    /// first failure.
    ///
    /// # Errors
    /// Parse, semantic and runtime errors, with ksqlDB's wording where the
    /// conformance files pin it.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<Executed>> {
        let _ = (sql, &self.properties);
        Err(SqlError::Internal("not written yet".into()))
    }

    /// Creates `topic` with `partitions` partitions if it does not exist.
    ///
    /// # Errors
    /// Log failures.
    pub fn create_topic(&mut self, topic: &str, partitions: i32) -> Result<()> {
        let _ = (topic, partitions);
        Ok(())
    }

    /// Appends one record to `topic` (partition from the key's murmur2
    /// hash, as Kafka's default partitioner) and runs every query until
    /// nothing is left to read.
    ///
    /// # Errors
    /// Unknown topic; query failures.
    pub fn produce(
        &mut self,
        topic: &str,
        key: Option<Bytes>,
        value: Option<Bytes>,
        timestamp: i64,
        headers: Vec<(String, Option<Bytes>)>,
    ) -> Result<()> {
        let _ = (topic, key, value, timestamp, headers);
        Ok(())
    }

    /// Every record of `topic`, partition by partition, in offset order.
    ///
    /// # Errors
    /// Unknown topic.
    pub fn read_topic(&self, topic: &str) -> Result<Vec<StoredRecord>> {
        let _ = topic;
        Ok(Vec::new())
    }

    /// Names of every topic in the log (internal ones included).
    pub fn topics(&self) -> Vec<String> {
        Vec::new()
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The source registered on `topic` that tells how its records are
    /// serialized (a sink's source first), if any.
    pub fn topic_source(&self, topic: &str) -> Option<&SourceInfo> {
        let on: Vec<&SourceInfo> = self.catalog.sources.values().filter(|s| s.topic == topic).collect();
        on.iter().find(|s| s.written_by.is_some()).or(on.first()).copied()
    }
}
