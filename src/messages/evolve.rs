//! Schema evolution: a value written with one version of a record, read as another, by the Avro
//! specification's resolution rules, with union branches matched by **name**.
//!
//! apache-avro's own resolution picks the first union branch a value fits by structure, which
//! for our payload unions (records that differ only in field names, several with every field
//! optional) can land on the wrong function; the specification says a named branch resolves to
//! the reader's branch of the same name, and that is what this does. The codec uses it to read
//! messages written by the previous versions kept in `schemas/previous/`; tests use it the other
//! way round to write such messages.

use std::collections::HashMap;

use apache_avro::schema::{Name, ResolvedSchema, Schema};
use apache_avro::types::Value;

#[derive(Debug, thiserror::Error)]
pub enum EvolveError {
    #[error("{path}: the reader has no branch for the writer's {branch}")]
    NoBranch { path: String, branch: String },
    #[error("{path}: the reader needs field {field}, which the writer lacks and has no default")]
    MissingField { path: String, field: String },
    #[error("{path}: the reader has no symbol {symbol}")]
    NoSymbol { path: String, symbol: String },
    #[error("{path}: {detail}")]
    Mismatch { path: String, detail: String },
}

/// The named types of one (composed) schema, so references resolve.
pub struct Names<'a>(HashMap<Name, &'a Schema>);

impl<'a> Names<'a> {
    pub fn of(schema: &'a Schema) -> Result<Self, apache_avro::Error> {
        let resolved = ResolvedSchema::try_from(schema)?;
        Ok(Names(resolved.get_names().clone()))
    }

    fn deref(&self, s: &'a Schema) -> &'a Schema {
        match s {
            Schema::Ref { name } => self.0.get(name).copied().unwrap_or(s),
            _ => s,
        }
    }
}

/// `value`, written with `writer` (whose names are `wn`), in the shape of `reader` (`rn`).
pub fn evolve<'w, 'r>(
    value: Value,
    writer: &'w Schema,
    wn: &Names<'w>,
    reader: &'r Schema,
    rn: &Names<'r>,
) -> Result<Value, EvolveError> {
    walk(value, writer, wn, reader, rn, "$")
}

/// A branch's identity: its full name when named, else its kind.
fn identity(s: &Schema) -> String {
    match s {
        Schema::Record(r) => r.name.fullname(None),
        Schema::Enum(e) => e.name.fullname(None),
        Schema::Fixed(f) => f.name.fullname(None),
        Schema::Ref { name } => name.fullname(None),
        other => format!("{:?}", apache_avro::schema::SchemaKind::from(other)),
    }
}

fn walk<'w, 'r>(
    value: Value,
    writer: &'w Schema,
    wn: &Names<'w>,
    reader: &'r Schema,
    rn: &Names<'r>,
    path: &str,
) -> Result<Value, EvolveError> {
    let (w, r) = (wn.deref(writer), rn.deref(reader));
    match (w, r, value) {
        (Schema::Union(wu), Schema::Union(ru), Value::Union(i, inner)) => {
            let wb = wn.deref(&wu.variants()[i as usize]);
            let (j, rb) = branch(ru.variants(), rn, wb, path)?;
            Ok(Value::Union(
                j as u32,
                Box::new(walk(*inner, wb, wn, rb, rn, path)?),
            ))
        }
        (Schema::Union(wu), _, Value::Union(i, inner)) => {
            let wb = wn.deref(&wu.variants()[i as usize]);
            walk(*inner, wb, wn, r, rn, path)
        }
        (_, Schema::Union(ru), value) => {
            let (j, rb) = branch(ru.variants(), rn, w, path)?;
            Ok(Value::Union(
                j as u32,
                Box::new(walk(value, w, wn, rb, rn, path)?),
            ))
        }
        (Schema::Record(wr), Schema::Record(rr), Value::Record(fields)) => {
            let mut written: HashMap<String, Value> = fields.into_iter().collect();
            let mut out = Vec::with_capacity(rr.fields.len());
            for rf in &rr.fields {
                let here = format!("{path}.{}", rf.name);
                let v = match (
                    written.remove(&rf.name),
                    wr.fields.iter().find(|f| f.name == rf.name),
                ) {
                    (Some(v), Some(wf)) => walk(v, &wf.schema, wn, &rf.schema, rn, &here)?,
                    _ => match &rf.default {
                        Some(d) => default_value(d, &rf.schema, rn, &here)?,
                        None => {
                            return Err(EvolveError::MissingField {
                                path: path.into(),
                                field: rf.name.clone(),
                            });
                        }
                    },
                };
                out.push((rf.name.clone(), v));
            }
            // Fields the reader does not know are dropped, as the specification says.
            Ok(Value::Record(out))
        }
        (Schema::Enum(_), Schema::Enum(re), Value::Enum(_, symbol)) => {
            match re.symbols.iter().position(|s| *s == symbol) {
                Some(k) => Ok(Value::Enum(k as u32, symbol)),
                None => match &re.default {
                    Some(d) => {
                        let k = re.symbols.iter().position(|s| s == d).unwrap_or(0);
                        Ok(Value::Enum(k as u32, d.clone()))
                    }
                    None => Err(EvolveError::NoSymbol {
                        path: path.into(),
                        symbol,
                    }),
                },
            }
        }
        (Schema::Array(wa), Schema::Array(ra), Value::Array(items)) => Ok(Value::Array(
            items
                .into_iter()
                .map(|v| walk(v, &wa.items, wn, &ra.items, rn, path))
                .collect::<Result<_, _>>()?,
        )),
        (Schema::Map(wm), Schema::Map(rm), Value::Map(entries)) => Ok(Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| Ok((k, walk(v, &wm.types, wn, &rm.types, rn, path)?)))
                .collect::<Result<_, EvolveError>>()?,
        )),
        // Primitives and logical types: apache-avro applies the promotions (int to long, …).
        (_, r, value) => value.resolve(r).map_err(|e| EvolveError::Mismatch {
            path: path.into(),
            detail: e.to_string(),
        }),
    }
}

/// The reader's branch for the writer's `wb`: the same name, or the same kind when unnamed.
fn branch<'r>(
    variants: &'r [Schema],
    rn: &Names<'r>,
    wb: &Schema,
    path: &str,
) -> Result<(usize, &'r Schema), EvolveError> {
    let want = identity(wb);
    variants
        .iter()
        .enumerate()
        .map(|(j, v)| (j, rn.deref(v)))
        .find(|(_, v)| identity(v) == want)
        .ok_or_else(|| EvolveError::NoBranch {
            path: path.into(),
            branch: want,
        })
}

/// A field's default (JSON) as a value of its schema; a union's default is of its first branch.
fn default_value<'r>(
    default: &serde_json::Value,
    schema: &'r Schema,
    rn: &Names<'r>,
    path: &str,
) -> Result<Value, EvolveError> {
    let schema = rn.deref(schema);
    let (first, wrap) = match schema {
        Schema::Union(u) => (rn.deref(&u.variants()[0]), true),
        s => (s, false),
    };
    let v = Value::from(default.clone())
        .resolve(first)
        .map_err(|e| EvolveError::Mismatch {
            path: path.into(),
            detail: format!("default {default}: {e}"),
        })?;
    Ok(if wrap {
        Value::Union(0, Box::new(v))
    } else {
        v
    })
}
