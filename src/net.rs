//! The host address Harbor is published on.

use std::net::{IpAddr, Ipv4Addr};

use crate::error::UserError;

/// The first non-loopback IPv4 address, as `hostname -I | cut -d' ' -f1` gives.
pub fn detect_host_ip() -> Result<Ipv4Addr, UserError> {
    let addrs = interface_ipv4s().map_err(|e| {
        UserError::environment(format!(
            "cannot list network interfaces ({e}); pass --hostname"
        ))
    })?;
    first_usable(&addrs).ok_or_else(|| {
        UserError::environment(
            "this machine has no non-loopback IPv4 address; pass --hostname with the name clients use",
        )
    })
}

/// The first address other clients could use: not loopback, not 0.0.0.0.
fn first_usable(addrs: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    addrs
        .iter()
        .copied()
        .find(|a| !a.is_loopback() && !a.is_unspecified())
}

/// The IPv4 addresses of this machine's interfaces, in the kernel's order
/// (getifaddrs(3)).
fn interface_ipv4s() -> std::io::Result<Vec<Ipv4Addr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: on success getifaddrs points `head` at a list we own until
    // freeifaddrs below; on failure it sets errno and leaves nothing to free.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed;
        // an AF_INET address is a sockaddr_in.
        unsafe {
            let ifa = &*cur;
            let addr = ifa.ifa_addr;
            if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                let sin = &*(addr as *const libc::sockaddr_in);
                out.push(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            }
            cur = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
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
    if host == crate::installer::versions::PLACEHOLDER_HOSTNAME {
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
    fn the_host_ip_skips_loopback_and_unspecified() {
        let lo = Ipv4Addr::LOCALHOST;
        let any = Ipv4Addr::UNSPECIFIED;
        let lan = Ipv4Addr::new(10, 0, 0, 5);
        let other = Ipv4Addr::new(192, 168, 1, 2);
        assert_eq!(first_usable(&[lo, any, lan, other]), Some(lan));
        assert_eq!(first_usable(&[Ipv4Addr::new(127, 9, 9, 9), any]), None);
        assert_eq!(first_usable(&[]), None);
        // The real interfaces: loopback is listed (and skipped).
        let real = interface_ipv4s().unwrap();
        assert!(real.contains(&lo), "{real:?}");
        if let Ok(ip) = detect_host_ip() {
            assert!(!ip.is_loopback() && !ip.is_unspecified());
        }
    }

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
