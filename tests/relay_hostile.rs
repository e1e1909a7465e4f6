//! Hostile peers against the circuit relay v2 server (hop), over real
//! hosts on TCP loopback: floods of reservations and circuits meet
//! exactly the configured limits, with the refusals the spec names, and
//! cost the peers already served nothing; the byte and time caps end both
//! halves of a circuit; a target that never reads back-pressures its
//! writer instead of filling the relay, while other circuits flow; garbage
//! on the hop and stop protocols costs only its own stream.
//!
//! TCP rather than the memory transport: the per-IP rules need the
//! address a peer connects from. Peers that must count as machines apart
//! dial from an address of their own on loopback (127.0.x.y, see
//! `support/relay_peers.rs`); the other hosts come from 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use common::{accept_and_echo, connect, hop_stream, reserve};
use futures::{StreamExt as _, future::join_all};
use relay_peers::*;
use strata::{
    Host, Stream,
    relay::{Config, HopMessage, Relay, STOP_PROTOCOL, Status, StopMessage, codec},
};
use strata_testkit::{eventually, host, within};
use tokio::io::AsyncWriteExt;

#[path = "../protocols/relay/tests/common/mod.rs"]
mod common;
#[path = "support/relay_peers.rs"]
mod relay_peers;

// ---------------------------------------------------------------------
// Reservation floods
// ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_flood_gets_exactly_128_and_the_holders_keep_theirs() {
    bounded(Duration::from_mins(2), async {
        let relay_host = host().await;
        let relay = Relay::attach(&relay_host, Config::default()).unwrap();
        // The holder reserves first and serves circuits.
        let holder = peer_from(loopback(2)).await;
        accept_and_echo(&holder);
        assert_eq!(reserve(&holder, &relay_host).await, Status::Ok);

        // 139 more identities, each from an IP of its own (so that only
        // the global limit applies), 16 at a time.
        let flood: Vec<(Host, Status)> = futures::stream::iter(3..142)
            .map(|n| {
                let relay_host = relay_host.clone();
                async move {
                    let peer = peer_from(loopback(n)).await;
                    let status = reserve(&peer, &relay_host).await;
                    (peer, status)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let count = |wanted| flood.iter().filter(|(_, status)| *status == wanted).count();
        assert_eq!((count(Status::Ok), count(Status::ReservationRefused)), (127, 12));
        // No peer left in this test, so the count only grew: 128 now is
        // the most it ever was.
        assert_eq!(relay.reservation_count(), 128);

        // The refused ones insist: still refused, still 128.
        for (peer, _) in flood.iter().filter(|(_, status)| *status == Status::ReservationRefused) {
            assert_eq!(reserve(peer, &relay_host).await, Status::ReservationRefused);
        }
        assert_eq!(relay.reservation_count(), 128);

        // The holder renews at the cap, and still receives circuits.
        assert_eq!(reserve(&holder, &relay_host).await, Status::Ok);
        let initiator = host().await;
        let (mut circuit, status) = connect(&initiator, &relay_host, holder.peer_id()).await;
        assert_eq!(status, Status::Ok);
        echoes(&mut circuit, 4096).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ninth_reservation_from_one_ip_is_refused_until_one_of_the_eight_leaves() {
    bounded(Duration::from_mins(1), async {
        let relay_host = host().await;
        let relay = Relay::attach(&relay_host, Config::default()).unwrap();
        let crowded = loopback(20);
        let mut eight = Vec::new();
        for _ in 0..8 {
            let peer = peer_from(crowded).await;
            assert_eq!(reserve(&peer, &relay_host).await, Status::Ok);
            eight.push(peer);
        }
        accept_and_echo(&eight[0]);
        let ninth = peer_from(crowded).await;
        assert_eq!(reserve(&ninth, &relay_host).await, Status::ReservationRefused);
        assert_eq!(reserve(&ninth, &relay_host).await, Status::ReservationRefused);
        assert_eq!(relay.reservation_count(), 8);
        // Another IP is not affected.
        let elsewhere = peer_from(loopback(21)).await;
        assert_eq!(reserve(&elsewhere, &relay_host).await, Status::Ok);
        assert_eq!(relay.reservation_count(), 9);

        // A holder from the crowded IP still receives circuits.
        let initiator = host().await;
        let (mut circuit, status) = connect(&initiator, &relay_host, eight[0].peer_id()).await;
        assert_eq!(status, Status::Ok);
        echoes(&mut circuit, 4096).await;

        // One of the eight leaves: its slot goes to the ninth.
        eight.pop().unwrap().shutdown().await;
        eventually("the leaver's reservation is gone", async || relay.reservation_count() == 8).await;
        assert_eq!(reserve(&ninth, &relay_host).await, Status::Ok);
    })
    .await;
}

// ---------------------------------------------------------------------
// Circuit floods
// ---------------------------------------------------------------------

/// Opens `n` circuits from `initiator` to `target`; each must be granted.
async fn circuits(initiator: &Host, relay_host: &Host, target: &Host, n: usize) -> Vec<Stream> {
    let mut opened = Vec::new();
    for _ in 0..n {
        let (circuit, status) = connect(initiator, relay_host, target.peer_id()).await;
        assert_eq!(status, Status::Ok);
        opened.push(circuit);
    }
    opened
}

/// A relay, two echoing targets holding reservations, three initiators.
struct Crowd {
    relay_host: Host,
    relay: Relay,
    t1: Host,
    t2: Host,
    i1: Host,
    i2: Host,
    i3: Host,
}

impl Crowd {
    async fn new(config: Config) -> Self {
        let relay_host = host().await;
        let relay = Relay::attach(&relay_host, config).unwrap();
        let (t1, t2) = (host().await, host().await);
        for target in [&t1, &t2] {
            accept_and_echo(target);
            assert_eq!(reserve(target, &relay_host).await, Status::Ok);
        }
        let (i1, i2, i3) = (host().await, host().await, host().await);
        Self { relay_host, relay, t1, t2, i1, i2, i3 }
    }
}

/// Closes `circuit` as a well-behaved peer does (a half-close, the echo
/// target's answering one) and waits for its end.
async fn close(mut circuit: Stream) {
    circuit.shutdown().await.unwrap();
    let (rest, ended) = drain(&mut circuit).await;
    assert_eq!(rest, 0);
    ended.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_17th_circuit_is_refused_while_the_16_flow_and_a_closed_one_frees_a_slot() {
    bounded(Duration::from_secs(90), async {
        let Crowd { relay_host, relay, t1, t2, i1, i2, i3 } = Crowd::new(Config::default()).await;
        // Two initiators, two targets, 8 circuits each: the per-peer limit
        // (16) stays out of the way; the relay's (16) is reached.
        let mut open = circuits(&i1, &relay_host, &t1, 8).await;
        open.extend(circuits(&i2, &relay_host, &t2, 8).await);
        assert_eq!(relay.circuit_count(), 16);

        // The 17th, and a burst of 8 behind it, at once (on one
        // connection: dials at once to one peer are not merged).
        within(i3.dial(strata_testkit::address_of(&relay_host))).await.unwrap();
        let burst = join_all((0..9).map(|k| {
            let target = if k % 2 == 0 { &t1 } else { &t2 };
            connect(&i3, &relay_host, target.peer_id())
        }))
        .await;
        for (_, status) in &burst {
            assert_eq!(*status, Status::ResourceLimitExceeded);
        }
        assert_eq!(relay.circuit_count(), 16);

        // The 16 still carry bytes, every one of them.
        for circuit in &mut open {
            echoes(circuit, 16 * 1024).await;
        }

        // Closing one frees one slot, and one only.
        close(open.pop().unwrap()).await;
        eventually("the closed circuit is released", async || relay.circuit_count() == 15).await;
        let (mut again, status) = connect(&i3, &relay_host, t1.peer_id()).await;
        assert_eq!(status, Status::Ok);
        echoes(&mut again, 1024).await;
        assert_eq!(connect(&i3, &relay_host, t2.peer_id()).await.1, Status::ResourceLimitExceeded);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuits_per_peer_are_capped_for_initiators_and_targets_alike() {
    bounded(Duration::from_mins(1), async {
        let Crowd { relay_host, relay, t1, t2, i1, i2, i3 } =
            Crowd::new(Config::default().with_max_circuits_per_peer(4)).await;

        let mut from_i1 = circuits(&i1, &relay_host, &t1, 4).await;
        // I1 is busy, whatever the target; so is T1, whoever the initiator.
        assert_eq!(connect(&i1, &relay_host, t2.peer_id()).await.1, Status::ResourceLimitExceeded);
        assert_eq!(connect(&i2, &relay_host, t1.peer_id()).await.1, Status::ResourceLimitExceeded);
        // The others are not.
        let mut from_i2 = circuits(&i2, &relay_host, &t2, 4).await;
        assert_eq!(relay.circuit_count(), 8);
        for circuit in from_i1.iter_mut().chain(&mut from_i2) {
            echoes(circuit, 4096).await;
        }

        // One of I1's ends: T1 has a slot again (I2 is still full).
        close(from_i1.pop().unwrap()).await;
        eventually("the closed circuit is released", async || relay.circuit_count() == 7).await;
        assert_eq!(connect(&i2, &relay_host, t1.peer_id()).await.1, Status::ResourceLimitExceeded);
        let (mut circuit, status) = connect(&i3, &relay_host, t1.peer_id()).await;
        assert_eq!(status, Status::Ok);
        echoes(&mut circuit, 1024).await;
    })
    .await;
}

// ---------------------------------------------------------------------
// The byte and time caps
// ---------------------------------------------------------------------

/// A relay, a target (holding a reservation) that hands its half of each
/// circuit to the test, and an initiator.
struct Circuits {
    relay_host: Host,
    relay: Relay,
    target: Host,
    halves: tokio::sync::mpsc::UnboundedReceiver<(strata::PeerId, Stream)>,
    initiator: Host,
}

impl Circuits {
    async fn new(config: Config) -> Self {
        let relay_host = host().await;
        let relay = Relay::attach(&relay_host, config).unwrap();
        let target = host().await;
        let halves = hand_over(&target);
        assert_eq!(reserve(&target, &relay_host).await, Status::Ok);
        Self { relay_host, relay, target, halves, initiator: host().await }
    }

    /// A new circuit: (initiator's half, target's half).
    async fn open(&mut self) -> (Stream, Stream) {
        let (initiator_half, status) = connect(&self.initiator, &self.relay_host, self.target.peer_id()).await;
        assert_eq!(status, Status::Ok);
        let (from, target_half) = within(self.halves.recv()).await.unwrap();
        assert_eq!(from, self.initiator.peer_id());
        (initiator_half, target_half)
    }

    /// A new circuit the initiator half-closed at once (a request sent in
    /// full): the target saw the clean end of it.
    async fn open_half_closed(&mut self) -> (Stream, Stream) {
        let (mut initiator, mut target) = self.open().await;
        initiator.shutdown().await.unwrap();
        let (got, ended) = drain(&mut target).await;
        assert_eq!(got, 0);
        ended.unwrap(); // the half-close came through as such
        (initiator, target)
    }

    async fn released(&self) {
        eventually("the relay released the circuit", async || self.relay.circuit_count() == 0).await;
    }
}

/// Reads both halves of a circuit to their end, at once: each must end
/// with a reset (the spec's word, not a clean end that a reader could take
/// for a complete transfer). Returns what came to (initiator, target).
async fn both_reset(initiator: &mut Stream, target: &mut Stream) -> (usize, usize) {
    let ((to_initiator, initiator_end), (to_target, target_end)) = tokio::join!(drain(initiator), drain(target));
    assert!(initiator_end.is_err() && target_end.is_err(), "ends: {initiator_end:?}, {target_end:?}");
    (to_initiator, to_target)
}

const CAP: usize = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_byte_cap_ends_both_halves_whichever_way_it_is_passed() {
    bounded(Duration::from_mins(1), async {
        let mut relayed = Circuits::new(Config::default().with_circuit_bytes(CAP as u64)).await;

        // Initiator to target: exactly the cap arrives, then both halves
        // are reset.
        let (mut initiator, mut target) = relayed.open().await;
        initiator.write_all(&vec![1; CAP + 1]).await.unwrap();
        assert_eq!(both_reset(&mut initiator, &mut target).await, (0, CAP));
        relayed.released().await;

        // Target to initiator, the same.
        let (mut initiator, mut target) = relayed.open().await;
        target.write_all(&vec![2; CAP + 1]).await.unwrap();
        assert_eq!(both_reset(&mut initiator, &mut target).await, (CAP, 0));
        relayed.released().await;
    })
    .await;
}

/// The initiator half-closed first (a request sent in full), then the
/// target's answer passes the cap: the target must learn that the circuit
/// ended (its stream reset, as the spec asks), not write into it until its
/// window is spent and then wait forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_byte_cap_resets_a_target_still_writing_to_a_half_closed_circuit() {
    bounded(Duration::from_mins(1), async {
        let mut relayed = Circuits::new(Config::default().with_circuit_bytes(CAP as u64)).await;
        let (mut initiator, mut target) = relayed.open_half_closed().await;
        let answer = within(target.write_all(&vec![3; 1 << 20])).await;
        assert!(answer.is_err(), "the target wrote 1 MiB into a circuit capped at {CAP} bytes");
        let (got, ended) = drain(&mut initiator).await;
        assert_eq!(got, CAP);
        assert!(ended.is_err(), "the initiator saw a clean end");
        relayed.released().await;
    })
    .await;
}

/// A relay whose circuits last `TIME_CAP` and may carry 1 GiB.
async fn time_capped() -> Circuits {
    Circuits::new(Config::default().with_circuit_duration(TIME_CAP).with_circuit_bytes(1 << 30)).await
}

const TIME_CAP: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_cap_ends_both_halves_of_an_idle_circuit() {
    bounded(Duration::from_mins(1), async {
        let (mut relayed, duration) = (time_capped().await, TIME_CAP);

        // An idle circuit: both halves see it end once its time is up (the
        // relay's clock starts after our request, so not before).
        let asked = Instant::now();
        let (mut initiator, mut target) = relayed.open().await;
        assert_eq!(both_reset(&mut initiator, &mut target).await, (0, 0));
        assert!(asked.elapsed() >= duration, "ended after {:?}", asked.elapsed());
        relayed.released().await;
    })
    .await;
}

/// A busy circuit, half-closed by the initiator: the target streams its
/// answer until the time is up, and its writes must then fail (its stream
/// reset, as the spec asks), not stall forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_cap_resets_a_target_still_writing_to_a_half_closed_circuit() {
    bounded(Duration::from_mins(1), async {
        let (mut relayed, duration) = (time_capped().await, TIME_CAP);
        let asked = Instant::now();
        let (mut initiator, target) = relayed.open_half_closed().await;
        let (written, writer) = counting_writer(target, usize::MAX);
        let (got, ended) = drain(&mut initiator).await;
        assert!(ended.is_err(), "the initiator saw a clean end");
        assert!(asked.elapsed() >= duration, "ended after {:?}", asked.elapsed());
        assert!(within(writer).await.unwrap().is_err(), "the target's writes outlived the circuit");
        assert!(got > 0 && got <= written.load(Ordering::Relaxed), "{got} bytes came through");
        relayed.released().await;
    })
    .await;
}

// ---------------------------------------------------------------------
// A target that never reads
// ---------------------------------------------------------------------

/// The most a writer can get into a circuit whose target reads nothing:
/// its yamux stream to the relay (a receive window, 256 KiB, which the
/// relay only grows for a reader that keeps up), the splice's buffer
/// (16 KiB), the relay's stream to the target (the target's window, 256
/// KiB, never grown since it never reads), with room to spare for a window
/// grown once. A relay that buffered without bound lets it write its 64 MiB.
const STALLED_BOUND: usize = 4 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_never_reads_stalls_its_writer_while_another_circuit_flows() {
    bounded(Duration::from_secs(90), async {
        let mut relayed = Circuits::new(Config::default().with_circuit_bytes(1 << 30)).await;
        let (initiator, stalled_target) = relayed.open().await; // never read
        let (written, mut writer) = counting_writer(initiator, 64 << 20);

        // Another circuit through the same relay flows meanwhile.
        let other_target = host().await;
        accept_and_echo(&other_target);
        assert_eq!(reserve(&other_target, &relayed.relay_host).await, Status::Ok);
        let other_initiator = host().await;
        let (mut other, status) = connect(&other_initiator, &relayed.relay_host, other_target.peer_id()).await;
        assert_eq!(status, Status::Ok);
        echoes(&mut other, 1 << 20).await;

        // The writer fills the windows, then waits: it does not finish, and
        // once stalled it makes no progress at all.
        let finished = tokio::time::timeout(Duration::from_secs(3), &mut writer).await;
        assert!(finished.is_err(), "the writer finished 64 MiB to a target that reads nothing ({finished:?})");
        let stalled_at = written.load(Ordering::Relaxed);
        assert!(stalled_at <= STALLED_BOUND, "{stalled_at} bytes went into a circuit nobody reads");
        assert!(tokio::time::timeout(Duration::from_secs(1), &mut writer).await.is_err());
        assert_eq!(written.load(Ordering::Relaxed), stalled_at, "the stalled writer made progress");
        echoes(&mut other, 1 << 20).await; // and the other circuit still flows
        assert_eq!(relayed.relay.circuit_count(), 2);

        // The target lets go: the writer learns at once, and the relay
        // forgets that circuit only.
        drop(stalled_target);
        assert!(within(&mut writer).await.unwrap().is_err(), "the writer kept writing into a dead circuit");
        eventually("the dead circuit is released", async || relayed.relay.circuit_count() == 1).await;
        echoes(&mut other, 4096).await;
    })
    .await;
}

// ---------------------------------------------------------------------
// Garbage on the hop and stop protocols
// ---------------------------------------------------------------------

/// How many panics the process saw, the relay's tasks included (each is
/// still printed): a relay that panics on garbage fails the test, even
/// where a closed stream is the right answer. (A failing test elsewhere in
/// this file counts too, and fails anyway.)
fn panics() -> &'static AtomicUsize {
    static COUNT: OnceLock<AtomicUsize> = OnceLock::new();
    COUNT.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            COUNT.get().map(|count| count.fetch_add(1, Ordering::SeqCst));
            previous(info);
        }));
        AtomicUsize::new(0)
    })
}

/// `payload` behind its length prefix.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut framed = Vec::new();
    strata::core::framing::encode_length_prefixed(payload, &mut framed);
    framed
}

/// What became of a hop stream after a peer sent `bytes` on it (and
/// half-closed it, if `then_close`).
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Status(Status),
    /// Ended (EOF or reset) without an answer.
    Closed,
}

/// A relay, a target holding a reservation and a circuit to it from a
/// well-behaved initiator: what garbage from others must not disturb.
struct Bystanders {
    relay_host: Host,
    relay: Relay,
    circuit: Stream,
    _peers: (Host, Host),
}

impl Bystanders {
    async fn new(config: Config) -> Self {
        let relay_host = host().await;
        let relay = Relay::attach(&relay_host, config).unwrap();
        let target = host().await;
        accept_and_echo(&target);
        assert_eq!(reserve(&target, &relay_host).await, Status::Ok);
        let initiator = host().await;
        let (circuit, status) = connect(&initiator, &relay_host, target.peer_id()).await;
        assert_eq!(status, Status::Ok);
        Self { relay_host, relay, circuit, _peers: (target, initiator) }
    }

    /// The reservation and the circuit are as they were, and it flows.
    async fn undisturbed(&mut self, after: &str) {
        assert_eq!(self.relay.reservation_count(), 1, "after {after}");
        echoes(&mut self.circuit, 4096).await;
        eventually(after, async || self.relay.circuit_count() == 1).await;
    }
}

async fn answer_to(attacker: &Host, relay_host: &Host, bytes: &[u8], then_close: bool) -> Answer {
    let mut stream = hop_stream(attacker, relay_host).await;
    drop(stream.write_all(bytes).await); // the relay may have reset it already
    if then_close {
        drop(stream.shutdown().await);
    }
    // Well within the relay's handshake timeout: what happens comes of the
    // bytes, not of the time.
    let answer = tokio::time::timeout(Duration::from_secs(5), codec::read_hop(&mut stream))
        .await
        .expect("neither an answer nor a close within 5 s");
    match answer {
        Ok(HopMessage::Status { status, .. }) => {
            // The relay closes the stream after answering.
            let (rest, _) = drain(&mut stream).await;
            assert_eq!(rest, 0);
            Answer::Status(status)
        }
        Ok(other) => panic!("the relay answered {other:?}"),
        Err(_) => Answer::Closed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_hop_protocol_costs_only_its_own_stream() {
    let panics = panics();
    bounded(Duration::from_secs(90), async {
        let mut bystanders = Bystanders::new(Config::default().with_handshake_timeout(Duration::from_secs(20))).await;
        let relay_host = bystanders.relay_host.clone();
        let attacker = host().await;
        let stranger = strata::PeerId::random();
        let connect_to =
            |peer| frame(&HopMessage::Connect { peer: strata::relay::Peer { id: peer, addrs: vec![] } }.encode());
        let status = HopMessage::Status { status: Status::Ok, reservation: None, limit: None };
        let cases = [
            ("a 1 MiB length prefix", vec![0x80, 0x80, 0x40], false, Answer::Closed),
            ("an 11-byte varint prefix", vec![0xff; 11], false, Answer::Closed),
            ("a frame cut short", [&[50][..], &[0x08; 10]].concat(), true, Answer::Closed),
            ("a truncated protobuf", frame(&[0x12, 0x05, 0x0a]), false, Answer::Status(Status::MalformedMessage)),
            ("an empty message", frame(&[]), false, Answer::Status(Status::MalformedMessage)),
            ("an unknown type", frame(&[0x08, 0x07]), false, Answer::Status(Status::MalformedMessage)),
            (
                "a CONNECT to a garbage peer id",
                frame(&[0x08, 0x01, 0x12, 0x04, 0x0a, 0x02, 0xff, 0xff]),
                false,
                Answer::Status(Status::MalformedMessage),
            ),
            ("a STATUS", frame(&status.encode()), false, Answer::Status(Status::UnexpectedMessage)),
            ("a CONNECT to a stranger", connect_to(stranger), false, Answer::Status(Status::NoReservation)),
            ("a CONNECT to the relay", connect_to(relay_host.peer_id()), false, Answer::Status(Status::NoReservation)),
            ("a CONNECT to itself", connect_to(attacker.peer_id()), false, Answer::Status(Status::NoReservation)),
        ];
        for (what, bytes, then_close, expected) in cases {
            assert_eq!(answer_to(&attacker, &relay_host, &bytes, then_close).await, expected, "{what}");
            assert!(attacker.is_connected(relay_host.peer_id()), "the relay dropped the connection for {what}");
            bystanders.undisturbed(what).await;
        }

        // A burst of CONNECTs to a peer without reservation takes no slot.
        let request = connect_to(stranger);
        // (One connection: `answer_to` dialed it already.)
        let burst = join_all((0..32).map(|_| answer_to(&attacker, &relay_host, &request, false))).await;
        assert!(burst.iter().all(|answer| *answer == Answer::Status(Status::NoReservation)), "{burst:?}");
        bystanders.undisturbed("a burst of CONNECTs").await;

        // The relay serves no stop protocol: proposing it is refused, the
        // connection stays.
        assert!(within(attacker.open_stream(relay_host.peer_id(), &[STOP_PROTOCOL])).await.is_err());
        assert!(attacker.is_connected(relay_host.peer_id()));
        // And the attacker, behaving at last, is served.
        assert_eq!(reserve(&attacker, &relay_host).await, Status::Ok);
    })
    .await;
    assert_eq!(panics.load(Ordering::SeqCst), 0, "something panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_hop_streams_are_closed_after_the_handshake_timeout() {
    bounded(Duration::from_mins(1), async {
        let timeout = Duration::from_millis(500);
        let mut bystanders = Bystanders::new(Config::default().with_handshake_timeout(timeout)).await;
        let relay_host = bystanders.relay_host.clone();
        let attacker = host().await;
        let opened = Instant::now();
        let mut silent = Vec::new();
        for _ in 0..32 {
            silent.push(hop_stream(&attacker, &relay_host).await);
        }
        // The bystanders' circuit flows while the silent streams wait.
        echoes(&mut bystanders.circuit, 64 * 1024).await;
        for stream in &mut silent {
            assert_eq!(drain(stream).await.0, 0);
        }
        assert!(opened.elapsed() >= timeout, "closed after {:?}", opened.elapsed());
        assert!(attacker.is_connected(relay_host.peer_id()));
        bystanders.undisturbed("silent hop streams").await;
        assert_eq!(reserve(&attacker, &relay_host).await, Status::Ok);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_a_target_on_the_stop_protocol_fails_only_that_circuit() {
    let panics = panics();
    bounded(Duration::from_mins(1), async {
        let timeout = Duration::from_secs(1);
        let mut bystanders = Bystanders::new(Config::default().with_handshake_timeout(timeout)).await;
        let relay_host = bystanders.relay_host.clone();
        let someone = strata::relay::Peer { id: strata::PeerId::random(), addrs: vec![] };
        let answers = [
            ("a 1 MiB length prefix", StopAnswer::Bytes(vec![0x80, 0x80, 0x40])),
            ("a truncated protobuf", StopAnswer::Bytes(frame(&[0x12, 0x05, 0x0a]))),
            (
                "a CONNECT for an answer",
                StopAnswer::Bytes(frame(&StopMessage::Connect { peer: someone, limit: None }.encode())),
            ),
            ("a refusal", StopAnswer::Bytes(frame(&StopMessage::Status(Status::ResourceLimitExceeded).encode()))),
            ("a hang-up", StopAnswer::HangUp),
            ("silence", StopAnswer::Silence),
        ];
        let initiator = host().await;
        for (what, answer) in answers {
            let target = host().await;
            misbehave_on_stop(&target, answer.clone());
            assert_eq!(reserve(&target, &relay_host).await, Status::Ok, "{what}");
            let asked = Instant::now();
            assert_eq!(connect(&initiator, &relay_host, target.peer_id()).await.1, Status::ConnectionFailed, "{what}");
            if matches!(answer, StopAnswer::Silence) {
                assert!(asked.elapsed() >= timeout, "gave up on a silent target after {:?}", asked.elapsed());
            }
            assert!(target.is_connected(relay_host.peer_id()), "the relay dropped the connection for {what}");
            target.shutdown().await;
            eventually("the target's reservation ends with its connection", async || {
                bystanders.relay.reservation_count() == 1
            })
            .await;
            bystanders.undisturbed(what).await;
        }
    })
    .await;
    assert_eq!(panics.load(Ordering::SeqCst), 0, "something panicked");
}
