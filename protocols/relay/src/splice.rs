//! Splicing the two halves of a circuit, with the byte and time caps.
//!
//! Spec: `libp2p-relay-circuit-v2.md`, "Reservation": "If more data than
//! the limit specified in the `data` field is transferred over the relayed
//! connection, or the relayed connection has been open for longer than
//! `duration`, the relay should reset the stream to the source and the
//! stream to the destination."
//!
//! ```text
//! hop stream (initiator) ──copy ≤ cap──▶ stop stream (target)
//! hop stream (initiator) ◀──copy ≤ cap── stop stream (target)
//!          └──── both under one deadline ────┘
//! ```
//!
//! A direction that ends cleanly half-closes the other side and the
//! splice goes on until both have ended. A direction that would pass its
//! cap, any I/O error, or the deadline ends the splice at once, and both
//! streams are dropped, which resets them.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The size of each direction's copy buffer.
const BUFFER: usize = 16 * 1024;

/// How a splice ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Both sides closed their writing halves.
    Closed,
    /// A direction would have passed the byte cap.
    DataCap,
    /// The circuit was open for its whole duration.
    TimeCap,
    /// A stream failed.
    Failed,
}

enum Copied {
    Eof,
    Cap,
}

/// Copies `reader` into `writer` until the end of `reader` (then shuts the
/// writer down) or until more than `cap` bytes would pass (then stops
/// after writing exactly `cap`).
async fn copy_capped<R, W>(mut reader: R, mut writer: W, cap: u64) -> std::io::Result<Copied>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buffer = vec![0u8; BUFFER];
    let mut left = cap;
    loop {
        let n = reader.read(&mut buffer).await?;
        if n == 0 {
            writer.shutdown().await?;
            return Ok(Copied::Eof);
        }
        let allowed = usize::try_from(left).unwrap_or(usize::MAX).min(n);
        writer.write_all(&buffer[..allowed]).await?;
        writer.flush().await?;
        if allowed < n {
            return Ok(Copied::Cap);
        }
        left -= allowed as u64;
    }
}

/// Relays between `a` and `b` with at most `cap` bytes each way for at most
/// `duration`. Both streams are dropped when it returns.
pub(crate) async fn splice<A, B>(a: A, b: B, cap: u64, duration: Duration) -> End
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (a_read, a_write) = tokio::io::split(a);
    let (b_read, b_write) = tokio::io::split(b);
    let work = async {
        let up = copy_capped(a_read, b_write, cap);
        let down = copy_capped(b_read, a_write, cap);
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        while !(up_done && down_done) {
            let result = tokio::select! {
                result = &mut up, if !up_done => { up_done = true; result }
                result = &mut down, if !down_done => { down_done = true; result }
            };
            match result {
                Ok(Copied::Eof) => {}
                Ok(Copied::Cap) => return End::DataCap,
                Err(_) => return End::Failed,
            }
        }
        End::Closed
    };
    tokio::time::timeout(duration, work).await.unwrap_or(End::TimeCap)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn relays_both_ways_and_ends_when_both_close() {
        let (mut client, a) = tokio::io::duplex(1024);
        let (b, mut target) = tokio::io::duplex(1024);
        let relay = tokio::spawn(splice(a, b, 100, Duration::from_mins(1)));
        client.write_all(b"hello").await.unwrap();
        let mut got = [0u8; 5];
        target.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        target.write_all(b"world").await.unwrap();
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"world");
        client.shutdown().await.unwrap();
        assert_eq!(target.read(&mut got).await.unwrap(), 0); // the half-close went through
        target.shutdown().await.unwrap();
        assert_eq!(relay.await.unwrap(), End::Closed);
    }

    #[tokio::test]
    async fn exactly_the_cap_passes_and_one_byte_more_ends_it() {
        let (mut client, a) = tokio::io::duplex(1024);
        let (b, mut target) = tokio::io::duplex(1024);
        let relay = tokio::spawn(splice(a, b, 10, Duration::from_mins(1)));
        client.write_all(&[1; 10]).await.unwrap();
        let mut got = [0u8; 10];
        target.read_exact(&mut got).await.unwrap();
        client.write_all(&[2]).await.unwrap();
        assert_eq!(relay.await.unwrap(), End::DataCap);
        let mut rest = Vec::new();
        assert_eq!(target.read_to_end(&mut rest).await.unwrap(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_it() {
        let (_client, a) = tokio::io::duplex(1024);
        let (b, _target) = tokio::io::duplex(1024);
        let started = tokio::time::Instant::now();
        assert_eq!(splice(a, b, 10, Duration::from_mins(2)).await, End::TimeCap);
        assert_eq!(started.elapsed(), Duration::from_mins(2));
    }
}
