//! The API layer between components and the store: validation, defaulting,
//! admission, resourceVersion = etcd mod revision, 409 Conflict, 410 Gone,
//! graceful deletion and finalizers; plus manifest import.

pub mod error;
pub mod manifest;
pub mod rules;
pub mod server;
pub mod storage;

pub use error::ApiError;
pub use server::{ApiServer, DeleteOptions, DeleteOutcome, Propagation};
pub use storage::{Revision, Storage, WatchEvent, WatchEventType};
