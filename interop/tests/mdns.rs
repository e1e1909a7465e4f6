//! strata's mDNS and rust-libp2p's (`libp2p-mdns` 0.48, tokio) discover
//! each other, both ways, on the real group and port (224.0.0.251:5353),
//! inside a network namespace this test creates (`unshare --net`, a veth
//! pair), so nothing reaches the LAN. rust-libp2p's mDNS skips loopback
//! interfaces, hence the veth pair; both nodes hear each other through
//! the multicast loopback of the namespace; strata then dials the rust
//! node it found. Needs root (CI runs as root).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{process::Command, time::Duration};

use futures::StreamExt as _;
use libp2p::{mdns, swarm::SwarmEvent};
use strata::mdns::{Config, Event, Interfaces, Mdns};
use strata_testkit::eventually;
use tokio::sync::mpsc;

#[path = "support/rust_peer.rs"]
mod rust_peer;

use rust_peer::{ours, theirs};

const INSIDE: &str = "STRATA_MDNS_NAMESPACE";
const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn strata_and_rust_libp2p_discover_each_other_over_mdns() {
    let test = std::env::current_exe().unwrap();
    let output = Command::new("unshare")
        .args(["--net", "--"])
        .arg(test)
        .args(["--exact", "inside_a_namespace", "--ignored", "--nocapture"])
        .env(INSIDE, "1")
        .output()
        .expect("unshare (util-linux) runs");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the namespace run failed (it needs root):\n{log}");
    assert!(log.contains("1 passed"), "the inner test ran:\n{log}");
}

/// Whether the link `name` is up, carrier and all (`state UP`).
fn link_is_up(name: &str) -> bool {
    let output = Command::new("ip").args(["-o", "link", "show", "dev", name]).output().expect("ip (iproute2) runs");
    String::from_utf8_lossy(&output.stdout).contains("state UP")
}

fn ip(args: &str) {
    let status = Command::new("ip").args(args.split(' ')).status().expect("ip (iproute2) runs");
    assert!(status.success(), "ip {args}");
}

#[tokio::test]
#[ignore = "run inside a network namespace by strata_and_rust_libp2p_discover_each_other_over_mdns"]
async fn inside_a_namespace() {
    assert_eq!(std::env::var(INSIDE).as_deref(), Ok("1"), "never on the host's own network");
    ip("link set lo up");
    ip("link add veth0 type veth peer name veth1");
    ip("addr add 10.99.0.1/24 dev veth0");
    ip("addr add 10.99.0.2/24 dev veth1");
    ip("link set veth0 up");
    ip("link set veth1 up");
    // The kernel brings a veth pair's carrier up a moment later.
    eventually("veth0 and veth1 are up", async || ["veth0", "veth1"].into_iter().all(link_is_up)).await;

    let keypair = strata::Keypair::generate_ed25519();
    let host = strata::builder(&keypair).listen("/ip4/10.99.0.1/tcp/0".parse().unwrap()).build().await.unwrap();
    // strata on veth0's side only, as a host on its own link is: rust-libp2p
    // takes an announcement's IP from the packet's source.
    let only_veth0 = Interfaces::Only(vec!["10.99.0.1".parse().unwrap()]);
    let strata_mdns = Mdns::attach(&host, Config::default().with_interfaces(only_veth0).with_auto_dial(true)).unwrap();
    let mut strata_events = strata_mdns.events();

    let rust_key = libp2p_identity::Keypair::generate_ed25519();
    let rust_peer = rust_key.public().to_peer_id();
    let mut swarm = rust_peer::swarm(rust_key, |key| {
        mdns::tokio::Behaviour::new(mdns::Config::default(), key.public().to_peer_id()).unwrap()
    });
    swarm.listen_on("/ip4/10.99.0.2/tcp/0".parse().unwrap()).unwrap();
    let (found, mut rust_found) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            if let SwarmEvent::Behaviour(mdns::Event::Discovered(list)) = swarm.select_next_some().await {
                for (peer, addr) in list {
                    let _ = found.send((peer, addr));
                }
            }
        }
    });

    let strata_saw = tokio::time::timeout(LIMIT, async {
        loop {
            if let Ok(Event::Discovered { peer, addrs }) = strata_events.recv().await
                && peer == ours(rust_peer)
            {
                return addrs;
            }
        }
    })
    .await
    .expect("strata discovers the rust node");
    assert!(strata_saw.iter().any(|addr| addr.to_string().starts_with("/ip4/10.99.0.2/tcp/")), "{strata_saw:?}");

    let rust_saw = tokio::time::timeout(LIMIT, async {
        loop {
            let (peer, addr) = rust_found.recv().await.unwrap();
            if peer == theirs(host.peer_id()) {
                return addr;
            }
        }
    })
    .await
    .expect("the rust node discovers strata");
    assert!(rust_saw.to_string().starts_with("/ip4/10.99.0.1/tcp/"), "{rust_saw}");
    // strata dials what it discovers: the rust node, at the address it announced.
    eventually("strata dials the discovered rust node", async || host.is_connected(ours(rust_peer))).await;
    println!("strata saw {strata_saw:?}; rust-libp2p saw {rust_saw}; connected");
}
