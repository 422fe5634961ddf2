//! What `juju status keepalived` would show: the application line and one line per
//! unit (workload status, agent status, address, message), in Juju's layout.

use super::Model;

/// One unit line of `juju status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitLine {
    /// With Juju's `*` on the leader.
    pub unit: String,
    pub workload: String,
    pub agent: String,
    pub address: String,
    pub message: String,
}

impl Model {
    /// The unit lines, in unit order.
    pub fn status_lines(&self) -> Vec<UnitLine> {
        self.units
            .iter()
            .map(|u| {
                let star = if self.is_leader(&u.name) { "*" } else { "" };
                let (workload, agent, message) = if u.lost {
                    (
                        "unknown".to_string(),
                        "lost".to_string(),
                        format!("agent lost, see 'juju show-status-log {}'", u.name),
                    )
                } else {
                    // A unit in error shows workload `error`, agent `idle`.
                    let s = u.status();
                    (s.status, "idle".to_string(), s.message)
                };
                UnitLine {
                    unit: format!("{}{star}", u.name),
                    workload,
                    agent,
                    address: u.address.clone(),
                    message,
                }
            })
            .collect()
    }

    /// `juju status <app>` as text: the app line, a blank line, the unit table.
    pub fn juju_status(&self) -> String {
        let app = self.app_status();
        let mut out = format!(
            "{:<12} {:<8} {:>5}  {}\n{:<12} {:<8} {:>5}  {}\n\n",
            "App",
            "Status",
            "Scale",
            "Message",
            self.app,
            app.status,
            self.units.len(),
            app.message
        );
        let lines = self.status_lines();
        let w = lines.iter().map(|l| l.unit.len()).max().unwrap_or(4).max(4);
        let a = lines
            .iter()
            .map(|l| l.address.len())
            .max()
            .unwrap_or(7)
            .max(7);
        out.push_str(&format!(
            "{:<w$}  {:<8}  {:<5}  {:<a$}  {}\n",
            "Unit", "Workload", "Agent", "Address", "Message"
        ));
        for l in lines {
            out.push_str(&format!(
                "{:<w$}  {:<8}  {:<5}  {:<a$}  {}\n",
                l.unit, l.workload, l.agent, l.address, l.message
            ));
        }
        out
    }
}
