//! Juju's three output formatters (`internal/cmd/output.go`): `smart` (the default),
//! `yaml` (yaml.v2) and `json` (Go's `json.Marshal`: sorted map keys, struct fields in
//! declared order, `<`,`>`,`&` escaped, integral floats without `.0`).

use std::collections::BTreeMap;

/// A Go value as the tools hand it to the formatter.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `[]string` in Go (smart joins it by newlines).
    Strings(Vec<String>),
    List(Vec<Out>),
    /// A Go map: keys sorted.
    Map(BTreeMap<String, Out>),
    /// A Go struct: fields in declared order.
    Struct(Vec<(String, Out)>),
}

impl Out {
    pub fn str(s: impl Into<String>) -> Out {
        Out::Str(s.into())
    }

    pub fn from_json(value: &serde_json::Value) -> Out {
        match value {
            serde_json::Value::Null => Out::Nil,
            serde_json::Value::Bool(b) => Out::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Out::Int(i),
                None => Out::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Out::Str(s.clone()),
            serde_json::Value::Array(a) => Out::List(a.iter().map(Out::from_json).collect()),
            serde_json::Value::Object(o) => Out::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Out::from_json(v)))
                    .collect(),
            ),
        }
    }

    pub fn bag(bag: &BTreeMap<String, String>) -> Out {
        Out::Map(
            bag.iter()
                .map(|(k, v)| (k.clone(), Out::Str(v.clone())))
                .collect(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Smart,
    Yaml,
    Json,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "smart" => Some(Format::Smart),
            "yaml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// The bytes Juju writes for `value`: the formatter's output, plus a final newline when
/// the output is non-empty and lacks one.
pub fn render(format: Format, value: &Out) -> String {
    let mut text = match format {
        Format::Json => json(value),
        Format::Yaml => yaml_doc(value),
        Format::Smart => smart(value),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn smart(value: &Out) -> String {
    match value {
        Out::Nil => String::new(),
        Out::Str(s) => s.clone(),
        Out::Strings(list) => list.join("\n"),
        Out::Bool(true) => "True".into(),
        Out::Bool(false) => "False".into(),
        other => yaml_doc(other),
    }
}

// ---------------------------------------------------------------- JSON

pub fn json(value: &Out) -> String {
    let mut out = String::new();
    write_json(&mut out, value);
    out
}

fn write_json(out: &mut String, value: &Out) {
    match value {
        Out::Nil => out.push_str("null"),
        Out::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Out::Int(i) => out.push_str(&i.to_string()),
        Out::Float(f) => out.push_str(&go_json_float(*f)),
        Out::Str(s) => json_string(out, s),
        Out::Strings(list) => {
            out.push('[');
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, s);
            }
            out.push(']');
        }
        Out::List(list) => {
            out.push('[');
            for (i, v) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, v);
            }
            out.push(']');
        }
        Out::Map(map) => write_json_object(out, map.iter().map(|(k, v)| (k.as_str(), v))),
        Out::Struct(fields) => write_json_object(out, fields.iter().map(|(k, v)| (k.as_str(), v))),
    }
}

fn write_json_object<'a>(out: &mut String, fields: impl Iterator<Item = (&'a str, &'a Out)>) {
    out.push('{');
    for (i, (k, v)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(out, k);
        out.push(':');
        write_json(out, v);
    }
    out.push('}');
}

/// Go's `encodeState.string` with HTML escaping on.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's float64 JSON encoding: shortest digits, `'f'` format unless the magnitude is
/// below 1e-6 or at least 1e21, then `'e'` with a two-digit-free exponent (`1e+21`).
fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        match text.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
            _ => text,
        }
    } else {
        format!("{f}")
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` (what yaml.v2 uses).
fn go_g_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = mantissa.replace('.', "").len() as i32;
    let mut eprec = 6;
    if eprec > digits && digits > exp {
        eprec = digits;
    }
    let sign = if f < 0.0 { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{esign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

// ---------------------------------------------------------------- YAML (yaml.v2 style)

fn yaml_doc(value: &Out) -> String {
    match value {
        Out::Nil => String::new(),
        _ => {
            let mut out = String::new();
            write_yaml(&mut out, value, 0);
            while out.ends_with("\n\n") {
                out.pop();
            }
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out
        }
    }
}

fn is_block(value: &Out) -> bool {
    match value {
        Out::Map(m) => !m.is_empty(),
        Out::Struct(f) => !f.is_empty(),
        Out::List(l) => !l.is_empty(),
        Out::Strings(l) => !l.is_empty(),
        _ => false,
    }
}

fn entries(value: &Out) -> Vec<(String, Out)> {
    match value {
        Out::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Out::Struct(f) => f.clone(),
        _ => Vec::new(),
    }
}

fn items(value: &Out) -> Vec<Out> {
    match value {
        Out::List(l) => l.clone(),
        Out::Strings(l) => l.iter().cloned().map(Out::Str).collect(),
        _ => Vec::new(),
    }
}

/// Writes `value` as a block at `indent`; scalars and empty collections inline.
fn write_yaml(out: &mut String, value: &Out, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Out::Map(_) | Out::Struct(_) if is_block(value) => {
            for (k, v) in entries(value) {
                out.push_str(&pad);
                out.push_str(&yaml_scalar(&k, indent));
                out.push(':');
                match &v {
                    Out::Map(_) | Out::Struct(_) if is_block(&v) => {
                        out.push('\n');
                        write_yaml(out, &v, indent + 2);
                    }
                    // yaml.v2 does not indent a sequence inside a mapping.
                    Out::List(_) | Out::Strings(_) if is_block(&v) => {
                        out.push('\n');
                        write_yaml(out, &v, indent);
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&yaml_inline(&v, indent + 2));
                        out.push('\n');
                    }
                }
            }
        }
        Out::List(_) | Out::Strings(_) if is_block(value) => {
            for item in items(value) {
                out.push_str(&pad);
                out.push_str("- ");
                if is_block(&item) {
                    let mut inner = String::new();
                    write_yaml(&mut inner, &item, indent + 2);
                    out.push_str(inner.trim_start());
                } else {
                    out.push_str(&yaml_inline(&item, indent + 2));
                    out.push('\n');
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&yaml_inline(other, indent));
            out.push('\n');
        }
    }
}

fn yaml_inline(value: &Out, indent: usize) -> String {
    match value {
        Out::Nil => "null".into(),
        Out::Bool(b) => b.to_string(),
        Out::Int(i) => i.to_string(),
        Out::Float(f) => go_g_float(*f),
        Out::Str(s) => yaml_scalar(s, indent),
        Out::Map(_) | Out::Struct(_) => "{}".into(),
        Out::List(_) | Out::Strings(_) => "[]".into(),
    }
}

/// Would a plain YAML 1.1 scalar with this text resolve to something other than a
/// string (yaml.v2's resolve table)?
fn resolves_to_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y",
        "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF", ".inf", ".Inf", ".INF", "+.inf", "-.inf", ".nan", ".NaN", ".NAN", "<<",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    if looks_like_timestamp(s) {
        return true;
    }
    let t = s.replace('_', "");
    t.parse::<i64>().is_ok()
        || t.parse::<f64>().is_ok() && t.chars().any(|c| c.is_ascii_digit())
        || t.strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// yaml.v2 resolves `YYYY-M-D` (optionally followed by a time) as a timestamp.
fn looks_like_timestamp(s: &str) -> bool {
    let date = s.split(['T', 't', ' ']).next().unwrap_or("");
    let parts: Vec<&str> = date.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && (1..=2).contains(&parts[1].len())
        && (1..=2).contains(&parts[2].len())
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn plain_allowed(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    let last = s.chars().last().unwrap_or(' ');
    if first.is_whitespace() || last.is_whitespace() || last == ':' {
        return false;
    }
    if "?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if s.starts_with("- ") || s == "-" || s.starts_with("---") {
        return false;
    }
    !(s.contains(": ") || s.contains(" #") || s.chars().any(|c| c.is_control()))
}

fn yaml_scalar(s: &str, indent: usize) -> String {
    if s.contains('\n') && !s.chars().any(|c| c.is_control() && c != '\n') {
        let chomp = if s.ends_with("\n\n") {
            "+"
        } else if s.ends_with('\n') {
            ""
        } else {
            "-"
        };
        let pad = " ".repeat(indent.max(2));
        let body: Vec<String> = s
            .trim_end_matches('\n')
            .split('\n')
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{pad}{l}")
                }
            })
            .collect();
        return format!("|{chomp}\n{}", body.join("\n"));
    }
    if s.chars().any(|c| c.is_control()) {
        return serde_json::to_string(s).unwrap_or_default();
    }
    if resolves_to_non_string(s) {
        return format!("\"{s}\"");
    }
    if plain_allowed(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}
