//! An XML element tree with spans, read with quick-xml.
//!
//! RateML needs elements and attributes only: text, comments, processing instructions and the
//! declaration are skipped. Every element keeps the span of its name and of its whole start tag,
//! every attribute the span of its name and of its value (between the quotes). Attribute values
//! are normalised as XML 1.0 prescribes (entities replaced, line breaks and tabs become spaces);
//! when that changes nothing, [`Attr::verbatim`] is set and positions inside the value map 1:1
//! onto the file, so expression errors can point at single characters.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use rateforge_ir::{Diagnostic, FileId, Span};

/// One element.
#[derive(Clone, Debug)]
pub struct Element {
    /// The element name as written.
    pub name: String,
    /// The span of the name in the start tag.
    pub span: Span,
    /// The span of the whole start tag (`<Name ...>` or `<Name .../>`).
    pub tag: Span,
    /// Attributes in document order.
    pub attrs: Vec<Attr>,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

/// One attribute.
#[derive(Clone, Debug)]
pub struct Attr {
    /// The name as written.
    pub name: String,
    /// The span of the name.
    pub name_span: Span,
    /// The normalised value.
    pub value: String,
    /// The span of the raw value, between the quotes.
    pub value_span: Span,
    /// Whether `value` is byte for byte the raw text at `value_span`.
    pub verbatim: bool,
}

impl Element {
    /// The attribute `name`; attribute names are compared case-insensitively, as PyLEMS does.
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// Parses `text` (file `file`) into its root element. Errors point at the offending position.
pub fn parse(text: &str, file: FileId) -> Result<Element, Diagnostic> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    // Open elements; a finished element is appended to its parent.
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let start = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| not_well_formed(text, file, reader.error_position() as usize, &e))?;
        let end = reader.buffer_position() as usize;
        match event {
            Event::Start(tag) | Event::Empty(tag) => {
                let empty = text.as_bytes().get(end.wrapping_sub(2)) == Some(&b'/');
                let element = element(&tag, text, file, start..end)?;
                if stack.is_empty() && root.is_some() {
                    return Err(Diagnostic::error("a second top-level element")
                        .with_primary(element.span, "after the end of the document element")
                        .with_help("an XML file has one document element: everything belongs inside `<Lems>`"));
                }
                if empty {
                    finish(element, &mut stack, &mut root);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack.pop().expect("quick-xml checks end tags");
                finish(element, &mut stack, &mut root);
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(Diagnostic::error(format!(
                        "the XML ends before `<{}>` is closed",
                        open.name
                    ))
                    .with_primary(open.span, "opened here")
                    .with_help(format!(
                        "close it with `</{}>`, or write `<{} ... />`",
                        open.name, open.name
                    )));
                }
                return root.ok_or_else(|| {
                    Diagnostic::error("the file has no XML element")
                        .with_primary(Span::new(file, 0..0), "empty document")
                        .with_help("a RateML model is a `<Lems>` element with a `<ComponentType name=\"derivatives\">` inside")
                });
            }
            // Text, comments, CDATA, entity references in text, the declaration, processing
            // instructions and the doctype carry nothing RateML reads.
            _ => {}
        }
    }
}

fn finish(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// Builds an element from its start tag at `range` of `text`.
fn element(
    tag: &BytesStart<'_>,
    text: &str,
    file: FileId,
    range: std::ops::Range<usize>,
) -> Result<Element, Diagnostic> {
    let raw = &text[range.clone()];
    let base = range.start;
    let name = tag.name().as_ref().to_string();
    let name_start = base + 1;
    let span = Span::new(file, name_start..name_start + name.len());
    let tag_span = Span::new(file, range.clone());
    let positions = attribute_positions(raw, 1 + name.len());
    let mut attrs = Vec::new();
    for (k, attr) in tag.attributes().enumerate() {
        let attr = attr.map_err(|e| {
            let at = positions.get(k).map_or(span, |p| {
                Span::new(file, base + p.name.start..base + p.name.end)
            });
            Diagnostic::error(format!("malformed attribute in `<{name}>`: {e}"))
                .with_primary(at, "here")
                .with_help("attributes look like `name=\"value\"`, each name once per element")
        })?;
        let attr_name = attr.key.as_ref().to_string();
        let Some(pos) = positions.get(k) else {
            return Err(Diagnostic::error(format!(
                "cannot locate attribute `{attr_name}` of `<{name}>`"
            ))
            .with_primary(tag_span, "in this tag")
            .with_help("write attributes as `name=\"value\"`"));
        };
        let name_span = Span::new(file, base + pos.name.start..base + pos.name.end);
        let value_span = Span::new(file, base + pos.value.start..base + pos.value.end);
        let raw_value = &raw[pos.value.clone()];
        let value = attr.normalized_value(XmlVersion::Implicit1_0).map_err(|e| {
            match entity_at_fault(raw_value) {
                Some(r) => Diagnostic::error(format!(
                    "`{}` in the value of `{attr_name}` is not an XML entity",
                    &raw_value[r.clone()]
                ))
                .with_primary(value_span.slice(r), "unknown entity")
                .with_help("XML knows only `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` and numeric references; write `&amp;` for `&` itself"),
                None => Diagnostic::error(format!("the value of `{attr_name}` is not valid XML: {e}"))
                    .with_primary(value_span, "in this value")
                    .with_help("check the characters of this value"),
            }
        })?;
        let value = value.into_owned();
        attrs.push(Attr {
            verbatim: value == raw_value,
            name: attr_name,
            name_span,
            value,
            value_span,
        });
    }
    Ok(Element {
        name,
        span,
        tag: tag_span,
        attrs,
        children: Vec::new(),
    })
}

/// The first `&...` in a raw value that is not one of XML's five entities or a character
/// reference (relative byte range).
fn entity_at_fault(raw: &str) -> Option<std::ops::Range<usize>> {
    let mut from = 0;
    while let Some(i) = raw[from..].find('&').map(|i| from + i) {
        let rest = &raw[i + 1..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '#'))
            .unwrap_or(rest.len());
        let name = &rest[..len];
        let known = matches!(name, "lt" | "gt" | "amp" | "quot" | "apos")
            || (name.starts_with('#') && name.len() > 1);
        if !(known && rest[len..].starts_with(';')) {
            let end = if rest[len..].starts_with(';') {
                len + 1
            } else {
                len
            };
            return Some(i..i + 1 + end);
        }
        from = i + 1;
    }
    None
}

/// Byte ranges (relative to the tag) of one attribute's name and raw value.
struct AttrPos {
    name: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
}

/// Finds the attributes in the raw text of a start tag (`<Name a="1" b='2'/>`), starting after
/// the name. quick-xml has already checked the syntax; this only recovers positions.
fn attribute_positions(raw: &str, from: usize) -> Vec<AttrPos> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = from;
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() || b[i] == b'>' || b[i] == b'/' {
            return out;
        }
        let name_start = i;
        while i < b.len() && !is_space(b[i]) && b[i] != b'=' && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        let name = name_start..i;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return out;
        }
        i += 1;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() || (b[i] != b'"' && b[i] != b'\'') {
            return out;
        }
        let quote = b[i];
        i += 1;
        let value_start = i;
        while i < b.len() && b[i] != quote {
            i += 1;
        }
        out.push(AttrPos {
            name,
            value: value_start..i,
        });
        i += 1;
    }
}

/// A well-formedness error from quick-xml as a diagnostic at `position`.
fn not_well_formed(text: &str, file: FileId, position: usize, e: &quick_xml::Error) -> Diagnostic {
    let position = position.min(text.len());
    let end = if text[position..].starts_with("</") {
        // A whole end tag.
        text[position..]
            .find('>')
            .map_or(text.len(), |i| position + i + 1)
    } else {
        text[position..]
            .char_indices()
            .nth(1)
            .map_or(text.len(), |(i, _)| position + i)
    };
    let message = e.to_string();
    let help = if message.contains("end tag") || message.contains("close") {
        "every `<Element>` needs a matching `</Element>` (or write `<Element ... />`)"
    } else if text[position..].starts_with('&') || message.contains("entity") {
        "write `&amp;` for `&`, `&lt;` for `<` and `&gt;` for `>` inside attribute values"
    } else {
        "check the XML syntax at this position: tags are `<Name attribute=\"value\">` ... `</Name>`"
    };
    Diagnostic::error(format!("the file is not well-formed XML: {message}"))
        .with_primary(Span::new(file, position..end), "here")
        .with_help(help)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rateforge_ir::SourceMap;

    fn parse_text(text: &str) -> (SourceMap, Result<Element, Diagnostic>) {
        let mut sources = SourceMap::new();
        let file = sources.add("t.xml", text);
        let r = parse(text, file);
        (sources, r)
    }

    #[test]
    fn elements_attributes_and_spans() {
        let text = "<?xml version=\"1.0\"?>\n<Lems description='a &amp; b'>\n  <!-- c -->\n  <ComponentType name=\"derivatives\">\n    <Parameter name=\"g\" dimension='0.0, 1.0'/>\n  </ComponentType>\n</Lems>\n";
        let (sources, root) = parse_text(text);
        let root = root.unwrap();
        assert_eq!(root.name, "Lems");
        assert_eq!(sources.snippet(root.span), "Lems");
        let d = root.attr("DESCRIPTION").unwrap();
        assert_eq!(d.value, "a & b");
        assert!(!d.verbatim);
        assert_eq!(sources.snippet(d.value_span), "a &amp; b");
        let ct = &root.children[0];
        assert_eq!(ct.name, "ComponentType");
        let p = &ct.children[0];
        assert_eq!(
            sources.snippet(p.tag),
            "<Parameter name=\"g\" dimension='0.0, 1.0'/>"
        );
        let dim = p.attr("dimension").unwrap();
        assert!(dim.verbatim);
        assert_eq!(sources.snippet(dim.value_span), "0.0, 1.0");
        assert_eq!(sources.snippet(dim.name_span), "dimension");
    }

    #[test]
    fn line_breaks_in_values_are_normalised() {
        let (_, root) = parse_text("<Lems d=\"a\n  b\"/>");
        let root = root.unwrap();
        let a = root.attr("d").unwrap();
        assert_eq!(a.value, "a   b");
        assert!(!a.verbatim);
    }

    #[test]
    fn malformed_documents_point_at_the_problem() {
        let cases = [
            ("<Lems><A></B></Lems>", "not well-formed", "</B>"),
            (
                "<Lems>\n<A x=\"&mu_V\"/></Lems>",
                "not an XML entity",
                "&mu_V",
            ),
            ("<Lems><A>", "ends before `<A>` is closed", "A"),
            ("<Lems/><Lems/>", "second top-level element", "Lems"),
            ("", "no XML element", ""),
            ("<Lems a=\"1\" a=\"2\"/>", "malformed attribute", "a"),
        ];
        for (text, message, at) in cases {
            let (sources, r) = parse_text(text);
            let d = r.expect_err(text);
            assert!(d.message.contains(message), "{text}: {}", d.message);
            let span = d.primary_span().unwrap();
            assert!(
                sources.snippet(span).starts_with(at.get(..1).unwrap_or("")),
                "{text}: points at {:?}",
                sources.snippet(span)
            );
        }
    }
}
