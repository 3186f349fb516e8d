//! The session store facade: keys are `(record key, end, start)`, stored in
//! time segments by session end.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use crate::encoding::{parse_session_key, session_key};
use crate::error::{Result, StateError};
use crate::segmented::SegmentedMap;
use crate::store::{impl_state_store, Core, ReadOnlySessionStore, SessionEntry, SessionStore, SessionWindow};

/// A session store over a map stack whose bottom is a segmented map.
#[derive(Debug)]
pub struct SessionStoreImpl {
    pub(crate) core: Core,
    pub(crate) segments: Arc<SegmentedMap>,
}

impl_state_store!(SessionStoreImpl);

impl SessionStoreImpl {
    fn decode(&self, k: &Bytes, v: Bytes) -> Result<SessionEntry> {
        let (key, start, end) = parse_session_key(k).ok_or_else(|| StateError::Corrupt {
            path: self.core.name.clone().into(),
            reason: "a session key does not decode".into(),
        })?;
        Ok(SessionEntry { key: Bytes::from(key), window: SessionWindow { start, end }, value: v })
    }

    /// Ids of the time segments currently kept.
    pub fn segment_ids(&self) -> Vec<i64> {
        self.segments.segment_ids()
    }
}

impl ReadOnlySessionStore for SessionStoreImpl {
    fn find_sessions(&self, key: &[u8], earliest_end: i64, latest_start: i64) -> Result<Vec<SessionEntry>> {
        let lo = session_key(key, i64::MIN, earliest_end);
        let hi = session_key(key, i64::MAX, i64::MAX);
        let mut out = Vec::new();
        for (k, v) in self.core.map()?.range(Bound::Included(&lo), Bound::Included(&hi), false)? {
            let e = self.decode(&k, v)?;
            if e.window.start <= latest_start && self.segments.is_live(e.window.end) {
                out.push(e);
            }
        }
        out.sort_by_key(|e| (e.window.start, e.window.end));
        Ok(out)
    }

    fn fetch_session(&self, key: &[u8], window: SessionWindow) -> Result<Option<Bytes>> {
        if !self.segments.is_live(window.end) {
            return Ok(None);
        }
        self.core.map()?.get(&session_key(key, window.start, window.end))
    }

    fn fetch(&self, key: &[u8]) -> Result<Vec<SessionEntry>> {
        self.find_sessions(key, i64::MIN, i64::MAX)
    }
}

impl SessionStore for SessionStoreImpl {
    fn put(&self, key: &[u8], window: SessionWindow, value: &[u8]) -> Result<()> {
        if window.end < window.start {
            return Err(StateError::InvalidStore {
                store: self.core.name.clone(),
                reason: format!("session end {} is before its start {}", window.end, window.start),
            });
        }
        let map = self.core.map()?;
        if !self.segments.admit(window.end) {
            return Ok(());
        }
        let k = Bytes::from(session_key(key, window.start, window.end));
        map.write(&[(k, Some(Bytes::copy_from_slice(value)))])
    }

    fn remove(&self, key: &[u8], window: SessionWindow) -> Result<()> {
        let k = Bytes::from(session_key(key, window.start, window.end));
        self.core.map()?.write(&[(k, None)])
    }
}
