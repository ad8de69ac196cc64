//! The silence alarm of a watch over a site's per-host tree: a host whose files have sent
//! nothing for longer than the limit is a finding (rule `fleet.host-silent`: the server that did
//! not come back after the upgrade reboot), and its first line afterwards another
//! (`fleet.host-back`). Only hosts that own a folder of the tree count (a receiver's
//! `remote/<host>/`), so a single server's own quiet logs never trip it; a quiet server of the
//! fleet stays audible through the heartbeat the forwarder sends (Zimbra's `STATUS` lines on
//! local1). The alarm is an event like any other: written as a line, matched by the rules,
//! shown, alerted and recorded the same way.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::assemble::Assembled;
use super::follow::Stream;
use crate::kind::LogKind;

/// Where each host stands.
struct Host {
    id: u64,
    last: Instant,
    last_wall: Timestamp,
    silent: bool,
    events: u64,
}

pub struct Silence {
    limit: Duration,
    hosts: BTreeMap<String, Host>,
}

/// Stream ids of the alarm's own events, far from the follower's.
const FIRST_ID: u64 = u64::MAX / 2;

impl Silence {
    pub fn new(limit: Duration) -> Silence {
        Silence {
            limit,
            hosts: BTreeMap::new(),
        }
    }

    /// The host a stream's file belongs to when it sits in that host's own folder.
    pub fn fleet_host(stream: &Stream) -> Option<&str> {
        let host = stream.host.as_deref()?;
        let folder = Path::new(&*stream.name).parent()?.file_name()?.to_str()?;
        (folder == host).then_some(host)
    }

    /// Notes that `host` sent something at `now`; the "back" event when it had gone silent.
    pub fn saw(&mut self, host: &str, now: Instant) -> Option<(Stream, Assembled)> {
        let next_id = FIRST_ID + self.hosts.len() as u64;
        let h = self.hosts.entry(host.to_string()).or_insert(Host {
            id: next_id,
            last: now,
            last_wall: Timestamp::now(),
            silent: false,
            events: 0,
        });
        let gap = now.duration_since(h.last);
        h.last = now;
        h.last_wall = Timestamp::now();
        if !std::mem::take(&mut h.silent) {
            return None;
        }
        let text = format!("zkb: host {host} is sending again after {}", minutes(gap));
        Some(event(host, h, &text))
    }

    /// The hosts that have just gone past the limit, as events.
    pub fn check(&mut self, now: Instant) -> Vec<(Stream, Assembled)> {
        let limit = self.limit;
        let mut out = Vec::new();
        for (name, h) in &mut self.hosts {
            if !h.silent && now.duration_since(h.last) >= limit {
                h.silent = true;
                let text = format!(
                    "zkb: host {name} sent no log line for {} (last at {})",
                    minutes(now.duration_since(h.last)),
                    h.last_wall.strftime("%Y-%m-%dT%H:%M:%SZ")
                );
                out.push(event(name, h, &text));
            }
        }
        out
    }

    /// When the next host goes past the limit, if nothing comes from it.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.hosts
            .values()
            .filter(|h| !h.silent)
            .map(|h| h.last + self.limit)
            .min()
    }
}

fn minutes(d: Duration) -> String {
    let m = d.as_secs() / 60;
    if m > 0 {
        format!("{m}m")
    } else {
        format!("{}s", d.as_secs())
    }
}

/// The alarm's line, stamped now, as an event of the host's own stream.
fn event(host: &str, h: &mut Host, text: &str) -> (Stream, Assembled) {
    h.events += 1;
    let now = Timestamp::now();
    let stream = Stream {
        id: h.id,
        name: Arc::from(format!("zkb-silence/{host}")),
        kind: LogKind::Generic,
        host: Some(host.to_string()),
        source: Arc::from(format!("zkb-silence:{host}")),
        relayed: false,
        tz: None,
    };
    let line = format!("{} {text}", now.strftime("%Y-%m-%dT%H:%M:%SZ"));
    let event = Assembled {
        text: line.into_bytes(),
        line: h.events,
        offset: now.as_millisecond().max(0) as u64,
        truncated: false,
    };
    (stream, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_past_the_limit_raises_once_and_its_return_is_noted() {
        let mut s = Silence::new(Duration::from_secs(600));
        let t0 = Instant::now();
        assert!(s.saw("mbx1", t0).is_none());
        assert!(s.check(t0 + Duration::from_secs(599)).is_empty());
        assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(600)));
        let alarm = s.check(t0 + Duration::from_secs(601));
        assert_eq!(alarm.len(), 1);
        let text = String::from_utf8(alarm[0].1.text.clone()).unwrap();
        assert!(
            text.contains("zkb: host mbx1 sent no log line for 10m"),
            "{text}"
        );
        assert_eq!(alarm[0].0.host.as_deref(), Some("mbx1"));
        assert!(s.check(t0 + Duration::from_secs(1200)).is_empty(), "once");
        let back = s.saw("mbx1", t0 + Duration::from_secs(1500)).unwrap();
        assert!(String::from_utf8(back.1.text)
            .unwrap()
            .contains("sending again after 25m"));
    }
}
