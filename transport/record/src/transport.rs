//! `RecordingTransport`: any transport, with every raw byte recorded.
//!
//! A dial records `Opened { endpoint: Dialer, remote: the address }`, an
//! accepted connection `Opened { endpoint: Listener, remote: where it came
//! from, local: the listener's address }`; then the stream is a
//! [`Recorded`] with tap [`Tap::Raw`]. Addresses, errors and everything
//! else are the inner transport's.

use strata_core::{Endpoint, Listener, Multiaddr, Transport};

use crate::{Recorded, Recorder, Tap};

/// A transport whose connections are recorded. Build it with
/// [`Recorder::transport`].
#[derive(Debug)]
pub struct RecordingTransport<T> {
    inner: T,
    recorder: Recorder,
}

impl<T> RecordingTransport<T> {
    pub(crate) fn new(inner: T, recorder: Recorder) -> Self {
        Self { inner, recorder }
    }
}

impl<T: Transport> Transport for RecordingTransport<T> {
    type Stream = Recorded;
    type Listener = RecordingListener<T::Listener>;
    type Error = T::Error;

    fn can_dial(&self, addr: &Multiaddr) -> bool {
        self.inner.can_dial(addr)
    }

    fn can_listen(&self, addr: &Multiaddr) -> bool {
        self.inner.can_listen(addr)
    }

    async fn dial(&self, addr: &Multiaddr) -> Result<Recorded, T::Error> {
        let stream = self.inner.dial(addr).await?;
        let connection = self.recorder.open(Endpoint::Dialer, addr.clone(), None);
        Ok(Recorded::new(stream, self.recorder.clone(), connection, Tap::Raw))
    }

    async fn listen(&self, addr: &Multiaddr) -> Result<Self::Listener, T::Error> {
        let inner = self.inner.listen(addr).await?;
        Ok(RecordingListener { inner, recorder: self.recorder.clone() })
    }
}

/// A listener of a [`RecordingTransport`].
#[derive(Debug)]
pub struct RecordingListener<L> {
    inner: L,
    recorder: Recorder,
}

impl<L: Listener> Listener for RecordingListener<L> {
    type Stream = Recorded;
    type Error = L::Error;

    fn local_addrs(&self) -> Vec<Multiaddr> {
        self.inner.local_addrs()
    }

    async fn accept(&mut self) -> Result<(Recorded, Multiaddr), L::Error> {
        let (stream, remote) = self.inner.accept().await?;
        let local = self.inner.local_addrs().into_iter().next();
        let connection = self.recorder.open(Endpoint::Listener, remote.clone(), local);
        Ok((Recorded::new(stream, self.recorder.clone(), connection, Tap::Raw), remote))
    }
}
