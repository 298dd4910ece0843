//! The shape of each record as the `.avsc` files declare it, and the one schema-guided mapping
//! between a record's JSON form and its Avro value.
//!
//! Every function's payload and answer travels through the same few forms (Avro on Kafka, JSON at
//! the API and the JSON operators, XML at the SOAP operators, CSV cells at the batch operators).
//! Rather than one hand-written conversion per record and form, each form is walked from the
//! record's shape, read from the very `.avsc` file that is the contract, so a field added to a
//! schema reaches every form and the docs at once. The walks are strict and total: a value that
//! does not fit its shape is a [`ShapeError`] naming the field, never a panic.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use apache_avro::types::Value;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value as Json};

use super::schemas::schema_definitions;

/// A value's type, as far as the hub's records use Avro.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Str,
    Int,
    Long,
    Double,
    Bool,
    /// `int` with logical type `date`; `YYYY-MM-DD` in every text form.
    Date,
    /// `long` with logical type `timestamp-millis`; RFC 3339 in every text form.
    TimestampMillis,
    Enum(Vec<String>),
    /// `["null", T]`: absent or null in text forms.
    Nullable(Box<Shape>),
    Array(Box<Shape>),
    Record(Arc<RecordShape>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordShape {
    /// The short name, e.g. `SwitchStart`.
    pub name: String,
    pub doc: String,
    pub fields: Vec<FieldShape>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldShape {
    pub name: String,
    pub doc: String,
    pub shape: Shape,
}

impl FieldShape {
    pub fn required(&self) -> bool {
        !matches!(self.shape, Shape::Nullable(_))
    }
}

/// A value that does not fit its shape, with the path of the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct ShapeError {
    pub path: String,
    pub problem: String,
}

impl ShapeError {
    fn new(path: &str, problem: impl Into<String>) -> Self {
        ShapeError {
            path: if path.is_empty() {
                "(record)".into()
            } else {
                path.into()
            },
            problem: problem.into(),
        }
    }
}

/// Every named record and enum of `schemas/`, by short name, and the order of the payload unions.
pub struct Shapes {
    records: HashMap<String, Arc<RecordShape>>,
    /// Branches of `Request.payload`, by short record name, in declaration order.
    pub request_payloads: Vec<String>,
    /// Branches of `Result.payload` after `null`, in declaration order.
    pub result_payloads: Vec<String>,
}

/// The shapes, read once from the embedded `.avsc` files.
pub fn shapes() -> &'static Shapes {
    static SHAPES: OnceLock<Shapes> = OnceLock::new();
    SHAPES.get_or_init(Shapes::load)
}

impl Shapes {
    fn load() -> Self {
        let defs = schema_definitions();
        let mut builder = Builder {
            defs: &defs,
            done: HashMap::new(),
        };
        let names: Vec<String> = defs.keys().cloned().collect();
        // The two envelopes are converted by hand (their payload is a union of records); the
        // shapes cover everything they carry.
        let envelopes = ["jp.kirikae.Request", "jp.kirikae.Result"];
        for name in &names {
            if defs[name]["type"] == "record" && !envelopes.contains(&name.as_str()) {
                builder.record(name);
            }
        }
        let union_of = |record: &str| -> Vec<String> {
            defs[&format!("jp.kirikae.{record}")]["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["name"] == "payload")
                .and_then(|f| f["type"].as_array())
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str())
                .filter(|t| *t != "null")
                .map(short)
                .collect()
        };
        Shapes {
            request_payloads: union_of("Request"),
            result_payloads: union_of("Result"),
            records: builder.done,
        }
    }

    /// The record of this short name; the names come from the function table, whose test checks
    /// every one exists.
    pub fn record(&self, name: &str) -> Option<&Arc<RecordShape>> {
        self.records.get(name)
    }

    /// The record, for names the function table guarantees.
    pub fn known(&self, name: &str) -> &Arc<RecordShape> {
        self.records
            .get(name)
            .unwrap_or_else(|| panic!("schemas/ has no record {name}"))
    }
}

fn short(full: &str) -> String {
    full.rsplit('.').next().unwrap_or(full).to_string()
}

struct Builder<'a> {
    defs: &'a HashMap<String, Json>,
    done: HashMap<String, Arc<RecordShape>>,
}

impl Builder<'_> {
    fn record(&mut self, full: &str) -> Arc<RecordShape> {
        let name = short(full);
        if let Some(done) = self.done.get(&name) {
            return done.clone();
        }
        let json = self.defs[full].clone();
        let shape = self.record_of(&json);
        self.done.insert(name, shape.clone());
        shape
    }

    fn record_of(&mut self, json: &Json) -> Arc<RecordShape> {
        let fields = json["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| FieldShape {
                name: f["name"].as_str().unwrap_or_default().to_string(),
                doc: f["doc"].as_str().unwrap_or_default().to_string(),
                shape: self.shape(&f["type"]),
            })
            .collect();
        let shape = Arc::new(RecordShape {
            name: short(json["name"].as_str().unwrap_or_default()),
            doc: json["doc"].as_str().unwrap_or_default().to_string(),
            fields,
        });
        self.done.insert(shape.name.clone(), shape.clone());
        shape
    }

    fn shape(&mut self, t: &Json) -> Shape {
        match t {
            Json::String(s) => match s.as_str() {
                "string" => Shape::Str,
                "int" => Shape::Int,
                "long" => Shape::Long,
                "double" => Shape::Double,
                "boolean" => Shape::Bool,
                named => {
                    let full = if named.contains('.') {
                        named.to_string()
                    } else {
                        format!("jp.kirikae.{named}")
                    };
                    match self.defs.get(&full) {
                        Some(def) if def["type"] == "enum" => enum_of(def),
                        Some(_) => Shape::Record(self.record(&full)),
                        None => {
                            // A record declared inline elsewhere, already built by its name.
                            let name = short(&full);
                            Shape::Record(self.done.get(&name).cloned().unwrap_or_else(|| {
                                panic!("schemas/ references unknown type {full}")
                            }))
                        }
                    }
                }
            },
            Json::Array(branches) => {
                let others: Vec<&Json> = branches.iter().filter(|b| *b != "null").collect();
                match (branches.len(), others.as_slice()) {
                    (2, [one]) => Shape::Nullable(Box::new(self.shape(one))),
                    _ => panic!("schemas/ unions other than [\"null\", T] are not payload fields"),
                }
            }
            Json::Object(o) => match (o.get("type"), o.get("logicalType")) {
                (Some(Json::String(int)), Some(Json::String(lt)))
                    if int == "int" && lt == "date" =>
                {
                    Shape::Date
                }
                (Some(Json::String(long)), Some(Json::String(lt)))
                    if long == "long" && lt == "timestamp-millis" =>
                {
                    Shape::TimestampMillis
                }
                (Some(Json::String(kind)), _) if kind == "enum" => enum_of(t),
                (Some(Json::String(kind)), _) if kind == "array" => {
                    Shape::Array(Box::new(self.shape(&o["items"])))
                }
                (Some(Json::String(kind)), _) if kind == "record" => {
                    Shape::Record(self.record_of(t))
                }
                (Some(inner), _) => self.shape(inner),
                (None, _) => panic!("schemas/ has a type without \"type\""),
            },
            _ => panic!("schemas/ has a type that is neither a name, a union nor an object"),
        }
    }
}

fn enum_of(def: &Json) -> Shape {
    Shape::Enum(
        def["symbols"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
    )
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();

/// Exactly `YYYY-MM-DD`: chrono alone would also take `2026-1-5` or a sign.
pub fn strict_day(s: &str) -> Option<NaiveDate> {
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    shaped
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The Avro value of `json` (a record's JSON form), walked by `record`.
pub fn to_avro(json: &Json, record: &RecordShape) -> Result<Value, ShapeError> {
    record_to_avro(json, record, "")
}

fn record_to_avro(json: &Json, record: &RecordShape, path: &str) -> Result<Value, ShapeError> {
    let Json::Object(map) = json else {
        return Err(ShapeError::new(path, "expected an object"));
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !record.fields.iter().any(|f| &f.name == *k))
    {
        return Err(ShapeError::new(&join(path, unknown), "unknown field"));
    }
    let mut fields = Vec::with_capacity(record.fields.len());
    for f in &record.fields {
        let at = join(path, &f.name);
        let value = map.get(&f.name).unwrap_or(&Json::Null);
        fields.push((f.name.clone(), value_to_avro(value, &f.shape, &at)?));
    }
    Ok(Value::Record(fields))
}

fn value_to_avro(json: &Json, shape: &Shape, path: &str) -> Result<Value, ShapeError> {
    let wrong = |what: &str| ShapeError::new(path, format!("expected {what}"));
    Ok(match shape {
        Shape::Str => Value::String(json.as_str().ok_or_else(|| wrong("a string"))?.to_string()),
        Shape::Int => Value::Int(
            json.as_i64()
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| wrong("a 32-bit integer"))?,
        ),
        Shape::Long => Value::Long(json.as_i64().ok_or_else(|| wrong("an integer"))?),
        Shape::Double => Value::Double(json.as_f64().ok_or_else(|| wrong("a number"))?),
        Shape::Bool => Value::Boolean(json.as_bool().ok_or_else(|| wrong("true or false"))?),
        Shape::Date => {
            let day = json
                .as_str()
                .and_then(strict_day)
                .ok_or_else(|| wrong("a date YYYY-MM-DD"))?;
            Value::Date((day - EPOCH).num_days() as i32)
        }
        Shape::TimestampMillis => {
            let at = json
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .ok_or_else(|| wrong("an RFC 3339 time"))?;
            Value::TimestampMillis(at.timestamp_millis())
        }
        Shape::Enum(symbols) => {
            let s = json.as_str().ok_or_else(|| wrong("a symbol"))?;
            let i = symbols
                .iter()
                .position(|x| x == s)
                .ok_or_else(|| wrong(&format!("one of {}", symbols.join(", "))))?;
            Value::Enum(i as u32, s.to_string())
        }
        Shape::Nullable(inner) => match json {
            Json::Null => Value::Union(0, Box::new(Value::Null)),
            other => Value::Union(1, Box::new(value_to_avro(other, inner, path)?)),
        },
        Shape::Array(items) => Value::Array(
            json.as_array()
                .ok_or_else(|| wrong("a list"))?
                .iter()
                .enumerate()
                .map(|(i, item)| value_to_avro(item, items, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Shape::Record(r) => record_to_avro(json, r, path)?,
    })
}

/// The JSON form of a decoded Avro record, walked by `record`.
pub fn from_avro(value: Value, record: &RecordShape) -> Result<Json, ShapeError> {
    record_from_avro(value, record, "")
}

fn record_from_avro(value: Value, record: &RecordShape, path: &str) -> Result<Json, ShapeError> {
    let Value::Record(mut fields) = value else {
        return Err(ShapeError::new(path, "expected a record"));
    };
    let mut out = Map::new();
    for f in &record.fields {
        let at = join(path, &f.name);
        let i = fields
            .iter()
            .position(|(k, _)| k == &f.name)
            .ok_or_else(|| ShapeError::new(&at, "missing"))?;
        let (_, v) = fields.swap_remove(i);
        out.insert(f.name.clone(), value_from_avro(v, &f.shape, &at)?);
    }
    Ok(Json::Object(out))
}

fn value_from_avro(value: Value, shape: &Shape, path: &str) -> Result<Json, ShapeError> {
    let wrong = || ShapeError::new(path, "unexpected Avro value");
    Ok(match (shape, value) {
        (Shape::Str, Value::String(s)) => Json::String(s),
        (Shape::Int, Value::Int(i)) => Json::from(i),
        (Shape::Long, Value::Long(i)) => Json::from(i),
        (Shape::Double, Value::Double(d)) => serde_json::Number::from_f64(d)
            .map(Json::Number)
            .ok_or_else(wrong)?,
        (Shape::Bool, Value::Boolean(b)) => Json::Bool(b),
        (Shape::Date, Value::Date(d) | Value::Int(d)) => {
            let day = EPOCH
                .checked_add_signed(chrono::Duration::days(d.into()))
                .ok_or_else(wrong)?;
            Json::String(day.format("%Y-%m-%d").to_string())
        }
        (Shape::TimestampMillis, Value::TimestampMillis(ms) | Value::Long(ms)) => {
            let at: DateTime<Utc> = DateTime::from_timestamp_millis(ms).ok_or_else(wrong)?;
            Json::String(at.to_rfc3339_opts(SecondsFormat::Millis, true))
        }
        (Shape::Enum(symbols), Value::Enum(_, s)) if symbols.contains(&s) => Json::String(s),
        (Shape::Nullable(_), Value::Null) => Json::Null,
        (Shape::Nullable(inner), Value::Union(_, v)) => match *v {
            Value::Null => Json::Null,
            v => value_from_avro(v, inner, path)?,
        },
        (Shape::Array(items), Value::Array(values)) => Json::Array(
            values
                .into_iter()
                .enumerate()
                .map(|(i, v)| value_from_avro(v, items, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        (Shape::Record(r), v @ Value::Record(_)) => record_from_avro(v, r, path)?,
        _ => return Err(wrong()),
    })
}

/// The text of a scalar in the text forms (XML elements, CSV cells): strings as they are, numbers
/// and booleans in JSON notation. `None` for null, lists and records.
pub fn scalar_text(json: &Json) -> Option<String> {
    match json {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The JSON value of a scalar's text, read by its shape; `Err` names what was expected.
pub fn scalar_from_text(text: &str, shape: &Shape) -> Result<Json, String> {
    match shape {
        Shape::Str => Ok(Json::String(text.to_string())),
        Shape::Int | Shape::Long => text
            .parse::<i64>()
            .map(Json::from)
            .map_err(|_| "expected an integer".into()),
        Shape::Double => text
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .ok_or_else(|| "expected a number".into()),
        Shape::Bool => match text {
            "true" => Ok(Json::Bool(true)),
            "false" => Ok(Json::Bool(false)),
            _ => Err("expected true or false".into()),
        },
        Shape::Date => strict_day(text)
            .map(|_| Json::String(text.to_string()))
            .ok_or_else(|| "expected a date YYYY-MM-DD".into()),
        Shape::TimestampMillis => DateTime::parse_from_rfc3339(text)
            .map(|_| Json::String(text.to_string()))
            .map_err(|_| "expected an RFC 3339 time".into()),
        Shape::Enum(symbols) if symbols.iter().any(|s| s == text) => {
            Ok(Json::String(text.to_string()))
        }
        Shape::Enum(symbols) => Err(format!("expected one of {}", symbols.join(", "))),
        Shape::Nullable(inner) => scalar_from_text(text, inner),
        Shape::Array(_) | Shape::Record(_) => Err("expected a scalar".into()),
    }
}

/// The Avro type of a shape as the docs spell it.
pub fn type_name(shape: &Shape) -> String {
    match shape {
        Shape::Str => "string".into(),
        Shape::Int => "int".into(),
        Shape::Long => "long".into(),
        Shape::Double => "double".into(),
        Shape::Bool => "boolean".into(),
        Shape::Date => "date".into(),
        Shape::TimestampMillis => "timestamp-millis".into(),
        Shape::Enum(symbols) => format!("enum {}", symbols.join(" / ")),
        Shape::Nullable(inner) => format!("{} (optional)", type_name(inner)),
        Shape::Array(items) => format!("array of {}", type_name(items)),
        Shape::Record(r) => r.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_payload_and_result_record_has_a_shape() {
        let s = shapes();
        assert!(s.request_payloads.len() >= 11);
        for name in s.request_payloads.iter().chain(&s.result_payloads) {
            assert!(s.record(name).is_some(), "{name}");
        }
        for spec in crate::domain::SPECS {
            assert!(
                s.request_payloads.iter().any(|n| n == spec.payload_record),
                "{}",
                spec.slug
            );
            assert!(
                s.result_payloads.iter().any(|n| n == spec.result_record),
                "{}",
                spec.slug
            );
        }
    }

    #[test]
    fn a_record_round_trips_through_avro() {
        let shape = shapes().known("SwitchStart");
        let json = json!({
            "planned_date": "2026-12-01", "previous_retailer_code": "Z0300",
            "previous_customer_number": "C-1", "customer_name": "山田 太郎",
            "customer_phone": null, "contract_ampere": 40, "intermediation_number": null,
            "agreed_to_grid_terms": true, "contract_method": "MAIN_SWITCH", "contract_kw": null
        });
        let value = to_avro(&json, shape).unwrap();
        assert_eq!(from_avro(value, shape).unwrap(), json);
    }

    #[test]
    fn nested_lists_of_records_round_trip() {
        let shape = shapes().known("UsageResult");
        let json = json!({
            "smart_meter": true,
            "monthly": [{"month": "2026-10", "kwh": 251.5}],
            "half_hourly": [{"day": "2026-10-01", "slot": 1, "kwh": 0.25}]
        });
        assert_eq!(
            from_avro(to_avro(&json, shape).unwrap(), shape).unwrap(),
            json
        );
    }

    #[test]
    fn a_value_that_does_not_fit_names_its_field() {
        let shape = shapes().known("UsageResult");
        let bad = json!({"smart_meter": true, "monthly": [{"month": "2026-10", "kwh": "x"}], "half_hourly": []});
        assert_eq!(to_avro(&bad, shape).unwrap_err().path, "monthly[0].kwh");
        let unknown = json!({"smart_meter": true, "monthly": [], "half_hourly": [], "extra": 1});
        assert_eq!(to_avro(&unknown, shape).unwrap_err().path, "extra");
        let shape = shapes().known("Abolition");
        let day = json!({"planned_date": "2026-1-5", "with_removal": false});
        assert_eq!(to_avro(&day, shape).unwrap_err().path, "planned_date");
    }

    #[test]
    fn absent_optional_fields_are_null_and_required_ones_are_refused() {
        let shape = shapes().known("Abolition");
        let ok = to_avro(
            &json!({"planned_date": "2026-12-01", "with_removal": true}),
            shape,
        );
        assert!(ok.is_ok());
        let missing = to_avro(&json!({"planned_date": "2026-12-01"}), shape).unwrap_err();
        assert_eq!(missing.path, "with_removal");
    }

    #[test]
    fn scalars_read_back_from_text_by_their_shape() {
        assert_eq!(scalar_from_text("40", &Shape::Int), Ok(json!(40)));
        assert!(scalar_from_text("4O", &Shape::Int).is_err());
        assert!(scalar_from_text("NaN", &Shape::Double).is_err());
        assert!(scalar_from_text("yes", &Shape::Bool).is_err());
        let methods = Shape::Enum(vec!["MEASURED".into()]);
        assert!(scalar_from_text("measured", &methods).is_err());
    }
}
