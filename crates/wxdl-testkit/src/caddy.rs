//! Starts a real Caddy (HTTP/1.1, HTTP/2 and HTTP/3 on one port, TCP and UDP) from a generated
//! Caddyfile with a certificate from the test CA, and stops it on drop.

use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::ca::TestCa;
use crate::nginx::ALT_HOST;
use crate::{free_port, wait_until};

/// A running Caddy; killed when dropped.
pub struct Caddy {
    child: Child,
    /// The document root: files put here are served at `/<name>`.
    pub root: PathBuf,
    /// The port, on TCP (h1, h2) and UDP (h3), on 127.0.0.1.
    pub port: u16,
    _dir: TempDir,
}

impl Caddy {
    /// Starts Caddy serving files over HTTPS with `ca`'s certificate for `localhost`,
    /// `127.0.0.1` and [`ALT_HOST`]; panics with the reason when it cannot.
    pub fn start(ca: &TestCa) -> Caddy {
        let bin = caddy_binary().unwrap_or_else(|| {
            panic!("caddy not found: install it (apt-get install -y caddy) or set WXDL_CADDY")
        });
        let dir = tempfile::tempdir().expect("caddy temp dir");
        let root = dir.path().join("www");
        std::fs::create_dir_all(&root).expect("caddy root");
        std::fs::write(root.join("hello.txt"), "hello from caddy\n").expect("hello.txt");
        let cert = ca.server_cert(&["localhost", "127.0.0.1", ALT_HOST]);
        std::fs::write(dir.path().join("server.pem"), &cert.cert_pem).expect("cert");
        std::fs::write(dir.path().join("server.key"), &cert.key_pem).expect("key");
        let mut last_log = String::new();
        for _ in 0..8 {
            let port = free_port();
            if UdpSocket::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            let conf = dir.path().join("Caddyfile");
            std::fs::write(&conf, caddyfile(dir.path(), &root, port)).expect("Caddyfile");
            let log = dir.path().join("caddy.log");
            let log_file = std::fs::File::create(&log).expect("caddy log");
            let mut child = Command::new(&bin)
                .args(["run", "--adapter", "caddyfile", "--config"])
                .arg(&conf)
                .env("HOME", dir.path())
                .env("XDG_DATA_HOME", dir.path().join("data"))
                .env("XDG_CONFIG_HOME", dir.path().join("config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("spawn caddy");
            let up = wait_until(Duration::from_secs(15), || {
                matches!(child.try_wait(), Ok(Some(_)))
                    || TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            if up && child.try_wait().ok().flatten().is_none() {
                // The UDP listener comes up with the TCP one; give it a moment.
                std::thread::sleep(Duration::from_millis(100));
                return Caddy {
                    child,
                    root,
                    port,
                    _dir: dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("caddy did not start; log:\n{last_log}");
    }

    /// `https://<host>:PORT<path>`.
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{}", self.port, path)
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn caddyfile(dir: &Path, root: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        r#"{{
	admin off
	auto_https off
	storage file_system {d}/storage
	servers {{
		protocols h1 h2 h3
	}}
}}

https://localhost:{port}, https://127.0.0.1:{port}, https://{ALT_HOST}:{port} {{
	tls {d}/server.pem {d}/server.key
	root * {root}
	file_server
}}
"#,
        root = root.display()
    )
}

/// The caddy binary: `$WXDL_CADDY`, else `caddy` on PATH.
pub fn caddy_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WXDL_CADDY") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("caddy"))
        .find(|p| p.is_file())
}
