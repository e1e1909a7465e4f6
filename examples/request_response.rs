//! A custom protocol in a few lines: request/response on the host.
//!
//! Two nodes in one process: `server` serves `/strata/examples/upper/1.0.0`
//! (it answers each request with its text in capitals), `client` sends it
//! a few requests. This is the way to write most protocols: one message
//! each way, bounded in size and time, with the stream handling done by
//! the host (`Host::serve`, `Host::request`).
//!
//! ```sh
//! cargo run --example request_response -- hello strata
//! ```

use strata::{Keypair, host::RequestConfig};

const PROTOCOL: &str = "/strata/examples/upper/1.0.0";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let words: Vec<String> = std::env::args().skip(1).collect();
    let words = if words.is_empty() { vec!["hello".to_owned(), "world".to_owned()] } else { words };
    let limits = RequestConfig::default().with_max_request_len(1024).with_max_response_len(1024);

    let server = strata::builder(&Keypair::generate_ed25519()).listen("/ip4/127.0.0.1/tcp/0".parse()?).build().await?;
    server.serve(PROTOCOL, limits.clone(), |requester, request| async move {
        let text = String::from_utf8_lossy(&request).to_uppercase();
        println!("server: {} asked for {:?}", requester.peer, String::from_utf8_lossy(&request));
        Ok(text.into_bytes())
    })?;

    let client = strata::builder(&Keypair::generate_ed25519()).build().await?;
    // Tell the client where the server is; `request` dials it when needed.
    let addr = server.listen_addrs()[0].clone();
    client.update_peer(server.peer_id(), |info| info.addrs.push(addr));
    for word in &words {
        let answer = client.request(server.peer_id(), PROTOCOL, word.as_bytes(), &limits).await?;
        println!("client: {word} -> {}", String::from_utf8_lossy(&answer));
    }
    println!("done: write your own protocol with Host::serve and Host::request (see examples/request_response.rs)");
    client.shutdown().await;
    server.shutdown().await;
    Ok(())
}
