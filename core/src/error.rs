//! The one error type of `strata-core`, and its `Result` alias.
//!
//! Every decoder in this crate takes bytes from strangers, so each variant
//! names a failure a caller can act on: drop the peer (`InvalidKey`, `Der`,
//! `InvalidPeerId`, `Multistream`), try another protocol
//! (`ProtocolsRefused`), or report a bad address to a user
//! (`InvalidMultiaddr`, `UnknownProtocol`). Nothing here panics on input.

use crate::identity::KeyType;

/// What can go wrong in `strata-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The underlying byte stream failed, or ended before a message was
    /// complete (`std::io::ErrorKind::UnexpectedEof`).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),

    /// A varint was truncated, longer than 9 bytes, or not minimally encoded.
    #[error("invalid varint: {0}")]
    InvalidVarint(&'static str),

    /// A length prefix announced more bytes than the reader accepts. Nothing
    /// was allocated for it.
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// The length the prefix announced.
        len: u64,
        /// The limit the reader was given.
        max: usize,
    },

    /// Bytes that should encode a key do not.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),

    /// A key of a type that cannot be used this way: an RSA key cannot be
    /// generated (load one instead), and `KeyType` values outside libp2p's
    /// four are refused when decoded.
    #[error("unsupported key type {0:?}")]
    UnsupportedKeyType(KeyType),

    /// Bytes that should be ASN.1 DER (a key's `SubjectPublicKeyInfo`, an
    /// `ECPrivateKey`, PKCS#1 or PKCS#8) are not.
    #[error("invalid DER: {0}")]
    Der(&'static str),

    /// Bytes or text that should be a peer id are not.
    #[error("invalid peer id: {0}")]
    InvalidPeerId(&'static str),

    /// A multiaddr protocol name or code this implementation does not know.
    #[error("unknown multiaddr protocol {0}")]
    UnknownProtocol(String),

    /// A multiaddr, in text or binary form, is malformed.
    #[error("invalid multiaddr: {0}")]
    InvalidMultiaddr(String),

    /// A protocol name we were asked to propose or serve is not valid
    /// (empty, not starting with `/`, too long, or containing a newline).
    #[error("invalid protocol name {0:?}")]
    InvalidProtocolName(String),

    /// The remote answered `na` to every protocol we proposed.
    #[error("the remote supports none of the protocols {0:?}")]
    ProtocolsRefused(Vec<String>),

    /// The remote broke the multistream-select protocol: a wrong header, a
    /// message out of place, or too many attempts.
    #[error("multistream-select violation: {0}")]
    Multistream(String),
}

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
