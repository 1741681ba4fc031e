//! DefaultBinder: binds through the pods/binding subresource (defaultbinder).

use crate::control::WriteOp;
use crate::control::scheduler::framework::*;
use crate::model::pod::Pod;

pub const NAME: &str = "DefaultBinder";

pub struct DefaultBinder;

crate::extends!(DefaultBinder, NAME, [bind]);

impl BindPlugin for DefaultBinder {
    fn bind(&self, pod: &Pod, node: &str) -> WriteOp {
        WriteOp::Bind { namespace: pod.metadata.namespace.clone(), name: pod.metadata.name.clone(), node: node.to_string() }
    }
}
