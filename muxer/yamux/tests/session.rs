//! The yamux session with frames alone: two sessions wired back to back
//! through their encoded bytes, and a remote that breaks the rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use strata_core::muxer::Session as _;
use strata_yamux::{
    Decoder, Event, Flags, Frame, GoAway, Header, INITIAL_WINDOW, ProtocolError, Role, Session, SessionConfig,
    StreamError,
};

/// Moves every frame `from` has to send into `to`, through the codec.
fn pump(from: &mut Session, to: &mut Session) -> Result<usize, ProtocolError> {
    let mut wire = BytesMut::new();
    let mut frames = 0;
    while let Some(frame) = from.next_frame() {
        frame.encode(&mut wire);
        frames += 1;
    }
    let decoder = Decoder::new(1 << 20);
    while let Some(frame) = decoder.decode(&mut wire).unwrap() {
        to.receive(frame, Instant::now())?;
    }
    Ok(frames)
}

fn events(session: &mut Session) -> Vec<Event<u32>> {
    std::iter::from_fn(|| session.next_event()).collect()
}

fn pair() -> (Session, Session) {
    (Session::new(Role::Client, SessionConfig::default()), Session::new(Role::Server, SessionConfig::default()))
}

#[test]
fn a_stream_opens_carries_data_both_ways_and_closes() {
    let (mut client, mut server) = pair();
    let id = client.open(Instant::now()).unwrap();
    assert_eq!(id, 1, "the client opens odd ids");
    assert_eq!(client.write(id, b"hello").unwrap(), 5);
    client.close_stream(id).unwrap();
    pump(&mut client, &mut server).unwrap();
    assert_eq!(events(&mut server), [Event::Inbound(1), Event::Readable(1), Event::RemoteClosed(1)]);
    server.accept(1);
    let mut buf = [0u8; 16];
    assert_eq!(server.read(1, &mut buf, Instant::now()).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    assert!(server.is_finished_reading(1));
    server.write(1, b"bye").unwrap();
    server.close_stream(1).unwrap();
    pump(&mut server, &mut client).unwrap();
    assert_eq!(events(&mut client), [Event::Readable(1), Event::RemoteClosed(1)]);
    assert_eq!(client.read(1, &mut buf, Instant::now()).unwrap(), 3);
    assert!(client.is_finished_reading(1));
    assert_eq!(client.stream_count(), 1, "closed both ways, but its handle is still held");
    client.drop_stream(1);
    assert_eq!(client.stream_count(), 0, "closed both ways and let go: forgotten");
    assert_eq!(client.next_frame(), None, "a closed stream let go sends nothing");
    assert_eq!(server.open(Instant::now()).unwrap(), 2, "the server opens even ids");
}

#[test]
fn the_first_frame_carries_syn_and_the_answer_ack() {
    let (mut client, mut server) = pair();
    let id = client.open(Instant::now()).unwrap();
    assert_eq!(client.next_frame().unwrap().header, Header::window_update(id, Flags::SYN, 0));
    server.receive(Frame::control(Header::window_update(id, Flags::SYN, 0)), Instant::now()).unwrap();
    server.accept(id);
    assert_eq!(server.next_frame().unwrap().header, Header::window_update(id, Flags::ACK, 0));
}

#[test]
fn the_send_window_is_256_kib_until_the_reader_consumes() {
    let (mut client, mut server) = pair();
    let id = client.open(Instant::now()).unwrap();
    let data = vec![1u8; 400 * 1024];
    let mut sent = 0;
    while sent < data.len() {
        let n = client.write(id, &data[sent..]).unwrap();
        if n == 0 {
            break;
        }
        sent += n;
    }
    assert_eq!(sent, INITIAL_WINDOW as usize, "the initial window, no more");
    pump(&mut client, &mut server).unwrap();
    server.accept(id);
    let mut buf = vec![0u8; 64 * 1024];
    // A slow reader (a second per read: the window does not grow).
    let later = Instant::now() + Duration::from_secs(1);
    // Reading less than half the window grants nothing yet.
    server.read(id, &mut buf, later).unwrap();
    pump(&mut server, &mut client).unwrap();
    assert_eq!(client.write(id, &data[sent..]).unwrap(), 0);
    // Past half, one window update for what was consumed.
    server.read(id, &mut buf, later + Duration::from_secs(1)).unwrap();
    pump(&mut server, &mut client).unwrap();
    assert!(events(&mut client).contains(&Event::Writable(id)));
    assert_eq!(client.write(id, &data[sent..]).unwrap(), 128 * 1024);
}

#[test]
fn a_remote_past_its_window_ends_the_session() {
    let (_, mut server) = pair();
    server.receive(Frame::control(Header::window_update(1, Flags::SYN, 0)), Instant::now()).unwrap();
    let over = Frame::data(Header::data(1, Flags::NONE, 0), Bytes::from(vec![0u8; INITIAL_WINDOW as usize + 1]));
    assert!(matches!(server.receive(over, Instant::now()), Err(ProtocolError::WindowExceeded { stream: 1, .. })));
    assert_eq!(server.next_frame().unwrap().header, Header::go_away(GoAway::ProtocolError));
}

#[test]
fn stream_ids_of_the_wrong_parity_or_reused_end_the_session() {
    let (mut client, mut server) = pair();
    // The client opening an even id, which is the server's.
    assert_eq!(
        server.receive(Frame::control(Header::window_update(2, Flags::SYN, 0)), Instant::now()),
        Err(ProtocolError::BadStreamId(2))
    );
    let mut server = Session::new(Role::Server, SessionConfig::default());
    server.receive(Frame::control(Header::window_update(1, Flags::SYN, 0)), Instant::now()).unwrap();
    assert_eq!(
        server.receive(Frame::control(Header::window_update(1, Flags::SYN, 0)), Instant::now()),
        Err(ProtocolError::BadStreamId(1))
    );
    assert_eq!(
        client.receive(Frame::control(Header::window_update(0, Flags::SYN, 0)), Instant::now()),
        Err(ProtocolError::BadStreamId(0))
    );
}

#[test]
fn a_window_update_that_overflows_ends_the_session() {
    let (mut client, _) = pair();
    let id = client.open(Instant::now()).unwrap();
    let update = Frame::control(Header::window_update(id, Flags::ACK, u32::MAX));
    assert_eq!(client.receive(update, Instant::now()), Err(ProtocolError::WindowOverflow(id)));
}

#[test]
fn resets_both_ways() {
    let (mut client, mut server) = pair();
    let id = client.open(Instant::now()).unwrap();
    client.write(id, b"x").unwrap();
    pump(&mut client, &mut server).unwrap();
    events(&mut server);
    server.reset(id);
    pump(&mut server, &mut client).unwrap();
    assert!(events(&mut client).contains(&Event::Reset(id)));
    assert_eq!(client.write(id, b"y"), Err(StreamError::Reset));
    let mut buf = [0u8; 4];
    assert_eq!(client.read(id, &mut buf, Instant::now()), Err(StreamError::Reset));
    server.drop_stream(id);
    client.drop_stream(id);
    assert_eq!((client.stream_count(), server.stream_count()), (0, 0), "reset and let go: forgotten");
    assert_eq!(client.next_frame(), None, "a reset stream let go sends nothing more");
}

#[test]
fn data_sent_before_a_reset_is_still_read_then_the_reset_reported() {
    let (mut client, mut server) = pair();
    let id = client.open(Instant::now()).unwrap();
    client.write(id, b"hi").unwrap();
    pump(&mut client, &mut server).unwrap();
    events(&mut server);
    server.accept(id);
    let mut buf = [0u8; 32];
    assert_eq!(server.read(id, &mut buf, Instant::now()).unwrap(), 2);
    pump(&mut server, &mut client).unwrap();
    // The last message and the reset arrive together, before any read.
    client.write(id, b"last words").unwrap();
    client.reset(id);
    pump(&mut client, &mut server).unwrap();
    assert_eq!(events(&mut server), [Event::Readable(id), Event::Reset(id)]);
    assert_eq!(server.read(id, &mut buf, Instant::now()).unwrap(), 10, "what came before the reset");
    assert_eq!(&buf[..10], b"last words");
    assert_eq!(server.read(id, &mut buf, Instant::now()), Err(StreamError::Reset), "then the reset");
    assert_eq!(server.next_frame(), None, "no window update for a reset stream");
    server.drop_stream(id);
    assert_eq!(server.stream_count(), 0);
}

#[test]
fn pings_are_answered_with_their_value() {
    let (mut client, mut server) = pair();
    client.ping(0xdead_beef);
    pump(&mut client, &mut server).unwrap();
    pump(&mut server, &mut client).unwrap();
    assert_eq!(client.last_pong(), Some(0xdead_beef));
    assert_eq!(events(&mut client), [], "a pong is no stream event");
}

#[test]
fn the_ack_backlog_and_the_stream_limit_hold() {
    let config = SessionConfig { max_streams: 8, max_ack_backlog: 3, ..SessionConfig::default() };
    let mut client = Session::new(Role::Client, config.clone());
    for _ in 0..3 {
        client.open(Instant::now()).unwrap();
    }
    assert_eq!(client.open(Instant::now()), Err(StreamError::AckBacklog), "three unacknowledged: wait");
    // The remote acknowledges one: room for one more.
    client.receive(Frame::control(Header::window_update(1, Flags::ACK, 0)), Instant::now()).unwrap();
    client.open(Instant::now()).unwrap();
    // A remote past our stream limit gets its new stream reset.
    let mut server = Session::new(Role::Server, config);
    for id in (1..=15).step_by(2) {
        server.receive(Frame::control(Header::window_update(id, Flags::SYN, 0)), Instant::now()).unwrap();
    }
    assert_eq!(server.stream_count(), 8);
    server.receive(Frame::control(Header::window_update(17, Flags::SYN, 0)), Instant::now()).unwrap();
    assert_eq!(server.stream_count(), 8);
    let refused: Vec<Header> = std::iter::from_fn(|| server.next_frame()).map(|f| f.header).collect();
    assert_eq!(refused, [Header::window_update(17, Flags::RST, 0)]);
}

#[test]
fn go_away_ends_the_session_both_sides() {
    let (mut client, mut server) = pair();
    client.go_away();
    pump(&mut client, &mut server).unwrap();
    assert_eq!(events(&mut server), [Event::GoAway]);
    assert_eq!(server.open(Instant::now()), Err(StreamError::SessionEnded));
    assert_eq!(client.open(Instant::now()), Err(StreamError::SessionEnded));
}

#[test]
fn arbitrary_frames_never_panic() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for role in [Role::Client, Role::Server] {
        let mut session = Session::new(role, SessionConfig { max_streams: 16, ..SessionConfig::default() });
        for _ in 0..20_000 {
            let r = next();
            let kind = [strata_yamux::Type::Data, strata_yamux::Type::WindowUpdate, strata_yamux::Type::Ping]
                [(r % 3) as usize];
            let header = Header {
                kind,
                flags: strata_yamux::Flags::NONE,
                stream: ((r >> 8) % 24) as u32,
                length: (r >> 32) as u32 % 70_000,
            };
            let flags_bits = ((r >> 16) % 16) as u8;
            let mut wire = BytesMut::new();
            let frame = if kind == strata_yamux::Type::Data {
                Frame::data(header, Bytes::from(vec![0u8; (header.length % 300) as usize]))
            } else {
                Frame::control(if kind == strata_yamux::Type::Ping { Header { stream: 0, ..header } } else { header })
            };
            frame.encode(&mut wire);
            wire[3] = flags_bits;
            if let Ok(Some(frame)) = Decoder::new(1 << 20).decode(&mut wire) {
                let _ = session.receive(frame, Instant::now());
            }
            let mut buf = [0u8; 128];
            let id = ((r >> 40) % 24) as u32;
            let _ = session.read(id, &mut buf, Instant::now());
            if r % 7 == 0 {
                session.drop_stream(id);
            }
            while session.next_frame().is_some() {}
            while session.next_event().is_some() {}
        }
    }
}

/// Writes `data` until the window stops it; returns how much went.
fn write_all_window(session: &mut Session, id: u32, data: &[u8]) -> usize {
    let mut sent = 0;
    while sent < data.len() {
        match session.write(id, &data[sent..]).unwrap() {
            0 => break,
            n => sent += n,
        }
    }
    sent
}

#[test]
fn dropping_an_unclosed_stream_resets_it_and_a_closed_one_waits_for_the_remote() {
    let (mut client, mut server) = pair();
    let id = client.open(Instant::now()).unwrap();
    client.drop_stream(id);
    let frames: Vec<Header> = std::iter::from_fn(|| client.next_frame()).map(|f| f.header).collect();
    assert_eq!(frames, [Header::window_update(id, Flags::SYN, 0), Header::window_update(id, Flags::RST, 0)]);
    assert_eq!(client.stream_count(), 0);

    let id = client.open(Instant::now()).unwrap();
    client.write(id, b"request").unwrap();
    client.close_stream(id).unwrap();
    client.drop_stream(id);
    pump(&mut client, &mut server).unwrap();
    assert_eq!(client.stream_count(), 1, "closed for writing: waits for the remote's FIN");
    server.accept(id);
    let mut buf = [0u8; 16];
    assert_eq!(server.read(id, &mut buf, Instant::now()).unwrap(), 7, "the request arrived whole, not reset");
    server.write(id, b"an answer nobody reads").unwrap();
    server.close_stream(id).unwrap();
    pump(&mut server, &mut client).unwrap();
    assert_eq!(client.buffered(), 0, "what arrives on a stream let go is dropped");
    assert_eq!(client.stream_count(), 0, "the remote's FIN finishes it");
}

#[test]
fn a_remote_that_writes_to_a_stream_closed_and_let_go_is_reset() {
    let (mut client, mut server) = pair();
    let id = client.open(Instant::now()).unwrap();
    client.write(id, b"request").unwrap();
    client.close_stream(id).unwrap();
    client.drop_stream(id);
    pump(&mut client, &mut server).unwrap();
    server.accept(id);
    events(&mut server);
    // Nobody will read the answer: its first bytes bring a reset.
    server.write(id, b"an answer nobody reads").unwrap();
    pump(&mut server, &mut client).unwrap();
    let frames: Vec<Header> = std::iter::from_fn(|| client.next_frame()).map(|f| f.header).collect();
    assert_eq!(frames, [Header::window_update(id, Flags::RST, 0)]);
    assert_eq!((client.buffered(), client.stream_count()), (0, 0));
    for frame in frames {
        server.receive(Frame { header: frame, payload: Bytes::new() }, Instant::now()).unwrap();
    }
    assert_eq!(events(&mut server), [Event::Reset(id)]);
    assert_eq!(server.write(id, b"more"), Err(StreamError::Reset));
}

#[test]
fn a_remote_whose_last_data_carries_its_fin_on_a_stream_let_go_is_not_reset() {
    let (mut client, mut server) = pair();
    let id = client.open(Instant::now()).unwrap();
    client.write(id, b"request").unwrap();
    client.close_stream(id).unwrap();
    client.drop_stream(id);
    pump(&mut client, &mut server).unwrap();
    // The answer and the remote's FIN in one frame: the remote has
    // finished, so the stream ends normally, without a reset.
    let answer = Bytes::from_static(b"an answer nobody reads");
    let header = Header::data(id, Flags::FIN, u32::try_from(answer.len()).unwrap());
    client.receive(Frame::data(header, answer), Instant::now()).unwrap();
    let frames: Vec<Header> = std::iter::from_fn(|| client.next_frame()).map(|f| f.header).collect();
    assert!(frames.iter().all(|frame| !frame.flags.contains(Flags::RST)), "{frames:?}");
    assert_eq!((client.buffered(), client.stream_count()), (0, 0), "dropped and forgotten");
}

#[test]
fn a_remote_out_of_credit_on_a_stream_closed_and_let_go_is_reset_at_once() {
    let (mut client, mut server) = pair();
    let id = client.open(Instant::now()).unwrap();
    client.write(id, b"request").unwrap();
    pump(&mut client, &mut server).unwrap();
    server.accept(id);
    // The server spends its whole window; the client reads none of it.
    assert_eq!(write_all_window(&mut server, id, &vec![7; INITIAL_WINDOW as usize + 1]), INITIAL_WINDOW as usize);
    pump(&mut server, &mut client).unwrap();
    client.close_stream(id).unwrap();
    client.drop_stream(id);
    // No window update will ever come: the server must not wait for one.
    let frames: Vec<Header> = std::iter::from_fn(|| client.next_frame()).map(|f| f.header).collect();
    assert_eq!(frames.last(), Some(&Header::window_update(id, Flags::RST, 0)), "{frames:?}");
    assert_eq!(client.stream_count(), 0);
}

/// One round of a bulk transfer at `now`: the client fills the window,
/// the server reads it all; returns the window the server granted back.
fn bulk_round(client: &mut Session, server: &mut Session, id: u32, now: Instant) -> u32 {
    let data = vec![7u8; 4 << 20];
    let mut buf = vec![0u8; 1 << 20];
    let sent = write_all_window(client, id, &data);
    pump(client, server).unwrap();
    let mut read = 0;
    while read < sent {
        read += server.read(id, &mut buf, now).unwrap();
    }
    let mut granted = 0;
    while let Some(frame) = server.next_frame() {
        if frame.header.kind == strata_yamux::Type::WindowUpdate {
            granted += frame.header.length;
        }
        client.receive(frame, now).unwrap();
    }
    granted
}

#[test]
fn the_window_doubles_while_updates_come_within_two_round_trips() {
    let max = 2 << 20;
    let config = SessionConfig { max_stream_window: max, ..SessionConfig::default() };
    let mut client = Session::new(Role::Client, config.clone());
    let mut server = Session::new(Role::Server, config);
    let start = Instant::now();
    // A round trip of 10 ms, on a fake clock.
    server.measure_rtt(7, start);
    client.receive(server.next_frame().unwrap(), start).unwrap();
    server.receive(client.next_frame().unwrap(), start + Duration::from_millis(10)).unwrap();
    assert_eq!(server.rtt(), Some(Duration::from_millis(10)));
    assert!(!server.probe_in_flight());

    let id = client.open(start).unwrap();
    pump(&mut client, &mut server).unwrap();
    server.accept(id);
    // A reader that keeps up (an update 1 ms after the last): the window
    // doubles each round, up to the maximum.
    let mut now = start;
    let mut grants = Vec::new();
    for _ in 0..8 {
        now += Duration::from_millis(1);
        grants.push(bulk_round(&mut client, &mut server, id, now));
    }
    assert_eq!(grants[0], 2 * INITIAL_WINDOW, "consumed 256 KiB and grew by as much: {grants:?}");
    assert!(grants.windows(2).all(|w| w[1] >= w[0]), "{grants:?}");
    assert_eq!(*grants.last().unwrap(), max, "capped at the maximum: {grants:?}");
    // A slow reader (100 ms between updates, ten round trips): no growth.
    now += Duration::from_millis(100);
    assert_eq!(bulk_round(&mut client, &mut server, id, now), max);
}

#[test]
fn window_growth_stops_at_the_connection_maximum() {
    let config = SessionConfig { max_connection_window: 3 * u64::from(INITIAL_WINDOW), ..SessionConfig::default() };
    let mut client = Session::new(Role::Client, config.clone());
    let mut server = Session::new(Role::Server, config);
    let start = Instant::now();
    server.measure_rtt(1, start);
    client.receive(server.next_frame().unwrap(), start).unwrap();
    server.receive(client.next_frame().unwrap(), start + Duration::from_millis(10)).unwrap();
    let a = client.open(start).unwrap();
    let b = client.open(start).unwrap();
    pump(&mut client, &mut server).unwrap();
    server.accept(a);
    server.accept(b);
    let now = start + Duration::from_millis(1);
    // Two streams of 256 KiB each leave room for 256 KiB of growth in all.
    assert_eq!(bulk_round(&mut client, &mut server, a, now), 2 * INITIAL_WINDOW);
    assert_eq!(bulk_round(&mut client, &mut server, b, now), INITIAL_WINDOW, "no room left to grow");
    assert_eq!(bulk_round(&mut client, &mut server, a, now), 2 * INITIAL_WINDOW, "a keeps what it had, no more");
}

// ----- deadlines, on a fake clock -----

type ConnectionError = strata_yamux::Error;

#[test]
fn keep_alive_pings_each_interval_and_an_unanswered_ping_ends_the_session() {
    let config = SessionConfig { keep_alive: Some(Duration::from_secs(1)), ..SessionConfig::default() };
    let (mut client, mut server) = (Session::new(Role::Client, config.clone()), Session::new(Role::Server, config));
    let start = Instant::now();
    client.start(start);
    assert!(client.probe_in_flight(), "the start measures the round trip");
    assert_eq!(client.poll_timeout(), Some(start + Duration::from_secs(1)));
    pump(&mut client, &mut server).unwrap();
    pump(&mut server, &mut client).unwrap();
    assert!(!client.probe_in_flight(), "answered");
    client.handle_timeout(start + Duration::from_millis(999)).unwrap();
    assert!(client.next_frame().is_none(), "nothing due before the interval");
    client.handle_timeout(start + Duration::from_secs(1)).unwrap();
    assert_eq!(client.next_frame().map(|frame| frame.header.kind), Some(strata_yamux::Type::Ping));
    assert_eq!(client.poll_timeout(), Some(start + Duration::from_secs(2)));
    // The remote never answers that one: the next interval ends the session.
    let result = client.handle_timeout(start + Duration::from_secs(2));
    assert!(matches!(result, Err(ConnectionError::KeepAliveTimeout(_))), "{result:?}");
}

/// `count` pings from the remote, encoded.
fn pings(count: u32) -> BytesMut {
    let mut wire = BytesMut::new();
    for value in 0..count {
        Frame::control(Header::ping(false, value)).encode(&mut wire);
    }
    wire
}

#[test]
fn a_remote_that_provokes_answers_and_reads_none_stalls_the_session() {
    let mut config = SessionConfig::default();
    config.connection.max_outbound_queue = 10 * 12; // ten pongs
    config.connection.stall_timeout = Duration::from_secs(5);
    let mut session = Session::new(Role::Server, config);
    let start = Instant::now();
    let mut wire = pings(10);
    while session.handle_input(&mut wire, start).unwrap() {}
    assert!(session.reading_paused(), "ten pongs owed: reading pauses");
    assert_eq!(session.poll_timeout(), Some(start + Duration::from_secs(5)));
    session.handle_timeout(start + Duration::from_secs(4)).unwrap();
    let result = session.handle_timeout(start + Duration::from_secs(5));
    assert!(matches!(result, Err(ConnectionError::Stalled(_))), "{result:?}");
}

#[test]
fn a_remote_that_reads_its_answers_in_time_does_not_stall() {
    let mut config = SessionConfig::default();
    config.connection.max_outbound_queue = 10 * 12;
    let mut session = Session::new(Role::Server, config);
    let start = Instant::now();
    let mut wire = pings(10);
    while session.handle_input(&mut wire, start).unwrap() {}
    assert!(session.poll_timeout().is_some());
    assert!(session.take_outbound(&mut BytesMut::new()), "the pongs are written");
    assert!(!session.reading_paused());
    assert_eq!(session.poll_timeout(), None, "the stall clock stopped");
    session.handle_timeout(start + Duration::from_hours(1)).unwrap();
}

#[test]
fn closing_sends_a_go_away_and_gives_up_at_the_close_timeout() {
    let mut config = SessionConfig { keep_alive: Some(Duration::from_secs(1)), ..SessionConfig::default() };
    config.connection.close_timeout = Duration::from_secs(3);
    let mut session = Session::new(Role::Client, config);
    let start = Instant::now();
    session.start(start);
    session.next_frame(); // the round-trip ping
    session.close(start + Duration::from_millis(500));
    assert_eq!(session.next_frame().map(|frame| frame.header), Some(Header::go_away(GoAway::Normal)));
    assert_eq!(session.poll_timeout(), Some(start + Duration::from_millis(3500)), "no keep-alive while closing");
    session.handle_timeout(start + Duration::from_secs(3)).unwrap();
    let result = session.handle_timeout(start + Duration::from_millis(3500));
    assert!(matches!(result, Err(ConnectionError::CloseTimeout(_))), "{result:?}");
}

#[test]
fn garbage_queues_a_protocol_error_go_away() {
    let mut session = Session::new(Role::Server, SessionConfig::default());
    let mut wire = BytesMut::from(&[1u8; 12][..]);
    let result = session.handle_input(&mut wire, Instant::now());
    assert!(matches!(result, Err(ProtocolError::Frame(_))), "{result:?}");
    assert_eq!(session.next_frame().map(|frame| frame.header), Some(Header::go_away(GoAway::ProtocolError)));
}
