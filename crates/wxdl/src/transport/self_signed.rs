//! A server's own self-signed certificate, trusted because the host gave exactly that certificate.
//!
//! `openssl req -x509` makes certificates that are both the server's and their own CA
//! (`CA:TRUE`). The web PKI refuses such a certificate as a server's, yet curl accepts it when it
//! is the very certificate passed with `--cacert`, and so do we: when ordinary verification fails
//! and the presented end-entity certificate is byte for byte one the host listed, it is accepted
//! if it names the host and is within its validity period. Nothing else is relaxed: a CA-flagged
//! leaf signed by a trusted CA, or a self-signed certificate the host did not list, is refused.
//!
//! Imports: `rustls` only; used by `transport::tls`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// Web PKI verification, plus exact-certificate trust for the host's listed certificates.
#[derive(Debug)]
pub(crate) struct ListedCertVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    listed: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ListedCertVerifier {
    /// A verifier over `roots` (which must not be empty) that also accepts any of `listed`
    /// presented as the server's own certificate.
    pub fn new(
        roots: Arc<RootCertStore>,
        listed: Vec<CertificateDer<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> Result<ListedCertVerifier, rustls::client::VerifierBuilderError> {
        let webpki =
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone()).build()?;
        Ok(ListedCertVerifier {
            webpki,
            listed,
            provider,
        })
    }

    /// The listed certificate's own checks: the host name, then its validity period.
    fn verify_listed(
        &self,
        cert: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), Error> {
        let parsed = ParsedCertificate::try_from(cert)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        let mut itself = RootCertStore::empty();
        itself.add(cert.clone().into_owned())?;
        // Verifying the certificate against itself checks its validity period first, then its
        // CA flag; a CA-flagged certificate therefore reaching `CaUsedAsEndEntity` is in date.
        // (The order is pinned by the tests with an expired CA-flagged certificate.)
        let algs = self.provider.signature_verification_algorithms.all;
        match rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &itself,
            &[],
            now,
            algs,
        ) {
            Ok(()) => Ok(()),
            Err(Error::InvalidCertificate(rustls::CertificateError::Other(other)))
                if format!("{other:?}").contains("CaUsedAsEndEntity") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl ServerCertVerifier for ListedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => Ok(verified),
            Err(refusal)
                if self
                    .listed
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                // The listed certificate's own refusal (wrong name, expired) is the one to
                // report; if it passes, the web PKI's objection does not apply to it.
                self.verify_listed(end_entity, server_name, now)
                    .map(|()| ServerCertVerified::assertion())
                    .map_err(|own| match own {
                        Error::InvalidCertificate(_) => own,
                        _ => refusal,
                    })
            }
            Err(refusal) => Err(refusal),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
