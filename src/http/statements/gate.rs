//! How many statements are worked on at once: generating one, reading a page of one, or
//! streaming one as CSV.
//!
//! Each is a scan of up to a year of one account's ledger on a blocking thread; a CSV download
//! keeps its permit until the last byte is handed to the connection, however slow the client.
//! Without a bound, 16 parallel one-year downloads took the server to 596 MiB and slowed every
//! other request (issue #11). A request that finds every permit taken queues, first come
//! first served, for at most `statements.queue_wait_ms`, then gets `503` with `Retry-After`:
//! a bank's clients would rather wait a moment than retry, but a queue that never gives up
//! only moves the pile-up from memory to sockets.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// The bound on concurrent statement work, shared by every request (`AppState::statements`).
#[derive(Debug)]
pub struct StatementGate {
    permits: Arc<Semaphore>,
    queue_wait: Duration,
}

impl StatementGate {
    /// `concurrent_max` permits (at least one); a request waits at most `queue_wait` for one.
    pub fn new(concurrent_max: usize, queue_wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrent_max.max(1))),
            queue_wait,
        }
    }

    /// A permit, held until dropped; `503` (with `Retry-After`) when none frees up in time.
    /// Tokio's semaphore is fair, so waiting requests are served in arrival order.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        // `timeout` polls the acquisition once before looking at the clock, so a free permit
        // is taken even with a zero wait.
        match tokio::time::timeout(self.queue_wait, Arc::clone(&self.permits).acquire_owned()).await
        {
            Ok(Ok(permit)) => Ok(permit),
            // A closed semaphore (never closed here) or the wait ran out.
            Ok(Err(_)) | Err(_) => Err(ApiError::unavailable()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_gate_refuses_after_its_wait_and_admits_again_when_a_permit_returns() {
        let gate = StatementGate::new(1, Duration::ZERO);
        let held = gate.enter().await.expect("the first permit");
        let refused = gate.enter().await.expect_err("no permit left");
        assert_eq!(
            refused.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        drop(held);
        let _again = gate.enter().await.expect("the permit came back");
    }
}
