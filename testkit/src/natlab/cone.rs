//! The cone NATs' inbound half, in nftables: what `iptables` alone cannot
//! say. Conntrack lets in only replies from the exact address and port a
//! host sent to (port-restricted filtering); a cone NAT also lets in
//! others, to the same mapping. So the router keeps its mappings in a
//! dynamic nftables map and sends what arrives on one to the host behind
//! it (DNAT), where conntrack alone would drop it:
//!
//! ```text
//! postrouting (after MASQUERADE), LAN-originated flows:
//!   full       [proto . external port]              ─▶ internal addr . port
//!   restricted [proto . remote addr . external port] ─▶ internal addr . port
//! prerouting, from the WAN: a new flow whose key is in the map ─▶ DNAT there
//! ```
//!
//! The keys are read after MASQUERADE (priority `srcnat + 1`), so they
//! hold the external port the router really chose; the values are
//! conntrack's original (internal) address and port. An entry lives
//! [`MAPPING_TIMEOUT`] after the last packet out through it, as a home
//! router's UDP mapping does. Only flows the LAN started make or refresh a
//! mapping (`ct direction original`; a flow let in through one does not).

use super::{NatKind, Result, exec};

/// How long a mapping lasts after its last outbound packet.
const MAPPING_TIMEOUT: &str = "2m";

/// Adds the cone's maps and rules to the router in `namespace` (nothing
/// for the kinds conntrack alone does).
pub(super) fn install(namespace: &str, kind: NatKind) -> Result<()> {
    let (key, lookup) = match kind {
        NatKind::PortRestricted | NatKind::Symmetric => return Ok(()),
        NatKind::FullCone => ("meta l4proto . th sport", "meta l4proto . th dport"),
        NatKind::AddressRestricted => ("meta l4proto . ip daddr . th sport", "meta l4proto . ip saddr . th dport"),
    };
    let key_type = match kind {
        NatKind::FullCone => "inet_proto . inet_service",
        _ => "inet_proto . ipv4_addr . inet_service",
    };
    // `nft` joins its arguments with spaces, so each line is one command.
    for command in [
        "add table ip cone".to_owned(),
        format!(
            "add map ip cone mappings {{ type {key_type} : ipv4_addr . inet_service ; \
             flags dynamic,timeout ; timeout {MAPPING_TIMEOUT} ; }}"
        ),
        "add chain ip cone mapped { type filter hook postrouting priority srcnat + 1 ; policy accept ; }".to_owned(),
        format!(
            "add rule ip cone mapped oifname wan ct direction original meta l4proto {{ tcp, udp }} \
             update @mappings {{ {key} : ct original ip saddr . ct original proto-src }}"
        ),
        "add chain ip cone inbound { type nat hook prerouting priority dstnat ; policy accept ; }".to_owned(),
        format!("add rule ip cone inbound iifname wan meta l4proto {{ tcp, udp }} dnat ip to {lookup} map @mappings"),
    ] {
        exec(namespace, &format!("nft {command}"))?;
    }
    Ok(())
}
