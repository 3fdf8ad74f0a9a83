//! [beyond] `resume`: an interrupted body is kept in a hidden partial file and continued with
//! `Range` + `If-Range`; a changed file or a server without ranges starts over, never splices;
//! with `retry`, a cut body is continued by the next try. Against nginx and a staged server
//! whose answers (ETag, cuts, range support) a test controls.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wxdl::{DownloadOptions, FailReason};
use wxdl_testkit::engine::{fail, ok, started_streaming, Env};
use wxdl_testkit::ranged::{pattern as body, Ranged, Script};
use wxdl_testkit::{sha256_file, sha256_hex, write_random, Nginx};

/// A fresh directory and client, and a staged server of `/<name>` (`data`, `ETag: etag`)
/// whose first answer stopped after `cut` body bytes: the first resumable download of it to
/// `<name>.bin` has failed, its partial file holds those bytes.
struct CutOnce {
    env: Env,
    client: wxdl::Client,
    target: PathBuf,
    server: Ranged,
    path: String,
}

impl CutOnce {
    async fn start(name: &str, etag: &str, data: &Arc<Vec<u8>>, cut: usize) -> CutOnce {
        let env = Env::new();
        let client = env.client(&[]);
        let target = env.dir.path().join(format!("{name}.bin"));
        let server = Ranged::start(Script {
            cut_next: Some(cut),
            ..Script::new(etag, data.clone())
        })
        .await;
        let staged = CutOnce {
            env,
            client,
            target,
            server,
            path: format!("/{name}"),
        };
        fail(
            staged.client.download(staged.opts()).await,
            FailReason::NetworkInterrupted,
        );
        staged
    }

    /// A resumable download of the file to the target.
    fn opts(&self) -> DownloadOptions {
        DownloadOptions::new(self.server.url(&self.path))
            .host_path(&self.target)
            .resume(true)
    }
}

/// The directory's entries other than `keep`.
fn others(dir: &std::path::Path, keep: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != keep)
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_download_continues_where_it_stopped() {
    let nginx = Nginx::start();
    let sha = write_random(&nginx.root.join("r.bin"), 3_000_000);
    let env = Env::new();
    let client = env.client(&[]);
    let out_dir = env.dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let target = out_dir.join("r.bin");
    let opts = || {
        DownloadOptions::new(nginx.url("/r.bin"))
            .host_path(&target)
            .resume(true)
    };
    // Slowed down on our side, aborted once some bytes are in.
    let task = started_streaming(&client, opts().rate_limit(400_000)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    task.abort();
    fail(task.await, FailReason::Abort);
    assert!(!target.exists(), "nothing where the user looks");
    let partial = out_dir.join(".r.bin.wxdl-partial");
    let held = std::fs::metadata(&partial).unwrap().len();
    assert!(held > 0 && held < 3_000_000, "{held}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join(".r.bin.wxdl-partial.json")).unwrap())
            .unwrap();
    assert_eq!(record["url"], nginx.url("/r.bin"));
    assert!(
        record["validator"].as_str().unwrap().starts_with('"'),
        "{record}"
    );
    assert_eq!(record["expectedLength"], 3_000_000);

    let s = ok(client.download(opts()).await);
    assert_eq!(s.status_code, 200, "the file is the whole representation");
    assert_eq!(s.resumed_from, held);
    assert_eq!(s.data_length, 3_000_000);
    assert_eq!(sha256_file(&target), sha);
    assert!(
        others(&out_dir, "r.bin").is_empty(),
        "{:?}",
        others(&out_dir, "r.bin")
    );
    // An answer without a validator cannot be continued: it is downloaded as usual, and the
    // partial file opened for it is not left behind.
    let echo = out_dir.join("echo.txt");
    let plain = ok(client
        .download(
            DownloadOptions::new(nginx.url("/echo"))
                .host_path(&echo)
                .resume(true),
        )
        .await);
    assert_eq!(plain.resumed_from, 0);
    let mut left = others(&out_dir, "r.bin");
    left.retain(|n| n != "echo.txt");
    assert!(left.is_empty(), "{left:?}");
    // The HAR shows the ranged request.
    let request = &s.hops.last().unwrap().request_header;
    assert!(
        request
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("range") && v == &format!("bytes={held}-")),
        "{request:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_or_a_server_without_ranges_starts_over() {
    let (v1, v2) = (body(1, 200_000), body(2, 200_000));
    let staged = CutOnce::start("v", "\"v1\"", &v1, 80_000).await;
    let CutOnce {
        env,
        client,
        target,
        server,
        ..
    } = &staged;
    let opts = || staged.opts();
    let partial = env.dir.path().join(".v.bin.wxdl-partial");
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), 80_000);
    // The file changed on the server: If-Range fails, the whole new version comes.
    {
        let mut s = server.script();
        s.etag = "\"v2\"".into();
        s.body = v2.clone();
    }
    let s = ok(client.download(opts()).await);
    assert_eq!(s.resumed_from, 0);
    assert_eq!(std::fs::read(target).unwrap(), *v2, "never spliced");
    let last = server.script().heads.last().unwrap().to_ascii_lowercase();
    assert!(
        last.contains("range: bytes=80000-") && last.contains("if-range: \"v1\""),
        "{last}"
    );

    // A server that ignores Range: its 200 replaces what was held.
    {
        let mut s = server.script();
        s.cut_next = Some(50_000);
        s.ranges = false;
        s.body = v1.clone();
        s.etag = "\"v1\"".into();
    }
    fail(
        client.download(opts()).await,
        FailReason::NetworkInterrupted,
    );
    let s = ok(client.download(opts()).await);
    assert_eq!(s.resumed_from, 0);
    assert_eq!(std::fs::read(target).unwrap(), *v1);
    assert!(!partial.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_locked_for_a_moment_is_still_continued() {
    // A process that starts others lends every descriptor, and with it the partial file's
    // lock, to each child between fork and exec. Held so here (another open of the file,
    // locked, let go after 20 ms): the download waits for it and continues the body.
    let data = body(6, 200_000);
    let staged = CutOnce::start("l", "\"l\"", &data, 70_000).await;
    let dir = staged.env.dir.path();
    let partial = std::fs::File::open(dir.join(".l.bin.wxdl-partial")).unwrap();
    rustix::fs::flock(&partial, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        drop(partial);
    });
    let s = ok(staged.client.download(staged.opts()).await);
    holder.join().unwrap();
    assert_eq!(s.resumed_from, 70_000);
    assert_eq!(std::fs::read(&staged.target).unwrap(), *data);
    assert!(others(dir, "l.bin").iter().all(|n| n == "sandbox"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_the_server_cannot_satisfy_asks_for_the_whole_body() {
    let data = body(3, 100_000);
    let staged = CutOnce::start("u", "\"u\"", &data, 10_000).await;
    staged.server.script().unsatisfiable = true;
    let s = ok(staged.client.download(staged.opts()).await);
    assert_eq!(s.status_code, 200);
    assert_eq!(std::fs::read(&staged.target).unwrap(), *data);
    let statuses: Vec<u16> = s.hops.iter().map(|h| h.status_code).collect();
    assert_eq!(statuses, [416, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retry_a_cut_body_is_continued_by_the_next_try() {
    let env = Env::new();
    let client = env.client(&[]);
    let data = body(4, 300_000);
    let sha = sha256_hex(&data);
    let server = Ranged::start(Script {
        cut_next: Some(120_000),
        ..Script::new("\"r\"", data.clone())
    })
    .await;
    let opts = || {
        DownloadOptions::new(server.url("/r"))
            .retry(2)
            .retry_delay(Duration::from_millis(10))
            .resume(true)
            .integrity(sha.clone())
    };
    // A temp file in the sandbox, continued within one download: the hash covers both parts.
    let s = ok(client.download(opts()).await);
    assert_eq!(std::fs::read(&s.saved_path).unwrap(), *data);
    let heads = server.script().heads.clone();
    assert_eq!(heads.len(), 2);
    assert!(
        heads[1]
            .to_ascii_lowercase()
            .contains("range: bytes=120000-"),
        "{}",
        heads[1]
    );
    assert_eq!(s.resumed_from, 0, "nothing came from an earlier run");
    assert_eq!(s.hops.len(), 2, "both tries are in the HAR");
    assert!(others(&env.root().join("tmp"), "")
        .iter()
        .all(|n| n.starts_with("tmp_")));

    // Without resume, a retry does not continue a body: the cut is the outcome.
    server.script().cut_next = Some(120_000);
    fail(
        client.download(opts().resume(false)).await,
        FailReason::NetworkInterrupted,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_downloads_resume_by_url_and_a_bad_partial_is_dropped() {
    let env = Env::new();
    let client = env.client(&[]);
    let data = body(5, 150_000);
    let server = Ranged::start(Script {
        cut_next: Some(60_000),
        ..Script::new("\"s\"", data.clone())
    })
    .await;
    for (i, file_path) in [None, Some("wxfile://usr/s.bin")].into_iter().enumerate() {
        let opts = || {
            let o = DownloadOptions::new(server.url(&format!("/s{i}"))).resume(true);
            match file_path {
                Some(p) => o.file_path(p),
                None => o,
            }
        };
        server.script().cut_next = Some(60_000);
        fail(
            client.download(opts()).await,
            FailReason::NetworkInterrupted,
        );
        let s = ok(client.download(opts()).await);
        assert_eq!(s.resumed_from, 60_000);
        assert_eq!(std::fs::read(&s.saved_path).unwrap(), *data);
        assert_eq!(s.file_path.as_deref(), file_path);
    }
    let tmp = others(&env.root().join("tmp"), "");
    assert!(tmp.iter().all(|n| n.starts_with("tmp_")), "{tmp:?}");

    // Held bytes that fail the integrity check are not kept for another try.
    server.script().cut_next = Some(60_000);
    let opts = DownloadOptions::new(server.url("/bad")).resume(true);
    fail(
        client.download(opts.clone()).await,
        FailReason::NetworkInterrupted,
    );
    fail(
        client
            .download(opts.clone().integrity("0".repeat(64)))
            .await,
        FailReason::IntegrityCheckFail,
    );
    let s = ok(client.download(opts).await);
    assert_eq!(s.resumed_from, 0);
    let tmp = others(&env.root().join("tmp"), "");
    assert!(tmp.iter().all(|n| n.starts_with("tmp_")), "{tmp:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resumable_downloads_of_one_target_never_mix() {
    let nginx = Nginx::start();
    let a = write_random(&nginx.root.join("a.bin"), 2_000_000);
    let b = write_random(&nginx.root.join("b.bin"), 2_000_000);
    let env = Env::new();
    let client = env.client(&[]);
    let target = env.dir.path().join("same.bin");
    let opts = |p: &str| {
        DownloadOptions::new(nginx.url(p))
            .host_path(&target)
            .resume(true)
    };
    let (x, y) = tokio::join!(
        client.download(opts("/a.bin")),
        client.download(opts("/b.bin"))
    );
    let (x, y) = (ok(x), ok(y));
    assert_eq!((x.resumed_from, y.resumed_from), (0, 0));
    let got = sha256_file(&target);
    assert!(got == a || got == b, "one whole body, not a mix");
    assert!(others(env.dir.path(), "same.bin")
        .iter()
        .all(|n| n == "sandbox"));
}

/// Issue 23 §1: a server that ignores `If-Range` answers the continuation with a range of the
/// new version (its own ETag, the same length): the bytes are never appended; the download
/// starts over once, cleanly, and the file is the new version whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_206_of_another_version_starts_over_instead_of_splicing() {
    let (v1, v2) = (body(11, 300_000), body(12, 300_000));
    let staged = CutOnce::start("n", "\"n1\"", &v1, 100_000).await;
    {
        let mut s = staged.server.script();
        s.ignore_if_range = true;
        s.etag = "\"n2\"".into();
        s.body = v2.clone();
    }
    let s = ok(staged.client.download(staged.opts()).await);
    assert_eq!(s.resumed_from, 0);
    assert!(
        std::fs::read(&staged.target).unwrap() == *v2,
        "never spliced"
    );
    let statuses: Vec<u16> = s.hops.iter().map(|h| h.status_code).collect();
    assert_eq!(statuses, [206, 200]);

    // Within one download: the body is cut, the file changes, the retry's 206 is the new
    // version's. With a date as the validator (no ETag) the same; and with a new version of
    // another length (the body started over takes the new answer's length and validator).
    let v3 = body(17, 250_000);
    for (dated, v2) in [(false, &v2), (true, &v2), (false, &v3)] {
        let env = Env::new();
        let client = env.client(&[]);
        let target = env.dir.path().join("r.bin");
        let (etag, date, then) = if dated {
            let (mon, tue) = (
                "Mon, 02 Jan 2006 15:04:05 GMT",
                "Tue, 03 Jan 2006 15:04:05 GMT",
            );
            (
                "",
                Some(mon.to_owned()),
                ("".to_owned(), Some(tue.to_owned())),
            )
        } else {
            ("\"r1\"", None, ("\"r2\"".to_owned(), None))
        };
        let server = Ranged::start(Script {
            cut_next: Some(120_000),
            ignore_if_range: true,
            last_modified: date,
            then: Some((then.0, v2.clone())),
            then_last_modified: then.1,
            ..Script::new(etag, v1.clone())
        })
        .await;
        let s = ok(client
            .download(
                DownloadOptions::new(server.url("/r"))
                    .host_path(&target)
                    .resume(true)
                    .retry(2)
                    .retry_delay(Duration::from_millis(10)),
            )
            .await);
        assert!(std::fs::read(&target).unwrap() == **v2, "dated: {dated}");
        let statuses: Vec<u16> = s.hops.iter().map(|h| h.status_code).collect();
        assert_eq!(statuses, [200, 206, 200], "dated: {dated}");
    }
}

/// Issue 23 §4: a `206 multipart/byteranges` (its top-level Content-Range fits) is framing,
/// not the body: the download starts over and the file holds no boundary lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_206_is_not_a_body() {
    let data = body(13, 200_000);
    let staged = CutOnce::start("m", "\"m\"", &data, 50_000).await;
    staged.server.script().multipart = true;
    let s = ok(staged.client.download(staged.opts()).await);
    assert_eq!(s.resumed_from, 0);
    assert_eq!(std::fs::read(&staged.target).unwrap(), *data);
}

/// Issue 29's open case, decided: when only one side knows the whole length, the range
/// decides — held bytes of unknown length learn it from `bytes N-M/T`; a known length
/// accepts `bytes N-M/*` ending at its last byte. Both continue (not from 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_known_to_one_side_only_is_continued() {
    let data = body(14, 200_000);
    let staged = CutOnce::start("t", "\"t\"", &data, 60_000).await;
    let dir = staged.env.dir.path();
    // The record as a body without Content-Length leaves it.
    let record_path = dir.join(".t.bin.wxdl-partial.json");
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    record["expectedLength"] = serde_json::Value::Null;
    std::fs::write(&record_path, record.to_string()).unwrap();
    let s = ok(staged.client.download(staged.opts()).await);
    assert_eq!(s.resumed_from, 60_000);
    assert_eq!(std::fs::read(&staged.target).unwrap(), *data);

    // A known length, and a server that writes `*`.
    let staged = CutOnce::start("s", "\"s\"", &data, 70_000).await;
    staged.server.script().star_total = true;
    let s = ok(staged.client.download(staged.opts()).await);
    assert_eq!(s.resumed_from, 70_000);
    assert_eq!(std::fs::read(&staged.target).unwrap(), *data);
}

/// Issue 23 §2: a held partial that is not continued — another URL to the same target, a
/// record that does not parse, one past the retention — is started over from an empty file,
/// never appended to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_not_continued_is_started_over_from_empty() {
    let data = body(15, 200_000);
    let staged = CutOnce::start("a", "\"a\"", &data, 90_000).await;
    let dir = staged.env.dir.path();
    let partial = dir.join(".a.bin.wxdl-partial");
    let record = dir.join(".a.bin.wxdl-partial.json");
    let other_url = DownloadOptions::new(staged.server.url("/other"))
        .host_path(&staged.target)
        .resume(true);
    let s = ok(staged.client.download(other_url).await);
    assert_eq!(s.resumed_from, 0);
    assert_eq!(std::fs::read(&staged.target).unwrap(), *data);

    async fn cut_again(staged: &CutOnce, partial: &std::path::Path) {
        staged.server.script().cut_next = Some(90_000);
        fail(
            staged.client.download(staged.opts()).await,
            FailReason::NetworkInterrupted,
        );
        assert_eq!(std::fs::metadata(partial).unwrap().len(), 90_000);
    }
    cut_again(&staged, &partial).await;
    std::fs::write(&record, b"{not json").unwrap();
    let s = ok(staged.client.download(staged.opts()).await);
    assert_eq!(s.resumed_from, 0);
    assert_eq!(std::fs::read(&staged.target).unwrap(), *data);

    cut_again(&staged, &partial).await;
    let eight_days = std::time::SystemTime::now() - Duration::from_secs(8 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&partial)
        .unwrap()
        .set_modified(eight_days)
        .unwrap();
    let s = ok(staged.client.download(staged.opts()).await);
    assert_eq!(s.resumed_from, 0);
    assert_eq!(std::fs::read(&staged.target).unwrap(), *data);
    assert!(!partial.exists() && !record.exists());
}

/// Issue 23 §3: a FIFO planted as the partial's record never blocks the download (a plain
/// `open` of it would wait for a writer for ever). A watchdog thread opens the FIFO for
/// writing after 20 s, so a regression fails the test instead of hanging it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_planted_as_the_record_never_hangs() {
    let data = body(16, 100_000);
    let staged = CutOnce::start("f", "\"f\"", &data, 30_000).await;
    let record = staged.env.dir.path().join(".f.bin.wxdl-partial.json");
    std::fs::remove_file(&record).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &record,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = {
        let (fired, record) = (fired.clone(), record.clone());
        std::thread::spawn(move || {
            if done_rx.recv_timeout(Duration::from_secs(20)).is_err() {
                fired.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = std::fs::OpenOptions::new().write(true).open(&record);
            }
        })
    };
    let outcome = staged.client.download(staged.opts()).await;
    let _ = done_tx.send(());
    watchdog.join().unwrap();
    assert!(
        !fired.load(std::sync::atomic::Ordering::SeqCst),
        "the download blocked on the FIFO"
    );
    ok(outcome);
    assert_eq!(std::fs::read(&staged.target).unwrap(), *data);
}

/// A body started over within one download (its retry's 206 was another version's) and then
/// cut again: the partial's record names the version its bytes are of, so a later run never
/// continues them under the old validator — here the server is back on the old version and
/// honours If-Range, which would append the old version's rest to the new one's prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_started_over_is_recorded_under_its_new_version() {
    let (v1, v2) = (body(18, 300_000), body(19, 250_000));
    let env = Env::new();
    let client = env.client(&[]);
    let target = env.dir.path().join("w.bin");
    let server = Ranged::start(Script {
        cut_next: Some(100_000),
        cut_whole: Some(50_000),
        ignore_if_range: true,
        then: Some(("\"w2\"".into(), v2.clone())),
        ..Script::new("\"w1\"", v1.clone())
    })
    .await;
    let opts = || {
        DownloadOptions::new(server.url("/w"))
            .host_path(&target)
            .resume(true)
            .retry(1)
            .retry_delay(Duration::from_millis(10))
    };
    // 200 v1 cut; 206 of v2 (refused); 200 v2 cut, no retry left.
    fail(
        client.download(opts()).await,
        FailReason::NetworkInterrupted,
    );
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.dir.path().join(".w.bin.wxdl-partial.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["validator"], "\"w2\"", "{record}");
    assert_eq!(record["expectedLength"], 250_000, "{record}");
    {
        let mut s = server.script();
        s.etag = "\"w1\"".into();
        s.body = v1.clone();
        s.ignore_if_range = false;
    }
    ok(client.download(opts()).await);
    assert!(
        std::fs::read(&target).unwrap() == *v1,
        "two versions spliced"
    );
}
