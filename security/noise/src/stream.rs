//! `NoiseStream`: the encrypted byte stream that follows a handshake.
//!
//! Spec: `libp2p-noise.md`, "Wire Format" and "Encryption and I/O". Each
//! direction is a sequence of frames:
//!
//! ```text
//! | len: u16 big-endian | ChaCha20-Poly1305 ciphertext of ≤ 65519 bytes + 16-byte tag |
//! ```
//!
//! **Reading.** Ciphertext is read from the socket into `read_buf`, up to
//! two frames per read. Each complete frame is decrypted straight into the
//! caller's buffer when it fits (no copy), otherwise into `plain`, from
//! which later reads are served; one read takes as many buffered frames as
//! fit. Frames split across socket reads wait in
//! `read_buf` until complete; each frame is decrypted exactly once. A frame
//! that does not decrypt breaks the stream for good (`InvalidData`).
//!
//! **Writing.** Small writes are gathered in `write_plain` up to one full
//! frame (65519 bytes of plaintext), and encrypted when it is full or on
//! `flush`, so that many small writes become one frame and one syscall.
//! A write of a whole frame or more, with nothing gathered, is encrypted
//! straight from the caller's buffer. `write_frame` holds the one encrypted
//! frame being written to the socket.
//!
//! **Memory.** An idle stream holds no buffers: `read_buf` and `plain` are
//! dropped when the socket has nothing more to give and everything was
//! read; the write buffers are dropped after a completed flush. They are
//! allocated again when data flows.

use std::{
    fmt, io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes of the length prefix of every frame.
const LEN_PREFIX: usize = 2;
/// Bytes of the Poly1305 tag in every frame.
const TAG_LEN: usize = 16;
/// The longest Noise message, tag included.
const MAX_FRAME: usize = crate::handshake::MAX_MESSAGE_LEN;
/// The most plaintext one frame carries.
pub(crate) const MAX_PLAINTEXT: usize = MAX_FRAME - TAG_LEN;
/// How much room the reader makes before each socket read: two frames.
const READ_CHUNK: usize = 2 * (LEN_PREFIX + MAX_FRAME);

/// A stream encrypted with the keys of a finished Noise handshake.
pub struct NoiseStream<S> {
    io: S,
    cipher: snow::TransportState,
    read_buf: BytesMut,
    plain: Vec<u8>,
    plain_pos: usize,
    write_plain: Vec<u8>,
    write_frame: Vec<u8>,
    write_pos: usize,
    write_end: usize,
    broken: bool,
}

fn broken(reason: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("noise: {reason}"))
}

/// Encrypts `plain` (at most [`MAX_PLAINTEXT`] bytes) into `frame` as one
/// length-prefixed frame; returns the frame's length. Grows `frame` if
/// needed, never shrinks it, so a reused buffer is not zeroed again.
fn encrypt_frame(cipher: &mut snow::TransportState, plain: &[u8], frame: &mut Vec<u8>) -> io::Result<usize> {
    let needed = LEN_PREFIX + plain.len() + TAG_LEN;
    if frame.len() < needed {
        frame.resize(needed, 0);
    }
    let len = cipher
        .write_message(plain, &mut frame[LEN_PREFIX..needed])
        .map_err(|e| io::Error::other(format!("noise: encryption failed: {e}")))?;
    let len16 = u16::try_from(len).map_err(|_| io::Error::other("noise: frame over 65535 bytes"))?;
    frame[..LEN_PREFIX].copy_from_slice(&len16.to_be_bytes());
    Ok(LEN_PREFIX + len)
}

impl<S> NoiseStream<S> {
    pub(crate) fn new(io: S, cipher: snow::TransportState) -> Self {
        Self {
            io,
            cipher,
            read_buf: BytesMut::new(),
            plain: Vec::new(),
            plain_pos: 0,
            write_plain: Vec::new(),
            write_frame: Vec::new(),
            write_pos: 0,
            write_end: 0,
            broken: false,
        }
    }

    /// The stream underneath (for its addresses, say). Reading or writing it
    /// directly would corrupt the session.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The length of the complete frame at the front of `read_buf`, if one
    /// is there.
    fn complete_frame(&self) -> Option<usize> {
        let header: [u8; LEN_PREFIX] = self.read_buf.get(..LEN_PREFIX)?.try_into().ok()?;
        let len = usize::from(u16::from_be_bytes(header));
        (self.read_buf.len() >= LEN_PREFIX + len).then_some(len)
    }

    /// Decrypts the complete frame of `len` bytes at the front of
    /// `read_buf`: into `out` when it fits, else into `plain`. Returns how
    /// many bytes went into `out`.
    fn decrypt_frame(&mut self, len: usize, out: &mut ReadBuf<'_>) -> io::Result<usize> {
        if len < TAG_LEN {
            self.broken = true;
            return Err(broken("frame shorter than its tag"));
        }
        let frame = &self.read_buf[LEN_PREFIX..LEN_PREFIX + len];
        let plain_len = len - TAG_LEN;
        let result = if out.remaining() >= plain_len {
            let written = self.cipher.read_message(frame, out.initialize_unfilled_to(plain_len));
            written.inspect(|&n| out.advance(n))
        } else {
            self.plain.resize(plain_len, 0);
            let written = self.cipher.read_message(frame, &mut self.plain);
            written.map(|n| {
                self.plain.truncate(n);
                0
            })
        };
        self.read_buf.advance(LEN_PREFIX + len);
        result.map_err(|_| {
            self.broken = true;
            broken("a frame failed to decrypt")
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for NoiseStream<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.broken {
            return Poll::Ready(Err(broken("the stream broke earlier")));
        }
        // Whether this call has put bytes in `out`: then it decrypts what is
        // already buffered but does not wait for the socket.
        let mut delivered = false;
        loop {
            if this.plain_pos < this.plain.len() {
                let n = out.remaining().min(this.plain.len() - this.plain_pos);
                out.put_slice(&this.plain[this.plain_pos..this.plain_pos + n]);
                this.plain_pos += n;
                if this.plain_pos == this.plain.len() {
                    this.plain.clear();
                    this.plain_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if let Some(len) = this.complete_frame() {
                // Into `out` if it fits; else into `plain`, served above.
                match this.decrypt_frame(len, out) {
                    Ok(n) => delivered |= n > 0,
                    // The stream is broken from now on; the authentic bytes
                    // already in `out` are returned first.
                    Err(_) if delivered => return Poll::Ready(Ok(())),
                    Err(e) => return Poll::Ready(Err(e)),
                }
                continue;
            }
            if delivered {
                return Poll::Ready(Ok(()));
            }
            this.read_buf.reserve(READ_CHUNK);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.read_buf) {
                Poll::Ready(Ok(0)) if this.read_buf.is_empty() => return Poll::Ready(Ok(())), // clean end
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "noise: the connection closed inside a frame",
                    )));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if this.read_buf.is_empty() {
                        // Idle: give the memory back until data flows again.
                        this.read_buf = BytesMut::new();
                        this.plain = Vec::new();
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> NoiseStream<S> {
    /// Writes out the encrypted frame in `write_frame`, if any.
    fn poll_send_frame(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.write_pos < self.write_end {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.write_frame[self.write_pos..self.write_end]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.write_pos += n;
        }
        self.write_pos = 0;
        self.write_end = 0;
        Poll::Ready(Ok(()))
    }

    /// Starts sending the frame without waiting: an error is returned, a
    /// full socket is not.
    fn start_sending(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.poll_send_frame(cx) {
            Poll::Ready(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Encrypts the gathered plaintext into `write_frame` (which is empty).
    fn encrypt_gathered(&mut self) -> io::Result<()> {
        self.write_end = encrypt_frame(&mut self.cipher, &self.write_plain, &mut self.write_frame)?;
        self.write_plain.clear();
        Ok(())
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for NoiseStream<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.write_plain.len() == MAX_PLAINTEXT {
            ready!(this.poll_send_frame(cx))?;
            this.encrypt_gathered()?;
        }
        if this.write_plain.is_empty() && data.len() >= MAX_PLAINTEXT {
            ready!(this.poll_send_frame(cx))?;
            this.write_end = encrypt_frame(&mut this.cipher, &data[..MAX_PLAINTEXT], &mut this.write_frame)?;
            this.start_sending(cx)?;
            return Poll::Ready(Ok(MAX_PLAINTEXT));
        }
        let n = data.len().min(MAX_PLAINTEXT - this.write_plain.len());
        this.write_plain.extend_from_slice(&data[..n]);
        if this.write_plain.len() == MAX_PLAINTEXT && this.write_end == 0 {
            this.encrypt_gathered()?;
            this.start_sending(cx)?;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_send_frame(cx))?;
            if this.write_plain.is_empty() {
                break;
            }
            this.encrypt_gathered()?;
        }
        ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        // Everything is out: give the memory back until data flows again.
        this.write_plain = Vec::new();
        this.write_frame = Vec::new();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<S> fmt::Debug for NoiseStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoiseStream")
            .field("buffered_ciphertext", &self.read_buf.len())
            .field("buffered_plaintext", &(self.plain.len() - self.plain_pos))
            .field("gathered_for_writing", &self.write_plain.len())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}
