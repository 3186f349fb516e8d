//! The processor API: an escape hatch for logic the plan cannot express.
//! Implement [`Operator`](crate::Operator) (with its own stores, opened in
//! `init`, and punctuation in `on_time` / `on_wall_clock`), and give the
//! builder a [`ProcessorSupplier`] that makes one per task.

use std::fmt::Debug;

use crate::operators::Operator;

/// Makes one user operator per task.
pub trait ProcessorSupplier: Send + Sync + Debug {
    /// A fresh operator for the task of `partition`.
    fn get(&self, partition: i32) -> Box<dyn Operator>;
}
