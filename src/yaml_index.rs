//! Every position of a YAML text, found in one pass.
//!
//! `yamlpos::locate` finds one field's position by walking the document again
//! and failing on purpose at it, so each call costs the whole text: a loader
//! that asked for every object's position (400 inline objects: 2.3 s) grew
//! with objects × file size. This index walks libyaml's events once — the
//! same parser serde_yaml uses, so the positions are exactly those of
//! serde_yaml's own errors — and answers each path by a walk down the tree.
//!
//! Positions follow `locate`: a map entry is at its key, a sequence item at
//! its first character, a document at its root node.

use crate::yamlpos::{PathSeg, Position};
use std::mem::MaybeUninit;
use unsafe_libyaml as sys;

/// One node of a document: where it starts, and its children.
#[derive(Debug, Default)]
struct Node {
    pos: Position,
    /// A mapping's entries in order: key text, the key's position, the value's node.
    entries: Vec<(Box<str>, Position, usize)>,
    /// A sequence's items, in order.
    items: Vec<usize>,
}

/// Positions of every key and item of every document of a text.
#[derive(Debug, Default)]
pub struct PositionIndex {
    nodes: Vec<Node>,
    /// The root node of each document, in order.
    docs: Vec<usize>,
}

/// What an open collection is waiting for.
enum Open {
    /// A mapping: the next scalar is a key unless `key` holds one waiting for its value.
    Map { node: usize, key: Option<(Box<str>, Position)> },
    Seq { node: usize },
}

impl PositionIndex {
    /// Indexes `text`. A text libyaml cannot parse is indexed up to the error
    /// (the decoder reports the error itself, with its position).
    pub fn new(text: &str) -> PositionIndex {
        let mut index = PositionIndex::default();
        let mut open: Vec<Open> = Vec::new();
        let mut parser = Parser::new(text.as_bytes());
        let mut last = Position { line: 1, column: 1 };
        while let Some((event, pos)) = parser.next() {
            last = pos.clone();
            match event {
                // libyaml gives every document a root node (an empty one a null scalar).
                Event::DocumentStart | Event::DocumentEnd => {}
                Event::StreamEnd => break,
                Event::Scalar(value) => {
                    // A mapping's key: remembered until its value arrives.
                    if let Some(Open::Map { key: key @ None, .. }) = open.last_mut() {
                        *key = Some((value.into_boxed_str(), pos));
                        continue;
                    }
                    index.attach(&mut open, pos);
                }
                Event::Alias => {
                    index.attach(&mut open, pos);
                }
                Event::MappingStart | Event::SequenceStart => {
                    // A complex (collection) key is entered under no name.
                    if let Some(Open::Map { key: key @ None, .. }) = open.last_mut() {
                        *key = Some((Box::from(""), pos.clone()));
                    }
                    let node = index.attach(&mut open, pos);
                    open.push(if matches!(event, Event::MappingStart) { Open::Map { node, key: None } } else { Open::Seq { node } });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    open.pop();
                }
            }
        }
        // An empty stream is one empty document (as serde_yaml reads it).
        if index.docs.is_empty() {
            let root = index.placeholder(last);
            index.docs.push(root);
        }
        index
    }

    fn placeholder(&mut self, pos: Position) -> usize {
        self.nodes.push(Node { pos, ..Default::default() });
        self.nodes.len() - 1
    }

    /// A new node at `pos`, as the value its parent is waiting for (or a document's root).
    fn attach(&mut self, open: &mut [Open], pos: Position) -> usize {
        let node = self.placeholder(pos);
        match open.last_mut() {
            None => self.docs.push(node),
            Some(Open::Seq { node: parent }) => self.nodes[*parent].items.push(node),
            Some(Open::Map { node: parent, key }) => {
                let (k, at) = key.take().unwrap_or_default();
                self.nodes[*parent].entries.push((k, at, node));
            }
        }
        node
    }

    /// Position of `path` in document `doc_index`: a key's for a map entry, the
    /// item's for a sequence item, the root's for `[]`; `None` if absent.
    pub fn locate(&self, doc_index: usize, path: &[PathSeg]) -> Option<Position> {
        let mut node = *self.docs.get(doc_index)?;
        let mut at = &self.nodes[node].pos;
        for seg in path {
            let n = &self.nodes[node];
            match seg {
                PathSeg::Key(k) => {
                    let (_, key_at, value) = n.entries.iter().find(|(key, _, _)| **key == **k)?;
                    at = key_at;
                    node = *value;
                }
                PathSeg::Index(i) => {
                    node = *n.items.get(*i)?;
                    at = &self.nodes[node].pos;
                }
            }
        }
        Some(at.clone())
    }

    /// Like `locate`, falling back to the nearest ancestor that exists.
    pub fn locate_nearest(&self, doc_index: usize, path: &[PathSeg]) -> Position {
        (0..=path.len()).rev().find_map(|n| self.locate(doc_index, &path[..n])).unwrap_or(Position { line: 1, column: 1 })
    }
}

/// The events the index needs, with their start positions.
enum Event {
    DocumentStart,
    DocumentEnd,
    StreamEnd,
    Scalar(String),
    Alias,
    MappingStart,
    MappingEnd,
    SequenceStart,
    SequenceEnd,
}

/// libyaml's parser over a borrowed text. Boxed: libyaml keeps a pointer to
/// the parser itself once its input is set, so it must not move.
struct Parser<'t> {
    sys: Box<MaybeUninit<sys::yaml_parser_t>>,
    _text: &'t [u8],
    done: bool,
}

impl<'t> Parser<'t> {
    fn new(text: &'t [u8]) -> Parser<'t> {
        let mut boxed = Box::new(MaybeUninit::<sys::yaml_parser_t>::uninit());
        let p = boxed.as_mut_ptr();
        // SAFETY: `p` points to heap memory that lives (unmoved) as long as the
        // parser; the input outlives it by the `'t` borrow. Initialization can
        // only fail on allocation failure, after which the parser is never used.
        let ok = unsafe {
            if sys::yaml_parser_initialize(p).fail {
                false
            } else {
                sys::yaml_parser_set_encoding(p, sys::YAML_UTF8_ENCODING);
                sys::yaml_parser_set_input_string(p, text.as_ptr(), text.len() as u64);
                true
            }
        };
        assert!(ok, "libyaml could not allocate a parser");
        Parser { sys: boxed, _text: text, done: false }
    }

    /// The next event, or `None` at the end of the stream or at a syntax error.
    fn next(&mut self) -> Option<(Event, Position)> {
        if self.done {
            return None;
        }
        let mut event = MaybeUninit::<sys::yaml_event_t>::uninit();
        // SAFETY: the parser was initialized in `new`; a parsed event is read
        // according to its type, then freed once.
        unsafe {
            let p = self.sys.as_mut_ptr();
            if sys::yaml_parser_parse(p, event.as_mut_ptr()).fail {
                self.done = true;
                return None;
            }
            let e = &*event.as_ptr();
            let pos = Position { line: e.start_mark.line as usize + 1, column: e.start_mark.column as usize + 1 };
            let out = match e.type_ {
                sys::YAML_DOCUMENT_START_EVENT => Event::DocumentStart,
                sys::YAML_DOCUMENT_END_EVENT => Event::DocumentEnd,
                sys::YAML_STREAM_END_EVENT => Event::StreamEnd,
                sys::YAML_SCALAR_EVENT => {
                    let s = e.data.scalar;
                    let bytes = std::slice::from_raw_parts(s.value, s.length as usize);
                    Event::Scalar(String::from_utf8_lossy(bytes).into_owned())
                }
                sys::YAML_ALIAS_EVENT => Event::Alias,
                sys::YAML_MAPPING_START_EVENT => Event::MappingStart,
                sys::YAML_MAPPING_END_EVENT => Event::MappingEnd,
                sys::YAML_SEQUENCE_START_EVENT => Event::SequenceStart,
                sys::YAML_SEQUENCE_END_EVENT => Event::SequenceEnd,
                // Stream start: nothing to index.
                _ => Event::DocumentStart,
            };
            sys::yaml_event_delete(event.as_mut_ptr());
            if matches!(out, Event::StreamEnd) {
                self.done = true;
            }
            Some((out, pos))
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: initialized in `new` (which asserts success), deleted once.
        unsafe { sys::yaml_parser_delete(self.sys.as_mut_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yamlpos::locate;

    /// Every path the index holds under `node`, depth first.
    fn paths(index: &PositionIndex, node: usize, prefix: &mut Vec<PathSeg>, out: &mut Vec<Vec<PathSeg>>) {
        out.push(prefix.clone());
        let n = &index.nodes[node];
        for (k, _, v) in &n.entries {
            prefix.push(PathSeg::Key(k.to_string()));
            paths(index, *v, prefix, out);
            prefix.pop();
        }
        for (i, v) in n.items.iter().enumerate() {
            prefix.push(PathSeg::Index(i));
            paths(index, *v, prefix, out);
            prefix.pop();
        }
    }

    /// The index answers every path exactly as the walk-and-fail `locate` does.
    #[test]
    fn agrees_with_locate_on_every_path() {
        let texts = [
            "a: 1\n---\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: x\n  - name: d\n    bogus: 3\n",
            "objects:\n- manifest: {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- file: x.yaml\ntimeline:\n  - at: 1m\n    scale: {kind: Deployment, name: web, replicas: [1, 2]}\n",
            "list: [a, [b, c], {d: e}]\n'quoted key': \"v\"\nblock: |\n  text\n  more\nnull_value:\nafter: 3\n",
            "anchor: &x {a: 1}\nalias: *x\nlast: {b: 2}\n",
            "",
            "---\n---\nk: v\n",
        ];
        for text in texts {
            let index = PositionIndex::new(text);
            for doc in 0..index.docs.len() {
                let mut all = Vec::new();
                paths(&index, index.docs[doc], &mut Vec::new(), &mut all);
                for path in &all {
                    if text.trim().is_empty() && path.is_empty() {
                        continue; // an empty stream has no node for `locate` to fail at
                    }
                    assert_eq!(index.locate(doc, path), locate(text, doc, path), "{text:?} doc {doc} path {path:?}");
                }
                let missing = [PathSeg::Key("nope".into())];
                assert_eq!(index.locate(doc, &missing), None);
            }
        }
    }

    #[test]
    fn nearest_falls_back_to_the_closest_ancestor() {
        let text = "spec:\n  containers:\n  - name: c\n";
        let index = PositionIndex::new(text);
        let path = [PathSeg::Key("spec".into()), PathSeg::Key("containers".into()), PathSeg::Index(3)];
        assert_eq!(index.locate_nearest(0, &path), Position { line: 2, column: 3 });
        assert_eq!(index.locate_nearest(5, &path), Position { line: 1, column: 1 }, "no such document");
    }

    /// A syntax error ends the index where it stands; nothing panics.
    #[test]
    fn a_broken_text_is_indexed_up_to_the_error() {
        let index = PositionIndex::new("a: 1\nb: [unclosed\n");
        assert_eq!(index.locate(0, &[PathSeg::Key("a".into())]), Some(Position { line: 1, column: 1 }));
    }
}
