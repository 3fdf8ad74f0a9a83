//! The URL policy (contract §4): off (developer tools) or strict (WeChat production rules).
//!
//! Imports `options` (URL parsing) and `error`; never the transport or a download policy.

use std::net::IpAddr;

use url::{Host, Url};

use crate::error::{Fail, FailReason};

/// Which URLs a client may fetch; checked for the first URL and again for every redirect hop.
///
/// ```
/// use wxdl::Policy;
///
/// let strict = Policy::strict(["https://cdn.example.com", "https://api.example.com:8443"]).unwrap();
/// assert!(strict.check_str("https://cdn.example.com/a.mp3").is_ok());
/// assert!(strict.check_str("http://cdn.example.com/a.mp3").is_err()); // HTTPS only
/// assert!(strict.check_str("https://cdn.example.com:443/a").is_err()); // entry names no port
/// assert!(strict.check_str("https://api.example.com:8443/x").is_ok());
/// assert!(strict.check_str("https://127.0.0.1/").is_err()); // no IP literals
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Policy {
    /// Any `http://` or `https://` URL, loopback included (like devtools with URL checks off).
    #[default]
    Off,
    /// HTTPS only, host in the domain list, no IP literals or `localhost`; one list for every
    /// API.
    Strict(Vec<DomainEntry>),
    /// Strict, with a list per API as WeChat keeps them (`downloadDomain`, `requestDomain`,
    /// `uploadDomain`): a request is checked against its own API's list only.
    StrictPerApi(Box<ApiDomains>),
}

/// Which network API a request belongs to: it picks the domain list a strict [`Policy`]
/// checks, and the queue it waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// `wx.downloadFile`.
    Download,
    /// `wx.request`.
    Request,
    /// `wx.uploadFile`.
    Upload,
}

impl Api {
    /// The API's word in messages: `download`, `request`, `upload`.
    pub fn word(self) -> &'static str {
        match self {
            Api::Download => "download",
            Api::Request => "request",
            Api::Upload => "upload",
        }
    }

    /// The name WeChat's domain list for this API has (`downloadDomain`, …).
    pub fn domain_list(self) -> &'static str {
        match self {
            Api::Download => "downloadDomain",
            Api::Request => "requestDomain",
            Api::Upload => "uploadDomain",
        }
    }
}

/// The domain lists of [`Policy::StrictPerApi`], one per API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiDomains {
    /// `downloadDomain`.
    pub download: Vec<DomainEntry>,
    /// `requestDomain`.
    pub request: Vec<DomainEntry>,
    /// `uploadDomain`.
    pub upload: Vec<DomainEntry>,
}

/// Why a download domain list entry was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The entry is not a URL or host.
    #[error("domain entry {entry:?}: {source}")]
    Unparsable {
        /// The entry as given.
        entry: String,
        /// Why it did not parse.
        source: url::ParseError,
    },
    /// The entry names a scheme other than https.
    #[error("domain entry {0:?}: only https entries are allowed")]
    NotHttps(String),
    /// The entry is an IP literal or has no host.
    #[error("domain entry {0:?}: needs a domain name")]
    NotADomain(String),
}

/// One entry of the download domain list: a host and, when the entry names one, its port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainEntry {
    /// Normalised host: lowercase, no trailing dot, IDN in punycode.
    pub host: String,
    /// The only port allowed; `None` allows only URLs that name no port.
    pub port: Option<u16>,
}

impl Policy {
    /// A strict policy over a domain list. Entries are `https://host[:port]` or `host[:port]`.
    pub fn strict<I, S>(domains: I) -> Result<Policy, DomainError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut entries = Vec::new();
        for d in domains {
            let d = d.as_ref().trim();
            let with_scheme = if d.contains("://") {
                d.to_string()
            } else {
                format!("https://{d}")
            };
            let url = Url::parse(&with_scheme).map_err(|source| DomainError::Unparsable {
                entry: d.to_owned(),
                source,
            })?;
            if url.scheme() != "https" {
                return Err(DomainError::NotHttps(d.to_owned()));
            }
            let host = match url.host() {
                Some(Host::Domain(h)) => normalise_host(h),
                _ => return Err(DomainError::NotADomain(d.to_owned())),
            };
            entries.push(DomainEntry {
                host,
                port: url.port(),
            });
        }
        Ok(Policy::Strict(entries))
    }

    /// A strict policy with a domain list per API (entries as for [`Policy::strict`]).
    ///
    /// ```
    /// use wxdl::net::{Api, Policy};
    ///
    /// let p = Policy::strict_per_api(["cdn.example.com"], ["api.example.com"], ["up.example.com"])
    ///     .unwrap();
    /// assert!(p.check_str_for(Api::Request, "https://api.example.com/v1").is_ok());
    /// assert!(p.check_str_for(Api::Download, "https://api.example.com/v1").is_err());
    /// assert!(p.check_str_for(Api::Upload, "https://up.example.com/").is_ok());
    /// ```
    pub fn strict_per_api<D, R, U, S>(
        download: D,
        request: R,
        upload: U,
    ) -> Result<Policy, DomainError>
    where
        D: IntoIterator<Item = S>,
        R: IntoIterator<Item = S>,
        U: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list = |domains: Vec<S>| match Policy::strict(domains)? {
            Policy::Strict(entries) => Ok(entries),
            _ => unreachable!("strict makes a strict policy"),
        };
        Ok(Policy::StrictPerApi(Box::new(ApiDomains {
            download: list(download.into_iter().collect())?,
            request: list(request.into_iter().collect())?,
            upload: list(upload.into_iter().collect())?,
        })))
    }

    /// Checks a URL string for a download (convenience for callers and docs).
    pub fn check_str(&self, url: &str) -> Result<(), Fail> {
        self.check_str_for(Api::Download, url)
    }

    /// Checks a URL string for `api`.
    pub fn check_str_for(&self, api: Api, url: &str) -> Result<(), Fail> {
        let parsed = crate::options::parse_url(Some(url))?;
        self.check(api, &parsed, url)
    }

    /// Checks a parsed URL for `api`; `raw` is the text it was parsed from (its authority
    /// tells whether a port was written out, which the parsed form forgets for default ports).
    pub(crate) fn check(&self, api: Api, url: &Url, raw: &str) -> Result<(), Fail> {
        let entries = match self {
            Policy::Off => return Ok(()),
            Policy::Strict(entries) => entries,
            Policy::StrictPerApi(lists) => match api {
                Api::Download => &lists.download,
                Api::Request => &lists.request,
                Api::Upload => &lists.upload,
            },
        };
        let refuse = |why: &str| {
            Err(Fail::with(
                FailReason::UrlNotInDomainList,
                format_args!("{}: {why}", url.host_str().unwrap_or("")),
            ))
        };
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("userinfo not allowed");
        }
        // LAN communication (WeChat base library 2.4.0+): a private address needs no entry.
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = ip {
            return ip_rule(ip, is_own_address).or_else(refuse);
        }
        if url.scheme() != "https" {
            return refuse("https only");
        }
        let host = match url.host() {
            Some(Host::Domain(h)) => normalise_host(h),
            _ => return refuse("no host"),
        };
        if host == "localhost" || host.ends_with(".localhost") {
            return refuse("localhost not allowed");
        }
        // `Url::port` is `None` both without a port and with the scheme's default port
        // written out, so read what the URL really says.
        let named_port = url.port().or_else(|| written_port(raw));
        if entries
            .iter()
            .any(|e| e.host == host && e.port == named_port)
        {
            Ok(())
        } else {
            refuse(&format!("not in the {} domain list", api.word()))
        }
    }
}

/// The rule for an IP-literal host: a LAN address is allowed unless `is_own` says this machine
/// has it; any other address is refused. `Err` carries why.
fn ip_rule(ip: IpAddr, is_own: impl FnOnce(IpAddr) -> bool) -> Result<(), &'static str> {
    match is_lan(ip) {
        true if is_own(ip) => Err("this machine's own address"),
        true => Ok(()),
        false => Err("IP address not allowed (only LAN addresses are)"),
    }
}

/// Whether `ip` is a LAN address: private IPv4 (10/8, 172.16/12, 192.168/16) or IPv6
/// unique-local (fc00::/7). Loopback, link-local, unspecified and multicast never are.
fn is_lan(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_private(),
            None => v6.segments()[0] & 0xfe00 == 0xfc00,
        },
    }
}

/// Whether `ip` is an address of one of this machine's interfaces.
fn is_own_address(ip: IpAddr) -> bool {
    own_addresses().contains(&ip)
}

/// The addresses of this machine's interfaces (none known off Unix).
fn own_addresses() -> Vec<IpAddr> {
    #[cfg(unix)]
    {
        interface_addresses()
    }
    #[cfg(not(unix))]
    {
        Vec::new()
    }
}

/// The addresses of this machine's interfaces, from `getifaddrs`.
#[cfg(unix)]
fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list it allocates, which is walked read-only
    // (each `ifa_addr` checked for null and read as the sockaddr type its family names) and
    // then released once with freeifaddrs.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(addr as *const libc::sockaddr_in);
                        out.push(IpAddr::V4(std::net::Ipv4Addr::from(u32::from_be(
                            sin.sin_addr.s_addr,
                        ))));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::V6(std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// Lowercase and without a trailing dot (the `url` crate has already applied IDNA).
fn normalise_host(h: &str) -> String {
    h.trim_end_matches('.').to_ascii_lowercase()
}

/// The port written in a URL's text, even when it is the scheme's default (`https://a:443/`),
/// which the parsed form drops.
fn written_port(raw: &str) -> Option<u16> {
    let after_scheme = raw.split_once("://").map(|(_, r)| r).unwrap_or("");
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let port_text = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split_once("]:").map(|(_, p)| p)
    } else {
        host_port.rsplit_once(':').map(|(_, p)| p)
    };
    port_text.and_then(|p| p.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Policy {
        Policy::strict([
            "https://a.example",
            "b.example:8080",
            "https://Xn--bcher-kva.example.",
        ])
        .unwrap()
    }

    #[test]
    fn off_allows_http_and_loopback() {
        assert!(Policy::Off.check_str("http://127.0.0.1:8080/x").is_ok());
    }

    #[test]
    fn strict_rules() {
        let p = strict();
        let ok = |u: &str| p.check_str(u).is_ok();
        assert!(ok("https://a.example/x"));
        assert!(ok("https://A.EXAMPLE./x"));
        assert!(ok("https://b.example:8080/x"));
        assert!(ok("https://bücher.example/x"));
        assert!(!ok("http://a.example/x"));
        assert!(!ok("https://a.example:443/x"));
        assert!(!ok("https://a.example:8443/x"));
        assert!(!ok("https://b.example/x"));
        assert!(!ok("https://evil.example/x"));
        assert!(!ok("https://a.example@evil.example/x"));
        assert!(!ok("https://user:pw@a.example/x"));
        assert!(!ok("https://127.0.0.1/x"));
        // LAN addresses need no entry (WeChat's LAN communication), on any port or scheme;
        // loopback, link-local, unspecified, multicast and public literals stay refused.
        // (Each is checked unless this machine owns it: compared as addresses, not as text.)
        let own = own_addresses();
        for (lan, ip) in [
            ("https://192.168.3.7/x", "192.168.3.7"),
            ("http://10.1.2.3:8080/x", "10.1.2.3"),
            ("https://172.16.0.9/x", "172.16.0.9"),
            ("https://[fd12:3456::1]/x", "fd12:3456::1"),
            ("https://[fc00::9]:8443/x", "fc00::9"),
            ("https://[::ffff:192.168.3.7]/x", "::ffff:192.168.3.7"),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!own.contains(&ip), "a test address this machine owns: {ip}");
            assert!(ok(lan), "{lan}");
        }
        for not_lan in [
            "https://169.254.1.1/x",
            "https://0.0.0.0/x",
            "https://224.0.0.1/x",
            "https://8.8.8.8/x",
            "https://172.32.0.1/x",
            "https://[fe80::1]/x",
            "https://[ff02::1]/x",
            "https://[::]/x",
            "https://[fe00::1]/x",
            "https://[2001:db8::1]/x",
            "https://[::ffff:8.8.8.8]/x",
            "https://[::ffff:127.0.0.1]/x",
        ] {
            assert!(!ok(not_lan), "{not_lan}");
        }
        // This machine's own LAN address is not "the LAN".
        for own in own_addresses().into_iter().filter(|ip| is_lan(*ip)) {
            let url = match own {
                IpAddr::V4(v4) => format!("https://{v4}/x"),
                IpAddr::V6(v6) => format!("https://[{v6}]/x"),
            };
            assert!(!ok(&url), "{url}");
        }
        assert!(!ok("https://2130706433/x"));
        assert!(!ok("https://0x7f.1/x"));
        assert!(!ok("https://[::1]/x"));
        assert!(!ok("https://localhost/x"));
        assert!(!ok("https://0177.0.0.1/x"));
        assert!(!ok("https://a.example.localhost/x"));
        // A backslash is a path separator for https: the host is what precedes it.
        assert!(ok("https://a.example\\@evil.example/"));
        assert!(!ok("https://evil.example\\@a.example/"));
        assert_eq!(
            p.check_str("https://evil.example/").unwrap_err().reason,
            FailReason::UrlNotInDomainList
        );
    }

    #[test]
    fn localhost_is_refused_even_when_listed() {
        let p = Policy::strict(["localhost", "a.localhost", "a.example"]).unwrap();
        for u in [
            "https://localhost/x",
            "https://LOCALHOST./x",
            "https://a.localhost/x",
        ] {
            assert!(p.check_str(u).is_err(), "{u}");
        }
        assert!(p.check_str("https://a.example/x").is_ok());
    }

    #[test]
    fn any_userinfo_is_refused_on_a_listed_host() {
        let p = strict();
        assert!(p.check_str("https://a.example/x").is_ok());
        for u in [
            "https://user@a.example/x",
            "https://:pw@a.example/x",
            "https://user:pw@a.example/x",
            "https://user:@b.example:8080/x",
        ] {
            assert!(p.check_str(u).is_err(), "{u}");
        }
    }

    #[test]
    fn a_lan_address_is_refused_when_it_is_this_machines() {
        let ula: IpAddr = "fd00::2".parse().unwrap();
        let v4: IpAddr = "192.168.1.20".parse().unwrap();
        for ip in [ula, v4] {
            assert_eq!(ip_rule(ip, |_| false), Ok(()), "{ip}: LAN, not ours");
            assert!(ip_rule(ip, |a| a == ip).is_err(), "{ip}: ours");
        }
        let public: IpAddr = "8.8.8.8".parse().unwrap();
        assert!(ip_rule(public, |_| false).is_err());
        assert!(ip_rule(public, |_| true).is_err());
        // The machine's own answer is asked about the address in the URL.
        let mut asked = None;
        let _ = ip_rule(v4, |a| {
            asked = Some(a);
            false
        });
        assert_eq!(asked, Some(v4));
    }

    /// Addresses the kernel reports another way than `getifaddrs`: `/proc/net/if_inet6`,
    /// `ip -o addr`, and the source address a UDP socket connected outwards is given.
    fn kernel_addresses() -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        if let Ok(text) = std::fs::read_to_string("/proc/net/if_inet6") {
            for line in text.lines() {
                let hex = line.split_whitespace().next().unwrap_or("");
                if let Ok(n) = u128::from_str_radix(hex, 16) {
                    out.push(IpAddr::V6(std::net::Ipv6Addr::from(n)));
                }
            }
        }
        if let Ok(o) = std::process::Command::new("ip")
            .args(["-o", "addr"])
            .output()
        {
            let text = String::from_utf8_lossy(&o.stdout);
            for line in text.lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                for pair in words.windows(2) {
                    if pair[0] == "inet" || pair[0] == "inet6" {
                        let addr = pair[1].split('/').next().unwrap_or("");
                        if let Ok(ip) = addr.parse() {
                            out.push(ip);
                        }
                    }
                }
            }
        }
        // connect() on UDP sends nothing: it only asks the kernel for a route and a source.
        for (bind, peer) in [("0.0.0.0:0", "192.0.2.200:9"), ("[::]:0", "[fd00::200]:9")] {
            if let Ok(s) = std::net::UdpSocket::bind(bind) {
                if s.connect(peer).is_ok() {
                    if let Ok(local) = s.local_addr() {
                        out.push(local.ip());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn own_addresses_are_the_kernels() {
        let own = own_addresses();
        let v4_loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(own.contains(&v4_loopback), "{own:?}");
        // ::1 is ours whenever a socket can be bound to it (IPv6 enabled on lo).
        let v6_loopback: IpAddr = "::1".parse().unwrap();
        if std::net::UdpSocket::bind("[::1]:0").is_ok() {
            assert!(own.contains(&v6_loopback), "{own:?}");
        }
        let kernel = kernel_addresses();
        assert!(kernel.contains(&v4_loopback), "{kernel:?}");
        for ip in &kernel {
            if ip.is_unspecified() {
                continue;
            }
            assert!(own.contains(ip), "{ip} from the kernel, not in {own:?}");
        }
        // Strict mode refuses every one of them, LAN or not.
        let p = strict();
        for ip in kernel.iter().chain(&own) {
            let url = match ip {
                IpAddr::V4(v4) => format!("https://{v4}/x"),
                IpAddr::V6(v6) => format!("https://[{v6}]/x"),
            };
            if url.contains('%') {
                continue;
            }
            assert!(p.check_str(&url).is_err(), "{url}");
            assert!(is_own_address(*ip), "{ip}");
        }
    }
}
