//! Name resolution: fixed entries (like curl's `--resolve`) first, then the system resolver.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use url::Host;

use crate::error::{Fail, FailReason, Phase};

/// Resolves host names to socket addresses.
///
/// Fixed entries replace DNS for one `host:port`, like curl's `--resolve HOST:PORT:ADDR`; tests
/// use them so they never depend on the machine's DNS.
///
/// ```
/// let mut r = wxdl::transport::Resolver::default();
/// r.add("cdn.example.com", 443, "127.0.0.1".parse().unwrap());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    fixed: HashMap<(String, u16), Vec<IpAddr>>,
}

impl Resolver {
    /// Makes `host:port` resolve to `addr` (more calls add more addresses, tried in order).
    pub fn add(&mut self, host: &str, port: u16, addr: IpAddr) {
        self.fixed
            .entry((normalise(host), port))
            .or_default()
            .push(addr);
    }

    /// Makes `host:port` fail to resolve, as a name with no address would (for tests and for
    /// blocking a host).
    pub fn add_unresolvable(&mut self, host: &str, port: u16) {
        self.fixed.insert((normalise(host), port), Vec::new());
    }

    /// Parses curl's `HOST:PORT:ADDR` form (`ADDR` may be `[v6]`; empty makes the name
    /// unresolvable).
    pub fn add_curl_style(&mut self, spec: &str) -> Result<(), String> {
        let mut parts = spec.splitn(3, ':');
        let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("{spec:?}: expected HOST:PORT:ADDR"));
        };
        let port: u16 = port.parse().map_err(|_| format!("{spec:?}: bad port"))?;
        if addr.is_empty() {
            self.add_unresolvable(host, port);
            return Ok(());
        }
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("{spec:?}: bad address"))?;
        self.add(host, port, addr);
        Ok(())
    }

    /// The addresses to try for `host:port`, in order.
    pub(crate) async fn resolve(
        &self,
        host: &Host<String>,
        port: u16,
    ) -> Result<Vec<SocketAddr>, Fail> {
        let name = match host {
            Host::Ipv4(ip) => return Ok(vec![SocketAddr::new((*ip).into(), port)]),
            Host::Ipv6(ip) => return Ok(vec![SocketAddr::new((*ip).into(), port)]),
            Host::Domain(name) => name,
        };
        if let Some(ips) = self.fixed.get(&(normalise(name), port)) {
            if ips.is_empty() {
                return Err(Fail::with(
                    FailReason::DnsResolveFail,
                    format_args!("{name}: no address"),
                )
                .in_phase(Phase::Resolve));
            }
            return Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
            .await
            .map_err(|e| {
                Fail::with(FailReason::DnsResolveFail, format_args!("{name}: {e}"))
                    .in_phase(Phase::Resolve)
                    .caused_by(e)
            })?
            .collect();
        if addrs.is_empty() {
            return Err(Fail::with(
                FailReason::DnsResolveFail,
                format_args!("{name}: no address"),
            )
            .in_phase(Phase::Resolve));
        }
        Ok(addrs)
    }
}

fn normalise(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}
