//! The hooks/ directory must hold exactly one executable per hook Juju can run for the
//! endpoints in metadata.yaml, each handing over to the one binary.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const LIFECYCLE: &[&str] = &[
    "install",
    "start",
    "config-changed",
    "upgrade-charm",
    "update-status",
    "leader-elected",
    "leader-settings-changed",
    "stop",
    "remove",
];

fn expected_hooks() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("metadata.yaml")).expect("metadata.yaml");
    let meta: serde_yaml::Value = serde_yaml::from_str(&text).expect("metadata.yaml parses");
    let mut hooks: BTreeSet<String> = LIFECYCLE.iter().map(|s| s.to_string()).collect();
    for (kind, kinds) in [
        (
            "requires",
            &["created", "joined", "changed", "departed", "broken"][..],
        ),
        (
            "provides",
            &["created", "joined", "changed", "departed", "broken"][..],
        ),
        // A peer relation never gets -broken (docs/juju-contract.md J-3).
        ("peers", &["created", "joined", "changed", "departed"][..]),
    ] {
        if let Some(endpoints) = meta.get(kind).and_then(|v| v.as_mapping()) {
            for endpoint in endpoints.keys() {
                let endpoint = endpoint.as_str().expect("endpoint name is a string");
                for suffix in kinds {
                    hooks.insert(format!("{endpoint}-relation-{suffix}"));
                }
            }
        }
    }
    hooks
}

#[test]
fn hooks_directory_matches_metadata() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let actual: BTreeSet<String> = std::fs::read_dir(root.join("hooks"))
        .expect("hooks/ exists")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let expected = expected_hooks();
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "hooks/ differs from metadata.yaml: missing {missing:?}, unexpected {extra:?}"
    );
    assert_eq!(
        expected.len(),
        9 + 5 * 5 + 4,
        "5 endpoints with 5 hooks, 1 peer with 4"
    );
}

#[test]
fn every_hook_and_dispatch_is_executable_and_execs_the_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("dispatch")];
    files.extend(expected_hooks().iter().map(|h| root.join("hooks").join(h)));
    for path in files {
        let meta = std::fs::metadata(&path).expect("hook file exists");
        assert_eq!(
            meta.permissions().mode() & 0o755,
            0o755,
            "{path:?} must be 0755"
        );
        let text = std::fs::read_to_string(&path).expect("readable");
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .expect("non-empty");
        // charmcraft analyse's entrypoint check takes the last token of the last line.
        assert!(
            last.ends_with("exec ./bin/keepalived-charm"),
            "{path:?} must end by exec'ing ./bin/keepalived-charm, got {last:?}"
        );
        if path.parent() == Some(&root.join("hooks")) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                text.contains(&format!("hooks/{name}")),
                "{path:?} must name its own hook as the JUJU_DISPATCH_PATH fallback"
            );
        }
    }
}
