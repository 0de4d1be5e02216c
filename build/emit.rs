//! Rust code generation from validated schemas.
//!
//! For every schema: a module with one struct per schema struct, `Default` from the schema's
//! defaults, `encode_body`/`decode_body` that follow the field list version by version, the
//! `Message` (and for APIs `ApiMessage`) impls, and under `cfg(test)` a proptest strategy that
//! produces only values valid at a given version. Then the `ApiKey` enum and the
//! `RequestBody`/`ResponseBody` dispatch enums over all APIs, and the field tables that the
//! spec pages must contain.
//!
//! Conditions on the version are simplified against the schema's supported range, which is safe
//! because every generated entry point checks the version before calling into a body.

use std::fmt::Write;

use crate::schema::{
    Field, FieldType, Primitive, Schema, SchemaKind, StructDef, Versions, parse_integer,
};

/// A version condition after simplification against the supported range.
enum Pred {
    Always,
    Never,
    When(String),
}

fn pred(set: Versions, valid: Versions) -> Pred {
    let effective = set.intersect(valid);
    if effective.is_empty() {
        Pred::Never
    } else if effective == valid {
        Pred::Always
    } else if effective.lo > valid.lo && effective.hi < valid.hi {
        Pred::When(format!(
            "({}..={}).contains(&version)",
            effective.lo, effective.hi
        ))
    } else if effective.lo > valid.lo {
        Pred::When(format!("version >= {}", effective.lo))
    } else {
        Pred::When(format!("version <= {}", effective.hi))
    }
}

/// Wraps `body` in `if cond { .. }` as the predicate requires.
fn guarded(p: &Pred, body: &str) -> String {
    match p {
        Pred::Always => body.to_owned(),
        Pred::Never => String::new(),
        Pred::When(cond) => format!("if {cond} {{\n{body}}}\n"),
    }
}

fn negate(p: &Pred) -> Pred {
    match p {
        Pred::Always => Pred::Never,
        Pred::Never => Pred::Always,
        Pred::When(c) => Pred::When(format!("!({c})")),
    }
}

pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let after_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let acronym_end = i > 0
                && chars[i - 1].is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if after_lower || acronym_end {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn rust_ident(name: &str) -> String {
    let snake = snake_case(name);
    const KEYWORDS: &[&str] = &[
        "type", "match", "ref", "mod", "move", "use", "where", "self", "super", "crate", "fn",
        "loop",
    ];
    if KEYWORDS.contains(&snake.as_str()) {
        format!("r#{snake}")
    } else {
        snake
    }
}

/// Everything about one field that the emitters need, computed once.
struct FieldPlan<'a> {
    field: &'a Field,
    ident: String,
    /// The field is an `Option` in Rust: nullable in some supported version.
    optional: bool,
    valid: Versions,
}

impl<'a> FieldPlan<'a> {
    fn new(field: &'a Field, valid: Versions) -> Self {
        let present = field.versions.intersect(valid);
        let optional = !field.nullable_versions.intersect(present).is_empty();
        FieldPlan {
            field,
            ident: rust_ident(&field.name),
            optional,
            valid,
        }
    }

    fn present(&self) -> Pred {
        pred(self.field.versions, self.valid)
    }

    fn tagged(&self) -> Pred {
        pred(self.field.tagged_versions, self.valid)
    }

    /// Versions in which the field is written inline (present and not tagged).
    fn regular(&self) -> Pred {
        let regular = if self.field.tagged_versions.is_empty() {
            self.field.versions
        } else {
            let before_tags = Versions {
                lo: 0,
                hi: self.field.tagged_versions.lo - 1,
            };
            self.field.versions.intersect(before_tags)
        };
        pred(regular, self.valid)
    }

    fn nullable(&self) -> Pred {
        pred(self.field.nullable_versions, self.valid)
    }

    /// The compact-encoding condition for this field's strings/bytes/arrays.
    fn compact(&self, flexible: Versions) -> String {
        if self.field.never_flexible {
            return "false".into();
        }
        match pred(flexible, self.valid) {
            Pred::Always => "true".into(),
            Pred::Never => "false".into(),
            Pred::When(_) => "flexible(version)".into(),
        }
    }

    fn rust_type(&self) -> String {
        let base = rust_base_type(&self.field.ty);
        if self.optional {
            format!("Option<{base}>")
        } else {
            base
        }
    }

    fn default_expr(&self) -> String {
        let d = self.field.default.as_deref();
        match &self.field.ty {
            FieldType::Primitive(p) if p.is_integer() => d
                .map(|t| parse_integer(t).expect("validated"))
                .unwrap_or(0)
                .to_string(),
            FieldType::Primitive(Primitive::Float64) => format!(
                "{:?}",
                d.map(|t| t.parse::<f64>().expect("validated"))
                    .unwrap_or(0.0)
            ),
            FieldType::Primitive(Primitive::Bool) => d.unwrap_or("false").to_owned(),
            FieldType::Primitive(Primitive::Uuid) => "Uuid::ZERO".into(),
            FieldType::Primitive(Primitive::String) => match (self.optional, d) {
                (true, Some("null")) => "None".into(),
                (true, d) => format!("Some(String::from({:?}))", d.unwrap_or("")),
                (false, d) => format!("String::from({:?})", d.unwrap_or("")),
            },
            FieldType::Primitive(Primitive::Records) if self.optional => "None".into(),
            FieldType::Primitive(Primitive::Bytes | Primitive::Records) | FieldType::Array(_) => {
                match (self.optional, d) {
                    (true, Some("null")) => "None".into(),
                    (true, _) => "Some(Vec::new())".into(),
                    (false, _) => "Vec::new()".into(),
                }
            }
            FieldType::Struct(name) => format!("{name}::default()"),
            FieldType::Primitive(_) => unreachable!("all primitives handled"),
        }
    }

    /// An expression that is true when `self.<field>` differs from its default, without
    /// allocating.
    fn differs_from_default(&self) -> String {
        let place = format!("self.{}", self.ident);
        let default = self.default_expr();
        match &self.field.ty {
            FieldType::Primitive(Primitive::String) => match default.as_str() {
                "None" => format!("{place}.is_some()"),
                _ if self.optional => format!(
                    "{place}.as_deref() != Some({:?})",
                    self.field.default.as_deref().unwrap_or("")
                ),
                _ => format!(
                    "{place} != {:?}",
                    self.field.default.as_deref().unwrap_or("")
                ),
            },
            FieldType::Primitive(Primitive::Bytes | Primitive::Records) | FieldType::Array(_) => {
                match default.as_str() {
                    "None" => format!("{place}.is_some()"),
                    "Some(Vec::new())" => format!("{place}.as_ref().is_none_or(|v| !v.is_empty())"),
                    _ => format!("!{place}.is_empty()"),
                }
            }
            _ => format!("{place} != {default}"),
        }
    }
}

fn rust_base_type(ty: &FieldType) -> String {
    match ty {
        FieldType::Primitive(p) => match p {
            Primitive::Int8 => "i8",
            Primitive::Int16 => "i16",
            Primitive::Int32 => "i32",
            Primitive::Int64 => "i64",
            Primitive::Uint16 => "u16",
            Primitive::Uint32 => "u32",
            Primitive::Float64 => "f64",
            Primitive::Bool => "bool",
            Primitive::String => "String",
            Primitive::Bytes | Primitive::Records => "Vec<u8>",
            Primitive::Uuid => "Uuid",
        }
        .to_owned(),
        FieldType::Array(inner) => format!("Vec<{}>", rust_base_type(inner)),
        FieldType::Struct(name) => name.clone(),
    }
}

/// How to name a value in generated encode code: `place` for method calls, `value` for a copy.
struct ValueRef<'a> {
    place: &'a str,
    value: &'a str,
}

/// Statements appending the encoding of one value to `out`.
fn encode_value(
    ty: &FieldType,
    optional: bool,
    v: &ValueRef,
    out: &str,
    name: &str,
    compact: &str,
) -> String {
    let place = v.place;
    match ty {
        FieldType::Primitive(p) => match p {
            Primitive::Int8 => format!("{out}.put_i8({});\n", v.value),
            Primitive::Int16 => format!("{out}.put_i16({});\n", v.value),
            Primitive::Int32 => format!("{out}.put_i32({});\n", v.value),
            Primitive::Int64 => format!("{out}.put_i64({});\n", v.value),
            Primitive::Uint16 => format!("{out}.put_u16({});\n", v.value),
            Primitive::Uint32 => format!("{out}.put_u32({});\n", v.value),
            Primitive::Float64 => format!("{out}.put_f64({});\n", v.value),
            Primitive::Bool => format!("{out}.put_bool({});\n", v.value),
            // An array element is named by dereferencing a reference (`*e`): pass the
            // reference itself rather than re-borrowing it.
            Primitive::Uuid => match v.value.strip_prefix('*') {
                Some(reference) => format!("{out}.put_uuid({reference});\n"),
                None => format!("{out}.put_uuid(&{});\n", v.value),
            },
            Primitive::String if optional => {
                format!("write_nullable_string({out}, {name:?}, {place}.as_deref(), {compact})?;\n")
            }
            Primitive::String => format!(
                "write_nullable_string({out}, {name:?}, Some({place}.as_str()), {compact})?;\n"
            ),
            Primitive::Bytes | Primitive::Records if optional => {
                format!("write_nullable_bytes({out}, {name:?}, {place}.as_deref(), {compact})?;\n")
            }
            Primitive::Bytes | Primitive::Records => format!(
                "write_nullable_bytes({out}, {name:?}, Some({place}.as_slice()), {compact})?;\n"
            ),
        },
        FieldType::Struct(_) => format!("{place}.encode_body({out}, version)?;\n"),
        FieldType::Array(inner) => {
            let element = encode_value(
                inner,
                false,
                &ValueRef {
                    place: "e",
                    value: "*e",
                },
                out,
                name,
                compact,
            );
            let write_items = |items: &str| {
                format!(
                    "write_array_length({out}, {name:?}, Some({items}.len()), {compact})?;\nfor e in {items}.iter() {{\n{element}}}\n"
                )
            };
            if optional {
                format!(
                    "match &{place} {{\nNone => write_array_length({out}, {name:?}, None, {compact})?,\nSome(items) => {{\n{}}}\n}}\n",
                    write_items("items")
                )
            } else {
                write_items(place)
            }
        }
    }
}

/// `call.map_err(..)?` naming the field on failure.
fn in_field(call: &str, name: &str) -> String {
    format!("{call}.map_err(|e| e.in_field({name:?}))?")
}

/// An expression decoding one value from `r`.
fn decode_value(
    ty: &FieldType,
    optional: bool,
    nullable: &Pred,
    name: &str,
    compact: &str,
) -> String {
    let nullable_and_plain = |nullable_call: &str, plain_call: &str| -> String {
        if !optional {
            return in_field(plain_call, name);
        }
        match nullable {
            Pred::Always => in_field(nullable_call, name),
            Pred::Never => format!("Some({})", in_field(plain_call, name)),
            Pred::When(cond) => format!(
                "if {cond} {{ {} }} else {{ Some({}) }}",
                in_field(nullable_call, name),
                in_field(plain_call, name)
            ),
        }
    };
    match ty {
        FieldType::Primitive(p) => match p {
            Primitive::Int8 => in_field("r.read_i8()", name),
            Primitive::Int16 => in_field("r.read_i16()", name),
            Primitive::Int32 => in_field("r.read_i32()", name),
            Primitive::Int64 => in_field("r.read_i64()", name),
            Primitive::Uint16 => in_field("r.read_u16()", name),
            Primitive::Uint32 => in_field("r.read_u32()", name),
            Primitive::Float64 => in_field("r.read_f64()", name),
            Primitive::Bool => in_field("r.read_bool()", name),
            Primitive::Uuid => in_field("r.read_uuid()", name),
            Primitive::String => nullable_and_plain(
                &format!("r.read_nullable_string({compact})"),
                &format!("r.read_string({compact})"),
            ),
            Primitive::Bytes | Primitive::Records => nullable_and_plain(
                &format!("r.read_nullable_bytes({compact})"),
                &format!("r.read_bytes({compact})"),
            ),
        },
        FieldType::Struct(struct_name) => {
            in_field(&format!("{struct_name}::decode_body(r, version)"), name)
        }
        FieldType::Array(inner) => {
            let element = decode_value(inner, false, &Pred::Never, name, compact);
            let elements = in_field(&format!("r.read_elements(n, |r| Ok({element}))"), name);
            let null_refused =
                format!("return Err(r.error(DecodeErrorKind::NullNotAllowed).in_field({name:?}))");
            let (on_null, on_some) = if optional {
                let on_null = match nullable {
                    Pred::Always => "None".to_owned(),
                    Pred::Never => null_refused,
                    Pred::When(cond) => format!("if {cond} {{ None }} else {{ {null_refused} }}"),
                };
                (on_null, format!("Some({elements})"))
            } else {
                (null_refused, elements)
            };
            format!(
                "match {} {{\nNone => {on_null},\nSome(n) => {on_some},\n}}",
                in_field(&format!("r.read_array_length({compact})"), name)
            )
        }
    }
}

/// A proptest strategy (boxed) for one value valid at `version`.
fn strategy(ty: &FieldType, optional: bool, nullable: &Pred) -> String {
    let base = match ty {
        FieldType::Primitive(p) => match p {
            Primitive::Int8 => "any::<i8>().boxed()".to_owned(),
            Primitive::Int16 => "any::<i16>().boxed()".to_owned(),
            Primitive::Int32 => "any::<i32>().boxed()".to_owned(),
            Primitive::Int64 => "any::<i64>().boxed()".to_owned(),
            Primitive::Uint16 => "any::<u16>().boxed()".to_owned(),
            Primitive::Uint32 => "any::<u32>().boxed()".to_owned(),
            Primitive::Float64 => {
                "(proptest::num::f64::POSITIVE | proptest::num::f64::NEGATIVE | proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO | proptest::num::f64::INFINITE).boxed()".to_owned()
            }
            Primitive::Bool => "any::<bool>().boxed()".to_owned(),
            Primitive::Uuid => "any::<[u8; 16]>().prop_map(Uuid::from_bytes).boxed()".to_owned(),
            Primitive::String => "\"\\\\PC{0,12}\".boxed()".to_owned(),
            Primitive::Bytes | Primitive::Records => "proptest::collection::vec(any::<u8>(), 0..24).boxed()".to_owned(),
        },
        FieldType::Struct(name) => format!("{name}::arbitrary(version)"),
        FieldType::Array(inner) => format!("proptest::collection::vec({}, 0..3).boxed()", strategy(inner, false, &Pred::Never)),
    };
    if !optional {
        return base;
    }
    match nullable {
        Pred::Always => format!("proptest::option::of({base}).boxed()"),
        Pred::Never => format!("{base}.prop_map(Some).boxed()"),
        Pred::When(cond) => format!(
            "if {cond} {{ proptest::option::of({base}).boxed() }} else {{ {base}.prop_map(Some).boxed() }}"
        ),
    }
}

/// Statements that make one field carry only what `version` can: back to its default where
/// the version lacks the field, a null replaced by the empty value where the version cannot
/// carry null, and the same recursively inside structs and arrays of structs.
fn narrow_field(p: &FieldPlan) -> String {
    let place = format!("self.{}", p.ident);
    let mut fit = String::new();
    if p.optional {
        let empty = match &p.field.ty {
            FieldType::Primitive(Primitive::String) => Some("String::new()"),
            FieldType::Primitive(Primitive::Bytes | Primitive::Records) | FieldType::Array(_) => {
                Some("Vec::new()")
            }
            _ => None,
        };
        if let Some(empty) = empty {
            let refill = format!("if {place}.is_none() {{\n{place} = Some({empty});\n}}\n");
            fit.push_str(&guarded(&negate(&p.nullable()), &refill));
        }
    }
    let inner = match &p.field.ty {
        FieldType::Struct(_) => Some(format!("{place}.narrow_body(version);\n")),
        FieldType::Array(element) if matches!(**element, FieldType::Struct(_)) => {
            Some(if p.optional {
                format!(
                    "if let Some(items) = {place}.as_mut() {{\nfor e in items.iter_mut() {{\ne.narrow_body(version);\n}}\n}}\n"
                )
            } else {
                format!("for e in {place}.iter_mut() {{\ne.narrow_body(version);\n}}\n")
            })
        }
        _ => None,
    };
    if let Some(inner) = inner {
        fit.push_str(&inner);
    }
    let mut out = if fit.is_empty() {
        String::new()
    } else {
        guarded(&p.present(), &fit)
    };
    out.push_str(&guarded(
        &negate(&p.present()),
        &format!("{place} = {};\n", p.default_expr()),
    ));
    out
}

struct MessageContext<'a> {
    schema: &'a Schema,
    has_flexible: bool,
}

fn emit_struct(ctx: &MessageContext, def: &StructDef, about: &str, out: &mut String) {
    let schema = ctx.schema;
    let valid = schema.valid_versions;
    let plans: Vec<FieldPlan> = def
        .fields
        .iter()
        .map(|f| FieldPlan::new(f, valid))
        .collect();
    let flexible_pred = pred(schema.flexible_versions, valid);

    // The struct.
    writeln!(out, "/// {about}").unwrap();
    writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq)]\npub struct {} {{",
        def.name
    )
    .unwrap();
    for p in &plans {
        writeln!(
            out,
            "/// {} (versions {})",
            p.field.about,
            p.field.versions.intersect(valid).describe()
        )
        .unwrap();
        writeln!(out, "pub {}: {},", p.ident, p.rust_type()).unwrap();
    }
    if ctx.has_flexible {
        out.push_str("/// Tagged fields this version of keel does not know, kept so re-encoding reproduces them.\n");
        out.push_str("pub unknown_tagged_fields: Vec<RawTaggedField>,\n");
    }
    out.push_str("}\n\n");

    // Default.
    writeln!(
        out,
        "impl Default for {} {{\nfn default() -> Self {{\nSelf {{",
        def.name
    )
    .unwrap();
    for p in &plans {
        writeln!(out, "{}: {},", p.ident, p.default_expr()).unwrap();
    }
    if ctx.has_flexible {
        out.push_str("unknown_tagged_fields: Vec::new(),\n");
    }
    out.push_str("}\n}\n}\n\n");

    writeln!(out, "impl {} {{", def.name).unwrap();

    // encode_body
    out.push_str("pub(crate) fn encode_body(&self, out: &mut Vec<u8>, version: i16) -> Result<(), EncodeError> {\n");
    let mut tagged_code = String::new();
    for p in &plans {
        let name = p.field.name.as_str();
        let compact = p.compact(schema.flexible_versions);
        let self_ref = format!("self.{}", p.ident);
        let vref = ValueRef {
            place: &self_ref,
            value: &self_ref,
        };
        let null_check = if p.optional {
            let refused = format!(
                "return Err(EncodeError::NullNotAllowed {{ message: {:?}, field: {name:?}, version }});\n",
                schema.name
            );
            match p.nullable() {
                Pred::Always => String::new(),
                Pred::Never => format!("if self.{}.is_none() {{\n{refused}}}\n", p.ident),
                Pred::When(cond) => format!(
                    "if self.{}.is_none() && !({cond}) {{\n{refused}}}\n",
                    p.ident
                ),
            }
        } else {
            String::new()
        };
        let write_inline = format!(
            "{null_check}{}",
            encode_value(&p.field.ty, p.optional, &vref, "out", name, &compact)
        );
        out.push_str(&guarded(&p.regular(), &write_inline));
        if !p.field.ignorable {
            let refused = format!(
                "if {} {{\nreturn Err(EncodeError::FieldNotInVersion {{ message: {:?}, field: {name:?}, version }});\n}}\n",
                p.differs_from_default(),
                schema.name
            );
            out.push_str(&guarded(&negate(&p.present()), &refused));
        }
        if let Some(tag) = p.field.tag {
            let write_tagged = format!(
                "if {} {{\n{null_check}let mut tag_bytes = Vec::new();\nlet buf = &mut tag_bytes;\n{}tagged.push(({tag}, tag_bytes));\n}}\n",
                p.differs_from_default(),
                encode_value(&p.field.ty, p.optional, &vref, "buf", name, &compact)
            );
            tagged_code.push_str(&guarded(&p.tagged(), &write_tagged));
        }
    }
    if ctx.has_flexible {
        let tagged_decl = if tagged_code.is_empty() {
            "let tagged = Vec::new();\n".to_owned()
        } else {
            format!("let mut tagged = Vec::new();\n{tagged_code}")
        };
        let section = format!(
            "{tagged_decl}write_tagged_fields(out, tagged, &self.unknown_tagged_fields);\n"
        );
        out.push_str(&guarded(&flexible_pred, &section));
        let refuse_unknown = format!(
            "if !self.unknown_tagged_fields.is_empty() {{\nreturn Err(EncodeError::FieldNotInVersion {{ message: {:?}, field: \"(unknown tagged fields)\", version }});\n}}\n",
            schema.name
        );
        out.push_str(&guarded(&negate(&flexible_pred), &refuse_unknown));
    }
    out.push_str("Ok(())\n}\n\n");

    // narrow_body
    out.push_str("pub(crate) fn narrow_body(&mut self, version: i16) {\n");
    for p in &plans {
        out.push_str(&narrow_field(p));
    }
    if ctx.has_flexible {
        out.push_str(&guarded(
            &negate(&flexible_pred),
            "self.unknown_tagged_fields.clear();\n",
        ));
    }
    out.push_str("}\n\n");

    // decode_body
    let binds_this = plans.iter().any(|p| !matches!(p.present(), Pred::Never)) || ctx.has_flexible;
    out.push_str("pub(crate) fn decode_body(r: &mut Reader<'_>, version: i16) -> Result<Self, DecodeError> {\n");
    if binds_this {
        out.push_str("#[allow(unused_mut)]\nlet mut this = Self::default();\n");
    } else {
        out.push_str("let _ = (r, version);\nlet this = Self::default();\n");
    }
    let mut tag_arms = String::new();
    for p in &plans {
        let name = p.field.name.as_str();
        let compact = p.compact(schema.flexible_versions);
        let value = decode_value(&p.field.ty, p.optional, &p.nullable(), name, &compact);
        out.push_str(&guarded(
            &p.regular(),
            &format!("this.{} = {value};\n", p.ident),
        ));
        if let Some(tag) = p.field.tag {
            let guard = match p.tagged() {
                Pred::Always => String::new(),
                Pred::Never => continue,
                Pred::When(cond) => format!(" if {cond}"),
            };
            writeln!(
                tag_arms,
                "{tag}{guard} => {{\nthis.{} = {value};\nOk(true)\n}}",
                p.ident
            )
            .unwrap();
        }
    }
    if ctx.has_flexible {
        let reader = if tag_arms.is_empty() {
            "read_tagged_fields(r, &mut unknown, |_, _| Ok(false))?;\n".to_owned()
        } else {
            format!(
                "read_tagged_fields(r, &mut unknown, |tag, r| match tag {{\n{tag_arms}_ => Ok(false),\n}})?;\n"
            )
        };
        let section = format!(
            "let mut unknown = Vec::new();\n{reader}this.unknown_tagged_fields = unknown;\n"
        );
        out.push_str(&guarded(&flexible_pred, &section));
    }
    out.push_str("Ok(this)\n}\n");

    // arbitrary (tests only)
    out.push_str("}\n\n#[cfg(test)]\n");
    writeln!(out, "impl {} {{", def.name).unwrap();
    out.push_str("#[allow(unused_variables)]\npub(crate) fn arbitrary(version: i16) -> BoxedStrategy<Self> {\n");
    let mut parts: Vec<(String, String)> = Vec::new();
    for p in &plans {
        let s = strategy(&p.field.ty, p.optional, &p.nullable());
        let s = match p.present() {
            Pred::Always => s,
            Pred::Never => format!("Just({}).boxed()", p.default_expr()),
            Pred::When(cond) => format!(
                "if {cond} {{ {s} }} else {{ Just({}).boxed() }}",
                p.default_expr()
            ),
        };
        parts.push((p.ident.trim_start_matches("r#").to_owned(), s));
    }
    if ctx.has_flexible {
        let known: Vec<String> = plans
            .iter()
            .filter_map(|p| p.field.tag)
            .map(|t| t.to_string())
            .collect();
        let s = format!(
            "if {} {{ arbitrary_unknown_tagged_fields(&[{}]) }} else {{ Just(Vec::new()).boxed() }}",
            match &flexible_pred {
                Pred::Always => "true".to_owned(),
                Pred::Never => "false".to_owned(),
                Pred::When(c) => c.clone(),
            },
            known.join(", ")
        );
        parts.push(("unknown_tagged_fields".into(), s));
    }
    if parts.is_empty() {
        writeln!(out, "Just(Self::default()).boxed()\n}}\n}}\n").unwrap();
        return;
    }
    // Nest as (a, (b, (c, d))) so any number of fields fits proptest's tuple strategies.
    let mut tuple = String::new();
    let mut pattern = String::new();
    for (i, (ident, s)) in parts.iter().enumerate() {
        if i + 1 < parts.len() {
            write!(tuple, "({s}, ").unwrap();
            write!(pattern, "({ident}, ").unwrap();
        } else {
            tuple.push_str(s);
            pattern.push_str(ident);
        }
    }
    for _ in 1..parts.len() {
        tuple.push(')');
        pattern.push(')');
    }
    let fields: Vec<String> = plans
        .iter()
        .map(|p| {
            let raw = p.ident.trim_start_matches("r#");
            if raw == p.ident {
                raw.to_owned()
            } else {
                format!("{}: {raw}", p.ident)
            }
        })
        .chain(ctx.has_flexible.then(|| "unknown_tagged_fields".to_owned()))
        .collect();
    writeln!(
        out,
        "{tuple}.prop_map(|{pattern}| Self {{ {} }}).boxed()\n}}\n}}\n",
        fields.join(", ")
    )
    .unwrap();
}

fn api_name(schema: &Schema) -> String {
    let suffix = match schema.kind {
        SchemaKind::Request => "Request",
        SchemaKind::Response => "Response",
        SchemaKind::Header | SchemaKind::Data | SchemaKind::Metadata => return schema.name.clone(),
    };
    schema
        .name
        .strip_suffix(suffix)
        .unwrap_or_else(|| panic!("{}: an API's schema name ends in {suffix}", schema.file))
        .to_owned()
}

fn emit_schema(schema: &Schema, out: &mut String) {
    let module = snake_case(&schema.name);
    let valid = schema.valid_versions;
    let has_flexible = !schema.flexible_versions.intersect(valid).is_empty();
    let ctx = MessageContext {
        schema,
        has_flexible,
    };
    writeln!(
        out,
        "/// Generated from `protocol-spec/schemas/{}`.",
        schema.file
    )
    .unwrap();
    writeln!(out, "pub mod {module} {{").unwrap();
    out.push_str("// Generated code favours one uniform shape over the shortest form of each case.\n#![allow(unused_variables, clippy::derivable_impls, clippy::bool_comparison, clippy::field_reassign_with_default, clippy::needless_question_mark, clippy::comparison_to_empty, clippy::needless_return, clippy::collapsible_if, clippy::collapsible_else_if, clippy::nonminimal_bool, clippy::borrow_deref_ref)]\n");
    out.push_str("#[allow(unused_imports)]\nuse crate::protocol::message::*;\n#[allow(unused_imports)]\nuse crate::protocol::primitives::*;\n#[allow(unused_imports)]\nuse crate::uuid::Uuid;\n");
    out.push_str("#[cfg(test)]\n#[allow(unused_imports)]\nuse proptest::prelude::*;\n#[cfg(test)]\n#[allow(unused_imports)]\nuse crate::protocol::message::arbitrary_unknown_tagged_fields;\n\n");
    let flexible = schema.flexible_versions;
    let flexible_body = if flexible.is_empty() {
        "let _ = version;\nfalse".to_owned()
    } else {
        format!("version >= {}", flexible.lo)
    };
    writeln!(
        out,
        "/// Whether `version` uses the flexible encoding (defined for every version, supported or not).\n#[allow(dead_code)]\npub(crate) fn flexible(version: i16) -> bool {{\n{flexible_body}\n}}\n"
    )
    .unwrap();
    for (i, def) in schema.structs.iter().enumerate() {
        let about = if i == 0 {
            format!(
                "The body of {} (versions {}).",
                schema.name,
                valid.describe()
            )
        } else {
            format!("Part of {}: the `{}` struct.", schema.name, def.name)
        };
        emit_struct(&ctx, def, &about, out);
    }
    let name = &schema.name;
    writeln!(
        out,
        "impl Message for {name} {{
const NAME: &'static str = {name:?};
const VERSIONS: std::ops::RangeInclusive<i16> = {}..={};
fn is_flexible(version: i16) -> bool {{ flexible(version) }}
fn encode(&self, out: &mut Vec<u8>, version: i16) -> Result<(), EncodeError> {{
check_encode_version::<Self>(version)?;
self.encode_body(out, version)
}}
fn decode(reader: &mut Reader<'_>, version: i16) -> Result<Self, DecodeError> {{
check_decode_version::<Self>(reader, version)?;
Self::decode_body(reader, version).map_err(|e| e.in_message({name:?}))
}}
fn narrow_to_version(&mut self, version: i16) {{
self.narrow_body(version)
}}
}}",
        valid.lo, valid.hi
    )
    .unwrap();
    if schema.kind == SchemaKind::Metadata {
        let key = schema.api_key.expect("validated");
        writeln!(out, "impl {name} {{\n/// The record type in the metadata log's record frame.\npub const RECORD_TYPE: u16 = {key};\n}}").unwrap();
    }
    if matches!(schema.kind, SchemaKind::Request | SchemaKind::Response) {
        writeln!(out, "impl ApiMessage for {name} {{\nconst API_KEY: crate::protocol::ApiKey = crate::protocol::ApiKey::{};\n}}", api_name(schema)).unwrap();
    }
    writeln!(out, "}}\npub use {module}::{name};\n").unwrap();
}

/// Markdown field tables for one schema: one table per struct, versions limited to keel's.
pub fn field_tables(schema: &Schema) -> String {
    let valid = schema.valid_versions;
    let mut out = String::new();
    for def in &schema.structs {
        if def.name == schema.name {
            writeln!(
                out,
                "`{}` (versions {}, flexible {}):\n",
                def.name,
                valid.describe(),
                schema.flexible_versions.intersect(valid).describe()
            )
            .unwrap();
        } else {
            writeln!(out, "`{}`:\n", def.name).unwrap();
        }
        if def.fields.is_empty() {
            out.push_str("No fields: the body is only its tagged-field section.\n\n");
            continue;
        }
        out.push_str("| Field | Type | Versions | Nullable | Tag | Default | Meaning |\n|---|---|---|---|---|---|---|\n");
        for field in &def.fields {
            let versions = field.versions.intersect(valid);
            let nullable = field.nullable_versions.intersect(versions);
            let tag = match field.tag {
                Some(tag) => format!(
                    "{tag} ({})",
                    field.tagged_versions.intersect(valid).describe()
                ),
                None => String::new(),
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                field.name,
                field.ty.schema_name(),
                versions.describe(),
                if nullable.is_empty() {
                    String::new()
                } else {
                    nullable.describe()
                },
                tag,
                field.default.clone().unwrap_or_default(),
                field.about.replace('|', "\\|")
            )
            .unwrap();
        }
        out.push('\n');
    }
    out
}

pub fn emit(schemas: &[Schema]) -> String {
    let mut out = String::from(
        "// @generated by build.rs from protocol-spec/schemas/*.json. Do not edit.\n\n",
    );
    for schema in schemas {
        emit_schema(schema, &mut out);
    }

    // Pair requests with responses.
    let requests: Vec<&Schema> = schemas
        .iter()
        .filter(|s| s.kind == SchemaKind::Request)
        .collect();
    let mut apis = Vec::new();
    for request in &requests {
        let key = request.api_key.expect("validated");
        let response = schemas
            .iter()
            .find(|s| s.kind == SchemaKind::Response && s.api_key == Some(key))
            .unwrap_or_else(|| panic!("{}: no response schema with apiKey {key}", request.file));
        assert_eq!(
            request.valid_versions, response.valid_versions,
            "{} and {} must support the same versions",
            request.file, response.file
        );
        assert_eq!(
            api_name(request),
            api_name(response),
            "{} and {} must share a name",
            request.file,
            response.file
        );
        apis.push((api_name(request), key, *request, response));
    }
    for response in schemas.iter().filter(|s| s.kind == SchemaKind::Response) {
        assert!(
            requests.iter().any(|r| r.api_key == response.api_key),
            "{}: no request schema for this response",
            response.file
        );
    }
    apis.sort_by_key(|(_, key, _, _)| *key);

    out.push_str("/// The Kafka APIs keel implements, with the api key each has on the wire.\n");
    out.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[repr(i16)]\npub enum ApiKey {\n");
    for (name, key, _, _) in &apis {
        writeln!(out, "{name} = {key},").unwrap();
    }
    out.push_str("}\n\nimpl ApiKey {\n/// Every API keel implements, by api key.\npub const ALL: &'static [ApiKey] = &[");
    for (name, _, _, _) in &apis {
        write!(out, "ApiKey::{name}, ").unwrap();
    }
    out.push_str("];\n\npub fn from_i16(key: i16) -> Option<ApiKey> {\nmatch key {\n");
    for (name, key, _, _) in &apis {
        writeln!(out, "{key} => Some(ApiKey::{name}),").unwrap();
    }
    out.push_str("_ => None,\n}\n}\n\n/// The API's name as Kafka spells it.\npub fn name(self) -> &'static str {\nmatch self {\n");
    for (name, _, _, _) in &apis {
        writeln!(out, "ApiKey::{name} => {name:?},").unwrap();
    }
    out.push_str("}\n}\n\n/// The versions keel supports (requests and responses alike).\npub fn versions(self) -> std::ops::RangeInclusive<i16> {\nmatch self {\n");
    for (name, _, request, _) in &apis {
        writeln!(
            out,
            "ApiKey::{name} => <{} as Message>::VERSIONS,",
            request.name
        )
        .unwrap();
    }
    out.push_str("}\n}\n\n/// Whether requests at `version` use the flexible encoding (any version).\npub fn request_is_flexible(self, version: i16) -> bool {\nmatch self {\n");
    for (name, _, request, _) in &apis {
        writeln!(
            out,
            "ApiKey::{name} => <{} as Message>::is_flexible(version),",
            request.name
        )
        .unwrap();
    }
    out.push_str("}\n}\n\n/// Whether responses at `version` use the flexible encoding (any version).\npub fn response_is_flexible(self, version: i16) -> bool {\nmatch self {\n");
    for (name, _, _, response) in &apis {
        writeln!(
            out,
            "ApiKey::{name} => <{} as Message>::is_flexible(version),",
            response.name
        )
        .unwrap();
    }
    out.push_str("}\n}\n}\n\n");

    for (kind, index) in [("Request", 2), ("Response", 3)] {
        writeln!(out, "/// Any {} body keel implements.\n#[derive(Debug, Clone, PartialEq)]\npub enum {kind}Body {{", kind.to_lowercase()).unwrap();
        for api in &apis {
            let schema = if index == 2 { api.2 } else { api.3 };
            writeln!(out, "{}({}),", api.0, schema.name).unwrap();
        }
        writeln!(
            out,
            "}}\n\nimpl {kind}Body {{\npub fn api_key(&self) -> ApiKey {{\nmatch self {{"
        )
        .unwrap();
        for api in &apis {
            writeln!(out, "{kind}Body::{}(_) => ApiKey::{},", api.0, api.0).unwrap();
        }
        out.push_str("}\n}\n\npub fn encode(&self, out: &mut Vec<u8>, version: i16) -> Result<(), EncodeError> {\nmatch self {\n");
        for api in &apis {
            writeln!(
                out,
                "{kind}Body::{}(body) => body.encode(out, version),",
                api.0
            )
            .unwrap();
        }
        out.push_str("}\n}\n\n/// Drops or defaults what `version` cannot carry (see [`Message::narrow_to_version`]).\npub fn narrow_to_version(&mut self, version: i16) {\nmatch self {\n");
        for api in &apis {
            writeln!(
                out,
                "{kind}Body::{}(body) => body.narrow_to_version(version),",
                api.0
            )
            .unwrap();
        }
        out.push_str("}\n}\n\npub fn decode(api_key: ApiKey, reader: &mut Reader<'_>, version: i16) -> Result<Self, DecodeError> {\nOk(match api_key {\n");
        for api in &apis {
            let schema = if index == 2 { api.2 } else { api.3 };
            writeln!(
                out,
                "ApiKey::{} => {kind}Body::{}({}::decode(reader, version)?),",
                api.0, api.0, schema.name
            )
            .unwrap();
        }
        out.push_str("})\n}\n}\n\n");
        writeln!(
            out,
            "#[cfg(test)]\nimpl {kind}Body {{\n/// A property-test strategy for any {} body of `api_key` valid at `version`.\npub(crate) fn arbitrary(api_key: ApiKey, version: i16) -> proptest::strategy::BoxedStrategy<Self> {{\nuse proptest::strategy::Strategy;\nmatch api_key {{",
            kind.to_lowercase()
        )
        .unwrap();
        for api in &apis {
            let schema = if index == 2 { api.2 } else { api.3 };
            writeln!(
                out,
                "ApiKey::{} => {}::arbitrary(version).prop_map({kind}Body::{}).boxed(),",
                api.0, schema.name, api.0
            )
            .unwrap();
        }
        out.push_str("}\n}\n}\n\n");
    }

    out.push_str("/// Runs `$m!(Type, module)` for every generated message type (tests iterate over all schemas).\n#[cfg(test)]\nmacro_rules! for_each_message {\n($m:ident) => {\n");
    for schema in schemas {
        writeln!(out, "$m!({}, {});", schema.name, snake_case(&schema.name)).unwrap();
    }
    out.push_str("};\n}\n#[cfg(test)]\npub(crate) use for_each_message;\n\n");

    out.push_str("/// The field tables each `protocol-spec/apis/*.md` page must contain, by schema name.\n#[cfg(test)]\npub(crate) const SCHEMA_FIELD_TABLES: &[(&str, &str)] = &[\n");
    for schema in schemas {
        writeln!(out, "({:?}, {:?}),", schema.name, field_tables(schema)).unwrap();
    }
    out.push_str("];\n");
    out
}
