//! TLS client configuration: platform roots plus the host's extra CAs, ALPN per protocol set.
//!
//! The host's extra CAs are parsed when the client is built (a bad PEM is a build error); the
//! platform roots are loaded, and the configurations made, on the first HTTPS connection, so a
//! client that only ever speaks plain HTTP never reads the system's certificate store.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The TLS configurations a client uses (one per ALPN offer), sharing one trust store.
#[derive(Debug, Clone)]
pub(crate) struct TlsConfigs {
    /// ALPN `http/1.1` only.
    pub http1: Arc<ClientConfig>,
    /// ALPN `h2, http/1.1`.
    pub h2: Arc<ClientConfig>,
    /// ALPN `h3`, TLS 1.3 only (for QUIC).
    pub h3: Arc<ClientConfig>,
}

/// A client's trust: what the host configured, and the configurations made from it on first use.
/// Why an extra CA certificate was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// The PEM text could not be read.
    #[error("CA certificate PEM: {0}")]
    Pem(rustls::pki_types::pem::Error),
    /// A certificate in it is not a usable trust anchor.
    #[error("CA certificate: {0}")]
    Certificate(rustls::Error),
    /// The PEM text holds no `CERTIFICATE` block.
    #[error("CA certificate PEM: no CERTIFICATE block found")]
    NoCertificate,
}

#[derive(Debug)]
pub(crate) struct Trust {
    extra: RootCertStore,
    platform_roots: bool,
    configs: OnceLock<TlsConfigs>,
}

impl Trust {
    /// Parses the host's extra CA certificates (PEM) now; platform roots wait for first use.
    pub fn new(extra_pems: &[Vec<u8>], platform_roots: bool) -> Result<Trust, CaError> {
        let mut extra = RootCertStore::empty();
        for pem in extra_pems {
            let mut any = false;
            for cert in CertificateDer::pem_slice_iter(pem) {
                extra
                    .add(cert.map_err(CaError::Pem)?)
                    .map_err(CaError::Certificate)?;
                any = true;
            }
            if !any {
                return Err(CaError::NoCertificate);
            }
        }
        Ok(Trust {
            extra,
            platform_roots,
            configs: OnceLock::new(),
        })
    }

    /// The configurations, made on the first call.
    pub fn configs(&self) -> &TlsConfigs {
        self.configs.get_or_init(|| self.make())
    }

    fn make(&self) -> TlsConfigs {
        let mut roots = RootCertStore::empty();
        if self.platform_roots {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A platform root rustls cannot parse is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
        roots.roots.extend(self.extra.roots.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions = |only_13: bool| {
            let builder = ClientConfig::builder_with_provider(provider.clone());
            // The ring provider supports both versions, so neither choice can fail.
            if only_13 {
                builder.with_protocol_versions(&[&rustls::version::TLS13])
            } else {
                builder.with_safe_default_protocol_versions()
            }
            .expect("ring supports TLS 1.2 and 1.3")
            .with_root_certificates(roots.clone())
            .with_no_client_auth()
        };
        let with_alpn = |mut config: ClientConfig, alpn: &[&[u8]]| {
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Arc::new(config)
        };
        TlsConfigs {
            http1: with_alpn(versions(false), &[b"http/1.1"]),
            h2: with_alpn(versions(false), &[b"h2", b"http/1.1"]),
            h3: with_alpn(versions(true), &[b"h3"]),
        }
    }
}
