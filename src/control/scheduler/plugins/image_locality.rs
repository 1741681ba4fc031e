//! ImageLocality: favours nodes that already hold the pod's images, scaled by
//! how widely each image is spread, between 23 MB and 1000 MB per container
//! (imagelocality/image_locality.go).

use crate::control::scheduler::framework::*;

pub const NAME: &str = "ImageLocality";
const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

pub struct ImageLocality;

fn priority(sum: i64, containers: usize) -> i64 {
    let max = MAX_CONTAINER_THRESHOLD * containers as i64;
    let sum = sum.clamp(MIN_THRESHOLD, max.max(MIN_THRESHOLD));
    if max <= MIN_THRESHOLD {
        return 0;
    }
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
}


/// The pod's images, normalised, with how many nodes hold each (once per cycle).
struct Images(Vec<(String, usize)>);

crate::extends!(ImageLocality, NAME, [pre_score, score]);

impl PreScorePlugin for ImageLocality {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _: &[&NodeInfo], snapshot: &Snapshot) -> Status {
        let spec = &pod.pod.spec;
        let images = spec
            .init_containers
            .iter()
            .chain(spec.containers.iter())
            .map(|c| {
                let name = normalized_image_name(&c.image);
                let holders = snapshot.image_node_count(&name);
                (name, holders)
            })
            .collect();
        state.write(Images(images));
        Status::success()
    }
}

impl ScorePlugin for ImageLocality {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo, snapshot: &Snapshot) -> Result<i64, Status> {
        let total = snapshot.nodes.len().max(1);
        let containers = pod.pod.spec.init_containers.len() + pod.pod.spec.containers.len();
        let Some(Images(images)) = state.read::<Images>() else { return Ok(0) };
        let mut sum = 0i64;
        for (image, holders) in images {
            if let Some(size) = node.images.get(image) {
                sum += (*size as f64 * (*holders as f64 / total as f64)) as i64;
            }
        }
        Ok(priority(sum, containers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::scheduler::plugins::testing::*;
    use crate::model::node::ContainerImage;

    fn with_images(mut n: crate::model::node::Node, images: &[(&[&str], i64)]) -> crate::model::node::Node {
        n.status.images = images.iter().map(|(names, size)| ContainerImage { names: names.iter().map(|s| s.to_string()).collect(), size_bytes: Some(*size) }).collect();
        n
    }

    fn with_containers(images: &[&str]) -> crate::model::pod::Pod {
        let mut p = pod("p", &[]);
        for (i, img) in images.iter().enumerate() {
            p.spec.containers.push(crate::model::pod::Container { name: format!("c{i}"), image: img.to_string(), ..Default::default() });
        }
        p
    }

    /// TestImageLocalityPriority, upstream cases by name.
    #[test]
    fn upstream_cases() {
        let node403002000 = || {
            with_images(
                node("node1", &[]),
                &[(&["gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"], 40 * MB), (&["gcr.io/300:latest", "gcr.io/300:v1"], 300 * MB), (&["gcr.io/2000:latest"], 2000 * MB)],
            )
        };
        let node25010 = || with_images(node("node2", &[]), &[(&["gcr.io/250:latest"], 250 * MB), (&["gcr.io/10:latest", "gcr.io/10:v1"], 10 * MB)]);
        let score = |p: &crate::model::pod::Pod, nodes: Vec<crate::model::node::Node>| run_score(&ImageLocality, p, &snapshot(nodes, vec![]));
        // "two images spread on two nodes, prefer the larger image one"
        // node1: 40M * 1/2 = 20M → clamped to 23M → 0; node2: 250M * 1/2 = 125M → (125-23)*100/(2000-23) = 5.
        assert_eq!(score(&with_containers(&["gcr.io/40", "gcr.io/250"]), vec![node403002000(), node25010()]), Some(vec![0, 5]), "two images spread on two nodes, prefer the larger image one");
        // "two images on one node, prefer this node": node1: (40+300)/2 = 170M → (170-23)*100/(1977) = 7; node2: 0.
        assert_eq!(score(&with_containers(&["gcr.io/40", "gcr.io/300"]), vec![node403002000(), node25010()]), Some(vec![7, 0]), "two images on one node, prefer this node");
        // "if exceed limit, use limit": node1: 2000M/2 = 1000M → 100*(1000-23)/(2000-23) = 49; node2: 10M/2 < 23M → 0.
        assert_eq!(score(&with_containers(&["gcr.io/2000", "gcr.io/10"]), vec![node403002000(), node25010()]), Some(vec![49, 0]), "if exceed limit, use limit");
    }
}
