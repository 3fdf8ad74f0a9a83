//! Test support for wxdl: real servers on loopback, a CA made at test time, data files.
//!
//! Nothing here is a mock: [`Nginx`] runs the real nginx binary from a generated config,
//! [`TestCa`] makes real X.509 certificates with rcgen, and [`RawServer`] accepts real TCP
//! connections so a test can stage faults that HTTP libraries would refuse to produce;
//! [`Caddy`] runs the real Caddy for HTTP/3, and [`H3Server`] is an in-process quinn/h3 server
//! for QUIC faults; [`Echo`] answers every request with JSON describing what it got (method,
//! headers, body, multipart parts), over HTTP/1.1 and HTTP/2.

pub mod ca;
pub mod caddy;
pub mod cli;
pub mod data;
pub mod docs;
pub mod echo;
pub mod engine;
pub mod h3;
pub mod nginx;
pub mod ranged;
pub mod raw;

pub use ca::TestCa;
pub use caddy::Caddy;
pub use data::{sha256_file, sha256_hex, write_random, write_sparse};
pub use echo::Echo;
pub use h3::{H3Behavior, H3Server};
pub use nginx::{Nginx, NginxBuilder};
pub use raw::RawServer;

use std::time::{Duration, Instant};

/// Polls `check` every 10 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    check()
}

/// A free TCP port on 127.0.0.1 (bound then released; callers retry on the rare race).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}
