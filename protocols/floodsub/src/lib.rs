#![doc = include_str!("../README.md")]

mod router;

pub use router::FloodRouter;
pub use strata_pubsub::{
    Error, Event, Message, MessageError, MessageId, MessageIdFn, SignaturePolicy, Subscription, Violation,
};

/// Configuration of [`Floodsub`]: the configuration every pubsub router
/// shares (floodsub has no parameters of its own).
pub type Config = strata_pubsub::Config;

/// The floodsub service of a host ([`strata_pubsub::Service`] running a
/// [`FloodRouter`]): `Floodsub::attach(&host, Config::default())` serves
/// `/floodsub/1.0.0` and follows the host's connections. Cheap to clone.
pub type Floodsub = strata_pubsub::Service<FloodRouter>;

/// The protocol id.
pub const PROTOCOL: &str = "/floodsub/1.0.0";
