//! Source positions for YAML input: every user-facing error and warning about a
//! scenario or manifest names `file:line:column`.
//!
//! serde_yaml attaches a position to errors raised while decoding. To find the
//! position of a field that decoded fine (an ignored key, a value that failed a
//! later semantic check) we walk the document again and fail on purpose at that
//! field: the failure comes back marked with its line and column.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A file position, 1-based.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// An error in a user's file: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// `file:line:column: message`, or `file: message` when the error has no
/// position (the file could not be read at all).
impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = shorten_quoted(&self.message);
        if self.line == 0 {
            write!(f, "{}: {message}", self.file)
        } else {
            write!(f, "{}:{}:{}: {message}", self.file, self.line, self.column)
        }
    }
}

impl std::error::Error for SourceError {}

impl SourceError {
    pub fn at(file: &str, pos: Position, message: impl Into<String>) -> SourceError {
        SourceError { file: file.to_string(), line: pos.line, column: pos.column, message: message.into() }
    }

    /// Wraps a serde_yaml error, moving its position into `file:line:column` form.
    pub fn from_yaml(file: &str, e: &serde_yaml::Error) -> SourceError {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        let mut message = e.to_string();
        if let Some(idx) = message.rfind(" at line ") {
            message.truncate(idx);
        }
        SourceError { file: file.to_string(), line, column, message: in_user_terms(&message) }
    }
}

/// Deeper flow nesting (`[[[…` / `{{{…`) than any manifest needs; serde_yaml
/// refuses beyond 128 levels anyway, but libyaml's scanner takes time
/// quadratic in the depth to get there (30,000 levels: tens of seconds).
pub const MAX_FLOW_DEPTH: usize = 128;

/// Refuses flow collections nested deeper than `MAX_FLOW_DEPTH`, in one
/// linear pass (quotes and comments skipped), before the YAML parser sees them.
pub fn check_flow_depth(text: &str, file: &str) -> Result<(), SourceError> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = '\n';
    for c in text.chars() {
        column += 1;
        if c == '\n' {
            line += 1;
            column = 0;
            comment = false;
            prev = c;
            continue;
        }
        if comment {
            continue;
        }
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '#') if prev.is_whitespace() => comment = true,
            (None, '"' | '\'') if depth > 0 || prev.is_whitespace() || prev == ':' => quote = Some(c),
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Err(SourceError { file: file.to_string(), line, column, message: format!("collections nested more than {MAX_FLOW_DEPTH} levels deep") });
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
    }
    Ok(())
}

/// The longest quoted value an error echoes back whole.
const QUOTED_MAX: usize = 120;

/// Cuts quoted values (`"…"` or `` `…` ``) longer than `QUOTED_MAX`
/// characters: an error about a megabyte value should not print it.
pub fn shorten_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4096));
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=start]);
        let after = &rest[start + 1..];
        let Some(len) = after.find(quote) else {
            rest = after;
            continue;
        };
        let inner = &after[..len];
        let chars = inner.chars().count();
        if chars > QUOTED_MAX {
            out.extend(inner.chars().take(QUOTED_MAX / 2));
            out.push_str(&format!("… ({chars} characters)"));
        } else {
            out.push_str(inner);
        }
        out.push(quote);
        rest = &after[len + 1..];
    }
    out.push_str(rest);
    out
}

/// serde's words for what was expected, in the words of the file's format:
/// no Rust type names.
pub fn in_user_terms(message: &str) -> String {
    const UNTAGGED: &[(&str, &str)] = &[
        ("IntOrString", "an integer or a percentage such as \"25%\""),
        ("Repr", "a duration such as 30s, 5m or 1h30m"),
    ];
    let mut m = message.to_string();
    for (name, words) in UNTAGGED {
        m = m.replace(&format!("data did not match any variant of untagged enum {name}"), &format!("expected {words}"));
    }
    if m.contains("data did not match any variant of untagged enum") {
        m = "the value has none of the forms this field accepts".into();
    }
    // "expected struct CountSpec" → "expected a mapping (key: value)".
    while let Some(i) = m.find("expected struct ") {
        let end = m[i + 16..].find(|c: char| !c.is_alphanumeric() && c != '_').map_or(m.len(), |e| i + 16 + e);
        m.replace_range(i..end, "expected a mapping (key: value, …)");
    }
    while let Some(i) = m.find("expected tuple struct ") {
        let end = m[i + 22..].find(|c: char| !c.is_alphanumeric() && c != '_').map_or(m.len(), |e| i + 22 + e);
        m.replace_range(i..end, "expected a value of another form");
    }
    m
}

/// One step into a YAML document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// Renders `spec.containers[0].image`.
pub fn display_path(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Converts a serde_ignored path into segments.
pub fn from_ignored(path: &serde_ignored::Path) -> Vec<PathSeg> {
    use serde_ignored::Path as P;
    let mut out = match path {
        P::Root => return vec![],
        P::Seq { parent, .. } | P::Map { parent, .. } | P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            from_ignored(parent)
        }
    };
    match path {
        P::Seq { index, .. } => out.push(PathSeg::Index(*index)),
        P::Map { key, .. } => out.push(PathSeg::Key(key.clone())),
        _ => {}
    }
    out
}

const FOUND: &str = "\u{0}kubesim-found";

/// Position of `path` in document `doc_index` (0-based) of `text`: the key for a
/// map entry, the element for a sequence item, the document start for `[]`.
pub fn locate(text: &str, doc_index: usize, path: &[PathSeg]) -> Option<Position> {
    let doc = serde_yaml::Deserializer::from_str(text).nth(doc_index)?;
    let err = match (Locate { path }).deserialize(doc) {
        Ok(()) => return None,
        Err(e) => e,
    };
    if !err.to_string().contains(FOUND) {
        return None;
    }
    err.location().map(|l| Position { line: l.line(), column: l.column() })
}

/// Like `locate`, falling back to the nearest ancestor that exists.
pub fn locate_nearest(text: &str, doc_index: usize, path: &[PathSeg]) -> Position {
    (0..=path.len()).rev().find_map(|n| locate(text, doc_index, &path[..n])).unwrap_or(Position { line: 1, column: 1 })
}

struct Locate<'a> {
    path: &'a [PathSeg],
}

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((PathSeg::Key(target), rest)) = self.path.split_first() else {
            return Err(de::Error::custom(FOUND));
        };
        loop {
            // The key seed fails on the wanted key when it is the last step, so the
            // error is marked at the key itself.
            let matched = map.next_key_seed(KeySeed { target, fail: rest.is_empty() })?;
            match matched {
                None => return Ok(()),
                Some(true) => return map.next_value_seed(Locate { path: rest }),
                Some(false) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((PathSeg::Index(target), rest)) = self.path.split_first() else {
            return Err(de::Error::custom(FOUND));
        };
        let mut i = 0;
        loop {
            if i == *target {
                return seq.next_element_seed(Locate { path: rest }).map(|_| ());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Locate<'_> {
    fn scalar<E: de::Error>(&self) -> Result<(), E> {
        if self.path.is_empty() { Err(E::custom(FOUND)) } else { Ok(()) }
    }
}

struct KeySeed<'a> {
    target: &'a str,
    fail: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        if v == self.target && self.fail { Err(E::custom(FOUND)) } else { Ok(v == self.target) }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.visit_str("null")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PathSeg {
        PathSeg::Key(s.into())
    }

    #[test]
    fn locates_keys_items_and_documents() {
        let text = "a: 1\n---\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: x\n  - name: d\n    bogus: 3\n";
        assert_eq!(locate(text, 1, &[key("kind")]), Some(Position { line: 3, column: 1 }));
        let p = locate(text, 1, &[key("spec"), key("containers"), PathSeg::Index(1), key("bogus")]).unwrap();
        assert_eq!((p.line, p.column), (9, 5));
        let p = locate(text, 1, &[key("spec"), key("containers"), PathSeg::Index(0)]).unwrap();
        assert_eq!(p.line, 6);
        assert_eq!(locate(text, 1, &[key("nope")]), None);
        assert_eq!(locate_nearest(text, 1, &[key("spec"), key("nope")]).line, 4);
        assert_eq!(display_path(&[key("spec"), key("containers"), PathSeg::Index(1), key("bogus")]), "spec.containers[1].bogus");
    }
}

/// Decodes the value at `path` in document `doc_index` with `seed`, keeping
/// serde_yaml's positions in errors. `Ok(None)` if the path is not there.
pub fn decode_at<'de, S>(text: &'de str, doc_index: usize, path: &[PathSeg], seed: S) -> Result<Option<S::Value>, serde_yaml::Error>
where
    S: DeserializeSeed<'de>,
{
    let Some(doc) = serde_yaml::Deserializer::from_str(text).nth(doc_index) else { return Ok(None) };
    AtPath { path, seed }.deserialize(doc)
}

struct AtPath<'p, S> {
    path: &'p [PathSeg],
    seed: S,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for AtPath<'_, S> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        if self.path.is_empty() {
            return self.seed.deserialize(d).map(Some);
        }
        d.deserialize_any(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for AtPath<'_, S> {
    type Value = Option<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map or sequence")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some((PathSeg::Key(target), rest)) = self.path.split_first() else { return Ok(None) };
        let mut seed = Some(self.seed);
        let mut out = None;
        while let Some(matched) = map.next_key_seed(KeySeed { target, fail: false })? {
            match (matched, seed.take()) {
                (true, Some(s)) => out = map.next_value_seed(AtPath { path: rest, seed: s })?,
                (_, s) => {
                    seed = s;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let Some((PathSeg::Index(target), rest)) = self.path.split_first() else { return Ok(None) };
        let mut seed = Some(self.seed);
        let mut out = None;
        let mut i = 0;
        loop {
            if i == *target
                && let Some(s) = seed.take()
            {
                match seq.next_element_seed(AtPath { path: rest, seed: s })? {
                    Some(v) => out = v,
                    None => return Ok(None),
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(out);
            }
            i += 1;
        }
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod decode_tests {
    use super::*;

    #[test]
    fn decodes_at_a_path_with_positions() {
        let text = "a:\n  - x: 1\n  - x: two\n";
        let got: Option<u32> = decode_at(text, 0, &[PathSeg::Key("a".into()), PathSeg::Index(0), PathSeg::Key("x".into())], std::marker::PhantomData).unwrap();
        assert_eq!(got, Some(1));
        let err = decode_at::<std::marker::PhantomData<u32>>(text, 0, &[PathSeg::Key("a".into()), PathSeg::Index(1), PathSeg::Key("x".into())], std::marker::PhantomData).unwrap_err();
        assert_eq!(err.location().map(|l| l.line()), Some(3));
    }
}
