//! Setting up the `Rtc` of a connection: WebRTC-direct's munged
//! session, made with str0m's direct API instead of SDP.
//!
//! Spec: `libp2p-webrtc-direct.md`, "Connection Establishment", steps 4
//! to 7. Both sides know everything an SDP exchange would carry:
//!
//! ```text
//! ICE ufrag and password   the client's random ufrag, on both sides, for both ends
//!                          (the server reads it from the STUN USERNAME)
//! ICE roles                server ICE-lite, controlled; client controlling
//! DTLS roles               server passive (DTLS server); client active
//! DTLS fingerprint         client: the address's certhash (checked);
//!                          server: none known (checking off; Noise binds it later)
//! SCTP                     client starts the association; channel 0 negotiated on both
//! ```

use std::{net::SocketAddr, sync::Arc, time::Instant};

use str0m::{
    Candidate, Rtc, RtcConfig,
    channel::{ChannelConfig, ChannelId},
};
use strata_core::PeerId;

use crate::{Certificate, Fingerprint, Result};

/// What SCTP may hold sent but unacknowledged, all channels together
/// (str0m's default is 128 KiB).
const SCTP_BUFFERED: usize = 1024 * 1024;

/// The ICE credentials of a connection: WebRTC-direct's munging makes the
/// ufrag the password too.
fn creds(ufrag: &str) -> str0m::IceCreds {
    str0m::IceCreds { ufrag: ufrag.to_owned(), pass: ufrag.to_owned() }
}

/// Which end of the connection we are.
#[derive(Debug)]
pub(crate) enum Role {
    /// The listener: ICE-lite, DTLS server, Noise initiator. It does not
    /// know the client's certificate before DTLS (spec step 7).
    Server {
        /// The server's ufrag as the client set it (first half of the
        /// STUN USERNAME).
        local_ufrag: String,
        /// The client's (second half).
        remote_ufrag: String,
    },
    /// The dialer: ICE controlling, DTLS client, Noise responder; it
    /// expects the server's certificate named in the address.
    Client {
        /// Our random ufrag (also the server's, by the munging).
        ufrag: String,
        /// The server's address.
        remote: SocketAddr,
        /// The server's certificate, from `/certhash`.
        server: Fingerprint,
        /// Who we dialed, if the address said.
        expected: Option<PeerId>,
    },
}

/// Makes the `Rtc` of a new connection.
pub(crate) fn new_rtc(
    certificate: &Certificate,
    local: SocketAddr,
    role: &Role,
    now: Instant,
) -> Result<(Rtc, ChannelId)> {
    let server = matches!(role, Role::Server { .. });
    let mut rtc = RtcConfig::new()
        .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
        .set_dtls_cert(certificate.to_dtls())
        .set_ice_lite(server)
        // The server learns the client's certificate in DTLS and checks it
        // with Noise; the client checks the server's against the certhash.
        .set_fingerprint_verification(!server)
        // What SCTP may hold unacknowledged, for all channels together:
        // it caps the bytes in flight per round trip.
        .set_sctp_max_buffered_amount(SCTP_BUFFERED)
        .build(now);
    rtc.add_local_candidate(Candidate::host(local, "udp")?);
    let mut api = rtc.direct_api();
    match role {
        Role::Server { local_ufrag, remote_ufrag } => {
            api.set_local_ice_credentials(creds(local_ufrag));
            api.set_remote_ice_credentials(creds(remote_ufrag));
            // Any fingerprint: verification is off (spec step 6.2).
            api.set_remote_fingerprint(Fingerprint::from_bytes([0; 32]).to_str0m());
            api.set_ice_controlling(false);
            api.start_dtls(false)?;
            api.start_sctp(false);
        }
        Role::Client { ufrag, server, .. } => {
            api.set_local_ice_credentials(creds(ufrag));
            api.set_remote_ice_credentials(creds(ufrag));
            api.set_remote_fingerprint(server.to_str0m());
            api.set_ice_controlling(true);
            api.start_dtls(true)?;
            api.start_sctp(true);
        }
    }
    let noise = api.create_data_channel(ChannelConfig { negotiated: Some(0), ..ChannelConfig::default() });
    if let Role::Client { remote, .. } = role {
        rtc.add_remote_candidate(Candidate::host(*remote, "udp")?);
    }
    Ok((rtc, noise))
}
