//! Fault `crashComponent: {name}`: a control-plane process crashes (its
//! timers and answers are lost); `restartComponent: {name}`: it starts again
//! with fresh state and relists.

use serde::{Deserialize, Serialize};

use super::{ActionSpec, field};
use crate::scenario::Loader;
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashComponent {
    /// A control-plane component (`scheduler`, a controller; `scheduler-2`, … when replicated).
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartComponent {
    pub name: String,
}

fn control_plane(l: &Loader, name: &str, path: &[PathSeg]) -> Result<(), SourceError> {
    if l.components.iter().any(|c| c == name) {
        return Ok(());
    }
    Err(l.err(&field(path, "name"), format!("unknown component {name:?}; expected one of {}", l.components.join(", "))))
}

impl ActionSpec for CrashComponent {
    const KEY: &'static str = "crashComponent";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        control_plane(l, &self.name, path)
    }
    fn describe(&self) -> String {
        format!("crash component {}", self.name)
    }
    const LIVE: bool = true;
}

impl ActionSpec for RestartComponent {
    const KEY: &'static str = "restartComponent";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        control_plane(l, &self.name, path)
    }
    fn describe(&self) -> String {
        format!("restart component {}", self.name)
    }
    const LIVE: bool = true;
}
