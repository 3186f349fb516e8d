//! Per-partition idempotence state: for each producer id, its epoch and the
//! sequence ranges of its last few batches, so a retried batch is recognised
//! and not written twice (Kafka keeps five; so do we).
//!
//! It also tracks transactions: the first offset of each producer's open
//! transaction (the oldest one bounds the last stable offset) and the index
//! of aborted transactions (producer id, first offset, marker offset) that
//! `read_committed` fetches return so clients can skip aborted batches.
//! Both are rebuilt from the batch headers (and marker types) on open.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::batch::{BatchHeader, ControlType, NO_PRODUCER_ID};

/// How many recent batches per producer are remembered for duplicate checks.
pub(crate) const RECENT_BATCHES: usize = 5;

/// A batch already written: its sequence range and offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchMeta {
    pub first_seq: i32,
    pub last_seq: i32,
    pub base_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
}

#[derive(Debug, Clone, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMeta>,
    /// First offset of the producer's open transaction.
    txn_first_offset: Option<i64>,
}

/// An aborted transaction in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer that wrote it.
    pub producer_id: i64,
    /// Offset of its first batch in this partition.
    pub first_offset: i64,
    /// Offset of its ABORT marker.
    pub last_offset: i64,
}

/// What to do with an incoming idempotent batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    /// New and in order: write it.
    Append,
    /// A retry of a batch already written: answer with its original result.
    Duplicate(BatchMeta),
    /// Older epoch than the producer's current one.
    Fenced { current_epoch: i16 },
    /// Gap or reorder in sequence numbers.
    OutOfOrder { expected: i32 },
}

/// All producers' state for one partition.
#[derive(Debug, Default)]
pub(crate) struct ProducerStateTable {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset → producer id.
    open_txns: BTreeMap<i64, i64>,
    /// Aborted transactions, in marker order.
    aborted: Vec<AbortedTxn>,
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

impl ProducerStateTable {
    /// Decides whether a batch from an idempotent producer may be appended.
    pub(crate) fn check(&self, h: &BatchHeader) -> SequenceCheck {
        if h.producer_id == NO_PRODUCER_ID {
            return SequenceCheck::Append;
        }
        let Some(entry) = self.producers.get(&h.producer_id) else {
            return if h.base_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::OutOfOrder { expected: 0 }
            };
        };
        if h.producer_epoch < entry.epoch {
            return SequenceCheck::Fenced { current_epoch: entry.epoch };
        }
        if h.producer_epoch > entry.epoch {
            return if h.base_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::OutOfOrder { expected: 0 }
            };
        }
        if let Some(b) =
            entry.batches.iter().find(|b| b.first_seq == h.base_sequence && b.last_seq == h.last_sequence())
        {
            return SequenceCheck::Duplicate(*b);
        }
        let expected = entry.batches.back().map_or(0, |b| next_seq(b.last_seq));
        if h.base_sequence == expected {
            SequenceCheck::Append
        } else {
            SequenceCheck::OutOfOrder { expected }
        }
    }

    /// Decides whether a transaction marker may be appended: only an older
    /// epoch than the producer's is refused.
    pub(crate) fn check_marker(&self, h: &BatchHeader) -> SequenceCheck {
        match self.producers.get(&h.producer_id) {
            Some(e) if h.producer_epoch < e.epoch => SequenceCheck::Fenced { current_epoch: e.epoch },
            _ => SequenceCheck::Append,
        }
    }

    /// Records a batch that was written (also used when replaying the log).
    pub(crate) fn record(&mut self, h: &BatchHeader) {
        if h.producer_id == NO_PRODUCER_ID || h.is_control() {
            return;
        }
        let entry = self.producers.entry(h.producer_id).or_default();
        if h.producer_epoch != entry.epoch {
            entry.epoch = h.producer_epoch;
            entry.batches.clear();
        }
        if h.is_transactional() && entry.txn_first_offset.is_none() {
            entry.txn_first_offset = Some(h.base_offset);
            self.open_txns.insert(h.base_offset, h.producer_id);
        }
        entry.batches.push_back(BatchMeta {
            first_seq: h.base_sequence,
            last_seq: h.last_sequence(),
            base_offset: h.base_offset,
            last_offset: h.last_offset(),
            timestamp: h.max_timestamp,
        });
        while entry.batches.len() > RECENT_BATCHES {
            entry.batches.pop_front();
        }
    }

    /// Records a transaction marker written at `h.base_offset`: it closes
    /// the producer's open transaction (an ABORT adds it to the aborted
    /// index) and moves the producer to the marker's epoch when newer, which
    /// fences data batches of older epochs.
    pub(crate) fn record_marker(&mut self, h: &BatchHeader, kind: ControlType) {
        let entry = self.producers.entry(h.producer_id).or_default();
        if h.producer_epoch > entry.epoch {
            entry.epoch = h.producer_epoch;
            entry.batches.clear();
        }
        if let Some(first) = entry.txn_first_offset.take() {
            self.open_txns.remove(&first);
            if kind == ControlType::Abort {
                self.aborted.push(AbortedTxn { producer_id: h.producer_id, first_offset: first, last_offset: h.base_offset });
            }
        }
    }

    /// First offset of the oldest open transaction.
    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        self.open_txns.keys().next().copied()
    }

    /// Aborted transactions that overlap offsets `from..to`.
    pub(crate) fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted.iter().filter(|a| a.last_offset >= from && a.first_offset < to).copied().collect()
    }

    /// Forgets aborted transactions whose marker is below `log_start`.
    pub(crate) fn trim_aborted(&mut self, log_start: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start);
    }

    /// Number of producers tracked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.producers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, n: i32, base: i64) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            batch_length: 49,
            partition_leader_epoch: 0,
            crc: 0,
            attributes: 0,
            last_offset_delta: n - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: n,
        }
    }

    #[test]
    fn retries_are_duplicates_and_gaps_are_refused() {
        let mut t = ProducerStateTable::default();
        let b0 = header(1, 0, 0, 3, 0);
        assert_eq!(t.check(&b0), SequenceCheck::Append);
        t.record(&b0);
        assert!(matches!(t.check(&b0), SequenceCheck::Duplicate(m) if m.base_offset == 0));
        assert_eq!(t.check(&header(1, 0, 5, 1, 3)), SequenceCheck::OutOfOrder { expected: 3 });
        let b1 = header(1, 0, 3, 2, 3);
        assert_eq!(t.check(&b1), SequenceCheck::Append);
        t.record(&b1);
        // A bumped epoch restarts at 0 and fences the old one.
        let e1 = header(1, 1, 0, 1, 5);
        assert_eq!(t.check(&e1), SequenceCheck::Append);
        t.record(&e1);
        assert_eq!(t.check(&header(1, 0, 5, 1, 6)), SequenceCheck::Fenced { current_epoch: 1 });
        assert_eq!(t.check(&header(2, 0, 7, 1, 6)), SequenceCheck::OutOfOrder { expected: 0 });
        assert_eq!(t.len(), 1);
    }

    fn txn(mut h: BatchHeader) -> BatchHeader {
        h.attributes |= 1 << 4;
        h
    }

    fn marker(pid: i64, epoch: i16, offset: i64) -> BatchHeader {
        let mut h = header(pid, epoch, -1, 1, offset);
        h.attributes |= (1 << 4) | (1 << 5);
        h
    }

    #[test]
    fn open_transactions_bound_the_stable_offset_and_aborts_are_indexed() {
        let mut t = ProducerStateTable::default();
        assert_eq!(t.first_unstable_offset(), None);
        t.record(&txn(header(1, 0, 0, 2, 10)));
        t.record(&txn(header(2, 0, 0, 1, 12)));
        t.record(&txn(header(1, 0, 2, 1, 13)));
        assert_eq!(t.first_unstable_offset(), Some(10));
        t.record_marker(&marker(1, 0, 14), ControlType::Abort);
        assert_eq!(t.first_unstable_offset(), Some(12));
        t.record_marker(&marker(2, 0, 15), ControlType::Commit);
        assert_eq!(t.first_unstable_offset(), None);
        let a = AbortedTxn { producer_id: 1, first_offset: 10, last_offset: 14 };
        assert_eq!(t.aborted_between(0, 100), vec![a]);
        assert_eq!(t.aborted_between(14, 20), vec![a]);
        assert!(t.aborted_between(15, 20).is_empty());
        assert!(t.aborted_between(0, 10).is_empty());
        // A marker with a newer epoch fences the old one.
        t.record_marker(&marker(1, 1, 16), ControlType::Abort);
        assert_eq!(t.check(&header(1, 0, 3, 1, 17)), SequenceCheck::Fenced { current_epoch: 1 });
        assert_eq!(t.aborted_between(0, 100).len(), 1, "no open transaction, nothing aborted");
        t.trim_aborted(15);
        assert!(t.aborted_between(0, 100).is_empty());
    }

    #[test]
    fn only_recent_batches_are_remembered() {
        let mut t = ProducerStateTable::default();
        for i in 0..10 {
            t.record(&header(9, 0, i, 1, i as i64));
        }
        assert!(matches!(t.check(&header(9, 0, 9, 1, 0)), SequenceCheck::Duplicate(_)));
        // Too old to be recognised: reported as out of order, never re-written.
        assert_eq!(t.check(&header(9, 0, 2, 1, 0)), SequenceCheck::OutOfOrder { expected: 10 });
    }
}
