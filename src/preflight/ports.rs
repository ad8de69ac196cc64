//! Ports a Zimbra service needs, held by another program: zmsetup checks the same list before
//! it configures the node (`checkPortConflicts` in zm-build's `zmsetup.pl`), but only after the
//! packages are replaced; here it is known before. Listening sockets come from
//! `/proc/net/tcp` and `/proc/net/tcp6`, their owners from the `socket:[inode]` links under
//! `/proc/<pid>/fd`, and an owner is Zimbra's when it runs as the `zimbra` user of
//! `/etc/passwd`.

use std::collections::HashMap;

use super::{Finding, Host, Status};

/// The ports zmsetup tests (8080 is not among them).
const ZIMBRA_PORTS: &[u16] = &[
    25, 53, 80, 110, 143, 389, 443, 636, 993, 995, 7025, 7047, 7071, 7072, 7084, 7085, 7306, 7307,
    7780, 8143, 8465, 8993, 10024, 10025, 10026, 10027, 10028, 10029, 10030,
];

/// Socket inodes listening on each port, from `/proc/net/tcp` and `tcp6`.
fn listening(host: &Host) -> HashMap<u16, Vec<u64>> {
    let mut out: HashMap<u16, Vec<u64>> = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in host.read(table).unwrap_or_default().lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
                continue;
            };
            if *state != "0A" {
                continue;
            }
            let port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if let (Some(port), Ok(inode)) = (port, inode.parse()) {
                out.entry(port).or_default().push(inode);
            }
        }
    }
    out
}

/// The process (pid, command name, uid) that holds each socket inode, as far as /proc shows.
fn owners(host: &Host) -> HashMap<u64, (u32, String, Option<u32>)> {
    let mut out = HashMap::new();
    let Ok(procs) = std::fs::read_dir(host.path("/proc")) else {
        return out;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let comm = host
            .read(&format!("/proc/{pid}/comm"))
            .map(|c| c.trim().to_string())
            .unwrap_or_else(|| "?".into());
        let uid = host.read(&format!("/proc/{pid}/status")).and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|u| u.split_whitespace().next()?.parse().ok())
        });
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
            {
                out.insert(inode, (pid, comm.clone(), uid));
            }
        }
    }
    out
}

/// The uid of the `zimbra` user.
fn zimbra_uid(host: &Host) -> Option<u32> {
    host.read("/etc/passwd")?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"zimbra")).then(|| f.get(2)?.parse().ok())?
    })
}

/// A Zimbra port held by a process that does not run as the zimbra user fails; one whose owner
/// zkb cannot see (not root) warns.
pub fn check(host: &Host) -> Vec<Finding> {
    if !host.path("/opt/zimbra").is_dir() {
        return Vec::new();
    }
    let listening = listening(host);
    let owners = owners(host);
    let zimbra = zimbra_uid(host);
    let mut out = Vec::new();
    for port in ZIMBRA_PORTS {
        let Some(inodes) = listening.get(port) else {
            continue;
        };
        let holders: Vec<&(u32, String, Option<u32>)> =
            inodes.iter().filter_map(|i| owners.get(i)).collect();
        let foreign: Vec<String> = holders
            .iter()
            .filter(|(_, _, uid)| zimbra.is_none() || *uid != zimbra)
            .map(|(pid, comm, uid)| {
                let uid = uid.map_or("?".into(), |u| u.to_string());
                format!("{comm} (pid {pid}, uid {uid})")
            })
            .collect();
        let finding = |status, severity, message: String| Finding {
            check: "ports.held-by-another-program",
            status,
            severity,
            subject: format!("port {port}"),
            message,
            kb: vec!["upgrade/port-conflicts"],
        };
        if !foreign.is_empty() {
            out.push(finding(
                Status::Fail,
                "high",
                format!(
                    "port {port} is held by {}, not by Zimbra: zmsetup reports a port conflict and the service will not start (as root: ss -ltnp 'sport = :{port}')",
                    foreign.join(", ")
                ),
            ));
        } else if holders.is_empty() {
            out.push(finding(
                Status::Warn,
                "medium",
                format!("port {port} is listening, and zkb cannot see which program holds it (run as root)"),
            ));
        }
    }
    if out.is_empty() {
        out.push(Finding {
            check: "ports.held-by-another-program",
            status: Status::Pass,
            severity: "info",
            subject: "Zimbra ports".into(),
            message: "no port that zmsetup checks is held by another program".into(),
            kb: vec!["upgrade/port-conflicts"],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_by_port() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("proc/net");
        std::fs::create_dir_all(&net).unwrap();
        std::fs::write(
            net.join("tcp"),
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
             0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n   \
             1: 0100007F:1B79 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   999        0 777 1 0 20 4 30 10 -1\n",
        )
        .unwrap();
        let host = Host {
            root: dir.path().to_path_buf(),
            direct_commands: true,
            volume_cache: None,
            to_version: None,
            backup: None,
        };
        let l = listening(&host);
        assert_eq!(l.get(&80), Some(&vec![4242]));
        assert!(
            !l.contains_key(&7033),
            "an established connection is no listener"
        );
    }
}
