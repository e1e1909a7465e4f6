//! `relay::Error`: what reading a message or a client exchange can fail
//! with, one enum for the crate.

use crate::{DecodeError, Status};

/// What reading a hop or stop message, or a client's exchange with a
/// relay, can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed, ended, or announced a frame above
    /// [`crate::MAX_MESSAGE_SIZE`].
    #[error("reading or writing a frame: {0}")]
    Frame(#[from] strata_core::Error),
    /// The frame is not a valid message.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The other side answered with a status other than `OK`.
    #[error("refused with {0:?}")]
    Refused(Status),
    /// The other side sent a valid message of the wrong type.
    #[error("unexpected message: wanted {wanted}")]
    Unexpected {
        /// The message type that was due.
        wanted: &'static str,
    },
    /// A `RESERVE` was answered `OK` without a reservation.
    #[error("reservation granted without a Reservation field")]
    MissingReservation,
    /// The host failed to reach the relay or to open a stream to it.
    #[error("reaching the relay: {0}")]
    Host(#[from] strata_host::Error),
    /// The address is not a circuit address this client serves
    /// (`…/p2p/<relay>/p2p-circuit/p2p/<target>` to dial,
    /// `…/p2p/<relay>/p2p-circuit` to listen).
    #[error("not a circuit address: {0}")]
    InvalidAddress(strata_core::Multiaddr),
    /// The [`crate::Client`] was not attached to its host yet.
    #[error("the relay client is not attached to a host")]
    NotAttached,
    /// The [`crate::Client`] was attached to a host before.
    #[error("the relay client is attached to a host already")]
    AlreadyAttached,
    /// This host listens through that relay already.
    #[error("already listening through relay {0}")]
    AlreadyListening(strata_core::PeerId),
    /// An exchange with the relay took longer than the handshake timeout.
    #[error("no answer from the relay within {0:?}")]
    Timeout(std::time::Duration),
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
