//! The host address Harbor is published on.

use std::net::{IpAddr, Ipv4Addr};

use crate::error::UserError;

/// The first non-loopback IPv4 address, as `hostname -I | cut -d' ' -f1` gives.
pub fn detect_host_ip() -> Result<Ipv4Addr, UserError> {
    let ifaces = local_ip_address::list_afinet_netifas().map_err(|e| {
        UserError::environment(format!(
            "cannot list network interfaces ({e}); pass --hostname"
        ))
    })?;
    ifaces
        .into_iter()
        .find_map(|(_, ip)| match ip {
            IpAddr::V4(v4) if !v4.is_loopback() && !v4.is_unspecified() => Some(v4),
            _ => None,
        })
        .ok_or_else(|| {
            UserError::environment(
                "this machine has no non-loopback IPv4 address; pass --hostname with the name clients use",
            )
        })
}

/// Check a hostname Harbor will be published as. Loopback names only pass
/// with `allow_loopback` (tests): other clients could not reach them.
pub fn check_hostname(host: &str, allow_loopback: bool) -> Result<(), UserError> {
    let valid = !host.is_empty()
        && host.len() <= 253
        && (host.parse::<IpAddr>().is_ok()
            || host.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    if !valid {
        return Err(UserError::usage(format!(
            "--hostname {host:?} is not a host name or IP address"
        )));
    }
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err(UserError::usage(format!(
            "--hostname {host} is an IPv6 address: Harbor's prepare builds its URLs as protocol://hostname:port, without brackets, so it cannot work; use a DNS name for it, or an IPv4 address"
        )));
    }
    if host == "reg.mydomain.com" {
        return Err(UserError::usage(
            "--hostname reg.mydomain.com is Harbor's placeholder; give the name or IP clients use",
        ));
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
    if loopback && !allow_loopback {
        return Err(UserError::usage(format!(
            "--hostname {host} is refused: Harbor must be reachable by other clients, and localhost, 127.0.0.0/8 and 0.0.0.0 are not (Harbor's prepare rejects 127.0.0.1 too); use this machine's address, or --allow-loopback-hostname for tests"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_the_override() {
        for h in ["localhost", "127.0.0.1", "127.9.9.9", "0.0.0.0"] {
            assert!(check_hostname(h, false).is_err(), "{h}");
            assert!(check_hostname(h, true).is_ok(), "{h}");
        }
        for h in ["::1", "fe80::1", "2001:db8::5"] {
            let e = check_hostname(h, true).unwrap_err().to_string();
            assert!(e.contains("IPv6"), "{h}: {e}");
        }
        assert!(check_hostname("10.0.0.5", false).is_ok());
        assert!(check_hostname("harbor.example.com", false).is_ok());
        assert!(check_hostname("reg.mydomain.com", true).is_err());
        assert!(check_hostname("bad host", true).is_err());
    }
}
