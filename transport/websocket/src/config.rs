//! The knobs of the WebSocket transport, each with its default and what
//! happens when it is reached; and the TLS identity of a `/tls/ws`
//! listener.

use std::{path::Path, sync::Arc, time::Duration};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};

use crate::{Error, Result, tls};

/// Configuration of a [`crate::WsTransport`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) server_tls: Option<Arc<rustls::ServerConfig>>,
    /// An error when rustls refused the configuration: each `/tls/ws`
    /// dial then fails with it.
    pub(crate) client_tls: std::result::Result<Arc<rustls::ClientConfig>, rustls::Error>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 1 << 20,
            max_message_size: 4 << 20,
            handshake_timeout: Duration::from_secs(10),
            server_tls: None,
            client_tls: tls::client_config(tls::webpki_roots()),
        }
    }
}

impl Config {
    /// The largest frame payload a peer may send. Default: 1 MiB. A bigger
    /// frame (its header says how big before any of it is read) is a
    /// protocol error: that connection fails, nothing else. Frames this
    /// transport sends carry at most 64 KiB (or this, if smaller).
    #[must_use]
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes.max(1);
        self
    }

    /// The largest message (a frame with its continuation fragments) a
    /// peer may send: what bounds a flood of small fragments. Default:
    /// 4 MiB. Past it, that connection fails.
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.max(1);
        self
    }

    /// How long the TLS handshake (for `/tls/ws`) and the HTTP upgrade
    /// together may take, on either side. Default: 10 s. Past it, the
    /// dial fails with [`Error::HandshakeTimeout`]; an inbound peer that
    /// never finishes loses its socket, and the listener is not held up by
    /// it (the handshake runs in the connection's upgrade, not in
    /// `accept`).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Serves `/tls/ws` with this certificate chain (leaf first) and key,
    /// read from PEM files (as an HTTPS server's: `fullchain.pem`,
    /// `privkey.pem`). Without it, listening on `/tls/ws` fails with
    /// [`Error::NoCertificate`].
    pub fn with_tls_pem(self, cert_chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self> {
        let (cert_chain, key) = (cert_chain.as_ref(), key.as_ref());
        let pem_error = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Pem { path, source }
        };
        let chain = CertificateDer::pem_file_iter(cert_chain)
            .map_err(pem_error(cert_chain))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(pem_error(cert_chain))?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error(key))?;
        self.with_tls_certificate(chain, key)
    }

    /// Serves `/tls/ws` with this certificate chain (leaf first, DER) and
    /// key: [`Config::with_tls_pem`] for certificates already in memory.
    pub fn with_tls_certificate(
        mut self,
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self> {
        self.server_tls = Some(tls::server_config(cert_chain, key)?);
        Ok(self)
    }

    /// Verifies `/tls/ws` servers against these root certificates (DER)
    /// instead of the Web PKI's (Mozilla's list, compiled in: the
    /// default). For a private CA, or a test's self-signed certificate.
    pub fn with_tls_roots(mut self, roots: impl IntoIterator<Item = CertificateDer<'static>>) -> Result<Self> {
        let mut store = rustls::RootCertStore::empty();
        for root in roots {
            store.add(root).map_err(Error::Certificate)?;
        }
        self.client_tls = Ok(tls::client_config(store).map_err(Error::Certificate)?);
        Ok(self)
    }

    /// Dials `/tls/ws` with this rustls configuration (client
    /// certificates, custom verification), replacing the roots set
    /// before.
    #[must_use]
    pub fn with_tls_client_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.client_tls = Ok(config);
        self
    }

    /// Whether `/tls/ws` can be listened on.
    pub fn serves_tls(&self) -> bool {
        self.server_tls.is_some()
    }

    /// What tungstenite is told: the size limits, and small buffers (a
    /// read buffer of 8 KiB instead of 128 KiB; writes go straight to the
    /// socket, the layers above batch them).
    pub(crate) fn websocket(&self) -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(8 << 10)
            .write_buffer_size(0)
            .max_frame_size(Some(self.max_frame_size))
            .max_message_size(Some(self.max_message_size))
    }

    /// The largest payload of one frame this transport sends.
    pub(crate) fn write_frame_size(&self) -> usize {
        self.max_frame_size.min(64 << 10)
    }
}
