//! `RecordingSecurity`: any security upgrade, with the plaintext above it
//! recorded.
//!
//! The handshake runs on the inner upgrade unchanged (its bytes are raw,
//! so the transport tap sees them); its output stream becomes a
//! [`Recorded`] with tap [`Tap::Secured`], and a `Secured` record names
//! the authenticated remote. When a [`crate::RecordingTransport`] made
//! the raw stream (however wrapped since), both taps
//! share its connection number: a probe around the raw stream finds it
//! during the handshake (see `stream.rs`).

use std::sync::atomic::{AtomicU64, Ordering};

use strata_core::{ByteStream, PeerId, SecurityUpgrade};

use crate::{Record, Recorded, Recorder, Tap, stream::Probe};

/// A security upgrade whose plaintext is recorded. Build it with
/// [`Recorder::security`].
#[derive(Clone, Debug)]
pub struct RecordingSecurity<U> {
    inner: U,
    recorder: Recorder,
}

impl<U: SecurityUpgrade> RecordingSecurity<U> {
    pub(crate) fn new(inner: U, recorder: Recorder) -> Self {
        Self { inner, recorder }
    }

    /// The secured stream, numbered like the raw one the probe found (or
    /// anew, when no recording transport is below).
    fn secured<S: ByteStream>(&self, found: &AtomicU64, remote: PeerId, stream: S) -> (PeerId, Recorded) {
        let connection = match found.load(Ordering::Relaxed) {
            0 => self.recorder.unnumbered(),
            connection => connection,
        };
        self.recorder.push(Record::Secured { connection, remote, protocol: U::PROTOCOL_NAME });
        (remote, Recorded::new(stream, self.recorder.clone(), connection, Tap::Secured))
    }
}

impl<U: SecurityUpgrade> SecurityUpgrade for RecordingSecurity<U> {
    const PROTOCOL_NAME: &'static str = U::PROTOCOL_NAME;

    type Output<S: ByteStream> = Recorded;
    type Error = U::Error;

    async fn secure_outbound<S: ByteStream>(
        &self,
        stream: S,
        expected: Option<PeerId>,
    ) -> Result<(PeerId, Recorded), U::Error> {
        let (stream, found) = Probe::new(stream);
        let (remote, secured) = self.inner.secure_outbound(stream, expected).await?;
        Ok(self.secured(&found, remote, secured))
    }

    async fn secure_inbound<S: ByteStream>(&self, stream: S) -> Result<(PeerId, Recorded), U::Error> {
        let (stream, found) = Probe::new(stream);
        let (remote, secured) = self.inner.secure_inbound(stream).await?;
        Ok(self.secured(&found, remote, secured))
    }
}
