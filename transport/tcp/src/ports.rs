//! The listen ports this process holds, across every TCP transport in it.
//!
//! With `SO_REUSEPORT` (port reuse, [`crate::Config::with_port_reuse`]) the
//! kernel lets any socket of the same user that sets the option bind a
//! port already bound: that is how dials share the listen port. It would
//! also let two listeners share one, and the kernel would then spread
//! inbound connections between them: two strata hosts in one process,
//! each given the same port, would each get half of the other's peers.
//! Every listener therefore claims its address here, and a second claim
//! on the same port (same IP, or either a wildcard of the same family)
//! fails as the bind would without the option. Claims end when the
//! listener is dropped.

use std::{
    net::SocketAddr,
    sync::{Mutex, PoisonError},
};

/// How many times a port-0 listen asks the kernel for another port when it
/// hands out one this process holds.
pub(crate) const MAX_BIND_ATTEMPTS: usize = 8;

static CLAIMED: Mutex<Vec<SocketAddr>> = Mutex::new(Vec::new());

/// A listener's hold on its address; released on drop.
#[derive(Debug)]
pub(crate) struct Claim(SocketAddr);

impl Claim {
    pub(crate) fn addr(&self) -> SocketAddr {
        self.0
    }
}

/// Whether two listen addresses would share inbound connections.
fn overlap(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port()
        && a.is_ipv4() == b.is_ipv4()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// Claims `bound`, unless a live listener of this process holds it.
pub(crate) fn claim(bound: SocketAddr) -> Option<Claim> {
    let mut claimed = CLAIMED.lock().unwrap_or_else(PoisonError::into_inner);
    if claimed.iter().any(|held| overlap(*held, bound)) {
        return None;
    }
    claimed.push(bound);
    Some(Claim(bound))
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut claimed = CLAIMED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = claimed.iter().position(|held| *held == self.0) {
            claimed.swap_remove(index);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_port_is_claimed_once_per_family() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let held = claim(a).unwrap();
        assert!(claim(a).is_none(), "the same address");
        assert!(claim("0.0.0.0:1".parse().unwrap()).is_none(), "the wildcard covers it");
        let other_ip = claim("127.0.0.2:1".parse().unwrap()).unwrap();
        let v6 = claim("[::1]:1".parse().unwrap()).unwrap();
        drop((held, other_ip, v6));
        let again = claim(a);
        assert!(again.is_some(), "released on drop");
    }
}
