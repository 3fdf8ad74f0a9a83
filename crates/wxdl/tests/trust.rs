//! Nothing lost, nothing mixed, nothing escapes (contract §6), against a real nginx: concurrent
//! downloads to one target, names that belong to the user, the longest legal names, permission
//! bits, crash leftovers, and targets that are not regular files.

use wxdl_testkit::engine as common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use common::{assert_no_partial, fail, ok, Env};
use tokio::io::AsyncWriteExt;
use wxdl::{DownloadOptions, FailReason};
use wxdl_testkit::{sha256_file, write_random, Nginx, RawServer};

/// Bodies large enough that two throttled downloads (nginx `/slow/`, 256 KiB/s) overlap.
const SLOW_BODY: u64 = 384 * 1024;

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
}

/// A server that announces 1 MiB, sends 64 KiB and closes: a download that fails mid-body.
async fn truncating() -> RawServer {
    RawServer::start(|mut s, _| async move {
        wxdl_testkit::raw::read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n")
            .await;
        let _ = s.write_all(&[0xEE; 64 * 1024]).await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_downloads_to_one_target_each_commit_a_whole_body() {
    let nginx = Nginx::start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    let sha_a = write_random(&nginx.root.join("slow/a.bin"), SLOW_BODY);
    let sha_b = write_random(&nginx.root.join("slow/b.bin"), SLOW_BODY + 1);
    let broken = truncating().await;
    let env = Env::new();
    let client = env.client(&[]);
    let host = env.dir.path().join("same.bin");
    let usr = client.sandbox().usr_dir().to_path_buf();
    let in_usr = |o: DownloadOptions| o.file_path("wxfile://usr/same.bin");
    let on_host = |o: DownloadOptions| o.host_path(&host);
    let places: [(&Path, &dyn Fn(DownloadOptions) -> DownloadOptions); 2] =
        [(&host, &on_host), (&usr.join("same.bin"), &in_usr)];
    for (target, opts) in places {
        // A double tap, and a third download that fails mid-body, all to one target.
        let a = client.download(opts(DownloadOptions::new(nginx.url("/slow/a.bin"))));
        let b = client.download(opts(DownloadOptions::new(nginx.url("/slow/b.bin"))));
        let c = client.download(opts(DownloadOptions::new(broken.url("/c.bin"))));
        fail(c.await, FailReason::NetworkInterrupted);
        let (a, b) = (ok(a.await), ok(b.await));
        assert_eq!((a.data_length, b.data_length), (SLOW_BODY, SLOW_BODY + 1));
        let got = sha256_file(target);
        assert!(
            got == sha_a || got == sha_b,
            "the file is neither body whole"
        );
        assert_no_partial(target.parent().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_the_user_chose_are_theirs() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("f.bin"), 300_000);
    let env = Env::new();
    let client = env.client(&[]);
    let usr = client.sandbox().usr_dir().to_path_buf();
    // A user's own `x.part` (and a look-alike of a private name) survive a download to `x`.
    std::fs::write(usr.join("x.part"), b"the user's notes").unwrap();
    std::fs::write(usr.join(".wxdl-mine.tmp"), b"also the user's").unwrap();
    ok(client
        .download(DownloadOptions::new(nginx.url("/f.bin")).file_path("wxfile://usr/x"))
        .await);
    assert_eq!(sha256_file(&usr.join("x")), sha);
    assert_eq!(
        std::fs::read(usr.join("x.part")).unwrap(),
        b"the user's notes"
    );
    assert_eq!(
        std::fs::read(usr.join(".wxdl-mine.tmp")).unwrap(),
        b"also the user's"
    );

    // The longest legal names (255 bytes) download, in the sandbox and on the host.
    let long = "n".repeat(251) + ".bin";
    assert_eq!(long.len(), 255);
    let s = ok(client
        .download(
            DownloadOptions::new(nginx.url("/f.bin")).file_path(format!("wxfile://usr/{long}")),
        )
        .await);
    assert_eq!(sha256_file(&s.saved_path), sha);
    let host_long = env.dir.path().join(&long);
    ok(client
        .download(DownloadOptions::new(nginx.url("/f.bin")).host_path(&host_long))
        .await);
    assert_eq!(sha256_file(&host_long), sha);

    // Replacing a file keeps its permission bits; a new file gets the usual ones.
    let secret = env.dir.path().join("secret.bin");
    std::fs::write(&secret, b"old").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(client
        .download(DownloadOptions::new(nginx.url("/f.bin")).host_path(&secret))
        .await);
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(sha256_file(&secret), sha);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_of_a_crash_are_removed_by_the_next_download_there() {
    let nginx = Nginx::start();
    write_random(&nginx.root.join("f.bin"), 10_000);
    let env = Env::new();
    let client = env.client(&[]);
    let usr = client.sandbox().usr_dir().to_path_buf();
    // What a SIGKILL between creating and publishing a private file under its fallback name
    // would leave: the name, and the mark only wxdl writes.
    let leftover = usr.join(".wxdl-00112233445566ff.tmp");
    std::fs::write(&leftover, vec![7u8; 4096]).unwrap();
    rustix::fs::setxattr(
        &leftover,
        "user.wxdl.private",
        b"1",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    // A file the user (or a script) named like one, without the mark: theirs (issue 23 §5).
    let users = usr.join(".wxdl-0011223344556677.tmp");
    std::fs::write(&users, b"mine").unwrap();
    ok(client
        .download(DownloadOptions::new(nginx.url("/f.bin")).file_path("wxfile://usr/f.bin"))
        .await);
    assert!(!leftover.exists(), "the leftover was not swept");
    assert_eq!(
        std::fs::read(&users).unwrap(),
        b"mine",
        "a user's file was swept"
    );
    std::fs::remove_file(&users).unwrap();
    assert_no_partial(&usr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_that_are_not_regular_files() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("f.bin"), 200_000);
    let env = Env::new();
    let client = env.client(&[]);

    // A device is written straight through and stays a device (curl's `-o /dev/null`).
    let s = ok(client
        .download(DownloadOptions::new(nginx.url("/f.bin")).host_path("/dev/null"))
        .await);
    assert_eq!(s.data_length, 200_000);
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());

    // A FIFO on the host is written into, for whoever reads it.
    let fifo = env.dir.path().join("pipe");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    ok(client
        .download(DownloadOptions::new(nginx.url("/f.bin")).host_path(&fifo))
        .await);
    let got = reader.join().unwrap();
    assert_eq!(wxdl_testkit::sha256_hex(&got), sha);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

    // A symlink on the host: its target is replaced, the link stays a link.
    let real = env.dir.path().join("real.bin");
    std::fs::write(&real, b"old").unwrap();
    let link = env.dir.path().join("link.bin");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    ok(client
        .download(DownloadOptions::new(nginx.url("/f.bin")).host_path(&link))
        .await);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(sha256_file(&real), sha);

    // In the sandbox, anything but a regular file at the target is refused and left alone.
    let usr = client.sandbox().usr_dir().to_path_buf();
    mkfifo(&usr.join("pipe"));
    fail(
        client
            .download(DownloadOptions::new(nginx.url("/f.bin")).file_path("wxfile://usr/pipe"))
            .await,
        FailReason::PermissionDenied,
    );
    assert!(std::fs::metadata(usr.join("pipe"))
        .unwrap()
        .file_type()
        .is_fifo());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_usr_quota_binds_concurrent_downloads() {
    let nginx = Nginx::start();
    std::fs::create_dir_all(nginx.root.join("slow")).unwrap();
    write_random(&nginx.root.join("slow/f.bin"), 300 * 1024);
    let env = Env::new();
    let quota = 1024 * 1024;
    let client = env.builder(&[]).usr_quota(quota).build().unwrap();
    // Ten at once, 300 KiB each, into a 1 MiB usr: each announced length is reserved at its
    // head, so exactly three fit and the rest fail; usr never passes its limit.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            client.download(
                DownloadOptions::new(nginx.url("/slow/f.bin"))
                    .file_path(format!("wxfile://usr/f{i}.bin")),
            )
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        match task.await {
            Ok(_) => stored += 1,
            Err(f) => assert_eq!(f.reason, FailReason::StorageLimitExceeded, "{f}"),
        }
    }
    assert_eq!(stored, 3);
    assert!(client.sandbox().usr_usage() <= quota);
    assert_no_partial(client.sandbox().usr_dir());
}

/// Issue 23 §6: a `304` to the caller's own conditional request keeps the target (success,
/// statusCode 304, `unchanged`); a `204` leaves an existing target alone unless the caller
/// asked for the empty body (`save_empty`); a target that does not exist is created empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_modified_and_no_content_keep_an_existing_target() {
    use wxdl_testkit::ranged::{pattern, Ranged, Script};
    let env = Env::new();
    let client = env.client(&[]);
    let server = Ranged::start(Script::new("\"e\"", pattern(1, 1000))).await;
    let target = env.dir.path().join("t.bin");
    std::fs::write(&target, b"my current copy").unwrap();
    let conditional = DownloadOptions::new(server.url("/t"))
        .host_path(&target)
        .header("If-None-Match", "\"e\"");
    let s = ok(client.download(conditional.clone()).await);
    assert_eq!((s.status_code, s.data_length, s.unchanged), (304, 0, true));
    assert_eq!(std::fs::read(&target).unwrap(), b"my current copy");
    // In the sandbox too (`wxfile://usr/…`).
    let usr = client.sandbox().usr_dir().join("u.bin");
    std::fs::write(&usr, b"usr copy").unwrap();
    let s = ok(client
        .download(
            DownloadOptions::new(server.url("/t"))
                .file_path("wxfile://usr/u.bin")
                .header("If-Modified-Since", "x")
                .header("If-None-Match", "\"e\""),
        )
        .await);
    assert!(s.unchanged);
    assert_eq!(std::fs::read(&usr).unwrap(), b"usr copy");

    server.script().no_content = true;
    let plain = DownloadOptions::new(server.url("/t")).host_path(&target);
    let s = ok(client.download(plain.clone()).await);
    assert_eq!((s.status_code, s.unchanged), (204, true));
    assert_eq!(std::fs::read(&target).unwrap(), b"my current copy");
    let s = ok(client.download(plain.save_empty(true)).await);
    assert_eq!((s.status_code, s.unchanged), (204, false));
    assert_eq!(std::fs::read(&target).unwrap(), b"");
    let fresh = env.dir.path().join("new.bin");
    let s = ok(client
        .download(DownloadOptions::new(server.url("/t")).host_path(&fresh))
        .await);
    assert!(!s.unchanged);
    assert_eq!(std::fs::read(&fresh).unwrap(), b"");
    assert_no_partial(env.dir.path());
}

/// Issue 23 §7: a caller's `Host` (kept with the policy off, curl's testing idiom) named the
/// first origin: a hop to another origin sends that origin's own `Host`, as it drops
/// `Authorization` and `Cookie`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_host_does_not_cross_origins() {
    use wxdl_testkit::ranged::{pattern, Ranged, Script};
    let env = Env::new();
    let client = env.client(&[]);
    let second = Ranged::start(Script::new("\"h\"", pattern(2, 100))).await;
    let to = second.url("/there");
    let first = RawServer::start(move |mut s, _| {
        let to = to.clone();
        async move {
            wxdl_testkit::raw::read_head(&mut s).await;
            let answer = format!(
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = s.write_all(answer.as_bytes()).await;
        }
    })
    .await;
    ok(client
        .download(
            DownloadOptions::new(first.url("/here"))
                .header("Host", "first.example")
                .header("Cookie", "a=1"),
        )
        .await);
    let head = second.script().heads[0].to_ascii_lowercase();
    assert!(!head.contains("first.example"), "{head}");
    assert!(!head.contains("cookie"), "{head}");
    assert!(head.contains("host: 127.0.0.1:"), "{head}");
}
