//! W1 write-path probe (issue 30): one plain-TCP GET of a big file, its body written durably by
//! one of several strategies (read/write buffers, `sync_file_range`, `fallocate`, `splice`),
//! each run a child process of its own, alternated with `dd conv=fdatasync` and `wxdl get -o`.
//!
//! Built as an example of the wxdl crate (it uses none of wxdl's code, only libc and httparse):
//!
//! ```text
//! cargo build --release -p wxdl --example w1_write_probe
//! w1_write_probe bench --port P --path /big.bin --src /dev/shm/w1/big.bin --dir OUTDIR \
//!     --rounds 8 [--wxdl target/release/wxdl] [--wxdl-alt OTHER/wxdl] [--variants a,b,...,wxdl-alt]
//! w1_write_probe one --variant e --port P --path /big.bin --dir OUTDIR --name out.bin
//! ```
//!
//! `bench/probe/w1_write.sh` starts nginx and runs both filesystems. Linux only.

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!("w1_write_probe: Linux only (splice, sync_file_range, O_TMPFILE)");
        std::process::exit(2);
    }
}

/// Everything the probe does; Linux's syscalls throughout.
#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::os::fd::{AsRawFd, FromRawFd, RawFd};
    use std::process::Command;
    use std::time::{Duration, Instant};

    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    /// Writeback is started after every this many bytes (what wxdl's store does).
    const WRITEBACK_EVERY: u64 = 8 * MIB as u64;

    /// One way of writing the body.
    #[derive(Clone, Copy, Debug)]
    struct Variant {
        key: &'static str,
        what: &'static str,
        /// `Some(n)`: read/write with an n-byte buffer; `None`: splice through a pipe.
        buffer: Option<usize>,
        writeback: bool,
        /// `Some(keep_size)`: fallocate the whole length first.
        fallocate: Option<bool>,
    }

    const VARIANTS: &[Variant] = &[
        Variant {
            key: "a",
            what: "read/write 256 KiB",
            buffer: Some(256 * KIB),
            writeback: false,
            fallocate: None,
        },
        Variant {
            key: "b",
            what: "(a) + sync_file_range / 8 MiB",
            buffer: Some(256 * KIB),
            writeback: true,
            fallocate: None,
        },
        Variant {
            key: "c",
            what: "(b) + fallocate(KEEP_SIZE)",
            buffer: Some(256 * KIB),
            writeback: true,
            fallocate: Some(true),
        },
        Variant {
            key: "c0",
            what: "(b) + fallocate(mode 0)",
            buffer: Some(256 * KIB),
            writeback: true,
            fallocate: Some(false),
        },
        Variant {
            key: "d1",
            what: "(b) with 1 MiB buffer",
            buffer: Some(MIB),
            writeback: true,
            fallocate: None,
        },
        Variant {
            key: "d4",
            what: "(b) with 4 MiB buffer",
            buffer: Some(4 * MIB),
            writeback: true,
            fallocate: None,
        },
        Variant {
            key: "e",
            what: "splice sock->pipe(1 MiB)->file + sync_file_range",
            buffer: None,
            writeback: true,
            fallocate: None,
        },
        Variant {
            key: "f",
            what: "(e) + fallocate(KEEP_SIZE)",
            buffer: None,
            writeback: true,
            fallocate: Some(true),
        },
    ];

    pub fn main() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let result = match args.first().map(String::as_str) {
            Some("one") => one(&Args::parse(&args[1..])),
            Some("bench") => bench(&Args::parse(&args[1..])),
            _ => Err("usage: w1_write_probe one|bench --port P --path /big.bin --dir D ...".into()),
        };
        if let Err(e) = result {
            eprintln!("w1_write_probe: {e}");
            std::process::exit(1);
        }
    }

    type Res<T> = Result<T, String>;

    #[derive(Default)]
    struct Args {
        port: u16,
        path: String,
        dir: String,
        name: String,
        variant: String,
        variants: String,
        src: String,
        wxdl: String,
        /// A second wxdl build, run as variant `wxdl-alt` (an A/B of an engine change).
        wxdl_alt: String,
        rounds: usize,
        /// The server's master process: its children's CPU is counted per run.
        server: u32,
    }

    impl Args {
        fn parse(a: &[String]) -> Args {
            let mut out = Args {
                path: "/big.bin".into(),
                name: "out.bin".into(),
                rounds: 8,
                variants: "a,b,c,c0,d1,d4,e,f,dd,wxdl".into(),
                ..Args::default()
            };
            let mut it = a.iter();
            while let Some(k) = it.next() {
                let v = it.next().cloned().unwrap_or_default();
                match k.as_str() {
                    "--port" => out.port = v.parse().unwrap_or(0),
                    "--path" => out.path = v,
                    "--dir" => out.dir = v,
                    "--name" => out.name = v,
                    "--variant" => out.variant = v,
                    "--variants" => out.variants = v,
                    "--src" => out.src = v,
                    "--wxdl" => out.wxdl = v,
                    "--wxdl-alt" => out.wxdl_alt = v,
                    "--rounds" => out.rounds = v.parse().unwrap_or(8),
                    "--server" => out.server = v.parse().unwrap_or(0),
                    other => eprintln!("w1_write_probe: ignoring {other}"),
                }
            }
            out
        }
    }

    fn os_err(what: &str) -> String {
        format!("{what}: {}", std::io::Error::last_os_error())
    }

    fn check(rc: libc::c_int, what: &str) -> Res<libc::c_int> {
        if rc < 0 {
            Err(os_err(what))
        } else {
            Ok(rc)
        }
    }

    /// Child mode: one download by one variant, ending in fdatasync and a link into the directory.
    fn one(a: &Args) -> Res<()> {
        let v = VARIANTS
            .iter()
            .find(|v| v.key == a.variant)
            .ok_or_else(|| format!("unknown variant {}", a.variant))?;
        let start = Instant::now();
        let mut sock = TcpStream::connect(("127.0.0.1", a.port)).map_err(|e| e.to_string())?;
        write!(
            sock,
            "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            a.path, a.port
        )
        .map_err(|e| e.to_string())?;

        // The head: peeked, parsed, then consumed exactly, so the socket holds only body bytes.
        let mut peek = vec![0u8; 16 * KIB];
        let (head_len, length) = loop {
            // SAFETY: the buffer is ours and as long as passed.
            let n = unsafe {
                libc::recv(
                    sock.as_raw_fd(),
                    peek.as_mut_ptr().cast(),
                    peek.len(),
                    libc::MSG_PEEK,
                )
            };
            let n = check(n as libc::c_int, "recv(MSG_PEEK)")? as usize;
            if n == 0 {
                return Err("connection closed in the head".into());
            }
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&peek[..n]).map_err(|e| e.to_string())? {
                httparse::Status::Complete(len) => {
                    if resp.code != Some(200) {
                        return Err(format!("status {:?}", resp.code));
                    }
                    let cl = resp
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .and_then(|h| {
                            std::str::from_utf8(h.value)
                                .ok()?
                                .trim()
                                .parse::<u64>()
                                .ok()
                        })
                        .ok_or("no Content-Length")?;
                    break (len, cl);
                }
                httparse::Status::Partial if n == peek.len() => return Err("head too long".into()),
                httparse::Status::Partial => std::thread::sleep(Duration::from_micros(50)),
            }
        };
        sock.read_exact(&mut peek[..head_len])
            .map_err(|e| e.to_string())?;

        let dir = std::ffi::CString::new(a.dir.as_str()).map_err(|e| e.to_string())?;
        let fd = open(&dir, libc::O_TMPFILE | libc::O_WRONLY, "open(O_TMPFILE)")?;
        // SAFETY: fd was just opened and is owned by nobody else.
        let mut file = unsafe { File::from_raw_fd(fd) };
        if let Some(keep) = v.fallocate {
            let mode = if keep { libc::FALLOC_FL_KEEP_SIZE } else { 0 };
            // SAFETY: plain syscall on our descriptor.
            check(
                unsafe { libc::fallocate(fd, mode, 0, length as libc::off_t) },
                "fallocate",
            )?;
        }
        let written = match v.buffer {
            Some(size) => copy_rw(&mut sock, &mut file, length, size, v.writeback)?,
            None => copy_splice(sock.as_raw_fd(), fd, length, v.writeback)?,
        };
        if written != length {
            return Err(format!("body ended at {written} of {length}"));
        }
        let body = start.elapsed().as_secs_f64();
        // SAFETY: plain syscall on our descriptor.
        check(unsafe { libc::fdatasync(fd) }, "fdatasync")?;
        let sync = start.elapsed().as_secs_f64() - body;
        // Give the unnamed file its name, as wxdl's publish does; the parent removes it after the run.
        let from =
            std::ffi::CString::new(format!("/proc/self/fd/{fd}")).map_err(|e| e.to_string())?;
        let to = std::ffi::CString::new(a.name.as_str()).map_err(|e| e.to_string())?;
        let dirfd = open(&dir, libc::O_PATH | libc::O_DIRECTORY, "open(dir)")?;
        // SAFETY: valid C strings and descriptors.
        let rc = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                dirfd,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        // SAFETY: ours, closed once.
        unsafe { libc::close(dirfd) };
        check(rc, "linkat")?;
        // For the parent: seconds from connect to the body's last byte, and in fdatasync.
        println!("{body:.6} {sync:.6}");
        Ok(())
    }

    /// `open(2)` with `O_CLOEXEC` and mode 0644; the caller owns the descriptor.
    fn open(path: &std::ffi::CStr, flags: libc::c_int, what: &str) -> Res<RawFd> {
        // SAFETY: a valid C string; the descriptor returned is the caller's.
        check(
            unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o644) },
            what,
        )
    }

    fn start_writeback(fd: RawFd, from: u64, to: u64) {
        // SAFETY: plain syscall on our descriptor; advisory, errors ignored.
        unsafe {
            libc::sync_file_range(
                fd,
                from as i64,
                (to - from) as i64,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }

    /// (a)-(d): read into a buffer, write it out.
    fn copy_rw(
        sock: &mut TcpStream,
        file: &mut File,
        length: u64,
        size: usize,
        wb: bool,
    ) -> Res<u64> {
        let mut buf = vec![0u8; size];
        let (mut done, mut flushed) = (0u64, 0u64);
        while done < length {
            let want = size.min((length - done) as usize);
            let n = sock.read(&mut buf[..want]).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n]).map_err(|e| e.to_string())?;
            done += n as u64;
            if wb && done - flushed >= WRITEBACK_EVERY {
                start_writeback(file.as_raw_fd(), flushed, done);
                flushed = done;
            }
        }
        Ok(done)
    }

    /// (e)-(f): socket -> pipe -> file with splice(2), no copy through user memory.
    fn copy_splice(sock: RawFd, file: RawFd, length: u64, wb: bool) -> Res<u64> {
        let mut p = [0 as RawFd; 2];
        // SAFETY: p has room for two descriptors.
        check(
            unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) },
            "pipe2",
        )?;
        let (pr, pw) = (p[0], p[1]);
        // SAFETY: plain fcntl on our pipe.
        let cap = check(
            unsafe { libc::fcntl(pw, libc::F_SETPIPE_SZ, MIB as libc::c_int) },
            "F_SETPIPE_SZ",
        )? as usize;
        let (mut done, mut flushed) = (0u64, 0u64);
        let mut off: libc::loff_t = 0;
        let result = loop {
            if done >= length {
                break Ok(done);
            }
            let want = cap.min((length - done) as usize);
            // SAFETY: descriptors are ours; null offsets for the socket and the pipe.
            let n = unsafe {
                libc::splice(
                    sock,
                    std::ptr::null_mut(),
                    pw,
                    std::ptr::null_mut(),
                    want,
                    libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE,
                )
            };
            if n < 0 {
                break Err(os_err("splice(sock->pipe)"));
            }
            if n == 0 {
                break Ok(done);
            }
            let mut left = n as usize;
            while left > 0 {
                // SAFETY: descriptors are ours; `off` is our file offset.
                let m = unsafe {
                    libc::splice(
                        pr,
                        std::ptr::null_mut(),
                        file,
                        &mut off,
                        left,
                        libc::SPLICE_F_MOVE,
                    )
                };
                if m <= 0 {
                    return Err(os_err("splice(pipe->file)"));
                }
                left -= m as usize;
            }
            done += n as u64;
            if wb && done - flushed >= WRITEBACK_EVERY {
                start_writeback(file, flushed, done);
                flushed = done;
            }
        };
        // SAFETY: ours, closed once.
        unsafe {
            libc::close(pr);
            libc::close(pw);
        }
        result
    }

    /// One run: wall, user and system CPU seconds, (probe variants only) seconds in fdatasync, and
    /// the server's CPU seconds.
    type Sample = (f64, f64, f64, Option<f64>, f64);

    /// CPU seconds (user, system) of waited-for children so far.
    fn children_cpu() -> (f64, f64) {
        // SAFETY: zeroed rusage is a valid out-parameter.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer.
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
        let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (s(ru.ru_utime), s(ru.ru_stime))
    }

    /// CPU seconds (user + system) the children of `pid` (nginx's workers) have used so far, from
    /// /proc in clock ticks (10 ms here); 0 without a pid.
    fn server_cpu(pid: u32) -> f64 {
        if pid == 0 {
            return 0.0;
        }
        // SAFETY: no arguments, no memory.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        children
            .split_whitespace()
            .filter_map(|c| std::fs::read_to_string(format!("/proc/{c}/stat")).ok())
            .filter_map(|stat| {
                // Fields after the command's closing parenthesis: utime and stime are 12th and 13th.
                let rest = &stat[stat.rfind(')')? + 2..];
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
            })
            .sum::<f64>()
            / hz
    }

    fn loadavg() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }

    /// Parent mode: every variant once a round, `rounds` times, in a fresh shuffled order each
    /// round (a fixed cyclic order would put every variant always after the same one, and what
    /// the previous run left behind matters: see RESULTS.md), `sync` before every run; prints a
    /// markdown table.
    fn bench(a: &Args) -> Res<()> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let keys: Vec<&str> = a.variants.split(',').filter(|k| !k.is_empty()).collect();
        let src_len = std::fs::metadata(&a.src)
            .map_err(|e| format!("{}: {e}", a.src))?
            .len();
        let url = format!("http://127.0.0.1:{}{}", a.port, a.path);
        let out = format!("{}/out.bin", a.dir);
        let data_dir = format!("{}/wxdl-data", a.dir);
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); keys.len()];
        let load0 = loadavg();
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut prev = "-";
        for round in 0..a.rounds {
            let mut order: Vec<usize> = (0..keys.len()).collect();
            for i in (1..order.len()).rev() {
                // xorshift64: a repeatable shuffle, no crate for it.
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                order.swap(i, (rng % (i as u64 + 1)) as usize);
            }
            for k in order {
                let key = keys[k];
                let mut cmd = match key {
                    "dd" => {
                        let mut c = Command::new("dd");
                        c.args([
                            format!("if={}", a.src),
                            format!("of={out}"),
                            "bs=1M".into(),
                            "conv=fdatasync".into(),
                            "status=none".into(),
                        ]);
                        c
                    }
                    "wxdl" | "wxdl-alt" => {
                        let mut c = Command::new(if key == "wxdl" { &a.wxdl } else { &a.wxdl_alt });
                        c.args(["get", "-q", "--data-dir", &data_dir, &url, "-o", &out]);
                        c
                    }
                    _ => {
                        let mut c = Command::new(&me);
                        c.args([
                            "one",
                            "--variant",
                            key,
                            "--port",
                            &a.port.to_string(),
                            "--path",
                            &a.path,
                            "--dir",
                            &a.dir,
                            "--name",
                            &out,
                        ]);
                        c
                    }
                };
                let _ = std::fs::remove_file(&out);
                // SAFETY: no arguments, no memory.
                unsafe { libc::sync() };
                let (u0, s0) = children_cpu();
                let n0 = server_cpu(a.server);
                let t0 = Instant::now();
                let done = cmd
                    .stderr(std::process::Stdio::inherit())
                    .output()
                    .map_err(|e| format!("{key}: {e}"))?;
                let status = done.status;
                let wall = t0.elapsed().as_secs_f64();
                let (u1, s1) = children_cpu();
                let server = server_cpu(a.server) - n0;
                if !status.success() {
                    return Err(format!("{key}: {status}"));
                }
                let len = std::fs::metadata(&out)
                    .map_err(|e| format!("{key}: {e}"))?
                    .len();
                if len != src_len {
                    return Err(format!("{key}: wrote {len} of {src_len} bytes"));
                }
                if round == 0 {
                    let same = Command::new("cmp")
                        .args(["-s", &a.src, &out])
                        .status()
                        .map_err(|e| e.to_string())?;
                    if !same.success() {
                        return Err(format!("{key}: output differs from {}", a.src));
                    }
                }
                // The probe's own account: time in the final fdatasync (dd and wxdl give none).
                let sync = String::from_utf8_lossy(&done.stdout)
                    .split_whitespace()
                    .nth(1)
                    .and_then(|t| t.parse::<f64>().ok());
                eprintln!(
                "round {round} {key}: wall {wall:.3} user {:.3} sys {:.3} fdatasync {sync:?} server {server:.2} after {prev}",
                u1 - u0,
                s1 - s0
            );
                prev = key;
                samples[k].push((wall, u1 - u0, s1 - s0, sync, server));
            }
        }
        let _ = std::fs::remove_file(&out);
        let load1 = loadavg();
        let floor = keys.iter().position(|k| *k == "dd").map(|i| {
            let mut w: Vec<f64> = samples[i].iter().map(|s| s.0).collect();
            median(&mut w)
        });
        println!(
            "dir {} ({} bytes, {} rounds, load {} -> {})\n",
            a.dir, src_len, a.rounds, load0, load1
        );
        let base = keys.iter().position(|k| *k == "b").map(|i| {
            let mut w: Vec<f64> = samples[i].iter().map(|s| s.0).collect();
            median(&mut w)
        });
        println!("| variant | what | wall median s | wall min s | user median s | sys median s | final fdatasync median s | nginx CPU median s | x (b) | x dd |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for (i, key) in keys.iter().enumerate() {
            let mut w: Vec<f64> = samples[i].iter().map(|s| s.0).collect();
            let mut u: Vec<f64> = samples[i].iter().map(|s| s.1).collect();
            let mut s: Vec<f64> = samples[i].iter().map(|s| s.2).collect();
            let min = w.iter().cloned().fold(f64::INFINITY, f64::min);
            let med = median(&mut w);
            let what = match *key {
                "dd" => "dd bs=1M conv=fdatasync (no network)",
                "wxdl" => "wxdl get -o (release)",
                "wxdl-alt" => "wxdl get -o (--wxdl-alt build)",
                k => VARIANTS.iter().find(|v| v.key == k).map_or("?", |v| v.what),
            };
            let mut f: Vec<f64> = samples[i].iter().filter_map(|s| s.3).collect();
            let sync = if f.is_empty() {
                String::from("-")
            } else {
                format!("{:.3}", median(&mut f))
            };
            let mut n: Vec<f64> = samples[i].iter().map(|s| s.4).collect();
            let ratio =
                |of: Option<f64>| of.map_or(String::from("-"), |f| format!("{:.2}", med / f));
            println!(
            "| {key} | {what} | {med:.3} | {min:.3} | {:.3} | {:.3} | {sync} | {:.2} | {} | {} |",
            median(&mut u),
            median(&mut s),
            median(&mut n),
            ratio(base),
            ratio(floor)
        );
        }
        Ok(())
    }
}
