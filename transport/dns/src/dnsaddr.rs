//! `/dnsaddr` links: from TXT records to the multiaddrs they name. Plain
//! data in, data out; the lookups are `lookup.rs`'s.
//!
//! Spec: `libp2p-addressing.md`, "dnsaddr Links", and multiaddr's
//! `protocols/DNSADDR.md`: resolving `/dnsaddr/<domain>` reads the TXT
//! records of `_dnsaddr.<domain>`; each `dnsaddr=<multiaddr>` string is
//! an address of it.
//!
//! **Which records apply.** As go-multiaddr-dns (`madns`) does it, the
//! part of the dialed address after `/dnsaddr/<domain>` is a suffix every
//! record must end with, component by component. Dialing
//! `/dnsaddr/example.com/p2p/QmA` keeps
//! `dnsaddr=/ip4/1.2.3.4/tcp/4001/p2p/QmA` and
//! `dnsaddr=/dnsaddr/eu.example.com/p2p/QmA`, and skips records for
//! another peer (`…/p2p/QmB`) and records without a peer id (a nested
//! link must carry the `/p2p/<id>` too, as bootstrap.libp2p.io's do).
//! Dialing `/dnsaddr/example.com` alone keeps every record. A record that
//! matches is used as it is: it already ends with the suffix.
//!
//! ```text
//! _dnsaddr.example.com TXT "dnsaddr=/ip4/1.2.3.4/tcp/4001/p2p/QmA"    ── ends with /p2p/QmA: kept
//!                      TXT "dnsaddr=/ip4/5.6.7.8/tcp/4001/p2p/QmB"    ── another peer: skipped
//!                      TXT "dnsaddr=/dnsaddr/eu.example.com/p2p/QmA"  ── kept, then resolved in turn
//!                      TXT "v=spf1 -all"                              ── not a dnsaddr: ignored
//! ```

use strata_core::{Multiaddr, multiaddr::Component};

/// What a TXT string starts with when it holds an address.
const PREFIX: &str = "dnsaddr=";

/// The name whose TXT records hold the links of `domain`.
pub(crate) fn txt_name(domain: &str) -> String {
    format!("_dnsaddr.{domain}")
}

/// The addresses in `records` (TXT strings, in the server's order) that
/// end with `suffix`. Strings without the `dnsaddr=` prefix are ignored,
/// and so are addresses that do not parse (a newer protocol, a typo): the
/// others are still of use.
pub(crate) fn entries<'r>(records: impl IntoIterator<Item = &'r str>, suffix: &[Component<'_>]) -> Vec<Multiaddr> {
    records
        .into_iter()
        .filter_map(|record| record.strip_prefix(PREFIX))
        .filter_map(|text| match text.parse::<Multiaddr>() {
            Ok(addr) => Some(addr),
            Err(error) => {
                tracing::debug!(record = text, %error, "dnsaddr: skipping a record that is not a multiaddr");
                None
            }
        })
        .filter(|addr| ends_with(addr, suffix))
        .collect()
}

/// Whether the last components of `addr` are `suffix`.
fn ends_with(addr: &Multiaddr, suffix: &[Component<'_>]) -> bool {
    let components: Vec<Component<'_>> = addr.iter().collect();
    components.len() >= suffix.len() && components[components.len() - suffix.len()..] == *suffix
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    const B: &str = "QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb";

    fn suffix_of(text: &str) -> Vec<Component<'static>> {
        let addr: Multiaddr = text.parse().unwrap();
        addr.iter().skip(1).map(Component::into_owned).collect()
    }

    fn texts(addrs: &[Multiaddr]) -> Vec<String> {
        addrs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn keeps_the_records_of_the_dialed_peer() {
        let records = [
            format!("dnsaddr=/ip4/1.2.3.4/tcp/4001/p2p/{A}"),
            format!("dnsaddr=/ip4/5.6.7.8/tcp/4001/p2p/{B}"),
            "dnsaddr=/ip4/9.9.9.9/tcp/4001".to_owned(),
            format!("dnsaddr=/dnsaddr/eu.example.com/p2p/{A}"),
            "dnsaddr=/dnsaddr/eu.example.com".to_owned(),
            "v=spf1 -all".to_owned(),
            format!("dnsaddr=/no-such-protocol/1/p2p/{A}"),
        ];
        let kept = entries(records.iter().map(String::as_str), &suffix_of(&format!("/dnsaddr/example.com/p2p/{A}")));
        assert_eq!(
            texts(&kept),
            [format!("/ip4/1.2.3.4/tcp/4001/p2p/{A}"), format!("/dnsaddr/eu.example.com/p2p/{A}")]
        );
    }

    #[test]
    fn keeps_every_record_when_nothing_follows_the_domain() {
        let records =
            [format!("dnsaddr=/ip4/1.2.3.4/tcp/4001/p2p/{A}"), "dnsaddr=/ip4/9.9.9.9/udp/1/quic-v1".to_owned()];
        let kept = entries(records.iter().map(String::as_str), &suffix_of("/dnsaddr/example.com"));
        assert_eq!(texts(&kept), [format!("/ip4/1.2.3.4/tcp/4001/p2p/{A}"), "/ip4/9.9.9.9/udp/1/quic-v1".to_owned()]);
    }

    #[test]
    fn a_longer_suffix_matches_component_by_component() {
        let records = [
            format!("dnsaddr=/ip4/1.2.3.4/tcp/4001/p2p/{A}"),
            format!("dnsaddr=/ip4/1.2.3.4/udp/4001/quic-v1/p2p/{A}"),
            format!("dnsaddr=/p2p/{A}"),
        ];
        let kept = entries(records.iter().map(String::as_str), &suffix_of(&format!("/dnsaddr/x.io/quic-v1/p2p/{A}")));
        assert_eq!(texts(&kept), [format!("/ip4/1.2.3.4/udp/4001/quic-v1/p2p/{A}")]);
    }

    #[test]
    fn the_txt_name_is_under_dnsaddr() {
        assert_eq!(txt_name("bootstrap.libp2p.io"), "_dnsaddr.bootstrap.libp2p.io");
    }
}
