//! A YAML document as a tree of values with byte spans, read with serde-saphyr.
//!
//! YAML 1.2 core schema (so `10e-3` is a number and `n`/`y` are strings, as PyRates' ruamel
//! reader sees them), duplicate keys rejected, anchors and aliases resolved.

use crate::equation::Origin;
use rateforge_ir::{Diagnostic, FileId, Span};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A YAML value with its span.
#[derive(Clone, Debug)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it is written (for an alias: where the alias is used).
    pub span: Span,
    /// Byte offset where a string's characters appear verbatim in the file, if they do.
    pub verbatim: Option<usize>,
}

/// YAML values.
#[derive(Clone, Debug)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short description of the kind of value, for messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one (integers included).
    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of key `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The key as text: strings as they are, numbers and booleans as written.
    pub fn key_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Where the characters of this string can be found in the file, for parsing it.
    pub fn origin(&self) -> Origin {
        match self.verbatim {
            Some(base) => Origin::exact(self.span.file, base),
            None => Origin::whole(self.span),
        }
    }
}

/// Parses a YAML document; syntax errors become a diagnostic at their position.
pub fn parse(text: &str, file: FileId) -> Result<Node, Diagnostic> {
    let options = serde_saphyr::options! { strict_booleans: true };
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(text, options) {
        Ok(root) => Ok(convert(root, text, file)),
        Err(err) => Err(syntax_error(&err, text, file)),
    }
}

fn syntax_error(err: &serde_saphyr::Error, text: &str, file: FileId) -> Diagnostic {
    let message = err.without_snippet().to_string();
    let message = message
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .trim()
        .to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    let span = err.location().map_or(Span::new(file, 0..0), |loc| {
        let start = loc
            .span()
            .byte_offset()
            .map(|b| b as usize)
            .unwrap_or_else(|| offset_of(text, loc.line() as usize, loc.column() as usize));
        let mut start = start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let end = text[start..]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8());
        Span::new(file, start..end)
    });
    // serde-saphyr's advice about its own options means nothing to a model author.
    let message = match message.strip_prefix("duplicate mapping key: ") {
        Some(rest) => format!(
            "duplicate key `{}`",
            rest.split(", set DuplicateKeyPolicy")
                .next()
                .unwrap_or(rest)
                .trim()
        ),
        None => message,
    };
    // The parser's limits and its API advice, said in a model author's terms.
    let (message, help) = if message.contains("budget breached") {
        (
            "the YAML expands to too many nodes (aliases repeating anchors that repeat anchors, \
             a \"billion laughs\")"
                .to_string(),
            Some(
                "a model file needs far fewer values than this; write them out, or use fewer aliases",
            ),
        )
    } else if message
        .to_ascii_lowercase()
        .contains("multiple yaml documents")
    {
        (
            "the file holds more than one YAML document (separated by `---`)".to_string(),
            Some("a model file is one document: remove the extra `---` lines, or split the file"),
        )
    } else {
        (message, None)
    };
    let mut first = message.chars();
    let lower = first
        .next()
        .map(|c| c.to_lowercase().collect::<String>() + first.as_str())
        .unwrap_or_default();
    Diagnostic::error(format!("invalid YAML: {lower}"))
        .with_primary(span, "here")
        .with_help(if let Some(help) = help {
            help
        } else if lower_is_duplicate(&lower) {
            "each key may appear only once in a mapping; remove or rename one of them"
        } else {
            "model files are YAML 1.2; check indentation, quoting and `key: value` pairs"
        })
}

fn lower_is_duplicate(message: &str) -> bool {
    message.starts_with("duplicate key")
}

fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return offset
                + l.char_indices()
                    .nth(col.saturating_sub(1))
                    .map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len()
}

/// The value as serde sees it, before spans are converted.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        Ok(Raw::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut out = Vec::new();
        while let Some(entry) = map.next_entry()? {
            out.push(entry);
        }
        Ok(Raw::Map(out))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

fn convert(raw: Spanned<Raw>, text: &str, file: FileId) -> Node {
    let loc = raw.referenced;
    let sp = loc.span();
    let (start, end) = match (sp.byte_offset(), sp.byte_len()) {
        (Some(b), Some(l)) => (b as usize, (b + l) as usize),
        _ => {
            let s = offset_of(text, loc.line() as usize, loc.column() as usize);
            (s, s)
        }
    };
    let (start, end) = (
        start.min(text.len()),
        end.min(text.len()).max(start.min(text.len())),
    );
    let span = Span::new(file, start..end);
    let mut verbatim = None;
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Int(i),
        Raw::Float(f) => Value::Float(f),
        Raw::Str(s) => {
            let src = text.get(start..end).unwrap_or("");
            if src == s {
                verbatim = Some(start);
            } else if src.len() == s.len() + 2
                && (src.starts_with('"') || src.starts_with('\''))
                && src.get(1..src.len() - 1) == Some(s.as_str())
            {
                verbatim = Some(start + 1);
            }
            Value::Str(s)
        }
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|i| convert(i, text, file)).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(k, text, file), convert(v, text, file)))
                .collect(),
        ),
    };
    // A span that does not cover the value's text (aliases, block scalars) is still a location.
    Node {
        value,
        span,
        verbatim,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rateforge_ir::SourceMap;

    fn load(text: &str) -> (SourceMap, Result<Node, Diagnostic>) {
        let mut s = SourceMap::new();
        let f = s.add("m.yaml", text);
        let r = parse(text, f);
        (s, r)
    }

    #[test]
    fn yaml_12_scalars_and_spans() {
        let text = "%YAML 1.2\n---\nop:\n  n: 10e-3\n  y: \"1e-3\"\n  eq: 'x = a'\n  k: 2\n";
        let (s, r) = load(text);
        let root = r.unwrap();
        let op = root.get("op").unwrap();
        assert_eq!(op.get("n").unwrap().as_f64(), Some(0.01));
        let y = op.get("y").unwrap();
        assert_eq!(y.as_str(), Some("1e-3"));
        assert_eq!(s.snippet(y.span), "\"1e-3\"");
        assert_eq!(y.verbatim, Some(text.find("1e-3").unwrap()));
        assert!(matches!(op.get("k").unwrap().value, Value::Int(2)));
        let keys: Vec<_> = op
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.key_text().unwrap())
            .collect();
        assert_eq!(keys, ["n", "y", "eq", "k"]);
    }

    #[test]
    fn aliases_resolve() {
        let (_, r) = load("aliases:\n  - &e some.ref\nc:\n  base: *e\n");
        assert_eq!(
            r.unwrap().get("c").unwrap().get("base").unwrap().as_str(),
            Some("some.ref")
        );
    }

    #[test]
    fn syntax_and_duplicate_errors_have_positions() {
        let (s, r) = load("a:\n  b: [1, 2\n");
        let d = r.unwrap_err();
        assert!(d.message.starts_with("invalid YAML"), "{}", d.message);
        assert!(d.primary_span().is_some());
        let (s2, r2) = load("a: 1\nb: 2\na: 3\n");
        let d2 = r2.unwrap_err();
        let loc = s2.location(d2.primary_span().unwrap());
        assert!(d2.message.contains("duplicate"), "{}", d2.message);
        assert!(loc.starts_with("m.yaml:3:"), "{loc}");
        let _ = s;
    }
}
