//! One client configuration, filled by every face — the CLI from its flags, the Node package's
//! `createWx(config)` and the JS host from JSON (+ a Mini Program's `app.json` `networkTimeout`) —
//! and turned into a [`ClientBuilder`] in this one place. Values of the wrong type in JSON are
//! ignored, as a Mini Program's config is read.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use wxdl::client::ConcurrencyScope;
use wxdl::{
    transport::{NetworkSettings, Resolver},
    Client, ClientBuilder, Policy,
};

use crate::api::Api;

/// A configuration that cannot make a client: which setting (its JSON name) and why. Faces name
/// the setting their own way (the CLI as its flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct ConfigError {
    /// The setting's JSON name (`cacert`, `resolve`, `domains`, `network`).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(field: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field,
            message: message.into(),
        }
    }
}

/// What a client is made of: `{root, appid, appVersion, domains, downloadDomains,
/// requestDomains, uploadDomains, cacert, concurrency, concurrencyScope, userAgent, usrQuota,
/// resolve, rateLimit, quicHandshakeTimeout, network, down, up, latency, jitter, loss,
/// networkTimeline, seed, networkTimeout}`, every field optional.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The sandbox root.
    pub root: Option<PathBuf>,
    /// The Mini Program's appid (default `touristappid`).
    pub appid: Option<String>,
    /// The app version in the user agent (default `devtools`).
    pub app_version: Option<String>,
    /// The strict policy's domain list for every API without a list of its own (none, and no
    /// per-API list: the permissive policy).
    pub domains: Option<Vec<String>>,
    /// WeChat's per-API lists (`downloadDomains`, `requestDomains`, `uploadDomains`): with any
    /// of them the policy is strict, each API checked against its own list, else `domains`,
    /// else nothing (every host refused).
    pub download_domains: Option<Vec<String>>,
    /// See [`download_domains`](ClientConfig::download_domains).
    pub request_domains: Option<Vec<String>>,
    /// See [`download_domains`](ClientConfig::download_domains).
    pub upload_domains: Option<Vec<String>>,
    /// Extra trusted CA certificates: PEM text, or paths of PEM files.
    pub cacert: Vec<String>,
    /// Calls at once per API, or for the three together (at least 1; default 10).
    pub concurrency: Option<usize>,
    /// `concurrencyScope`: `"per-api"` (the default: downloads, requests and uploads each have
    /// `concurrency` slots) or `"shared"` (one pool for the three); anything else is an error
    /// of [`builder`](ClientConfig::builder).
    pub concurrency_scope: Option<String>,
    /// The `User-Agent`.
    pub user_agent: Option<String>,
    /// The usr quota in bytes.
    pub usr_quota: Option<u64>,
    /// curl's `HOST:PORT:ADDR` overrides (an empty ADDR: the name does not resolve).
    pub resolve: Vec<String>,
    /// One byte budget per second for every download of the client (the CLI's `--limit-rate`
    /// in batch mode).
    pub rate_limit: Option<u64>,
    /// How long a QUIC handshake may take before TCP is tried (ms).
    pub quic_handshake_timeout: Option<u64>,
    /// An emulated network (the CLI's flags, by the same names).
    pub network: NetworkSettings,
    /// `networkTimeout`: each API's default timeout, in ms (as `app.json` has it).
    pub network_timeout: Value,
}

impl ClientConfig {
    /// Reads a configuration object; a value of the wrong type is as if absent.
    ///
    /// ```
    /// use serde_json::json;
    /// use wxdl_wx::{config::ClientConfig, Api};
    ///
    /// let c = ClientConfig::from_json(&json!({
    ///     "appid": "wx123", "concurrency": 2, "networkTimeout": {"downloadFile": 5000}
    /// }));
    /// assert_eq!(c.concurrency, Some(2));
    /// assert_eq!(c.timeout(Api::DownloadFile), Some(std::time::Duration::from_secs(5)));
    /// assert!(c.builder().is_ok());
    /// ```
    pub fn from_json(config: &Value) -> ClientConfig {
        let text = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_owned);
        let number = |k: &str| config.get(k).and_then(Value::as_f64);
        let whole = |k: &str| number(k).map(|v| v.max(0.0) as u32);
        // The strings of an array option (none when absent or not an array).
        let strings = |k: &str| {
            config
                .get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        // An array option that is present (even empty) as its strings.
        let list = |k: &str| config.get(k).and_then(Value::as_array).map(|_| strings(k));
        ClientConfig {
            root: text("root").map(PathBuf::from),
            appid: text("appid"),
            app_version: text("appVersion"),
            domains: list("domains"),
            download_domains: list("downloadDomains"),
            request_domains: list("requestDomains"),
            upload_domains: list("uploadDomains"),
            concurrency_scope: text("concurrencyScope"),
            cacert: strings("cacert"),
            concurrency: number("concurrency")
                .filter(|n| *n >= 1.0)
                .map(|n| n as usize),
            user_agent: text("userAgent"),
            usr_quota: number("usrQuota").filter(|n| *n >= 0.0).map(|n| n as u64),
            resolve: strings("resolve"),
            rate_limit: number("rateLimit").filter(|n| *n >= 1.0).map(|n| n as u64),
            quic_handshake_timeout: number("quicHandshakeTimeout")
                .filter(|n| *n >= 0.0)
                .map(|n| n as u64),
            network: NetworkSettings {
                network: text("network"),
                down: whole("down"),
                up: whole("up"),
                latency: whole("latency"),
                jitter: whole("jitter"),
                loss: number("loss"),
                timeline: text("networkTimeline"),
                seed: number("seed").map(|s| s as u64),
            },
            network_timeout: config.get("networkTimeout").cloned().unwrap_or_default(),
        }
    }

    /// The default timeout of `api`'s calls (`networkTimeout.<api>`, ms above 0), for calls
    /// that give none.
    pub fn timeout(&self, api: Api) -> Option<Duration> {
        let ms = self.network_timeout.get(api.name())?.as_f64()?;
        (ms > 0.0).then(|| Duration::from_millis(ms as u64))
    }

    /// The client builder this configuration describes (certificates read, resolver and
    /// emulation made); `build()` it inside a tokio runtime.
    pub fn builder(&self) -> Result<ClientBuilder, ConfigError> {
        let mut b = Client::builder()
            .appid(self.appid.as_deref().unwrap_or("touristappid"))
            .app_version(self.app_version.as_deref().unwrap_or("devtools"));
        if let Some(root) = &self.root {
            b = b.sandbox_root(root);
        }
        if let Some(n) = self.concurrency {
            b = b.concurrency(n);
        }
        if let Some(q) = self.usr_quota {
            b = b.usr_quota(q);
        }
        if let Some(ua) = &self.user_agent {
            b = b.user_agent(ua);
        }
        if let Some(rate) = self.rate_limit {
            b = b.rate_limit(rate);
        }
        if let Some(ms) = self.quic_handshake_timeout {
            b = b.quic_handshake_timeout(Duration::from_millis(ms));
        }
        if let Some(policy) = self.policy()? {
            b = b.policy(policy);
        }
        match self.concurrency_scope.as_deref() {
            None | Some("per-api") => {}
            Some("shared") => b = b.concurrency_scope(ConcurrencyScope::Shared),
            Some(other) => {
                return Err(ConfigError::new(
                    "concurrencyScope",
                    format!("should be \"shared\" or \"per-api\", not {other:?}"),
                ))
            }
        }
        for pem in &self.cacert {
            let bytes = if pem.contains("-----BEGIN") {
                pem.as_bytes().to_vec()
            } else {
                std::fs::read(pem).map_err(|e| ConfigError::new("cacert", format!("{pem}: {e}")))?
            };
            b = b.add_root_certificate_pem(bytes);
        }
        let mut resolver = Resolver::default();
        for spec in &self.resolve {
            resolver
                .add_curl_style(spec)
                .map_err(|e| ConfigError::new("resolve", format!("{spec:?}: {e}")))?;
        }
        b = b.resolver(resolver);
        if let Some(e) = self
            .network
            .emulation()
            .map_err(|e| ConfigError::new("network", e))?
        {
            b = b.network(e);
        }
        Ok(b)
    }
}

impl ClientConfig {
    /// The strict policy the domain lists describe, if any.
    fn policy(&self) -> Result<Option<Policy>, ConfigError> {
        let per_api = [
            (&self.download_domains, "downloadDomains"),
            (&self.request_domains, "requestDomains"),
            (&self.upload_domains, "uploadDomains"),
        ];
        if per_api.iter().all(|(l, _)| l.is_none()) {
            let Some(domains) = &self.domains else {
                return Ok(None);
            };
            return Policy::strict(domains.iter().map(String::as_str))
                .map(Some)
                .map_err(|e| ConfigError::new("domains", e.to_string()));
        }
        // Each list on its own first, so an error names the field it is in.
        for (list, field) in per_api.iter().chain([&(&self.domains, "domains")]) {
            if let Some(l) = list {
                Policy::strict(l.iter().map(String::as_str))
                    .map_err(|e| ConfigError::new(field, e.to_string()))?;
            }
        }
        let of = |own: &Option<Vec<String>>| -> Vec<String> {
            own.as_ref()
                .or(self.domains.as_ref())
                .cloned()
                .unwrap_or_default()
        };
        Policy::strict_per_api(
            of(&self.download_domains),
            of(&self.request_domains),
            of(&self.upload_domains),
        )
        .map(Some)
        .map_err(|e| ConfigError::new("domains", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wrong_types_are_ignored_and_bad_values_named() {
        let c = ClientConfig::from_json(&json!({
            "concurrency": "4", "usrQuota": -1, "cacert": "x", "resolve": [1, "h:80:127.0.0.1"],
            "networkTimeout": {"downloadFile": "5000"}
        }));
        assert_eq!(c.concurrency, None);
        assert_eq!(c.usr_quota, None);
        assert!(c.cacert.is_empty());
        assert_eq!(c.resolve, ["h:80:127.0.0.1"]);
        let tuned =
            ClientConfig::from_json(&json!({"rateLimit": 65536, "quicHandshakeTimeout": 250}));
        assert_eq!(tuned.rate_limit, Some(65536));
        assert_eq!(tuned.quic_handshake_timeout, Some(250));
        assert_eq!(
            ClientConfig::from_json(&json!({"rateLimit": 0})).rate_limit,
            None
        );
        assert_eq!(c.timeout(Api::DownloadFile), None);
        assert_eq!(ClientConfig::from_json(&json!({})), ClientConfig::default());
        let bad = ClientConfig::from_json(&json!({"resolve": ["nonsense"]}));
        assert!(bad
            .builder()
            .err()
            .unwrap()
            .to_string()
            .starts_with("resolve \"nonsense\""));
        let no_domain = ClientConfig::from_json(&json!({"domains": ["http://"]}));
        assert_eq!(no_domain.builder().err().unwrap().field, "domains");
        let missing = ClientConfig::from_json(&json!({"cacert": ["/no/such/ca.pem"]}));
        assert!(missing
            .builder()
            .err()
            .unwrap()
            .to_string()
            .starts_with("cacert /no/such/ca.pem"));
    }

    #[test]
    fn per_api_domain_lists_fall_back_to_domains_then_to_nothing() {
        use wxdl::net::Api as Net;
        let c = ClientConfig::from_json(&json!({
            "domains": ["cdn.example.com"], "requestDomains": ["api.example.com"]
        }));
        let p = c.policy().unwrap().expect("strict");
        assert!(p
            .check_str_for(Net::Request, "https://api.example.com/v1")
            .is_ok());
        assert!(p
            .check_str_for(Net::Request, "https://cdn.example.com/a")
            .is_err());
        assert!(p
            .check_str_for(Net::Download, "https://cdn.example.com/a")
            .is_ok());
        assert!(p
            .check_str_for(Net::Upload, "https://cdn.example.com/a")
            .is_ok());
        // Without `domains`, an API with no list of its own may reach nothing.
        let c = ClientConfig::from_json(&json!({"uploadDomains": ["up.example.com"]}));
        let p = c.policy().unwrap().expect("strict");
        assert!(p
            .check_str_for(Net::Upload, "https://up.example.com/")
            .is_ok());
        assert!(p
            .check_str_for(Net::Download, "https://up.example.com/")
            .is_err());
        // A bad entry names its list.
        let c = ClientConfig::from_json(&json!({"requestDomains": ["http://x"]}));
        assert_eq!(c.builder().map(|_| ()).unwrap_err().field, "requestDomains");
        assert!(ClientConfig::from_json(&json!({}))
            .policy()
            .unwrap()
            .is_none());
    }

    #[test]
    fn numbers_at_their_bounds() {
        let c = ClientConfig::from_json(&json!({
            "concurrency": 1, "usrQuota": 0, "rateLimit": 1, "quicHandshakeTimeout": 0,
            "networkTimeout": {"downloadFile": 5000, "request": 0, "uploadFile": -1}
        }));
        assert_eq!(c.concurrency, Some(1));
        assert_eq!(c.usr_quota, Some(0));
        assert_eq!(c.rate_limit, Some(1));
        assert_eq!(c.quic_handshake_timeout, Some(0));
        assert_eq!(
            c.timeout(Api::DownloadFile),
            Some(Duration::from_millis(5000))
        );
        assert_eq!(c.timeout(Api::Request), None, "0 is the default");
        assert_eq!(c.timeout(Api::UploadFile), None);
        let c = ClientConfig::from_json(&json!({"concurrency": 0.5, "quicHandshakeTimeout": -1}));
        assert_eq!((c.concurrency, c.quic_handshake_timeout), (None, None));
    }
}
