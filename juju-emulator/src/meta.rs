//! The charm's metadata.yaml and config.yaml as Juju reads them, with the checks Juju
//! makes that charmcraft does not (docs/juju-contract.md J-3, J-18): a subordinate needs a
//! container-scoped requires; `juju`/`juju-*` endpoint names are reserved except for
//! container-scoped requires on subordinates; scopes are `global`/`container`;
//! endpoint names are unique.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Requires,
    Provides,
    Peers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub role: Role,
    pub interface: String,
    /// `true` for `scope: container`.
    pub container: bool,
}

#[derive(Debug, Clone)]
pub struct Metadata {
    pub name: String,
    pub subordinate: bool,
    pub endpoints: Vec<Endpoint>,
    pub extra_bindings: Vec<String>,
}

impl Metadata {
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    pub fn peer_endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.iter().filter(|e| e.role == Role::Peers)
    }

    /// Parses metadata.yaml and applies Juju's `meta.Check` rules.
    pub fn parse(text: &str) -> Result<Metadata, String> {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| format!("metadata.yaml: {e}"))?;
        let name = doc
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or("metadata.yaml: missing name")?
            .to_string();
        let subordinate = doc
            .get("subordinate")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let mut endpoints: Vec<Endpoint> = Vec::new();
        for (key, role) in [
            ("requires", Role::Requires),
            ("provides", Role::Provides),
            ("peers", Role::Peers),
        ] {
            let Some(section) = doc.get(key).and_then(|v| v.as_mapping()) else {
                continue;
            };
            for (ep_name, spec) in section {
                let ep_name = ep_name.as_str().ok_or_else(|| {
                    format!("metadata.yaml: {key}: endpoint name is not a string")
                })?;
                // `name: interface` shorthand or a map with interface/scope.
                let (interface, scope) = match spec {
                    serde_yaml::Value::String(i) => (i.clone(), "global".to_string()),
                    serde_yaml::Value::Mapping(_) => (
                        spec.get("interface")
                            .and_then(|v| v.as_str())
                            .ok_or_else(|| {
                                format!("metadata.yaml: {key}.{ep_name}: missing interface")
                            })?
                            .to_string(),
                        spec.get("scope")
                            .and_then(|v| v.as_str())
                            .unwrap_or("global")
                            .to_string(),
                    ),
                    _ => return Err(format!("metadata.yaml: {key}.{ep_name}: expected a map")),
                };
                if scope != "global" && scope != "container" {
                    return Err(format!(
                        "metadata: relations.{ep_name}.scope: expected \"global\" or \"container\", got {scope:?}"
                    ));
                }
                if endpoints.iter().any(|e| e.name == ep_name) {
                    return Err(format!(
                        "charm {name:?} using a duplicated relation name: {ep_name:?}"
                    ));
                }
                endpoints.push(Endpoint {
                    name: ep_name.to_string(),
                    role,
                    interface,
                    container: scope == "container",
                });
            }
        }
        let extra_bindings = doc
            .get("extra-bindings")
            .and_then(|v| v.as_mapping())
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let meta = Metadata {
            name,
            subordinate,
            endpoints,
            extra_bindings,
        };
        meta.check()?;
        Ok(meta)
    }

    fn check(&self) -> Result<(), String> {
        let name = &self.name;
        for ep in &self.endpoints {
            let reserved = ep.name == "juju" || ep.name.starts_with("juju-");
            let allowed = self.subordinate && ep.role == Role::Requires && ep.container;
            if reserved && !allowed && !name.starts_with("juju-") {
                return Err(format!(
                    "charm {name:?} using a reserved relation name: {:?}",
                    ep.name
                ));
            }
            if ep.role == Role::Provides
                && (ep.interface == "juju" || ep.interface.starts_with("juju-"))
                && !name.starts_with("juju-")
            {
                return Err(format!(
                    "charm {name:?} relation {:?} using a reserved interface: {:?}",
                    ep.name, ep.interface
                ));
            }
        }
        if self.subordinate
            && !self
                .endpoints
                .iter()
                .any(|e| e.role == Role::Requires && e.container)
        {
            return Err(format!(
                "subordinate charm {name:?} lacks \"requires\" relation with container scope"
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionType {
    String,
    Int,
    Float,
    Boolean,
    Secret,
}

impl OptionType {
    fn parse(text: &str) -> Option<OptionType> {
        Some(match text {
            "string" => OptionType::String,
            "int" => OptionType::Int,
            "float" => OptionType::Float,
            "boolean" => OptionType::Boolean,
            "secret" => OptionType::Secret,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            OptionType::String => "string",
            OptionType::Int => "int",
            OptionType::Float => "float",
            OptionType::Boolean => "boolean",
            OptionType::Secret => "secret",
        }
    }

    /// Does a JSON value have this type, as Juju's config validation sees it?
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            OptionType::String | OptionType::Secret => value.is_string(),
            OptionType::Int => value.is_i64() || value.is_u64(),
            OptionType::Float => value.is_number(),
            OptionType::Boolean => value.is_boolean(),
        }
    }

    /// `juju config app key=text`: the CLI's string form, parsed per type.
    pub fn parse_cli(self, key: &str, text: &str) -> Result<Value, String> {
        let bad = || format!("option {key:?} expected {}, got {text:?}", self.name());
        match self {
            OptionType::String | OptionType::Secret => Ok(Value::String(text.to_string())),
            OptionType::Int => text
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| bad()),
            OptionType::Float => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(bad),
            OptionType::Boolean => match text.trim() {
                "true" | "True" | "TRUE" | "yes" | "y" | "on" | "1" => Ok(Value::Bool(true)),
                "false" | "False" | "FALSE" | "no" | "n" | "off" | "0" => Ok(Value::Bool(false)),
                _ => Err(bad()),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConfigOption {
    pub kind: OptionType,
    pub default: Option<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct ConfigSchema {
    pub options: BTreeMap<String, ConfigOption>,
}

impl ConfigSchema {
    pub fn parse(text: &str) -> Result<ConfigSchema, String> {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| format!("config.yaml: {e}"))?;
        let mut options = BTreeMap::new();
        let Some(map) = doc.get("options").and_then(|v| v.as_mapping()) else {
            return Ok(ConfigSchema { options });
        };
        for (name, spec) in map {
            let name = name
                .as_str()
                .ok_or("config.yaml: option name is not a string")?;
            let type_name = spec
                .get("type")
                .and_then(|v| v.as_str())
                .unwrap_or("string");
            let kind = OptionType::parse(type_name).ok_or_else(|| {
                format!("config.yaml: option {name:?} has unknown type {type_name:?}")
            })?;
            let default = match spec.get("default") {
                None | Some(serde_yaml::Value::Null) => None,
                Some(v) => {
                    let json: Value = serde_json::to_value(v)
                        .map_err(|e| format!("config.yaml: option {name:?} default: {e}"))?;
                    if !kind.accepts(&json) {
                        return Err(format!(
                            "config.yaml: option {name:?} default {json} is not of type {type_name}"
                        ));
                    }
                    Some(json)
                }
            };
            options.insert(name.to_string(), ConfigOption { kind, default });
        }
        Ok(ConfigSchema { options })
    }
}
