//! `kubesim validate FILE…`: parse and check only.

use std::path::PathBuf;

use super::{CliError, EXIT_BAD_INPUT, EXIT_OK};
use kubesim::api::manifest;
use kubesim::yamlpos::SourceError;

/// The first document's `kind`, if it has one.
fn first_kind(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    let first = serde_yaml::Deserializer::from_str(text).next();
    first.and_then(|d| <Option<Kind> as serde::Deserialize>::deserialize(d).ok()).flatten().and_then(|k| k.kind)
}

fn check_file(path: &std::path::Path) -> Result<String, SourceError> {
    let file = path.display().to_string();
    let text = kubesim::scenario::read_source(path)?;
    // Nothing but blank lines and comments: almost certainly not what was meant.
    if text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---") {
        return Err(SourceError { file, line: 1, column: 1, message: "the file is empty; expected a scenario (kind: Scenario), Kubernetes manifests or a KubeSchedulerConfiguration".into() });
    }
    match first_kind(&text).as_deref() {
        Some("Scenario") => {
            let s = kubesim::scenario::load(path)?;
            for w in &s.warnings {
                eprintln!("{w}");
            }
            // The same setup `run` does (objects created in order, admission, namespaces).
            kubesim::run::check_setup(&s).map_err(|message| SourceError { file: file.clone(), line: 0, column: 0, message })?;
            return Ok(format!("scenario {:?}: {} nodes, {} objects, {} timeline actions, {} checks", s.name, s.nodes.len(), s.objects.len(), s.timeline.len(), s.checks.len()));
        }
        Some("KubeSchedulerConfiguration") => {
            let c = kubesim::control::scheduler::profile::parse(&text, &file)?;
            let names: Vec<&str> = c.profiles.iter().map(|p| p.scheduler_name.as_str()).collect();
            return Ok(format!("KubeSchedulerConfiguration: {} profile(s): {}", names.len(), names.join(", ")));
        }
        _ => {}
    }
    let m = manifest::parse(&text, &file)?;
    for w in &m.warnings {
        eprintln!("{w}");
    }
    for lo in &m.objects {
        kubesim::api::rules::dry_run_create(&lo.object).map_err(|e| SourceError::at(&lo.file, lo.pos.clone(), e.to_string()))?;
    }
    Ok(format!("{} object(s)", m.objects.len()))
}

pub fn validate(files: &[PathBuf]) -> Result<u8, CliError> {
    let mut failed = 0;
    for f in files {
        match check_file(f) {
            Ok(what) => println!("ok: {}: {what}", f.display()),
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} file(s) invalid", files.len());
        return Ok(EXIT_BAD_INPUT);
    }
    Ok(EXIT_OK)
}
