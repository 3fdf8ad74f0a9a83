//! `integrity` (**[beyond]**): the body's SHA-256, given as SRI (`sha256-<base64>`) or as 64 hex
//! digits, computed while streaming (no second read) and checked before the commit; a mismatch
//! fails the download with `integrity check fail` and leaves nothing.
//!
//! Imports only `error`.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::{Fail, FailReason};

/// An expected SHA-256 of the (decoded) body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Integrity([u8; 32]);

impl Integrity {
    /// Parses `sha256-<base64>` (SRI) or 64 hex digits.
    pub fn parse(text: &str) -> Result<Integrity, Fail> {
        let text = text.trim();
        let bytes = match text.strip_prefix("sha256-") {
            Some(b64) => base64::engine::general_purpose::STANDARD.decode(b64).ok(),
            None if text.len() == 64 => (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
                .collect::<Option<Vec<u8>>>(),
            None => None,
        };
        bytes
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(Integrity)
            .ok_or_else(|| {
                Fail::with(
                    FailReason::IntegrityCheckFail,
                    format_args!("{text:?} is neither sha256-<base64> nor 64 hex digits"),
                )
            })
    }
}

/// Hashes a body as it streams, when an integrity value was given.
#[derive(Debug)]
pub(crate) struct Check {
    want: Integrity,
    hasher: Sha256,
}

impl Check {
    pub fn new(want: Integrity) -> Check {
        Check {
            want,
            hasher: Sha256::new(),
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
    }

    /// Whether the body was the one expected.
    pub fn verify(self) -> Result<(), Fail> {
        let got: [u8; 32] = self.hasher.finalize().into();
        if got == self.want.0 {
            return Ok(());
        }
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        Err(Fail::with(
            FailReason::IntegrityCheckFail,
            format_args!(
                "sha256 {} where {} was expected",
                hex(&got),
                hex(&self.want.0)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sri_and_hex_forms_and_checking() {
        // sha256("abc")
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let sri = "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
        assert_eq!(
            Integrity::parse(hex).unwrap(),
            Integrity::parse(sri).unwrap()
        );
        let mut ok = Check::new(Integrity::parse(sri).unwrap());
        ok.update(b"ab");
        ok.update(b"c");
        assert!(ok.verify().is_ok());
        let mut bad = Check::new(Integrity::parse(hex).unwrap());
        bad.update(b"abd");
        assert_eq!(
            bad.verify().unwrap_err().reason,
            FailReason::IntegrityCheckFail
        );
        for wrong in ["sha256-", "md5-abc", &hex[1..], "zz".repeat(32).as_str()] {
            assert!(Integrity::parse(wrong).is_err(), "{wrong}");
        }
    }
}
