//! Starts a real nginx on free loopback ports from a generated config, and stops it on drop.

use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::ca::{ServerCert, TestCa};
use crate::{free_port, wait_until};

/// The host name tests use for a second origin (the client resolves it to 127.0.0.1).
pub const ALT_HOST: &str = "wxdl.test";

/// Locations every test nginx serves besides the files under its root:
/// - `/status/404`, `/status/500`: that status with a short text body;
/// - `/hops/K` (K = 1..=20): K redirects, then `/hello.txt`;
/// - `/loop`: redirects to itself;
/// - `/echo`: a text body listing the request headers tests care about;
/// - `/cross`: redirects to `/echo` on [`ALT_HOST`] (another origin);
/// - `/to-ftp`, `/to-file`: redirects to `ftp:` and `file:` URLs;
/// - `/gz/…`: files served gzip-encoded when the client accepts it;
/// - `/conn`: the serial number of the connection that carried the request;
/// - `/slow/…`: files sent at 256 KiB/s;
/// - `/nginx-status`: nginx's `stub_status` (see [`Nginx::active_connections`]).
///
/// With TLS, the HTTPS port speaks HTTP/2 and HTTP/1.1 (ALPN).
fn standard_locations() -> String {
    let mut s = String::from(
        r#"
        location = /status/404 { default_type text/plain; return 404 "not found body\n"; }
        location = /status/500 { default_type text/plain; return 500 "server error body\n"; }
        location = /loop { return 302 /loop; }
        location = /to-ftp { return 302 ftp://127.0.0.1/x; }
        location = /to-file { return 302 file:///etc/passwd; }
        location = /cross { return 302 $scheme://wxdl.test:$server_port/echo; }
        location = /echo {
            default_type text/plain;
            return 200 "auth=$http_authorization\ncookie=$http_cookie\nreferer=$http_referer\nua=$http_user_agent\nx=$http_x_test\nae=$http_accept_encoding\n";
        }
        location /gz/ { gzip on; gzip_types *; gzip_min_length 1; gzip_proxied any; }
        location = /conn { default_type text/plain; return 200 "$connection\n"; }
        location /slow/ { limit_rate 256k; }
        location = /nginx-status { stub_status; }
"#,
    );
    for k in 1..=20 {
        let next = if k == 1 {
            "/hello.txt".to_string()
        } else {
            format!("/hops/{}", k - 1)
        };
        let _ = writeln!(s, "        location = /hops/{k} {{ return 302 {next}; }}");
    }
    s
}

/// Configures a test nginx.
#[derive(Default)]
pub struct NginxBuilder {
    tls: Option<(String, String)>,
    locations: String,
}

impl NginxBuilder {
    /// Also serve HTTPS with a certificate from `ca` for `localhost`, `127.0.0.1` and
    /// [`ALT_HOST`].
    pub fn tls(self, ca: &TestCa) -> Self {
        self.tls_cert(ca.server_cert(&["localhost", "127.0.0.1", ALT_HOST]))
    }

    /// Also serve HTTPS with exactly this certificate (an expired one, one for other names).
    pub fn tls_cert(mut self, cert: ServerCert) -> Self {
        self.tls = Some((cert.cert_pem, cert.key_pem));
        self
    }

    /// Adds raw `location` blocks to the server.
    pub fn location(mut self, block: &str) -> Self {
        self.locations.push_str(block);
        self.locations.push('\n');
        self
    }

    /// Starts nginx; panics with the reason when it cannot (e.g. not installed).
    pub fn start(self) -> Nginx {
        let bin = nginx_binary().unwrap_or_else(|| {
            panic!("nginx not found: install it (apt-get install -y nginx-light) or set WXDL_NGINX")
        });
        let dir = tempfile::tempdir().expect("nginx temp dir");
        let root = dir.path().join("www");
        std::fs::create_dir_all(root.join("gz")).expect("nginx root");
        std::fs::write(root.join("hello.txt"), "hello from nginx\n").expect("hello.txt");
        if let Some((cert, key)) = &self.tls {
            std::fs::write(dir.path().join("server.pem"), cert).expect("cert");
            std::fs::write(dir.path().join("server.key"), key).expect("key");
        }
        let mut last_log = String::new();
        for _attempt in 0..8 {
            let http_port = free_port();
            let https_port = free_port();
            let conf = self.config(dir.path(), &root, http_port, https_port);
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf).expect("write nginx.conf");
            let log = dir.path().join("error.log");
            let mut child = Command::new(&bin)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf_path)
                .arg("-e")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn nginx");
            let up = wait_until(Duration::from_secs(10), || {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return true;
                }
                let ok = |p| TcpStream::connect(("127.0.0.1", p)).is_ok();
                ok(http_port) && (self.tls.is_none() || ok(https_port))
            });
            if up && child.try_wait().ok().flatten().is_none() {
                return Nginx {
                    child,
                    root,
                    http_port,
                    https_port: if self.tls.is_some() { https_port } else { 0 },
                    _dir: dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("nginx did not start; error log:\n{last_log}");
    }

    fn config(&self, dir: &Path, root: &Path, http_port: u16, https_port: u16) -> String {
        let d = dir.display();
        let tls = match &self.tls {
            Some(_) => format!(
                "listen 127.0.0.1:{https_port} ssl http2;\n        ssl_certificate {d}/server.pem;\n        ssl_certificate_key {d}/server.key;"
            ),
            None => String::new(),
        };
        format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    default_type application/octet-stream;
    types {{ text/plain txt; audio/mpeg mp3; image/png png; application/json json; }}
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{http_port};
        {tls}
        server_name _;
        root {root};
{std}
{extra}
    }}
}}
"#,
            root = root.display(),
            std = standard_locations(),
            extra = self.locations,
        )
    }
}

/// A running nginx; killed when dropped.
pub struct Nginx {
    child: Child,
    /// The document root: files put here are served at `/<name>`.
    pub root: PathBuf,
    /// The plain HTTP port on 127.0.0.1.
    pub http_port: u16,
    /// The HTTPS port on 127.0.0.1 (0 without TLS).
    pub https_port: u16,
    _dir: TempDir,
}

impl Nginx {
    /// A builder for a test nginx.
    pub fn builder() -> NginxBuilder {
        NginxBuilder::default()
    }

    /// Plain HTTP nginx with the standard locations.
    pub fn start() -> Nginx {
        Self::builder().start()
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.http_port, path)
    }

    /// `https://<host>:PORT<path>`.
    pub fn https_url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{}", self.https_port, path)
    }

    /// Client connections open at this nginx (plain and TLS), not counting the one that asks.
    pub fn active_connections(&self) -> usize {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect(("127.0.0.1", self.http_port)).expect("connect to nginx");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        s.write_all(b"GET /nginx-status HTTP/1.0\r\nHost: t\r\n\r\n")
            .expect("ask nginx");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        let count = text
            .lines()
            .find_map(|l| l.strip_prefix("Active connections:"))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no stub_status in {text:?}"));
        count - 1
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nginx binary: `$WXDL_NGINX`, else `nginx` on PATH or in `/usr/sbin`.
pub fn nginx_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WXDL_NGINX") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}
