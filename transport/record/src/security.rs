//! `RecordingSecurity`: any security upgrade, with the plaintext above it
//! recorded.
//!
//! The handshake runs on the inner upgrade unchanged (its bytes are raw,
//! so the transport tap sees them); its output stream becomes a
//! [`Recorded`] with tap [`Tap::Secured`], and a `Secured` record names
//! the authenticated remote. When the raw stream is itself a `Recorded`
//! (a [`crate::RecordingTransport`] below), both taps share its connection
//! number.

use std::any::Any;

use strata_core::{ByteStream, PeerId, SecurityUpgrade};

use crate::{Record, Recorded, Recorder, Tap};

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

    /// The raw stream's connection number, or a new one.
    fn connection_of<S: ByteStream>(&self, stream: &S) -> u64 {
        let any: &dyn Any = stream;
        any.downcast_ref::<Recorded>().map_or_else(|| self.recorder.unnumbered(), Recorded::connection)
    }

    fn secured<S: ByteStream>(&self, connection: u64, remote: PeerId, stream: S) -> (PeerId, Recorded) {
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
        let connection = self.connection_of(&stream);
        let (remote, secured) = self.inner.secure_outbound(stream, expected).await?;
        Ok(self.secured(connection, remote, secured))
    }

    async fn secure_inbound<S: ByteStream>(&self, stream: S) -> Result<(PeerId, Recorded), U::Error> {
        let connection = self.connection_of(&stream);
        let (remote, secured) = self.inner.secure_inbound(stream).await?;
        Ok(self.secured(connection, remote, secured))
    }
}
