//! When a request's DataLoaders query.
//!
//! A timer window makes every nesting level of a query wait for nothing once its keys are in,
//! and still splits a batch whose keys arrive late. An HTTP request instead queries as soon as
//! its execution can make no other progress: every sibling in a list has been polled and asked
//! for its keys by then, so the batch is whole, and nothing waits. That needs the request's
//! execution to be driven by [`Batches::drive`]; subscriptions, whose execution async-graphql
//! drives itself, keep a short window.

use std::{
    future::{Future, poll_fn},
    pin::pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    time::Duration,
};

use futures_util::{StreamExt, future::BoxFuture, stream::FuturesUnordered};

#[derive(Clone)]
pub struct Batches(Arc<Inner>);

struct Inner {
    /// `None`: query when the driven execution is idle.
    window: Option<Duration>,
    queue: Mutex<Vec<BoxFuture<'static, ()>>>,
}

impl Batches {
    /// Batches run by [`Batches::drive`] whenever the execution it drives is waiting.
    pub fn when_idle() -> Self {
        Self::new(None)
    }

    /// Batches that collect keys for `window`, then query on their own task.
    pub fn after(window: Duration) -> Self {
        Self::new(Some(window))
    }

    fn new(window: Option<Duration>) -> Self {
        Self(Arc::new(Inner {
            window,
            queue: Mutex::new(Vec::new()),
        }))
    }

    /// Takes a loader's batch (its query, ready to run).
    pub(super) fn start(&self, batch: BoxFuture<'static, ()>) {
        // A batch's statements belong to the resolver that asked for its first key (the span
        // current now), not to whatever is polled when the batch runs.
        let batch = if crate::telemetry::exporting() {
            use futures_util::FutureExt;
            tracing::Instrument::instrument(batch, tracing::Span::current()).boxed()
        } else {
            batch
        };
        match self.0.window {
            Some(window) => {
                tokio::spawn(async move {
                    tokio::time::sleep(window).await;
                    batch.await;
                });
            }
            None => self.queued().push(batch),
        }
    }

    fn queued(&self) -> std::sync::MutexGuard<'_, Vec<BoxFuture<'static, ()>>> {
        // A batch future that panicked cannot leave the queue half-changed.
        self.0.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `execution` (a GraphQL request using these batches) to completion, starting the
    /// batches it queued each time it has to wait. They run on the request's own task.
    pub async fn drive<F: Future>(&self, execution: F) -> F::Output {
        let mut execution = pin!(execution);
        let mut running = FuturesUnordered::new();
        poll_fn(|cx| {
            // Finished batches hand their rows to the execution, which goes on below.
            while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
            let woken = Arc::new(Woken {
                flag: AtomicBool::new(false),
                task: cx.waker().clone(),
            });
            let waker = Waker::from(woken.clone());
            if let Poll::Ready(out) = execution.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(out);
            }
            // Start the next batches only when the execution has asked for every key it can:
            // not while a long list is part-way through its items (it yields, waking itself,
            // to poll the rest), and not while a batch is out (its rows will ask for more keys
            // of the same kinds). So a query's batches follow its shape, not the timing.
            if !woken.flag.load(Ordering::Acquire) && running.is_empty() {
                running.extend(self.queued().drain(..));
                // Polling starts their queries; results wake this task.
                while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
            }
            Poll::Pending
        })
        .await
    }
}

/// The request task's waker, noting whether the execution woke it.
struct Woken {
    flag: AtomicBool,
    task: Waker,
}

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.flag.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}
