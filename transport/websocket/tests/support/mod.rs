//! Shared by the WebSocket tests: certificates made at test time, PEM
//! files of a test's own, and transports and hosts over loopback.

#![allow(dead_code, unreachable_pub)] // each test file uses a part

use std::path::PathBuf;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use strata_core::{Keypair, Multiaddr};
use strata_host::{Host, Upgrader};
use strata_tcp::TcpTransport;
use strata_websocket::{Config, WsTransport};

/// Numbers the test CAs of this process.
static NEXT_CA: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A certificate authority of the test's own and a server certificate it
/// signed for `localhost` and `127.0.0.1`.
pub struct Pki {
    /// The CA's certificate: the root a client trusts.
    pub root: CertificateDer<'static>,
    /// The server's certificate (PEM).
    pub cert_pem: String,
    /// The server's key (PEM, PKCS#8).
    pub key_pem: String,
    /// The server's certificate and key (DER).
    pub chain: Vec<CertificateDer<'static>>,
    pub key_der: Vec<u8>,
}

impl Pki {
    pub fn new() -> Self {
        Self::for_names(&["localhost", "127.0.0.1"])
    }

    /// A server certificate for `names` (DNS names or IPs).
    pub fn for_names(names: &[&str]) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        // A name of its own: two test CAs of one name would make a
        // certificate of the other look like a forgery (BadSignature)
        // rather than a stranger's (UnknownIssuer).
        let n = NEXT_CA.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, format!("strata test CA {n}"));
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>()).unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        Self {
            root: ca.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            chain: vec![cert.der().clone()],
            key_der: key.serialize_der(),
        }
    }

    /// Writes the certificate and key to PEM files in a directory of the
    /// test's own; returns their paths.
    pub fn write_pem(&self, test: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("strata-websocket-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }

    /// The server's key as rustls takes it.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key_der.clone()).into()
    }

    /// A configuration serving `/tls/ws` with this PKI's certificate (read
    /// from PEM files) and trusting its CA.
    pub fn config(&self, test: &str) -> Config {
        let (cert, key) = self.write_pem(test);
        Config::default().with_tls_pem(cert, key).unwrap().with_tls_roots([self.root.clone()]).unwrap()
    }
}

/// A WebSocket transport over a TCP transport of its own.
pub fn transport(config: Config) -> WsTransport<TcpTransport> {
    WsTransport::new(TcpTransport::default(), config)
}

/// A host on WebSocket only (Noise, yamux), listening on `listen`.
pub async fn host(config: Config, listen: &[&str]) -> Host {
    builder(config, listen).build().await.unwrap()
}

/// [`host`], not built yet.
pub fn builder(config: Config, listen: &[&str]) -> strata_host::Builder {
    let upgrader =
        Upgrader::new(transport(config)).security(strata_noise::Config::new).muxer(strata_yamux::Config::default());
    let mut builder = strata_host::Builder::new(&Keypair::generate_ed25519()).upgrader(upgrader);
    for addr in listen {
        builder = builder.listen(addr.parse().unwrap());
    }
    builder
}

/// The first listen address of `host` ending in `suffix`, with its
/// `/p2p/<id>`.
pub fn address(host: &Host, suffix: &str) -> Multiaddr {
    let addr = host
        .listen_addrs()
        .into_iter()
        .find(|addr| addr.to_string().ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} address in {:?}", host.listen_addrs()));
    addr.with_p2p(host.peer_id()).unwrap()
}

/// The TCP port of `addr`.
pub fn port(addr: &Multiaddr) -> u16 {
    addr.iter()
        .find_map(|c| if let strata_core::multiaddr::Component::Tcp(port) = c { Some(port) } else { None })
        .unwrap()
}
