//! [`PubSub`]: floodsub or gossipsub, chosen at run time (a CLI flag),
//! behind the API the two share: subscribe, publish, peers, events,
//! flush. Code that picks its router at compile time uses
//! [`crate::floodsub::Floodsub`] or [`crate::gossipsub::Gossipsub`] directly.

use std::time::Duration;

use strata_core::PeerId;
use strata_pubsub::{Event, Subscription, service::Error};
use tokio::sync::broadcast;

use crate::{floodsub::Floodsub, gossipsub::Gossipsub};

/// One of the two pubsub routers. Cheap to clone.
#[derive(Clone, Debug)]
pub enum PubSub {
    /// `/floodsub/1.0.0`.
    Floodsub(Floodsub),
    /// `/meshsub/1.2.0` (and 1.1, 1.0, floodsub peers).
    Gossipsub(Gossipsub),
}

impl PubSub {
    /// Subscribes to `topic`; dropping the subscription unsubscribes.
    pub fn subscribe(&self, topic: &str) -> Subscription {
        match self {
            Self::Floodsub(router) => router.subscribe(topic),
            Self::Gossipsub(router) => router.subscribe(topic),
        }
    }

    /// Publishes `data` to `topic`.
    pub fn publish(&self, topic: &str, data: impl AsRef<[u8]>) -> Result<(), Error> {
        match self {
            Self::Floodsub(router) => router.publish(topic, data),
            Self::Gossipsub(router) => router.publish(topic, data),
        }
    }

    /// The peers subscribed to `topic`.
    pub fn peers(&self, topic: &str) -> Vec<PeerId> {
        match self {
            Self::Floodsub(router) => router.peers(topic),
            Self::Gossipsub(router) => router.peers(topic),
        }
    }

    /// A new subscription to the router's events.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        match self {
            Self::Floodsub(router) => router.events(),
            Self::Gossipsub(router) => router.events(),
        }
    }

    /// Waits until every RPC queued so far is written, at most `timeout`.
    pub async fn flush(&self, timeout: Duration) -> bool {
        match self {
            Self::Floodsub(router) => router.flush(timeout).await,
            Self::Gossipsub(router) => router.flush(timeout).await,
        }
    }
}
