//! A record's fields as elements of the dialect, written and read by the record's shape for
//! every function alike:
//!
//! - each field is an element named by the PascalCase of its name (`planned_date` →
//!   `PlannedDate`), in schema order; a null optional field is left out;
//! - a scalar is the element's text (`scalar_text`: strings as they are, numbers and booleans
//!   in JSON notation, dates `YYYY-MM-DD`);
//! - a list is an element holding one `<Item>` per entry, an empty list an empty element;
//! - a record is an element holding its own fields the same way.
//!
//! Reading is strict and total: an element outside the namespace, unknown, repeated, of the
//! wrong kind, or with a value its shape does not take, and a missing required field, are each
//! a reason, never a panic. What is read is the record's JSON form, which
//! [`crate::wire::form`] turns into the typed payload.

use serde_json::{Map, Value};

use super::xml::{Element, SW_NS, is_blank, leaf, wrap};
use crate::messages::shape::{RecordShape, Shape, scalar_from_text, scalar_text};

/// The element of one entry of a list.
pub const ITEM: &str = "Item";

/// `hv-switch-start` → `HvSwitchStart`, `next_meter_reading_date` → `NextMeterReadingDate`.
pub fn pascal(name: &str) -> String {
    name.split(['-', '_'])
        .flat_map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .into_iter()
                .flat_map(char::to_uppercase)
                .chain(chars)
        })
        .collect()
}

/// Appends the fields of `json` (a record's JSON form) as elements, in `record`'s order.
pub fn write_fields(out: &mut String, json: &Value, record: &RecordShape) {
    for field in &record.fields {
        if let Some(value) = json.get(&field.name) {
            write_value(out, &pascal(&field.name), value, &field.shape);
        }
    }
}

fn write_value(out: &mut String, name: &str, value: &Value, shape: &Shape) {
    match (shape, value) {
        (_, Value::Null) => {}
        (Shape::Nullable(inner), value) => write_value(out, name, value, inner),
        (Shape::Array(items), Value::Array(values)) => {
            let mut inner = String::new();
            for value in values {
                write_value(&mut inner, ITEM, value, items);
            }
            out.push_str(&wrap(name, &inner));
        }
        (Shape::Record(record), value) => {
            let mut inner = String::new();
            write_fields(&mut inner, value, record);
            out.push_str(&wrap(name, &inner));
        }
        (_, value) => {
            if let Some(text) = scalar_text(value) {
                leaf(out, name, &text);
            }
        }
    }
}

/// Reads `children` (the elements of `owner`) as the fields of `record`, into its JSON form
/// with every absent optional field null.
pub fn read_fields<'a>(
    owner: &str,
    children: impl IntoIterator<Item = &'a Element>,
    record: &RecordShape,
) -> Result<Value, String> {
    let mut fields = Map::new();
    for child in children {
        if child.ns.as_deref() != Some(SW_NS) {
            return Err(format!(
                "{} in {owner} is outside the namespace {SW_NS}",
                child.name
            ));
        }
        let field = record
            .fields
            .iter()
            .find(|f| pascal(&f.name) == child.name)
            .ok_or_else(|| format!("unexpected element {} in {owner}", child.name))?;
        if fields.contains_key(&field.name) {
            return Err(format!("{} appears twice in {owner}", child.name));
        }
        fields.insert(field.name.clone(), read_value(child, &field.shape)?);
    }
    for field in &record.fields {
        if !fields.contains_key(&field.name) {
            if field.required() {
                return Err(format!("{owner} lacks {}", pascal(&field.name)));
            }
            fields.insert(field.name.clone(), Value::Null);
        }
    }
    Ok(Value::Object(fields))
}

/// Reads `element` as a whole record of `record`'s shape.
pub fn read_record(element: &Element, record: &RecordShape) -> Result<Value, String> {
    holds_no_text(element)?;
    read_fields(&element.name, &element.children, record)
}

fn read_value(element: &Element, shape: &Shape) -> Result<Value, String> {
    match shape {
        Shape::Nullable(inner) => read_value(element, inner),
        Shape::Record(record) => read_record(element, record),
        Shape::Array(items) => {
            holds_no_text(element)?;
            let values = element.children.iter().map(|item| {
                if item.is(SW_NS, ITEM) {
                    read_value(item, items)
                } else {
                    Err(format!(
                        "{} in {} is not an {ITEM}",
                        item.name, element.name
                    ))
                }
            });
            values.collect::<Result<_, _>>().map(Value::Array)
        }
        scalar => {
            if !element.children.is_empty() {
                return Err(format!("{} must hold text only", element.name));
            }
            let text = match scalar {
                Shape::Str => element.text.as_str(),
                _ => element.text.trim(),
            };
            scalar_from_text(text, scalar).map_err(|e| format!("{} {text:?}: {e}", element.name))
        }
    }
}

fn holds_no_text(element: &Element) -> Result<(), String> {
    if element.children.is_empty() && !is_blank(&element.text) {
        return Err(format!("{} holds text where fields belong", element.name));
    }
    Ok(())
}
