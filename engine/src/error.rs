//! The one error type of `riffle-engine`.

/// Result alias of this crate.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// What can go wrong while building or running a pipeline, sorted by whose
/// fault it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    // ---- user errors: the plan ------------------------------------------------
    /// A plan that cannot run: unknown column, type mismatch, bad window.
    #[error("invalid plan at {node}: {reason}")]
    Plan {
        /// The plan node (its display name).
        node: String,
        /// What is wrong and what to change.
        reason: String,
    },
    /// An expression that does not type-check or cannot be evaluated.
    #[error("expression {expr}: {reason}")]
    Expr {
        /// The expression as displayed.
        expr: String,
        /// What is wrong.
        reason: String,
    },
    /// Configuration that makes no sense (zero threads, empty application id).
    #[error("config {key}: {reason}")]
    Config {
        /// The setting.
        key: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A record could not be encoded for its sink (for example a key column
    /// that does not fit the key format).
    #[error("cannot encode for topic {topic:?}: {reason}")]
    Encode {
        /// The sink topic.
        topic: String,
        /// What failed.
        reason: String,
    },
    /// A name the app does not have (store, topic, query).
    #[error("unknown {what} {name:?}{hint}")]
    Unknown {
        /// What kind of thing.
        what: &'static str,
        /// The name asked for.
        name: String,
        /// Suggestions, starting with "; ".
        hint: String,
    },

    // ---- external errors ----------------------------------------------------
    /// The log refused a read or write.
    #[error("log error on {context}: {source}")]
    Log {
        /// Topic/partition or operation.
        context: String,
        /// The log's error.
        #[source]
        source: riffle_log::LogError,
    },
    /// A state store failed.
    #[error("state store error in {context}: {source}")]
    State {
        /// Task or store.
        context: String,
        /// The store's error.
        #[source]
        source: riffle_state::StateError,
    },
    /// An Arrow kernel failed (overflow, division by zero, bad cast).
    #[error("arrow error in {context}: {source}")]
    Arrow {
        /// Operator or expression.
        context: String,
        /// The kernel's error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The app was stopped or a worker thread died.
    #[error("application {app:?} is not running: {reason}")]
    NotRunning {
        /// The application id.
        app: String,
        /// Why.
        reason: String,
    },

    // ---- internal errors -----------------------------------------------------
    /// A broken invariant: a bug in Riffle. Please report it with the message.
    #[error("internal error: {0}; this is a bug in Riffle")]
    Internal(String),
}

impl EngineError {
    /// A plan error at `node`.
    pub fn plan(node: impl Into<String>, reason: impl Into<String>) -> Self {
        EngineError::Plan { node: node.into(), reason: reason.into() }
    }

    /// An expression error.
    pub fn expr(expr: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        EngineError::Expr { expr: expr.to_string(), reason: reason.into() }
    }

    /// Wraps a log error with context.
    pub fn log(context: impl Into<String>, source: riffle_log::LogError) -> Self {
        EngineError::Log { context: context.into(), source }
    }

    /// Wraps a state error with context.
    pub fn state(context: impl Into<String>, source: riffle_state::StateError) -> Self {
        EngineError::State { context: context.into(), source }
    }

    /// Wraps an Arrow error with context.
    pub fn arrow(context: impl Into<String>, source: arrow::error::ArrowError) -> Self {
        EngineError::Arrow { context: context.into(), source }
    }
}
