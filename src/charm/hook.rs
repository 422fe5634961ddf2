//! Which hook is running, and the Juju environment it runs in (docs/juju-contract.md J-1, J-2, J-3).

use std::fmt;

use super::hooktools::RelationId;
use super::relation_data::ENDPOINTS;

/// The five relation hook suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Created,
    Joined,
    Changed,
    Departed,
    Broken,
}

impl RelationKind {
    const ALL: [(RelationKind, &'static str); 5] = [
        (RelationKind::Created, "created"),
        (RelationKind::Joined, "joined"),
        (RelationKind::Changed, "changed"),
        (RelationKind::Departed, "departed"),
        (RelationKind::Broken, "broken"),
    ];
}

/// A hook this charm handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    Install,
    Start,
    ConfigChanged,
    UpgradeCharm,
    UpdateStatus,
    LeaderElected,
    LeaderSettingsChanged,
    Stop,
    Remove,
    /// A maintenance action (`pause`, `resume`, `switchover`): it changes the charm
    /// state, then reconciles like a hook that sees every relation afresh.
    Action,
    Relation {
        endpoint: &'static str,
        kind: RelationKind,
    },
}

impl Hook {
    /// Parses a hook name; `None` for hooks this charm does not know (they exit 0).
    pub fn parse(name: &str) -> Option<Hook> {
        let simple = match name {
            "install" => Some(Hook::Install),
            "start" => Some(Hook::Start),
            "config-changed" => Some(Hook::ConfigChanged),
            "upgrade-charm" => Some(Hook::UpgradeCharm),
            "update-status" => Some(Hook::UpdateStatus),
            "leader-elected" => Some(Hook::LeaderElected),
            "leader-settings-changed" => Some(Hook::LeaderSettingsChanged),
            "stop" => Some(Hook::Stop),
            "remove" => Some(Hook::Remove),
            _ => None,
        };
        if simple.is_some() {
            return simple;
        }
        for (kind, suffix) in RelationKind::ALL {
            let Some(endpoint) = name.strip_suffix(&format!("-relation-{suffix}")) else {
                continue;
            };
            let endpoint = ENDPOINTS.iter().find(|e| **e == endpoint)?;
            return Some(Hook::Relation { endpoint, kind });
        }
        None
    }

    pub fn endpoint(&self) -> Option<&'static str> {
        match self {
            Hook::Relation { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }

    pub fn is_relation(&self, endpoint: &str, kind: RelationKind) -> bool {
        matches!(self, Hook::Relation { endpoint: e, kind: k } if *e == endpoint && *k == kind)
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Hook::Install => "install",
            Hook::Start => "start",
            Hook::ConfigChanged => "config-changed",
            Hook::UpgradeCharm => "upgrade-charm",
            Hook::UpdateStatus => "update-status",
            Hook::LeaderElected => "leader-elected",
            Hook::LeaderSettingsChanged => "leader-settings-changed",
            Hook::Stop => "stop",
            Hook::Remove => "remove",
            Hook::Action => "action",
            Hook::Relation { endpoint, kind } => {
                let suffix = RelationKind::ALL
                    .iter()
                    .find(|(k, _)| k == kind)
                    .map(|(_, s)| *s)
                    .unwrap_or("changed");
                return write!(f, "{endpoint}-relation-{suffix}");
            }
        };
        f.write_str(name)
    }
}

/// The hook name from, in order: `JUJU_DISPATCH_PATH` (`hooks/<name>`), the name given
/// on the command line, the program name. `None` for an action (`actions/<name>`).
pub fn hook_name(
    dispatch_path: Option<&str>,
    arg: Option<&str>,
    argv0: Option<&str>,
) -> Option<String> {
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    if let Some(path) = dispatch_path.filter(|p| !p.is_empty()) {
        if path.starts_with("actions/") {
            return None;
        }
        return Some(base(path));
    }
    if let Some(name) = arg.filter(|a| !a.is_empty()) {
        return Some(base(name));
    }
    argv0.map(base)
}

/// The hook's Juju environment, as far as the charm uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookContext {
    pub hook: Hook,
    /// `JUJU_UNIT_NAME`, e.g. `keepalived/3`.
    pub unit: String,
    pub unit_number: u32,
    /// `JUJU_RELATION_ID` in relation hooks.
    pub relation_id: Option<RelationId>,
    /// `JUJU_REMOTE_UNIT` (empty → `None`).
    pub remote_unit: Option<String>,
    /// `JUJU_DEPARTING_UNIT` in `-departed` hooks.
    pub departing_unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    #[error("JUJU_UNIT_NAME is not set: this is not a Juju hook environment")]
    NoUnit,
    #[error("JUJU_UNIT_NAME {0:?} is not <application>/<number>")]
    BadUnit(String),
    #[error("hook {hook} needs JUJU_RELATION_ID, got {value:?}")]
    BadRelationId { hook: String, value: String },
    #[error("hook {hook} is for endpoint {endpoint} but JUJU_RELATION is {relation:?}")]
    EndpointMismatch {
        hook: String,
        endpoint: String,
        relation: String,
    },
}

/// The unit number of `app/N`.
pub fn unit_number(unit: &str) -> Option<u32> {
    let (app, number) = unit.rsplit_once('/')?;
    if app.is_empty() {
        return None;
    }
    number.parse().ok()
}

impl HookContext {
    /// Builds the context from environment lookups (a closure, so tests need no
    /// process environment).
    pub fn from_env(
        hook: Hook,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<HookContext, ContextError> {
        let nonempty = |name: &str| var(name).filter(|v| !v.is_empty());
        let unit = nonempty("JUJU_UNIT_NAME").ok_or(ContextError::NoUnit)?;
        let number = unit_number(&unit).ok_or_else(|| ContextError::BadUnit(unit.clone()))?;
        let mut relation_id = None;
        if let Some(endpoint) = hook.endpoint() {
            let raw = nonempty("JUJU_RELATION_ID").unwrap_or_default();
            let rid = RelationId::parse(&raw).ok_or_else(|| ContextError::BadRelationId {
                hook: hook.to_string(),
                value: raw.clone(),
            })?;
            if let Some(relation) = nonempty("JUJU_RELATION") {
                if relation != endpoint {
                    return Err(ContextError::EndpointMismatch {
                        hook: hook.to_string(),
                        endpoint: endpoint.to_string(),
                        relation,
                    });
                }
            }
            relation_id = Some(RelationId::new(endpoint, rid.id));
        }
        Ok(HookContext {
            hook,
            unit,
            unit_number: number,
            relation_id,
            remote_unit: nonempty("JUJU_REMOTE_UNIT"),
            departing_unit: nonempty("JUJU_DEPARTING_UNIT"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn lifecycle_and_relation_hooks_parse() {
        assert_eq!(Hook::parse("install"), Some(Hook::Install));
        assert_eq!(
            Hook::parse("leader-settings-changed"),
            Some(Hook::LeaderSettingsChanged)
        );
        assert_eq!(
            Hook::parse("lb-sink-relation-departed"),
            Some(Hook::Relation {
                endpoint: "lb-sink",
                kind: RelationKind::Departed
            })
        );
        assert_eq!(
            Hook::parse("juju-info-relation-created"),
            Some(Hook::Relation {
                endpoint: "juju-info",
                kind: RelationKind::Created
            })
        );
        assert_eq!(
            Hook::parse("cluster-relation-changed"),
            Some(Hook::Relation {
                endpoint: "cluster",
                kind: RelationKind::Changed
            })
        );
    }

    #[test]
    fn unknown_hooks_and_endpoints_are_none() {
        assert_eq!(Hook::parse("collect-metrics"), None);
        assert_eq!(Hook::parse("nosuch-relation-joined"), None);
        assert_eq!(Hook::parse("website-relation-exploded"), None);
        assert_eq!(Hook::parse("dispatch"), None);
        assert_eq!(Hook::parse(""), None);
    }

    #[test]
    fn hook_names_display_as_juju_spells_them() {
        for name in [
            "install",
            "update-status",
            "website-relation-broken",
            "lb-sink-relation-created",
            "cluster-relation-departed",
        ] {
            assert_eq!(Hook::parse(name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn hook_name_prefers_dispatch_path_then_argument_then_program_name() {
        assert_eq!(
            hook_name(Some("hooks/config-changed"), Some("x"), Some("y")),
            Some("config-changed".into())
        );
        assert_eq!(hook_name(Some("actions/backup"), None, None), None);
        assert_eq!(
            hook_name(None, Some("start"), Some("/a/keepalived-charm")),
            Some("start".into())
        );
        assert_eq!(
            hook_name(Some(""), None, Some("/charm/hooks/stop")),
            Some("stop".into())
        );
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn relation_context_comes_from_the_environment() {
        let hook = Hook::parse("cluster-relation-departed").unwrap();
        let ctx = HookContext::from_env(
            hook,
            env(&[
                ("JUJU_UNIT_NAME", "keepalived/12"),
                ("JUJU_RELATION", "cluster"),
                ("JUJU_RELATION_ID", "cluster:4"),
                ("JUJU_REMOTE_UNIT", "keepalived/3"),
                ("JUJU_DEPARTING_UNIT", "keepalived/3"),
            ]),
        )
        .unwrap();
        assert_eq!(ctx.unit_number, 12);
        assert_eq!(ctx.relation_id, Some(RelationId::new("cluster", 4)));
        assert_eq!(ctx.remote_unit.as_deref(), Some("keepalived/3"));
        assert_eq!(ctx.departing_unit.as_deref(), Some("keepalived/3"));
    }

    #[test]
    fn empty_remote_unit_is_none_and_missing_unit_is_an_error() {
        let ctx = HookContext::from_env(
            Hook::parse("website-relation-created").unwrap(),
            env(&[
                ("JUJU_UNIT_NAME", "keepalived/0"),
                ("JUJU_RELATION_ID", "website:7"),
                ("JUJU_REMOTE_UNIT", ""),
            ]),
        )
        .unwrap();
        assert_eq!(ctx.remote_unit, None);
        assert_eq!(
            HookContext::from_env(Hook::Install, env(&[])),
            Err(ContextError::NoUnit)
        );
        assert_eq!(
            HookContext::from_env(Hook::Install, env(&[("JUJU_UNIT_NAME", "keepalived")])),
            Err(ContextError::BadUnit("keepalived".into()))
        );
    }

    #[test]
    fn a_relation_hook_for_another_endpoint_is_refused() {
        let e = HookContext::from_env(
            Hook::parse("website-relation-joined").unwrap(),
            env(&[
                ("JUJU_UNIT_NAME", "keepalived/0"),
                ("JUJU_RELATION", "loadbalancer"),
                ("JUJU_RELATION_ID", "loadbalancer:2"),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "hook website-relation-joined is for endpoint website but JUJU_RELATION is \"loadbalancer\""
        );
    }
}
