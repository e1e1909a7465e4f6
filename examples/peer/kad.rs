//! The Kademlia side of `peer` (`INTEROP.md`: `--kad`, `--bootstrap`, the
//! `kad-*` stdin commands): each command runs in a task of its own and
//! prints its reply event, or `kad_error`.

use serde_json::json;
use strata::{PeerId, kad::Kad};

use crate::emit;

/// Runs `line` if it is a `kad-*` command (`kad` is `None` without
/// `--kad`); `false` if it is not one.
pub(crate) fn command(kad: Option<&Kad>, line: &str) -> bool {
    let mut words = line.trim().splitn(3, ' ');
    let (Some(op), key, rest) = (words.next(), words.next(), words.next()) else { return false };
    if !op.starts_with("kad-") {
        return false;
    }
    let Some(kad) = kad.cloned() else {
        emit("kad_error", json!({ "op": op, "key": key, "reason": "run with --kad" }));
        return true;
    };
    let (op, key, rest) = (op.to_owned(), key.map(str::to_owned), rest.map(str::to_owned));
    tokio::spawn(async move {
        let failed = |reason: String| emit("kad_error", json!({ "op": op, "key": key, "reason": reason }));
        match (op.as_str(), key.as_deref(), rest.as_deref()) {
            ("kad-bootstrap", None, None) => match kad.bootstrap().await {
                Ok(peers) => emit("kad_bootstrapped", json!({ "peers": peers })),
                Err(error) => failed(error.to_string()),
            },
            ("kad-put", Some(key), Some(value)) => match kad.put_value(key.as_bytes(), value.as_bytes().to_vec()).await
            {
                Ok(stored_at) => emit("kad_put", json!({ "key": key, "stored_at": stored_at })),
                Err(error) => failed(error.to_string()),
            },
            ("kad-get", Some(key), None) => match kad.get_value(key.as_bytes()).await {
                Ok(value) => emit("kad_value", json!({ "key": key, "value": String::from_utf8_lossy(&value) })),
                Err(error) => failed(error.to_string()),
            },
            ("kad-provide", Some(key), None) => match kad.provide(key.as_bytes()).await {
                Ok(_) => emit("kad_provided", json!({ "key": key })),
                Err(error) => failed(error.to_string()),
            },
            ("kad-providers", Some(key), None) => match kad.providers(key.as_bytes()).await {
                Ok(found) => {
                    let providers: Vec<String> = found.iter().map(|(peer, _)| peer.to_string()).collect();
                    emit("kad_providers", json!({ "key": key, "providers": providers }));
                }
                Err(error) => failed(error.to_string()),
            },
            ("kad-find", Some(peer), None) => match peer.parse::<PeerId>() {
                Ok(peer) => match kad.find_peer(peer).await {
                    Ok(addrs) => {
                        let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                        emit("kad_peer", json!({ "peer_id": peer.to_string(), "addrs": addrs }));
                    }
                    Err(error) => failed(error.to_string()),
                },
                Err(error) => failed(format!("not a peer id: {error}")),
            },
            _ => failed("unknown kad command or wrong arguments".into()),
        }
    });
    true
}
