//! The charm's config options as Juju hands them over (`config-get --format=json`),
//! typed but not yet validated: ranges and formats are checked in [`super::desired`].

use serde_json::{Map, Value};

/// `metrics_address`'s default: loopback, the keepalived exporters' port.
pub const DEFAULT_METRICS_ADDRESS: &str = "127.0.0.1:9165";

/// Every option of config.yaml. Defaults are config.yaml's, used when Juju leaves a key
/// out (it never should for options with a default). `vrrp_version` and
/// `advert_interval` have no default: Juju leaves them out until the operator sets
/// them, which is how the charm tells "pinned" from "automatic".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub virtual_ip: String,
    pub vip_hostname: String,
    pub port: i64,
    pub router_id: i64,
    pub network_interface: String,
    pub healthcheck_interval: i64,
    /// `None` (unset): the automatic timing profile (`super::timing`).
    pub vrrp_version: Option<i64>,
    /// `None` (unset): the automatic timing profile (`super::timing`).
    pub advert_interval: Option<String>,
    pub unicast: bool,
    pub vrrp_password: String,
    pub preempt: bool,
    pub metrics_address: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            virtual_ip: String::new(),
            vip_hostname: String::new(),
            port: 443,
            router_id: 23,
            network_interface: String::new(),
            healthcheck_interval: 2,
            vrrp_version: None,
            advert_interval: None,
            unicast: false,
            vrrp_password: String::new(),
            preempt: true,
            metrics_address: DEFAULT_METRICS_ADDRESS.into(),
        }
    }
}

impl Options {
    /// Reads the options from `config-get` output. A value of the wrong JSON type
    /// (Juju checks types, so this means a broken model or emulator) is reported by
    /// option name, with the value, and the option keeps its default.
    pub fn from_config(config: &Map<String, Value>) -> (Options, Vec<String>) {
        let mut o = Options::default();
        let mut errors = Vec::new();
        let mut text = |key: &str, slot: &mut String| match config.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => *slot = s.clone(),
            // A number where a string is expected (advert_interval: 0.1) is its text.
            Some(Value::Number(n)) => *slot = n.to_string(),
            Some(other) => errors.push(type_error(key, other, "a string")),
        };
        text("virtual_ip", &mut o.virtual_ip);
        text("vip_hostname", &mut o.vip_hostname);
        text("network_interface", &mut o.network_interface);
        let mut interval = String::new();
        text("advert_interval", &mut interval);
        text("vrrp_password", &mut o.vrrp_password);
        text("metrics_address", &mut o.metrics_address);
        for (key, slot) in [
            ("port", &mut o.port),
            ("router_id", &mut o.router_id),
            ("healthcheck_interval", &mut o.healthcheck_interval),
        ] {
            if let Some(v) = int(config, key, &mut errors) {
                *slot = v;
            }
        }
        let mut boolean = |key: &str, slot: &mut bool| match config.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => *slot = *b,
            Some(other) => errors.push(type_error(key, other, "a boolean")),
        };
        boolean("unicast", &mut o.unicast);
        boolean("preempt", &mut o.preempt);
        // Unset (absent or null) stays `None`; an empty string is unset too (what
        // `juju config keepalived advert_interval=""` leaves).
        o.advert_interval = (!interval.trim().is_empty()).then_some(interval);
        o.vrrp_version = int(config, "vrrp_version", &mut errors);
        (o, errors)
    }

    /// The operator set `vrrp_version` or `advert_interval`: the timing is theirs,
    /// not the automatic profile's (`super::timing`).
    pub fn timing_pinned(&self) -> bool {
        self.vrrp_version.is_some() || self.advert_interval.is_some()
    }
}

/// An int option: `None` when unset, or when of another type (reported in `errors`).
fn int(config: &Map<String, Value>, key: &str, errors: &mut Vec<String>) -> Option<i64> {
    match config.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => {
            let v = n.as_i64().or_else(|| whole_float(n.as_f64()));
            if v.is_none() {
                errors.push(type_error(key, &Value::Number(n.clone()), "an int"));
            }
            v
        }
        Some(other) => {
            errors.push(type_error(key, other, "an int"));
            None
        }
    }
}

/// Go's JSON encoder prints an integral float64 without a fraction, but a value that
/// went through a float may still arrive as `443.0`.
fn whole_float(f: Option<f64>) -> Option<i64> {
    let f = f?;
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Some(f as i64)
    } else {
        None
    }
}

fn type_error(key: &str, value: &Value, expected: &str) -> String {
    // vrrp_password is a secret: never echo it, whatever its type.
    let shown = if key == "vrrp_password" {
        "(value not shown)".to_string()
    } else {
        value.to_string()
    };
    format!("invalid {key} {shown}: expected {expected}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn missing_options_take_config_yaml_defaults() {
        let (o, errors) = Options::from_config(&Map::new());
        assert!(errors.is_empty());
        assert_eq!(o, Options::default());
        assert_eq!(o.port, 443);
        assert_eq!(o.router_id, 23);
        assert_eq!(o.healthcheck_interval, 2);
        assert_eq!(o.advert_interval, None);
        assert_eq!(o.vrrp_version, None);
        assert!(o.preempt);
        assert!(!o.unicast);
    }

    #[test]
    fn values_are_read_with_their_types() {
        let (o, errors) = Options::from_config(&map(json!({
            "virtual_ip": "10.0.0.5/24", "vip_hostname": "api.example", "port": 6443,
            "router_id": 51, "network_interface": "eth1", "healthcheck_interval": 5,
            "vrrp_version": 3, "advert_interval": "0.1", "unicast": true,
            "vrrp_password": "pw", "preempt": false
        })));
        assert!(errors.is_empty());
        assert_eq!(o.virtual_ip, "10.0.0.5/24");
        assert_eq!(o.port, 6443);
        assert_eq!(o.router_id, 51);
        assert_eq!(o.vrrp_version, Some(3));
        assert_eq!(o.advert_interval.as_deref(), Some("0.1"));
        assert!(o.unicast);
        assert!(!o.preempt);
        assert_eq!(o.vrrp_password, "pw");
    }

    #[test]
    fn integral_floats_are_ints_and_numbers_are_accepted_as_text() {
        let (o, errors) =
            Options::from_config(&map(json!({"port": 443.0, "advert_interval": 0.5})));
        assert!(errors.is_empty());
        assert_eq!(o.port, 443);
        assert_eq!(o.advert_interval.as_deref(), Some("0.5"));
    }

    #[test]
    fn wrong_types_name_the_option_and_value_but_never_the_password() {
        let (o, errors) = Options::from_config(&map(json!({
            "port": "https", "unicast": "yes", "vrrp_password": true
        })));
        assert_eq!(o.port, 443);
        assert_eq!(
            errors,
            vec![
                "invalid vrrp_password (value not shown): expected a string",
                "invalid port \"https\": expected an int",
                "invalid unicast \"yes\": expected a boolean",
            ]
        );
    }
}
