//! The Avro specification's Parsing Canonical Form and its CRC-64-AVRO fingerprint, written out
//! here because apache-avro 0.21's `canonical_form` keeps a logical-typed primitive as
//! `{"type":"long"}` where the specification's [PRIMITIVES] rule gives `"long"`: the fingerprint
//! a message carries must be the one fastavro, Java's `SchemaNormalization` or any other standard
//! tool computes from the schema the registry serves.

use apache_avro::Schema;
use serde_json::{Map, Value as Json};

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// The attributes the form keeps, in the order it writes them ([STRIP], [ORDER]).
const KEPT: [&str; 7] = [
    "name", "type", "fields", "symbols", "items", "values", "size",
];

/// The Parsing Canonical Form of a parsed schema.
pub fn parsing_canonical_form(schema: &Schema) -> String {
    let json = serde_json::to_value(schema).expect("a parsed schema serialises to JSON");
    parsing_canonical_form_of_json(&json)
}

/// The Parsing Canonical Form of a schema given as JSON (the specification's rules apply to the
/// JSON text, so this needs no parsing into Avro types).
pub fn parsing_canonical_form_of_json(json: &Json) -> String {
    canonical(json, "")
}

/// CRC-64-AVRO of the schema's Parsing Canonical Form, as the 8 little-endian bytes that follow
/// `C3 01` in a single-object encoded message.
pub fn fingerprint(schema: &Schema) -> [u8; 8] {
    crc64_avro(parsing_canonical_form(schema).as_bytes()).to_le_bytes()
}

/// The specification's 64-bit Rabin fingerprint ("CRC-64-AVRO").
pub fn crc64_avro(bytes: &[u8]) -> u64 {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    static TABLE: std::sync::LazyLock<[u64; 256]> = std::sync::LazyLock::new(|| {
        let mut table = [0u64; 256];
        for (i, slot) in table.iter_mut().enumerate() {
            let mut fp = i as u64;
            for _ in 0..8 {
                fp = (fp >> 1) ^ (EMPTY & 0u64.wrapping_sub(fp & 1));
            }
            *slot = fp;
        }
        table
    });
    bytes.iter().fold(EMPTY, |fp, b| {
        (fp >> 8) ^ TABLE[((fp ^ u64::from(*b)) & 0xff) as usize]
    })
}

/// A JSON string literal, escaped as serde_json does (UTF-8 kept, [STRINGS]).
fn quoted(text: &str) -> String {
    Json::String(text.to_string()).to_string()
}

/// `json` in canonical form, where `namespace` is the enclosing named type's namespace. Written
/// out by hand: the form fixes the order of keys, which a JSON map does not keep.
fn canonical(json: &Json, namespace: &str) -> String {
    match json {
        Json::String(name) if PRIMITIVES.contains(&name.as_str()) => quoted(name),
        Json::String(name) => quoted(&full_name(name, None, namespace)),
        Json::Array(branches) => {
            let branches: Vec<String> = branches.iter().map(|b| canonical(b, namespace)).collect();
            format!("[{}]", branches.join(","))
        }
        Json::Object(map) => canonical_object(map, namespace),
        other => other.to_string(),
    }
}

fn canonical_object(map: &Map<String, Json>, namespace: &str) -> String {
    let kind = match map.get("type") {
        Some(Json::String(kind)) => kind.as_str(),
        // `{"type": {...}}` or `{"type": [...]}`: the wrapper adds nothing.
        Some(inner) => return canonical(inner, namespace),
        None => return "{}".into(),
    };
    if PRIMITIVES.contains(&kind) {
        return quoted(kind);
    }
    let named = matches!(kind, "record" | "error" | "enum" | "fixed");
    if !named && !matches!(kind, "array" | "map") {
        // A reference to a named type written as `{"type": "jp.kirikae.X"}`.
        return canonical(&Json::String(kind.to_string()), namespace);
    }
    let mut own_namespace = namespace.to_string();
    let mut out = Vec::new();
    for key in KEPT {
        let Some(value) = map.get(key) else { continue };
        let value = match key {
            "name" if named => {
                let name = value.as_str().unwrap_or_default();
                let explicit = map.get("namespace").and_then(Json::as_str);
                let full = full_name(name, explicit, namespace);
                own_namespace = full.rsplit_once('.').map(|(ns, _)| ns).unwrap_or("").into();
                quoted(&full)
            }
            "name" => continue,
            "type" => quoted(if kind == "error" { "record" } else { kind }),
            "fields" => fields(value, &own_namespace),
            "items" | "values" => canonical(value, &own_namespace),
            "size" => value
                .as_u64()
                .map(Json::from)
                .unwrap_or_else(|| size_of(value))
                .to_string(),
            _ => value.to_string(),
        };
        out.push(format!("{}:{value}", quoted(key)));
    }
    format!("{{{}}}", out.join(","))
}

/// A record's fields: each reduced to its name and type, in their order.
fn fields(value: &Json, namespace: &str) -> String {
    let fields = value.as_array().map(Vec::as_slice).unwrap_or_default();
    let fields: Vec<String> = fields
        .iter()
        .map(|f| {
            let mut out = Vec::new();
            if let Some(name) = f.get("name") {
                out.push(format!("\"name\":{name}"));
            }
            if let Some(t) = f.get("type") {
                out.push(format!("\"type\":{}", canonical(t, namespace)));
            }
            format!("{{{}}}", out.join(","))
        })
        .collect();
    format!("[{}]", fields.join(","))
}

/// [INTEGERS]: a size written as a string (`"16"`, `"016"`) becomes the number.
fn size_of(value: &Json) -> Json {
    value
        .as_str()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Json::from)
        .unwrap_or_else(|| value.clone())
}

/// [FULLNAMES]: a dotted name is already full; otherwise the explicit namespace, else the
/// enclosing one.
fn full_name(name: &str, explicit: Option<&str>, enclosing: &str) -> String {
    if name.contains('.') {
        return name.to_string();
    }
    match explicit.unwrap_or(enclosing) {
        "" => name.to_string(),
        ns => format!("{ns}.{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcf(text: &str) -> String {
        parsing_canonical_form_of_json(&serde_json::from_str(text).unwrap())
    }

    #[test]
    fn crc64_avro_matches_the_specifications_test_vectors() {
        // From the Avro project's schema fingerprint tests (`"null"`, `"int"`).
        assert_eq!(crc64_avro(b"\"null\"") as i64, 7195948357588979594);
        assert_eq!(crc64_avro(b"\"int\"") as i64, 8247732601305521295);
    }

    #[test]
    fn a_logical_typed_primitive_is_reduced_to_its_bare_name() {
        let form = pcf(
            r#"{"type":"record","name":"R","namespace":"jp.x","doc":"d","fields":[
                {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"},"default":0}]}"#,
        );
        assert_eq!(
            form,
            r#"{"name":"jp.x.R","type":"record","fields":[{"name":"at","type":"long"}]}"#
        );
    }

    #[test]
    fn named_types_take_full_names_from_the_enclosing_namespace() {
        let form = pcf(r#"{"type":"record","name":"R","namespace":"a.b","fields":[
                {"name":"e","type":{"type":"enum","name":"E","symbols":["X"],"aliases":["Z"]}},
                {"name":"f","type":{"type":"fixed","name":"c.F","size":"016"}},
                {"name":"g","type":["null","E",{"type":"map","values":"c.F"}]},
                {"name":"h","type":{"type":"array","items":{"type":"string"}}}]}"#);
        assert_eq!(
            form,
            concat!(
                r#"{"name":"a.b.R","type":"record","fields":["#,
                r#"{"name":"e","type":{"name":"a.b.E","type":"enum","symbols":["X"]}},"#,
                r#"{"name":"f","type":{"name":"c.F","type":"fixed","size":16}},"#,
                r#"{"name":"g","type":["null","a.b.E",{"type":"map","values":"c.F"}]},"#,
                r#"{"name":"h","type":{"type":"array","items":"string"}}]}"#
            )
        );
    }
}
