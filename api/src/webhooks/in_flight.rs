//! How many deliveries of each webhook this instance holds: claimed, and not yet recorded or
//! handed back. The claimer asks for at most the per-webhook cap minus that, so one department's
//! server never has more than the cap of this instance's requests at once, however high the
//! total concurrency is set.
//!
//! The count is tied to the life of a [`Slot`] that travels with the claimed delivery (into the
//! send queue, the send, the outcome waiting for the recorder) and gives its place back when it
//! is dropped. No path has to remember to give it back: an outcome recorded, a recorder that gave
//! up, a claim handed back (stale or stopping), a claim dropped because its owner no longer
//! reaches the row, an error halfway through a claim, a worker aborted at shutdown. A count that
//! leaked would keep its webhook at the cap, and this instance would never claim it again.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::Notify;

/// The per-webhook counts of one delivery worker. Only its claimer takes slots, so the room it
/// reads before a claim can only have grown by the time the claim returns.
#[derive(Debug)]
pub struct InFlight {
    cap: usize,
    counts: Mutex<HashMap<i64, usize>>,
    /// Rung when a slot is given back: a webhook at its cap may be claimed again.
    pub freed: Notify,
}

/// What the next claim may take: up to `cap` of any webhook, except those in `busy`, which have
/// some in flight and room for only this many more (0 when full).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rooms {
    pub cap: usize,
    pub busy: Vec<(i64, usize)>,
}

/// One claimed delivery's place in its webhook's count.
#[derive(Debug)]
pub struct Slot {
    of: Arc<InFlight>,
    webhook: i64,
}

impl InFlight {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            counts: Mutex::new(HashMap::new()),
            freed: Notify::new(),
        })
    }

    /// A poisoned lock only means a panic elsewhere while counting; the counts are still whole
    /// numbers, and refusing to claim for the rest of the process would be worse.
    fn counts(&self) -> MutexGuard<'_, HashMap<i64, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn rooms(&self) -> Rooms {
        let mut busy: Vec<(i64, usize)> = self
            .counts()
            .iter()
            .map(|(&hook, &n)| (hook, self.cap.saturating_sub(n)))
            .collect();
        busy.sort_unstable();
        Rooms {
            cap: self.cap,
            busy,
        }
    }

    /// Counts one claimed delivery of `webhook` until the slot is dropped.
    pub fn take(self: &Arc<Self>, webhook: i64) -> Slot {
        *self.counts().entry(webhook).or_default() += 1;
        Slot {
            of: self.clone(),
            webhook,
        }
    }

    /// Deliveries held, over every webhook.
    pub fn total(&self) -> usize {
        self.counts().values().sum()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        {
            let mut counts = self.of.counts();
            if let Some(n) = counts.get_mut(&self.webhook) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&self.webhook);
                }
            }
        }
        self.of.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_holds_its_place_until_dropped_and_full_webhooks_have_no_room() {
        let f = InFlight::new(2);
        assert_eq!(
            f.rooms(),
            Rooms {
                cap: 2,
                busy: vec![]
            }
        );
        let a1 = f.take(7);
        let a2 = f.take(7);
        let b = f.take(9);
        assert_eq!(f.rooms().busy, vec![(7, 0), (9, 1)]);
        assert_eq!(f.total(), 3);
        drop(a1);
        assert_eq!(f.rooms().busy, vec![(7, 1), (9, 1)]);
        drop((a2, b));
        assert_eq!(f.rooms().busy, vec![]);
        assert_eq!(f.total(), 0);
    }

    #[test]
    fn slots_dropped_with_a_batch_give_every_place_back() {
        let f = InFlight::new(8);
        let batch: Vec<Slot> = (0..20).map(|n| f.take(n % 3)).collect();
        assert_eq!(f.total(), 20);
        drop(batch);
        assert_eq!(f.total(), 0);
        assert!(f.rooms().busy.is_empty());
    }

    #[tokio::test]
    async fn giving_a_slot_back_wakes_the_claimer() {
        let f = InFlight::new(1);
        let s = f.take(1);
        let waiter = {
            let f = f.clone();
            tokio::spawn(async move { f.freed.notified().await })
        };
        tokio::task::yield_now().await;
        drop(s);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
    }
}
