#!/usr/bin/env python3
"""S1: growth. One `wxdl get -i` batch of N small files (16 KiB, -j 10) for N = 1 000, 10 000
and 100 000 against nginx on loopback: wall time per file, peak RSS and the most descriptors
the process held (sampled from /proc every 20 ms). Target (bench/README.md): time per file
constant within +-15 %, RSS and descriptors flat. Every output is counted. The same list through
`curl --parallel + sync` is timed beside it: how much of any growth is the file system's.

    python3 bench/s1.py [N ...]        (needs cargo build --release -p wxdl-cli)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (the benchmark's nginx and data helpers)


def curl_batch(work: Path, lst: Path, n: int):
    """The same list through `curl --parallel --parallel-max 10` + `sync` (the file system's own
    cost of a directory growing to n entries, for comparison): wall seconds."""
    out = work / f"curl-{n}"
    out.mkdir()
    cfg = work / f"curl-{n}.cfg"
    with cfg.open("w") as f:
        for i, url in enumerate(lst.read_text().split()):
            f.write(f'url = "{url}"\noutput = "{out}/f-{i}"\n')
    os.sync()
    start = time.perf_counter()
    subprocess.run(["curl", "-sS", "--parallel", "--parallel-max", "10", "-K", str(cfg)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.sync()
    return time.perf_counter() - start


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000, 100000]
    if not bench.WXDL.exists():
        sys.exit(f"s1: build wxdl first: cargo build --release (missing {bench.WXDL})")
    work = Path(tempfile.mkdtemp(prefix="wxdl-s1-"))
    nginx = None
    try:
        www = work / "www"
        bench.make_data(www, 1, 1)
        bench.make_ca(work)
        http_port, https_port = bench.free_port(), bench.free_port()
        nginx = bench.start_nginx(work, www, http_port, https_port)
        name = next((www / "small").iterdir()).name
        # A warm-up batch first (nginx's open-file cache, the data directory's first use), so
        # the smallest size is not charged for them.
        warm = work / "urls-warm.txt"
        warm.write_text("".join(f"http://127.0.0.1:{http_port}/small/{name}?w={i}\n" for i in range(100)))
        subprocess.run([str(bench.WXDL), "get", "-q", "--data-dir", str(work / "data"), "-i", str(warm),
                        "-j", "10", "-d", str(work / "out-warm")], check=True)
        rows = []
        for n in sizes:
            lst = work / f"urls-{n}.txt"
            # One URL per file: the query keeps them apart; the batch names them uniquely.
            lst.write_text("".join(f"http://127.0.0.1:{http_port}/small/{name}?n={i}\n" for i in range(n)))
            out = work / f"out-{n}"
            out.mkdir()
            os.sync()
            rss_file = work / "rss.txt"
            cmd = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), str(bench.WXDL), "get", "-q",
                   "--data-dir", str(work / "data"), "-i", str(lst), "-j", "10", "-d", str(out)]
            start = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            most_fds = 0
            while p.poll() is None:
                try:
                    kids = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
                    for pid in kids:
                        most_fds = max(most_fds, len(os.listdir(f"/proc/{pid}/fd")))
                except OSError:
                    pass
                time.sleep(0.02)
            wall = time.perf_counter() - start
            if p.returncode != 0:
                sys.exit(f"s1: batch of {n} failed: {p.stderr.read().decode()[-400:]}")
            files = sum(1 for _ in out.iterdir())
            if files != n:
                sys.exit(f"s1: {files} of {n} files written")
            rss = int(rss_file.read_text().split()[-1]) / 1024
            curl_wall = curl_batch(work, lst, n)
            rows.append((n, wall, wall / n * 1e6, rss, most_fds, curl_wall / n * 1e6))
            print(f"s1: {n} files in {wall:.2f} s (curl + sync {curl_wall:.2f} s)", file=sys.stderr)
            # Outputs stay until the end: creating files just after deleting thousands is slow on
            # ext4 (it scans recently freed inodes), which would charge the next size for this
            # one's cleanup.
        print("| files | wall s | us per file | peak RSS MiB | most descriptors | curl + sync us per file |")
        print("|---|---|---|---|---|---|")
        for n, wall, per, rss, fds, curl_per in rows:
            print(f"| {n} | {wall:.2f} | {per:.0f} | {rss:.1f} | {fds} | {curl_per:.0f} |")
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
