//! Consumer groups: Kafka's classic group protocol as a deterministic,
//! in-process coordinator.
//!
//! What it is:
//! - [`GroupCoordinator`]: JoinGroup / SyncGroup / Heartbeat / LeaveGroup,
//!   offset commits and fetches, group listing, description and deletion —
//!   the broker side of Kafka's classic consumer-group protocol. All time is
//!   passed in (`now`), so tests are deterministic; Riffle calls
//!   [`GroupCoordinator::tick`] every ~50 ms.
//! - [`protocol`]: the consumer protocol payloads (subscriptions and
//!   assignments) that travel as opaque bytes through JoinGroup and SyncGroup,
//!   byte-compatible with Kafka clients.
//! - [`PartitionAssignor`]s run by the group leader: [`RangeAssignor`] and
//!   [`CooperativeStickyAssignor`].
//! - [`offsets`]: committed offsets and their `__consumer_offsets` records,
//!   made durable through an [`OffsetStorage`] before they are visible.
//!
//! What it is not: the wire listener (that decodes Kafka requests and calls
//! the coordinator), the consumer client, or KIP-848's new protocol. Group
//! membership itself is not persisted: after a restart members rejoin, only
//! offsets are restored.
//!
//! # Group states
//!
//! ```text
//!                   join
//!   +-------+ ------------------> +--------------------+
//!   | Empty |                     | PreparingRebalance | <-----------------+
//!   +-------+ <------------------ +--------------------+                   |
//!              all members gone      |           ^                         |
//!                                    |           | join, leave, session    | join, leave,
//!          all members rejoined, or  |           | expiry, sync timeout    | session expiry
//!          the rebalance timeout     v           |                         |
//!                               +---------------------+  leader's     +--------+
//!                               | CompletingRebalance | ------------> | Stable |
//!                               +---------------------+  SyncGroup    +--------+
//!
//!   any state --- delete_group, or cleanup of an Empty group without offsets ---> Dead
//! ```
//!
//! # Examples
//!
//! Two consumers share a topic with the range assignor:
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use riffle_log::group::*;
//!
//! struct Discard;
//! impl OffsetStorage for Discard {
//!     fn append(&self, _: Vec<(Bytes, Option<Bytes>)>) -> riffle_log::Result<()> { Ok(()) }
//! }
//! let config = CoordinatorConfig { initial_rebalance_delay: Duration::ZERO, ..Default::default() };
//! let coordinator = GroupCoordinator::new(config, Arc::new(Discard));
//! let now = Instant::now();
//! let subscription = ConsumerSubscription::new(vec!["clicks".into()]).encode(3)?;
//! let join = |member_id: &str| coordinator.join_group(JoinGroupRequest {
//!     group_id: "g".into(), member_id: member_id.into(), group_instance_id: None,
//!     client_id: "app".into(), session_timeout: Duration::from_secs(10),
//!     rebalance_timeout: Duration::from_secs(30), protocol_type: CONSUMER_PROTOCOL_TYPE.into(),
//!     protocols: vec![("range".into(), subscription.clone())],
//! }, now);
//!
//! // The first member forms generation 1 alone, then a second one arrives.
//! let a = join("").try_recv().expect("joined")?;
//! let mut b = join("");
//! assert!(coordinator.heartbeat("g", &a.member_id, a.generation_id, now).is_err()); // rejoin!
//! let a = join(&a.member_id).try_recv().expect("joined")?;
//! let b = b.try_recv().expect("joined")?;
//!
//! // The leader runs the assignor and sends everyone's assignment.
//! let leader = if a.leader == a.member_id { &a } else { &b };
//! let mut subs = BTreeMap::new();
//! for (id, _, meta) in &leader.members {
//!     subs.insert(id.clone(), ConsumerSubscription::decode(meta)?);
//! }
//! let topics = BTreeMap::from([("clicks".to_string(), 4)]);
//! let mut assignments = Vec::new();
//! for (id, parts) in RangeAssignor.assign(&topics, &subs) {
//!     assignments.push((id, ConsumerAssignment::new(parts).encode(3)?));
//! }
//! let follower = if leader.member_id == a.member_id { &b } else { &a };
//! let mut follower_rx = coordinator.sync_group("g", &follower.member_id, 2, vec![], now);
//! coordinator.sync_group("g", &leader.member_id, 2, assignments, now);
//! let mine = ConsumerAssignment::decode(&follower_rx.try_recv().expect("synced")?)?;
//! assert_eq!(mine.partitions.len(), 2);
//! # Ok::<(), riffle_log::LogError>(())
//! ```

mod assignor;
mod codec;
mod coordinator;
pub mod offsets;
pub mod protocol;
mod state;

pub use assignor::{CooperativeStickyAssignor, PartitionAssignor, RangeAssignor};
pub use coordinator::{
    CoordinatorConfig, GroupCoordinator, GroupDescription, JoinGroupRequest, JoinGroupResponse, MemberDescription,
};
pub use offsets::{OffsetAndMetadata, OffsetStorage};
pub use protocol::{ConsumerAssignment, ConsumerSubscription, CONSUMER_PROTOCOL_TYPE};
pub use state::GroupState;
