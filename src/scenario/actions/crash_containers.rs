//! Fault `crashContainers: {selector, namespace, exitCode}`: the running
//! containers of matching pods exit (default 137, killed); their kubelets
//! restart them as the restart policy says.

use serde::{Deserialize, Serialize};

use super::{ActionSpec, field};
use crate::model::LabelSelector;
use crate::scenario::Loader;
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CrashContainers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub selector: LabelSelector,
    /// Default 137 (killed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

impl CrashContainers {
    pub fn exit_code(&self) -> i32 {
        self.exit_code.unwrap_or(crate::runtime::fake::EXIT_SIGKILL)
    }
}

impl ActionSpec for CrashContainers {
    const KEY: &'static str = "crashContainers";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        if self.selector.is_empty() {
            return Err(l.err(&field(path, "selector"), "selector must not be empty (it would crash every container)"));
        }
        Ok(())
    }
    fn describe(&self) -> String {
        format!("crash containers matching {:?} with exit code {}", self.selector.match_labels, self.exit_code())
    }
    const LIVE: bool = true;
}
