//! Parsing and validation of the message schemas in `protocol-spec/schemas/` (Kafka's JSON
//! message-definition format, the subset documented in `protocol-spec/schemas/README.md`).
//!
//! Everything that would make the generated code wrong is refused here with the file and field
//! named: unknown keys, unknown types, tags that repeat or live outside flexible versions,
//! defaults that do not fit their type, duplicate struct names.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// An inclusive version range; empty when `lo > hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub lo: i16,
    pub hi: i16,
}

impl Versions {
    pub const NONE: Versions = Versions { lo: 1, hi: 0 };

    pub fn parse(text: &str) -> Result<Versions, String> {
        let text = text.trim();
        let number = |s: &str| {
            s.trim()
                .parse::<i16>()
                .map_err(|_| format!("bad version range {text:?}"))
        };
        if text == "none" {
            return Ok(Versions::NONE);
        }
        let range = if let Some(lo) = text.strip_suffix('+') {
            Versions {
                lo: number(lo)?,
                hi: i16::MAX,
            }
        } else if let Some((lo, hi)) = text.split_once('-') {
            Versions {
                lo: number(lo)?,
                hi: number(hi)?,
            }
        } else {
            let v = number(text)?;
            Versions { lo: v, hi: v }
        };
        if range.lo < 0 || range.is_empty() {
            return Err(format!("bad version range {text:?}"));
        }
        Ok(range)
    }

    pub fn is_empty(&self) -> bool {
        self.lo > self.hi
    }

    pub fn intersect(&self, other: Versions) -> Versions {
        Versions {
            lo: self.lo.max(other.lo),
            hi: self.hi.min(other.hi),
        }
    }

    pub fn covers(&self, other: Versions) -> bool {
        other.is_empty() || (self.lo <= other.lo && other.hi <= self.hi)
    }

    /// Human form: `0+`, `1-12`, `3`, `none`.
    pub fn describe(&self) -> String {
        if self.is_empty() {
            "none".into()
        } else if self.hi == i16::MAX {
            format!("{}+", self.lo)
        } else if self.lo == self.hi {
            format!("{}", self.lo)
        } else {
            format!("{}-{}", self.lo, self.hi)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    Int8,
    Int16,
    Int32,
    Int64,
    Uint16,
    Uint32,
    Float64,
    Bool,
    String,
    Bytes,
    Records,
    Uuid,
}

impl Primitive {
    fn parse(name: &str) -> Option<Primitive> {
        Some(match name {
            "int8" => Primitive::Int8,
            "int16" => Primitive::Int16,
            "int32" => Primitive::Int32,
            "int64" => Primitive::Int64,
            "uint16" => Primitive::Uint16,
            "uint32" => Primitive::Uint32,
            "float64" => Primitive::Float64,
            "bool" => Primitive::Bool,
            "string" => Primitive::String,
            "bytes" => Primitive::Bytes,
            "records" => Primitive::Records,
            "uuid" => Primitive::Uuid,
            _ => return None,
        })
    }

    pub fn schema_name(&self) -> &'static str {
        match self {
            Primitive::Int8 => "int8",
            Primitive::Int16 => "int16",
            Primitive::Int32 => "int32",
            Primitive::Int64 => "int64",
            Primitive::Uint16 => "uint16",
            Primitive::Uint32 => "uint32",
            Primitive::Float64 => "float64",
            Primitive::Bool => "bool",
            Primitive::String => "string",
            Primitive::Bytes => "bytes",
            Primitive::Records => "records",
            Primitive::Uuid => "uuid",
        }
    }

    /// Types whose values can be null on the wire.
    pub fn nullable_capable(&self) -> bool {
        matches!(
            self,
            Primitive::String | Primitive::Bytes | Primitive::Records
        )
    }

    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Primitive::Int8
                | Primitive::Int16
                | Primitive::Int32
                | Primitive::Int64
                | Primitive::Uint16
                | Primitive::Uint32
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    Primitive(Primitive),
    Array(Box<FieldType>),
    Struct(String),
}

impl FieldType {
    fn parse(text: &str) -> Result<FieldType, String> {
        if let Some(inner) = text.strip_prefix("[]") {
            let inner = FieldType::parse(inner)?;
            if matches!(inner, FieldType::Array(_)) {
                return Err(format!("nested arrays are not supported: {text:?}"));
            }
            return Ok(FieldType::Array(Box::new(inner)));
        }
        if let Some(p) = Primitive::parse(text) {
            return Ok(FieldType::Primitive(p));
        }
        let valid_struct_name = text.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && text.chars().all(|c| c.is_ascii_alphanumeric());
        if valid_struct_name {
            Ok(FieldType::Struct(text.to_owned()))
        } else {
            Err(format!("unknown type {text:?}"))
        }
    }

    /// The struct this type names, directly or as an array element.
    pub fn struct_name(&self) -> Option<&str> {
        match self {
            FieldType::Struct(name) => Some(name),
            FieldType::Array(inner) => inner.struct_name(),
            FieldType::Primitive(_) => None,
        }
    }

    pub fn schema_name(&self) -> String {
        match self {
            FieldType::Primitive(p) => p.schema_name().to_owned(),
            FieldType::Array(inner) => format!("[]{}", inner.schema_name()),
            FieldType::Struct(name) => name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    pub versions: Versions,
    pub nullable_versions: Versions,
    pub tagged_versions: Versions,
    pub tag: Option<u32>,
    pub default: Option<String>,
    pub ignorable: bool,
    pub about: String,
    /// `"flexibleVersions": "none"`: always the classic encoding (RequestHeader.ClientId).
    pub never_flexible: bool,
}

#[derive(Debug, Clone)]
pub struct StructDef {
    pub name: String,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    Request,
    Response,
    Header,
    /// A structure stored rather than sent (Kafka's `data`), e.g. a control record body.
    Data,
    /// A metadata log record; its `apiKey` is the record type (Kafka's `metadata`).
    Metadata,
}

#[derive(Debug, Clone)]
pub struct Schema {
    pub file: String,
    pub name: String,
    pub kind: SchemaKind,
    pub api_key: Option<i16>,
    pub valid_versions: Versions,
    pub flexible_versions: Versions,
    /// The top-level struct first, then every nested struct, each once.
    pub structs: Vec<StructDef>,
}

/// Strips whole-line `//` comments, which Kafka's schema files use and JSON does not allow.
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn expect_keys(obj: &Map<String, Value>, allowed: &[&str], context: &str) -> Result<(), String> {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(format!("{context}: unknown key {key:?}"));
        }
    }
    Ok(())
}

fn string_of<'a>(obj: &'a Map<String, Value>, key: &str, context: &str) -> Result<&'a str, String> {
    obj.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{context}: missing string {key:?}"))
}

fn optional_string(
    obj: &Map<String, Value>,
    key: &str,
    context: &str,
) -> Result<Option<String>, String> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{context}: {key:?} must be a string")),
    }
}

pub fn parse(file: &str, text: &str) -> Result<Schema, String> {
    let value: Value =
        serde_json::from_str(&strip_comments(text)).map_err(|e| format!("{file}: {e}"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| format!("{file}: not a JSON object"))?;
    expect_keys(
        obj,
        &[
            "apiKey",
            "type",
            "name",
            "validVersions",
            "flexibleVersions",
            "fields",
            "commonStructs",
            "listeners",
            "about",
        ],
        file,
    )?;
    let name = string_of(obj, "name", file)?.to_owned();
    let context = format!("{file} ({name})");
    let kind = match string_of(obj, "type", &context)? {
        "request" => SchemaKind::Request,
        "response" => SchemaKind::Response,
        "header" => SchemaKind::Header,
        "data" => SchemaKind::Data,
        "metadata" => SchemaKind::Metadata,
        other => return Err(format!("{context}: unknown type {other:?}")),
    };
    let api_key = match obj.get("apiKey") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .and_then(|k| i16::try_from(k).ok())
                .ok_or_else(|| format!("{context}: apiKey must be an int16"))?,
        ),
    };
    let keyed = matches!(
        kind,
        SchemaKind::Request | SchemaKind::Response | SchemaKind::Metadata
    );
    if keyed == api_key.is_none() {
        return Err(format!(
            "{context}: requests, responses and metadata records have an apiKey, headers and data do not"
        ));
    }
    let valid_versions = Versions::parse(string_of(obj, "validVersions", &context)?)?;
    let flexible_versions = Versions::parse(string_of(obj, "flexibleVersions", &context)?)?;
    if !flexible_versions.is_empty() && flexible_versions.hi != i16::MAX {
        return Err(format!(
            "{context}: flexibleVersions must be open-ended (\"N+\") or \"none\""
        ));
    }
    let common: Vec<&Value> = match obj.get("commonStructs") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(_) => return Err(format!("{context}: commonStructs must be an array")),
    };

    let mut structs = vec![StructDef {
        name: name.clone(),
        fields: Vec::new(),
    }];
    let mut seen_names = BTreeSet::from([name.clone()]);
    let top_fields = parse_fields(obj, &context, &mut structs, &mut seen_names)?;
    structs[0].fields = top_fields;
    for common_struct in common {
        let cobj = common_struct
            .as_object()
            .ok_or_else(|| format!("{context}: commonStructs entries must be objects"))?;
        expect_keys(cobj, &["name", "versions", "fields", "about"], &context)?;
        let cname = string_of(cobj, "name", &context)?.to_owned();
        if !seen_names.insert(cname.clone()) {
            return Err(format!("{context}: struct name {cname:?} is defined twice"));
        }
        let index = structs.len();
        structs.push(StructDef {
            name: cname.clone(),
            fields: Vec::new(),
        });
        let fields = parse_fields(
            cobj,
            &format!("{context}.{cname}"),
            &mut structs,
            &mut seen_names,
        )?;
        structs[index].fields = fields;
    }

    let schema = Schema {
        file: file.to_owned(),
        name,
        kind,
        api_key,
        valid_versions,
        flexible_versions,
        structs,
    };
    validate(&schema)?;
    Ok(schema)
}

fn parse_fields(
    obj: &Map<String, Value>,
    context: &str,
    structs: &mut Vec<StructDef>,
    seen_names: &mut BTreeSet<String>,
) -> Result<Vec<Field>, String> {
    let Some(list) = obj.get("fields") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| format!("{context}: fields must be an array"))?;
    let mut fields = Vec::new();
    for entry in list {
        let f = entry
            .as_object()
            .ok_or_else(|| format!("{context}: a field is not an object"))?;
        let name = string_of(f, "name", context)?.to_owned();
        let fcontext = format!("{context}.{name}");
        expect_keys(
            f,
            &[
                "name",
                "type",
                "versions",
                "about",
                "nullableVersions",
                "default",
                "ignorable",
                "taggedVersions",
                "tag",
                "mapKey",
                "entityType",
                "flexibleVersions",
                "fields",
                "zeroCopy",
            ],
            &fcontext,
        )?;
        let ty = FieldType::parse(string_of(f, "type", &fcontext)?)
            .map_err(|e| format!("{fcontext}: {e}"))?;
        let versions = Versions::parse(string_of(f, "versions", &fcontext)?)?;
        let about = string_of(f, "about", &fcontext)
            .map_err(|_| format!("{fcontext}: every field needs an \"about\" (the spec pages are generated from it)"))?
            .to_owned();
        let nullable_versions = match optional_string(f, "nullableVersions", &fcontext)? {
            Some(v) => Versions::parse(&v)?,
            None => Versions::NONE,
        };
        let tagged_versions = match optional_string(f, "taggedVersions", &fcontext)? {
            Some(v) => Versions::parse(&v)?,
            None => Versions::NONE,
        };
        let tag = match f.get("tag") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|t| u32::try_from(t).ok())
                    .ok_or_else(|| format!("{fcontext}: tag must be a non-negative integer"))?,
            ),
        };
        let default = match f.get("default") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(_) => {
                return Err(format!(
                    "{fcontext}: default must be a string, number or bool"
                ));
            }
        };
        let ignorable = f.get("ignorable").and_then(Value::as_bool).unwrap_or(false);
        let never_flexible = match optional_string(f, "flexibleVersions", &fcontext)?.as_deref() {
            None => false,
            Some("none") => true,
            Some(other) => {
                return Err(format!(
                    "{fcontext}: field flexibleVersions may only be \"none\", not {other:?}"
                ));
            }
        };
        if let Some(struct_name) = ty.struct_name() {
            if f.contains_key("fields") {
                if !seen_names.insert(struct_name.to_owned()) {
                    return Err(format!(
                        "{fcontext}: struct name {struct_name:?} is defined twice"
                    ));
                }
                let index = structs.len();
                structs.push(StructDef {
                    name: struct_name.to_owned(),
                    fields: Vec::new(),
                });
                let nested = parse_fields(f, &fcontext, structs, seen_names)?;
                structs[index].fields = nested;
            }
        } else if f.contains_key("fields") {
            return Err(format!("{fcontext}: only struct types have fields"));
        }
        fields.push(Field {
            name,
            ty,
            versions,
            nullable_versions,
            tagged_versions,
            tag,
            default,
            ignorable,
            about,
            never_flexible,
        });
    }
    Ok(fields)
}

fn validate(schema: &Schema) -> Result<(), String> {
    let names: BTreeSet<&str> = schema.structs.iter().map(|s| s.name.as_str()).collect();
    for def in &schema.structs {
        let mut tags = BTreeMap::new();
        let mut field_names = BTreeSet::new();
        for field in &def.fields {
            let context = format!("{} ({}.{})", schema.file, def.name, field.name);
            if !field_names.insert(field.name.as_str()) {
                return Err(format!("{context}: field defined twice"));
            }
            if let Some(name) = field.ty.struct_name()
                && !names.contains(name)
            {
                return Err(format!("{context}: struct {name:?} is not defined"));
            }
            if !field.nullable_versions.is_empty() {
                let nullable_capable = match &field.ty {
                    FieldType::Primitive(p) => p.nullable_capable(),
                    FieldType::Array(_) => true,
                    FieldType::Struct(_) => false,
                };
                if !nullable_capable {
                    return Err(format!(
                        "{context}: type {} cannot be nullable",
                        field.ty.schema_name()
                    ));
                }
            }
            match (field.tag, field.tagged_versions.is_empty()) {
                (Some(_), true) | (None, false) => {
                    return Err(format!(
                        "{context}: \"tag\" and \"taggedVersions\" go together"
                    ));
                }
                (Some(tag), false) => {
                    if tags.insert(tag, field.name.clone()).is_some() {
                        return Err(format!("{context}: tag {tag} is used twice"));
                    }
                    if !schema.flexible_versions.covers(field.tagged_versions) {
                        return Err(format!(
                            "{context}: taggedVersions must be flexible versions"
                        ));
                    }
                    if field.tagged_versions.hi != i16::MAX
                        || !field.versions.covers(field.tagged_versions)
                    {
                        return Err(format!(
                            "{context}: taggedVersions must be open-ended and within versions"
                        ));
                    }
                }
                (None, true) => {}
            }
            if field.never_flexible && field.ty != FieldType::Primitive(Primitive::String) {
                return Err(format!(
                    "{context}: flexibleVersions \"none\" is only supported on strings"
                ));
            }
            check_default(field).map_err(|e| format!("{context}: {e}"))?;
        }
    }
    Ok(())
}

fn check_default(field: &Field) -> Result<(), String> {
    let Some(default) = &field.default else {
        return Ok(());
    };
    match &field.ty {
        FieldType::Primitive(p) if p.is_integer() => parse_integer(default).map(|_| ()),
        FieldType::Primitive(Primitive::Float64) => default
            .parse::<f64>()
            .map(|_| ())
            .map_err(|_| format!("default {default:?} is not a float")),
        FieldType::Primitive(Primitive::Bool) => match default.as_str() {
            "true" | "false" => Ok(()),
            _ => Err(format!("default {default:?} is not a bool")),
        },
        FieldType::Primitive(Primitive::String) => {
            if default == "null" && field.nullable_versions.is_empty() {
                Err("default null on a non-nullable string".into())
            } else {
                Ok(())
            }
        }
        FieldType::Array(_) | FieldType::Primitive(Primitive::Bytes | Primitive::Records) => {
            if default == "null" && !field.nullable_versions.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "only a nullable {} may have a default, and only \"null\"",
                    field.ty.schema_name()
                ))
            }
        }
        _ => Err(format!(
            "type {} cannot have a default",
            field.ty.schema_name()
        )),
    }
}

/// Decimal or `0x` hexadecimal, possibly negative.
pub fn parse_integer(text: &str) -> Result<i64, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match digits.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16),
        None => digits.parse::<i64>(),
    }
    .map_err(|_| format!("default {text:?} is not an integer"))?;
    Ok(if negative { -magnitude } else { magnitude })
}
