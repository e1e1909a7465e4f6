#![doc = include_str!("../README.md")]

pub mod frame;

pub use frame::{Decoder, Flags, Frame, FrameError, GoAway, Header, Type};

/// The protocol id negotiated with multistream-select.
pub const PROTOCOL_NAME: &str = "/yamux/1.0.0";

/// Every stream's receive window before any window update (spec: "Flow
/// Control"): 256 KiB.
pub const INITIAL_WINDOW: u32 = 256 * 1024;
pub mod session;

pub use session::{Event, Role, Session, SessionConfig, SessionError, StreamError};
