//! A live yamux session under arbitrary frames from a remote, interleaved
//! with arbitrary application calls: no panic, what it sends decodes, and
//! what it holds unread stays within the windows it granted.
#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use strata_core::muxer::Session as _;
use strata_yamux::{Decoder, Role, Session, SessionConfig};

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else { return };
    let role = if first & 1 == 0 { Role::Client } else { Role::Server };
    let config = SessionConfig { max_streams: 8, max_stream_window: 1 << 20, ..SessionConfig::default() };
    let bound = 8 * u64::from(config.max_stream_window);
    let mut session = Session::new(role, config);
    let decoder = Decoder::new(1 << 20);
    let mut wire = BytesMut::new();
    let start = Instant::now();
    let mut step = 0u64;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        step += 1;
        let now = start + Duration::from_millis(step);
        let id = u32::from(op >> 4);
        match op & 0x0f {
            // Remote bytes: a chunk whose length is the next byte.
            0..=5 => {
                let Some((&len, tail)) = rest.split_first() else { break };
                let len = usize::from(len).min(tail.len());
                wire.extend_from_slice(&tail[..len]);
                rest = &tail[len..];
                loop {
                    match decoder.decode(&mut wire) {
                        Ok(Some(frame)) => {
                            if session.receive(frame, now).is_err() {
                                wire.clear();
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            wire.clear();
                            break;
                        }
                    }
                }
            }
            6 => {
                let _ = session.open(now);
            }
            7 => {
                session.accept(id);
            }
            8 => {
                let mut buf = vec![0u8; usize::from(op) * 97];
                let _ = session.read(id, &mut buf, now);
            }
            9 => {
                let _ = session.write(id, &vec![op; usize::from(op) * 131]);
            }
            10 => {
                let _ = session.close_stream(id);
            }
            11 => session.reset(id),
            12 => session.drop_stream(id),
            13 => session.measure_rtt(u32::from(op), now),
            14 => session.ping(u32::from(op)),
            _ => session.go_away(),
        }
        let mut out = BytesMut::new();
        while let Some(frame) = session.next_frame() {
            frame.encode(&mut out);
        }
        while let Ok(Some(_)) = decoder.decode(&mut out) {}
        assert!(out.is_empty(), "what the session sends decodes whole");
        while session.next_event().is_some() {}
        assert!(session.buffered() as u64 <= bound, "unread data within the windows granted");
    }
});
