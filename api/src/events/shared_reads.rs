//! One database read per event for all the subscribers that would read the same thing.
//!
//! Every subscriber re-reads a changed row through its own row scope, so nobody is sent a row
//! outside its reach. Subscribers with the same reach and filter run the same statement, though:
//! a thousand dashboards watching one state would read each changed row a thousand times. So a
//! subscriber names its statement once, when it subscribes; the first one to ask for an event's
//! row under that name starts the read, and the others await its result.

use std::{
    any::{Any, TypeId},
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, Weak},
};

use futures_util::future::{BoxFuture, FutureExt, Shared};

use crate::error::{ApiError, ApiResult};

/// How many finished reads are kept for subscribers that ask late. A subscriber more than
/// [`super::BUFFER`] events behind is disconnected, so this is several times what any
/// live subscriber needs.
const KEPT: usize = 8 * super::BUFFER;

type Row = Option<Arc<dyn Any + Send + Sync>>;
type Read = Shared<BoxFuture<'static, ApiResult<Row>>>;

/// A subscriber's statement, interned: equal statements (for the same row type) get the same
/// name while anyone holds it, and a name is never reused for another statement.
#[derive(Debug)]
pub struct Name {
    id: u64,
}

#[derive(Default)]
pub struct SharedReads {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    names: HashMap<(TypeId, String), Weak<Name>>,
    /// Live entries after the last sweep of dropped names; the map is swept when it doubles.
    swept_len: usize,
    next_name: u64,
    reads: HashMap<(u64, u64), Read>,
    order: VecDeque<(u64, u64)>,
    started: u64,
}

impl SharedReads {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only a cache behind; keep using it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The name of `statement`, a complete description of a read of `T` rows (SQL and values).
    pub fn name<T: 'static>(&self, statement: String) -> Arc<Name> {
        let mut inner = self.lock();
        let key = (TypeId::of::<T>(), statement);
        if let Some(name) = inner.names.get(&key).and_then(Weak::upgrade) {
            return name;
        }
        let name = Arc::new(Name {
            id: inner.next_name,
        });
        inner.next_name += 1;
        inner.names.insert(key, Arc::downgrade(&name));
        if inner.names.len() > 2 * inner.swept_len.max(64) {
            inner.names.retain(|_, n| n.strong_count() > 0);
            inner.swept_len = inner.names.len();
        }
        name
    }

    /// The row delivery `seq` names, read by `load` unless a subscriber with the same `name`
    /// has read (or is reading) it already. A failed read is not kept, so the next subscriber
    /// tries again.
    pub async fn read<T>(
        &self,
        seq: u64,
        name: &Name,
        load: impl FnOnce() -> BoxFuture<'static, ApiResult<Option<T>>>,
    ) -> ApiResult<Option<T>>
    where
        T: Clone + Send + Sync + 'static,
    {
        let key = (seq, name.id);
        let read = {
            let mut inner = self.lock();
            match inner.reads.get(&key) {
                Some(read) => read.clone(),
                None => {
                    let read = load()
                        .map(|r| {
                            r.map(|row| row.map(|t| Arc::new(t) as Arc<dyn Any + Send + Sync>))
                        })
                        .boxed()
                        .shared();
                    inner.started += 1;
                    inner.reads.insert(key, read.clone());
                    inner.order.push_back(key);
                    while inner.order.len() > KEPT {
                        if let Some(old) = inner.order.pop_front() {
                            inner.reads.remove(&old);
                        }
                    }
                    read
                }
            }
        };
        let row = match read.await {
            Ok(row) => row,
            Err(e) => {
                self.lock().reads.remove(&key);
                return Err(e);
            }
        };
        match row {
            None => Ok(None),
            Some(row) => row.downcast_ref::<T>().cloned().map(Some).ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("a shared read held another row type"))
            }),
        }
    }

    /// How many reads have been started (not shared): what the fan-out tests count.
    pub fn started(&self) -> u64 {
        self.lock().started
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn loader(
        calls: &Arc<AtomicUsize>,
        value: i32,
    ) -> impl FnOnce() -> BoxFuture<'static, ApiResult<Option<i32>>> {
        let calls = calls.clone();
        move || {
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                Ok(Some(value))
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn equal_statements_share_one_read_per_event() {
        let reads = SharedReads::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let a = reads.name::<i32>("select 1".into());
        let b = reads.name::<i32>("select 1".into());
        let (x, y) = tokio::join!(
            reads.read(7, &a, loader(&calls, 1)),
            reads.read(7, &b, loader(&calls, 2)),
        );
        assert_eq!((x.expect("read"), y.expect("read")), (Some(1), Some(1)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // The next event is read again.
        assert_eq!(
            reads.read(8, &a, loader(&calls, 3)).await.expect("read"),
            Some(3)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(reads.started(), 2);
    }

    #[tokio::test]
    async fn different_statements_or_row_types_read_separately() {
        let reads = SharedReads::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let a = reads.name::<i32>("select 1".into());
        let b = reads.name::<i32>("select 2".into());
        let c = reads.name::<i64>("select 1".into());
        assert_eq!(
            reads.read(1, &a, loader(&calls, 1)).await.expect("read"),
            Some(1)
        );
        assert_eq!(
            reads.read(1, &b, loader(&calls, 2)).await.expect("read"),
            Some(2)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let got = reads
            .read(1, &c, || async { Ok(Some(5_i64)) }.boxed())
            .await
            .expect("read");
        assert_eq!(got, Some(5));
    }

    #[tokio::test]
    async fn a_failed_read_is_retried_and_dropped_names_are_not_reused() {
        let reads = SharedReads::default();
        let a = reads.name::<i32>("select 1".into());
        let failed = reads
            .read(1, &a, || {
                async { Err::<Option<i32>, _>(ApiError::NotFound("x")) }.boxed()
            })
            .await;
        assert!(failed.is_err());
        let calls = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            reads.read(1, &a, loader(&calls, 4)).await.expect("read"),
            Some(4)
        );
        let first = a.id;
        drop(a);
        let again = reads.name::<i32>("select 1".into());
        assert_ne!(again.id, first, "a name outlives nobody's statement");
    }
}
