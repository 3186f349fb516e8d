//! Client-side partition assignors.
//!
//! In Kafka's classic protocol the coordinator does not assign partitions:
//! the group *leader* runs an assignor over every member's
//! [`ConsumerSubscription`] and sends the result in its SyncGroup. The
//! assignor's [`name`](PartitionAssignor::name) is the protocol name members
//! vote with in JoinGroup.
//!
//! - [`RangeAssignor`] (`"range"`): per topic, contiguous ranges of partitions.
//! - [`CooperativeStickyAssignor`] (`"cooperative-sticky"`): balanced, keeps
//!   members' current partitions where balance allows, and never hands a
//!   partition to a new owner in the same round its old owner still holds it
//!   (Kafka's incremental cooperative rebalancing).

use std::collections::{BTreeMap, BTreeSet};

use super::protocol::ConsumerSubscription;
use crate::topic::TopicPartition;

/// Computes an assignment for a group from its members' subscriptions.
///
/// # Contract
/// - Every member of `members` appears in the output, possibly with an empty
///   list; no other key does.
/// - A member only gets partitions of topics it subscribes to that appear in
///   `partitions_per_topic` (topics missing there are not assigned).
/// - No partition is given to two members.
/// - The result is deterministic for a given input.
pub trait PartitionAssignor: Send + Sync {
    /// The protocol name, e.g. `"range"`.
    fn name(&self) -> &'static str;

    /// Assigns partitions; `partitions_per_topic` maps a topic to its
    /// partition count, `members` maps a member id to its subscription.
    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &BTreeMap<String, ConsumerSubscription>,
    ) -> BTreeMap<String, Vec<TopicPartition>>;
}

/// Kafka's `range` assignor: for each topic, the members subscribed to it,
/// sorted by member id, get contiguous ranges of its partitions; the first
/// `partitions % members` of them get one extra.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl PartitionAssignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &BTreeMap<String, ConsumerSubscription>,
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        let mut out: BTreeMap<String, Vec<TopicPartition>> =
            members.keys().map(|m| (m.clone(), Vec::new())).collect();
        for (topic, &count) in partitions_per_topic {
            // `members` is a BTreeMap, so this is already sorted by member id.
            let subscribed: Vec<&String> = members
                .iter()
                .filter(|(_, s)| s.topics.iter().any(|t| t == topic))
                .map(|(m, _)| m)
                .collect();
            if subscribed.is_empty() || count <= 0 {
                continue;
            }
            let m = subscribed.len() as i32;
            let (per, extra) = (count / m, count % m);
            let mut next = 0;
            for (i, member) in subscribed.into_iter().enumerate() {
                let n = per + i32::from((i as i32) < extra);
                if let Some(list) = out.get_mut(member) {
                    list.extend((next..next + n).map(|p| TopicPartition::new(topic.clone(), p)));
                }
                next += n;
            }
        }
        out
    }
}

/// Kafka's `cooperative-sticky` assignor.
///
/// 1. **Ownership.** Each partition's current owner is the member claiming it
///    in `owned_partitions` with the highest `generation_id`; when two members
///    claim it in that same generation, it has no single owner and is held
///    back from everyone this round (both will revoke it).
/// 2. **Stickiness.** Members keep the partitions they own (if still
///    subscribed); unowned partitions go, one by one, to the eligible member
///    with the fewest partitions.
/// 3. **Balance.** While some member has at least two more partitions than an
///    eligible other, one moves (preferring partitions the member did not own).
///    With identical subscriptions counts end within one of each other.
/// 4. **Cooperation.** A partition whose owner is a current member but which
///    ends with someone else is left out of this round entirely: the owner
///    sees it missing, revokes it and rejoins, and the next round hands it to
///    its new owner.
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

impl PartitionAssignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        "cooperative-sticky"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &BTreeMap<String, ConsumerSubscription>,
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        let subs: BTreeMap<&str, BTreeSet<&str>> = members
            .iter()
            .map(|(m, s)| (m.as_str(), s.topics.iter().map(String::as_str).collect()))
            .collect();
        let eligible = |m: &str, tp: &TopicPartition| subs.get(m).is_some_and(|s| s.contains(tp.topic.as_str()));

        // Every partition of a topic somebody subscribes to.
        let all: BTreeSet<TopicPartition> = partitions_per_topic
            .iter()
            .filter(|(t, _)| subs.values().any(|s| s.contains(t.as_str())))
            .flat_map(|(t, &n)| (0..n.max(0)).map(move |p| TopicPartition::new(t.clone(), p)))
            .collect();

        let (owner, contested) = resolve_owners(members, &all);

        // Sticky start: members keep what they own and may still consume.
        let mut current: BTreeMap<&str, BTreeSet<TopicPartition>> =
            members.keys().map(|m| (m.as_str(), BTreeSet::new())).collect();
        let mut unassigned = Vec::new();
        for tp in &all {
            if contested.contains(tp) {
                continue;
            }
            match owner.get(tp) {
                Some(&m) if eligible(m, tp) => {
                    if let Some(set) = current.get_mut(m) {
                        set.insert(tp.clone());
                    }
                }
                _ => unassigned.push(tp.clone()),
            }
        }

        // Unowned partitions: most constrained first, each to the least loaded.
        let eligible_count = |tp: &TopicPartition| subs.keys().filter(|m| eligible(m, tp)).count();
        unassigned.sort_by_cached_key(|tp| (eligible_count(tp), tp.clone()));
        for tp in unassigned {
            let target = current
                .iter()
                .filter(|(m, _)| eligible(m, &tp))
                .min_by_key(|(m, set)| (set.len(), **m))
                .map(|(m, _)| *m);
            if let Some(m) = target {
                if let Some(set) = current.get_mut(m) {
                    set.insert(tp);
                }
            }
        }

        // Balance: move from the most loaded to a less loaded eligible member.
        // Each move strictly lowers the sum of squared counts, so this ends.
        loop {
            let mut order: Vec<(&str, usize)> = current.iter().map(|(m, s)| (*m, s.len())).collect();
            order.sort_by_key(|&(m, n)| (std::cmp::Reverse(n), m));
            let mv = order.iter().find_map(|&(src, n_src)| {
                order.iter().rev().take_while(|&&(_, n_dst)| n_dst + 1 < n_src).find_map(|&(dst, _)| {
                    let set = current.get(src)?;
                    let movable = |tp: &&TopicPartition| eligible(dst, tp);
                    // Prefer a partition `src` did not own: moving it costs nothing.
                    let pick = set
                        .iter()
                        .rev()
                        .filter(movable)
                        .find(|tp| owner.get(*tp) != Some(&src))
                        .or_else(|| set.iter().rev().find(movable))?;
                    Some((src, dst, pick.clone()))
                })
            });
            let Some((src, dst, tp)) = mv else { break };
            if let Some(set) = current.get_mut(src) {
                set.remove(&tp);
            }
            if let Some(set) = current.get_mut(dst) {
                set.insert(tp);
            }
        }

        // Cooperation: hold back partitions still owned by another member.
        current
            .into_iter()
            .map(|(m, set)| {
                let kept = set.into_iter().filter(|tp| !matches!(owner.get(tp), Some(&o) if o != m)).collect();
                (m.to_string(), kept)
            })
            .collect()
    }
}

/// The owner of each partition (highest-generation claim among current
/// members, whether or not it is still subscribed), and the partitions whose
/// highest-generation claim is shared by several members.
fn resolve_owners<'a>(
    members: &'a BTreeMap<String, ConsumerSubscription>,
    all: &BTreeSet<TopicPartition>,
) -> (BTreeMap<TopicPartition, &'a str>, BTreeSet<TopicPartition>) {
    let mut best: BTreeMap<&TopicPartition, (i32, Vec<&'a str>)> = BTreeMap::new();
    for (m, sub) in members {
        for tp in sub.owned_partitions.iter().filter(|tp| all.contains(*tp)) {
            let entry = best.entry(tp).or_insert((sub.generation_id, Vec::new()));
            if sub.generation_id > entry.0 {
                *entry = (sub.generation_id, vec![m.as_str()]);
            } else if sub.generation_id == entry.0 && !entry.1.contains(&m.as_str()) {
                entry.1.push(m.as_str());
            }
        }
    }
    let mut owner = BTreeMap::new();
    let mut contested = BTreeSet::new();
    for (tp, (_, claimants)) in best {
        match claimants.as_slice() {
            [only] => {
                owner.insert(tp.clone(), *only);
            }
            _ => {
                contested.insert(tp.clone());
            }
        }
    }
    (owner, contested)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn topics(counts: &[i32]) -> BTreeMap<String, i32> {
        counts.iter().enumerate().map(|(i, &n)| (format!("t{i}"), n)).collect()
    }

    fn members(n: usize, topics: &BTreeMap<String, i32>) -> BTreeMap<String, ConsumerSubscription> {
        (0..n)
            .map(|i| (format!("m{i:02}"), ConsumerSubscription::new(topics.keys().cloned().collect())))
            .collect()
    }

    fn all_partitions(topics: &BTreeMap<String, i32>) -> BTreeSet<TopicPartition> {
        topics.iter().flat_map(|(t, &n)| (0..n).map(move |p| TopicPartition::new(t.clone(), p))).collect()
    }

    /// Every partition exactly once, every member present.
    fn check_exactly_once(
        out: &BTreeMap<String, Vec<TopicPartition>>,
        topics: &BTreeMap<String, i32>,
        members: &BTreeMap<String, ConsumerSubscription>,
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(out.keys().collect::<Vec<_>>(), members.keys().collect::<Vec<_>>());
        let mut seen = BTreeSet::new();
        for tp in out.values().flatten() {
            prop_assert!(seen.insert(tp.clone()), "{} assigned twice", tp);
        }
        prop_assert_eq!(seen, all_partitions(topics));
        Ok(())
    }

    fn check_balanced(out: &BTreeMap<String, Vec<TopicPartition>>) -> Result<(), TestCaseError> {
        let counts: Vec<usize> = out.values().map(Vec::len).collect();
        if let (Some(min), Some(max)) = (counts.iter().min(), counts.iter().max()) {
            prop_assert!(max - min <= 1, "unbalanced: {:?}", counts);
        }
        Ok(())
    }

    #[test]
    fn range_matches_kafka_example() {
        // Kafka's javadoc example: two members, two topics of three partitions.
        let t = topics(&[3, 3]);
        let out = RangeAssignor.assign(&t, &members(2, &t));
        let names = |m: &str| out[m].iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(names("m00"), ["t0-0", "t0-1", "t1-0", "t1-1"]);
        assert_eq!(names("m01"), ["t0-2", "t1-2"]);
    }

    #[test]
    fn range_only_assigns_subscribed_topics() {
        let t = topics(&[2, 2]);
        let mut m = members(2, &t);
        if let Some(s) = m.get_mut("m01") {
            s.topics = vec!["t1".into()];
        }
        let out = RangeAssignor.assign(&t, &m);
        assert_eq!(out["m00"].len(), 3);
        assert_eq!(out["m01"], vec![TopicPartition::new("t1", 1)]);
    }

    #[test]
    fn sticky_keeps_owned_and_withholds_moving_partitions() {
        let t = topics(&[4]);
        let mut m = members(2, &t);
        // m00 owns everything; m01 is new.
        if let Some(s) = m.get_mut("m00") {
            s.owned_partitions = all_partitions(&t).into_iter().collect();
            s.generation_id = 3;
        }
        let out = CooperativeStickyAssignor.assign(&t, &m);
        assert_eq!(out["m00"].len(), 2, "m00 keeps two");
        assert!(out["m01"].is_empty(), "the two moving partitions are held back: {out:?}");
        // Round two: m00 reports what it kept.
        if let Some(s) = m.get_mut("m00") {
            s.owned_partitions = out["m00"].clone();
            s.generation_id = 4;
        }
        let out2 = CooperativeStickyAssignor.assign(&t, &m);
        assert_eq!(out2["m00"], out["m00"]);
        assert_eq!(out2["m01"].len(), 2);
    }

    #[test]
    fn sticky_highest_generation_claim_wins_and_ties_are_held_back() {
        let t = topics(&[2]);
        let mut m = members(3, &t);
        let p0 = TopicPartition::new("t0", 0);
        let p1 = TopicPartition::new("t0", 1);
        for (id, gen, owned) in
            [("m00", 5, vec![p0.clone(), p1.clone()]), ("m01", 4, vec![p0.clone()]), ("m02", 5, vec![p1.clone()])]
        {
            if let Some(s) = m.get_mut(id) {
                s.generation_id = gen;
                s.owned_partitions = owned;
            }
        }
        let out = CooperativeStickyAssignor.assign(&t, &m);
        assert_eq!(out["m00"], vec![p0], "stale m01 claim loses to generation 5");
        assert!(out.values().flatten().all(|tp| *tp != p1), "p1 is contested: {out:?}");
    }

    proptest! {
        #[test]
        fn range_and_sticky_cover_and_balance(
            counts in prop::collection::vec(0..12i32, 1..4),
            n_members in 1..7usize,
        ) {
            let t = topics(&counts);
            let m = members(n_members, &t);
            let sticky = CooperativeStickyAssignor.assign(&t, &m);
            check_exactly_once(&sticky, &t, &m)?;
            check_balanced(&sticky)?;
            let range = RangeAssignor.assign(&t, &m);
            check_exactly_once(&range, &t, &m)?;
            if counts.len() == 1 {
                check_balanced(&range)?; // range balances per topic only
            }
        }

        #[test]
        fn cooperative_sticky_two_rounds(
            counts in prop::collection::vec(1..10i32, 1..4),
            n_members in 1..6usize,
            prior in prop::collection::vec((0..8usize, 0..3i32), 0..40),
            departed in 0..3usize,
        ) {
            let t = topics(&counts);
            let all: Vec<TopicPartition> = all_partitions(&t).into_iter().collect();
            let mut m = members(n_members + departed, &t);
            // Random prior claims (possibly conflicting, possibly by members that then leave).
            for (i, (who, gen)) in prior.iter().enumerate() {
                let id = format!("m{:02}", who % (n_members + departed));
                if let Some(s) = m.get_mut(&id) {
                    s.owned_partitions.push(all[i % all.len()].clone());
                    s.generation_id = *gen;
                }
            }
            for i in n_members..n_members + departed {
                m.remove(&format!("m{i:02}"));
            }
            let all_set: BTreeSet<TopicPartition> = all.iter().cloned().collect();
            let (owner, contested) = resolve_owners(&m, &all_set);

            let out = CooperativeStickyAssignor.assign(&t, &m);
            prop_assert_eq!(out.keys().collect::<Vec<_>>(), m.keys().collect::<Vec<_>>());
            let mut seen = BTreeSet::new();
            for (member, parts) in &out {
                for tp in parts {
                    prop_assert!(seen.insert(tp.clone()), "{} assigned twice", tp);
                    prop_assert!(!contested.contains(tp));
                    if let Some(o) = owner.get(tp) {
                        prop_assert_eq!(*o, member.as_str(), "{} still owned by {}", tp, o);
                    }
                }
            }

            // Round two: everyone revoked what it lost and reports round one.
            let mut m2 = m.clone();
            for (id, s) in m2.iter_mut() {
                s.owned_partitions = out[id].clone();
                s.generation_id = 10;
            }
            let out2 = CooperativeStickyAssignor.assign(&t, &m2);
            check_exactly_once(&out2, &t, &m2)?;
            check_balanced(&out2)?;
            for (id, parts) in &out {
                for tp in parts {
                    prop_assert!(out2[id].contains(tp), "round two took {} from {}", tp, id);
                }
            }
        }
    }
}
