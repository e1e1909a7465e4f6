//! The chat example as a person uses it: two processes, lines typed into
//! one (stdin) appear in the other (stdout). `cargo test` builds the
//! examples, so the binary is beside this test's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test fails loudly

use std::{process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdout, Command},
};

const LIMIT: Duration = Duration::from_secs(30);

/// The tests of this file run their processes one test at a time: several
/// at once on a small machine made timing races the programs must
/// survive anyway (noted for the team) into failures of unrelated tests.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A chat on loopback; mDNS off unless `args` set up a test network.
fn start(args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mdns_off: &[&str] = if args.iter().any(|arg| arg.starts_with("--mdns")) { &[] } else { &["--no-mdns"] };
    let mut child = Command::new(strata_testkit::example_binary("chat"))
        .args(["--listen", "/ip4/127.0.0.1/tcp/0"])
        .args(mdns_off)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

async fn wait_for(lines: &mut Lines<BufReader<ChildStdout>>, wanted: impl Fn(&str) -> bool) -> String {
    strata_testkit::wait_for_line(lines, wanted).await
}

async fn type_line(child: &mut Child, text: &str) {
    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(format!("{text}\n").as_bytes()).await.unwrap();
    stdin.flush().await.unwrap();
}

#[tokio::test]
async fn two_chats_talk() {
    let _one = ONE_AT_A_TIME.lock().await;
    let key_dir = std::env::temp_dir().join(format!("strata-chat-test-{}", std::process::id()));
    std::fs::create_dir_all(&key_dir).unwrap();
    let key = key_dir.join("alice.key");
    let _ = std::fs::remove_file(&key);

    let (mut alice, mut alice_out) = start(&["--nick", "alice", "--key", key.to_str().unwrap()]);
    let join = wait_for(&mut alice_out, |l| l.contains("--dial ")).await;
    let addr = join.split("--dial ").nth(1).unwrap().trim().to_owned();
    assert!(join.trim_start().starts_with("cargo run --example chat -- --dial /ip4/127.0.0.1/tcp/"), "{join}");

    let (mut bob, mut bob_out) = start(&["--nick", "bob", "--dial", &addr]);
    wait_for(&mut bob_out, |l| l.starts_with("* connected to")).await;
    wait_for(&mut bob_out, |l| l.starts_with("* ") && l.ends_with(" joined")).await;
    wait_for(&mut alice_out, |l| l.starts_with("* ") && l.ends_with(" joined")).await;

    type_line(&mut alice, "hello bob").await;
    wait_for(&mut bob_out, |l| l == "alice: hello bob").await;
    type_line(&mut bob, "hi alice").await;
    wait_for(&mut alice_out, |l| l == "bob: hi alice").await;

    // Alice leaves (Ctrl-D); Bob sees it.
    drop(alice.stdin.take());
    wait_for(&mut alice_out, |l| l == "bye").await;
    wait_for(&mut bob_out, |l| l == "* alice left").await; // her nick, learned from her line
    assert!(tokio::time::timeout(LIMIT, alice.wait()).await.unwrap().unwrap().success());

    // Her identity was saved: a second run has the same peer id.
    assert!(key.exists());
    let (_again, mut again_out) = start(&["--key", key.to_str().unwrap()]);
    let banner = wait_for(&mut again_out, |l| l.starts_with("strata chat: you are")).await;
    let first_id = join.rsplit("/p2p/").next().unwrap().trim();
    assert!(banner.contains(first_id), "{banner} should name {first_id}");
    bob.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&key_dir);
}

#[tokio::test]
async fn two_chats_talk_over_floodsub_too() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (_alice, mut alice_out) = start(&["--nick", "alice", "--floodsub"]);
    let banner = wait_for(&mut alice_out, |l| l.starts_with("strata chat: you are")).await;
    assert!(banner.ends_with("(floodsub)."), "{banner}");
    let join = wait_for(&mut alice_out, |l| l.contains("--dial ")).await;
    let addr = join.split("--dial ").nth(1).unwrap().trim().to_owned();
    let (mut bob, mut bob_out) = start(&["--nick", "bob", "--floodsub", "--dial", &addr]);
    wait_for(&mut bob_out, |l| l.starts_with("* ") && l.ends_with(" joined")).await;
    type_line(&mut bob, "over floodsub").await;
    wait_for(&mut alice_out, |l| l == "bob: over floodsub").await;
}

#[tokio::test]
async fn two_chats_on_one_network_find_each_other_with_no_address() {
    let _one = ONE_AT_A_TIME.lock().await;
    // mDNS on loopback, on a group and port of this test's own: the LAN
    // hears nothing.
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let group = format!("239.255.{}.{}:{port}", port >> 8, port & 0xff);
    let network = ["--mdns-group", &group, "--mdns-interface", "127.0.0.1"];
    let (mut alice, mut alice_out) = start(&[&["--nick", "alice"][..], &network].concat());
    let (mut bob, mut bob_out) = start(&[&["--nick", "bob"][..], &network].concat());
    wait_for(&mut bob_out, |l| l.starts_with("* ") && l.ends_with(" joined")).await;
    wait_for(&mut alice_out, |l| l.starts_with("* ") && l.ends_with(" joined")).await;
    type_line(&mut alice, "found you").await;
    wait_for(&mut bob_out, |l| l == "alice: found you").await;
    type_line(&mut bob, "and I you").await;
    wait_for(&mut alice_out, |l| l == "bob: and I you").await;
}

#[tokio::test]
async fn two_chats_meet_through_the_dht_of_a_third_node() {
    let _one = ONE_AT_A_TIME.lock().await;
    // The bootstrap node is a DHT node only (the peer example), not in
    // the room: the chats can meet only by finding each other there.
    let mut dht = Command::new(strata_testkit::example_binary("peer"))
        .args(["listen", "--kad", "--timeout", "60"])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut dht_out = BufReader::new(dht.stdout.take().unwrap()).lines();
    let listening = wait_for(&mut dht_out, |l| l.contains("\"listening\"")).await;
    let addr = listening.split("\"addr\":\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (mut alice, mut alice_out) = start(&["--nick", "alice", "--bootstrap", &addr]);
    let (_bob, mut bob_out) = start(&["--nick", "bob", "--bootstrap", &addr]);
    wait_for(&mut bob_out, |l| l.starts_with("* ") && l.ends_with(" joined")).await;
    wait_for(&mut alice_out, |l| l.starts_with("* ") && l.ends_with(" joined")).await;
    type_line(&mut alice, "met you in the DHT").await;
    wait_for(&mut bob_out, |l| l == "alice: met you in the DHT").await;
}
