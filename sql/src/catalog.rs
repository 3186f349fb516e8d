//! The catalog: streams, tables and their topics, formats and schemas.

use std::collections::BTreeMap;

use crate::serde::FormatSpec;
use crate::types::Column;

/// Stream or table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// An append-only stream of events.
    Stream,
    /// A changelog: latest row per key.
    Table,
}

impl SourceKind {
    /// `STREAM` or `TABLE`.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Stream => "STREAM",
            SourceKind::Table => "TABLE",
        }
    }
}

/// How a windowed source's keys are windowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowType {
    /// Fixed, non-overlapping windows.
    Tumbling,
    /// Fixed, overlapping windows.
    Hopping,
    /// Activity sessions.
    Session,
}

impl WindowType {
    /// `TUMBLING`, `HOPPING` or `SESSION`.
    pub fn name(self) -> &'static str {
        match self {
            WindowType::Tumbling => "TUMBLING",
            WindowType::Hopping => "HOPPING",
            WindowType::Session => "SESSION",
        }
    }
}

/// The window of a windowed source's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowInfo {
    /// Window type.
    pub kind: WindowType,
    /// Window size (time windows).
    pub size_ms: Option<i64>,
}

/// A stream or table.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// Name (upper case unless quoted).
    pub name: String,
    /// Stream or table.
    pub kind: SourceKind,
    /// Kafka topic.
    pub topic: String,
    /// Key format.
    pub key_format: FormatSpec,
    /// Value format.
    pub value_format: FormatSpec,
    /// Key columns, in order.
    pub key: Vec<Column>,
    /// Value columns, in order.
    pub value: Vec<Column>,
    /// Header columns: `(column, header key or None for all headers)`.
    pub headers: Vec<(Column, Option<String>)>,
    /// The window of the keys, for windowed sources.
    pub window: Option<WindowInfo>,
    /// `TIMESTAMP` column, if any.
    pub timestamp: Option<String>,
    /// `TIMESTAMP_FORMAT`, if any.
    pub timestamp_format: Option<String>,
    /// The query that writes this source (`CSAS_…`), if any.
    pub written_by: Option<String>,
    /// The statement text that created it.
    pub sql: String,
}

impl SourceInfo {
    /// A column (key, value or header) by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.key.iter().chain(&self.value).chain(self.headers.iter().map(|(c, _)| c)).find(|c| c.name == name)
    }

    /// ksqlDB's schema string: `` `K` STRING KEY, `V` BIGINT ``.
    pub fn schema_string(&self) -> String {
        let key_word = if self.kind == SourceKind::Table { "PRIMARY KEY" } else { "KEY" };
        let mut parts: Vec<String> = self.key.iter().map(|c| format!("`{}` {} {key_word}", c.name, c.ty)).collect();
        parts.extend(self.value.iter().map(|c| format!("`{}` {}", c.name, c.ty)));
        parts.extend(self.headers.iter().map(|(c, key)| match key {
            None => format!("`{}` {} HEADERS", c.name, c.ty),
            Some(k) => format!("`{}` {} HEADER('{k}')", c.name, c.ty),
        }));
        parts.join(", ")
    }
}

/// Sources and custom types by name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Streams and tables.
    pub sources: BTreeMap<String, SourceInfo>,
    /// `CREATE TYPE` aliases.
    pub types: BTreeMap<String, crate::types::SqlType>,
}

impl Catalog {
    /// A source by name.
    pub fn source(&self, name: &str) -> Option<&SourceInfo> {
        self.sources.get(name)
    }

    /// The sources reading or writing `topic`.
    pub fn sources_on_topic<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a SourceInfo> + 'a {
        self.sources.values().filter(move |s| s.topic == topic)
    }
}
