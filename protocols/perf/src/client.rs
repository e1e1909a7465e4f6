//! The perf client on a host: S streams at once share the bytes; the
//! report adds them up.

use std::time::{Duration, Instant};

use strata_core::PeerId;
use strata_host::Host;

use crate::{Error, PROTOCOL, stream};

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Bytes to upload, shared by the streams.
    pub upload_bytes: u64,
    /// Bytes to download, shared by the streams.
    pub download_bytes: u64,
    /// Streams at once (at least 1).
    pub streams: usize,
}

/// What a run measured. MB/s are 10^6 bytes per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Report {
    /// Streams used.
    pub streams: usize,
    /// Bytes uploaded, all streams.
    pub upload_bytes: u64,
    /// Bytes downloaded, all streams.
    pub download_bytes: u64,
    /// From the first stream opening to the last one ending.
    pub total: Duration,
    /// The longest upload phase of a stream.
    pub upload: Duration,
    /// The longest download phase of a stream.
    pub download: Duration,
    /// The longest stream negotiation (`/perf/1.0.0` agreed).
    pub stream_open: Duration,
}

#[allow(clippy::cast_precision_loss)] // a rate: 52 bits of mantissa are plenty
fn mbps(bytes: u64, time: Duration) -> f64 {
    let secs = time.as_secs_f64();
    if secs > 0.0 { bytes as f64 / 1e6 / secs } else { 0.0 }
}

impl Report {
    /// Upload rate over the upload phase.
    pub fn upload_mbps(&self) -> f64 {
        mbps(self.upload_bytes, self.upload)
    }

    /// Download rate over the download phase.
    pub fn download_mbps(&self) -> f64 {
        mbps(self.download_bytes, self.download)
    }

    /// Both directions over the whole run.
    pub fn total_mbps(&self) -> f64 {
        mbps(self.upload_bytes + self.download_bytes, self.total)
    }
}

/// `total` split into `parts` shares, the first ones a byte larger.
fn share(total: u64, parts: usize, index: usize) -> u64 {
    let parts = parts as u64;
    total / parts + u64::from((index as u64) < total % parts)
}

/// Measures `peer` (already connected) with `params`.
pub async fn run(host: &Host, peer: PeerId, params: Params) -> Result<Report, Error> {
    if params.streams == 0 {
        return Err(Error::NoStreams);
    }
    let idle = Duration::from_secs(30);
    let start = Instant::now();
    let runs = (0..params.streams).map(|index| async move {
        let opening = Instant::now();
        let mut io = host.open_stream(peer, &[PROTOCOL]).await?;
        let opened = opening.elapsed();
        let upload = share(params.upload_bytes, params.streams, index);
        let download = share(params.download_bytes, params.streams, index);
        let timings = stream::client(&mut io, upload, download, idle).await?;
        Ok::<_, Error>((opened, timings))
    });
    let results = futures::future::try_join_all(runs).await?;
    let total = start.elapsed();
    let mut report = Report {
        streams: params.streams,
        upload_bytes: 0,
        download_bytes: 0,
        total,
        upload: Duration::ZERO,
        download: Duration::ZERO,
        stream_open: Duration::ZERO,
    };
    for (opened, timings) in results {
        report.upload_bytes += timings.upload_bytes;
        report.download_bytes += timings.download_bytes;
        report.upload = report.upload.max(timings.upload);
        report.download = report.download.max(timings.download);
        report.stream_open = report.stream_open.max(opened);
    }
    Ok(report)
}
