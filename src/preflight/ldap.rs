//! The LDAP masters come first: on a server that is not itself an LDAP master
//! (`ldap_is_master` is not `true` in localconfig), the installer's `zmValidateLdap.pl` binds to
//! each URL of `ldap_master_url`, reads the master's `zimbraServerVersionMajor`, `Minor` and
//! `Micro` from its server entry and stops unless they are the release being installed. Here the
//! same entries are read with Zimbra's `ldapsearch` as the zimbra user (the bind password goes
//! on its stdin, never on a command line), before anyone types `./install.sh`. `zmcontrol -v`
//! would only say this host's release.

use super::{Finding, Host, Status};

/// One `<key name="..."><value>...</value></key>` of `localconfig.xml`.
fn localconfig(xml: &str, key: &str) -> Option<String> {
    let start = xml.find(&format!("<key name=\"{key}\">"))?;
    let rest = &xml[start..];
    let end = rest.find("</key>")?;
    let body = &rest[..end];
    let v = body.split_once("<value>")?.1.split_once("</value>")?.0;
    Some(
        v.replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\""),
    )
}

/// `ldap://ldap1.example.com:389` → `ldap1.example.com`.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split([':', '/']).next().unwrap_or(rest)
}

/// `major.minor.micro` from the attributes of an LDIF answer.
fn version_in(ldif: &str) -> Option<String> {
    let attr = |name: &str| {
        ldif.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(|v| v.trim().to_string())
    };
    Some(format!(
        "{}.{}.{}",
        attr("zimbraServerVersionMajor")?,
        attr("zimbraServerVersionMinor")?,
        attr("zimbraServerVersionMicro")?
    ))
}

/// `10.1.9` is the release of `10.1.9` and `10.1.9_GA_4200001`, not of `10.1.10`.
fn same_release(version: &str, to: &str) -> bool {
    to.strip_prefix(version)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
}

fn finding(status: Status, severity: &'static str, subject: String, message: String) -> Finding {
    Finding {
        check: "ldap.masters-upgraded-first",
        status,
        severity,
        subject,
        message,
        kb: vec!["upgrade/multi-server-order"],
    }
}

/// Each LDAP master's release, against `to` (the release about to be installed) when given.
pub fn masters(host: &Host, to: Option<&str>) -> Vec<Finding> {
    let Some(xml) = host.read("/opt/zimbra/conf/localconfig.xml") else {
        return Vec::new();
    };
    if localconfig(&xml, "ldap_is_master").as_deref() == Some("true") {
        return Vec::new();
    }
    let (Some(urls), Some(dn), Some(password)) = (
        localconfig(&xml, "ldap_master_url"),
        localconfig(&xml, "zimbra_ldap_userdn"),
        localconfig(&xml, "zimbra_ldap_password"),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for url in urls.split_whitespace() {
        let name = url_host(url);
        let filter = format!("(cn={name})");
        let answer = host.zimbra_command_with_input(
            "ldapsearch",
            &[
                "-x",
                "-LLL",
                "-H",
                url,
                "-D",
                &dn,
                "-y",
                "/dev/stdin",
                "-b",
                "cn=servers,cn=zimbra",
                &filter,
                "zimbraServerVersionMajor",
                "zimbraServerVersionMinor",
                "zimbraServerVersionMicro",
            ],
            &password,
        );
        let subject = format!("LDAP master {name}");
        out.push(match (answer.as_deref().and_then(version_in), to) {
            (None, _) => finding(
                Status::Warn,
                "medium",
                subject,
                format!("could not read the release of {url} (ldapsearch as zimbra); the installer will try the same and stop if it cannot"),
            ),
            (Some(v), Some(to)) if !same_release(&v, to) => finding(
                Status::Fail,
                "high",
                subject,
                format!("{name} is at {v}, not {to}: upgrade every LDAP master first; the installer here stops with 'One or more LDAP master servers has not yet been upgraded'"),
            ),
            (Some(v), Some(_)) => finding(
                Status::Pass,
                "info",
                subject,
                format!("{name} is already at {v}"),
            ),
            (Some(v), None) => finding(
                Status::Pass,
                "info",
                subject,
                format!("{name} is at {v} (give --to VERSION to check it against the release you install)"),
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localconfig_keys_urls_and_versions() {
        let xml = r#"<localconfig>
  <key name="ldap_master_url">
    <value>ldap://ldap1.example.com:389 ldaps://ldap2.example.com:636</value>
  </key>
  <key name="zimbra_ldap_password">
    <value>a&amp;b</value>
  </key>
</localconfig>"#;
        assert_eq!(
            localconfig(xml, "ldap_master_url").as_deref(),
            Some("ldap://ldap1.example.com:389 ldaps://ldap2.example.com:636")
        );
        assert_eq!(
            localconfig(xml, "zimbra_ldap_password").as_deref(),
            Some("a&b")
        );
        assert_eq!(localconfig(xml, "ldap_is_master"), None);
        assert_eq!(
            url_host("ldaps://ldap2.example.com:636"),
            "ldap2.example.com"
        );
        let ldif = "dn: cn=ldap1.example.com,cn=servers,cn=zimbra\nzimbraServerVersionMajor: 10\nzimbraServerVersionMinor: 1\nzimbraServerVersionMicro: 9\n";
        assert_eq!(version_in(ldif).as_deref(), Some("10.1.9"));
        assert!(same_release("10.1.9", "10.1.9_GA_4200001"));
        assert!(!same_release("10.1.1", "10.1.10"));
        assert!(!same_release("10.0.13", "10.1.9"));
    }
}
