//! Length-prefixed messages over an async byte stream.
//!
//! Many libp2p protocols frame each message as `<uvarint length><payload>`:
//! multistream-select (`multistream-select.md`, note 1), identify, floodsub
//! RPCs. These helpers read and write such frames over any tokio
//! `AsyncRead`/`AsyncWrite`.
//!
//! Data flow of a read: the varint prefix is read one byte at a time, so
//! that not a byte past the frame is consumed (the next bytes may belong to
//! another layer, such as a Noise handshake right behind a multistream
//! answer); the announced length is checked against the caller's `max`
//! *before* anything is allocated; then exactly that many bytes are read.
//!
//! Writes assemble prefix and payload into one buffer and hand it to the
//! stream in one `write_all`, then flush, so that a message is one packet
//! where the stream allows.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Error, Result, varint};

/// Reads one varint, byte by byte. `Ok(None)` if the stream ended cleanly
/// before its first byte.
async fn read_varint_or_eof<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<u64>> {
    let mut buf = [0u8; varint::MAX_LEN];
    for filled in 0..varint::MAX_LEN {
        let byte = match reader.read_u8().await {
            Ok(byte) => byte,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && filled == 0 => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        buf[filled] = byte;
        if byte & 0x80 == 0 {
            return varint::decode(&buf[..=filled]).map(|(value, _)| Some(value));
        }
    }
    Err(Error::InvalidVarint("longer than 9 bytes"))
}

/// Reads one unsigned varint from `reader`.
pub async fn read_varint<R: AsyncRead + Unpin>(reader: &mut R) -> Result<u64> {
    read_varint_or_eof(reader).await?.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into())
}

/// Reads one length-prefixed message of at most `max` bytes.
///
/// A stream that ends anywhere inside the message is an
/// `Error::Io(UnexpectedEof)`; a prefix above `max` is
/// [`Error::MessageTooLarge`] and allocates nothing.
pub async fn read_length_prefixed<R: AsyncRead + Unpin>(reader: &mut R, max: usize) -> Result<Vec<u8>> {
    try_read_length_prefixed(reader, max)
        .await?
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into())
}

/// Like [`read_length_prefixed`], but a stream that ends cleanly before the
/// next message gives `Ok(None)`: for readers that take messages until the
/// remote closes its side.
pub async fn try_read_length_prefixed<R: AsyncRead + Unpin>(reader: &mut R, max: usize) -> Result<Option<Vec<u8>>> {
    let Some(len) = read_varint_or_eof(reader).await? else {
        return Ok(None);
    };
    let len = match usize::try_from(len) {
        Ok(len) if len <= max => len,
        _ => return Err(Error::MessageTooLarge { len, max }),
    };
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload).await?;
    Ok(Some(payload))
}

/// Appends `payload` with its varint length prefix to `out`.
pub fn encode_length_prefixed(payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(varint::MAX_LEN + payload.len());
    varint::encode(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// Writes `payload` with its varint length prefix in one write, then flushes.
pub async fn write_length_prefixed<W: AsyncWrite + Unpin>(writer: &mut W, payload: &[u8]) -> Result<()> {
    let mut frame = Vec::new();
    encode_length_prefixed(payload, &mut frame);
    writer.write_all(&frame).await?;
    writer.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_exact_consumption() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        write_length_prefixed(&mut a, b"hello").await.unwrap();
        a.write_all(b"rest").await.unwrap();
        assert_eq!(read_length_prefixed(&mut b, 5).await.unwrap(), b"hello");
        // Not a byte past the frame was consumed.
        let mut rest = [0u8; 4];
        b.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"rest");
    }

    #[tokio::test]
    async fn over_limit_is_refused_before_reading_the_payload() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        // Announce 1 GiB and send nothing else.
        let mut frame = Vec::new();
        varint::encode(1 << 30, &mut frame);
        a.write_all(&frame).await.unwrap();
        let err = read_length_prefixed(&mut b, 1024).await.unwrap_err();
        assert!(matches!(err, Error::MessageTooLarge { len, max: 1024 } if len == 1 << 30));
    }

    #[tokio::test]
    async fn clean_eof_versus_truncation() {
        let (a, mut b) = tokio::io::duplex(64);
        drop(a);
        assert!(try_read_length_prefixed(&mut b, 10).await.unwrap().is_none());

        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&[5, b'a', b'b']).await.unwrap();
        drop(a);
        let err = try_read_length_prefixed(&mut b, 10).await.unwrap_err();
        assert!(matches!(err, Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof));
    }

    #[tokio::test]
    async fn endless_varint_is_an_error() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&[0xff; 16]).await.unwrap();
        assert!(matches!(read_varint(&mut b).await, Err(Error::InvalidVarint(_))));
    }
}
