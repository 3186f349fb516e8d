//! Errors of the SQL layer. Each says where (line and column for parse
//! errors) and what to change; where ksqlDB's conformance tests pin the
//! wording, the message uses it.

use riffle_engine::EngineError;

/// A SQL error.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The statement text does not parse.
    #[error("line {line}:{column}: {message}")]
    Parse {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// The statement parses but cannot run as written (unknown source or
    /// column, type mismatch, unsupported combination, …).
    #[error("{0}")]
    Semantic(String),
    /// A value that cannot be serialized or deserialized.
    #[error("{0}")]
    Serde(String),
    /// The engine refused the plan or failed while running it.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A bug: an invariant of the SQL layer does not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl SqlError {
    /// A semantic error.
    pub fn semantic(message: impl Into<String>) -> Self {
        SqlError::Semantic(message.into())
    }

    /// A serialization error.
    pub fn serde(message: impl Into<String>) -> Self {
        SqlError::Serde(message.into())
    }
}

impl From<arrow::error::ArrowError> for SqlError {
    fn from(e: arrow::error::ArrowError) -> Self {
        SqlError::Internal(format!("arrow: {e}"))
    }
}

/// Result of the SQL layer.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;
