//! Loading real Kubernetes manifests: v1 and apps/v1 objects, multi-document
//! YAML, and `kind: List` as `kubectl get … -o yaml` prints it. Fields kubesim
//! does not model are kept as written (they survive create → get, and every
//! write) but not simulated, with a warning naming file:line:column; bad
//! values are errors naming the same.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

use crate::model::{Kind, Object};
use crate::yamlpos::{PathSeg, Position, SourceError, display_path};

/// A warning about a user's file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub pos: Position,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: warning: {}", self.file, self.pos.line, self.pos.column, self.message)
    }
}

/// An object as loaded, with where it came from.
#[derive(Clone, Debug)]
pub struct LoadedObject {
    pub object: Object,
    pub file: String,
    pub pos: Position,
}

#[derive(Clone, Debug, Default)]
pub struct Manifests {
    pub objects: Vec<LoadedObject>,
    pub warnings: Vec<Warning>,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    items: Option<Vec<ItemHeader>>,
}

#[derive(Deserialize)]
struct ItemHeader {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// Resolves apiVersion + kind to a modelled kind, or explains what is expected.
pub fn resolve_kind(api_version: Option<&str>, kind: Option<&str>) -> Result<Kind, String> {
    let kind_name = kind.ok_or("missing field `kind`; expected one of ".to_string() + &Kind::expected_list())?;
    let k = Kind::ALL.iter().copied().find(|k| k.name() == kind_name).ok_or_else(|| {
        format!("kind {kind_name:?} is not modelled by kubesim; expected one of {}", Kind::expected_list())
    })?;
    match api_version {
        None => Err(format!("missing field `apiVersion`; expected {:?} for {kind_name}", k.api_version())),
        Some(v) if v == k.api_version() => Ok(k),
        Some(v) => Err(format!("apiVersion {v:?} is not served for {kind_name}; expected {:?}", k.api_version())),
    }
}

/// Parses a YAML text of one or more documents; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<Manifests, SourceError> {
    let mut out = Manifests::default();
    let headers: Vec<Option<Header>> = serde_yaml::Deserializer::from_str(text)
        .map(|doc| Option::<Header>::deserialize(doc).map_err(|e| SourceError::from_yaml(file, &e)))
        .collect::<Result<_, _>>()?;
    // Every position of the text, found in one pass (a position per document
    // and per ignored field would otherwise re-read the file each time).
    let positions = std::cell::OnceCell::new();
    let index = || positions.get_or_init(|| crate::yaml_index::PositionIndex::new(text));
    // Each document as JSON, read once for all (only when a document has unmodelled fields).
    let values = std::cell::OnceCell::new();
    let document_value = |doc_index: usize| -> &serde_json::Value {
        let all: &Vec<serde_json::Value> = values.get_or_init(|| serde_yaml::Deserializer::from_str(text).map(|d| serde_json::Value::deserialize(d).unwrap_or_default()).collect());
        all.get(doc_index).unwrap_or(&serde_json::Value::Null)
    };
    for (doc_index, (doc, header)) in serde_yaml::Deserializer::from_str(text).zip(headers).enumerate() {
        let Some(header) = header else { continue }; // an empty document
        let at = |path: &[PathSeg]| index().locate_nearest(doc_index, path);
        let kind_path = [PathSeg::Key("kind".into())];
        if header.kind.as_deref() == Some("List") {
            let items = header.items.unwrap_or_default();
            let mut kinds = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let item_kind = [PathSeg::Key("items".into()), PathSeg::Index(i), PathSeg::Key("kind".into())];
                let k = resolve_kind(item.api_version.as_deref(), item.kind.as_deref())
                    .map_err(|m| SourceError::at(file, at(&item_kind), format!("items[{i}]: {m}")))?;
                kinds.push(k);
            }
            let mut ignored = Vec::new();
            let mut objects = ListSeed { kinds: &kinds, ignored: &mut ignored }.deserialize(doc).map_err(|e| SourceError::from_yaml(file, &e))?;
            if !ignored.is_empty() {
                let value = document_value(doc_index);
                for (i, object) in objects.iter_mut().enumerate() {
                    let mine: Vec<Vec<PathSeg>> = ignored
                        .iter()
                        .filter_map(|p| match p.as_slice() {
                            [PathSeg::Key(k), PathSeg::Index(j), rest @ ..] if k == "items" && *j == i => Some(rest.to_vec()),
                            _ => None,
                        })
                        .collect();
                    object.keep_unmodelled(&value["items"][i], &mine);
                }
            }
            for path in ignored {
                out.warnings.push(unmodelled(file, at(&path), &path));
            }
            for (i, object) in objects.into_iter().enumerate() {
                let pos = at(&[PathSeg::Key("items".into()), PathSeg::Index(i)]);
                out.objects.push(LoadedObject { object, file: file.into(), pos });
            }
            continue;
        }
        let kind = resolve_kind(header.api_version.as_deref(), header.kind.as_deref()).map_err(|m| {
            let pos = index().locate(doc_index, &kind_path).unwrap_or_else(|| at(&[]));
            SourceError::at(file, pos, m)
        })?;
        let mut ignored = Vec::new();
        let mut object = Object::deserialize_kind(kind, doc, &mut |p| ignored.push(p)).map_err(|e| SourceError::from_yaml(file, &e))?;
        if !ignored.is_empty() {
            object.keep_unmodelled(document_value(doc_index), &ignored);
        }
        for path in ignored {
            out.warnings.push(unmodelled(file, at(&path), &path));
        }
        out.objects.push(LoadedObject { object, file: file.into(), pos: at(&[]) });
    }
    for o in &mut out.objects {
        o.object = strip_server_fields(o.object.clone());
    }
    Ok(out)
}

pub fn unmodelled(file: &str, pos: Position, path: &[PathSeg]) -> Warning {
    Warning { file: file.into(), pos, message: format!("field {} is not modelled by kubesim: kept as written, not simulated", display_path(path)) }
}


/// What kube-apiserver sets on create is cleared on import, as `kubectl create`
/// from `kubectl get -o yaml` output needs: uid, resourceVersion, generation,
/// creationTimestamp. Everything the user wrote is kept.
pub fn strip_server_fields(mut obj: Object) -> Object {
    let m = obj.meta();
    if m.uid.is_empty() && m.resource_version.is_empty() && m.generation == 0 && m.creation_timestamp.is_none() {
        return obj;
    }
    let m = obj.meta_mut();
    m.uid.clear();
    m.resource_version.clear();
    m.generation = 0;
    m.creation_timestamp = None;
    obj
}

/// Decodes one object of a known kind, collecting unmodelled fields (as full
/// paths below `prefix`).
pub struct ObjectSeed<'a> {
    pub kind: Kind,
    pub ignored: &'a mut Vec<Vec<PathSeg>>,
    pub prefix: Vec<PathSeg>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = Object;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Object, D::Error> {
        let prefix = self.prefix;
        let ignored = self.ignored;
        Object::deserialize_kind(self.kind, d, &mut |p| {
            let mut full = prefix.clone();
            full.extend(p);
            ignored.push(full);
        })
    }
}

struct ListSeed<'a> {
    kinds: &'a [Kind],
    ignored: &'a mut Vec<Vec<PathSeg>>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Vec<Object>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Object>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Vec<Object>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a List with items")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Object>, A::Error> {
        let mut objects = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "items" => objects = map.next_value_seed(ItemsSeed { kinds: self.kinds, ignored: self.ignored })?,
                "apiVersion" | "kind" | "metadata" => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    self.ignored.push(vec![PathSeg::Key(key)]);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(objects)
    }
}

struct ItemsSeed<'a> {
    kinds: &'a [Kind],
    ignored: &'a mut Vec<Vec<PathSeg>>,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = Vec<Object>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Object>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = Vec<Object>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Object>, A::Error> {
        let mut out = Vec::new();
        while out.len() < self.kinds.len() {
            let prefix = vec![PathSeg::Key("items".into()), PathSeg::Index(out.len())];
            let seed = ObjectSeed { kind: self.kinds[out.len()], ignored: self.ignored, prefix };
            match seq.next_element_seed(seed)? {
                Some(o) => out.push(o),
                None => break,
            }
        }
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("more items than the List header saw"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_multi_document_yaml() {
        let text = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {capacity: {cpu: '4', memory: 8Gi}}\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: nginx}]}\n";
        let m = parse(text, "m.yaml").unwrap();
        assert_eq!(m.objects.len(), 2);
        assert_eq!(m.objects[0].object.kind(), Kind::Node);
        assert_eq!(m.objects[1].object.kind(), Kind::Deployment);
        assert_eq!(m.objects[1].pos.line, 7);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn loads_kubectl_list_output_and_strips_server_fields() {
        let text = r#"apiVersion: v1
items:
- apiVersion: v1
  kind: Node
  metadata:
    creationTimestamp: "2024-05-01T10:00:00Z"
    labels: {kubernetes.io/hostname: n1}
    name: n1
    resourceVersion: "812"
    uid: 0b5c8a43-2c51-4b8e-9d0a-4d0b3e0c9b11
    managedFields: [{manager: kubelet}]
  spec: {podCIDR: 10.244.0.0/24}
  status:
    allocatable: {cpu: "2", memory: 7973384Ki, pods: "110"}
    capacity: {cpu: "2", memory: 8075784Ki, pods: "110"}
    nodeInfo: {kubeletVersion: v1.32.0}
- apiVersion: v1
  kind: Pod
  metadata: {name: p, namespace: default}
  spec:
    nodeName: n1
    containers:
    - name: c
      image: nginx:1.25
      resources: {requests: {cpu: 250m, memory: 64Mi}}
      volumeMounts: [{name: v, mountPath: /x}]
  status: {phase: Running}
kind: List
metadata:
  resourceVersion: ""
"#;
        let m = parse(text, "list.yaml").unwrap();
        assert_eq!(m.objects.len(), 2);
        let node = m.objects[0].object.as_node().unwrap();
        assert_eq!(node.metadata.uid, "");
        assert_eq!(node.metadata.resource_version, "");
        assert_eq!(node.status.allocatable["memory"].value(), 7_973_384 * 1024);
        let pod = m.objects[1].object.as_pod().unwrap();
        assert_eq!(pod.spec.containers[0].resources.requests["cpu"].milli_value(), 250);
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        let w = m.warnings[0].to_string();
        assert_eq!(w, "list.yaml:26:7: warning: field items[1].spec.containers[0].volumeMounts is not modelled by kubesim: kept as written, not simulated");
        // Kept in place: the pod prints it back, the node (without any) holds nothing extra.
        let printed = m.objects[1].object.to_json_value();
        assert_eq!(printed["spec"]["containers"][0]["volumeMounts"], serde_json::json!([{"name": "v", "mountPath": "/x"}]));
        assert!(m.objects[0].object.meta().unmodelled.0.is_none());
    }

    #[test]
    fn bad_quantity_names_file_line_column() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: x\n    resources:\n      requests:\n        cpu: 12parsecs\n";
        let e = parse(text, "pod.yaml").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("pod.yaml", 10), "{e}");
        assert!(e.message.contains("invalid quantity \"12parsecs\""), "{e}");
    }

    #[test]
    fn unknown_kind_and_wrong_api_version_are_errors() {
        let e = parse("apiVersion: v1\nkind: Widget\n", "w.yaml").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("kind \"Widget\" is not modelled"), "{e}");
        let e = parse("apiVersion: extensions/v1beta1\nkind: Deployment\n", "d.yaml").unwrap_err();
        assert!(e.message.contains("expected \"apps/v1\""), "{e}");
        let e = parse("kind: Pod\nmetadata: {name: [x\n", "bad.yaml").unwrap_err();
        assert_eq!(e.file, "bad.yaml");
        assert!(e.line >= 2, "{e}");
    }
}
