//! Label selectors (`metav1.LabelSelector`) and their matching rules.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::meta::Labels;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectorOperator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: SelectorOperator,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: Labels,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl LabelSelector {
    pub fn from_labels(labels: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            match_expressions: vec![],
        }
    }

    /// An empty selector matches everything (as `metav1.LabelSelectorAsSelector` does).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    /// Validation as `metav1validation.ValidateLabelSelector`; messages use `path`.
    pub fn validate(&self, path: &str, errs: &mut Vec<String>) {
        for (k, v) in &self.match_labels {
            validate_label_key(k, &format!("{path}.matchLabels"), errs);
            validate_label_value(v, &format!("{path}.matchLabels"), errs);
        }
        for (i, r) in self.match_expressions.iter().enumerate() {
            let p = format!("{path}.matchExpressions[{i}]");
            validate_label_key(&r.key, &format!("{p}.key"), errs);
            match r.operator {
                SelectorOperator::In | SelectorOperator::NotIn if r.values.is_empty() => {
                    errs.push(format!("{p}.values: Required value: must be specified when `operator` is 'In' or 'NotIn'"))
                }
                SelectorOperator::Exists | SelectorOperator::DoesNotExist if !r.values.is_empty() => errs.push(format!(
                    "{p}.values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                )),
                _ => {}
            }
        }
    }
}

impl LabelSelectorRequirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            SelectorOperator::In => value.is_some_and(|v| self.values.contains(v)),
            SelectorOperator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            SelectorOperator::Exists => value.is_some(),
            SelectorOperator::DoesNotExist => value.is_none(),
        }
    }
}

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `validation.IsDNS1123Label`: lower-case alphanumerics and '-', alphanumeric at both ends, ≤ 63.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= DNS1123_LABEL_MAX
        && is_alnum(b[0])
        && is_alnum(b[b.len() - 1])
        && b.iter().all(|c| is_alnum(*c) || *c == b'-')
}

/// `validation.IsDNS1123Subdomain`: dot-separated DNS-1123 labels, ≤ 253.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= DNS1123_SUBDOMAIN_MAX && !s.is_empty() && s.split('.').all(is_dns1123_label)
}

/// Qualified name part: alphanumerics, '-', '_', '.', alphanumeric at both ends, ≤ 63.
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

pub fn validate_label_key(key: &str, path: &str, errs: &mut Vec<String>) {
    let ok = match key.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_qualified_name_part(name),
        None => is_qualified_name_part(key),
    };
    if !ok {
        errs.push(format!(
            "{path}: Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc'), with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ));
    }
}

pub fn validate_label_value(value: &str, path: &str, errs: &mut Vec<String>) {
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(format!(
            "{path}: Invalid value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ));
    }
}

pub fn validate_labels(labels: &Labels, path: &str, errs: &mut Vec<String>) {
    for (k, v) in labels {
        validate_label_key(k, path, errs);
        validate_label_value(v, path, errs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn selector_matching_follows_upstream_operators() {
        let yaml = "matchLabels: {app: web}\nmatchExpressions:\n- {key: tier, operator: In, values: [fe, be]}\n- {key: canary, operator: DoesNotExist}\n- {key: zone, operator: NotIn, values: [a]}\n";
        let sel: LabelSelector = serde_yaml::from_str(yaml).unwrap();
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "fe")])));
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "be"), ("zone", "b")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "fe"), ("zone", "a")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "fe"), ("canary", "")])));
        assert!(!sel.matches(&labels(&[("app", "api"), ("tier", "fe")])));
        assert!(!sel.matches(&labels(&[("app", "web")])));
        assert!(LabelSelector::default().matches(&labels(&[])));
    }

    #[test]
    fn names_and_labels_validate_like_upstream() {
        assert!(is_dns1123_label("web-1"));
        assert!(!is_dns1123_label("Web"));
        assert!(!is_dns1123_label("-web"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("web.example.com"));
        assert!(!is_dns1123_subdomain("web..x"));
        let mut errs = vec![];
        validate_labels(&labels(&[("app", "web"), ("example.com/tier", "Front_1"), ("topology.kubernetes.io/zone", "")]), "l", &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        validate_labels(&labels(&[("bad key", "v"), ("k", "-bad")]), "l", &mut errs);
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn in_without_values_is_invalid() {
        let sel: LabelSelector = serde_yaml::from_str("matchExpressions: [{key: a, operator: In}]").unwrap();
        let mut errs = vec![];
        sel.validate("spec.selector", &mut errs);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec.selector.matchExpressions[0].values: Required value"));
    }
}
