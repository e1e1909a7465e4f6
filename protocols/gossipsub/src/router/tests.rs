#![allow(clippy::unwrap_used, clippy::panic, clippy::needless_pass_by_value)]

use std::time::{Duration, Instant};

use strata_core::{Keypair, PeerId};
use strata_pubsub::{Action, Event, PeerConnection, Router as _, Rpc, SignaturePolicy, message};

use super::GossipRouter;
use crate::{
    Config, MeshParams,
    control::{ControlGraft, ControlIDontWant, ControlIHave, ControlIWant, ControlMessage},
};

/// A connection from loopback that the peer dialed.
pub(super) fn inbound() -> PeerConnection {
    PeerConnection { remote_addr: "/ip4/127.0.0.1/tcp/4001".parse().unwrap(), outbound: false }
}

pub(super) fn router() -> GossipRouter {
    GossipRouter::new(Config::default().with_seed(7))
}

/// `n` peers, connected, speaking meshsub 1.2, subscribed to `topic`.
pub(super) fn peers(router: &mut GossipRouter, n: usize, topic: &str, now: Instant) -> Vec<PeerId> {
    let mut peers: Vec<PeerId> = (0..n).map(|_| PeerId::random()).collect();
    peers.sort();
    for peer in &peers {
        router.peer_connected(*peer, &inbound(), now);
        router.peer_protocol(*peer, "/meshsub/1.2.0");
        let (_, violation) = router.receive(*peer, &Rpc::subscriptions([(topic, true)]).encode(), now);
        assert!(violation.is_none());
    }
    peers
}

/// Every RPC sent, decoded, with its control part.
pub(super) fn sent(actions: &[Action]) -> Vec<(PeerId, Rpc, ControlMessage)> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Send { peer, rpc } => {
                let rpc = Rpc::decode(rpc).unwrap();
                let control = rpc.control.as_deref().map(|c| ControlMessage::decode(c).unwrap()).unwrap_or_default();
                Some((*peer, rpc, control))
            }
            _ => None,
        })
        .collect()
}

pub(super) fn control_rpc(control: ControlMessage) -> Vec<u8> {
    Rpc { control: Some(control.encode()), ..Rpc::default() }.encode()
}

pub(super) fn signed(author: &Keypair, seqno: u64, topic: &str, data: &[u8]) -> Vec<u8> {
    message::publish(SignaturePolicy::StrictSign, &author.public(), |m| author.sign(m), seqno, topic, data).0
}

pub(super) fn grafted_peers(actions: &[Action]) -> Vec<PeerId> {
    sent(actions).into_iter().filter(|(_, _, control)| !control.graft.is_empty()).map(|(peer, _, _)| peer).collect()
}

#[test]
fn joining_grafts_d_of_the_subscribed_peers() {
    let now = Instant::now();
    let mut router = router();
    let all = peers(&mut router, 10, "t", now);
    let actions = router.set_local("t", true, now);
    let grafted = grafted_peers(&actions);
    assert_eq!(grafted.len(), 6, "D = 6");
    assert_eq!(router.mesh_peers("t"), grafted);
    let announced = sent(&actions).iter().filter(|(_, rpc, _)| !rpc.subscriptions.is_empty()).count();
    assert_eq!(announced, all.len(), "every peer hears of the subscription");
    assert_eq!(actions.iter().filter(|a| matches!(a, Action::Report(Event::Grafted { .. }))).count(), 6);
}

#[test]
fn a_graft_is_accepted_when_subscribed_and_refused_otherwise() {
    let now = Instant::now();
    let mut router = router();
    let peer = peers(&mut router, 1, "t", now)[0];
    let graft =
        control_rpc(ControlMessage { graft: vec![ControlGraft { topic_id: Some("t".into()) }], ..Default::default() });
    let (actions, _) = router.receive(peer, &graft, now);
    let refusal = sent(&actions);
    assert_eq!(refusal.len(), 1, "not subscribed: PRUNE");
    assert_eq!(refusal[0].2.prune[0].topic_id.as_deref(), Some("t"));
    assert_eq!(refusal[0].2.prune[0].backoff, Some(60));

    let mut router = GossipRouter::new(Config::default().with_seed(7).with_mesh(MeshParams {
        d: 2,
        d_lo: 1,
        d_hi: 3,
        d_lazy: 2,
        d_score: 1,
        d_out: 0,
    }));
    let [peer] = peers(&mut router, 1, "t", now)[..] else { panic!() };
    router.set_local("t", true, now);
    assert_eq!(router.mesh_peers("t"), [peer], "joined with the only peer");
    let later = peers(&mut router, 3, "t", now);
    for (i, other) in later.iter().enumerate() {
        let (actions, _) = router.receive(*other, &graft, now);
        if i < 2 {
            assert!(actions.iter().any(|a| matches!(a, Action::Report(Event::Grafted { .. }))), "room in the mesh");
        } else {
            assert_eq!(sent(&actions)[0].2.prune.len(), 1, "D_hi reached: PRUNE");
        }
    }
    assert_eq!(router.mesh_peers("t").len(), 3);
}

#[test]
fn prunes_for_topics_we_are_not_in_leave_no_backoff() {
    // Backoffs outlive a disconnect: a peer naming topics at will must not
    // be able to fill the map with them.
    let now = Instant::now();
    let mut router = router();
    let peer = peers(&mut router, 1, "t", now)[0];
    let prunes = (0..100)
        .map(|n| crate::control::ControlPrune {
            topic_id: Some(format!("other-{n}")),
            peers: vec![],
            backoff: Some(3600),
        })
        .collect();
    router.receive(peer, &control_rpc(ControlMessage { prune: prunes, ..Default::default() }), now);
    assert!(!router.overlay.backs_off(peer), "no backoff for a topic we never joined");
}

#[test]
fn a_pruned_peer_backs_off_and_its_early_graft_is_refused() {
    let now = Instant::now();
    let mut router = router();
    let all = peers(&mut router, 3, "t", now);
    router.set_local("t", true, now);
    let peer = all[0];
    let prune = control_rpc(ControlMessage {
        prune: vec![crate::control::ControlPrune { topic_id: Some("t".into()), peers: vec![], backoff: Some(30) }],
        ..Default::default()
    });
    let (actions, _) = router.receive(peer, &prune, now);
    assert!(actions.contains(&Action::Report(Event::Pruned { peer, topic: "t".into() })));
    assert!(!router.mesh_peers("t").contains(&peer));
    let graft =
        control_rpc(ControlMessage { graft: vec![ControlGraft { topic_id: Some("t".into()) }], ..Default::default() });
    let (actions, _) = router.receive(peer, &graft, now + Duration::from_secs(10));
    assert_eq!(sent(&actions)[0].2.prune.len(), 1, "still backing off");
    // The heartbeat does not graft it back either, until the backoff ends.
    let actions = router.heartbeat(now + Duration::from_secs(10));
    assert!(!grafted_peers(&actions).contains(&peer));
    // The early GRAFT extended its backoff by 60 s from then (spec v1.1).
    let actions = router.heartbeat(now + Duration::from_secs(31));
    assert!(!grafted_peers(&actions).contains(&peer), "extended by its early GRAFT");
    let actions = router.heartbeat(now + Duration::from_secs(71));
    assert!(grafted_peers(&actions).contains(&peer), "D_lo = 4 > 2: grafted back once allowed");
}

#[test]
fn a_message_goes_to_the_mesh_and_floodsub_peers_once_and_is_delivered() {
    let now = Instant::now();
    let mut router = router();
    let all = peers(&mut router, 10, "t", now);
    let flood = PeerId::random();
    router.peer_connected(flood, &inbound(), now);
    router.peer_protocol(flood, "/floodsub/1.0.0");
    router.receive(flood, &Rpc::subscriptions([("t", true)]).encode(), now);
    router.set_local("t", true, now);
    let mesh = router.mesh_peers("t");
    assert!(!mesh.contains(&flood), "floodsub peers are never in a mesh");
    let author = Keypair::ed25519_from_secret([5; 32]);
    let raw = signed(&author, 1, "t", b"hi");
    let from = mesh[0];
    let (actions, violation) = router.receive(from, &Rpc::messages(vec![raw.clone()]).encode(), now);
    assert!(violation.is_none());
    let mut targets: Vec<PeerId> = sent(&actions)
        .into_iter()
        .map(|(peer, rpc, _)| {
            assert_eq!(rpc.publish, std::slice::from_ref(&raw));
            peer
        })
        .collect();
    targets.sort();
    let mut expected: Vec<PeerId> = mesh.iter().copied().filter(|p| *p != from).chain([flood]).collect();
    expected.sort();
    assert_eq!(
        targets,
        expected,
        "mesh minus the sender, plus floodsub peers; not the {} others",
        all.len() - mesh.len()
    );
    assert!(actions.iter().any(|a| matches!(a, Action::Deliver(m) if m.data == b"hi")));
    let (again, _) = router.receive(mesh[1], &Rpc::messages(vec![raw]).encode(), now);
    assert!(again.is_empty(), "a duplicate does nothing");
}

#[test]
fn gossip_goes_to_peers_outside_the_mesh_and_iwant_fetches_the_message() {
    let now = Instant::now();
    let mut router = router();
    let all = peers(&mut router, 20, "t", now);
    router.set_local("t", true, now);
    let mesh = router.mesh_peers("t");
    let author = Keypair::ed25519_from_secret([6; 32]);
    let raw = signed(&author, 1, "t", b"gossip me");
    router.receive(mesh[0], &Rpc::messages(vec![raw.clone()]).encode(), now);
    let actions = router.heartbeat(now + Duration::from_secs(1));
    let ihaves: Vec<(PeerId, ControlMessage)> =
        sent(&actions).into_iter().filter(|(_, _, c)| !c.ihave.is_empty()).map(|(p, _, c)| (p, c)).collect();
    assert_eq!(ihaves.len(), 6, "D_lazy = 6 (a quarter of 14 is less)");
    for (peer, control) in &ihaves {
        assert!(!mesh.contains(peer) && all.contains(peer));
        assert_eq!(control.ihave[0].message_ids.len(), 1);
    }
    let (asker, control) = &ihaves[0];
    let iwant = control_rpc(ControlMessage {
        iwant: vec![ControlIWant { message_ids: control.ihave[0].message_ids.clone() }],
        ..Default::default()
    });
    for round in 0..4 {
        let (actions, _) = router.receive(*asker, &iwant, now);
        let answered = sent(&actions).iter().any(|(_, rpc, _)| rpc.publish == [raw.clone()]);
        assert_eq!(answered, round < 3, "answered three times at most (round {round})");
    }
}

#[test]
fn an_ihave_of_something_new_is_answered_with_iwant_within_bounds() {
    let now = Instant::now();
    let mut router = router();
    let peer = peers(&mut router, 1, "t", now)[0];
    router.set_local("t", true, now);
    let ihave = |ids: Vec<Vec<u8>>| {
        control_rpc(ControlMessage {
            ihave: vec![ControlIHave { topic_id: Some("t".into()), message_ids: ids }],
            ..Default::default()
        })
    };
    let (actions, _) = router.receive(peer, &ihave(vec![vec![1], vec![2]]), now);
    let wanted: Vec<Vec<u8>> =
        sent(&actions).into_iter().flat_map(|(_, _, c)| c.iwant).flat_map(|w| w.message_ids).collect();
    assert_eq!(wanted, [vec![1], vec![2]]);
    for _ in 0..9 {
        router.receive(peer, &ihave(vec![vec![3]]), now);
    }
    let (actions, _) = router.receive(peer, &ihave(vec![vec![4]]), now);
    assert!(sent(&actions).is_empty(), "the eleventh IHAVE in a heartbeat is ignored");
    router.heartbeat(now);
    let (actions, _) = router.receive(peer, &ihave(vec![vec![4]]), now);
    assert_eq!(sent(&actions).len(), 1, "counters start again each heartbeat");
}

#[test]
fn large_messages_send_idontwant_and_a_peer_that_sent_one_is_skipped() {
    let now = Instant::now();
    let mut router = router();
    peers(&mut router, 6, "t", now);
    router.set_local("t", true, now);
    let mesh = router.mesh_peers("t");
    let author = Keypair::ed25519_from_secret([8; 32]);
    let raw = signed(&author, 1, "t", &[0x55; 2000]);
    let id = crate::MessageIdFn::default().id(&message::receive(SignaturePolicy::StrictSign, 1 << 20, &raw).unwrap());
    let dont = control_rpc(ControlMessage {
        idontwant: vec![ControlIDontWant { message_ids: vec![id.as_bytes().to_vec()] }],
        ..Default::default()
    });
    router.receive(mesh[1], &dont, now);
    let (actions, _) = router.receive(mesh[0], &Rpc::messages(vec![raw]).encode(), now);
    let rpcs = sent(&actions);
    let told: Vec<PeerId> = rpcs.iter().filter(|(_, _, c)| !c.idontwant.is_empty()).map(|(p, _, _)| *p).collect();
    assert_eq!(told.len(), 5, "every mesh peer but the sender");
    let forwarded: Vec<PeerId> =
        rpcs.iter().filter(|(_, rpc, _)| !rpc.publish.is_empty()).map(|(p, _, _)| *p).collect();
    assert_eq!(forwarded.len(), 4, "nor the one that said IDONTWANT");
    assert!(!forwarded.contains(&mesh[1]));
}

#[test]
fn the_heartbeat_prunes_an_oversized_mesh_to_d_and_drops_leavers() {
    let now = Instant::now();
    let mut router = router();
    let all = peers(&mut router, 15, "t", now);
    router.set_local("t", true, now);
    let graft =
        control_rpc(ControlMessage { graft: vec![ControlGraft { topic_id: Some("t".into()) }], ..Default::default() });
    for peer in &all {
        router.receive(*peer, &graft, now);
    }
    assert_eq!(router.mesh_peers("t").len(), 12, "grafts accepted up to D_hi");
    router.receive(all[0], &graft, now);
    let leaver = router.mesh_peers("t")[0];
    router.receive(leaver, &Rpc::subscriptions([("t", false)]).encode(), now);
    assert_eq!(router.mesh_peers("t").len(), 11);
    let actions = router.heartbeat(now);
    assert!(sent(&actions).iter().all(|(_, _, c)| c.prune.is_empty()), "11 <= D_hi: kept");
    // A lower D_hi (as after a reconfiguration) makes the mesh oversized.
    router.config.mesh.d_hi = 8;
    let actions = router.heartbeat(now);
    let pruned = sent(&actions).iter().filter(|(_, _, c)| !c.prune.is_empty()).count();
    assert_eq!(pruned, 5, "11 down to D = 6");
    assert_eq!(router.mesh_peers("t").len(), 6);
}

#[test]
fn publishing_without_subscribing_uses_a_fanout_that_expires() {
    let now = Instant::now();
    let mut router = GossipRouter::new(Config::default().with_seed(1).with_flood_publish(false));
    peers(&mut router, 10, "t", now);
    let me = Keypair::ed25519_from_secret([9; 32]);
    let raw = signed(&me, 1, "t", b"x");
    let message = message::receive(SignaturePolicy::StrictSign, 1 << 20, &raw).unwrap();
    let actions = router.publish(raw, &message, me.peer_id(), now);
    assert_eq!(sent(&actions).len(), 6, "to a fanout of D");
    assert_eq!(router.overlay.fanout("t").map(std::collections::BTreeSet::len), Some(6));
    router.heartbeat(now + Duration::from_secs(61));
    assert!(router.overlay.fanout("t").is_none(), "forgotten after the fanout TTL");
}

#[test]
fn a_peer_that_leaves_is_forgotten() {
    let now = Instant::now();
    let mut router = router();
    let all = peers(&mut router, 3, "t", now);
    router.set_local("t", true, now);
    for peer in &all {
        router.peer_disconnected(*peer, now);
    }
    assert!(router.mesh_peers("t").is_empty());
    assert_eq!(router.peer_count(), 0);
}

#[test]
fn arbitrary_rpcs_never_panic() {
    let now = Instant::now();
    let mut router = router();
    let peer = peers(&mut router, 1, "t", now)[0];
    router.set_local("t", true, now);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for len in 0..3000 {
        let mut bytes: Vec<u8> = (0..len % 300)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        if len % 2 == 0 {
            // As a control field, so the control decoder sees garbage too.
            bytes = Rpc { control: Some(bytes), ..Rpc::default() }.encode();
        }
        let _ = router.receive(peer, &bytes, now);
    }
    router.heartbeat(now);
}

mod attacks;

#[test]
fn a_disconnect_leaves_no_per_peer_state_behind() {
    let now = Instant::now();
    let mut router = GossipRouter::new(Config::default().with_seed(7).with_flood_publish(false));
    let all = peers(&mut router, 5, "t", now);
    let target = all[0];
    for peer in &all {
        assert!(router.receive(*peer, &Rpc::subscriptions([("f", true)]).encode(), now).1.is_none());
    }
    router.set_local("t", true, now);
    let local = Keypair::ed25519_from_secret([8; 32]);
    router.publish(
        signed(&local, 1, "f", b"fanout"),
        &message::receive(SignaturePolicy::StrictSign, 1 << 20, &signed(&local, 1, "f", b"fanout")).unwrap(),
        local.peer_id(),
        now,
    );
    let author = Keypair::ed25519_from_secret([9; 32]);
    router.receive(target, &Rpc::messages(vec![signed(&author, 1, "t", b"hello")]).encode(), now);
    let ihave = ControlIHave { topic_id: Some("t".into()), message_ids: vec![b"unseen".to_vec()] };
    let idontwant = ControlIDontWant { message_ids: vec![b"unwanted".to_vec()] };
    let control = ControlMessage { ihave: vec![ihave], idontwant: vec![idontwant], ..Default::default() };
    let (actions, _) = router.receive(target, &control_rpc(control), now);
    assert!(sent(&actions).iter().any(|(_, _, control)| !control.iwant.is_empty()), "an IWANT: a promise owed");
    assert!(router.mesh_peers("t").contains(&target));
    assert!(router.overlay.mentions(target) && router.promises.mentions(target) && router.scores.mentions(target));
    assert!(router.peers.get(target).is_some_and(|record| record.data.last_message.is_some()));

    router.peer_disconnected(target, now);

    assert!(!router.peers.contains(target), "its record");
    assert!(!router.overlay.mentions(target), "its mesh and fanout places");
    assert!(!router.overlay.backs_off(target), "no backoff: it was not pruned");
    assert!(!router.promises.mentions(target), "its promises");
    assert!(!router.scores.mentions(target), "its score (not negative, so not kept)");
    assert_eq!(router.peer_count(), all.len() - 1);
    for peer in &all[1..] {
        router.peer_disconnected(*peer, now);
    }
    assert_eq!(router.peer_count(), 0);
}
