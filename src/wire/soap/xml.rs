//! The small, strict XML layer both ends of the SOAP dialect share: a bounded element tree
//! read with quick-xml, typed field access that refuses anything unexpected, and the writers
//! that produce the envelope.

use quick_xml::NsReader;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;

/// SOAP 1.1 envelope namespace.
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The switching interface's own namespace (low voltage, version 1), prefix `sw`.
pub const SW_NS: &str = "urn:kirikae:switching:lv:1";

/// Deeper than any envelope of the dialect; also keeps tree drops shallow on hostile input.
const MAX_DEPTH: usize = 12;
/// More elements than any envelope of the dialect holds: the largest is a 使用量 answer with a
/// month of 30-minute values (31 × 48 `<Item>`s of 4 elements each, about 6,000).
const MAX_ELEMENTS: usize = 16_384;

/// One element: its namespace, local name, text and child elements (attributes are checked
/// for well-formedness and then ignored).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// Whether this element is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.name == name
    }

    /// The one child element, as SOAP's Header and Body hold.
    pub fn single_child(&self) -> Result<&Element, String> {
        match self.children.as_slice() {
            [only] => Ok(only),
            other => Err(format!(
                "{} holds {} elements, expected one",
                self.name,
                other.len()
            )),
        }
    }
}

/// Reads a whole document into its root element. Total: any input gives a tree or a reason.
pub fn parse(bytes: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = NsReader::from_str(text);
    let mut tree = Builder::default();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        let ns = namespace(ns)?;
        match event {
            Event::Start(e) => tree.open(ns, &e)?,
            Event::Empty(e) => {
                tree.open(ns, &e)?;
                tree.close()?;
            }
            Event::End(_) => tree.close()?,
            Event::Text(t) => tree.text(&t.decode().map_err(|e| format!("bad text: {e}"))?)?,
            Event::CData(c) => tree.text(&c.decode().map_err(|e| format!("bad CDATA: {e}"))?)?,
            Event::GeneralRef(r) => tree.text(&entity(&r)?)?,
            Event::Decl(d) => tree.declaration(&d)?,
            Event::DocType(_) => return Err("a DOCTYPE is not accepted".into()),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return tree.finish(),
        }
    }
}

fn namespace(resolved: ResolveResult<'_>) -> Result<Option<String>, String> {
    match resolved {
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Bound(ns) => std::str::from_utf8(ns.as_ref())
            .map(|s| Some(s.to_string()))
            .map_err(|e| format!("bad namespace: {e}")),
        ResolveResult::Unknown(prefix) => Err(format!(
            "undeclared namespace prefix {:?}",
            String::from_utf8_lossy(&prefix)
        )),
    }
}

fn entity(reference: &BytesRef<'_>) -> Result<String, String> {
    let bad = |e: &dyn std::fmt::Display| format!("bad reference: {e}");
    if let Some(c) = reference.resolve_char_ref().map_err(|e| bad(&e))? {
        return Ok(c.to_string());
    }
    let name = reference.decode().map_err(|e| bad(&e))?;
    resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| format!("unknown entity &{name};"))
}

/// Whether `s` is XML whitespace only.
pub fn is_blank(s: &str) -> bool {
    s.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// Builds the tree event by event, enforcing the bounds and the document's shape.
#[derive(Default)]
struct Builder {
    stack: Vec<Element>,
    root: Option<Element>,
    elements: usize,
}

impl Builder {
    fn open(&mut self, ns: Option<String>, start: &BytesStart<'_>) -> Result<(), String> {
        if self.root.is_some() {
            return Err("content after the root element".into());
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("elements nested deeper than {MAX_DEPTH}"));
        }
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(format!("more than {MAX_ELEMENTS} elements"));
        }
        for attribute in start.attributes() {
            attribute.map_err(|e| format!("bad attribute: {e}"))?;
        }
        let name = std::str::from_utf8(start.local_name().as_ref())
            .map_err(|e| format!("bad element name: {e}"))?
            .to_string();
        self.stack.push(Element {
            ns,
            name,
            ..Element::default()
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        let done = self.stack.pop().ok_or("an end tag without its start")?;
        if !done.children.is_empty() && !is_blank(&done.text) {
            return Err(format!("{} mixes text and elements", done.name));
        }
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(done),
            None => self.root = Some(done),
        }
        Ok(())
    }

    fn text(&mut self, s: &str) -> Result<(), String> {
        match self.stack.last_mut() {
            Some(top) => top.text.push_str(s),
            None if is_blank(s) => {}
            None => return Err("text outside the root element".into()),
        }
        Ok(())
    }

    fn declaration(&mut self, decl: &BytesDecl<'_>) -> Result<(), String> {
        if self.elements > 0 {
            return Err("an XML declaration after the first element".into());
        }
        if let Some(encoding) = decl.encoding() {
            let encoding = encoding.map_err(|e| format!("bad declaration: {e}"))?;
            if !encoding.eq_ignore_ascii_case(b"utf-8") {
                return Err(format!(
                    "encoding {:?}, expected UTF-8",
                    String::from_utf8_lossy(&encoding)
                ));
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Element, String> {
        if let Some(open) = self.stack.last() {
            return Err(format!("truncated: {} is never closed", open.name));
        }
        self.root.ok_or_else(|| "no root element".into())
    }
}

/// Splits a SOAP 1.1 envelope into its header block (if any) and the one element of its Body.
pub fn open_envelope(root: &Element) -> Result<(Option<&Element>, &Element), String> {
    if !root.is(SOAP_NS, "Envelope") {
        return Err(format!(
            "the root is {}, not a SOAP 1.1 Envelope",
            root.name
        ));
    }
    let (header, body) = match root.children.as_slice() {
        [header, body] if header.is(SOAP_NS, "Header") => (Some(header.single_child()?), body),
        [body] => (None, body),
        _ => return Err("an Envelope holds an optional Header and then one Body".into()),
    };
    if !body.is(SOAP_NS, "Body") {
        return Err(format!("expected the SOAP Body, found {}", body.name));
    }
    Ok((header, body.single_child()?))
}

/// The text-only children of one element, taken by name; whatever is left over is an error.
pub struct Fields<'a> {
    owner: &'a str,
    items: Vec<(&'a str, &'a str)>,
}

impl<'a> Fields<'a> {
    /// Every child must be a text-only element in `ns`, and no name may repeat.
    pub fn of(element: &'a Element, ns: &str) -> Result<Self, String> {
        let mut items: Vec<(&str, &str)> = Vec::with_capacity(element.children.len());
        for child in &element.children {
            if child.ns.as_deref() != Some(ns) {
                return Err(format!(
                    "{} in {} is outside the namespace {ns}",
                    child.name, element.name
                ));
            }
            if !child.children.is_empty() {
                return Err(format!(
                    "{} in {} must hold text only",
                    child.name, element.name
                ));
            }
            if items.iter().any(|(name, _)| *name == child.name) {
                return Err(format!("{} appears twice in {}", child.name, element.name));
            }
            items.push((&child.name, &child.text));
        }
        if element.children.is_empty() && !is_blank(&element.text) {
            return Err(format!("{} holds text where fields belong", element.name));
        }
        Ok(Fields {
            owner: &element.name,
            items,
        })
    }

    pub fn optional(&mut self, name: &str) -> Option<&'a str> {
        let at = self.items.iter().position(|(n, _)| *n == name)?;
        Some(self.items.swap_remove(at).1)
    }

    pub fn text(&mut self, name: &str) -> Result<&'a str, String> {
        self.optional(name)
            .ok_or_else(|| format!("{} lacks {name}", self.owner))
    }

    /// A required text that must not be empty (codes, numbers, names).
    pub fn filled(&mut self, name: &str) -> Result<&'a str, String> {
        let value = self.text(name)?;
        if is_blank(value) {
            return Err(format!("{name} in {} is empty", self.owner));
        }
        Ok(value)
    }

    /// Fails on the first child nobody asked for: an unknown element is never skipped.
    pub fn finish(self) -> Result<(), String> {
        match self.items.first() {
            Some((name, _)) => Err(format!("unexpected element {name} in {}", self.owner)),
            None => Ok(()),
        }
    }
}

/// Appends `<sw:name>value</sw:name>`, the value escaped.
pub fn leaf(out: &mut String, name: &str, value: &str) {
    out.push_str("<sw:");
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(value));
    out.push_str("</sw:");
    out.push_str(name);
    out.push('>');
}

/// `<sw:name>inner</sw:name>`, `inner` already being XML.
pub fn wrap(name: &str, inner: &str) -> String {
    format!("<sw:{name}>{inner}</sw:{name}>")
}

/// A whole SOAP 1.1 document; `header` and `body` are already XML.
pub fn envelope(header: Option<&str>, body: &str) -> String {
    let header = header
        .map(|h| format!("<soap:Header>{h}</soap:Header>"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soap:Envelope xmlns:soap=\"{SOAP_NS}\" xmlns:sw=\"{SW_NS}\">\
         {header}<soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}

/// A SOAP 1.1 Fault document; `code` is `Client` or `Server`.
pub fn fault(code: &str, reason: &str) -> String {
    let body = format!(
        "<soap:Fault><faultcode>soap:{}</faultcode><faultstring>{}</faultstring></soap:Fault>",
        escape(code),
        escape(reason)
    );
    envelope(None, &body)
}
