//! Fault `staleCache: {component, lag, for}`: the component is served by an
//! API server whose watch cache runs `lag` behind: its events arrive late and
//! its lists read the state `lag` ago — except that a reflector never goes
//! back behind what it has already seen (the fix for kubernetes#59848).

use serde::{Deserialize, Serialize};

use super::{ActionSpec, field};
use crate::scenario::Loader;
use crate::time::{Dur, format_duration};
use crate::yamlpos::{PathSeg, SourceError};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleCache {
    /// `scheduler`, a controller, or `kubelet/<node>`.
    pub component: String,
    /// How far behind its watch events and lists run.
    pub lag: Dur,
    #[serde(rename = "for")]
    pub duration: Dur,
}

impl ActionSpec for StaleCache {
    const KEY: &'static str = "staleCache";
    fn check(&mut self, l: &mut Loader, path: &[PathSeg]) -> Result<(), SourceError> {
        l.component_name(&self.component, &field(path, "component"))
    }
    fn describe(&self) -> String {
        format!("serve {} a cache {} behind for {}", self.component, format_duration(self.lag.0), format_duration(self.duration.0))
    }
    const LIVE: bool = false;
}
