use super::*;

const HALF: Duration = Duration::from_mins(30);
const RETRY: Duration = Duration::from_mins(1);
const SECOND: Duration = Duration::from_secs(1);

fn addr(text: &str) -> Multiaddr {
    text.parse().unwrap()
}

const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);

fn keys(targets: &[Target]) -> Vec<Key> {
    targets.iter().map(|t| (t.protocol, t.internal)).collect()
}

#[test]
fn maps_private_tcp_and_udp_on_the_gateways_lan_only() {
    let addrs = [
        addr("/ip4/192.168.1.2/tcp/4001"),
        addr("/ip4/192.168.1.2/udp/4001/quic-v1"),
        addr("/ip4/192.168.1.2/tcp/4002/ws"),
        addr("/ip4/127.0.0.1/tcp/4001"),  // loopback
        addr("/ip4/10.0.0.5/tcp/4001"),   // private, another LAN
        addr("/ip6/fd00::2/tcp/4001"),    // IPv6
        addr("/ip4/198.18.0.2/tcp/4001"), // public already
        addr("/ip4/192.168.1.2/tcp/0"),   // no port
        addr("/ip4/192.168.1.2/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit"),
    ];
    let chosen = targets(&addrs, LOCAL);
    assert_eq!(
        keys(&chosen),
        vec![
            (Protocol::Tcp, "192.168.1.2:4001".parse().unwrap()),
            (Protocol::Udp, "192.168.1.2:4001".parse().unwrap()),
            (Protocol::Tcp, "192.168.1.2:4002".parse().unwrap()),
        ]
    );
    // Not private: never mapped, even if it is "our" address.
    assert!(targets(&[addr("/ip4/198.18.0.2/tcp/1")], Ipv4Addr::new(198, 18, 0, 2)).is_empty());
}

#[test]
fn external_addr_keeps_the_rest() {
    let external = SocketAddrV4::new(Ipv4Addr::new(198, 20, 0, 2), 5000);
    assert_eq!(
        external_addr(&addr("/ip4/192.168.1.2/udp/4001/quic-v1"), external),
        addr("/ip4/198.20.0.2/udp/5000/quic-v1")
    );
    assert_eq!(external_addr(&addr("/ip4/192.168.1.2/tcp/4001/ws"), external), addr("/ip4/198.20.0.2/tcp/5000/ws"));
}

fn table() -> Table {
    Table::new(2 * HALF, RETRY, 2)
}

fn tcp(port: u16) -> Target {
    target(&addr(&format!("/ip4/192.168.1.2/tcp/{port}")), LOCAL).unwrap()
}

#[test]
fn new_targets_are_due_at_once_and_renewed_at_half_the_lease() {
    let (mut table, t0) = (table(), Instant::now());
    let key = (Protocol::Tcp, "192.168.1.2:4001".parse().unwrap());
    assert_eq!(table.set_targets(vec![tcp(4001)], t0), (vec![], vec![]));
    assert_eq!(table.due(t0), vec![Due::Map(key)]);
    assert_eq!(table.next_deadline(), Some(t0));

    let (_, new) = table.mapped(key, 4001, t0).unwrap();
    assert!(new, "a first mapping is new");
    assert!(table.due(t0).is_empty());
    assert_eq!(table.next_deadline(), Some(t0 + HALF));
    assert!(table.due(t0 + HALF.saturating_sub(SECOND)).is_empty());
    assert_eq!(table.due(t0 + HALF), vec![Due::Renew(key, 4001)]);

    let t1 = t0 + HALF;
    let (_, new) = table.mapped(key, 4001, t1).unwrap();
    assert!(!new, "a renewal on the same port is not new");
    assert_eq!(table.next_deadline(), Some(t1 + HALF));
}

#[test]
fn a_failure_retries_later_and_a_failed_renewal_loses_the_mapping() {
    let (mut table, t0) = (table(), Instant::now());
    let key = (Protocol::Tcp, "192.168.1.2:4001".parse().unwrap());
    table.set_targets(vec![tcp(4001)], t0);
    assert_eq!(table.failed(key, t0), None, "nothing was mapped");
    assert!(table.due(t0 + RETRY.saturating_sub(SECOND)).is_empty());
    assert_eq!(table.due(t0 + RETRY), vec![Due::Map(key)]);

    table.mapped(key, 31000, t0);
    let lost = table.failed(key, t0 + HALF).unwrap();
    assert_eq!((lost.key, lost.external_port), (key, 31000));
    assert_eq!(table.next_deadline(), Some(t0 + (HALF + RETRY)));
}

#[test]
fn gone_listen_addrs_are_unmapped_and_the_cap_holds() {
    let (mut table, t0) = (table(), Instant::now());
    let (gone, refused) = table.set_targets(vec![tcp(1), tcp(2), tcp(3)], t0);
    assert!(gone.is_empty());
    assert_eq!(refused, vec![tcp(3)], "at most two mappings");
    let key1 = (Protocol::Tcp, "192.168.1.2:1".parse().unwrap());
    table.mapped(key1, 7001, t0);

    let (gone, refused) = table.set_targets(vec![tcp(2)], t0);
    assert!(refused.is_empty());
    assert_eq!(gone, vec![Gone { key: key1, addr: tcp(1).addr, external_port: 7001 }]);
    assert_eq!(table.mapped(key1, 7001, t0), None, "a result for a gone address is dropped");

    let key2 = (Protocol::Tcp, "192.168.1.2:2".parse().unwrap());
    table.mapped(key2, 2, t0);
    assert_eq!(table.take_mapped(), vec![Gone { key: key2, addr: tcp(2).addr, external_port: 2 }]);
    assert_eq!(table.next_deadline(), None);
}
