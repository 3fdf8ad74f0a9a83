//! `requests URLS_FILE JOBS`: every URL of the file through one `Client::request` each, all
//! started at once on one client whose request queue admits `JOBS` at a time. Each body is held
//! in memory as `wx.request` holds it, then checked, counted and let go as its call ends. Prints
//! how many answered 200 and their body bytes; exits 1 if any did not. The benchmark's W10
//! (bench/run.py) against `curl --parallel`.

use std::time::Instant;

use wxdl::request::RequestOptions;
use wxdl::Client;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, jobs] = args.as_slice() else {
        return Err("usage: requests URLS_FILE JOBS".into());
    };
    let jobs: usize = jobs.parse()?;
    let urls: Vec<String> = std::fs::read_to_string(file)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let root = tempfile::tempdir()?;
        let client = Client::builder()
            .sandbox_root(root.path())
            .concurrency(jobs)
            .build()?;
        let start = Instant::now();
        // Every call starts at once, as a Mini Program's would; the client's queue runs `jobs`
        // at a time, in call order.
        let tasks: Vec<_> = urls
            .iter()
            .map(|u| client.request(RequestOptions::new(u.as_str()).enable_profile(false)))
            .collect();
        // Each answer is checked and let go as it comes, as a user's callback would: nothing
        // holds a thousand bodies.
        let (mut ok, mut bytes) = (0usize, 0usize);
        for t in tasks {
            match t.await {
                Ok(res) if res.status_code == 200 => {
                    ok += 1;
                    bytes += res.body.len();
                }
                Ok(res) => eprintln!("requests: HTTP {} from {}", res.status_code, res.url),
                Err(f) => eprintln!("requests: {f}"),
            }
        }
        eprintln!(
            "requests: {ok} of {} answered 200, {bytes} body bytes, in {:.3} s",
            urls.len(),
            start.elapsed().as_secs_f64()
        );
        if ok != urls.len() {
            std::process::exit(1);
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
