//! What a lab operation fails on, and why a lab cannot be built here.

use std::{fmt, io, process::ExitStatus, time::Duration};

/// What a lab operation failed on.
#[derive(Debug)]
pub enum Error {
    /// The lab cannot run here (see [`Lab::available`](super::Lab::available)).
    Unavailable(Unavailable),
    /// A program could not be started.
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        source: io::Error,
    },
    /// A command ran and failed.
    Failed {
        /// The command line.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// Something did not happen in time.
    Timeout {
        /// What the lab waited for.
        what: String,
        /// For how long.
        limit: Duration,
    },
    /// The lab ran out of addresses (253 nodes on the internet, 253 hosts
    /// on a LAN, 255 LANs) or a name is taken.
    Exhausted {
        /// What ran out.
        what: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(reason) => write!(f, "the NAT lab cannot run here: {reason}"),
            Self::Spawn { command, source } => write!(f, "cannot run `{command}`: {source}"),
            Self::Failed { command, status, stderr } => write!(f, "`{command}` failed ({status}): {}", stderr.trim()),
            Self::Timeout { what, limit } => write!(f, "timed out after {limit:?} waiting for {what}"),
            Self::Exhausted { what } => write!(f, "NAT lab: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Spawn { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why the lab cannot run on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Namespaces and iptables need root (CI runs as root).
    NotRoot,
    /// A program is missing (`.ci/run` installs the Debian package).
    MissingTool {
        /// The program.
        tool: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// `ip netns add` failed (no namespace support, or no `/run/netns`).
    NoNamespaces {
        /// What `ip` said.
        stderr: String,
    },
    /// `iptables -t nat` failed inside a fresh namespace (a kernel without
    /// NAT or conntrack).
    NoNat {
        /// What `iptables` said.
        stderr: String,
    },
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRoot => write!(f, "it needs root (network namespaces, iptables)"),
            Self::MissingTool { tool, package } => write!(f, "`{tool}` is missing (Debian package `{package}`)"),
            Self::NoNamespaces { stderr } => write!(f, "`ip netns add` fails: {}", stderr.trim()),
            Self::NoNat { stderr } => write!(f, "iptables' nat table fails in a namespace: {}", stderr.trim()),
        }
    }
}
