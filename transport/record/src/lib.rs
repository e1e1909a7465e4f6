#![doc = include_str!("../README.md")]

mod recorder;
mod security;
mod stream;
mod transport;

pub use recorder::{Chunk, Direction, Record, Recorder, Tap};
pub use security::RecordingSecurity;
pub use stream::Recorded;
pub use transport::{RecordingListener, RecordingTransport};
