//! `kubesim validate FILE…`: parse and check only.

use std::path::PathBuf;

use super::{CliError, EXIT_BAD_INPUT, EXIT_OK};
use kubesim::api::manifest;
use kubesim::yamlpos::SourceError;

fn is_scenario(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    let first = serde_yaml::Deserializer::from_str(text).next();
    first.and_then(|d| <Option<Kind> as serde::Deserialize>::deserialize(d).ok()).flatten().and_then(|k| k.kind).as_deref() == Some("Scenario")
}

fn check_file(path: &std::path::Path) -> Result<String, SourceError> {
    let text = std::fs::read_to_string(path).map_err(|e| SourceError { file: path.display().to_string(), line: 0, column: 0, message: format!("cannot read: {e}") })?;
    if is_scenario(&text) {
        let s = kubesim::scenario::load(path)?;
        for w in &s.warnings {
            eprintln!("{w}");
        }
        return Ok(format!("scenario {:?}: {} nodes, {} objects, {} timeline actions, {} checks", s.name, s.nodes.len(), s.objects.len(), s.timeline.len(), s.checks.len()));
    }
    let m = manifest::parse(&text, &path.display().to_string())?;
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
