//! NodePorts: a pod's host ports must be free on the node; 0.0.0.0 conflicts
//! with every address of the same protocol and port (nodeports/node_ports.go).

use crate::control::scheduler::framework::*;

pub const NAME: &str = "NodePorts";
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub struct NodePorts;


fn conflicts(a: &HostPort, b: &HostPort) -> bool {
    a.1 == b.1 && a.2 == b.2 && (a.0 == b.0 || a.0 == "0.0.0.0" || b.0 == "0.0.0.0")
}

crate::extends!(NodePorts, NAME, [pre_filter, filter]);

impl PreFilterPlugin for NodePorts {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, _: &Snapshot) -> Status {
        let wanted = host_ports(&pod.pod);
        if wanted.is_empty() {
            return Status::skip();
        }
        state.write(wanted);
        Status::success()
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let computed;
        let wanted: &Vec<HostPort> = match state.read() {
            Some(w) => w,
            None => {
                computed = host_ports(&pod.pod);
                &computed
            }
        };
        let clash = wanted.iter().any(|w| node.used_ports.iter().any(|u| conflicts(w, u)));
        if clash { Status::new(Code::Unschedulable, ERR_REASON) } else { Status::success() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::scheduler::plugins::testing::*;
    use crate::model::pod::ContainerPort;

    fn ported(name: &str, ports: &[(&str, &str, i32)]) -> crate::model::pod::Pod {
        let mut p = pod(name, &[&[]]);
        p.spec.containers[0].ports = ports.iter().map(|(proto, ip, port)| ContainerPort { container_port: *port, host_port: *port, protocol: proto.to_string(), host_ip: ip.to_string(), ..Default::default() }).collect();
        p
    }

    /// TestNodePorts, upstream cases by name.
    #[test]
    fn upstream_cases() {
        let cases: Vec<(&str, Vec<(&str, &str, i32)>, Vec<(&str, &str, i32)>, bool)> = vec![
            ("nothing running", vec![], vec![], true),
            ("other port", vec![("UDP", "127.0.0.1", 8080)], vec![("UDP", "127.0.0.1", 9090)], true),
            ("same udp port", vec![("UDP", "127.0.0.1", 8080)], vec![("UDP", "127.0.0.1", 8080)], false),
            ("same tcp port", vec![("TCP", "127.0.0.1", 8080)], vec![("TCP", "127.0.0.1", 8080)], false),
            ("different host ip", vec![("TCP", "127.0.0.1", 8080)], vec![("TCP", "127.0.0.2", 8080)], true),
            ("different protocol", vec![("UDP", "127.0.0.1", 8080)], vec![("TCP", "127.0.0.1", 8080)], true),
            ("second udp port conflict", vec![("UDP", "127.0.0.1", 8000), ("UDP", "127.0.0.1", 8080)], vec![("UDP", "127.0.0.1", 8080)], false),
            ("first tcp port conflict", vec![("TCP", "127.0.0.1", 8001), ("UDP", "127.0.0.1", 8080)], vec![("TCP", "127.0.0.1", 8001), ("UDP", "127.0.0.1", 8081)], false),
            ("first tcp port conflict due to 0.0.0.0 hostIP", vec![("TCP", "0.0.0.0", 8001)], vec![("TCP", "127.0.0.1", 8001)], false),
            ("TCP hostPort conflict due to 0.0.0.0 hostIP", vec![("TCP", "10.0.10.10", 8001), ("TCP", "0.0.0.0", 8001)], vec![("TCP", "127.0.0.1", 8001)], false),
            ("second tcp port conflict to 0.0.0.0 hostIP", vec![("TCP", "127.0.0.1", 8001)], vec![("TCP", "0.0.0.0", 8001)], false),
            ("second different protocol", vec![("UDP", "0.0.0.0", 8001)], vec![("TCP", "0.0.0.0", 8001)], true),
            ("UDP hostPort conflict due to 0.0.0.0 hostIP", vec![("UDP", "0.0.0.0", 8001)], vec![("TCP", "0.0.0.0", 8001), ("UDP", "0.0.0.0", 8001)], false),
        ];
        for (name, want, used, ok) in cases {
            let existing = if used.is_empty() { vec![] } else { vec![on(ported("e", &used), "n")] };
            let snap = snapshot(vec![node("n", &[("pods", "10")])], existing);
            let st = run_filter(&NodePorts, &ported("p", &want), &snap, 0);
            assert_eq!(st.is_success(), ok, "{name}");
            if !ok {
                assert_eq!(st.reasons, vec![ERR_REASON.to_string()], "{name}");
            }
        }
    }
}
