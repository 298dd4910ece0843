//! Where a webhook may point (SSRF): a registration names the URL the hub POSTs to, from inside
//! the hub's network, so the URL must not reach the hub's own side of it: loopback, private,
//! shared (CGNAT), link-local (where cloud metadata answers, 169.254.169.254), unique-local,
//! multicast, unspecified and reserved addresses are refused. Checked twice: at registration
//! (an address in the URL, or what its name resolves to now), and at every delivery on the
//! addresses the name resolves to then (a name may be re-pointed after registration: DNS
//! rebinding), so the hub never connects to such an address. `webhook_allow_private` lifts
//! both for local development and the tests, whose receivers listen on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::webhooks::WebhookUrl;
use crate::domain::Refusal;

/// How long registration waits for a name to resolve; unresolved, it is taken (delivery
/// checks again).
const RESOLVE_FOR: Duration = Duration::from_secs(2);

fn v4_forbidden(a: Ipv4Addr) -> bool {
    let [o1, o2, ..] = a.octets();
    o1 == 0 // "this network", 0.0.0.0
        || a.is_loopback() // 127/8
        || a.is_private() // 10/8, 172.16/12, 192.168/16
        || a.is_link_local() // 169.254/16, cloud metadata
        || (o1 == 100 && (64..128).contains(&o2)) // 100.64/10, shared (CGNAT)
        || (o1 == 192 && o2 == 0 && a.octets()[2] == 0) // 192.0.0/24, protocol assignments
        || (o1 == 198 && (o2 == 18 || o2 == 19)) // 198.18/15, benchmarking
        || a.is_multicast() // 224/4
        || o1 >= 240 // 240/4 reserved, 255.255.255.255
}

fn v6_forbidden(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return v4_forbidden(v4);
    }
    let s = a.segments();
    // 64:ff9b::/96 (NAT64) carries an IPv4 address in its last 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_forbidden(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    a.is_unspecified() // ::
        || a.is_loopback() // ::1
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7, unique local
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10, link-local
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10, site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // ff00::/8, multicast
        || s[..6] == [0, 0, 0, 0, 0, 0] // ::/96, IPv4-compatible (deprecated)
}

/// Whether a webhook may not be delivered to `ip`.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => v4_forbidden(a),
        IpAddr::V6(a) => v6_forbidden(a),
    }
}

fn refused(why: &str) -> Refusal {
    Refusal::invalid(
        "url",
        "webhook_target_forbidden",
        format!(
            "通知先URLにはループバック・プライベート・リンクローカル等のアドレスは指定できません: {why}"
        ),
        format!(
            "the webhook url may not point at a loopback, private, link-local or otherwise \
             internal address: {why}"
        ),
    )
}

/// The address in `host` (a URL's host, IPv6 in brackets), if it is one.
fn literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Refuses (at registration) a URL whose host is, or now resolves to, an address a webhook
/// may not reach, unless `allow_private`.
pub async fn check_registration(url: &WebhookUrl, allow_private: bool) -> Result<(), Refusal> {
    if allow_private {
        return Ok(());
    }
    let parsed = reqwest::Url::parse(url.as_str()).map_err(|e| Refusal::Internal(e.into()))?;
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    if let Some(ip) = literal(&host) {
        return match forbidden(ip) {
            true => Err(refused(&ip.to_string())),
            false => Ok(()),
        };
    }
    let name = host.trim_end_matches('.');
    if name == "localhost" || name.ends_with(".localhost") {
        return Err(refused(&host));
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let resolved = tokio::time::timeout(RESOLVE_FOR, tokio::net::lookup_host((name, port))).await;
    if let Ok(Ok(addrs)) = resolved {
        if let Some(bad) = addrs.map(|a| a.ip()).find(|ip| forbidden(*ip)) {
            return Err(refused(&format!("{host} → {bad}")));
        }
    }
    Ok(())
}

/// Why a delivery to `url` may not even be tried: its host is an address a webhook may not
/// reach (a name is checked by [`PublicOnly`] as it resolves).
pub fn delivery_refused(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let ip = literal(parsed.host_str()?)?;
    forbidden(ip).then(|| {
        format!("the webhook's address {ip} is not allowed (loopback, private, link-local…)")
    })
}

/// The delivery client's resolver: a name's addresses less those a webhook may not reach; a
/// name that leaves none fails to resolve, so nothing is sent.
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                all.iter().copied().filter(|a| !forbidden(a.ip())).collect();
            if allowed.is_empty() {
                let seen: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "{host} resolves only to addresses a webhook may not reach ({})",
                    seen.join(", ")
                )
                .into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_forbidden_and_public_ones_are_not() {
        for bad in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(forbidden(bad.parse().unwrap()), "{bad} allowed");
        }
        for good in [
            "8.8.8.8",
            "172.32.0.1",
            "172.15.255.255",
            "192.169.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!forbidden(good.parse().unwrap()), "{good} forbidden");
        }
    }

    #[tokio::test]
    async fn a_webhook_to_an_internal_address_is_refused_at_registration_unless_allowed() {
        for bad in [
            "https://127.0.0.1:8443/hook",
            "https://[::1]/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.5/hook",
            "https://localhost:9/hook",
            "https://0x7f.1/hook",
        ] {
            let url = WebhookUrl::parse(bad).unwrap();
            let e = check_registration(&url, false).await.unwrap_err();
            assert_eq!(e.code(), "webhook_target_forbidden", "{bad}");
            assert!(check_registration(&url, true).await.is_ok(), "{bad}");
            assert!(delivery_refused(url.as_str()).is_some() || bad.contains("localhost"));
        }
        let public = WebhookUrl::parse("https://203.0.113.7/hook").unwrap();
        assert!(check_registration(&public, false).await.is_ok());
        assert_eq!(delivery_refused(public.as_str()), None);
    }
}
