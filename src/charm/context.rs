//! Gathering the facts of one hook with as few hook-tool calls as practical.
//!
//! * `config-get` and `state-get` once each, in every reconciling hook.
//! * `is-leader` once, only to know whether to set the application status: nothing
//!   else depends on leadership (priorities are per-unit claims, see `priority`;
//!   nothing is written to application bags).
//! * Relation ids and peer data are cached in charm state and refreshed only by the
//!   hooks that can change them:
//!   - `config-changed` and `upgrade-charm` re-list every relation (`relation-ids`)
//!     and re-read every peer (`relation-list` + one `relation-get` per peer): a full
//!     resynchronisation on the hooks an operator triggers;
//!   - `<endpoint>-relation-created/-joined` adds its relation (named by
//!     `JUJU_RELATION_ID`, no `relation-ids`), `-broken` drops it;
//!   - `cluster-relation-created` reads every peer already there (`relation-list` +
//!     one `relation-get` each);
//!   - `cluster-relation-joined/-changed` re-reads only the remote unit's bag,
//!     `cluster-relation-departed` drops the departing unit without reading anything;
//!   - every other hook (update-status, leader-*, start, ...) reads nothing more.
//!
//! Juju guarantees a relation hook for every change of remote data and membership,
//! so the cache is never stale for longer than until that hook runs.

use std::collections::BTreeMap;

use super::desired::PeerAddresses;
use super::hook::unit_number;
use super::hook::{Hook, HookContext, RelationKind};
use super::hooktools::{Bag, HookTools, RelationId, ToolError};
use super::priority::{parse_claim, PeerClaim};
use super::relation_data::{contract_keys, CLUSTER, VIP_ENDPOINTS};
use super::state::CharmState;

/// The relations this hook publishes on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// `website` and `loadbalancer` relations.
    pub vip: Vec<RelationId>,
    /// The `cluster` peer relation, once it exists.
    pub peer: Option<RelationId>,
}

fn full_refresh(hook: &Hook) -> bool {
    matches!(
        hook,
        Hook::ConfigChanged | Hook::UpgradeCharm | Hook::Action
    )
}

fn cached_relations(state: &CharmState, endpoint: &str) -> Vec<RelationId> {
    state
        .published
        .keys()
        .filter_map(|k| RelationId::parse(k))
        .filter(|r| r.endpoint == endpoint)
        .collect()
}

/// Works out the VIP relations and the peer relation, and refreshes the peer cache in
/// `state` as the hook requires (see the module doc).
pub fn refresh(
    ctx: &HookContext,
    tools: &mut dyn HookTools,
    state: &mut CharmState,
) -> Result<Relations, ToolError> {
    let mut relations = Relations::default();
    let this = ctx.relation_id.as_ref();
    let broken = matches!(
        ctx.hook,
        Hook::Relation {
            kind: RelationKind::Broken,
            ..
        }
    );

    for endpoint in VIP_ENDPOINTS {
        let mut ids = if full_refresh(&ctx.hook) {
            tools.relation_ids(endpoint)?
        } else {
            cached_relations(state, endpoint)
        };
        if let Some(rid) = this.filter(|r| r.endpoint == endpoint) {
            ids.retain(|r| r != rid);
            if !broken {
                ids.push(rid.clone());
            }
        }
        ids.sort();
        ids.dedup();
        // Forget relations that are gone, so the cache does not grow forever.
        let keep: Vec<String> = ids.iter().map(|r| r.to_string()).collect();
        state.published.retain(|k, _| match RelationId::parse(k) {
            Some(r) if r.endpoint == endpoint => keep.contains(k),
            _ => true,
        });
        relations.vip.extend(ids);
    }

    // The peer relation: listed on a full refresh, named by the hook's own
    // environment in cluster hooks, else remembered.
    let this_peer = this.filter(|r| r.endpoint == CLUSTER).cloned();
    let peer = if full_refresh(&ctx.hook) {
        tools.relation_ids(CLUSTER)?.into_iter().next()
    } else if this_peer.is_some() {
        this_peer
    } else {
        state.peer_relation.as_deref().and_then(RelationId::parse)
    };
    match (&peer, &ctx.hook) {
        (None, _) => state.peers.clear(),
        (Some(rid), _)
            if full_refresh(&ctx.hook) || ctx.hook.is_relation(CLUSTER, RelationKind::Created) =>
        {
            read_all_peers(tools, rid, state)?
        }
        (
            Some(rid),
            Hook::Relation {
                endpoint: CLUSTER,
                kind: RelationKind::Joined | RelationKind::Changed,
            },
        ) => {
            if let Some(unit) = &ctx.remote_unit {
                read_peer(tools, rid, unit, state)?;
            }
        }
        // When this unit is the one leaving, its engine is about to be stopped
        // (releasing the VIP); reconfiguring it now would only add a transition. Its
        // peers drop it on their side.
        (
            Some(_),
            Hook::Relation {
                endpoint: CLUSTER,
                kind: RelationKind::Departed,
            },
        ) if ctx.departing_unit.as_deref() != Some(ctx.unit.as_str()) => {
            for unit in [&ctx.departing_unit, &ctx.remote_unit]
                .into_iter()
                .flatten()
            {
                state.peers.remove(unit);
            }
        }
        _ => {}
    }
    state.peer_relation = peer.as_ref().map(|r| r.to_string());
    let peer_key = state.peer_relation.clone();
    state
        .published
        .retain(|k, _| !k.starts_with(&format!("{CLUSTER}:")) || Some(k) == peer_key.as_ref());
    relations.peer = peer;
    Ok(relations)
}

/// Only the keys of a peer bag that matter, so the cache stays small.
fn peer_subset(bag: &Bag) -> Bag {
    contract_keys(CLUSTER)
        .iter()
        .filter_map(|k| bag.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

fn read_peer(
    tools: &mut dyn HookTools,
    rid: &RelationId,
    unit: &str,
    state: &mut CharmState,
) -> Result<(), ToolError> {
    match tools.relation_get(rid, unit) {
        Ok(bag) => {
            state.peers.insert(unit.to_string(), peer_subset(&bag));
            Ok(())
        }
        // The unit left between the hook being queued and now: it is not a peer.
        Err(ToolError::RelationNotFound { .. }) => {
            state.peers.remove(unit);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn read_all_peers(
    tools: &mut dyn HookTools,
    rid: &RelationId,
    state: &mut CharmState,
) -> Result<(), ToolError> {
    let units = match tools.relation_list(rid) {
        Ok(units) => units,
        Err(ToolError::RelationNotFound { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut fresh = BTreeMap::new();
    for unit in units {
        match tools.relation_get(rid, &unit) {
            Ok(bag) => {
                fresh.insert(unit, peer_subset(&bag));
            }
            Err(ToolError::RelationNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    state.peers = fresh;
    Ok(())
}

/// The peers' priority claims, for `priority::decide`.
pub fn peer_claims(state: &CharmState) -> Vec<PeerClaim> {
    state
        .peers
        .iter()
        .filter_map(|(unit, bag)| {
            Some(PeerClaim {
                unit_number: unit_number(unit)?,
                claim: bag.get("priority").and_then(|c| parse_claim(c)),
            })
        })
        .collect()
}

/// The peers' VRRP source addresses, for unicast.
pub fn peer_addresses(state: &CharmState) -> Vec<PeerAddresses> {
    state
        .peers
        .iter()
        .map(|(unit, bag)| PeerAddresses {
            unit: unit.clone(),
            v4: bag
                .get("vrrp-address")
                .and_then(|a| a.parse().ok())
                .filter(|a: &std::net::IpAddr| a.is_ipv4()),
            v6: bag
                .get("vrrp-address-v6")
                .and_then(|a| a.parse().ok())
                .filter(|a: &std::net::IpAddr| a.is_ipv6()),
            vips: super::relation_data::peer_vips(bag),
            timing_profiles: super::timing::offers(
                bag.get(super::relation_data::TIMING_PROFILES)
                    .map(String::as_str),
            ),
            identity: bag.get(super::identity::PEER_KEY).cloned(),
            segments: bag
                .get(super::identity::SEGMENTS_KEY)
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}
