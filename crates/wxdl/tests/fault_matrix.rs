//! More staged faults: oversized and malformed heads, a trickle past the timeout, a gzip bomb,
//! strict-mode redirects, TLS failures (untrusted, wrong host, expired, reset), a full disk and
//! a read-only directory, a symlink swapped in mid-download, and 200 aborts at random instants. Each asserts its failure row, that no file or partial data is left, and that a
//! file already at the target is byte-for-byte unchanged.

use wxdl_testkit::engine as common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{fail, ok, started_streaming, Env, LIMIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wxdl::{Client, DownloadOptions, FailReason, Policy};
use wxdl_testkit::raw::{read_head, reset};
use wxdl_testkit::{Nginx, RawServer, TestCa};

const PRECIOUS: &[u8] = b"a file the user had before";

/// A target that already holds a file, and the check that it survived untouched.
struct Kept(PathBuf);

impl Kept {
    fn new(env: &Env) -> Kept {
        let p = env.dir.path().join("kept.bin");
        std::fs::write(&p, PRECIOUS).unwrap();
        Kept(p)
    }

    fn check(&self, env: &Env) {
        assert_eq!(
            std::fs::read(&self.0).unwrap(),
            PRECIOUS,
            "the old file changed"
        );
        common::assert_no_partial(self.0.parent().unwrap());
        assert!(
            env.files().is_empty(),
            "sandbox files left: {:?}",
            env.files()
        );
    }
}

/// Runs `opts` into the sandbox and over the kept file; both must fail with `reason`.
async fn both_fail(env: &Env, client: &Client, opts: DownloadOptions, reason: FailReason) {
    let kept = Kept::new(env);
    fail(client.download(opts.clone()).await, reason);
    fail(client.download(opts.host_path(&kept.0)).await, reason);
    kept.check(env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_heads() {
    let env = Env::new();
    let client = env.client(&[]);
    let huge_head = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
        let line = format!("X-Big: {}\r\n", "a".repeat(1000));
        for _ in 0..1100 {
            if s.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = s.write_all(b"Content-Length: 2\r\n\r\nok").await;
    })
    .await;
    both_fail(
        &env,
        &client,
        DownloadOptions::new(huge_head.url("/x")),
        FailReason::NetworkInterrupted,
    )
    .await;
    for raw in [
        &b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\nok"[..],
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok",
        b"HTTP/9.9 200 OK\r\n\r\n",
    ] {
        let server = RawServer::respond_raw(raw).await;
        both_fail(
            &env,
            &client,
            DownloadOptions::new(server.url("/x")),
            FailReason::NetworkInterrupted,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_byte_per_second_trickle_times_out() {
    let server = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            .await;
        for _ in 0..100 {
            if s.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    let opts = DownloadOptions::new(server.url("/x")).timeout(Duration::from_millis(1500));
    both_fail(&env, &client, opts, FailReason::Timeout).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_is_stopped_by_the_cap_on_decoded_bytes() {
    // 64 MiB of zeros compress to about 64 KiB.
    let mut encoder = async_compression::tokio::write::GzipEncoder::new(Vec::new());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        encoder.write_all(&zeros).await.unwrap();
    }
    encoder.shutdown().await.unwrap();
    let bomb: &'static [u8] = Box::leak(encoder.into_inner().into_boxed_slice());
    assert!(bomb.len() < 1 << 20);
    let server = RawServer::start(move |mut s, _| async move {
        read_head(&mut s).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            bomb.len()
        );
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(bomb).await;
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    let opts = DownloadOptions::new(server.url("/bomb"))
        .header("Accept-Encoding", "gzip")
        .max_bytes(8 << 20);
    both_fail(&env, &client, opts, FailReason::ExceedMaxFileSize).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_refuses_a_redirect_to_an_unlisted_host_before_any_byte() {
    let ca = TestCa::new();
    let nginx = Nginx::builder()
        .tls(&ca)
        .location("location = /to-evil { return 302 https://evil.test:$server_port/x; }")
        .location("location = /to-http { return 302 http://wxdl.test:$server_port/x; }")
        .start();
    let env = Env::new();
    let port = nginx.https_port;
    let client = env
        .trusting(&[port], &ca)
        .resolve("evil.test", port, "127.0.0.1".parse().unwrap())
        .policy(Policy::strict([format!("https://wxdl.test:{port}")]).unwrap())
        .build()
        .unwrap();
    let ok = client
        .download(DownloadOptions::new(
            nginx.https_url("wxdl.test", "/hello.txt"),
        ))
        .await
        .unwrap();
    std::fs::remove_file(ok.saved_path).unwrap();
    for path in ["/to-evil", "/to-http"] {
        let opts = DownloadOptions::new(nginx.https_url("wxdl.test", path));
        both_fail(&env, &client, opts, FailReason::UrlNotInDomainList).await;
    }
    // Not listed to begin with: refused before any connection.
    let opts = DownloadOptions::new(nginx.https_url("evil.test", "/hello.txt"));
    both_fail(&env, &client, opts, FailReason::UrlNotInDomainList).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_self_signed_and_handshake_reset() {
    // A server whose certificate chains to a CA the client does not trust.
    let stranger = TestCa::new();
    let nginx = Nginx::builder().tls(&stranger).start();
    let env = Env::new();
    let trusted = TestCa::new();
    let client = env.trusting(&[nginx.https_port], &trusted).build().unwrap();
    let opts = DownloadOptions::new(nginx.https_url("wxdl.test", "/hello.txt"));
    both_fail(&env, &client, opts, FailReason::SslHandshakeFail).await;

    // A peer that reads the ClientHello and resets.
    let rst = RawServer::start(|mut s, _| async move {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf).await;
        reset(s);
    })
    .await;
    let opts = DownloadOptions::new(format!("https://{}/x", rst.addr));
    both_fail(&env, &client, opts, FailReason::SslHandshakeFail).await;
}

/// Serves HTTPS with `cert`, trusted through `ca`: both downloads must fail with
/// `ssl handshake fail`, the message naming `why`.
async fn refused_certificate(ca: &TestCa, cert: wxdl_testkit::ca::ServerCert, why: &str) {
    let env = Env::new();
    let nginx = Nginx::builder().tls_cert(cert).start();
    let client = env.trusting(&[nginx.https_port], ca).build().unwrap();
    let opts = DownloadOptions::new(nginx.https_url("wxdl.test", "/hello.txt"));
    both_fail(&env, &client, opts.clone(), FailReason::SslHandshakeFail).await;
    let f = fail(client.download(opts).await, FailReason::SslHandshakeFail);
    assert!(f.message().contains(why), "{f}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_wrong_host_and_expired_certificate() {
    let ca = TestCa::new();
    // From a trusted CA, but for other names than the one asked for.
    let other = ca.server_cert(&["other.example"]);
    refused_certificate(&ca, other, "the certificate is for another host name").await;
    // The right names and a trusted CA, but the validity ended years ago.
    let expired = ca.expired_server_cert(&["localhost", "127.0.0.1", "wxdl.test"]);
    refused_certificate(&ca, expired, "the certificate has expired").await;
    // A CA's own certificate served as the server's.
    refused_certificate(
        &ca,
        ca.ca_flagged_server_cert(&["localhost", "127.0.0.1", "wxdl.test"]),
        "the certificate is a CA certificate, not a server certificate",
    )
    .await;
}

/// A self-signed, CA-flagged server certificate (what `openssl req -x509` makes), given to the
/// client as its `--cacert`: accepted as curl accepts it, while its name and validity still
/// count, and another self-signed certificate is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_self_signed_certificate_given_as_cacert() {
    use wxdl_testkit::ca::self_signed_server_cert;
    let names = ["localhost", "127.0.0.1", "wxdl.test"];
    let env = Env::new();
    let own = self_signed_server_cert(&names, false);
    let pem = own.cert_pem.clone();
    let nginx = Nginx::builder().tls_cert(own).start();
    let url = nginx.https_url("wxdl.test", "/hello.txt");
    let client = env
        .builder(&[nginx.https_port])
        .add_root_certificate_pem(pem.clone())
        .build()
        .unwrap();
    let done = ok(client.download(DownloadOptions::new(url.clone())).await);
    assert_eq!(done.status_code, 200);
    // Not the certificate given: refused as before.
    let stranger = env
        .builder(&[nginx.https_port])
        .add_root_certificate_pem(self_signed_server_cert(&names, false).cert_pem)
        .build()
        .unwrap();
    let f = fail(
        stranger.download(DownloadOptions::new(url.clone())).await,
        FailReason::SslHandshakeFail,
    );
    assert!(f.message().contains("CA certificate"), "{f}");
    // The certificate given, asked for under a name it does not carry.
    let other = nginx.https_url("other.test", "/hello.txt");
    let client = env
        .builder(&[nginx.https_port])
        .resolve("other.test", nginx.https_port, "127.0.0.1".parse().unwrap())
        .add_root_certificate_pem(pem)
        .build()
        .unwrap();
    let f = fail(
        client.download(DownloadOptions::new(other)).await,
        FailReason::SslHandshakeFail,
    );
    assert!(f.message().contains("another host name"), "{f}");
    // The certificate given, but out of date.
    let old = self_signed_server_cert(&names, true);
    let pem = old.cert_pem.clone();
    let nginx = Nginx::builder().tls_cert(old).start();
    let client = env
        .builder(&[nginx.https_port])
        .add_root_certificate_pem(pem)
        .build()
        .unwrap();
    let f = fail(
        client
            .download(DownloadOptions::new(
                nginx.https_url("wxdl.test", "/hello.txt"),
            ))
            .await,
        FailReason::SslHandshakeFail,
    );
    assert!(f.message().contains("has expired"), "{f}");
}

/// Mounts a small tmpfs (root only); `None` with the reason printed when it cannot.
fn tmpfs(dir: &Path, opts: &str) -> Option<Mount> {
    std::fs::create_dir_all(dir).ok()?;
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Some(Mount(dir.to_path_buf())),
        _ => {
            eprintln!(
                "skipped: cannot mount a tmpfs at {} (needs root)",
                dir.display()
            );
            None
        }
    }
}

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_and_read_only_directory() {
    let server = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\n\r\n")
            .await;
        let _ = s.write_all(&vec![7u8; 4 << 20]).await;
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    let full_dir = env.dir.path().join("full");
    if let Some(_m) = tmpfs(&full_dir, "size=1m") {
        let target = full_dir.join("f.bin");
        std::fs::write(&target, b"old").unwrap();
        let f = fail(
            client
                .download(DownloadOptions::new(server.url("/x")).host_path(&target))
                .await,
            FailReason::StorageLimitExceeded,
        );
        assert_eq!(f.errno(), 1300202);
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        common::assert_no_partial(&full_dir);
    }
    let ro_dir = env.dir.path().join("ro");
    if let Some(_m) = tmpfs(&ro_dir, "ro,size=1m") {
        fail(
            client
                .download(DownloadOptions::new(server.url("/x")).host_path(ro_dir.join("f.bin")))
                .await,
            FailReason::PermissionDenied,
        );
        assert_eq!(std::fs::read_dir(&ro_dir).unwrap().count(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_downloads_aborted_at_random_instants() {
    // Bodies of 256 KiB sent in 16 KiB steps with short pauses, so aborts land in every phase.
    let server = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 262144\r\n\r\n")
            .await;
        for _ in 0..16 {
            if s.write_all(&[3u8; 16384]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    let env = Env::new();
    let client = env.builder(&[]).concurrency(20).build().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let task = client.download(DownloadOptions::new(server.url("/x")));
            let handle = task.abort_handle();
            let delay = Duration::from_micros(seed % 60_000);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                handle.abort();
            });
            task
        })
        .collect();
    let (mut aborted, mut done) = (0, 0);
    for t in tasks {
        match t.await {
            Ok(s) => {
                assert_eq!(std::fs::metadata(&s.saved_path).unwrap().len(), 262_144);
                std::fs::remove_file(&s.saved_path).unwrap();
                done += 1;
            }
            Err(f) => {
                assert_eq!(f.reason, FailReason::Abort, "{f}");
                aborted += 1;
            }
        }
    }
    assert_eq!(aborted + done, 200);
    assert!(aborted > 0, "no abort landed");
    assert!(env.files().is_empty(), "left behind: {:?}", env.files());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_does_not_resolve() {
    let env = Env::new();
    let mut resolver = wxdl::transport::Resolver::default();
    resolver.add_unresolvable("nowhere.test", 80);
    let client = env.builder(&[]).resolver(resolver).build().unwrap();
    let opts = DownloadOptions::new("http://nowhere.test/x");
    both_fail(&env, &client, opts, FailReason::DnsResolveFail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_callback_ends_its_task_only_as_the_panic_it_is() {
    let server = RawServer::start(|mut s, _| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")
            .await;
    })
    .await;
    let env = Env::new();
    let client = env.client(&[]);
    let kept = Kept::new(&env);
    let opts = DownloadOptions::new(server.url("/x"))
        .host_path(&kept.0)
        .on_headers_received(|_| panic!("a caller's callback panicked"));
    // A panic is not a row of the failure table: awaiting the task resumes it in the caller.
    let task = std::future::IntoFuture::into_future(client.download(opts));
    let caught = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(task)).await;
    let panic = caught.expect_err("the panic reaches the caller");
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"a caller's callback panicked")
    );
    kept.check(&env);
    // The client and its other tasks carry on.
    let s = client
        .download(DownloadOptions::new(server.url("/y")))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&s.saved_path).unwrap(), b"body");
}

/// A server that waits for a permit from `go` at one point of its answer: before the head, or
/// after the head and half of the 8 KiB body.
async fn paused_server(go: Arc<tokio::sync::Semaphore>, before_head: bool) -> RawServer {
    RawServer::start(move |mut s, _| {
        let go = go.clone();
        async move {
            let wait = || async {
                if let Ok(Ok(p)) = tokio::time::timeout(LIMIT, go.acquire()).await {
                    p.forget();
                }
            };
            read_head(&mut s).await;
            if before_head {
                wait().await;
            }
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8192\r\n\r\n")
                .await;
            let _ = s.write_all(&[1u8; 4096]).await;
            let _ = s.flush().await;
            if !before_head {
                wait().await;
            }
            let _ = s.write_all(&[2u8; 4096]).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_swapped_in_after_the_check_gets_nothing() {
    let env = Env::new();
    let client = env.client(&[]);
    let usr = client.sandbox().usr_dir().to_path_buf();
    let outside = env.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();

    let cases = [
        (false, "wxfile://usr/d/f.bin"),
        (false, "wxfile://usr/d/e/f.bin"),
        (true, "wxfile://usr/d/f.bin"),
        (true, "wxfile://usr/d/e/f.bin"),
    ];
    for (round, (before_head, target)) in cases.into_iter().enumerate() {
        let go = Arc::new(tokio::sync::Semaphore::new(0));
        let server = paused_server(go.clone(), before_head).await;
        let dir = usr.join("d");
        std::fs::create_dir_all(dir.join("e")).unwrap();
        std::fs::write(dir.join("e/f.bin"), PRECIOUS).unwrap();
        let opts = DownloadOptions::new(server.url("/f")).file_path(target);
        let task = if before_head {
            // Checked and connected, waiting for the head: no private file exists yet.
            let task = client.download(opts);
            let deadline = std::time::Instant::now() + LIMIT;
            while server.accepted() == 0 && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            task
        } else {
            started_streaming(&client, opts).await
        };
        // Swap: the checked directory moves away and a symlink out takes its name (holding a
        // directory of the same shape, for the nested target).
        let moved = usr.join(format!("moved-{round}"));
        std::fs::rename(&dir, &moved).unwrap();
        std::fs::create_dir_all(outside.join("e")).unwrap();
        std::os::unix::fs::symlink(&outside, &dir).unwrap();
        go.add_permits(1);
        let f = fail(task.await, FailReason::PermissionDenied);
        assert!(f.message().contains("replaced"), "{f}");

        let mut outside_files = Vec::new();
        common::walk(&outside, &mut outside_files);
        assert!(
            outside_files.is_empty(),
            "written outside: {outside_files:?}"
        );
        // Nothing published or left in the directory that really received the bytes, and the
        // file that was there is intact.
        let nested = target.contains("/e/");
        let real = if nested {
            moved.join("e")
        } else {
            moved.clone()
        };
        common::assert_no_partial(&real);
        if nested {
            assert_eq!(std::fs::read(real.join("f.bin")).unwrap(), PRECIOUS);
        } else {
            assert!(!real.join("f.bin").exists());
        }
        std::fs::remove_file(&dir).unwrap();
        std::fs::remove_dir_all(&moved).unwrap();
    }
}
