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
use rustls::{
    CertificateError, DigitallySignedStruct, Error, OtherError, RootCertStore, SignatureScheme,
};

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

/// Whether a certificate (DER) names itself as its issuer: its `issuer` and `subject` names
/// are the same bytes (RFC 5280 §4.1; what openssl calls a self-signed certificate). Only the
/// few fields before `subject` are walked; anything unreadable is "no".
fn issuer_is_subject(der: &[u8]) -> bool {
    /// One DER element: its tag, its whole encoding, its content, and what follows it.
    struct Der<'a> {
        tag: u8,
        whole: &'a [u8],
        content: &'a [u8],
        rest: &'a [u8],
    }
    fn element(input: &[u8]) -> Option<Der<'_>> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = match first {
            n if n < 0x80 => (usize::from(n), rest),
            0x81..=0x84 => {
                let count = usize::from(first - 0x80);
                let (bytes, rest) = (rest.get(..count)?, rest.get(count..)?);
                (
                    bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)),
                    rest,
                )
            }
            _ => return None,
        };
        let content = rest.get(..len)?;
        let whole = &input[..input.len() - rest.len() + len];
        Some(Der {
            tag,
            whole,
            content,
            rest: rest.get(len..)?,
        })
    }
    let names = || -> Option<bool> {
        let tbs = element(element(der)?.content)?.content;
        let first = element(tbs)?;
        let mut rest = first.rest;
        if first.tag == 0xA0 {
            // The explicit version; the serial number follows.
            rest = element(rest)?.rest;
        }
        let rest = element(rest)?.rest; // signature algorithm
        let issuer = element(rest)?;
        let validity = element(issuer.rest)?;
        let subject = element(validity.rest)?;
        Some(issuer.whole == subject.whole)
    };
    names().unwrap_or(false)
}

/// The refusal of a self-signed certificate nobody listed: a sentence that names the fix.
#[derive(Debug)]
pub(crate) struct SelfSigned {
    /// Flagged `CA:TRUE` too (as `openssl req -x509` makes them).
    pub ca_flagged: bool,
}

impl std::fmt::Display for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.ca_flagged {
            " (a CA certificate, CA:TRUE, as openssl req -x509 makes them)"
        } else {
            ""
        };
        write!(
            f,
            "the server's certificate is a self-signed certificate{kind}: no authority vouches \
             for it; if you trust it, pass that certificate with --cacert FILE"
        )
    }
}

impl std::error::Error for SelfSigned {}

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
            // A self-signed certificate reads as an unknown issuer, or (flagged `CA:TRUE`, as
            // `openssl req -x509` makes them) as a CA used as an end entity.
            Err(Error::InvalidCertificate(
                refusal @ (CertificateError::UnknownIssuer | CertificateError::Other(_)),
            )) if issuer_is_subject(end_entity.as_ref()) => {
                let ca_flagged = matches!(refusal, CertificateError::Other(_));
                Err(Error::InvalidCertificate(CertificateError::Other(
                    OtherError(Arc::new(SelfSigned { ca_flagged })),
                )))
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
