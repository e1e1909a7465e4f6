//! The mplex session with bytes alone: frames written out as the spec
//! lays them out (`| uvarint id << 3 | flag | uvarint length | data |`),
//! fed in, and the bytes and events that come out checked.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use strata_core::{
    StreamState,
    muxer::{Event, Session as _, StreamError},
};

use super::Session;
use crate::{Config, Overflow, frame::StreamId};

/// One frame as the remote writes it (ids and lengths below 16 are one
/// varint byte each; longer data uses a two-byte length).
fn wire(id: u64, flag: u8, data: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    let header = u8::try_from(id << 3).unwrap() | flag;
    out.extend_from_slice(&[header]);
    let len = data.len();
    if len < 0x80 {
        out.extend_from_slice(&[u8::try_from(len).unwrap()]);
    } else {
        out.extend_from_slice(&[u8::try_from(len & 0x7f).unwrap() | 0x80, u8::try_from(len >> 7).unwrap()]);
    }
    out.extend_from_slice(data);
    out
}

fn theirs(num: u64) -> StreamId {
    StreamId { num, ours: false }
}

fn events(session: &mut Session) -> Vec<Event<StreamId>> {
    std::iter::from_fn(|| session.next_event()).collect()
}

fn sent(session: &mut Session) -> Vec<u8> {
    let mut buf = BytesMut::new();
    session.take_outbound(&mut buf);
    buf.to_vec()
}

fn state(session: &Session, id: StreamId) -> Option<StreamState> {
    session.streams.get(&id).map(|stream| stream.state)
}

#[test]
fn a_remote_stream_opens_carries_data_and_half_closes() {
    let mut session = Session::new(Config::default());
    // NewStream (flag 0) named "0", MessageInitiator (2), CloseInitiator (4).
    let mut input = wire(0, 0, b"0");
    input.extend_from_slice(&wire(0, 2, b"hello"));
    input.extend_from_slice(&wire(0, 4, b""));
    session.feed(&mut input).unwrap();
    let id = theirs(0);
    assert_eq!(events(&mut session), [Event::Inbound(id), Event::Readable(id), Event::Readable(id)]);
    assert_eq!(state(&session, id), Some(StreamState::RemoteClosed));
    let mut buf = [0u8; 16];
    assert_eq!(session.read(id, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert!(session.is_finished_reading(id));
    // Our answer and close go as MessageReceiver (1) and CloseReceiver (3).
    session.write(id, b"hi").unwrap();
    session.close_stream(id).unwrap();
    assert_eq!(sent(&mut session), [0x01, 2, b'h', b'i', 0x03, 0]);
    assert_eq!(state(&session, id), Some(StreamState::Closed));
    session.drop_stream(id);
    assert_eq!(session.stream_count(), 0, "closed both ways and let go: forgotten");
    assert!(sent(&mut session).is_empty(), "nothing more to say");
}

#[test]
fn our_streams_are_numbered_from_zero_and_named_by_number() {
    let mut session = Session::new(Config::default());
    let first = session.open(Instant::now()).unwrap();
    let second = session.open(Instant::now()).unwrap();
    assert_eq!((first.num, second.num), (0, 1));
    // NewStream frames: id 0 named "0", id 1 named "1".
    assert_eq!(sent(&mut session), [0x00, 1, b'0', 0x08, 1, b'1']);
    session.write(second, b"x").unwrap();
    assert_eq!(sent(&mut session), [0x0a, 1, b'x'], "MessageInitiator on stream 1");
}

#[test]
fn a_reset_ends_both_directions_and_frees_the_buffer() {
    let mut session = Session::new(Config::default());
    let mut input = wire(3, 0, b"3");
    input.extend_from_slice(&wire(3, 2, b"unread"));
    input.extend_from_slice(&wire(3, 6, b"")); // ResetInitiator
    session.feed(&mut input).unwrap();
    let id = theirs(3);
    assert_eq!(state(&session, id), Some(StreamState::Reset));
    assert_eq!(session.recv_total, 0, "the unread bytes are gone");
    assert_eq!(session.read(id, &mut [0u8; 8]), Err(StreamError::Reset));
    assert_eq!(session.write(id, b"x"), Err(StreamError::Reset));
    session.drop_stream(id);
    assert!(sent(&mut session).is_empty(), "no reset answers a reset");
    assert_eq!(session.stream_count(), 0);
}

#[test]
fn dropping_an_unclosed_stream_resets_it_and_a_closed_one_waits_for_the_remote() {
    let mut session = Session::new(Config::default());
    let a = session.open(Instant::now()).unwrap();
    let b = session.open(Instant::now()).unwrap();
    sent(&mut session);
    session.drop_stream(a);
    assert_eq!(sent(&mut session), [0x06, 0], "ResetInitiator on stream 0");
    assert_eq!(session.stream_count(), 1);
    session.close_stream(b).unwrap();
    session.drop_stream(b);
    assert_eq!(sent(&mut session), [0x0c, 0], "CloseInitiator on stream 1, no reset");
    assert_eq!(state(&session, b), Some(StreamState::LocalClosed), "waits for the remote's close");
    // The remote's close finishes it.
    session.feed(&mut wire(1, 3, b"")).unwrap(); // CloseReceiver
    assert!(sent(&mut session).is_empty());
    assert_eq!(session.stream_count(), 0);
}

#[test]
fn a_remote_that_writes_to_a_stream_closed_and_let_go_is_reset() {
    let mut session = Session::new(Config::default());
    let id = session.open(Instant::now()).unwrap();
    session.close_stream(id).unwrap();
    session.drop_stream(id);
    sent(&mut session);
    // Nobody will read what arrives: it is dropped, and the remote told.
    session.feed(&mut wire(0, 1, b"late")).unwrap(); // MessageReceiver: on our stream 0
    assert_eq!(sent(&mut session), [0x06, 0], "ResetInitiator on stream 0");
    assert_eq!(session.recv_total, 0);
    assert_eq!(session.stream_count(), 0);
    session.feed(&mut wire(0, 1, b"later")).unwrap();
    assert!(sent(&mut session).is_empty(), "one reset is enough");
}

#[test]
fn past_the_stream_limit_a_new_remote_stream_is_reset() {
    let mut session = Session::new(Config::default().with_max_streams(1));
    let mut input = wire(0, 0, b"0");
    input.extend_from_slice(&wire(1, 0, b"1"));
    session.feed(&mut input).unwrap();
    assert_eq!(session.stream_count(), 1);
    assert_eq!(sent(&mut session), [0x0d, 0], "ResetReceiver on their stream 1");
    assert!(session.open(Instant::now()).is_err(), "and we may not open one either");
}

#[test]
fn a_stream_opened_twice_is_a_protocol_error() {
    let mut session = Session::new(Config::default());
    let mut input = wire(0, 0, b"0");
    input.extend_from_slice(&wire(0, 0, b"0"));
    assert!(session.feed(&mut input).is_err());
}

#[test]
fn a_full_stream_is_reset_or_blocks_reading_by_policy() {
    let data = vec![7u8; 100];
    for (overflow, blocks) in [(Overflow::ResetStream, false), (Overflow::Block, true)] {
        let config = Config::default().with_max_buffer(150).with_overflow(overflow);
        let mut session = Session::new(config);
        let mut input = wire(0, 0, b"0");
        input.extend_from_slice(&wire(0, 2, &data));
        input.extend_from_slice(&wire(0, 2, &data));
        session.feed(&mut input).unwrap();
        assert_eq!(session.reading_blocked(), blocks, "{overflow:?}");
        if blocks {
            // The reader catches up: reading may go on.
            let mut buf = [0u8; 200];
            assert_eq!(session.read(theirs(0), &mut buf), Ok(200));
            assert!(!session.reading_blocked(), "the reader caught up");
        } else {
            assert_eq!(state(&session, theirs(0)), Some(StreamState::Reset));
            assert_eq!(sent(&mut session), [0x05, 0], "ResetReceiver for the slow stream");
        }
    }
}

// ----- deadlines, on a fake clock -----

type ConnectionError = crate::Error;

/// A session of `config` fed `opens` remote streams past a limit of one,
/// at `start`: it owes a reset for each.
fn owing(config: Config, opens: u64, start: Instant) -> Session {
    let mut session = Session::new(config.with_max_streams(1));
    let mut input = BytesMut::new();
    for id in 0..=opens {
        input.extend_from_slice(&wire(id, 0, b""));
    }
    while session.handle_input(&mut input, start).unwrap() {}
    session
}

#[test]
fn a_remote_that_provokes_resets_and_reads_none_stalls_the_session() {
    let config = Config::default().with_max_outbound_queue(4).with_stall_timeout(Duration::from_secs(5));
    let start = Instant::now();
    let mut session = owing(config, 2, start); // two resets of two bytes each
    assert!(session.reading_paused());
    assert_eq!(session.poll_timeout(), Some(start + Duration::from_secs(5)));
    session.handle_timeout(start + Duration::from_secs(4)).unwrap();
    let result = session.handle_timeout(start + Duration::from_secs(5));
    assert!(matches!(result, Err(ConnectionError::Stalled(_))), "{result:?}");
}

#[test]
fn resets_written_in_time_stop_the_stall_clock() {
    let config = Config::default().with_max_outbound_queue(4).with_stall_timeout(Duration::from_secs(5));
    let start = Instant::now();
    let mut session = owing(config, 2, start);
    let written = sent(&mut session);
    session.flushed(written.len() as u64);
    assert!(!session.reading_paused());
    assert_eq!(session.poll_timeout(), None);
    session.handle_timeout(start + Duration::from_hours(1)).unwrap();
}

#[test]
fn closing_gives_up_at_the_close_timeout_and_dropped_streams_send_nothing() {
    let mut session = Session::new(Config::default().with_close_timeout(Duration::from_secs(2)));
    let start = Instant::now();
    let id = session.open(start).unwrap();
    sent(&mut session);
    session.close(start);
    assert_eq!(session.open(start), Err(StreamError::SessionEnded));
    session.drop_stream(id);
    assert!(sent(&mut session).is_empty(), "no reset once closing");
    assert_eq!(session.poll_timeout(), Some(start + Duration::from_secs(2)));
    let result = session.handle_timeout(start + Duration::from_secs(2));
    assert!(matches!(result, Err(ConnectionError::CloseTimeout(_))), "{result:?}");
}
