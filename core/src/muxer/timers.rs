//! `muxer::Deadlines`: the timers a session owns, as plain `Instant`s.
//!
//! - **stall**: runs while the remote leaves unread the frames it made us
//!   owe it; past `stall_timeout` the connection fails;
//! - **close**: runs from the start of a close; past `close_timeout` the
//!   socket is dropped with frames unsent;
//! - **keep-alive** (if on): a ping every interval; a ping still
//!   unanswered when the next is due ends the connection.
//!
//! No clock is read here: the session passes `now`, and tests pass any
//! `Instant` they like.

use std::time::{Duration, Instant};

use super::{ConnectionConfig, Error};

/// The deadlines of one session. See the module documentation.
#[derive(Clone, Debug)]
pub struct Deadlines {
    stall_timeout: Duration,
    close_timeout: Duration,
    keep_alive: Option<Duration>,
    stall: Option<Instant>,
    close: Option<Instant>,
    ping: Option<Instant>,
}

impl Deadlines {
    /// Deadlines with the timeouts of `config`; `keep_alive` is the ping
    /// interval, if the protocol pings.
    pub fn new(config: &ConnectionConfig, keep_alive: Option<Duration>) -> Self {
        Self {
            stall_timeout: config.stall_timeout,
            close_timeout: config.close_timeout,
            keep_alive,
            stall: None,
            close: None,
            ping: None,
        }
    }

    /// The connection starts at `now`: the first keep-alive ping is due
    /// one interval later.
    pub fn start(&mut self, now: Instant) {
        self.ping = self.keep_alive.map(|interval| now + interval);
    }

    /// The remote owes us reading at `now`: the stall clock starts (if it
    /// is not running already).
    pub fn stall(&mut self, now: Instant) {
        if self.stall.is_none() {
            self.stall = Some(now + self.stall_timeout);
        }
    }

    /// The remote owes nothing any more: the stall clock stops.
    pub fn unstall(&mut self) {
        self.stall = None;
    }

    /// Closing starts at `now` (once): keep-alive stops, the close clock runs.
    pub fn close(&mut self, now: Instant) {
        if self.close.is_none() {
            self.close = Some(now + self.close_timeout);
            self.ping = None;
        }
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<Instant> {
        [self.stall, self.close, self.ping].into_iter().flatten().min()
    }

    /// What is due at `now`: an error if a deadline ends the connection,
    /// else whether a keep-alive ping is to go out now
    /// (`ping_unanswered`: the last one is still in flight).
    pub fn expire<P>(&mut self, now: Instant, ping_unanswered: bool) -> Result<bool, Error<P>> {
        if self.close.is_some_and(|at| now >= at) {
            return Err(Error::CloseTimeout(self.close_timeout));
        }
        if self.stall.is_some_and(|at| now >= at) {
            return Err(Error::Stalled(self.stall_timeout));
        }
        match (self.keep_alive, self.ping) {
            (Some(interval), Some(at)) if now >= at => {
                if ping_unanswered {
                    return Err(Error::KeepAliveTimeout(interval));
                }
                self.ping = Some(now + interval);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Result<T> = std::result::Result<T, Error<std::io::Error>>;

    fn deadlines(keep_alive: Option<Duration>) -> (Deadlines, Instant) {
        let config = ConnectionConfig {
            stall_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            ..ConnectionConfig::default()
        };
        (Deadlines::new(&config, keep_alive), Instant::now())
    }

    #[test]
    fn nothing_is_due_without_a_reason() {
        let (mut timers, start) = deadlines(None);
        timers.start(start);
        assert_eq!(timers.next(), None);
        assert!(matches!(timers.expire::<std::io::Error>(start + Duration::from_hours(1), false), Ok(false)));
    }

    #[test]
    fn a_stall_fails_at_its_timeout_and_unstalling_forgets_it() {
        let (mut timers, start) = deadlines(None);
        timers.stall(start);
        timers.stall(start + Duration::from_secs(4)); // still the first episode
        assert_eq!(timers.next(), Some(start + Duration::from_secs(10)));
        let early: Result<bool> = timers.expire(start + Duration::from_secs(9), false);
        assert!(matches!(early, Ok(false)));
        let due: Result<bool> = timers.expire(start + Duration::from_secs(10), false);
        assert!(matches!(due, Err(Error::Stalled(d)) if d == Duration::from_secs(10)));
        timers.unstall();
        timers.stall(start + Duration::from_secs(20)); // a new episode starts afresh
        assert_eq!(timers.next(), Some(start + Duration::from_secs(30)));
    }

    #[test]
    fn keep_alive_pings_each_interval_and_fails_on_an_unanswered_one() {
        let (mut timers, start) = deadlines(Some(Duration::from_secs(1)));
        timers.start(start);
        assert_eq!(timers.next(), Some(start + Duration::from_secs(1)));
        let first: Result<bool> = timers.expire(start + Duration::from_millis(1500), false);
        assert!(matches!(first, Ok(true)), "a ping is due");
        assert_eq!(timers.next(), Some(start + Duration::from_millis(2500)), "the next one, an interval on");
        let second: Result<bool> = timers.expire(start + Duration::from_millis(2500), true);
        assert!(matches!(second, Err(Error::KeepAliveTimeout(_))), "the first is still unanswered");
    }

    #[test]
    fn closing_stops_keep_alive_and_times_out() {
        let (mut timers, start) = deadlines(Some(Duration::from_secs(1)));
        timers.start(start);
        timers.close(start);
        timers.close(start + Duration::from_secs(2)); // once
        assert_eq!(timers.next(), Some(start + Duration::from_secs(5)));
        let due: Result<bool> = timers.expire(start + Duration::from_secs(5), true);
        assert!(matches!(due, Err(Error::CloseTimeout(_))));
    }
}
