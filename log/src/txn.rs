//! The transaction coordinator: transactional ids, their producer id and
//! epoch, the partitions and group offsets of the open transaction, and the
//! commit/abort that writes a marker to every partition of it.
//!
//! ```text
//!  InitProducerId(txn id) ──► id + epoch (a bump fences the previous owner;
//!                             its open transaction is aborted first)
//!  AddPartitionsToTxn ──────► Ongoing, partitions remembered
//!  AddOffsetsToTxn / TxnOffsetCommit ─► group offsets held back
//!  EndTxn(commit|abort) ────► PrepareCommit|PrepareAbort (persisted)
//!                             → COMMIT|ABORT marker in every partition
//!                             → held offsets committed (commit only)
//!                             → CompleteCommit|CompleteAbort (persisted)
//! ```
//!
//! State is kept per transactional id in memory and persisted, one record
//! per change, in the compacted internal topic [`TRANSACTION_STATE_TOPIC`]
//! (key: the transactional id). On open the latest record per id is loaded;
//! a transaction caught between Prepare and Complete is completed again
//! (writing a marker twice is harmless: the second closes nothing). An
//! Ongoing transaction older than its timeout is aborted by a background
//! tick, with a bumped epoch so its producer is fenced, as Kafka does.
//!
//! Server-side verification (KIP-890 part 1): a transactional batch that a
//! client produces is appended only if its producer owns the transactional
//! id and the partition was added to the open transaction
//! ([`Log::append_transactional`]); a `TxnOffsetCommit` only for a group
//! that `AddOffsetsToTxn` added. Without the check, a batch that arrives
//! after its transaction ended (a retry, a late request) would open a
//! transaction in the partition that no marker ever closes, and hold back
//! the last stable offset for every `read_committed` consumer. The check and
//! the append run under the coordinator's lock, which EndTxn also holds
//! while it writes markers, so no marker can fall between them.
//!
//! What it is not: two-phase commit across brokers (this is one node), or
//! KIP-890 part 2 (an epoch bump per transaction, implicit
//! AddPartitionsToTxn in Produce v12).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::batch::ControlType;
use crate::error::{LogError, Result, TxnErrorCode};
use crate::group::OffsetAndMetadata;
use crate::log::{Log, Topic};
use crate::partition::{now_ms, AppendInfo, AppendOptions, Partition};
use crate::record::Record;
use crate::topic::TopicPartition;

/// The internal compacted topic that stores the coordinator's state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// Where a transactional id's current transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    /// No transaction has been started since the producer id was handed out.
    Empty,
    /// A transaction is open: partitions or offsets have been added.
    Ongoing,
    /// Commit decided; markers are being written.
    PrepareCommit,
    /// Abort decided; markers are being written.
    PrepareAbort,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
}

impl TxnState {
    fn code(self) -> u8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            _ => return None,
        })
    }
}

/// A group offset held back until its transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingOffset {
    group: String,
    partition: TopicPartition,
    offset: OffsetAndMetadata,
}

/// One transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TxnMeta {
    producer_id: i64,
    epoch: i16,
    timeout_ms: i32,
    state: TxnState,
    /// When the current transaction started (ms since the epoch).
    started_ms: i64,
    partitions: BTreeSet<TopicPartition>,
    groups: BTreeSet<String>,
    offsets: Vec<PendingOffset>,
}

/// The coordinator's in-memory state; the [`Log`] owns one.
pub(crate) struct TxnCoordinator {
    txns: Mutex<HashMap<String, TxnMeta>>,
    topic: Arc<Topic>,
}

impl std::fmt::Debug for TxnCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnCoordinator").field("transactions", &self.txns.lock().len()).finish()
    }
}

fn txn_error(id: &str, code: TxnErrorCode, reason: impl Into<String>) -> LogError {
    LogError::Transaction { transactional_id: id.to_string(), code, reason: reason.into() }
}

impl TxnCoordinator {
    /// Loads the latest state of every transactional id from `topic`.
    pub(crate) fn load(topic: Arc<Topic>) -> Result<Self> {
        let mut txns = HashMap::new();
        for p in topic.partitions() {
            let mut offset = p.log_start_offset();
            while offset < p.high_watermark() {
                let recs = p.read_records(offset, 4 << 20)?;
                let Some(last) = recs.last() else { break };
                offset = last.offset + 1;
                for r in recs {
                    let Some(key) = r.key else { continue };
                    let id = String::from_utf8_lossy(&key).into_owned();
                    match r.value.as_deref().map(decode_meta) {
                        Some(Some(meta)) => {
                            txns.insert(id, meta);
                        }
                        Some(None) => tracing::warn!(transactional_id = %id, "unreadable transaction state ignored"),
                        None => {
                            txns.remove(&id);
                        }
                    }
                }
            }
        }
        Ok(TxnCoordinator { txns: Mutex::new(txns), topic })
    }

    fn persist(&self, id: &str, meta: &TxnMeta) -> Result<()> {
        let n = self.topic.partitions().len().max(1) as i32;
        let p = crate::partitioner::partition_for_key(id.as_bytes(), n);
        let record = Record { key: Some(Bytes::copy_from_slice(id.as_bytes())), value: Some(encode_meta(meta)), ..Default::default() };
        self.topic.partitions()[p as usize].append(&[record], &AppendOptions::default())?;
        Ok(())
    }
}

/// Checks that `(producer_id, epoch)` is the id's current owner.
fn unknown_id(id: &str) -> LogError {
    txn_error(id, TxnErrorCode::InvalidProducerIdMapping, "unknown transactional id; call InitProducerId")
}

/// The id's state, once `producer_id` at `epoch` is known to own it.
fn owned<'a>(txns: &'a HashMap<String, TxnMeta>, id: &str, producer_id: i64, epoch: i16) -> Result<&'a TxnMeta> {
    let meta = txns.get(id).ok_or_else(|| unknown_id(id))?;
    check_owner(id, meta, producer_id, epoch)?;
    Ok(meta)
}

fn check_owner(id: &str, meta: &TxnMeta, producer_id: i64, epoch: i16) -> Result<()> {
    if meta.producer_id != producer_id {
        return Err(txn_error(
            id,
            TxnErrorCode::InvalidProducerIdMapping,
            format!("producer id {producer_id} is not the id's producer ({}); call InitProducerId", meta.producer_id),
        ));
    }
    if epoch != meta.epoch {
        return Err(txn_error(
            id,
            TxnErrorCode::ProducerFenced,
            format!("epoch {epoch} is fenced by epoch {}: another producer took over this transactional id", meta.epoch),
        ));
    }
    Ok(())
}

impl Log {
    fn txns(&self) -> &TxnCoordinator {
        self.txn_coordinator()
    }

    /// InitProducerId for a transactional producer: the id's producer id
    /// with its epoch bumped (a new producer id at epoch 0 the first time).
    /// A transaction the previous owner left open is aborted first, with
    /// markers at the new epoch, which fences that owner everywhere.
    ///
    /// `expected` is the `(producer id, epoch)` a producer re-initialising
    /// itself sends (KIP-360); `None` for a fresh producer.
    ///
    /// # Errors
    /// `Transaction` with `ProducerFenced` when `expected` is not the
    /// current owner; I/O errors.
    pub fn init_transactional_producer(
        &self,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16)> {
        let mut txns = self.txns().txns.lock();
        let meta = match txns.get(transactional_id).cloned() {
            None => {
                let (producer_id, epoch) = self.init_producer_id()?;
                TxnMeta {
                    producer_id,
                    epoch,
                    timeout_ms,
                    state: TxnState::Empty,
                    started_ms: 0,
                    partitions: BTreeSet::new(),
                    groups: BTreeSet::new(),
                    offsets: Vec::new(),
                }
            }
            Some(mut meta) => {
                if let Some((pid, epoch)) = expected {
                    if pid >= 0 && (pid != meta.producer_id || epoch != meta.epoch) {
                        return Err(txn_error(
                            transactional_id,
                            TxnErrorCode::ProducerFenced,
                            format!("producer {pid} epoch {epoch} is no longer the owner"),
                        ));
                    }
                }
                if meta.epoch >= i16::MAX - 1 {
                    // Epoch exhausted: a new producer id (the old one's
                    // open transaction is aborted with its own last epoch).
                    self.finish(transactional_id, &mut meta, false)?;
                    let (pid, epoch) = self.init_producer_id()?;
                    meta.producer_id = pid;
                    meta.epoch = epoch;
                } else {
                    meta.epoch += 1;
                    self.finish(transactional_id, &mut meta, false)?;
                }
                meta.timeout_ms = timeout_ms;
                meta
            }
        };
        self.txns().persist(transactional_id, &meta)?;
        let out = (meta.producer_id, meta.epoch);
        txns.insert(transactional_id.to_string(), meta);
        Ok(out)
    }

    /// Adds partitions to the producer's transaction, opening one if needed.
    ///
    /// # Errors
    /// `Transaction` errors for an unknown id or a fenced producer (the
    /// caller checks that the partitions exist); I/O errors.
    pub fn add_partitions_to_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<()> {
        self.update_txn(transactional_id, producer_id, epoch, |meta| {
            let before = meta.partitions.len();
            meta.partitions.extend(partitions);
            meta.partitions.len() != before
        })
    }

    /// Adds a consumer group to the producer's transaction (its offsets are
    /// then sent with [`txn_offset_commit`](Self::txn_offset_commit)).
    ///
    /// # Errors
    /// As [`add_partitions_to_txn`](Self::add_partitions_to_txn).
    pub fn add_offsets_to_txn(&self, transactional_id: &str, producer_id: i64, epoch: i16, group: &str) -> Result<()> {
        self.update_txn(transactional_id, producer_id, epoch, |meta| meta.groups.insert(group.to_string()))
    }

    /// Holds group offsets back until the transaction commits (an abort
    /// drops them). The group must have been added to the open transaction
    /// with [`add_offsets_to_txn`](Self::add_offsets_to_txn).
    ///
    /// # Errors
    /// `Transaction` with `InvalidTxnState` when no transaction is open or
    /// the group is not in it; otherwise as
    /// [`add_partitions_to_txn`](Self::add_partitions_to_txn).
    pub fn txn_offset_commit(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group: &str,
        offsets: Vec<(TopicPartition, OffsetAndMetadata)>,
    ) -> Result<()> {
        {
            let txns = self.txns().txns.lock();
            let meta = owned(&txns, transactional_id, producer_id, epoch)?;
            if meta.state != TxnState::Ongoing || !meta.groups.contains(group) {
                return Err(txn_error(
                    transactional_id,
                    TxnErrorCode::InvalidTxnState,
                    format!("group {group:?} was not added to the transaction; call AddOffsetsToTxn first"),
                ));
            }
        }
        self.update_txn(transactional_id, producer_id, epoch, |meta| {
            for (partition, offset) in offsets {
                meta.offsets.retain(|o| !(o.group == group && o.partition == partition));
                meta.offsets.push(PendingOffset { group: group.to_string(), partition, offset });
            }
            true
        })
    }

    /// Appends a transactional `batch` that a client produced to
    /// `partition`, after checking that its producer (`producer_id`,
    /// `epoch`) owns `transactional_id` and that the partition was added to
    /// the open transaction (KIP-890 part 1; see the module docs).
    ///
    /// # Errors
    /// `Transaction` with `InvalidTxnState` ("Partition was not added to the
    /// transaction") when no transaction is open or the partition is not in
    /// it; `InvalidProducerIdMapping` / `ProducerFenced` for a producer that
    /// does not own the id; the append's own errors.
    pub fn append_transactional(
        &self,
        transactional_id: &str,
        partition: &Partition,
        batch: &[u8],
        producer_id: i64,
        epoch: i16,
    ) -> Result<AppendInfo> {
        let txns = self.txns().txns.lock();
        let meta = owned(&txns, transactional_id, producer_id, epoch)?;
        let added = meta.state == TxnState::Ongoing
            && meta.partitions.iter().any(|tp| tp.partition == partition.index() && tp.topic == partition.topic());
        if !added {
            return Err(txn_error(
                transactional_id,
                TxnErrorCode::InvalidTxnState,
                format!(
                    "Partition was not added to the transaction: {}-{} (call AddPartitionsToTxn before producing)",
                    partition.topic(),
                    partition.index()
                ),
            ));
        }
        // Still under the lock: EndTxn cannot write its marker before this.
        partition.append_batch(batch)
    }

    fn update_txn(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        change: impl FnOnce(&mut TxnMeta) -> bool,
    ) -> Result<()> {
        let mut txns = self.txns().txns.lock();
        let meta = txns.get_mut(id).ok_or_else(|| unknown_id(id))?;
        check_owner(id, meta, producer_id, epoch)?;
        let mut updated = meta.clone();
        let opened = updated.state != TxnState::Ongoing;
        if opened {
            updated.state = TxnState::Ongoing;
            updated.started_ms = now_ms();
            updated.partitions.clear();
            updated.groups.clear();
            updated.offsets.clear();
        }
        if change(&mut updated) || opened {
            self.txns().persist(id, &updated)?;
        }
        *meta = updated;
        Ok(())
    }

    /// Commits or aborts the producer's transaction: a marker in every
    /// partition it wrote to, then (commit) its held group offsets.
    /// Repeating the request that completed the last transaction succeeds.
    ///
    /// # Errors
    /// `Transaction` with `InvalidTxnState` when no transaction is open
    /// (or the last one ended the other way), fencing errors, I/O errors.
    pub fn end_txn(&self, transactional_id: &str, producer_id: i64, epoch: i16, commit: bool) -> Result<()> {
        let mut txns = self.txns().txns.lock();
        let meta = txns.get_mut(transactional_id).ok_or_else(|| {
            txn_error(transactional_id, TxnErrorCode::InvalidProducerIdMapping, "unknown transactional id")
        })?;
        check_owner(transactional_id, meta, producer_id, epoch)?;
        match (meta.state, commit) {
            (TxnState::Ongoing, _) => {
                let mut m = meta.clone();
                self.finish(transactional_id, &mut m, commit)?;
                self.txns().persist(transactional_id, &m)?;
                *meta = m;
                Ok(())
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(()),
            (state, _) => Err(txn_error(
                transactional_id,
                TxnErrorCode::InvalidTxnState,
                format!("cannot {} in state {state:?}", if commit { "commit" } else { "abort" }),
            )),
        }
    }

    /// Ends `meta`'s open transaction (if any) with markers at `meta.epoch`;
    /// leaves it in a Complete state (or Empty/Complete as it was).
    fn finish(&self, id: &str, meta: &mut TxnMeta, commit: bool) -> Result<()> {
        if !matches!(meta.state, TxnState::Ongoing | TxnState::PrepareCommit | TxnState::PrepareAbort) {
            return Ok(());
        }
        // A transaction caught in Prepare keeps its decision.
        let commit = match meta.state {
            TxnState::PrepareCommit => true,
            TxnState::PrepareAbort => false,
            _ => commit,
        };
        meta.state = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
        self.txns().persist(id, meta)?;
        let kind = if commit { ControlType::Commit } else { ControlType::Abort };
        for tp in &meta.partitions {
            let written = self.partition(&tp.topic, tp.partition).and_then(|p| p.append_marker(meta.producer_id, meta.epoch, kind));
            match written {
                Ok(_) => {}
                // A deleted topic has nothing left to mark.
                Err(LogError::UnknownTopic { .. } | LogError::UnknownPartition { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if commit {
            let mut by_group: HashMap<&str, Vec<(TopicPartition, OffsetAndMetadata)>> = HashMap::new();
            for o in &meta.offsets {
                by_group.entry(&o.group).or_default().push((o.partition.clone(), o.offset.clone()));
            }
            for (group, offsets) in by_group {
                self.groups().commit_transactional_offsets(group, offsets)?;
            }
        }
        meta.state = if commit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
        meta.partitions.clear();
        meta.groups.clear();
        meta.offsets.clear();
        Ok(())
    }

    /// Completes transactions left in Prepare by a crash (called on open).
    pub(crate) fn recover_transactions(&self) -> Result<()> {
        let mut txns = self.txns().txns.lock();
        let ids: Vec<String> = txns
            .iter()
            .filter(|(_, m)| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(meta) = txns.get_mut(&id) {
                let mut m = meta.clone();
                self.finish(&id, &mut m, false)?;
                self.txns().persist(&id, &m)?;
                *meta = m;
            }
        }
        Ok(())
    }

    /// Aborts every Ongoing transaction older than its timeout, bumping its
    /// epoch so the producer that left it is fenced. Returns how many.
    pub fn abort_expired_transactions(&self, now_ms: i64) -> usize {
        let mut txns = self.txns().txns.lock();
        let mut aborted = 0;
        for (id, meta) in txns.iter_mut() {
            let expired = meta.state == TxnState::Ongoing
                && now_ms.saturating_sub(meta.started_ms) > i64::from(meta.timeout_ms.max(0));
            if !expired || meta.epoch >= i16::MAX - 1 {
                continue;
            }
            let mut m = meta.clone();
            m.epoch += 1;
            let done = self.finish(id, &mut m, false).and_then(|()| self.txns().persist(id, &m));
            match done {
                Ok(()) => {
                    tracing::info!(transactional_id = %id, epoch = m.epoch, "transaction timed out and was aborted");
                    *meta = m;
                    aborted += 1;
                }
                Err(e) => tracing::error!(transactional_id = %id, error = %e, "cannot abort a timed-out transaction"),
            }
        }
        aborted
    }

    /// The state of a transactional id's current transaction, with its
    /// producer id and epoch.
    pub fn transaction_state(&self, transactional_id: &str) -> Option<(TxnState, i64, i16)> {
        self.txns().txns.lock().get(transactional_id).map(|m| (m.state, m.producer_id, m.epoch))
    }
}

// ---- the persisted form ----------------------------------------------------
//
// version: u8 = 0, producer_id: i64, epoch: i16, timeout_ms: i32, state: u8,
// started_ms: i64, partitions: u32 × (topic: str, partition: i32),
// groups: u32 × str, offsets: u32 × (group: str, topic: str, partition: i32,
// offset: i64, leader_epoch: i32 (-1 = none), metadata: str, ts: i64);
// str = u16 length + UTF-8. All big-endian.

fn put_str(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

fn encode_meta(m: &TxnMeta) -> Bytes {
    let mut out = vec![0u8];
    out.extend_from_slice(&m.producer_id.to_be_bytes());
    out.extend_from_slice(&m.epoch.to_be_bytes());
    out.extend_from_slice(&m.timeout_ms.to_be_bytes());
    out.push(m.state.code());
    out.extend_from_slice(&m.started_ms.to_be_bytes());
    out.extend_from_slice(&(m.partitions.len() as u32).to_be_bytes());
    for tp in &m.partitions {
        put_str(&mut out, &tp.topic);
        out.extend_from_slice(&tp.partition.to_be_bytes());
    }
    out.extend_from_slice(&(m.groups.len() as u32).to_be_bytes());
    for g in &m.groups {
        put_str(&mut out, g);
    }
    out.extend_from_slice(&(m.offsets.len() as u32).to_be_bytes());
    for o in &m.offsets {
        put_str(&mut out, &o.group);
        put_str(&mut out, &o.partition.topic);
        out.extend_from_slice(&o.partition.partition.to_be_bytes());
        out.extend_from_slice(&o.offset.offset.to_be_bytes());
        out.extend_from_slice(&o.offset.leader_epoch.unwrap_or(-1).to_be_bytes());
        put_str(&mut out, &o.offset.metadata);
        out.extend_from_slice(&o.offset.commit_timestamp_ms.to_be_bytes());
    }
    Bytes::from(out)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn str(&mut self) -> Option<String> {
        let n = u16::from_be_bytes(self.take()?) as usize;
        let s = self.0.get(..n)?;
        self.0 = &self.0[n..];
        String::from_utf8(s.to_vec()).ok()
    }
}

fn decode_meta(buf: &[u8]) -> Option<TxnMeta> {
    let mut r = Reader(buf);
    if r.take::<1>()? != [0] {
        return None;
    }
    let producer_id = i64::from_be_bytes(r.take()?);
    let epoch = i16::from_be_bytes(r.take()?);
    let timeout_ms = i32::from_be_bytes(r.take()?);
    let state = TxnState::from_code(r.take::<1>()?[0])?;
    let started_ms = i64::from_be_bytes(r.take()?);
    let mut partitions = BTreeSet::new();
    for _ in 0..u32::from_be_bytes(r.take()?) {
        let topic = r.str()?;
        partitions.insert(TopicPartition::new(topic, i32::from_be_bytes(r.take()?)));
    }
    let mut groups = BTreeSet::new();
    for _ in 0..u32::from_be_bytes(r.take()?) {
        groups.insert(r.str()?);
    }
    let mut offsets = Vec::new();
    for _ in 0..u32::from_be_bytes(r.take()?) {
        let group = r.str()?;
        let topic = r.str()?;
        let partition = TopicPartition::new(topic, i32::from_be_bytes(r.take()?));
        let mut offset = OffsetAndMetadata::new(i64::from_be_bytes(r.take()?), 0);
        let leader_epoch = i32::from_be_bytes(r.take()?);
        offset.leader_epoch = (leader_epoch >= 0).then_some(leader_epoch);
        offset.metadata = r.str()?;
        offset.commit_timestamp_ms = i64::from_be_bytes(r.take()?);
        offsets.push(PendingOffset { group, partition, offset });
    }
    Some(TxnMeta { producer_id, epoch, timeout_ms, state, started_ms, partitions, groups, offsets })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn state_round_trips_and_garbage_is_refused() {
        let mut offset = OffsetAndMetadata::new(42, 7);
        offset.metadata = "m".into();
        offset.leader_epoch = Some(3);
        let meta = TxnMeta {
            producer_id: 9,
            epoch: 4,
            timeout_ms: 60_000,
            state: TxnState::PrepareCommit,
            started_ms: 123,
            partitions: [TopicPartition::new("a", 0), TopicPartition::new("b", 2)].into_iter().collect(),
            groups: ["g".to_string()].into_iter().collect(),
            offsets: vec![PendingOffset { group: "g".into(), partition: TopicPartition::new("a", 0), offset }],
        };
        let bytes = encode_meta(&meta);
        assert_eq!(decode_meta(&bytes), Some(meta));
        for cut in 0..bytes.len() {
            assert_eq!(decode_meta(&bytes[..cut]), None);
        }
        assert_eq!(decode_meta(&[1]), None);
    }
}
