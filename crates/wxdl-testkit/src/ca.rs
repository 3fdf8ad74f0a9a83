//! A certificate authority made at test time, and server certificates it signs.

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A throwaway CA. Its PEM is what a client trusts (`--cacert`).
pub struct TestCa {
    cert: Certificate,
    key: KeyPair,
}

/// A server certificate chain and key, as PEM.
pub struct ServerCert {
    /// The leaf certificate, PEM.
    pub cert_pem: String,
    /// The leaf's private key, PEM.
    pub key_pem: String,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    /// A new CA named "wxdl test CA".
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "wxdl test CA");
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("self-signed CA");
        TestCa { cert, key }
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `names` (DNS names or IP addresses) signed by this CA.
    pub fn server_cert(&self, names: &[&str]) -> ServerCert {
        self.sign(names, false)
    }

    /// Like [`TestCa::server_cert`], but its validity ended in 2020.
    pub fn expired_server_cert(&self, names: &[&str]) -> ServerCert {
        self.sign(names, true)
    }

    /// A certificate for `names` that is itself a CA, served as a server's (a misconfiguration
    /// clients must refuse).
    pub fn ca_flagged_server_cert(&self, names: &[&str]) -> ServerCert {
        self.sign_with(names, false, true)
    }

    fn sign(&self, names: &[&str], expired: bool) -> ServerCert {
        self.sign_with(names, expired, false)
    }

    fn sign_with(&self, names: &[&str], expired: bool, ca: bool) -> ServerCert {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyCertSign,
            ];
        }
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "wxdl test server");
        params.distinguished_name = dn;
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("sign server cert");
        ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// A self-signed server certificate for `names` that is also its own CA (`CA:TRUE`), as
/// `openssl req -x509` makes them; `expired` puts its validity in 2019. Its `cert_pem` is what a
/// client is given with `--cacert`.
pub fn self_signed_server_cert(names: &[&str], expired: bool) -> ServerCert {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("self-signed params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "wxdl self-signed server");
    params.distinguished_name = dn;
    if expired {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    let key = KeyPair::generate().expect("self-signed key");
    let cert = params.self_signed(&key).expect("self-sign");
    ServerCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}
