//! Reports: the observer's metrics and pod timelines, the run summary and
//! the files a run writes (summary.json, events.jsonl, metrics.csv, pods.csv).

pub mod compare;
pub mod observer;
pub mod output;
pub mod timeline;
