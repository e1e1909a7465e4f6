//! A process running inside a lab namespace, killed when dropped.

use super::*;

/// A process started in a namespace by [`Host::spawn`]; killed (and
/// reaped) when dropped.
#[derive(Debug)]
pub struct Process {
    pub(super) child: Child,
    pub(super) lines: mpsc::Receiver<String>,
    pub(super) command: String,
}

impl Process {
    /// The next line of its stdout, waiting at most `limit`; `Ok(None)`
    /// once stdout is closed.
    pub fn line(&mut self, limit: Duration) -> Result<Option<String>> {
        match self.lines.recv_timeout(limit) {
            Ok(line) => Ok(Some(line)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Ok(None),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(Error::Timeout { what: format!("a line from `{}`", self.command), limit })
            }
        }
    }

    /// The rest of the first stdout line that starts with `prefix`,
    /// skipping the others, within `limit` in all.
    pub fn line_starting(&mut self, prefix: &str, limit: Duration) -> Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.line(left) {
                Ok(Some(line)) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.trim().to_owned());
                    }
                }
                Ok(None) | Err(Error::Timeout { .. }) => {
                    return Err(Error::Timeout {
                        what: format!("a line `{prefix}…` from `{}`", self.command), limit
                    });
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// Waits at most `limit` for it to end by itself (it is killed after).
    pub fn wait(&mut self, limit: Duration) -> Result<ExitStatus> {
        wait_bounded(&mut self.child, limit, &self.command)
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Writes `line` and a newline to its stdin (started with
    /// [`super::Host::spawn_interactive`]).
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        use std::io::Write as _;
        let failed = |source| Error::Spawn { command: format!("stdin of `{}`", self.command), source };
        let stdin = self.child.stdin.as_mut().ok_or_else(|| failed(io::Error::other("stdin is not piped")))?;
        stdin.write_all(format!("{line}\n").as_bytes()).and_then(|()| stdin.flush()).map_err(failed)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Killing a child that has ended but is not reaped is harmless
        // (its pid cannot be reused before `wait`).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
