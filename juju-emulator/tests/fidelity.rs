//! The emulator's hook tools must answer exactly like Juju's (docs/juju-contract.md J-6..J-17): flags,
//! the three formatters, exit codes, `ERROR ...` strings, transactions, permissions.

use juju_emulator::*;

/// Two units under a no-op charm (keepalived/0 leads), plus `website` related to
/// haproxy/0 and haproxy/1. Ids: cluster 0, juju-info 1, website 2.
fn model() -> Model {
    let mut m = Model::new();
    m.use_script_charm("exit 0");
    m.deploy(2).unwrap();
    let (id, _) = m
        .integrate("website", "haproxy", &["haproxy/0", "haproxy/1"])
        .unwrap();
    assert_eq!(id, 2);
    m
}

fn changed(unit: &str) -> Hook {
    Hook::relation("website", 2, RelEvent::Changed(Some(unit.into())))
}

fn ok(stdout: &str) -> ToolOutput {
    ToolOutput {
        code: 0,
        stdout: stdout.into(),
        stderr: String::new(),
    }
}

fn err(code: i32, message: &str) -> ToolOutput {
    ToolOutput {
        code,
        stdout: String::new(),
        stderr: format!("ERROR {message}\n"),
    }
}

// ------------------------------------------------------------------ config-get

#[test]
fn config_get_json_prints_sorted_keys_with_defaults_filled_in_and_unset_options_left_out() {
    let mut m = model();
    m.set_config_value("port", "8443").unwrap();
    let mut s = m
        .begin("keepalived/0", Hook::new("config-changed"))
        .unwrap();
    assert_eq!(
        s.tool("config-get", &["--format=json"]),
        ok(concat!(
            r#"{"healthcheck_interval":2,"#,
            r#""metrics_address":"127.0.0.1:9165","network_interface":"","#,
            r#""port":8443,"preempt":true,"router_id":23,"unicast":false,"vip_hostname":"","#,
            r#""virtual_ip":"","vrrp_password":""}"#,
            "\n"
        ))
    );
}

#[test]
fn config_get_smart_prints_scalars_bare_and_nothing_for_empty_or_missing() {
    let mut m = model();
    let mut s = m
        .begin("keepalived/0", Hook::new("config-changed"))
        .unwrap();
    assert_eq!(s.tool("config-get", &["port"]), ok("443\n"));
    assert_eq!(s.tool("config-get", &["preempt"]), ok("True\n"));
    assert_eq!(s.tool("config-get", &["unicast"]), ok("False\n"));
    // An option without a default (the automatic timing) is absent until set.
    assert_eq!(s.tool("config-get", &["advert_interval"]), ok(""));
    assert_eq!(s.tool("config-get", &["virtual_ip"]), ok(""));
    assert_eq!(s.tool("config-get", &["no-such-key"]), ok(""));
    assert_eq!(
        s.tool("config-get", &["--format=json", "no-such-key"]),
        ok("null\n")
    );
    assert_eq!(
        s.tool("config-get", &["--format", "json", "port"]),
        ok("443\n")
    );
    assert_eq!(
        s.tool("config-get", &["--format=yaml", "virtual_ip"]),
        ok("\"\"\n")
    );
}

#[test]
fn config_get_omits_unset_options_without_default_unless_all() {
    let mut m = model();
    m.schema.options.insert(
        "extra".into(),
        meta::ConfigOption {
            kind: OptionType::String,
            default: None,
        },
    );
    let mut s = m
        .begin("keepalived/0", Hook::new("config-changed"))
        .unwrap();
    assert!(!s
        .tool("config-get", &["--format=json"])
        .stdout
        .contains("extra"));
    assert!(s
        .tool("config-get", &["--format=json", "--all"])
        .stdout
        .contains(r#""extra":null,"#));
    assert!(s
        .tool("config-get", &["-a", "--format=json"])
        .stdout
        .contains(r#""extra":null,"#));
}

#[test]
fn config_get_usage_errors_exit_2_with_juju_messages() {
    let mut m = model();
    let mut s = m
        .begin("keepalived/0", Hook::new("config-changed"))
        .unwrap();
    assert_eq!(
        s.tool("config-get", &["--all", "port"]),
        err(2, r#"cannot use argument --all together with key "port""#)
    );
    assert_eq!(
        s.tool("config-get", &["port", "keys"]),
        err(2, r#"unrecognized args: ["keys"]"#)
    );
    assert_eq!(
        s.tool("config-get", &["--format=xml"]),
        err(
            2,
            r#"invalid value "xml" for option --format: unknown format "xml""#
        )
    );
    assert_eq!(
        s.tool("config-get", &["--bogus"]),
        err(2, "option provided but not defined: --bogus")
    );
    assert_eq!(
        s.tool("config-get", &["--format"]),
        err(2, "option needs an argument: --format")
    );
}

#[test]
fn floats_print_like_go_json_and_yaml_v2() {
    let mut m = model();
    m.schema.options.insert(
        "ratio".into(),
        meta::ConfigOption {
            kind: OptionType::Float,
            default: Some(serde_json::json!(1.0)),
        },
    );
    let cases = [
        // (value, json, smart/yaml)
        (None, "1\n", "1\n"),
        (Some("2.5"), "2.5\n", "2.5\n"),
        (Some("1e21"), "1e+21\n", "1e+21\n"),
        (Some("0.000001"), "0.000001\n", "1e-06\n"),
        (Some("1234567"), "1234567\n", "1.234567e+06\n"),
    ];
    for (value, json, smart) in cases {
        if let Some(v) = value {
            m.set_config_value("ratio", v).unwrap();
        }
        let mut s = m
            .begin("keepalived/0", Hook::new("config-changed"))
            .unwrap();
        assert_eq!(
            s.tool("config-get", &["--format=json", "ratio"]),
            ok(json),
            "{value:?}"
        );
        assert_eq!(s.tool("config-get", &["ratio"]), ok(smart), "{value:?}");
        assert_eq!(
            s.tool("config-get", &["--format=yaml", "ratio"]),
            ok(smart),
            "{value:?}"
        );
    }
}

#[test]
fn help_flag_prints_usage_and_exits_0() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("install")).unwrap();
    for tool in ["config-get", "relation-get", "status-set", "juju-log"] {
        let out = s.tool(tool, &["-h"]);
        assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{tool}");
        assert!(
            out.stdout.starts_with(&format!("Usage: {tool}")),
            "{tool}: {out:?}"
        );
        assert_eq!(s.tool(tool, &["--help"]).code, 0);
    }
}

#[test]
fn json_output_escapes_html_characters_like_go() {
    let mut m = model();
    m.set_config_value("vip_hostname", "<a&b>\"\n").unwrap();
    let mut s = m
        .begin("keepalived/0", Hook::new("config-changed"))
        .unwrap();
    assert_eq!(
        s.tool("config-get", &["--format=json", "vip_hostname"]),
        ok("\"\\u003ca\\u0026b\\u003e\\\"\\n\"\n")
    );
}

#[test]
fn yaml_output_follows_yaml_v2_layout() {
    let mut m = model();
    m.remote_data_change(
        2,
        Some("haproxy/0"),
        &[("hostname", "true"), ("path", "a: b")],
    )
    .unwrap();
    let mut s = m.begin("keepalived/0", changed("haproxy/0")).unwrap();
    assert_eq!(
        s.tool("relation-get", &["--format=yaml", "-"]),
        ok(concat!(
            "egress-subnets: 198.51.100.1/32\n",
            "hostname: \"true\"\n",
            "ingress-address: 198.51.100.1\n",
            "path: 'a: b'\n",
            "private-address: 198.51.100.1\n"
        ))
    );
    // smart = YAML for maps
    assert_eq!(
        s.tool("relation-get", &["-", "haproxy/1"]),
        ok(concat!(
            "egress-subnets: 198.51.100.2/32\n",
            "ingress-address: 198.51.100.2\n",
            "private-address: 198.51.100.2\n"
        ))
    );
    assert_eq!(
        s.tool("relation-ids", &["--format=yaml", "website"]),
        ok("- website:2\n")
    );
}

// ------------------------------------------------------------------ relation-ids / -list

#[test]
fn relation_ids_sorts_lexicographically_and_defaults_to_the_hook_endpoint() {
    let mut m = model();
    m.next_relation_id = 12;
    m.integrate("website", "other", &["other/0"]).unwrap();
    let mut s = m.begin("keepalived/0", changed("haproxy/0")).unwrap();
    assert_eq!(
        s.tool("relation-ids", &["--format=json"]),
        ok("[\"website:12\",\"website:2\"]\n")
    );
    assert_eq!(
        s.tool("relation-ids", &["website"]),
        ok("website:12\nwebsite:2\n")
    );
    assert_eq!(
        s.tool("relation-ids", &["--format=json", "lb-sink"]),
        ok("[]\n")
    );
    assert_eq!(s.tool("relation-ids", &["lb-sink"]), ok(""));
    assert_eq!(
        s.tool("relation-ids", &["--format=json", "cluster"]),
        ok("[\"cluster:0\"]\n")
    );
    assert_eq!(
        s.tool("relation-ids", &["a", "b"]),
        err(2, r#"unrecognized args: ["b"]"#)
    );
}

#[test]
fn relation_ids_without_endpoint_outside_relation_hook_is_usage_error() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool("relation-ids", &[]),
        err(2, "no endpoint name specified")
    );
}

#[test]
fn relation_list_shows_remote_units_in_scope_and_app_name() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool("relation-list", &["--format=json", "-r", "website:2"]),
        ok("[\"haproxy/0\",\"haproxy/1\"]\n")
    );
    assert_eq!(
        s.tool(
            "relation-list",
            &["-r", "website:2", "--app", "--format=json"]
        ),
        ok("\"haproxy\"\n")
    );
    // Peers never include the local unit; the subordinate relation shows only the
    // co-located principal.
    assert_eq!(
        s.tool("relation-list", &["--format=json", "-r", "cluster:0"]),
        ok("[\"keepalived/1\"]\n")
    );
    assert_eq!(
        s.tool("relation-list", &["--format=json", "-r", "juju-info:1"]),
        ok("[\"kubeapi-load-balancer/0\"]\n")
    );
    assert_eq!(
        s.tool("relation-list", &["-r", "cluster:0", "--app"]),
        ok("keepalived\n")
    );
    assert_eq!(
        s.tool("relation-list", &[]),
        err(2, "no relation id specified")
    );
    assert_eq!(
        s.tool("relation-list", &["-r", "2", "x"]),
        err(2, r#"unrecognized args: ["x"]"#)
    );
}

#[test]
fn relation_list_in_departed_no_longer_lists_the_departing_unit() {
    let mut m = model();
    let hook = Hook::relation(
        "website",
        2,
        RelEvent::Departed {
            remote: "haproxy/1".into(),
            departing: "haproxy/1".into(),
        },
    );
    let mut s = m.begin("keepalived/0", hook).unwrap();
    assert_eq!(
        s.tool("relation-list", &["--format=json"]),
        ok("[\"haproxy/0\"]\n")
    );
    // Settings of a departed unit stay readable.
    assert_eq!(
        s.tool(
            "relation-get",
            &["--format=json", "private-address", "haproxy/1"]
        ),
        ok("\"198.51.100.2\"\n")
    );
}

#[test]
fn relation_id_option_is_validated_like_juju() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool("relation-list", &["-r", "burble:123"]),
        err(
            2,
            r#"invalid value "burble:123" for option -r: relation not found"#
        )
    );
    // Right id, wrong endpoint: newer Juju rejects the mismatch.
    assert_eq!(
        s.tool("relation-list", &["-r", "cluster:2"]),
        err(
            2,
            r#"invalid value "cluster:2" for option -r: relation not found"#
        )
    );
    assert_eq!(
        s.tool("relation-list", &["--relation=website:x"]),
        err(
            2,
            r#"invalid value "website:x" for option --relation: invalid relation id"#
        )
    );
    assert_eq!(s.tool("relation-list", &["-r", "2"]).code, 0);
    assert_eq!(s.tool("relation-list", &["-r2"]).code, 0);
    assert_eq!(
        s.tool("relation-list", &["-r"]),
        err(2, "option needs an argument: -r")
    );
}

// ------------------------------------------------------------------ relation-get

#[test]
fn relation_get_reads_remote_unit_bag_and_single_keys() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool(
            "relation-get",
            &["--format=json", "-r", "website:2", "-", "haproxy/0"]
        ),
        ok(concat!(
            r#"{"egress-subnets":"198.51.100.1/32","ingress-address":"198.51.100.1","#,
            r#""private-address":"198.51.100.1"}"#,
            "\n"
        ))
    );
    assert_eq!(
        s.tool(
            "relation-get",
            &["-r", "website:2", "--format=json", "hostname", "haproxy/0"]
        ),
        ok("null\n")
    );
    assert_eq!(
        s.tool(
            "relation-get",
            &["-r", "website:2", "hostname", "haproxy/0"]
        ),
        ok("")
    );
    assert_eq!(
        s.tool(
            "relation-get",
            &["-r", "website:2", "ingress-address", "haproxy/1"]
        ),
        ok("198.51.100.2\n")
    );
}

#[test]
fn relation_get_defaults_to_remote_unit_and_reads_remote_app_bag() {
    let mut m = model();
    m.remote_data_change(2, Some("haproxy/0"), &[("hostname", "lb.example")])
        .unwrap();
    m.remote_data_change(2, None, &[("mode", "http")]).unwrap();
    let mut s = m.begin("keepalived/1", changed("haproxy/0")).unwrap();
    assert_eq!(s.tool("relation-get", &["hostname"]), ok("lb.example\n"));
    assert_eq!(
        s.tool("relation-get", &["--app", "--format=json"]),
        ok("{\"mode\":\"http\"}\n")
    );
    assert_eq!(
        s.tool("relation-get", &["--app", "--format=json", "-", "haproxy"]),
        ok("{\"mode\":\"http\"}\n")
    );
    // --app with a unit name reads that unit's app.
    assert_eq!(
        s.tool("relation-get", &["--app", "mode", "haproxy/1"]),
        ok("http\n")
    );
}

#[test]
fn relation_get_in_created_hook_without_unit_reads_the_remote_app() {
    let mut m = model();
    m.remote_data_change(2, None, &[("mode", "tcp")]).unwrap();
    let mut s = m
        .begin(
            "keepalived/0",
            Hook::relation("website", 2, RelEvent::Created),
        )
        .unwrap();
    assert_eq!(s.tool("relation-get", &["mode"]), ok("tcp\n"));
}

#[test]
fn relation_get_target_errors_match_juju() {
    let mut m = model();
    let mut s = m
        .begin("keepalived/0", Hook::new("config-changed"))
        .unwrap();
    assert_eq!(
        s.tool("relation-get", &["-r", "website:2", "-"]),
        err(2, "no unit or application specified")
    );
    assert_eq!(
        s.tool("relation-get", &["-", "haproxy/0"]),
        err(2, "no relation id specified")
    );
    assert_eq!(
        s.tool("relation-get", &["-r", "website:2", "-", "haproxy"]),
        err(2, r#"expected unit name, got application name "haproxy""#)
    );
    assert_eq!(
        s.tool("relation-get", &["-r", "website:2", "-", "Bad_Unit"]),
        err(2, r#"invalid unit name "Bad_Unit""#)
    );
    assert_eq!(
        s.tool(
            "relation-get",
            &["-r", "website:2", "-", "haproxy/0", "extra"]
        ),
        err(2, r#"unrecognized args: ["extra"]"#)
    );
    let unknown = s.tool("relation-get", &["-r", "website:2", "-", "haproxy/7"]);
    assert_eq!(unknown.code, 1);
    assert!(unknown
        .stderr
        .starts_with("ERROR cannot read settings for unit \"haproxy/7\""));
}

#[test]
fn non_leader_reading_own_app_bag_is_denied_except_in_peer_relations() {
    let mut m = model();
    let mut s = m.begin("keepalived/1", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool(
            "relation-get",
            &["-r", "website:2", "--app", "-", "keepalived"]
        ),
        err(1, "permission denied")
    );
    assert_eq!(
        s.tool(
            "relation-get",
            &[
                "-r",
                "cluster:0",
                "--app",
                "--format=json",
                "-",
                "keepalived"
            ]
        ),
        ok("{}\n")
    );
    drop(s);
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool(
            "relation-get",
            &[
                "-r",
                "website:2",
                "--app",
                "--format=json",
                "-",
                "keepalived"
            ]
        ),
        ok("{}\n")
    );
}

// ------------------------------------------------------------------ relation-set

#[test]
fn relation_set_is_visible_to_own_relation_get_and_committed_on_exit_0() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", changed("haproxy/0")).unwrap();
    assert_eq!(
        s.tool("relation-set", &["vip=10.0.0.9", "port=443"]),
        ok("")
    );
    assert_eq!(
        s.tool("relation-set", &["-r", "website:2", "port="]),
        ok("")
    );
    assert_eq!(
        s.tool("relation-get", &["--format=json", "-", "keepalived/0"]),
        ok(concat!(
            r#"{"egress-subnets":"192.0.2.10/32","ingress-address":"192.0.2.10","#,
            r#""private-address":"192.0.2.10","vip":"10.0.0.9"}"#,
            "\n"
        ))
    );
    // Not committed yet.
    assert!(!m_bag_has(&s, "vip"));
    s.finish(0);
    let bag = &m.relation(2).local_units_data["keepalived/0"];
    assert_eq!(bag.get("vip").map(String::as_str), Some("10.0.0.9"));
    assert_eq!(bag.get("port"), None);
}

fn m_bag_has(s: &Session, key: &str) -> bool {
    // The committed view in the state file is unchanged until finish.
    s.state().relations[2].local_unit_data.contains_key(key)
}

#[test]
fn relation_set_is_discarded_when_the_hook_fails() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", changed("haproxy/0")).unwrap();
    s.tool("relation-set", &["vip=10.0.0.9"]);
    s.tool("state-set", &["k=v"]);
    s.tool("open-port", &["443/tcp"]);
    s.tool("status-set", &["active", "all good"]);
    let run = s.finish(1);
    assert!(!run.ok());
    let u = m.unit("keepalived/0");
    assert_eq!(
        m.relation(2).local_units_data["keepalived/0"].get("vip"),
        None
    );
    assert!(u.charm_state.is_empty());
    assert!(u.opened_ports.is_empty());
    // status-set took effect at once; Juju shows the error on top of it.
    assert_eq!(u.workload_status, Status::new("active", "all good"));
    assert_eq!(
        u.status(),
        Status::new("error", "hook failed: \"website-relation-changed\"")
    );
    assert_eq!(
        u.status_history,
        vec![
            Status::new("active", "all good"),
            Status::new("error", "hook failed: \"website-relation-changed\"")
        ]
    );
}

#[test]
fn relation_set_reads_json_or_yaml_from_stdin_and_args_override_it() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", changed("haproxy/0")).unwrap();
    let out = s.tool_stdin(
        "relation-set",
        &["--file", "-", "b=from-arg"],
        r#"{"a":"1","b":"from-file","c":null,"n":5}"#,
    );
    assert_eq!(out, ok(""));
    s.tool_stdin(
        "relation-set",
        &["-r", "website:2", "--file=-"],
        "d: yaml\n",
    );
    assert_eq!(
        s.tool("relation-get", &["--format=json", "-", "keepalived/0"])
            .stdout,
        concat!(
            r#"{"a":"1","b":"from-arg","d":"yaml","egress-subnets":"192.0.2.10/32","#,
            r#""ingress-address":"192.0.2.10","n":"5","private-address":"192.0.2.10"}"#,
            "\n"
        )
    );
    assert_eq!(s.tool_stdin("relation-set", &["--file", "-"], ""), ok(""));
    assert_eq!(
        s.tool_stdin("relation-set", &["--file", "-"], "haha"),
        err(1, "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str `haha` into map[string]string")
    );
}

#[test]
fn relation_set_argument_errors_match_keyvalues_parse() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", changed("haproxy/0")).unwrap();
    assert_eq!(
        s.tool("relation-set", &["haha"]),
        err(2, r#"expected "key=value", got "haha""#)
    );
    assert_eq!(
        s.tool("relation-set", &["=haha"]),
        err(2, r#"expected "key=value", got "=haha""#)
    );
    assert_eq!(
        s.tool("relation-set", &["foo=1", "foo=2"]),
        err(2, r#"key "foo" specified more than once"#)
    );
    assert_eq!(s.tool("relation-set", &[]), ok(""));
    assert_eq!(s.tool("relation-set", &["foo=bar=baz"]), ok(""));
    assert_eq!(
        s.tool("relation-get", &["foo", "keepalived/0"]),
        ok("bar=baz\n")
    );
    drop(s);
    let mut s = m.begin("keepalived/0", Hook::new("install")).unwrap();
    assert_eq!(
        s.tool("relation-set", &["a=b"]),
        err(2, "no relation id specified")
    );
}

#[test]
fn relation_set_app_needs_the_leader() {
    let mut m = model();
    let mut s = m.begin("keepalived/1", changed("haproxy/0")).unwrap();
    assert_eq!(
        s.tool("relation-set", &["--app", "a=b"]),
        err(1, "cannot write relation settings")
    );
    assert_eq!(s.tool("relation-set", &["--app=False", "a=b"]), ok(""));
    drop(s);
    let mut s = m.begin("keepalived/0", changed("haproxy/0")).unwrap();
    assert_eq!(s.tool("relation-set", &["--app=true", "a=b"]), ok(""));
    assert_eq!(
        s.tool("relation-get", &["--app", "a", "keepalived"]),
        ok("b\n")
    );
    s.finish(0);
    assert_eq!(
        m.relation(2).local_app_data.get("a").map(String::as_str),
        Some("b")
    );
}

#[test]
fn relation_set_format_flag_is_accepted_with_a_deprecation_note() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", changed("haproxy/0")).unwrap();
    assert_eq!(
        s.tool("relation-set", &["--format=json", "a=b"]),
        ToolOutput {
            code: 0,
            stdout: String::new(),
            stderr: "--format flag deprecated for command \"relation-set\"".into(),
        }
    );
}

#[test]
fn flags_may_be_interspersed_and_double_dash_ends_them() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool(
            "relation-get",
            &[
                "private-address",
                "-r",
                "website:2",
                "haproxy/0",
                "--format",
                "json"
            ]
        ),
        ok("\"198.51.100.1\"\n")
    );
    assert_eq!(
        s.tool("juju-log", &["-l", "INFO", "--", "-r", "--not-a-flag"]),
        ok("")
    );
    assert_eq!(
        s.state().effects.juju_log.last().unwrap().message,
        "-r --not-a-flag"
    );
}

// ------------------------------------------------------------------ leadership, status

#[test]
fn is_leader_prints_bool_per_format() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(s.tool("is-leader", &["--format=json"]), ok("true\n"));
    assert_eq!(s.tool("is-leader", &[]), ok("True\n"));
    drop(s);
    let mut s = m.begin("keepalived/1", Hook::new("update-status")).unwrap();
    assert_eq!(s.tool("is-leader", &["--format=json"]), ok("false\n"));
    assert_eq!(s.tool("is-leader", &[]), ok("False\n"));
    assert_eq!(
        s.tool("is-leader", &["x"]),
        err(2, r#"unrecognized args: ["x"]"#)
    );
}

#[test]
fn status_set_validates_and_applies_immediately() {
    let mut m = model();
    let mut s = m.begin("keepalived/1", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool("status-set", &["error", "x"]),
        err(
            2,
            r#"invalid status "error", expected one of [maintenance blocked waiting active]"#
        )
    );
    assert_eq!(
        s.tool("status-set", &[]),
        err(2, "invalid args, require <status> [message]")
    );
    assert_eq!(
        s.tool("status-set", &["active", "a", "b"]),
        err(2, r#"unrecognized args: ["b"]"#)
    );
    assert_eq!(
        s.tool("status-set", &["--application", "active"]),
        err(1, "this unit is not the leader")
    );
    assert_eq!(s.tool("status-set", &["blocked", "set virtual_ip"]), ok(""));
    assert_eq!(s.tool("status-get", &[]), ok("blocked\n"));
    assert_eq!(
        s.tool("status-get", &["--format=json"]),
        ok("{\"status\":\"blocked\"}\n")
    );
    assert_eq!(
        s.tool("status-get", &["--include-data", "--format=json"]),
        ok("{\"message\":\"set virtual_ip\",\"status\":\"blocked\",\"status-data\":{}}\n")
    );
    assert_eq!(
        s.tool("status-get", &["--application", "--format=json"]),
        err(1, "finding application status: this unit is not the leader")
    );
    s.finish(0);
    assert_eq!(
        m.unit("keepalived/1").status(),
        Status::new("blocked", "set virtual_ip")
    );
}

#[test]
fn status_set_application_by_leader_and_status_get_application() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool("status-set", &["--application=True", "active", "VIP up"]),
        ok("")
    );
    assert_eq!(s.tool("status-set", &["maintenance", "x"]), ok(""));
    assert_eq!(
        s.tool(
            "status-get",
            &["--application", "--include-data", "--format=json"]
        ),
        ok(concat!(
            r#"{"application-status":{"message":"VIP up","status":"active","status-data":{},"#,
            r#""units":{"keepalived/0":{"message":"x","status":"maintenance","status-data":{}},"#,
            r#""keepalived/1":{"message":"","status":"unknown","status-data":{}}}}}"#,
            "\n"
        ))
    );
    s.finish(1);
    // Immediate: kept although the hook failed.
    assert_eq!(m.app_status(), Status::new("active", "VIP up"));
    assert_eq!(m.app_status_history, vec![Status::new("active", "VIP up")]);
}

// ------------------------------------------------------------------ juju-log, version, unit-get

#[test]
fn juju_log_records_level_and_relation_prefix() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", changed("haproxy/0")).unwrap();
    assert_eq!(s.tool("juju-log", &[]), err(2, "no message specified"));
    assert_eq!(s.tool("juju-log", &["-l", "warn", "two", "words"]), ok(""));
    assert_eq!(s.tool("juju-log", &["--log-level=bogus", "x"]), ok(""));
    assert_eq!(s.tool("juju-log", &["--debug", "y"]), ok(""));
    s.finish(1);
    let log = &m.unit("keepalived/0").juju_log;
    let got: Vec<(&str, &str)> = log
        .iter()
        .map(|l| (l.level.as_str(), l.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("WARNING", "website:2: two words"),
            ("INFO", "website:2: x"),
            ("DEBUG", "website:2: y"),
        ]
    );
}

#[test]
fn application_version_set_is_immediate() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("install")).unwrap();
    assert_eq!(
        s.tool("application-version-set", &[]),
        err(2, "no version specified")
    );
    assert_eq!(
        s.tool("application-version-set", &["1", "2"]),
        err(2, r#"unrecognized args: ["2"]"#)
    );
    assert_eq!(s.tool("application-version-set", &["--", "2.2.7"]), ok(""));
    s.finish(1);
    assert_eq!(m.workload_version.as_deref(), Some("2.2.7"));
}

#[test]
fn unit_get_answers_private_address_and_rejects_unknown_settings() {
    let mut m = model();
    let mut s = m.begin("keepalived/1", Hook::new("install")).unwrap();
    assert_eq!(
        s.tool("unit-get", &["--format=json", "private-address"]),
        ok("\"192.0.2.11\"\n")
    );
    assert_eq!(
        s.tool("unit-get", &["foo"]),
        err(2, r#"unknown setting "foo""#)
    );
    assert_eq!(s.tool("unit-get", &[]), err(2, "no setting specified"));
    assert_eq!(s.tool("unit-get", &["public-address"]).code, 1);
}

#[test]
fn network_get_prints_the_binding_structure_and_single_fields() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("install")).unwrap();
    assert_eq!(
        s.tool("network-get", &["--format=json", "juju-info"]),
        ok(concat!(
            r#"{"bind-addresses":[{"mac-address":"","interface-name":"eth0","addresses":"#,
            r#"[{"hostname":"","value":"192.0.2.10","cidr":"192.0.2.0/24"}]}],"#,
            r#""egress-subnets":["192.0.2.10/32"],"ingress-addresses":["192.0.2.10"]}"#,
            "\n"
        ))
    );
    assert_eq!(
        s.tool(
            "network-get",
            &["cluster", "--ingress-address", "--format=json"]
        ),
        ok("\"192.0.2.10\"\n")
    );
    assert_eq!(
        s.tool("network-get", &["cluster", "--bind-address"]),
        ok("192.0.2.10\n")
    );
    assert_eq!(
        s.tool(
            "network-get",
            &[
                "website",
                "--bind-address",
                "--egress-subnets",
                "--format=json"
            ]
        ),
        ok("{\"bind-address\":\"192.0.2.10\",\"egress-subnets\":[\"192.0.2.10/32\"]}\n")
    );
    assert_eq!(
        s.tool("network-get", &["nope"]),
        err(1, r#"no network config found for binding "nope""#)
    );
    assert_eq!(s.tool("network-get", &[]), err(2, "no arguments specified"));
    assert_eq!(
        s.tool("network-get", &[""]),
        err(2, "no binding name specified")
    );
}

// ------------------------------------------------------------------ state, leader settings, ports

#[test]
fn charm_state_is_per_unit_transactional_and_sees_own_pending_writes() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("install")).unwrap();
    assert_eq!(s.tool("state-get", &["--format=json"]), ok("{}\n"));
    assert_eq!(s.tool("state-set", &["a=1", "b=2"]), ok(""));
    assert_eq!(
        s.tool_stdin("state-set", &["--file", "-"], "{\"c\": \"3\"}"),
        ok("")
    );
    assert_eq!(s.tool("state-delete", &["b"]), ok(""));
    assert_eq!(
        s.tool("state-get", &["--format=json"]),
        ok("{\"a\":\"1\",\"c\":\"3\"}\n")
    );
    assert_eq!(s.tool("state-get", &["--format=json", "b"]), ok("\"\"\n"));
    assert_eq!(
        s.tool("state-get", &["--strict", "b"]),
        err(1, r#""b" not found"#)
    );
    assert_eq!(s.tool("state-delete", &[]), err(2, "specify a key"));
    s.finish(0);
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(s.tool("state-get", &["a"]), ok("1\n"));
    s.tool("state-set", &["a=changed"]);
    s.finish(1);
    assert_eq!(
        m.unit("keepalived/0")
            .charm_state
            .get("a")
            .map(String::as_str),
        Some("1")
    );
    assert!(m.unit("keepalived/1").charm_state.is_empty());
}

#[test]
fn state_get_prints_null_for_no_state_on_juju_4() {
    let mut m = model();
    m.info.juju_version = "4.0.1".into();
    let mut s = m.begin("keepalived/1", Hook::new("install")).unwrap();
    assert_eq!(s.tool("state-get", &["--format=json"]), ok("null\n"));
}

#[test]
fn leader_settings_tools_exist_only_before_juju_4() {
    let mut m = model();
    m.use_script_charm("leader-get >/dev/null 2>&1");
    assert!(m.run("keepalived/0", "update-status").unwrap().ok());
    m.info.juju_version = "4.0.1".into();
    let run = m.run("keepalived/0", "config-changed").unwrap();
    assert_eq!(
        run.exit_code,
        Some(127),
        "leader-get must be missing on Juju 4"
    );
}

#[test]
fn leader_set_needs_the_leader_and_is_immediate() {
    let mut m = model();
    let mut s = m.begin("keepalived/1", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool("leader-set", &["a=b"]),
        err(
            1,
            "cannot write leadership settings: cannot write settings: not the leader"
        )
    );
    assert_eq!(
        s.tool("leader-get", &["a=b"]),
        err(2, r#"invalid key "a=b""#)
    );
    drop(s);
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(s.tool("leader-set", &["vip=10.0.0.9"]), ok(""));
    assert_eq!(
        s.tool("leader-get", &["--format=json"]),
        ok("{\"vip\":\"10.0.0.9\"}\n")
    );
    s.finish(1);
    assert_eq!(
        m.leader_settings.get("vip").map(String::as_str),
        Some("10.0.0.9")
    );
    // Non-leaders hear about it.
    assert_eq!(m.agenda.len(), 1);
    assert_eq!(m.agenda[0].0, "keepalived/1");
    assert_eq!(m.agenda[0].1, Hook::new("leader-settings-changed"));
}

#[test]
fn ports_are_transactional_and_opened_ports_hides_pending_opens() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("install")).unwrap();
    assert_eq!(s.tool("open-port", &["443"]), ok(""));
    assert_eq!(
        s.tool("open-port", &["1000-2000/udp", "--endpoints", "website"]),
        ok("")
    );
    assert_eq!(s.tool("opened-ports", &["--format=json"]), ok("[]\n"));
    assert_eq!(
        s.tool("open-port", &["80/sctp"]),
        err(
            2,
            r#"invalid protocol "sctp", expected "tcp", "udp", or "icmp""#
        )
    );
    assert_eq!(
        s.tool("open-port", &[]),
        err(2, "no port or range specified")
    );
    s.finish(0);
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    assert_eq!(
        s.tool("opened-ports", &["--format=json"]),
        ok("[\"443/tcp\",\"1000-2000/udp\"]\n")
    );
    assert_eq!(
        s.tool("opened-ports", &["--endpoints", "--format=json"]),
        ok("[\"443/tcp (*)\",\"1000-2000/udp (website)\"]\n")
    );
    s.tool("close-port", &["443/tcp"]);
    s.finish(0);
    assert_eq!(m.unit("keepalived/0").opened_ports.len(), 1);
}

#[test]
fn goal_state_lists_units_and_related_units() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("install")).unwrap();
    let out = s.tool("goal-state", &["--format=json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let units: Vec<&String> = v["units"].as_object().unwrap().keys().collect();
    assert_eq!(units, ["keepalived/0", "keepalived/1"]);
    let website: Vec<&String> = v["relations"]["website"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(website, ["haproxy", "haproxy/0", "haproxy/1"]);
    let yaml = s.tool("goal-state", &[]).stdout;
    assert!(
        yaml.starts_with(
            "units:\n  keepalived/0:\n    status: active\n    since: \"2200-11-05 15:29:12Z\"\n"
        ),
        "{yaml}"
    );
    assert_eq!(
        s.tool("goal-state", &["--format=smart"]),
        err(
            2,
            r#"invalid value "smart" for option --format: unknown format "smart""#
        )
    );
}

// ------------------------------------------------------------------ bookkeeping

#[test]
fn every_tool_call_is_recorded_with_argv_and_exit_code() {
    let mut m = model();
    let mut s = m.begin("keepalived/0", Hook::new("install")).unwrap();
    s.tool("config-get", &["--format=json"]);
    s.tool("is-leader", &["--format=json"]);
    s.tool("status-set", &["bogus"]);
    let run = s.finish(0);
    assert_eq!(run.tool_calls.len(), 3);
    assert_eq!(run.tool_count("config-get"), 1);
    assert_eq!(run.tool_calls[2].name, "status-set");
    assert_eq!(run.tool_calls[2].args, vec!["bogus".to_string()]);
    assert_eq!(run.tool_calls[2].exit_code, 2);
}

#[test]
fn a_unit_in_error_takes_no_hooks_until_the_retry_succeeds() {
    let mut m = model();
    let s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    s.finish(1);
    assert_eq!(
        m.run("keepalived/0", "config-changed").unwrap_err(),
        EmuError::UnitInError {
            unit: "keepalived/0".into(),
            hook: "update-status".into()
        }
    );
    // Queued hooks wait in the backlog; update-status is never queued while in error.
    m.config(&[("port", "8443")]).unwrap();
    assert_eq!(m.unit("keepalived/0").backlog.len(), 1);
    assert!(m
        .update_status()
        .unwrap()
        .iter()
        .all(|r| r.unit == "keepalived/1"));
    let runs = m.retry("keepalived/0").unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r.hook.name.as_str()).collect();
    assert_eq!(names, ["update-status", "config-changed"]);
    assert_eq!(m.unit("keepalived/0").status(), Status::new("unknown", ""));
}

// ------------------------------------------------------------------ machine stand-ins

#[test]
fn systemctl_tracks_units_from_unit_files_under_the_machine_root() {
    let mut m = model();
    let root = m.unit("keepalived/0").root.clone();
    let mut s = m.begin("keepalived/0", Hook::new("start")).unwrap();
    assert_eq!(
        s.tool("systemctl", &["start", "keepalived-charm"]),
        ToolOutput {
            code: 5,
            stdout: String::new(),
            stderr: "Failed to start keepalived-charm.service: Unit keepalived-charm.service not found.\n".into(),
        }
    );
    std::fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    let unit_file = root.join("etc/systemd/system/keepalived-charm.service");
    std::fs::write(&unit_file, "[Service]\nExecStart=/bin/true\n").unwrap();
    assert_eq!(
        s.tool("systemctl", &["is-active", "keepalived-charm"]).code,
        3
    );
    assert_eq!(
        s.tool(
            "systemctl",
            &["enable", "--now", "keepalived-charm.service"]
        ),
        ok("")
    );
    assert_eq!(
        s.tool("systemctl", &["is-active", "keepalived-charm"]),
        ok("active\n")
    );
    assert_eq!(
        s.tool("systemctl", &["is-enabled", "keepalived-charm"]),
        ok("enabled\n")
    );
    std::fs::write(&unit_file, "[Service]\nExecStart=/bin/false\n").unwrap();
    let warn = s.tool("systemctl", &["restart", "keepalived-charm"]);
    assert_eq!(warn.code, 0);
    assert!(
        warn.stderr.starts_with("Warning: The unit file"),
        "{warn:?}"
    );
    s.tool("systemctl", &["daemon-reload"]);
    assert_eq!(
        s.tool("systemctl", &["restart", "keepalived-charm"]),
        ok("")
    );
    assert_eq!(s.tool("systemctl", &["stop", "keepalived-charm"]), ok(""));
    assert_eq!(
        s.tool("systemctl", &["is-active", "-q", "keepalived-charm"]),
        ToolOutput {
            code: 3,
            stdout: String::new(),
            stderr: String::new()
        }
    );
    let run = s.finish(0);
    let argvs: Vec<String> = run.service_calls.iter().map(|c| c.argv.join(" ")).collect();
    assert_eq!(argvs.len(), 10);
    assert_eq!(argvs[2], "systemctl enable --now keepalived-charm.service");
    assert!(run.service_calls.iter().all(|c| c.hook == "start"));
    assert_eq!(m.unit("keepalived/0").machine.daemon_reloads, 1);
    assert!(m.unit("keepalived/0").machine.active.is_empty());
}

#[test]
fn machine_commands_can_be_told_to_fail() {
    let mut m = model();
    m.unit_mut("keepalived/0")
        .machine
        .preinstalled_units
        .insert("keepalived.service".into());
    m.fail_command(
        "keepalived/0",
        "systemctl",
        &["restart", "keepalived"],
        1,
        "Job failed",
        Some(1),
    );
    let mut s = m.begin("keepalived/0", Hook::new("start")).unwrap();
    assert_eq!(
        s.tool("systemctl", &["restart", "keepalived"]),
        ToolOutput {
            code: 1,
            stdout: String::new(),
            stderr: "Job failed\n".into()
        }
    );
    assert_eq!(s.tool("systemctl", &["restart", "keepalived"]), ok(""));
    let run = s.finish(0);
    assert_eq!(run.service_calls[0].exit_code, 1);
    assert_eq!(run.service_calls[1].exit_code, 0);
    // The unit's service-call log spans hooks.
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    s.tool("systemctl", &["is-active", "keepalived"]);
    assert_eq!(s.finish(0).service_calls.len(), 1);
    let log: Vec<(String, String)> = m
        .unit("keepalived/0")
        .machine
        .calls
        .iter()
        .map(|c| (c.hook.clone(), c.argv.join(" ")))
        .collect();
    assert_eq!(
        log,
        [
            (
                "start".to_string(),
                "systemctl restart keepalived".to_string()
            ),
            (
                "start".to_string(),
                "systemctl restart keepalived".to_string()
            ),
            (
                "update-status".to_string(),
                "systemctl is-active keepalived".to_string()
            ),
        ]
    );
}

#[test]
fn sysctl_reads_writes_and_loads_files() {
    let mut m = model();
    let root = m.unit("keepalived/0").root.clone();
    m.unit_mut("keepalived/0")
        .machine
        .sysctl
        .insert("net.ipv4.ip_nonlocal_bind".into(), "0".into());
    let mut s = m
        .begin("keepalived/0", Hook::new("config-changed"))
        .unwrap();
    assert_eq!(
        s.tool("sysctl", &["-n", "net.ipv4.ip_nonlocal_bind"]),
        ok("0\n")
    );
    assert_eq!(
        s.tool("sysctl", &["-w", "net.ipv4.ip_nonlocal_bind=1"]),
        ok("net.ipv4.ip_nonlocal_bind = 1\n")
    );
    assert_eq!(
        s.tool("sysctl", &["net/ipv4/ip_nonlocal_bind"]),
        ok("net.ipv4.ip_nonlocal_bind = 1\n")
    );
    std::fs::create_dir_all(root.join("etc/sysctl.d")).unwrap();
    std::fs::write(
        root.join("etc/sysctl.d/60-keepalived.conf"),
        "# comment\nnet.ipv4.ip_nonlocal_bind = 0\n",
    )
    .unwrap();
    assert_eq!(
        s.tool("sysctl", &["-p", "/etc/sysctl.d/60-keepalived.conf"]),
        ok("net.ipv4.ip_nonlocal_bind = 0\n")
    );
    assert_eq!(
        s.tool("sysctl", &["-q", "--system"]),
        ok("* Applying /etc/sysctl.d/60-keepalived.conf ...\n")
    );
    assert_eq!(
        s.tool("sysctl", &["-n", "net.no.such.key"]),
        ToolOutput {
            code: 255,
            stdout: String::new(),
            stderr: "sysctl: cannot stat /proc/sys/net/no/such/key: No such file or directory\n"
                .into(),
        }
    );
    s.finish(0);
    let machine = &m.unit("keepalived/0").machine;
    assert_eq!(machine.sysctl["net.ipv4.ip_nonlocal_bind"], "0");
    assert_eq!(machine.calls.len(), 6);
}

#[test]
fn tools_outside_an_emulated_hook_fail_cleanly() {
    let tool = env!("CARGO_BIN_EXE_juju-hook-tool-emulator");
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("config-get");
    std::os::unix::fs::symlink(tool, &link).unwrap();
    let out = std::process::Command::new(&link)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("ERROR JUJU_EMULATOR_STATE is not set")
    );
}

// The action tests live in their own file but build into this one test binary.
#[path = "fidelity/actions.rs"]
mod actions;

/// Juju's goal-state shows a unit whose life is dying as `dying`.
#[test]
fn goal_state_shows_a_dying_unit_as_dying() {
    let mut m = model();
    m.unit_mut("keepalived/1").dying = true;
    let mut s = m.begin("keepalived/0", Hook::new("update-status")).unwrap();
    let out = s.tool("goal-state", &["--format=json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["units"]["keepalived/0"]["status"], "active");
    assert_eq!(v["units"]["keepalived/1"]["status"], "dying");
}
