//! The attacks the v1.1 spec's scoring and spam protections answer,
//! played against the router with bytes and a fake clock.

use std::time::{Duration, Instant};

use strata_core::{Keypair, PeerId};
use strata_pubsub::{Action, PeerConnection, Router as _, Rpc, SignaturePolicy, Validator, Verdict, message};

use super::{control_rpc, grafted_peers, peers, router, sent, signed};
use crate::{
    Config, GossipRouter,
    control::{ControlGraft, ControlIHave, ControlIWant, ControlMessage},
};

/// A message claiming `author` but signed by someone else.
fn forged(author: &Keypair, seqno: u64, topic: &str) -> Vec<u8> {
    let forger = Keypair::generate_ed25519();
    message::publish(SignaturePolicy::StrictSign, &author.public(), |m| forger.sign(m), seqno, topic, b"bad").0
}

fn delivered(actions: &[Action]) -> usize {
    actions.iter().filter(|a| matches!(a, Action::Deliver(_))).count()
}

#[test]
fn a_peer_flooding_invalid_messages_is_graylisted_and_pruned() {
    let now = Instant::now();
    let mut router = router();
    peers(&mut router, 6, "t", now);
    router.set_local("t", true, now);
    let attacker = router.mesh_peers("t")[0];
    let author = Keypair::generate_ed25519();
    for seqno in 0..3 {
        let (actions, violation) =
            router.receive(attacker, &Rpc::messages(vec![forged(&author, seqno, "t")]).encode(), now);
        assert!(violation.is_none() && delivered(&actions) == 0 && sent(&actions).is_empty(), "dropped, not forwarded");
    }
    assert!(router.score(attacker, now) < router.scores.thresholds().graylist, "{}", router.score(attacker, now));

    // Graylisted: even a valid message of its is ignored now.
    let valid = signed(&author, 99, "t", b"fine");
    let (actions, _) = router.receive(attacker, &Rpc::messages(vec![valid.clone()]).encode(), now);
    assert!(actions.is_empty(), "RPCs of a graylisted peer are ignored");
    // The heartbeat prunes it (no peer exchange for it) and does not graft it back.
    let actions = router.heartbeat(now + Duration::from_secs(1));
    let prunes: Vec<_> = sent(&actions).into_iter().filter(|(_, _, c)| !c.prune.is_empty()).collect();
    assert_eq!(prunes.len(), 1);
    assert_eq!(prunes[0].0, attacker);
    assert!(prunes[0].2.prune[0].peers.is_empty(), "no peer exchange for a penalised peer");
    assert!(!router.mesh_peers("t").contains(&attacker));
    assert!(!grafted_peers(&router.heartbeat(now + Duration::from_secs(200))).contains(&attacker));
    // The honest peers still get the message through.
    let honest = router.mesh_peers("t")[0];
    let (actions, _) = router.receive(honest, &Rpc::messages(vec![valid]).encode(), now);
    assert_eq!(delivered(&actions), 1);
}

#[test]
fn messages_the_validator_rejects_count_against_every_sender() {
    let now = Instant::now();
    let config = Config::default().with_seed(3).with_validator(Validator::sync(|_, _| Verdict::Reject));
    let mut router = GossipRouter::new(config);
    let all = peers(&mut router, 3, "t", now);
    router.set_local("t", true, now);
    let author = Keypair::generate_ed25519();
    for seqno in 0..3 {
        let raw = signed(&author, seqno, "t", b"spam");
        let (actions, _) = router.receive(all[0], &Rpc::messages(vec![raw.clone()]).encode(), now);
        let [Action::Validate { id, .. }] = &actions[..] else { panic!("asked the validator: {actions:?}") };
        let id = id.clone();
        let (copy, _) = router.receive(all[1], &Rpc::messages(vec![raw]).encode(), now);
        assert!(copy.is_empty(), "a copy while validating is only counted");
        let after = router.validated(&id, Verdict::Reject, now);
        assert!(after.is_empty(), "a rejected message is neither forwarded nor delivered");
    }
    assert!(router.score(all[0], now) < router.scores.thresholds().graylist);
    assert!(router.score(all[1], now) < router.scores.thresholds().graylist, "the copier too");
    assert!(router.score(all[2], now) >= 0.0, "the peer that sent nothing is untouched");

    // Ignore costs nobody anything; Accept forwards and delivers.
    let raw = signed(&author, 10, "t", b"meh");
    let (actions, _) = router.receive(all[2], &Rpc::messages(vec![raw]).encode(), now);
    let [Action::Validate { id, .. }] = &actions[..] else { panic!() };
    assert!(router.validated(&id.clone(), Verdict::Ignore, now).is_empty());
    assert!(router.score(all[2], now) >= 0.0);
    let raw = signed(&author, 11, "t", b"good");
    let (actions, _) = router.receive(all[2], &Rpc::messages(vec![raw]).encode(), now);
    let [Action::Validate { id, .. }] = &actions[..] else { panic!() };
    let accepted = router.validated(&id.clone(), Verdict::Accept, now);
    assert_eq!(delivered(&accepted), 1);
    assert!(router.score(all[2], now) > 0.0, "a first delivery earns P2");
}

#[test]
fn ihave_spam_is_bounded_and_broken_promises_end_the_spammers_gossip() {
    let now = Instant::now();
    let mut router = router();
    let spammer = peers(&mut router, 1, "t", now)[0];
    router.set_local("t", true, now);
    let mut next_id = 0u32;
    let mut ihave_spam = || {
        let ihave = (0..20)
            .map(|_| ControlIHave {
                topic_id: Some("t".into()),
                message_ids: (0..500)
                    .map(|_| {
                        next_id += 1;
                        next_id.to_be_bytes().to_vec()
                    })
                    .collect(),
            })
            .collect();
        control_rpc(ControlMessage { ihave, ..Default::default() })
    };
    let mut beat = now;
    let mut asked_per_heartbeat = Vec::new();
    for _ in 0..12 {
        let mut asked = 0;
        for _ in 0..5 {
            let (actions, _) = router.receive(spammer, &ihave_spam(), beat);
            asked += sent(&actions).iter().flat_map(|(_, _, c)| &c.iwant).map(|w| w.message_ids.len()).sum::<usize>();
        }
        asked_per_heartbeat.push(asked);
        beat += Duration::from_secs(4); // past the 3 s IWANT follow-up
        router.heartbeat(beat);
    }
    assert_eq!(asked_per_heartbeat[0], 5000, "50,000 ids advertised, max_ihave_length asked");
    assert!(asked_per_heartbeat.iter().all(|asked| *asked <= 5000));
    assert!(
        router.score(spammer, beat) < router.scores.thresholds().gossip,
        "each unanswered IWANT broke a promise (P7)"
    );
    assert_eq!(asked_per_heartbeat.last(), Some(&0), "its gossip is ignored now: {asked_per_heartbeat:?}");
}

#[test]
fn iwant_spam_gets_each_message_a_bounded_number_of_times() {
    let now = Instant::now();
    let mut router = router();
    let all = peers(&mut router, 2, "t", now);
    router.set_local("t", true, now);
    let author = Keypair::generate_ed25519();
    let raw = signed(&author, 1, "t", b"x");
    router.receive(all[0], &Rpc::messages(vec![raw.clone()]).encode(), now);
    let id = crate::MessageIdFn::default().id(&message::receive(SignaturePolicy::StrictSign, 1 << 20, &raw).unwrap());
    let iwant = control_rpc(ControlMessage {
        iwant: vec![ControlIWant { message_ids: vec![id.as_bytes().to_vec(); 10_000] }],
        ..Default::default()
    });
    let mut served = 0;
    for _ in 0..10 {
        let (actions, _) = router.receive(all[1], &iwant, now);
        served += sent(&actions).iter().filter(|(_, rpc, _)| !rpc.publish.is_empty()).count();
    }
    assert_eq!(served, 3, "100,000 asks, gossip_retransmission = 3 answers");
}

#[test]
fn a_sybil_set_on_one_ip_is_penalised_and_kept_out_of_the_mesh() {
    let now = Instant::now();
    let mut router = router();
    let connect = |router: &mut GossipRouter, ip: &str| {
        let peer = PeerId::random();
        let remote_addr = format!("/ip4/{ip}/tcp/4001").parse().unwrap();
        router.peer_connected(peer, &PeerConnection { remote_addr, outbound: false }, now);
        router.peer_protocol(peer, "/meshsub/1.2.0");
        router.receive(peer, &Rpc::subscriptions([("t", true)]).encode(), now);
        peer
    };
    let honest: Vec<PeerId> = (1..=4).map(|n| connect(&mut router, &format!("198.51.100.{n}"))).collect();
    let sybils: Vec<PeerId> = (0..10).map(|_| connect(&mut router, "203.0.113.7")).collect();
    for sybil in &sybils {
        assert!(router.score(*sybil, now) < router.scores.thresholds().graylist, "(10 − 3)² × −10 = −490");
    }
    assert!(honest.iter().all(|peer| router.score(*peer, now) == 0.0));
    router.set_local("t", true, now);
    let mut mesh = router.mesh_peers("t");
    mesh.sort();
    let mut expected = honest.clone();
    expected.sort();
    assert_eq!(mesh, expected, "only the honest peers are grafted");
    let graft =
        control_rpc(ControlMessage { graft: vec![ControlGraft { topic_id: Some("t".into()) }], ..Default::default() });
    let (actions, _) = router.receive(sybils[0], &graft, now);
    assert!(actions.is_empty(), "a graylisted sybil's GRAFT is ignored");
    assert_eq!(router.mesh_peers("t").len(), 4);
}

#[test]
fn a_peer_with_another_message_id_rule_keeps_its_promises_by_answering() {
    // rust-libp2p names messages by text ids, applications by content
    // hashes: the ids an honest peer advertises may never match ours.
    let now = Instant::now();
    let mut router = router();
    let all = peers(&mut router, 2, "t", now);
    router.set_local("t", true, now);
    let (honest, first) = (all[0], all[1]);
    let author = Keypair::generate_ed25519();
    let mut beat = now;
    for seqno in 0..12 {
        let raw = signed(&author, seqno, "t", b"same message, other name");
        router.receive(first, &Rpc::messages(vec![raw.clone()]).encode(), beat);
        let their_id = format!("{}{seqno}", author.peer_id()).into_bytes();
        let ihave = control_rpc(ControlMessage {
            ihave: vec![ControlIHave { topic_id: Some("t".into()), message_ids: vec![their_id] }],
            ..Default::default()
        });
        let (actions, _) = router.receive(honest, &ihave, beat);
        assert!(sent(&actions).iter().any(|(_, _, c)| !c.iwant.is_empty()), "an unknown id is asked for");
        // It answers with the message, which we know under our own id.
        let (actions, _) = router.receive(honest, &Rpc::messages(vec![raw]).encode(), beat);
        assert_eq!(delivered(&actions), 0, "a copy");
        beat += Duration::from_secs(4);
        router.heartbeat(beat);
    }
    assert!(router.score(honest, beat) >= 0.0, "no broken promise: {}", router.score(honest, beat));
}
