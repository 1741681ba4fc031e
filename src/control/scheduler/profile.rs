//! Scheduling profiles from real `KubeSchedulerConfiguration` files
//! (kubescheduler.config.k8s.io/v1): several profiles chosen by
//! `schedulerName`; plugins per extension point and `multiPoint`, enabled and
//! disabled (including `'*'`); score weights; typed `pluginConfig` args;
//! `percentageOfNodesToScore`. Errors name file:line:column.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::framework::Plugin;
use super::registry::{DEFAULT_MULTI_POINT, Entry, PluginArgs, registry};
use crate::yamlpos::{PathSeg, SourceError, locate_nearest};

pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConfigFile {
    api_version: String,
    kind: String,
    #[serde(default)]
    percentage_of_nodes_to_score: Option<i32>,
    #[serde(default)]
    pod_initial_backoff_seconds: Option<i64>,
    #[serde(default)]
    pod_max_backoff_seconds: Option<i64>,
    #[serde(default)]
    profiles: Vec<ProfileSpec>,
    // Accepted for compatibility with real files; they do not change decisions.
    #[serde(default)]
    #[allow(dead_code)]
    parallelism: Option<i32>,
    #[serde(default)]
    #[allow(dead_code)]
    leader_election: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    client_connection: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    enable_profiling: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    enable_contention_profiling: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    delay_cache_until_active: Option<bool>,
    #[serde(default)]
    extenders: Option<Vec<serde::de::IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ProfileSpec {
    #[serde(default)]
    scheduler_name: Option<String>,
    #[serde(default)]
    percentage_of_nodes_to_score: Option<i32>,
    #[serde(default)]
    plugins: Option<PluginsSpec>,
    #[serde(default)]
    plugin_config: Vec<PluginConfigSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PluginsSpec {
    #[serde(default)]
    pre_enqueue: Option<PluginSet>,
    #[serde(default)]
    queue_sort: Option<PluginSet>,
    #[serde(default)]
    pre_filter: Option<PluginSet>,
    #[serde(default)]
    filter: Option<PluginSet>,
    #[serde(default)]
    post_filter: Option<PluginSet>,
    #[serde(default)]
    pre_score: Option<PluginSet>,
    #[serde(default)]
    score: Option<PluginSet>,
    #[serde(default)]
    reserve: Option<PluginSet>,
    #[serde(default)]
    permit: Option<PluginSet>,
    #[serde(default)]
    pre_bind: Option<PluginSet>,
    #[serde(default)]
    bind: Option<PluginSet>,
    #[serde(default)]
    post_bind: Option<PluginSet>,
    #[serde(default)]
    multi_point: Option<PluginSet>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginSet {
    #[serde(default)]
    enabled: Vec<PluginRef>,
    #[serde(default)]
    disabled: Vec<PluginRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginRef {
    name: String,
    #[serde(default)]
    weight: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginConfigSpec {
    name: String,
    #[serde(default)]
    args: Option<serde::de::IgnoredAny>,
}

/// The extension points, in the order a cycle runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Point {
    PreEnqueue,
    QueueSort,
    PreFilter,
    Filter,
    PostFilter,
    PreScore,
    Score,
    Bind,
}

impl Point {
    const ALL: [Point; 8] = [Point::PreEnqueue, Point::QueueSort, Point::PreFilter, Point::Filter, Point::PostFilter, Point::PreScore, Point::Score, Point::Bind];

    fn field(self) -> &'static str {
        match self {
            Point::PreEnqueue => "preEnqueue",
            Point::QueueSort => "queueSort",
            Point::PreFilter => "preFilter",
            Point::Filter => "filter",
            Point::PostFilter => "postFilter",
            Point::PreScore => "preScore",
            Point::Score => "score",
            Point::Bind => "bind",
        }
    }

    fn implemented_by(self, p: &dyn Plugin) -> bool {
        match self {
            Point::PreEnqueue => p.as_pre_enqueue().is_some(),
            Point::QueueSort => p.as_queue_sort().is_some(),
            Point::PreFilter => p.as_pre_filter().is_some(),
            Point::Filter => p.as_filter().is_some(),
            Point::PostFilter => p.as_post_filter().is_some(),
            Point::PreScore => p.as_pre_score().is_some(),
            Point::Score => p.as_score().is_some(),
            Point::Bind => p.as_bind().is_some(),
        }
    }
}

/// One resolved profile: the plugins at each extension point, in order.
pub struct Profile {
    pub scheduler_name: String,
    pub percentage_of_nodes_to_score: Option<i32>,
    pub pre_enqueue: Vec<Arc<dyn Plugin>>,
    pub queue_sort: Option<Arc<dyn Plugin>>,
    pub pre_filter: Vec<Arc<dyn Plugin>>,
    pub filter: Vec<Arc<dyn Plugin>>,
    pub post_filter: Vec<Arc<dyn Plugin>>,
    pub pre_score: Vec<Arc<dyn Plugin>>,
    /// Score plugins with their weights.
    pub score: Vec<(Arc<dyn Plugin>, i64)>,
    pub bind: Vec<Arc<dyn Plugin>>,
}

/// Every profile of a configuration, plus global settings.
pub struct SchedulerConfig {
    pub profiles: Vec<Profile>,
    pub percentage_of_nodes_to_score: Option<i32>,
    pub pod_initial_backoff_s: i64,
    pub pod_max_backoff_s: i64,
}

impl SchedulerConfig {
    pub fn profile(&self, scheduler_name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.scheduler_name == scheduler_name)
    }

    /// kube-scheduler's defaults: one profile, `default-scheduler`.
    pub fn default_config() -> SchedulerConfig {
        // The built-in default profile cannot fail to build.
        let text = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";
        match parse(text, "<default>") {
            Ok(c) => c,
            Err(e) => unreachable!("default profile: {e}"),
        }
    }
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
    entries: Vec<Entry>,
}

impl Ctx<'_> {
    fn err(&self, path: &[PathSeg], msg: impl Into<String>) -> SourceError {
        SourceError::at(self.file, locate_nearest(self.text, 0, path), msg)
    }
    fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }
    fn known(&self) -> String {
        self.entries.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
    }
}

fn k(s: &str) -> PathSeg {
    PathSeg::Key(s.into())
}

pub fn parse(text: &str, file: &str) -> Result<SchedulerConfig, SourceError> {
    let raw = ConfigFile::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|e| SourceError::from_yaml(file, &e))?;
    let ctx = Ctx { text, file, entries: registry() };
    if raw.kind != "KubeSchedulerConfiguration" {
        return Err(ctx.err(&[k("kind")], format!("kind is {:?}; expected KubeSchedulerConfiguration", raw.kind)));
    }
    if raw.api_version != "kubescheduler.config.k8s.io/v1" {
        return Err(ctx.err(&[k("apiVersion")], format!("apiVersion {:?} is not supported; expected kubescheduler.config.k8s.io/v1", raw.api_version)));
    }
    if raw.extenders.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(ctx.err(&[k("extenders")], "scheduler extenders (HTTP webhooks) are not supported; write the policy as a plugin instead"));
    }
    check_percentage(&ctx, raw.percentage_of_nodes_to_score, &[k("percentageOfNodesToScore")])?;
    let specs = if raw.profiles.is_empty() { vec![ProfileSpec { scheduler_name: None, percentage_of_nodes_to_score: None, plugins: None, plugin_config: vec![] }] } else { raw.profiles };
    let mut profiles: Vec<Profile> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let path = [k("profiles"), PathSeg::Index(i)];
        let p = build_profile(&ctx, spec, &path)?;
        if profiles.iter().any(|q| q.scheduler_name == p.scheduler_name) {
            return Err(ctx.err(&[&path[..], &[k("schedulerName")]].concat(), format!("Duplicate value: {:?}", p.scheduler_name)));
        }
        profiles.push(p);
    }
    let initial = raw.pod_initial_backoff_seconds.unwrap_or(1);
    let max = raw.pod_max_backoff_seconds.unwrap_or(10);
    if initial <= 0 || max < initial {
        return Err(ctx.err(&[k("podMaxBackoffSeconds")], "podInitialBackoffSeconds must be above 0 and podMaxBackoffSeconds at least as large"));
    }
    Ok(SchedulerConfig { profiles, percentage_of_nodes_to_score: raw.percentage_of_nodes_to_score, pod_initial_backoff_s: initial, pod_max_backoff_s: max })
}

fn check_percentage(ctx: &Ctx, v: Option<i32>, path: &[PathSeg]) -> Result<(), SourceError> {
    match v {
        Some(p) if !(0..=100).contains(&p) => Err(ctx.err(path, format!("Invalid value: {p}: not in valid range [0-100]"))),
        _ => Ok(()),
    }
}

/// Applies one plugin set to an ordered (name, weight) list, as upstream's
/// `mergePluginSet`: disabled removes (`'*'` removes all defaults), enabled
/// replaces a default in place or appends.
fn merge(ctx: &Ctx, list: &mut Vec<(String, Option<i64>)>, set: &PluginSet, path: &[PathSeg]) -> Result<(), SourceError> {
    for (j, d) in set.disabled.iter().enumerate() {
        if d.name == "*" {
            list.clear();
        } else if ctx.entry(&d.name).is_none() {
            return Err(ctx.err(&[path, &[k("disabled"), PathSeg::Index(j), k("name")]].concat(), format!("unknown plugin {:?}; known plugins: {}", d.name, ctx.known())));
        } else {
            list.retain(|(n, _)| *n != d.name);
        }
    }
    for (j, e) in set.enabled.iter().enumerate() {
        let epath = [path, &[k("enabled"), PathSeg::Index(j)]].concat();
        if ctx.entry(&e.name).is_none() {
            return Err(ctx.err(&[&epath[..], &[k("name")]].concat(), format!("unknown plugin {:?}; known plugins: {}", e.name, ctx.known())));
        }
        if let Some(w) = e.weight
            && !(1..=100).contains(&w)
        {
            return Err(ctx.err(&[&epath[..], &[k("weight")]].concat(), format!("Invalid value: {w}: plugin weight must be in range [1, 100]")));
        }
        match list.iter_mut().find(|(n, _)| *n == e.name) {
            Some(slot) => slot.1 = e.weight.or(slot.1),
            None => list.push((e.name.clone(), e.weight)),
        }
    }
    Ok(())
}

fn build_profile(ctx: &Ctx, spec: &ProfileSpec, path: &[PathSeg]) -> Result<Profile, SourceError> {
    let scheduler_name = spec.scheduler_name.clone().unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.into());
    check_percentage(ctx, spec.percentage_of_nodes_to_score, &[path, &[k("percentageOfNodesToScore")]].concat())?;
    // Args first: they decide how each plugin is built.
    let mut args: BTreeMap<String, PluginArgs> = BTreeMap::new();
    for (j, pc) in spec.plugin_config.iter().enumerate() {
        let ppath = [path, &[k("pluginConfig"), PathSeg::Index(j)]].concat();
        // validatePluginConfig: one entry per plugin.
        if spec.plugin_config[..j].iter().any(|earlier| earlier.name == pc.name) {
            return Err(ctx.err(&ppath, format!("{}: Duplicate value: {:?}", crate::yamlpos::display_path(&ppath), pc.name)));
        }
        let entry = ctx.entry(&pc.name).ok_or_else(|| ctx.err(&[&ppath[..], &[k("name")]].concat(), format!("unknown plugin {:?}; known plugins: {}", pc.name, ctx.known())))?;
        let Some(decode) = entry.decode_args else {
            return Err(ctx.err(&[&ppath[..], &[k("args")]].concat(), format!("plugin {} takes no args", pc.name)));
        };
        if pc.args.is_some()
            && let Some(a) = decode(ctx.text, &[&ppath[..], &[k("args")]].concat()).map_err(|e| SourceError::from_yaml(ctx.file, &e))?
        {
            args.insert(pc.name.clone(), a);
        }
    }
    let plugins_spec = spec.plugins.as_ref();
    let ppath = [path, &[k("plugins")]].concat();
    let mut multi: Vec<(String, Option<i64>)> = DEFAULT_MULTI_POINT.iter().map(|(n, w)| (n.to_string(), (*w > 0).then_some(*w))).collect();
    if let Some(mp) = plugins_spec.and_then(|p| p.multi_point.as_ref()) {
        merge(ctx, &mut multi, mp, &[&ppath[..], &[k("multiPoint")]].concat())?;
    }
    // Build each named plugin once; it serves every point it implements.
    let mut built: BTreeMap<String, Arc<dyn Plugin>> = BTreeMap::new();
    let mut build = |name: &str, at: &[PathSeg], args: &mut BTreeMap<String, PluginArgs>| -> Result<Arc<dyn Plugin>, SourceError> {
        if let Some(p) = built.get(name) {
            return Ok(p.clone());
        }
        let entry = ctx.entry(name).ok_or_else(|| ctx.err(at, format!("unknown plugin {name:?}")))?;
        let p = (entry.build)(args.remove(name)).map_err(|m| ctx.err(at, format!("{name}: {m}")))?;
        built.insert(name.to_string(), p.clone());
        Ok(p)
    };
    let mut args = args;
    let mut per_point: BTreeMap<Point, Vec<(Arc<dyn Plugin>, i64)>> = BTreeMap::new();
    for point in Point::ALL {
        let mut list: Vec<(String, Option<i64>)> = Vec::new();
        for (name, w) in &multi {
            let p = build(name, &ppath, &mut args)?;
            if point.implemented_by(p.as_ref()) {
                list.push((name.clone(), *w));
            }
        }
        let set = plugins_spec.and_then(|p| match point {
            Point::PreEnqueue => p.pre_enqueue.as_ref(),
            Point::QueueSort => p.queue_sort.as_ref(),
            Point::PreFilter => p.pre_filter.as_ref(),
            Point::Filter => p.filter.as_ref(),
            Point::PostFilter => p.post_filter.as_ref(),
            Point::PreScore => p.pre_score.as_ref(),
            Point::Score => p.score.as_ref(),
            Point::Bind => p.bind.as_ref(),
        });
        let set_path = [&ppath[..], &[k(point.field())]].concat();
        if let Some(set) = set {
            merge(ctx, &mut list, set, &set_path)?;
        }
        let mut resolved = Vec::new();
        for (j, (name, w)) in list.iter().enumerate() {
            let at = [&set_path[..], &[k("enabled"), PathSeg::Index(j)]].concat();
            let p = build(name, &at, &mut args)?;
            if !point.implemented_by(p.as_ref()) {
                return Err(ctx.err(&at, format!("plugin {name:?} does not extend {}", point.field())));
            }
            resolved.push((p, w.unwrap_or(1)));
        }
        per_point.insert(point, resolved);
    }
    for (set, field) in plugins_spec.map(|p| [(&p.reserve, "reserve"), (&p.permit, "permit"), (&p.pre_bind, "preBind"), (&p.post_bind, "postBind")]).into_iter().flatten() {
        if let Some(s) = set
            && let Some(e) = s.enabled.first()
        {
            return Err(ctx.err(&[&ppath[..], &[k(field), k("enabled"), PathSeg::Index(0), k("name")]].concat(), format!("no plugin kubesim knows extends {field} (got {:?})", e.name)));
        }
    }
    let mut take = |p: Point| per_point.remove(&p).unwrap_or_default();
    let queue_sort = take(Point::QueueSort);
    if queue_sort.len() != 1 {
        return Err(ctx.err(&ppath, format!("exactly one queueSort plugin must be enabled, found {}", queue_sort.len())));
    }
    let only = |v: Vec<(Arc<dyn Plugin>, i64)>| v.into_iter().map(|(p, _)| p).collect::<Vec<_>>();
    Ok(Profile {
        scheduler_name,
        percentage_of_nodes_to_score: spec.percentage_of_nodes_to_score,
        pre_enqueue: only(take(Point::PreEnqueue)),
        queue_sort: queue_sort.into_iter().next().map(|(p, _)| p),
        pre_filter: only(take(Point::PreFilter)),
        filter: only(take(Point::Filter)),
        post_filter: only(take(Point::PostFilter)),
        pre_score: only(take(Point::PreScore)),
        score: take(Point::Score),
        bind: only(take(Point::Bind)),
    })
}

#[cfg(test)]
mod tests;

impl std::fmt::Debug for SchedulerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.profiles.iter().map(|p| p.scheduler_name.as_str()).collect();
        f.debug_struct("SchedulerConfig").field("profiles", &names).field("percentage_of_nodes_to_score", &self.percentage_of_nodes_to_score).finish()
    }
}
