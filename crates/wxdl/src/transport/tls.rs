//! TLS client configuration: platform roots plus the host's extra CAs, ALPN per protocol set.
//!
//! The host's extra CAs are parsed when the client is built (a bad PEM is a build error); the
//! platform roots are loaded, and the configurations made, on the first HTTPS connection, so a
//! client that only ever speaks plain HTTP never reads the system's certificate store.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::insecure::AnyCertVerifier;
use super::self_signed::ListedCertVerifier;

/// The TLS configurations a client uses (one per ALPN offer), sharing one trust store.
#[derive(Debug, Clone)]
pub(crate) struct TlsConfigs {
    /// ALPN `http/1.1` only.
    pub http1: Arc<ClientConfig>,
    /// ALPN `h2, http/1.1`.
    pub h2: Arc<ClientConfig>,
    /// ALPN `h3`, TLS 1.3 only (for QUIC).
    #[cfg(feature = "http3")]
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
    /// The host's certificates as given, for exact-certificate trust (`self_signed`).
    listed: Vec<CertificateDer<'static>>,
    platform_roots: bool,
    /// Any server certificate is accepted (curl's `-k`).
    insecure: bool,
    configs: OnceLock<TlsConfigs>,
}

impl Trust {
    /// Parses the host's extra CA certificates (PEM) now; platform roots wait for first use.
    pub fn new(extra_pems: &[Vec<u8>], platform_roots: bool) -> Result<Trust, CaError> {
        let mut extra = RootCertStore::empty();
        let mut listed = Vec::new();
        for pem in extra_pems {
            let mut any = false;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(CaError::Pem)?;
                extra.add(cert.clone()).map_err(CaError::Certificate)?;
                listed.push(cert);
                any = true;
            }
            if !any {
                return Err(CaError::NoCertificate);
            }
        }
        Ok(Trust {
            extra,
            listed,
            platform_roots,
            insecure: false,
            configs: OnceLock::new(),
        })
    }

    /// Accepts any server certificate (the key is still checked): curl's `-k`.
    pub fn insecure(mut self, on: bool) -> Trust {
        self.insecure = on;
        self
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
        let roots = Arc::new(roots);
        // The listed-certificate verifier also tells a self-signed certificate apart in its
        // refusal; it needs roots to build (with none, nothing verifies anyway).
        let listed: Option<Arc<dyn rustls::client::danger::ServerCertVerifier>> = if self.insecure {
            Some(Arc::new(AnyCertVerifier::new(provider.clone())))
        } else {
            (!roots.is_empty())
                .then(|| {
                    ListedCertVerifier::new(roots.clone(), self.listed.clone(), provider.clone())
                        .ok()
                })
                .flatten()
                .map(|v| Arc::new(v) as _)
        };
        let versions = |only_13: bool| {
            let builder = ClientConfig::builder_with_provider(provider.clone());
            // The ring provider supports both versions, so neither choice can fail.
            let builder = if only_13 {
                builder.with_protocol_versions(&[&rustls::version::TLS13])
            } else {
                builder.with_safe_default_protocol_versions()
            }
            .expect("ring supports TLS 1.2 and 1.3");
            match &listed {
                Some(verifier) => builder
                    .dangerous()
                    .with_custom_certificate_verifier(verifier.clone()),
                None => builder.with_root_certificates(roots.clone()),
            }
            .with_no_client_auth()
        };
        let with_alpn = |mut config: ClientConfig, alpn: &[&[u8]]| {
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Arc::new(config)
        };
        TlsConfigs {
            http1: with_alpn(versions(false), &[b"http/1.1"]),
            h2: with_alpn(versions(false), &[b"h2", b"http/1.1"]),
            #[cfg(feature = "http3")]
            h3: with_alpn(versions(true), &[b"h3"]),
        }
    }
}

/// A failed TLS handshake as a sentence a person can act on, instead of the library's debug
/// names ("invalid peer certificate: UnknownIssuer").
pub(crate) fn handshake_sentence(err: &std::io::Error) -> String {
    use super::self_signed::SelfSigned;
    use rustls::{AlertDescription, CertificateError, Error};
    let Some(tls) = err.get_ref().and_then(|e| e.downcast_ref::<Error>()) else {
        return err.to_string();
    };
    match tls {
        Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                "the certificate is not signed by a trusted authority (a private CA can be added \
                 with --cacert FILE)"
                    .into()
            }
            CertificateError::Other(other) if other.0.is::<SelfSigned>() => other.0.to_string(),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the certificate is not valid yet".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the certificate is for another host name".into()
            }
            CertificateError::Revoked => "the certificate has been revoked".into(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the certificate is not meant for a server".into()
            }
            CertificateError::BadSignature => "the certificate's signature is not valid".into(),
            CertificateError::BadEncoding => "the certificate could not be read".into(),
            other if format!("{other:?}").contains("CaUsedAsEndEntity") => {
                "the certificate is a CA certificate, not a server certificate (CA:TRUE): a \
                 server needs a certificate the CA issued for it, not the CA's own"
                    .into()
            }
            other => format!("the certificate was refused ({other:?})"),
        },
        Error::AlertReceived(AlertDescription::HandshakeFailure) => {
            "the server found no protocol version or cipher suite in common".into()
        }
        Error::AlertReceived(alert) => format!("the server ended the handshake ({alert:?})"),
        Error::PeerIncompatible(why) => {
            format!("the server's TLS is not compatible ({why:?})")
        }
        Error::InvalidMessage(_) => "the server does not speak TLS on this port".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod sentence_tests {
    use super::*;
    use rustls::{CertificateError, Error};

    #[test]
    fn certificate_errors_read_as_sentences() {
        let io = |e: Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        assert_eq!(
            handshake_sentence(&io(Error::InvalidCertificate(CertificateError::Expired))),
            "the certificate has expired"
        );
        assert!(handshake_sentence(&io(Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        )))
        .starts_with("the certificate is not signed by a trusted authority"));
        assert_eq!(handshake_sentence(&std::io::Error::other("plain")), "plain");
    }
}
