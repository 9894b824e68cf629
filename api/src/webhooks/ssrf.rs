//! Where webhooks may be sent. A webhook URL is chosen by a client, so without these checks a
//! client could make Sangam call into its own network: the database, an admin port, or the cloud
//! provider's metadata service (which hands out credentials). Every address a URL is or resolves
//! to must be a public unicast address, checked when the webhook is registered and again on every
//! connection (the resolver below), so a DNS answer that changes later cannot slip past.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What a deployment allows beyond public HTTPS endpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reach {
    /// Loopback, private, link-local and other non-public addresses (tests, closed networks).
    pub allow_private: bool,
    /// Plain `http://` URLs.
    pub allow_http: bool,
}

/// Why a URL is refused; the text is shown to the client that registered it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Host names that always mean "this machine" or a cloud metadata service.
const FORBIDDEN_HOSTS: &[&str] = &[
    "localhost",
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
];

/// Whether `ip` is a public unicast address: not loopback, private, link-local, shared (CGNAT),
/// multicast, broadcast, unspecified, reserved, documentation or benchmarking space, and not
/// one of those in IPv6 clothing (IPv4-mapped, NAT64, 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, where the metadata services live
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10 shared address space (and Alibaba's metadata)
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24 protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // 198.18/15 benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) carry an IPv4 address that may be private.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    if s[0] == 0x2002 {
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local (fc00::/7, AWS's fd00:ec2::254 metadata)
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
        || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
}

fn refuse_ip(ip: IpAddr, reach: Reach) -> Result<(), Refused> {
    if reach.allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(Refused(format!(
            "the webhook URL points at {ip}, which is not a public address"
        )))
    }
}

/// Checks a URL's form: absolute `https` (or `http` when allowed), a host, no credentials, and
/// an IP literal only when it is public. Returns the parsed URL.
pub fn check_url(raw: &str, reach: Reach) -> Result<reqwest::Url, Refused> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| Refused(format!("the webhook URL is not a valid absolute URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if reach.allow_http => {}
        "http" => {
            return Err(Refused(
                "the webhook URL must use https (this server does not allow http)".into(),
            ));
        }
        other => return Err(Refused(format!("the webhook URL uses {other}: only https"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused(
            "the webhook URL must not carry a user name or password".into(),
        ));
    }
    let Some(host) = url.host_str() else {
        return Err(Refused("the webhook URL has no host".into()));
    };
    // The URL parser normalises IP literals (including IPv4 in odd notations like 0x7f.1) and
    // writes IPv6 ones in brackets.
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        refuse_ip(ip, reach)?;
        return Ok(url);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let local = FORBIDDEN_HOSTS.contains(&name.as_str())
        || name.ends_with(".localhost")
        || name.ends_with(".internal")
        || name.ends_with(".local");
    if local && !reach.allow_private {
        return Err(Refused(format!(
            "the webhook URL's host {name} is not a public name"
        )));
    }
    Ok(url)
}

/// Resolves `host` and refuses it when any of its addresses is not public: a name with one
/// private address among public ones could be made to connect there.
pub async fn resolve(host: &str, port: u16, reach: Reach) -> Result<Vec<SocketAddr>, Refused> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| {
            Refused(format!(
                "the webhook URL's host {host} does not resolve ({e})"
            ))
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Refused(format!(
            "the webhook URL's host {host} has no address"
        )));
    }
    for a in &addrs {
        refuse_ip(a.ip(), reach)?;
    }
    Ok(addrs)
}

/// The resolver every webhook connection goes through (IP literals are checked by
/// [`check_url`] before sending, since they are not resolved).
pub struct Guarded(pub Reach);

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let reach = self.0;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve(&host, 0, reach).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client webhooks are sent with: no proxy (it would resolve names itself), no
/// redirects (a public endpoint could redirect into the private network), the guarded
/// resolver, and `timeout` per attempt.
pub fn client(reach: Reach, timeout: std::time::Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Guarded(reach)))
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("Sangam-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(!is_public(ip), "{ip} is not public");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(is_public(ip), "{ip} is public");
        }
    }

    #[test]
    fn urls_are_checked_for_scheme_host_and_credentials() {
        let strict = Reach::default();
        for (url, why) in [
            ("http://example.org/hook", "https"),
            ("ftp://example.org/hook", "only https"),
            ("https://user:pw@example.org/hook", "user name"),
            ("https://127.0.0.1/hook", "not a public address"),
            ("https://[::1]/hook", "not a public address"),
            (
                "https://169.254.169.254/latest/meta-data",
                "not a public address",
            ),
            ("https://localhost/hook", "not a public name"),
            ("https://0x7f.1/hook", "not a public address"),
            ("https://metadata.google.internal/", "not a public name"),
            ("not a url", "not a valid"),
        ] {
            let err = check_url(url, strict).expect_err(url);
            assert!(err.0.contains(why), "{url}: {}", err.0);
        }
        assert!(check_url("https://example.org/hook", strict).is_ok());
        let open = Reach {
            allow_private: true,
            allow_http: true,
        };
        assert!(check_url("http://127.0.0.1:9/hook", open).is_ok());
    }
}
