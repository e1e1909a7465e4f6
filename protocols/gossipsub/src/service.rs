//! `Gossipsub`: the gossipsub router on the shared pubsub service
//! (`strata_pubsub::Service`: streams, writers, subscribers, lifecycle,
//! heartbeat timer). The same application API as `Floodsub`.

use std::time::{Duration, Instant};

use strata_core::PeerId;
use strata_host::Host;
use strata_pubsub::{Event, Service, Subscription, service::Error};
use tokio::sync::broadcast;

use crate::{Config, router::GossipRouter};

/// The gossipsub service of a host. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Gossipsub {
    service: Service<GossipRouter>,
}

impl Gossipsub {
    /// Serves `/meshsub/1.2.0`, `/meshsub/1.1.0`, `/meshsub/1.0.0` and
    /// `/floodsub/1.0.0` on `host`, follows its connections and starts
    /// the heartbeat.
    /// The direct peers of the config are added to the host's peer store
    /// (with their addresses) and dialed at the first heartbeat.
    pub fn attach(host: &Host, config: Config) -> Result<Self, Error> {
        for (peer, addrs) in &config.direct_peers {
            host.update_peer(*peer, |info| info.addrs.extend(addrs.iter().cloned()));
        }
        let service = config.service();
        Ok(Self { service: Service::attach(host, GossipRouter::new(config), service)? })
    }

    /// Subscribes to `topic` (joining its mesh): the messages published to
    /// it arrive on the returned [`Subscription`]; dropping it
    /// unsubscribes (and leaves the mesh).
    pub fn subscribe(&self, topic: &str) -> Subscription {
        self.service.subscribe(topic)
    }

    /// Publishes `data` to `topic` (subscribed or not). Our own
    /// subscribers do not receive it.
    pub fn publish(&self, topic: &str, data: impl AsRef<[u8]>) -> Result<(), Error> {
        self.service.publish(topic, data)
    }

    /// The peers subscribed to `topic`.
    pub fn peers(&self, topic: &str) -> Vec<PeerId> {
        self.service.peers(topic)
    }

    /// The peers in our mesh of `topic`.
    pub fn mesh_peers(&self, topic: &str) -> Vec<PeerId> {
        self.service.with_router(|router| router.mesh_peers(topic))
    }

    /// The score of `peer` now (v1.1 peer scoring; 0 with scoring off,
    /// for a direct peer, or for a peer never seen).
    pub fn peer_score(&self, peer: PeerId) -> f64 {
        self.service.with_router(|router| router.score(peer, Instant::now()))
    }

    /// Sets the application's score of a connected peer (P5, weighted by
    /// `app_specific_weight`); `false` if the peer is not connected or
    /// scoring is off.
    pub fn set_application_score(&self, peer: PeerId, score: f64) -> bool {
        self.service.with_router_mut(|router| router.set_application_score(peer, score))
    }

    /// A new subscription to the service's events (subscriptions, mesh
    /// changes).
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.service.events()
    }

    /// Waits until every RPC queued so far has been written (or given up
    /// on), at most `timeout`; `false` if some were still queued then.
    pub async fn flush(&self, timeout: Duration) -> bool {
        self.service.flush(timeout).await
    }

    /// How many peers the service keeps state for: zero once every peer
    /// has left.
    pub fn tracked_peers(&self) -> usize {
        self.service.tracked_peers()
    }
}
