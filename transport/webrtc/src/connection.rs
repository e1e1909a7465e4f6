//! One WebRTC-direct connection: str0m's `Rtc`, driven by one task (the
//! host's handle on it is `handle.rs`, its setup `rtc.rs`).
//!
//! Spec: `libp2p-webrtc-direct.md`, "Connection Establishment" (steps 6
//! to 9) and "Connection Security". The `Rtc` is sans-IO; the driver owns
//! the socket side and the sleeping:
//!
//! ```text
//! UDP datagrams ──mpsc──▶ driver ──handle_input──▶ Rtc ──poll_output──▶ transmits ──▶ UDP socket
//!                          │                          └─events: channel open / data / close
//!                          └─ sleeps until the Rtc's next deadline (or the handshake's)
//! ChannelOpen(0) ─▶ Noise (noise.rs) over channel 0 ─▶ PeerId ─▶ the upgrade resolves
//! other channels ─▶ Slot (stream.rs) ◀── WebRtcStream handles (under the same lock)
//! ```
//!
//! Everything lives under one mutex (`Inner`); handles lock it to write
//! into a channel and then wake the driver, which sends what the `Rtc`
//! has to send. A connection that does not finish ICE, DTLS, SCTP and
//! Noise within the handshake timeout is dropped: it has its own task,
//! so a stalled handshake costs no other connection anything.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, Waker},
    time::Instant,
};

use str0m::{
    Event, IceConnectionState, Input, Output, Rtc, RtcError,
    channel::{ChannelConfig, ChannelId},
    net::{Protocol, Receive},
};
use strata_core::{Keypair, PeerId};
use tokio::{
    net::UdpSocket,
    sync::{Notify, mpsc, oneshot, watch},
};

use crate::{
    Certificate, Config, Error, Fingerprint, Result,
    message::{self, Decoder, Flag},
    noise::Handshake,
    rtc::Role,
    stream::{Reply, Slot},
};

mod noise_channel;

/// One UDP datagram for a connection.
#[derive(Debug)]
pub(crate) struct Datagram {
    pub(crate) from: SocketAddr,
    pub(crate) data: Vec<u8>,
}

/// The state every handle and the driver share.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    wake: Notify,
    finished: watch::Sender<bool>,
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshaking,
    Open,
    Closed,
}

/// The connection's state, under the lock.
pub(crate) struct Inner {
    rtc: Rtc,
    config: Config,
    local: SocketAddr,
    phase: Phase,
    close_requested: bool,
    handshake_deadline: Instant,
    /// Channel 0: the Noise handshake.
    noise_channel: ChannelId,
    noise_decoder: Decoder,
    handshake: Option<Handshake>,
    /// The server-side Noise prologue needs the client's fingerprint,
    /// known once DTLS is done; the handshake starts then.
    identity: Keypair,
    role: Role,
    local_fingerprint: Fingerprint,
    outcome: Option<oneshot::Sender<Result<PeerId>>>,
    streams: HashMap<ChannelId, Slot>,
    inbound: VecDeque<ChannelId>,
    /// Channels we opened whose handle went before they were open.
    abandoned: HashSet<ChannelId>,
    accept_waker: Option<Waker>,
    /// Writers waiting for room in SCTP's send buffer.
    blocked: Vec<Waker>,
    /// What the `Rtc` has to send, until the driver sends it.
    transmits: Vec<str0m::net::Transmit>,
    /// When the `Rtc` next wants a timeout.
    deadline: Instant,
}

impl Shared {
    /// A connection in its handshake; the receiver resolves with the
    /// remote's peer id once Noise is done (or with why not).
    pub(crate) fn new(
        rtc: Rtc,
        noise_channel: ChannelId,
        identity: &Keypair,
        certificate: &Certificate,
        role: Role,
        config: Config,
        local: SocketAddr,
    ) -> (Arc<Self>, oneshot::Receiver<Result<PeerId>>) {
        let (outcome, receiver) = oneshot::channel();
        let inner = Inner {
            rtc,
            local,
            phase: Phase::Handshaking,
            close_requested: false,
            handshake_deadline: Instant::now() + config.handshake_timeout,
            config,
            noise_channel,
            noise_decoder: Decoder::new(),
            handshake: None,
            identity: identity.clone(),
            role,
            local_fingerprint: certificate.fingerprint(),
            outcome: Some(outcome),
            streams: HashMap::new(),
            inbound: VecDeque::new(),
            abandoned: HashSet::new(),
            accept_waker: None,
            blocked: Vec::new(),
            transmits: Vec::new(),
            deadline: Instant::now(),
        };
        let shared = Self { inner: Mutex::new(inner), wake: Notify::new(), finished: watch::Sender::new(false) };
        (Arc::new(shared), receiver)
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn wake_driver(&self) {
        self.wake.notify_one();
    }

    /// A stream handle is gone: say goodbye on its channel and close it.
    pub(crate) fn release(&self, id: ChannelId) {
        self.with(|inner| {
            let Some(slot) = inner.streams.remove(&id) else { return };
            if !slot.open {
                // Ours, dropped before it opened (a cancelled open): it
                // has no SCTP stream yet to close; close it once it does.
                inner.abandoned.insert(id);
            }
            if !inner.is_over() {
                if let Some(flag) = slot.farewell() {
                    let _ = inner.send(id, Some(flag), &[], usize::MAX);
                }
                inner.rtc.direct_api().close_data_channel(id);
            }
        });
        self.wake_driver();
    }

    /// Waits until the driver has stopped.
    pub(crate) async fn finished(&self) {
        let mut finished = self.finished.subscribe();
        let _ = finished.wait_for(|finished| *finished).await;
    }

    /// Asks the driver to close the connection.
    pub(crate) fn request_close(&self) {
        self.with(|inner| inner.close_requested = true);
        self.wake_driver();
    }

    /// Runs the connection until it ends. `socket` sends; `datagrams`
    /// brings what arrives for this connection.
    pub(crate) async fn drive(self: Arc<Self>, socket: Arc<UdpSocket>, mut datagrams: mpsc::Receiver<Datagram>) {
        loop {
            let (transmits, deadline, over) = self.with(Inner::poll);
            for transmit in transmits {
                if let Err(error) = socket.send_to(&transmit.contents, transmit.destination).await {
                    tracing::debug!(%error, to = %transmit.destination, "webrtc: send failed");
                }
            }
            if over {
                break;
            }
            tokio::select! {
                datagram = datagrams.recv() => match datagram {
                    Some(datagram) => self.with(|inner| {
                        inner.receive(&datagram);
                        // Take what else arrived, under the same lock; the
                        // `Rtc`'s events are drained after each datagram, so
                        // an error in a later one cannot hide an earlier
                        // one's data (a Noise message before a close).
                        while let Ok(datagram) = datagrams.try_recv() {
                            inner.drain();
                            inner.receive(&datagram);
                        }
                    }),
                    None => self.with(|inner| inner.fail(Error::Closed)),
                },
                () = self.wake.notified() => {}
                () = tokio::time::sleep_until(deadline.into()) => self.with(|inner| inner.timeout(Instant::now())),
            }
        }
        self.finished.send_replace(true);
        tracing::debug!("webrtc: connection ended");
    }
}

impl Inner {
    pub(crate) fn is_over(&self) -> bool {
        self.phase == Phase::Closed
    }

    pub(crate) fn max_buffered(&self) -> usize {
        self.config.max_buffered
    }

    pub(crate) fn slot(&mut self, id: ChannelId) -> Option<&mut Slot> {
        self.streams.get_mut(&id)
    }

    /// Creates a data channel for a new outbound stream (in-band: DCEP).
    pub(crate) fn open_channel(&mut self) -> Result<ChannelId> {
        if self.is_over() {
            return Err(Error::Closed);
        }
        if self.streams.len() >= self.config.max_channels {
            return Err(Error::TooManyChannels(self.config.max_channels));
        }
        let id = self.rtc.direct_api().create_data_channel(ChannelConfig::default());
        self.streams.insert(id, Slot::new(false));
        Ok(id)
    }

    /// Whether the channel we created is open (ready to write).
    pub(crate) fn poll_opened(&mut self, id: ChannelId, cx: &Context<'_>) -> Poll<Result<()>> {
        let over = self.is_over();
        match self.streams.get_mut(&id) {
            Some(slot) if slot.open => Poll::Ready(Ok(())),
            Some(slot) if !slot.closed && !over => {
                slot.write_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            _ => Poll::Ready(Err(Error::Closed)),
        }
    }

    /// The next channel the remote opened; `None` once the connection is over.
    pub(crate) fn poll_accept(&mut self, cx: &Context<'_>) -> Poll<Option<ChannelId>> {
        if let Some(id) = self.inbound.pop_front() {
            return Poll::Ready(Some(id));
        }
        if self.is_over() {
            return Poll::Ready(None);
        }
        self.accept_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    pub(crate) fn wait_for_room(&mut self, id: ChannelId, waker: &Waker) {
        let threshold = self.config.max_buffered / 2;
        if let Some(mut channel) = self.rtc.channel(id) {
            channel.set_buffered_amount_low_threshold(threshold);
        }
        self.blocked.push(waker.clone());
    }

    /// Sends one frame on a channel, unless it already holds
    /// `max_buffered` bytes or SCTP has no room: then `Ok(false)`.
    pub(crate) fn send(
        &mut self,
        id: ChannelId,
        flag: Option<Flag>,
        data: &[u8],
        max_buffered: usize,
    ) -> Result<bool, RtcError> {
        let Some(mut channel) = self.rtc.channel(id) else { return Ok(false) };
        if channel.buffered_amount() >= max_buffered {
            return Ok(false);
        }
        let mut frame = Vec::with_capacity(data.len() + 8);
        message::encode(flag, data, &mut frame);
        channel.write(true, &frame)
    }

    fn receive(&mut self, datagram: &Datagram) {
        let now = Instant::now();
        let Ok(receive) = Receive::new(Protocol::Udp, datagram.from, self.local, &datagram.data) else {
            return; // not STUN, DTLS or RTP: ignore
        };
        if let Err(error) = self.rtc.handle_input(Input::Receive(now, receive)) {
            self.fail(rtc_error(error));
        }
    }

    fn timeout(&mut self, now: Instant) {
        if self.phase == Phase::Handshaking && now >= self.handshake_deadline {
            self.fail(Error::Timeout(self.config.handshake_timeout));
            return;
        }
        if let Err(error) = self.rtc.handle_input(Input::Timeout(now)) {
            self.fail(rtc_error(error));
        }
    }

    /// Runs the `Rtc` until it waits: its transmits are queued, its events
    /// handled, its next deadline noted.
    fn drain(&mut self) {
        while self.rtc.is_alive() {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(transmit)) => self.transmits.push(transmit),
                Ok(Output::Timeout(at)) => {
                    self.deadline = at;
                    return;
                }
                Ok(Output::Event(event)) => self.on_event(event),
                Err(error) => {
                    self.fail(rtc_error(error));
                    return;
                }
            }
        }
    }

    /// Drains the `Rtc`: what to send, when to wake next, and whether the
    /// connection is over.
    fn poll(&mut self) -> (Vec<str0m::net::Transmit>, Instant, bool) {
        if self.close_requested && self.phase != Phase::Closed {
            let _ = self.rtc.close();
            self.phase = Phase::Closed;
            self.wake_all();
        }
        self.deadline = Instant::now() + std::time::Duration::from_secs(1);
        self.drain();
        let transmits = std::mem::take(&mut self.transmits);
        let mut deadline = self.deadline;
        if self.phase == Phase::Handshaking {
            deadline = deadline.min(self.handshake_deadline);
        }
        if !self.rtc.is_alive() && self.phase != Phase::Closed {
            self.fail(Error::Closed);
        }
        if self.phase == Phase::Closed {
            // What closing had to send (DTLS close_notify) is in
            // `transmits`; no need to wait for the remote's answers.
            self.rtc.disconnect();
        }
        for waker in self.blocked.drain(..) {
            waker.wake();
        }
        (transmits, deadline, self.phase == Phase::Closed && !self.rtc.is_alive())
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => tracing::debug!("webrtc: ICE and DTLS connected"),
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                tracing::debug!("webrtc: ICE disconnected");
                self.fail(Error::Closed);
            }
            Event::ChannelOpen(id, _) if id == self.noise_channel => self.start_noise(),
            Event::ChannelOpen(id, _) => self.channel_opened(id),
            Event::ChannelData(data) if data.id == self.noise_channel => self.noise_data(&data.data),
            Event::ChannelData(data) => self.channel_data(data.id, &data.data),
            Event::ChannelClose(id) => {
                if let Some(slot) = self.streams.get_mut(&id) {
                    slot.closed = true;
                    slot.wake();
                }
            }
            Event::ChannelBufferedAmountLow(id) => {
                if let Some(slot) = self.streams.get_mut(&id) {
                    slot.wake();
                }
            }
            Event::Closed => self.fail(Error::Closed),
            _ => {}
        }
    }

    fn channel_opened(&mut self, id: ChannelId) {
        if self.abandoned.remove(&id) {
            self.rtc.direct_api().close_data_channel(id);
            return;
        }
        if let Some(slot) = self.streams.get_mut(&id) {
            slot.open = true; // one we opened
            slot.wake();
            return;
        }
        if self.streams.len() >= self.config.max_channels {
            tracing::debug!(max = self.config.max_channels, "webrtc: too many channels; closing the new one");
            self.rtc.direct_api().close_data_channel(id);
            return;
        }
        self.streams.insert(id, Slot::new(true));
        self.inbound.push_back(id);
        if let Some(waker) = self.accept_waker.take() {
            waker.wake();
        }
    }

    fn channel_data(&mut self, id: ChannelId, data: &[u8]) {
        let max_buffered = self.config.max_buffered;
        let Some(slot) = self.streams.get_mut(&id) else { return };
        match slot.on_data(data, max_buffered) {
            Reply::None => {}
            Reply::Flag(flag) => {
                let _ = self.send(id, Some(flag), &[], usize::MAX);
            }
            Reply::Reset => {
                let _ = self.send(id, Some(Flag::Reset), &[], usize::MAX);
                self.rtc.direct_api().close_data_channel(id);
            }
        }
    }

    /// Ends the connection; a pending upgrade learns why.
    fn fail(&mut self, error: Error) {
        if self.phase == Phase::Closed {
            return;
        }
        match &error {
            Error::Closed => tracing::debug!("webrtc: connection closed"),
            error => tracing::debug!(%error, "webrtc: connection failed"),
        }
        if let Some(outcome) = self.outcome.take() {
            let _ = outcome.send(Err(error));
        }
        self.phase = Phase::Closed;
        self.rtc.disconnect();
        self.wake_all();
    }

    fn wake_all(&mut self) {
        for slot in self.streams.values_mut() {
            slot.wake();
        }
        if let Some(waker) = self.accept_waker.take() {
            waker.wake();
        }
    }
}

/// str0m's refusal of the server's certificate is a certhash mismatch.
fn rtc_error(error: RtcError) -> Error {
    match &error {
        RtcError::RemoteSdp(text) if text.contains("fingerprint") => Error::CerthashMismatch,
        _ => Error::Rtc(error),
    }
}
