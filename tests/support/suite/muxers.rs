//! Attacks on the muxers, in raw frames over a Noise-secured connection:
//! stream floods, data for streams that do not exist, oversized frames,
//! flow-control abuse and garbage. The victim's frames are read back and
//! decoded to see what it answered. Part of `suite.rs`.

use std::{collections::BTreeMap, time::Duration};

use bytes::BytesMut;
use strata::{
    mplex::frame::{self as mplex_frame, Kind},
    yamux::{Decoder, Flags, Frame, Header},
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Outcome, Target, WAIT, wire_closed};
use crate::attack::{frame, wire, wire_with};

/// mplex flags, initiator side.
const NEW_STREAM: u64 = 0;
const MESSAGE: u64 = 2;

/// How many streams a connection may have open at once (both sides
/// together): `mplex::Config` and `yamux::Config` default to 256.
const MAX_STREAMS: usize = 256;

/// What the multistream listener says first on every stream it accepts.
const MULTISTREAM_HEADER: &[u8] = b"\x13/multistream/1.0.0\n";

/// Writes `bytes` to the victim while reading what it sends (so neither
/// side waits on the other's buffers), until `done` says so: it gets
/// everything read and not yet taken, and takes the frames it can decode.
/// An error if the victim closes the connection first, or if either
/// direction is still going after [`WAIT`] (a victim that stopped reading
/// for good, or never answered).
async fn write_and_read(
    io: &mut (impl AsyncRead + AsyncWrite + Unpin),
    bytes: &[u8],
    mut done: impl FnMut(&mut BytesMut) -> Result<bool, String>,
) -> Outcome {
    let (mut reader, mut writer) = tokio::io::split(io);
    let write = async {
        writer.write_all(bytes).await.map_err(|e| format!("writing the attack: {e}"))?;
        writer.flush().await.map_err(|e| format!("writing the attack: {e}"))
    };
    let read = async {
        let mut buf = BytesMut::with_capacity(64 * 1024);
        while !done(&mut buf)? {
            match reader.read_buf(&mut buf).await {
                Ok(0) => return Err("the victim closed the connection".to_owned()),
                Ok(_) => {}
                Err(e) => return Err(format!("the connection failed: {e}")),
            }
        }
        Ok(())
    };
    let both = async { tokio::try_join!(write, read) };
    match tokio::time::timeout(WAIT, both).await {
        Ok(outcome) => outcome.map(drop),
        Err(_) => Err(format!("the victim neither answered everything nor read everything within {WAIT:?}")),
    }
}

/// How the victim answered the streams an attacker opened, by number:
/// `true` refused (its first frame on the stream is a reset), `false`
/// accepted (its first frame is anything else: data, an ACK).
type Answers = BTreeMap<u64, bool>;

/// Checks a stream flood's answers: every one of the `opened` streams
/// answered; the victim accepted no more than the limit, and all of it
/// but what its own streams took (`theirs`, opened on the connection);
/// and it refused exactly the streams past that (the last ones opened).
fn check_flood(answers: &Answers, opened: usize, theirs: usize) -> Outcome {
    check!(answers.len() == opened, "{} of {opened} streams answered", answers.len());
    let accepted: Vec<u64> = answers.iter().filter(|(_, refused)| !**refused).map(|(id, _)| *id).collect();
    check!(
        accepted.len() <= MAX_STREAMS,
        "{} of {opened} streams accepted; the limit is {MAX_STREAMS}",
        accepted.len()
    );
    check!(
        accepted.len() + theirs >= MAX_STREAMS,
        "only {} streams accepted (and {theirs} of the victim's own open) below the limit of {MAX_STREAMS}",
        accepted.len()
    );
    let first_refused = answers.iter().find(|(_, refused)| **refused).map(|(id, _)| *id);
    check!(
        first_refused.is_none_or(|first| accepted.last().is_none_or(|last| *last < first)),
        "a stream was refused before the limit was reached (first refused {first_refused:?})"
    );
    Ok(())
}

/// 5,000 streams opened at once (`NewStream` frames, nothing more): the
/// victim accepts up to its limit (each accepted stream gets the
/// multistream header) and resets the rest, as [`check_flood`] says. (The
/// pause in reading for resets the remote does not read is not seen here:
/// at this size they are written as fast as they are provoked; the mplex
/// session's own tests pin it.)
pub(super) async fn mplex_stream_flood(target: &Target, scale: usize) -> Outcome {
    let (_, mut io) = wire(10, target.addr).await;
    let opened = 5000 * scale;
    let opens: Vec<u8> = (0..opened as u64).flat_map(|id| frame(id, NEW_STREAM, b"")).collect();
    let (mut answers, mut theirs) = (Answers::new(), 0);
    write_and_read(&mut io, &opens, |buf| {
        while let Some(frame) = mplex_frame::decode(buf, mplex_frame::MAX_FRAME_LEN).map_err(|e| e.to_string())? {
            match (frame.kind, frame.id.ours) {
                (Kind::Open, false) => theirs += 1,
                (kind, true) => {
                    answers.entry(frame.id.num).or_insert(kind == Kind::Reset);
                }
                _ => {}
            }
        }
        Ok(answers.len() >= opened)
    })
    .await?;
    check_flood(&answers, opened, theirs)
}

/// Data for 10,000 streams that were never opened, then a real stream
/// (ping): the victim answers nothing for the strays, and the real stream
/// still negotiates and echoes, after them.
pub(super) async fn mplex_unknown_streams(target: &Target, scale: usize) -> Outcome {
    const STRAY_FROM: u64 = 100_000;
    const REAL: u64 = 1;
    let (_, mut io) = wire(10, target.addr).await;
    let mut bytes: Vec<u8> =
        (0..(10_000 * scale) as u64).flat_map(|id| frame(STRAY_FROM + id, MESSAGE, &[0; 100])).collect();
    let mut ping = MULTISTREAM_HEADER.to_vec();
    strata::core::framing::encode_length_prefixed(b"/ipfs/ping/1.0.0\n", &mut ping);
    let payload = [0x42u8; 32];
    bytes.extend(frame(REAL, NEW_STREAM, b""));
    bytes.extend(frame(REAL, MESSAGE, &ping));
    bytes.extend(frame(REAL, MESSAGE, &payload));
    // What the victim says on the real stream: the header, the protocol
    // agreed, the echo.
    let expected = [&ping[..], &payload].concat();
    let (mut received, mut stray_answers, mut reset) = (Vec::new(), 0, false);
    write_and_read(&mut io, &bytes, |buf| {
        while let Some(frame) = mplex_frame::decode(buf, mplex_frame::MAX_FRAME_LEN).map_err(|e| e.to_string())? {
            match (frame.id.ours, frame.id.num, frame.kind) {
                (true, num, _) if num >= STRAY_FROM => stray_answers += 1,
                (true, REAL, Kind::Data) => received.extend_from_slice(&frame.data),
                (true, REAL, Kind::Reset) => reset = true,
                _ => {}
            }
        }
        Ok(reset || received.len() >= expected.len())
    })
    .await?;
    check!(stray_answers == 0, "{stray_answers} frames answered data on streams never opened");
    check!(!reset, "the real stream after the strays was reset");
    check!(received == expected, "the real stream after the strays did not negotiate and echo");
    Ok(())
}

pub(super) async fn mplex_oversized_frame(target: &Target) -> Outcome {
    let (_, mut io) = wire(10, target.addr).await;
    drop(io.write_all(&[0x02, 0x80, 0x80, 0x80, 0x04]).await);
    drop(io.flush().await);
    check!(wire_closed(&mut io, Duration::from_secs(3)).await, "an oversized mplex frame left the connection open");
    Ok(())
}

pub(super) async fn mplex_garbage(target: &Target) -> Outcome {
    let (_, mut io) = wire(10, target.addr).await;
    drop(io.write_all(&[0xff; 4096]).await);
    drop(io.flush().await);
    check!(wire_closed(&mut io, Duration::from_secs(3)).await, "garbage left the connection open");
    Ok(())
}

/// yamux frames, encoded.
fn yamux_frames(frames: impl IntoIterator<Item = Frame>) -> Vec<u8> {
    let mut out = BytesMut::new();
    for frame in frames {
        frame.encode(&mut out);
    }
    out.to_vec()
}

/// [`mplex_stream_flood`] in yamux: SYNs answered with an ACK (or data)
/// up to the limit, with an RST past it.
pub(super) async fn yamux_stream_flood(target: &Target, scale: usize) -> Outcome {
    let (_, mut io) = wire_with(10, target.addr, "/yamux/1.0.0").await;
    let opened = 5000 * scale;
    // The dialer (client) opens odd ids.
    let ids = (0..u32::try_from(opened).unwrap_or(u32::MAX)).map(|n| 2 * n + 1);
    let opens = yamux_frames(ids.map(|id| Frame::control(Header::window_update(id, Flags::SYN, 0))));
    let decoder = Decoder::new(16 << 20);
    let (mut answers, mut theirs) = (Answers::new(), 0);
    write_and_read(&mut io, &opens, |buf| {
        while let Some(frame) = decoder.decode(buf).map_err(|e| e.to_string())? {
            let (id, flags) = (frame.header.stream, frame.header.flags);
            if id == 0 {
                continue; // the session's own (its round-trip ping)
            }
            if id % 2 == 0 {
                if flags.contains(Flags::SYN) {
                    theirs += 1;
                }
                continue;
            }
            answers.entry(u64::from(id / 2)).or_insert(flags.contains(Flags::RST));
        }
        Ok(answers.len() >= opened)
    })
    .await?;
    check_flood(&answers, opened, theirs)
}

pub(super) async fn yamux_past_window(target: &Target) -> Outcome {
    let (_, mut io) = wire_with(10, target.addr, "/yamux/1.0.0").await;
    let over = vec![0u8; strata::yamux::INITIAL_WINDOW as usize + 1];
    let bytes = yamux_frames([Frame::data(Header::data(1, Flags::SYN, 0), over.into())]);
    drop(io.write_all(&bytes).await);
    drop(io.flush().await);
    check!(wire_closed(&mut io, Duration::from_secs(3)).await, "data past the window left the connection open");
    Ok(())
}

pub(super) async fn yamux_window_overflow(target: &Target) -> Outcome {
    let (_, mut io) = wire_with(10, target.addr, "/yamux/1.0.0").await;
    let bytes = yamux_frames([
        Frame::control(Header::window_update(1, Flags::SYN, 0)),
        Frame::control(Header::window_update(1, Flags::NONE, u32::MAX)),
    ]);
    drop(io.write_all(&bytes).await);
    drop(io.flush().await);
    check!(wire_closed(&mut io, Duration::from_secs(3)).await, "a window overflow left the connection open");
    Ok(())
}

pub(super) async fn yamux_garbage(target: &Target) -> Outcome {
    let (_, mut io) = wire_with(10, target.addr, "/yamux/1.0.0").await;
    drop(io.write_all(&[0xff; 4096]).await);
    drop(io.flush().await);
    check!(wire_closed(&mut io, Duration::from_secs(3)).await, "garbage left the connection open");
    Ok(())
}
