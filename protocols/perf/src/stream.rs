//! One perf exchange on a byte stream (spec: "Protocol"), either role,
//! without the host: what the client and the server run on each stream.
//!
//! ```text
//! client: write u64 BE n ─▶ write upload ─▶ shutdown ─▶ read to EOF (n bytes)
//! server: read u64 BE n  ─▶ read to EOF   ─▶ write n bytes ─▶ shutdown
//! ```
//!
//! The server sends its answer only after the upload ended (the spec: not
//! concurrently), and stops early when the client goes away.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Error;

/// How much one write or read moves.
pub const CHUNK: usize = 64 * 1024;

/// The bytes sent: all zeros, one fixed buffer (the spec allows any
/// predetermined bytes).
static ZEROS: [u8; CHUNK] = [0; CHUNK];

/// Writes `bytes` bytes of the fixed pattern, in [`CHUNK`] pieces.
async fn write_bytes<S: AsyncWrite + Unpin>(io: &mut S, mut bytes: u64) -> std::io::Result<()> {
    while bytes > 0 {
        let n = usize::try_from(bytes).unwrap_or(usize::MAX).min(CHUNK);
        io.write_all(&ZEROS[..n]).await?;
        bytes -= n as u64;
    }
    Ok(())
}

/// Reads to EOF, discarding; returns how many bytes came. Fails if
/// nothing arrives for `idle`.
async fn drain<S: AsyncRead + Unpin>(io: &mut S, idle: Duration) -> std::io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = tokio::time::timeout(idle, io.read(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "perf: the peer went quiet"))??;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// What the client side of one stream measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientTimings {
    /// Bytes uploaded.
    pub upload_bytes: u64,
    /// Bytes downloaded.
    pub download_bytes: u64,
    /// From the first byte written to the write side closed.
    pub upload: Duration,
    /// From the write side closed to the server's EOF.
    pub download: Duration,
}

/// The client's side of one exchange: asks for `download` bytes, uploads
/// `upload` bytes, then reads the answer to EOF.
pub async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    upload: u64,
    download: u64,
    idle: Duration,
) -> Result<ClientTimings, Error> {
    let start = Instant::now();
    io.write_all(&download.to_be_bytes()).await?;
    write_bytes(io, upload).await?;
    io.shutdown().await?;
    let uploaded = Instant::now();
    let got = drain(io, idle).await?;
    if got != download {
        return Err(Error::ShortDownload { asked: download, got });
    }
    Ok(ClientTimings {
        upload_bytes: upload,
        download_bytes: got,
        upload: uploaded - start,
        download: uploaded.elapsed(),
    })
}

/// What the server side of one stream did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Served {
    /// Bytes the client uploaded.
    pub upload_bytes: u64,
    /// Bytes sent back.
    pub download_bytes: u64,
    /// The whole exchange.
    pub elapsed: Duration,
}

/// The server's side of one exchange. A request over `max_download` is
/// refused (the stream fails before anything is sent back).
pub async fn server<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    max_download: u64,
    idle: Duration,
) -> Result<Served, Error> {
    let start = Instant::now();
    let mut header = [0u8; 8];
    tokio::time::timeout(idle, io.read_exact(&mut header))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "perf: no request"))??;
    let download = u64::from_be_bytes(header);
    if download > max_download {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("perf: {download} bytes asked, at most {max_download} served"),
        )
        .into());
    }
    let upload = drain(io, idle).await?;
    write_bytes(io, download).await?;
    io.shutdown().await?;
    Ok(Served { upload_bytes: upload, download_bytes: download, elapsed: start.elapsed() })
}
