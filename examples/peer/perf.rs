//! The `peer` example's measuring modes (`INTEROP.md`): `perf-server`,
//! `perf-client` and `conns`.

use std::time::{Duration, Instant};

use serde_json::json;
use strata::{Host, Keypair, Multiaddr, PeerId, perf};

use crate::{Cli, emit};

/// A host configuration for a benchmark target: the admission limits
/// meant for many peers on the open internet (handshakes and accepts per
/// address, connections per peer, the inbound share) are lifted, since a
/// benchmark dials one listener many times from one address.
fn benchmark_config() -> strata::host::Config {
    strata::host::Config::default()
        .with_max_connections(100_000)
        .with_max_inbound_connections(100_000)
        .with_max_connections_per_peer(100_000)
        .with_max_pending_upgrades_per_ip(1024, 1024)
        .with_accept_rate_per_ip(1_000_000)
}

fn millis(time: Duration) -> f64 {
    time.as_secs_f64() * 1e3
}

/// `perf-server`: serves `/perf/1.0.0`, printing each stream served.
pub(crate) async fn server(cli: &Cli, keypair: &Keypair, addr: Multiaddr) -> Result<(), String> {
    let host = crate::host_builder(cli, keypair)
        .config(benchmark_config())
        .listen(addr)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let served = perf::serve(&host, perf::ServerConfig::default()).map_err(|e| e.to_string())?;
    crate::announce(&host);
    let limit = cli.timeout.map_or(Duration::MAX, Duration::from_secs);
    let _ = tokio::time::timeout(limit, print_served(served)).await;
    host.shutdown().await;
    Ok(())
}

/// `--serve-perf`: serves `/perf/1.0.0` beside the node's other protocols.
pub(crate) fn serve_alongside(host: &Host) -> Result<(), String> {
    let served = perf::serve(host, perf::ServerConfig::default()).map_err(|e| format!("--serve-perf: {e}"))?;
    tokio::spawn(print_served(served));
    Ok(())
}

/// Prints `perf_served` for each stream served, until the host stops.
async fn print_served(mut served: tokio::sync::mpsc::Receiver<perf::ServedStream>) {
    while let Some(stream) = served.recv().await {
        emit(
            "perf_served",
            json!({
                "peer_id": stream.peer.to_string(),
                "upload_bytes": stream.served.upload_bytes,
                "download_bytes": stream.served.download_bytes,
                "secs": stream.served.elapsed.as_secs_f64(),
            }),
        );
    }
}

/// `dial --upload BYTES`: sends `bytes` to `peer` over `/perf/1.0.0` on one
/// stream (the host opens it on a direct connection if there is one) and
/// prints `perf`.
pub(crate) async fn upload(host: &Host, peer: PeerId, bytes: u64) -> Result<(), String> {
    let params = perf::Params { upload_bytes: bytes, download_bytes: 0, streams: 1 };
    let report = perf::run(host, peer, params).await.map_err(|e| format!("upload failed: {e}"))?;
    emit(
        "perf",
        json!({
            "peer_id": peer.to_string(),
            "upload_bytes": report.upload_bytes,
            "secs": report.total.as_secs_f64(),
            "upload_MBps": report.upload_mbps(),
        }),
    );
    Ok(())
}

/// `perf-client`: one connection, `streams` streams sharing the bytes.
pub(crate) async fn client(cli: &Cli, keypair: &Keypair, addr: Multiaddr, params: perf::Params) -> Result<(), String> {
    let host = crate::host_builder(cli, keypair).build().await.map_err(|e| e.to_string())?;
    let connecting = Instant::now();
    let peer = host.dial(addr).await.map_err(|e| format!("dial failed: {e}"))?;
    let connect = connecting.elapsed();
    let report = perf::run(&host, peer, params).await.map_err(|e| e.to_string())?;
    emit(
        "perf",
        json!({
            "muxer": format!("{:?}", cli.muxer).to_lowercase(),
            "streams": report.streams,
            "upload_bytes": report.upload_bytes,
            "download_bytes": report.download_bytes,
            "secs": report.total.as_secs_f64(),
            "upload_secs": report.upload.as_secs_f64(),
            "download_secs": report.download.as_secs_f64(),
            "upload_MBps": report.upload_mbps(),
            "download_MBps": report.download_mbps(),
            "total_MBps": report.total_mbps(),
            "connect_ms": millis(connect),
            "stream_open_ms": millis(report.stream_open),
        }),
    );
    host.shutdown().await;
    Ok(())
}

/// The value at `fraction` of sorted `times`, in ms.
fn percentile(times: &[Duration], fraction: f64) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)] // an index
    let index = ((times.len() - 1) as f64 * fraction).round() as usize;
    millis(times[index.min(times.len() - 1)])
}

/// `conns`: `n` connections from `n` identities, `concurrency` dials in
/// flight; prints the rates, keeps them idle, then prints how many lasted.
pub(crate) async fn conns(cli: &Cli, addr: Multiaddr, n: usize, concurrency: usize) -> Result<(), String> {
    use futures::StreamExt as _;

    let started = Instant::now();
    let dials = futures::stream::iter(0..n)
        .map(|_| {
            let addr = addr.clone();
            async move {
                let host =
                    crate::host_builder(cli, &Keypair::generate_ed25519()).build().await.map_err(|e| e.to_string())?;
                let start = Instant::now();
                let peer = host.dial(addr).await.map_err(|e| e.to_string())?;
                Ok::<_, String>((host, peer, start.elapsed()))
            }
        })
        .buffer_unordered(concurrency.max(1));
    let results: Vec<_> = dials.collect().await;
    let secs = started.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let mut open = Vec::new();
    let mut first_error = None;
    for result in results {
        match result {
            Ok((host, peer, time)) => {
                times.push(time);
                open.push((host, peer));
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    times.sort();
    #[allow(clippy::cast_precision_loss)] // a rate
    let per_sec = if secs > 0.0 { times.len() as f64 / secs } else { 0.0 };
    emit(
        "conns",
        json!({
            "n": n,
            "established": times.len(),
            "failed": n - times.len(),
            "secs": secs,
            "conns_per_sec": per_sec,
            "connect_ms_median": percentile(&times, 0.5),
            "connect_ms_p90": percentile(&times, 0.9),
            "connect_ms_max": percentile(&times, 1.0),
            "first_error": first_error,
        }),
    );
    tokio::time::sleep(Duration::from_secs(cli.timeout.unwrap_or(30))).await;
    let still_open = open.iter().filter(|(host, peer)| host.is_connected(*peer)).count();
    emit("done", json!({ "still_open": still_open }));
    for (host, _) in open {
        host.shutdown().await;
    }
    Ok(())
}
