#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use super::*;

fn addr(text: &str) -> Multiaddr {
    text.parse().unwrap()
}

fn ours() -> Vec<Multiaddr> {
    vec![addr("/ip4/203.0.113.1/tcp/4001")]
}

fn theirs() -> Vec<Multiaddr> {
    vec![addr("/ip4/198.51.100.2/tcp/4001")]
}

fn any(_: &Multiaddr) -> bool {
    true
}

fn actions(exchange: &mut Exchange) -> Vec<Action> {
    std::iter::from_fn(|| exchange.poll_action()).collect()
}

fn failure(actions: &[Action]) -> &Failure {
    match actions.last() {
        Some(Action::Done(Err(failure))) => failure,
        other => panic!("not a failure: {other:?}"),
    }
}

/// Drives an initiator through CONNECT and SYNC with a relayed RTT of `rtt`.
fn initiator_until_dial(config: &Config, t0: Instant, rtt: Duration) -> Exchange {
    let mut exchange = Exchange::initiator(ours(), config, t0);
    assert_eq!(actions(&mut exchange), [Action::OpenStream, Action::Send(HolePunch::connect(ours()))]);
    assert!(exchange.awaits_message());
    exchange.on_message(HolePunch::connect(theirs()), t0 + rtt, any);
    assert_eq!(actions(&mut exchange), [Action::Send(HolePunch::sync())]);
    // The dial waits RTT/2 after the answer.
    assert_eq!(exchange.deadline(), Some(t0 + rtt + rtt / 2));
    exchange.on_timeout(t0 + rtt + rtt / 4); // early: nothing
    assert_eq!(actions(&mut exchange), []);
    exchange.on_timeout(t0 + rtt + rtt / 2);
    assert_eq!(actions(&mut exchange), [Action::Dial { addrs: theirs(), role: Endpoint::Listener }]);
    exchange
}

#[test]
fn the_initiator_times_its_dial_at_half_the_rtt_and_succeeds() {
    let t0 = Instant::now();
    let config = Config::default();
    let mut exchange = initiator_until_dial(&config, t0, Duration::from_millis(200));
    exchange.on_dial_outcome(Some(addr("/ip4/198.51.100.2/tcp/4001")), t0 + Duration::from_millis(350));
    let done = actions(&mut exchange);
    let [Action::Done(Ok(success))] = done.as_slice() else { panic!("{done:?}") };
    assert_eq!(success.attempts, 1);
    assert_eq!(success.elapsed, Duration::from_millis(350));
    assert!(exchange.is_done());
}

#[test]
fn the_initiator_punches_quic_addresses_at_once_with_the_sync() {
    let t0 = Instant::now();
    let quic = vec![addr("/ip4/198.51.100.2/udp/4001/quic-v1")];
    let mut exchange = Exchange::initiator(vec![addr("/ip4/203.0.113.1/udp/4001/quic-v1")], &Config::default(), t0);
    actions(&mut exchange);
    let answered = t0 + Duration::from_millis(200);
    exchange.on_message(HolePunch::connect(quic.clone()), answered, any);
    assert_eq!(actions(&mut exchange), [Action::Send(HolePunch::sync())]);
    assert_eq!(exchange.deadline(), Some(answered), "no RTT/2 wait for QUIC punch packets");
    exchange.on_timeout(answered);
    assert_eq!(actions(&mut exchange), [Action::Dial { addrs: quic, role: Endpoint::Listener }]);
}

#[test]
fn the_initiator_tries_three_times_then_gives_up() {
    let t0 = Instant::now();
    let config = Config::default();
    let mut exchange = initiator_until_dial(&config, t0, Duration::from_millis(100));
    let mut now = t0 + Duration::from_millis(150);
    for attempt in 2..=3 {
        exchange.on_dial_outcome(None, now);
        // A whole new exchange on a new stream.
        assert_eq!(actions(&mut exchange), [Action::OpenStream, Action::Send(HolePunch::connect(ours()))]);
        assert_eq!(exchange.attempts(), attempt);
        exchange.on_message(HolePunch::connect(theirs()), now + Duration::from_millis(40), any);
        assert_eq!(actions(&mut exchange), [Action::Send(HolePunch::sync())]);
        // This attempt's RTT (40 ms), not the first one's.
        assert_eq!(exchange.deadline(), Some(now + Duration::from_millis(60)));
        now += Duration::from_millis(60);
        exchange.on_timeout(now);
        assert!(matches!(actions(&mut exchange).as_slice(), [Action::Dial { .. }]));
    }
    // The dials of the last attempt time out.
    let deadline = exchange.deadline().unwrap();
    assert_eq!(deadline, now + config.dial_timeout);
    exchange.on_timeout(deadline);
    let done = actions(&mut exchange);
    let failure = failure(&done);
    assert_eq!((failure.reason, failure.attempts), (Reason::DialsFailed, 3));
}

#[test]
fn the_responder_answers_and_dials_as_client_on_sync() {
    let t0 = Instant::now();
    let mut exchange = Exchange::responder(ours(), &Config::default(), t0);
    assert!(exchange.awaits_message());
    exchange.on_message(HolePunch::connect(theirs()), t0, any);
    assert_eq!(actions(&mut exchange), [Action::Send(HolePunch::connect(ours()))]);
    exchange.on_message(HolePunch::sync(), t0 + Duration::from_millis(100), any);
    // At once, no RTT/2 wait on this side.
    assert_eq!(actions(&mut exchange), [Action::Dial { addrs: theirs(), role: Endpoint::Dialer }]);
    exchange.on_dial_outcome(None, t0 + Duration::from_millis(200));
    let done = actions(&mut exchange);
    assert_eq!((failure(&done).reason, failure(&done).attempts), (Reason::DialsFailed, 1));
}

#[test]
fn no_local_addresses_ends_at_once_on_both_sides() {
    let now = Instant::now();
    let mut initiator = Exchange::initiator(Vec::new(), &Config::default(), now);
    let done = actions(&mut initiator);
    assert_eq!(done.len(), 1, "no stream is opened: {done:?}");
    assert_eq!((failure(&done).reason, failure(&done).attempts), (Reason::NoLocalAddresses, 0));
    let mut responder = Exchange::responder(Vec::new(), &Config::default(), now);
    assert_eq!(failure(&actions(&mut responder)).reason, Reason::NoLocalAddresses);
}

#[test]
fn remote_addresses_must_be_direct_and_dialable() {
    let now = Instant::now();
    let relayed =
        addr("/ip4/198.51.100.9/tcp/4001/p2p/12D3KooWGzzEu6J4KyCZBcWEtm4YMGGtJTWr3Cz6iKHq6Tj6JyMU/p2p-circuit");
    for (sent, can_dial, reason) in [
        (Vec::new(), true, Reason::NoRemoteAddresses),
        (vec![relayed], true, Reason::NoRemoteAddresses),
        (theirs(), false, Reason::NoCommonTransport),
        (vec![addr("/ip6/2001:db8::2/tcp/4001")], true, Reason::NoCommonTransport), // we have IPv4 only
    ] {
        let mut exchange = Exchange::initiator(ours(), &Config::default(), now);
        actions(&mut exchange);
        exchange.on_message(HolePunch::connect(sent.clone()), now, |_: &Multiaddr| can_dial);
        assert_eq!(failure(&actions(&mut exchange)).reason, reason, "{sent:?}");

        let mut exchange = Exchange::responder(ours(), &Config::default(), now);
        exchange.on_message(HolePunch::connect(sent.clone()), now, |_: &Multiaddr| can_dial);
        assert_eq!(failure(&actions(&mut exchange)).reason, reason, "{sent:?}");
    }
}

#[test]
fn wrong_types_are_protocol_errors() {
    let now = Instant::now();
    let mut initiator = Exchange::initiator(ours(), &Config::default(), now);
    actions(&mut initiator);
    initiator.on_message(HolePunch::sync(), now, any);
    assert_eq!(failure(&actions(&mut initiator)).reason, Reason::Protocol);

    let mut responder = Exchange::responder(ours(), &Config::default(), now);
    responder.on_message(HolePunch::sync(), now, any);
    assert_eq!(failure(&actions(&mut responder)).reason, Reason::Protocol);

    let mut responder = Exchange::responder(ours(), &Config::default(), now);
    responder.on_message(HolePunch::connect(theirs()), now, any);
    actions(&mut responder);
    responder.on_message(HolePunch::connect(theirs()), now, any);
    assert_eq!(failure(&actions(&mut responder)).reason, Reason::Protocol);
}

#[test]
fn a_silent_remote_times_out_and_stream_errors_are_not_retried() {
    let t0 = Instant::now();
    let config = Config::default();
    let mut exchange = Exchange::initiator(ours(), &config, t0);
    actions(&mut exchange);
    exchange.on_timeout(t0 + config.stream_timeout);
    let done = actions(&mut exchange);
    assert_eq!((failure(&done).reason, failure(&done).elapsed), (Reason::Timeout, config.stream_timeout));

    let mut exchange = Exchange::initiator(ours(), &config, t0);
    actions(&mut exchange);
    exchange.on_stream_error(Reason::Refused, t0);
    let done = actions(&mut exchange);
    assert_eq!((failure(&done).reason, failure(&done).attempts), (Reason::Refused, 1));
}

#[test]
fn the_relay_closing_ends_the_exchange_but_not_the_dials() {
    let t0 = Instant::now();
    let mut exchange = Exchange::responder(ours(), &Config::default(), t0);
    exchange.on_relay_closed(t0);
    assert_eq!(failure(&actions(&mut exchange)).reason, Reason::RelayClosed);

    let mut exchange = initiator_until_dial(&Config::default(), t0, Duration::from_millis(10));
    exchange.on_relay_closed(t0 + Duration::from_millis(20));
    exchange.on_stream_error(Reason::StreamClosed, t0 + Duration::from_millis(20));
    assert_eq!(actions(&mut exchange), []);
    exchange.on_dial_outcome(Some(theirs()[0].clone()), t0 + Duration::from_millis(30));
    assert!(matches!(actions(&mut exchange).as_slice(), [Action::Done(Ok(_))]));
}

#[test]
fn nothing_happens_after_done() {
    let now = Instant::now();
    let mut exchange = Exchange::initiator(Vec::new(), &Config::default(), now);
    actions(&mut exchange);
    exchange.on_message(HolePunch::connect(theirs()), now, any);
    exchange.on_timeout(now + Duration::from_mins(1));
    exchange.on_dial_outcome(None, now);
    exchange.on_relay_closed(now);
    assert_eq!(actions(&mut exchange), []);
    assert_eq!(exchange.deadline(), None);
}
