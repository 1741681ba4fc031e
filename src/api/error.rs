//! API errors, shaped like the `metav1.Status` kube-apiserver returns, with the
//! same HTTP codes and messages so logs read the same as a real cluster's.

use crate::model::{Kind, ObjectRef};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 404
    #[error("{} \"{}\" not found", .0.kind.plural(), .0.name)]
    NotFound(ObjectRef),
    /// 404 for a missing namespace on create (NamespaceLifecycle admission).
    #[error("namespaces \"{0}\" not found")]
    NamespaceNotFound(String),
    /// 409
    #[error("{} \"{}\" already exists", .0.kind.plural(), .0.name)]
    AlreadyExists(ObjectRef),
    /// 409: a stale resourceVersion or a failed precondition.
    #[error("Operation cannot be fulfilled on {} \"{}\": {reason}", .target.kind.plural(), .target.name)]
    Conflict { target: ObjectRef, reason: String },
    /// 422
    #[error("{} \"{}\" is invalid: {}", .kind.name(), .name, format_causes(.causes))]
    Invalid { kind: Kind, name: String, causes: Vec<String> },
    /// 410: a watch or list from a compacted resourceVersion; the client relists.
    #[error("too old resource version: {requested} ({current})")]
    Gone { requested: i64, current: i64 },
    /// 403
    #[error("{} \"{}\" is forbidden: {reason}", .target.kind.plural(), .target.name)]
    Forbidden { target: ObjectRef, reason: String },
    /// 400
    #[error("{0}")]
    BadRequest(String),
    /// 500 / 503: the store failed or could not be reached.
    #[error("storage error: {0}")]
    Storage(String),
    /// 504: the request's outcome is unknown to the caller (it may or may not have been applied).
    #[error("the request timed out: its outcome is unknown")]
    Timeout,
    /// 501: the storage cannot serve this (a live etcd replays history only as a stream).
    #[error("not supported by this storage: {0}")]
    Unsupported(String),
}

fn format_causes(causes: &[String]) -> String {
    if causes.len() == 1 { causes[0].clone() } else { format!("[{}]", causes.join(", ")) }
}

impl ApiError {
    /// The HTTP status code kube-apiserver would answer with.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound(_) | ApiError::NamespaceNotFound(_) => 404,
            ApiError::AlreadyExists(_) | ApiError::Conflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::Gone { .. } => 410,
            ApiError::Forbidden { .. } => 403,
            ApiError::BadRequest(_) => 400,
            ApiError::Storage(_) => 500,
            ApiError::Timeout => 504,
            ApiError::Unsupported(_) => 501,
        }
    }
    /// The `reason` field of the Status (`NotFound`, `Conflict`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) | ApiError::NamespaceNotFound(_) => "NotFound",
            ApiError::AlreadyExists(_) => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::Gone { .. } => "Expired",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Storage(_) => "InternalError",
            ApiError::Timeout => "Timeout",
            ApiError::Unsupported(_) => "NotImplemented",
        }
    }
    pub fn is_conflict(&self) -> bool {
        matches!(self, ApiError::Conflict { .. })
    }
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::NotFound(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_kube_apiserver() {
        let r = ObjectRef::new(Kind::Pod, "default", "web-1");
        assert_eq!(ApiError::NotFound(r.clone()).to_string(), "pods \"web-1\" not found");
        assert_eq!(
            ApiError::Conflict { target: r.clone(), reason: "the object has been modified; please apply your changes to the latest version and try again".into() }.to_string(),
            "Operation cannot be fulfilled on pods \"web-1\": the object has been modified; please apply your changes to the latest version and try again"
        );
        let one = ApiError::Invalid { kind: Kind::Pod, name: "web-1".into(), causes: vec!["spec.containers: Required value".into()] };
        assert_eq!(one.to_string(), "Pod \"web-1\" is invalid: spec.containers: Required value");
        assert_eq!(one.code(), 422);
        let two = ApiError::Invalid { kind: Kind::Pod, name: "p".into(), causes: vec!["a".into(), "b".into()] };
        assert_eq!(two.to_string(), "Pod \"p\" is invalid: [a, b]");
        assert_eq!(ApiError::Gone { requested: 5, current: 10 }.code(), 410);
    }
}
