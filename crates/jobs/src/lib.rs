//! Jobs, with the seed's Celery guarantees and without its holes.
//!
//! - A job is a row of `jobs`, inserted by [`enqueue`] in the caller's transaction: no job
//!   for a rolled-back row, none lost when Redis is down (the row waits).
//! - The [`relay`] pushes committed rows to Redis through apalis-redis (task id and
//!   idempotency key from the row id, its dispatch count and its random task token), in the
//!   Redis namespace of this database's [`instance`], woken by LISTEN/NOTIFY.
//! - The [`runner`] claims the row, runs the handler under a hard time limit, and owns the
//!   retry policy (3 retries at `JOB_RETRY_BASE_SECONDS × 2ⁿ`): apalis only transports.
//! - The [`schedule`] (beat) inserts each due occurrence once, under a unique dedupe key.
//! - [`process`]: the worker and beat processes, shared by their binaries and `ecole`.

pub mod enqueue;
pub mod instance;
pub mod model;
pub mod payloads;
pub mod process;
pub mod queue;
pub mod relay;
pub mod runner;
pub mod schedule;
pub mod service;
pub mod signals;
pub mod stats;
pub mod worker;

pub use enqueue::{NewJob, enqueue, enqueue_many};
pub use model::{Job, JobOut, JobStatus};
pub use payloads::JobPayload;
pub use runner::{JobContext, JobError, Registry};
