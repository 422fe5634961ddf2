//! The Juju half: every hook reconciles config, relations and leadership into the
//! engine's keepalived.conf, relation data and status.

/// Handles one hook. `name` overrides `JUJU_DISPATCH_PATH` / the program name.
pub fn run_hook(name: Option<String>) -> anyhow::Result<()> {
    let _ = name;
    Ok(())
}
