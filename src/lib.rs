#![doc = include_str!("../README.md")]

pub use strata_core as core;
pub use strata_core::{
    Endpoint, Error, KeyType, Keypair, Multiaddr, PeerId, PublicKey, Result, multiaddr, multistream,
};
pub use strata_mplex as mplex;
pub use strata_noise as noise;
pub use strata_tcp as tcp;
