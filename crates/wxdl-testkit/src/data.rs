//! Data files for tests: random content with its sha256, and sparse files of any size.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Writes `size` random bytes to `path` and returns their sha256 (hex).
pub fn write_random(path: &Path, size: u64) -> String {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create data dir");
    }
    let mut file = File::create(path).expect("create data file");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut rng = rand::rng();
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).expect("write data file");
        left -= n as u64;
    }
    hex(&hasher.finalize())
}

/// Creates a sparse file of `size` bytes (zeros; no disk used).
pub fn write_sparse(path: &Path, size: u64) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create data dir");
    }
    File::create(path)
        .and_then(|f| f.set_len(size))
        .expect("create sparse file");
}

/// The sha256 (hex) of a file's contents.
pub fn sha256_file(path: &Path) -> String {
    let mut file = File::open(path).expect("open file to hash");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).expect("read file to hash");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex(&hasher.finalize())
}

/// The sha256 (hex) of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
