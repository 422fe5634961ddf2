//! Command-line parsing as Juju's `gnuflag` does it for the hook tools: flags may come
//! anywhere among the positionals, `--name=value` and `--name value`, `-r value`,
//! `-rvalue`, bool clusters `-ab`, `--` ends the flags, a lone `-` is a positional,
//! `-h`/`--help` asks for help. Juju calls flags "options" in its error messages.

use std::collections::BTreeMap;

use super::ToolError;

#[derive(Clone, Copy)]
pub struct Flag {
    /// All spellings without dashes; the first is the canonical key.
    pub names: &'static [&'static str],
    pub takes_value: bool,
}

pub const fn value(names: &'static [&'static str]) -> Flag {
    Flag {
        names,
        takes_value: true,
    }
}

pub const fn boolean(names: &'static [&'static str]) -> Flag {
    Flag {
        names,
        takes_value: false,
    }
}

/// One value as given: `spelling` is the flag with its dashes (`-r`, `--relation`), as
/// gnuflag names it in "invalid value" errors.
#[derive(Debug, Clone)]
pub struct Given {
    pub spelling: String,
    pub value: String,
}

#[derive(Debug, Default)]
pub struct Parsed {
    values: BTreeMap<&'static str, Given>,
    pub positionals: Vec<String>,
    pub help: bool,
}

impl Parsed {
    pub fn get(&self, key: &str) -> Option<&Given> {
        self.values.get(key)
    }

    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|g| g.value.as_str())
    }

    /// A bool flag's value (already validated by [`parse`]).
    pub fn is_set(&self, key: &str) -> bool {
        self.values
            .get(key)
            .map(|g| parse_bool(&g.value).unwrap_or(false))
            .unwrap_or(false)
    }
}

fn dashed(name: &str) -> String {
    if name.chars().count() == 1 {
        format!("-{name}")
    } else {
        format!("--{name}")
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

pub fn parse(args: &[String], flags: &[Flag]) -> Result<Parsed, ToolError> {
    let out = parse_keep_help(args, flags)?;
    if out.help {
        return Err(ToolError::help());
    }
    Ok(out)
}

/// [`parse`], but reporting `-h`/`--help` in [`Parsed::help`] instead of failing.
pub fn parse_keep_help(args: &[String], flags: &[Flag]) -> Result<Parsed, ToolError> {
    let find = |name: &str| flags.iter().find(|f| f.names.contains(&name)).copied();
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.positionals.extend(args[i..].iter().cloned());
            break;
        }
        if arg == "-" || !arg.starts_with('-') {
            out.positionals.push(arg.clone());
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(flag) = find(name) else {
                if name == "help" || name == "h" {
                    out.help = true;
                    return Ok(out);
                }
                return Err(ToolError::usage(format!(
                    "option provided but not defined: {}",
                    dashed(name)
                )));
            };
            let spelling = dashed(name);
            let value = if flag.takes_value {
                match inline {
                    Some(v) => v,
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    None => {
                        return Err(ToolError::usage(format!(
                            "option needs an argument: {spelling}"
                        )))
                    }
                }
            } else {
                let v = inline.unwrap_or_else(|| "true".into());
                if parse_bool(&v).is_none() {
                    return Err(ToolError::usage(format!(
                        "invalid value {v:?} for option {spelling}: strconv.ParseBool: parsing {v:?}: invalid syntax"
                    )));
                }
                v
            };
            out.values.insert(flag.names[0], Given { spelling, value });
            continue;
        }
        // A single dash: a cluster of one-letter flags; a value flag takes the rest of
        // the cluster, or the next argument.
        let letters: Vec<char> = arg[1..].chars().collect();
        let mut j = 0;
        while j < letters.len() {
            let name = letters[j].to_string();
            j += 1;
            let Some(flag) = find(&name) else {
                if name == "h" {
                    out.help = true;
                    return Ok(out);
                }
                return Err(ToolError::usage(format!(
                    "option provided but not defined: -{name}"
                )));
            };
            let spelling = format!("-{name}");
            let value = if flag.takes_value {
                let rest: String = letters[j..].iter().collect();
                j = letters.len();
                let rest = rest.strip_prefix('=').map(str::to_string).unwrap_or(rest);
                if !rest.is_empty() {
                    rest
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    return Err(ToolError::usage(format!(
                        "option needs an argument: {spelling}"
                    )));
                }
            } else {
                "true".into()
            };
            out.values.insert(flag.names[0], Given { spelling, value });
        }
    }
    Ok(out)
}

/// Juju's `cmd.CheckEmpty`: leftover positionals are a usage error.
pub fn check_empty(rest: &[String]) -> Result<(), ToolError> {
    if rest.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = rest.iter().map(|a| format!("{a:?}")).collect();
    Err(ToolError::usage(format!(
        "unrecognized args: [{}]",
        quoted.join(" ")
    )))
}

/// Juju's `keyvalues.Parse(args, allowEmptyValues=true)`.
pub fn key_values(args: &[String]) -> Result<Vec<(String, String)>, ToolError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ToolError::usage(format!(
                "expected \"key=value\", got {arg:?}"
            )));
        };
        if key.is_empty() {
            return Err(ToolError::usage(format!(
                "expected \"key=value\", got {arg:?}"
            )));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(ToolError::usage(format!(
                "key {key:?} specified more than once"
            )));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}
