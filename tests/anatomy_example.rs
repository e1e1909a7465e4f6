//! The anatomy example runs, and what it prints is what the specs say a
//! connection carries: checked line by line against the protocols' known
//! structure, so the example cannot silently rot.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

#[path = "support/anatomy.rs"]
mod anatomy;

use anatomy::{run, sections};

/// The lines of the section called `title`.
fn section<'a>(all: &'a std::collections::BTreeMap<String, Vec<String>>, title: &str) -> &'a [String] {
    all.get(title).unwrap_or_else(|| panic!("no section {title:?} in {:?}", all.keys().collect::<Vec<_>>()))
}

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|line| line.contains(needle))
}

/// The peer ids the example names on its second and third lines.
fn peers(output: &str) -> (String, String) {
    let id = |prefix: &str| {
        output.lines().find_map(|line| line.strip_prefix(prefix)).map(|id| id.trim().to_owned()).unwrap()
    };
    (id("dialer "), id("listener "))
}

#[tokio::test]
async fn over_yamux_every_layer_decodes_as_its_spec_says() {
    let output = run(&["--muxer", "yamux"]).await;
    let all = sections(&output);
    let (dialer, listener) = peers(&output);

    let tcp = section(&all, "tcp: the connection");
    assert!(has(tcp, "the dialer connects to /ip4/127.0.0.1/tcp/"), "{tcp:?}");
    assert!(has(tcp, &format!("secured with /noise; the remote proved to be {listener}")), "{tcp:?}");

    // multistream-select: a 0x13-byte header line, then "/noise" (7 bytes), each side.
    let security = section(&all, "multistream-select: the security protocol, in the clear");
    assert_eq!(security.len(), 4, "{security:?}");
    assert!(security[0].starts_with("dialer → listener  13 2f6d756c746973747265616d2f312e302e300a"), "{security:?}");
    assert!(has(security, "dialer → listener  07 2f6e6f6973650a  \"/noise\\n\"  proposes /noise"), "{security:?}");
    assert!(has(security, "listener → dialer  07 2f6e6f6973650a  \"/noise\\n\"  accepts /noise"), "{security:?}");

    // Noise XX: 32 bytes, then e + s (48) + payload, then s (48) + payload;
    // both static keys decrypt to the keys the nodes hold, both identity
    // signatures verify, and each payload names its sender.
    let handshake = section(&all, "noise: the XX handshake");
    assert!(has(handshake, "message 1  -> e  dialer → listener, 34 bytes"), "{handshake:?}");
    assert!(has(handshake, "  0020  length: 32"), "{handshake:?}");
    assert!(has(handshake, "message 2  <- e, ee, s, es  listener → dialer"), "{handshake:?}");
    assert!(has(handshake, "message 3  -> s, se  dialer → listener"), "{handshake:?}");
    assert_eq!(handshake.iter().filter(|line| line.ends_with("(its static key)")).count(), 2, "{handshake:?}");
    assert_eq!(
        handshake.iter().filter(|line| line.ends_with("verifies with identity_key")).count(),
        2,
        "{handshake:?}"
    );
    assert!(
        has(handshake, &format!("Ed25519 key of peer {listener}"))
            && has(handshake, &format!("Ed25519 key of peer {dialer}"))
    );
    let transport = section(&all, "noise: transport messages (ciphertext)");
    assert!(transport.len() > 10 && has(transport, "of plaintext + 16-byte tag"), "{transport:?}");

    let muxer = section(&all, "multistream-select: the muxer, inside the encryption");
    assert!(has(muxer, "accepts /yamux/1.0.0"), "{muxer:?}");
    let frames = section(&all, "yamux: every frame, in order");
    // A new stream is a SYN on an odd id from the dialer, ACKed; the session ends with a GoAway.
    assert!(has(frames, "dialer → listener  000100010000000100000000  WindowUpdate stream 1 flags SYN"), "{frames:?}");
    assert!(has(frames, "listener → dialer  000100020000000100000000  WindowUpdate stream 1 flags ACK"), "{frames:?}");
    assert!(has(frames, "WindowUpdate stream 2 flags SYN"), "the listener's streams are even: {frames:?}");
    assert!(has(frames, "GoAway       code 0"), "{frames:?}");

    // identify both ways: the responder's key, protocols, the observed address.
    let identify = section(&all, "stream /ipfs/id/1.0.0, opened by the dialer: /ipfs/id/1.0.0");
    assert!(has(identify, "(nothing: opening the stream is the question)"), "{identify:?}");
    assert!(has(identify, "1 publicKey: 0a24 08011220") && has(identify, &format!("key of peer {listener}")));
    assert!(has(identify, "2 listenAddrs: 1208 047f000001"), "{identify:?}");
    assert!(
        has(identify, "3 protocols: 1a10 2f697066732f70696e672f312e302e30  = \"/ipfs/ping/1.0.0\""),
        "{identify:?}"
    );
    assert!(has(identify, "4 observedAddr: 2208 047f000001"), "{identify:?}");
    assert!(has(identify, "6 agentVersion: 320c 7374726174612f302e312e30  = \"strata/0.1.0\""), "{identify:?}");
    let identified = section(&all, "stream /ipfs/id/1.0.0, opened by the listener: /ipfs/id/1.0.0");
    assert!(has(identified, &format!("key of peer {dialer}")), "{identified:?}");

    // ping: 32 bytes and the same 32 back.
    let ping = section(&all, "stream /ipfs/ping/1.0.0, opened by the dialer: /ipfs/ping/1.0.0");
    assert_eq!(ping.len(), 2, "{ping:?}");
    let bytes = |line: &str| line.split_whitespace().nth(3).unwrap().to_owned();
    assert_eq!(bytes(&ping[0]).len(), 64);
    assert_eq!(bytes(&ping[0]), bytes(&ping[1]));
    assert!(ping[1].ends_with("echoed"), "{ping:?}");

    // An unserved version first: the listener's "na" (the spec's 03 6e610a), then the fallback.
    let negotiation = section(&all, "stream /strata/anatomy/hello/1.0.0, opened by the dialer: multistream-select");
    assert!(has(negotiation, "proposes /strata/anatomy/hello/2.0.0"), "{negotiation:?}");
    assert!(has(negotiation, "listener → dialer  03 6e610a  \"na\\n\""), "{negotiation:?}");
    assert!(
        negotiation.last().unwrap().ends_with("accepts /strata/anatomy/hello/1.0.0 by echoing it"),
        "{negotiation:?}"
    );
    let hello = section(&all, "stream /strata/anatomy/hello/1.0.0, opened by the dialer: /strata/anatomy/hello/1.0.0");
    assert!(has(hello, "\"hello from the dialer\\n\"") && has(hello, "\"hello from the listener\\n\""), "{hello:?}");

    // floodsub: subscriptions, then the signed message.
    let floodsub = section(&all, "stream /floodsub/1.0.0, opened by the dialer: /floodsub/1.0.0");
    assert!(has(floodsub, "2 topicid: 1207 616e61746f6d79  = \"anatomy\""), "{floodsub:?}");
    assert!(has(floodsub, "1 from: 0a26 00240801") && has(floodsub, &format!("= peer {dialer}")));
    assert!(has(floodsub, "2 data: 120d 68656c6c6f2c20707562737562  = \"hello, pubsub\""), "{floodsub:?}");
    assert!(has(floodsub, "3 seqno: 1a08 "), "{floodsub:?}");
    assert!(has(floodsub, "5 signature: 2a40 "), "{floodsub:?}");
    assert!(has(floodsub, ": verifies with the key inlined in `from`"), "{floodsub:?}");
    assert!(!output.contains("NOT") && !output.contains("malformed"), "{output}");
}

#[tokio::test]
async fn over_mplex_with_gossipsub_the_frames_and_rpcs_decode_too() {
    let output = run(&["--muxer", "mplex", "--pubsub", "gossipsub"]).await;
    let all = sections(&output);
    assert!(has(section(&all, "multistream-select: the muxer, inside the encryption"), "accepts /mplex/6.7.0"));
    let frames = section(&all, "mplex: every frame, in order");
    // The dialer's first stream: NewStream (header 0x00 = stream 0, flag 0), its name "0".
    assert!(has(frames, "dialer → listener  0001  NewStream (flag 0) stream 0 name \"0\""), "{frames:?}");
    assert!(has(frames, "Message   (flag 2) stream 0"), "{frames:?}");
    assert!(has(frames, "Message   (flag 1) stream 0"), "{frames:?}");
    let ping = section(&all, "stream /ipfs/ping/1.0.0, opened by the dialer: mplex frames");
    assert!(has(ping, "dialer → listener  0801  NewStream (flag 0) stream 1 name \"1\""), "{ping:?}");
    let gossipsub = section(&all, "stream /meshsub/1.2.0, opened by the dialer: /meshsub/1.2.0");
    assert!(has(gossipsub, "2 data: 120d 68656c6c6f2c20707562737562  = \"hello, pubsub\""), "{gossipsub:?}");
    assert!(has(gossipsub, ": verifies with the key inlined in `from`"), "{gossipsub:?}");
    assert!(!output.contains("NOT") && !output.contains("malformed"), "{output}");
}

#[tokio::test]
async fn one_layer_at_a_time_and_the_same_bytes_for_the_same_seed() {
    let noise = run(&["--layer", "noise", "--seed", "7"]).await;
    let all = sections(&noise);
    assert_eq!(all.keys().collect::<Vec<_>>(), ["noise: the XX handshake", "noise: transport messages (ciphertext)"]);
    let again = sections(&run(&["--layer", "noise", "--seed", "7"]).await);
    assert_eq!(all["noise: the XX handshake"], again["noise: the XX handshake"]);
    let other = sections(&run(&["--layer", "noise", "--seed", "8"]).await);
    assert_ne!(all["noise: the XX handshake"], other["noise: the XX handshake"]);
    // --raw: nothing abbreviated.
    let raw = run(&["--layer", "app", "--raw"]).await;
    assert!(!raw.contains('…') && raw.contains("signature: 2a40 "), "{raw}");
}
