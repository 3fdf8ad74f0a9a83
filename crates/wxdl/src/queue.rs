//! The download queue: at most N downloads run; the rest wait in strict call order (FIFO).
//!
//! Imports only `error`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::lock;

/// Admits downloads. A place in line is taken synchronously when `download()` is called, so
/// the order is the call order, whatever order the runtime later polls the tasks in.
#[derive(Debug)]
pub(crate) struct Queue {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    free: usize,
    waiters: VecDeque<oneshot::Sender<Permit>>,
}

/// The right to run; the slot passes to the next in line when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    queue: Option<Arc<Queue>>,
}

/// A place in line: already admitted, or waiting.
#[derive(Debug)]
pub(crate) enum Ticket {
    Ready(Permit),
    Waiting(oneshot::Receiver<Permit>),
}

impl Queue {
    pub fn new(slots: usize) -> Arc<Queue> {
        Arc::new(Queue {
            state: Mutex::new(State {
                free: slots.max(1),
                waiters: VecDeque::new(),
            }),
        })
    }

    /// Takes a place in line now.
    pub fn enqueue(self: &Arc<Queue>) -> Ticket {
        let mut st = lock(&self.state);
        if st.free > 0 && st.waiters.is_empty() {
            st.free -= 1;
            return Ticket::Ready(Permit {
                queue: Some(Arc::clone(self)),
            });
        }
        let (tx, rx) = oneshot::channel();
        st.waiters.push_back(tx);
        Ticket::Waiting(rx)
    }

    fn release(self: Arc<Queue>) {
        let mut st = lock(&self.state);
        while let Some(tx) = st.waiters.pop_front() {
            let permit = Permit {
                queue: Some(Arc::clone(&self)),
            };
            match tx.send(permit) {
                Ok(()) => return,
                // That waiter is gone (aborted while queued): defuse and try the next.
                Err(mut p) => {
                    p.queue = None;
                }
            }
        }
        st.free += 1;
    }
}

impl Ticket {
    /// Waits for admission. `None` only if the queue itself went away.
    pub async fn admitted(self) -> Option<Permit> {
        match self {
            Ticket::Ready(p) => Some(p),
            Ticket::Waiting(rx) => rx.await.ok(),
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(q) = self.queue.take() {
            q.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fifo_and_abandoned_waiters_are_skipped() {
        let q = Queue::new(1);
        let first = q.enqueue().admitted().await.unwrap();
        let second = q.enqueue();
        let third = q.enqueue();
        drop(second); // gave up while queued
        drop(first);
        let p3 = third.admitted().await.unwrap();
        let fourth = q.enqueue();
        assert!(matches!(fourth, Ticket::Waiting(_)));
        drop(p3);
        fourth.admitted().await.unwrap();
    }
}
