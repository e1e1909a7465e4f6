//! The commands under the lab: `ip`, `iptables` and `ip netns exec`,
//! each bounded in time, and the sweeping of dead labs.

use super::*;

pub(super) fn exhausted(what: &str) -> Error {
    Error::Exhausted { what: what.to_owned() }
}

/// `strata-lab-<pid>-<n>-`, `n` counting the labs of this process.
pub(super) fn next_prefix() -> String {
    static LABS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = LABS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{PREFIX}{}-{n}-", std::process::id())
}

/// Whether the effective user is root (`Uid:` in `/proc/self/status`:
/// real, effective, …).
pub(super) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().nth(1)) == Some("0")
    })
}

/// The names of all network namespaces (`ip netns list`).
pub fn namespaces() -> Result<Vec<String>> {
    let out = run(Command::new("ip").args(["netns", "list"]))?;
    Ok(out.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect())
}

/// Removes the namespaces of labs whose process is gone: a lab killed by
/// SIGKILL could not tear itself down.
pub(super) fn sweep_dead_labs() {
    let Ok(all) = namespaces() else { return };
    for namespace in all {
        let Some(pid) = namespace.strip_prefix(PREFIX).and_then(|rest| rest.split('-').next()) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            kill_processes_in(&namespace);
            let _ = run(Command::new("ip").args(["netns", "del", &namespace]));
        }
    }
}

/// Kills what runs in `namespace`: only what this lab's user started there.
pub(super) fn kill_processes_in(namespace: &str) {
    let Ok(pids) = run(Command::new("ip").args(["netns", "pids", namespace])) else { return };
    for pid in pids.split_whitespace().filter(|p| p.parse::<u32>().is_ok()) {
        let _ = run(Command::new("kill").args(["-KILL", pid]));
    }
}

/// A veth pair: `device` (with `address/24`, up) in `namespace`, `port` in
/// `other`, enslaved to `bridge` there; waits for both to be up.
pub(super) fn plug(
    namespace: &str,
    device: &str,
    other: &str,
    port: &str,
    bridge: &str,
    address: Ipv4Addr,
) -> Result<()> {
    ip(namespace, &format!("link add {device} type veth peer name {port} netns {other}"))?;
    ip(other, &format!("link set {port} master {bridge}"))?;
    ip(other, &format!("link set {port} up"))?;
    ip(namespace, &format!("addr add {address}/24 dev {device}"))?;
    ip(namespace, &format!("link set {device} up"))?;
    wait_up(namespace, device)?;
    wait_up(other, port)
}

/// Waits (bounded) until `device` in `namespace` has its carrier.
pub(super) fn wait_up(namespace: &str, device: &str) -> Result<()> {
    let deadline = Instant::now() + LINK_LIMIT;
    loop {
        let out = run(Command::new("ip").args(["-n", namespace, "-o", "link", "show", "dev", device]))?;
        if out.contains("state UP") || out.contains(",LOWER_UP") {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout { what: format!("{device} in {namespace} to come up"), limit: LINK_LIMIT });
        }
        thread::sleep(POLL);
    }
}

/// `ip -n <namespace> <args>`: the namespace named explicitly on every call.
pub(super) fn ip(namespace: &str, args: &str) -> Result<String> {
    run(Command::new("ip").args(["-n", namespace]).args(args.split(' ')))
}

/// `ip netns exec <namespace> <command line>`.
pub(super) fn exec(namespace: &str, line: &str) -> Result<String> {
    run(Command::new("ip").args(["netns", "exec", namespace]).args(line.split(' ')))
}

/// Runs a short command to its end (at most [`COMMAND_LIMIT`]), returning
/// its stdout. Meant for `ip`/`iptables`, whose output fits a pipe.
pub(super) fn run(command: &mut Command) -> Result<String> {
    let line = describe(command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn { command: line.clone(), source })?;
    let status = wait_bounded(&mut child, COMMAND_LIMIT, &line)?;
    let read = |pipe: Option<&mut dyn io::Read>| {
        let mut text = String::new();
        if let Some(pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    };
    let stdout = read(child.stdout.as_mut().map(|p| p as &mut dyn io::Read));
    let stderr = read(child.stderr.as_mut().map(|p| p as &mut dyn io::Read));
    if status.success() { Ok(stdout) } else { Err(Error::Failed { command: line, status, stderr }) }
}

/// Waits at most `limit` for `child` to end, killing it if it does not.
pub(super) fn wait_bounded(child: &mut Child, limit: Duration, line: &str) -> Result<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().map_err(|source| Error::Spawn { command: line.to_owned(), source })? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Timeout { what: format!("`{line}` to end"), limit });
        }
        thread::sleep(POLL);
    }
}

pub(super) fn describe(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}
