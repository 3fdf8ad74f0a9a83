#!/usr/bin/env python3
"""wxdl benchmark: W1-W11 of bench/README.md against curl, wget and aria2c in one run.

Starts nginx (HTTP/1.1; HTTPS with HTTP/2) and Caddy (HTTP/3) on loopback with certificates
from a CA made on the spot, generates the data, runs every workload for wxdl (release build)
and each peer, alternating tools within each round, verifies size and sha256 of every output,
and prints one markdown table. Installs nothing: it names what is missing and stops.

    bench/run.sh            # full: 200 MiB, 1000 x 16 KiB, 5 rounds
    bench/run.sh --quick    # smoke: 20 MiB, 200 x 16 KiB, 2 rounds
"""

import argparse
import hashlib
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WXDL = ROOT / "target" / "release" / "wxdl"
H3_SERVE = ROOT / "target" / "release" / "wxdl-h3-serve"
SINK = ROOT / "target" / "release" / "wxdl-sink"
REQUESTS = ROOT / "target" / "release" / "examples" / "requests"


# Node without NODE_EXTRA_CA_CERTS: some machines (this VM among them) point it at the whole
# system bundle, which Node parses at every start (0.1 s here, against 0.02 s without); the
# package makes no TLS connection of Node's own, so the setting only measures the machine.
NODE = ["env", "-u", "NODE_EXTRA_CA_CERTS", "node"]

# Rows that write no file (a floor measured to /dev/null, a runtime's bare start).
NO_OUTPUT = {"floor: curl -o /dev/null", "floor: node -e 0"}


def need(tools):
    missing = [t for t in tools if shutil.which(t) is None and not Path(t).exists()]
    if missing:
        sys.exit(
            "bench: missing " + ", ".join(missing)
            + " (Debian: apt-get install -y nginx-light caddy curl wget aria2 openssl)"
        )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, limit=15.0):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"bench: nothing listening on {port}")


def with_sync(argv):
    """The command, then `sync`: a peer with the durability wxdl gives (fsync before rename)."""
    return ["sh", "-c", shlex.join(map(str, argv)) + " && sync"]


def sh(*args, **kw):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def make_ca(d: Path):
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "2",
       "-subj", "/CN=wxdl bench CA")
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", d / "server.key", "-out", d / "server.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    sh("openssl", "x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.pem", "-CAkey",
       d / "ca.key", "-CAcreateserial", "-out", d / "server.pem", "-days", "2",
       "-extfile", d / "ext.cnf")


def make_data(www: Path, big_mib: int, small_n: int):
    www.mkdir(parents=True, exist_ok=True)
    big = www / "big.bin"
    with open(big, "wb") as f:
        for _ in range(big_mib):
            f.write(os.urandom(1 << 20))
    (www / "small").mkdir(exist_ok=True)
    for i in range(small_n):
        (www / "small" / f"f{i:04}.bin").write_bytes(os.urandom(16 * 1024))
    # W10: small JSON answers, as an API gives them (~600 bytes each).
    (www / "api").mkdir(exist_ok=True)
    for i in range(small_n):
        items = ",".join(f'{{"id":{i * 10 + k},"name":"item {k}","price":{k * 1.5}}}' for k in range(10))
        (www / "api" / f"r{i:04}.json").write_text(f'{{"page":{i},"items":[{items}]}}')


def sha256(path: Path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def start_nginx(d: Path, www: Path, http_port, https_port, throttle="25m"):
    conf = d / "nginx.conf"
    conf.write_text(f"""
daemon off; master_process on; worker_processes 2; user root;
pid {d}/nginx.pid; error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  log_format fetched '$status $body_bytes_sent';
  default_type application/octet-stream;
  client_body_temp_path {d}/cb; proxy_temp_path {d}/pt; fastcgi_temp_path {d}/ft;
  uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;
  server {{
    listen 127.0.0.1:{http_port};
    listen 127.0.0.1:{https_port} ssl http2;
    ssl_certificate {d}/server.pem; ssl_certificate_key {d}/server.key;
    root {www};
    # W7/W8: every connection throttled, as real servers do; each request's body bytes logged.
    location /throttled/ {{
      alias {www}/;
      limit_rate {throttle};
      access_log {d}/throttled.log fetched;
    }}
  }}
}}
""")
    p = subprocess.Popen(["nginx", "-p", str(d), "-c", str(conf), "-e", str(d / "nginx-error.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(http_port)
    wait_port(https_port)
    return p


def start_caddy(d: Path, www: Path, port):
    conf = d / "Caddyfile"
    conf.write_text(f"""{{
\tadmin off
\tauto_https off
\tstorage file_system {d}/caddy-storage
\tservers {{
\t\tprotocols h1 h2 h3
\t}}
}}
https://localhost:{port}, https://127.0.0.1:{port} {{
\ttls {d}/server.pem {d}/server.key
\troot * {www}
\tfile_server
}}
""")
    env = dict(os.environ, HOME=str(d), XDG_DATA_HOME=str(d / "xdg-data"),
               XDG_CONFIG_HOME=str(d / "xdg-config"))
    p = subprocess.Popen(["caddy", "run", "--adapter", "caddyfile", "--config", str(conf)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    time.sleep(0.2)
    return p


def start_h3_server(d: Path, www: Path):
    """The in-process-class quinn + h3 server (crates/wxdl-testkit/src/bin/wxdl-h3-serve.rs):
    returns the process and its UDP port."""
    p = subprocess.Popen([str(H3_SERVE), str(www), str(d / "server.pem"), str(d / "server.key")],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    if not line:
        sys.exit("bench: wxdl-h3-serve did not start")
    return p, int(line.rsplit(":", 1)[1])


def start_sink():
    """wxdl-sink (crates/wxdl-testkit/src/bin/wxdl-sink.rs): takes every upload body to its end
    before answering; returns the process and its port."""
    p = subprocess.Popen([str(SINK)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    if not line:
        sys.exit("bench: wxdl-sink did not start")
    return p, int(line.rsplit(":", 1)[1])


def run_measured(cmd, rss_file: Path):
    """Wall time (s), peak RSS (KiB) and CPU time (user + sys, s) of one command; fails loudly
    on a non-zero exit.

    Peak RSS and CPU come from /usr/bin/time (a fork of this Python process would count its own
    memory); wall time from the monotonic clock around it.
    """
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", str(rss_file), *map(str, cmd)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace")[-500:]
        sys.exit(f"bench: {' '.join(map(str, cmd))} exited {p.returncode}: {err}")
    rss, user, system = rss_file.read_text().split()[-3:]
    return wall, int(rss), float(user) + float(system)


CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """CPU time (user + sys, s) the processes `pids` and their children have used so far."""
    total = 0
    for pid in pids:
        for p in [pid, *children(pid)]:
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, IndexError, ValueError):
                pass
    return total / CLOCK_TICK


def children(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


class Bench:
    def __init__(self, rounds, out: Path):
        self.rounds = rounds
        self.out = out
        self.rows = {}  # (workload, tool) -> [(wall, rss, cpu, server cpu)]
        self.servers = []  # the servers' pids (their CPU during each run is recorded)
        self.workloads = 0
        self.only = None  # with --only: the workloads to run (W1, W10, ...), the rest skipped

    def runs(self, workload):
        """Whether `workload` (W1, W8, ...) is in this run."""
        return self.only is None or workload in self.only

    def workload(self, name, tools, verify, keep_outputs=False):
        """tools: {label: (make_cmd(out_dir) -> argv)}; verify(out_dir) checks the outputs.

        Every run writes into a fresh directory. With keep_outputs (the many-small-files
        workloads) the outputs stay until the whole benchmark ends: file creations just after
        thousands of deletions are slow (ext4 scans recently freed inodes, for about 30 s),
        which would charge one tool for another's cleanup.
        """
        if not self.runs(name.split()[0]):
            return
        self.workloads += 1
        base = self.out / f"o{self.workloads}"
        # The many-small-files runs take a tenth of a second each, where this VM's jitter is
        # largest: twice the rounds, for steadier medians at little cost.
        rounds = self.rounds * 2 if keep_outputs else self.rounds
        for r in range(rounds):
            order = list(tools.items())
            # Alternate the order each round so no tool always runs first (warm caches).
            if r % 2:
                order.reverse()
            for i, (label, make_cmd) in enumerate(order):
                d = base / f"{r}-{i}"
                d.mkdir(parents=True)
                os.sync()
                before = cpu_seconds(self.servers)
                wall, rss, cpu = run_measured(make_cmd(d), self.out / "rss.txt")
                server = cpu_seconds(self.servers) - before
                if verify is not None and label not in NO_OUTPUT:
                    verify(d, label)
                self.rows.setdefault((name, label), []).append((wall, rss, cpu, server))
                if not keep_outputs:
                    shutil.rmtree(d)

    def table(self, compare):
        lines = ["| workload | tool | min s | median s | peak RSS MiB | CPU s | server CPU s "
                 "| wxdl / tool (median) |",
                 "|---|---|---|---|---|---|---|---|"]
        for (name, label), runs in self.rows.items():
            walls = [r[0] for r in runs]
            med = statistics.median(walls)
            rss = max(r[1] for r in runs) / 1024
            cpu = statistics.median(r[2] for r in runs)
            server = statistics.median(r[3] for r in runs)
            base = compare.get((name, label))
            ratio = ""
            if base is not None and (name, base) in self.rows:
                wx = statistics.median(r[0] for r in self.rows[(name, base)])
                ratio = f"{wx / med:.2f}"
            lines.append(f"| {name} | {label} | {min(walls):.3f} | {med:.3f} | {rss:.1f} "
                         f"| {cpu:.3f} | {server:.3f} | {ratio} |")
        return "\n".join(lines)


WRK_FLOOR = "floor: wrk -c 10 (the same requests at its rate)"


def wrk_floor(work: Path, port, paths, rounds):
    """W10's floor: how long wrk (10 connections, one thread, the same paths in turn) takes
    for as many requests, from its rate over one second; None without wrk."""
    if shutil.which("wrk") is None:
        print("bench: no wrk: W10 has no floor row (Debian: apt-get install wrk)", file=sys.stderr)
        return None
    script = work / "w10.lua"
    script.write_text(
        "local paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n"
        "local i = 0\n"
        "request = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n")
    runs = []
    for _ in range(rounds):
        out = subprocess.run(["wrk", "-t1", "-c10", "-d1s", "-s", str(script),
                              f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                             check=True).stdout
        rate = float(next(l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec:")))
        runs.append((len(paths) / rate, 0, 0.0, 0.0))
    return runs


def w9_note(bench, small_n):
    """W9 without Node's start: (node - `node -e 0`) / the CLI batch, by medians."""
    name = f"W9 {small_n} x 16 KiB via Node (wx.downloadFile)"
    med = {}
    for label in ("node (wxdl package)", "wxdl get -i -j 10", "floor: node -e 0"):
        runs = bench.rows.get((name, label))
        if not runs:
            return ""
        med[label] = statistics.median(r[0] for r in runs)
    rest = med["node (wxdl package)"] - med["floor: node -e 0"]
    return (f" Without Node's start the downloads take {rest:.3f} s, "
            f"{rest / med['wxdl get -i -j 10']:.2f} x the CLI batch.")


def resume_rows(work: Path, wx, url, size, digest, rounds):
    """W8: each tool is interrupted once its file holds half the body, then resumes it."""
    log = work / "throttled.log"
    tools = {
        "wxdl -C": (lambda d: wx + [url, "-C", "-o", str(d / "big.bin")],
                    lambda d: d / ".big.bin.wxdl-partial"),
        "curl -C -": (lambda d: ["curl", "-sS", "-C", "-", "-o", str(d / "big.bin"), url],
                      lambda d: d / "big.bin"),
        "wget -c": (lambda d: ["wget", "-q", "-c", "-O", str(d / "big.bin"), url],
                    lambda d: d / "big.bin"),
    }
    rows = {}
    for r in range(rounds):
        for label, (cmd, partial) in tools.items():
            d = work / f"w8-{r}-{label.split()[0]}"
            d.mkdir(parents=True)
            before = log.stat().st_size if log.exists() else 0
            p = subprocess.Popen([str(c) for c in cmd(d)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            end = time.time() + 120
            while time.time() < end and p.poll() is None:
                f = partial(d)
                if f.exists() and f.stat().st_size >= size // 2:
                    break
                time.sleep(0.02)
            p.send_signal(2)
            p.wait(timeout=30)
            start = time.perf_counter()
            done = subprocess.run([str(c) for c in cmd(d)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wall = time.perf_counter() - start
            if done.returncode != 0 or (d / "big.bin").stat().st_size != size or sha256(d / "big.bin") != digest:
                sys.exit(f"bench: W8 {label} did not resume to the right file: {done.stderr[-300:]!r}")
            time.sleep(0.2)  # nginx writes the log line after the response
            with open(log) as fh:
                fh.seek(before)
                fetched = sum(int(line.split()[1]) for line in fh if line.strip())
            rows.setdefault(label, []).append((fetched / size, wall))
            shutil.rmtree(d)
    lines = ["| tool | bytes fetched / file (max) | resumed run median s |", "|---|---|---|"]
    for label, runs in rows.items():
        lines.append(f"| {label} | {max(b for b, _ in runs):.4f} | {statistics.median(w for _, w in runs):.3f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller data, 2 rounds (smoke)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--only", help="comma-separated workloads to run (e.g. W10,W11); default all")
    args = ap.parse_args()
    need(["nginx", "caddy", "curl", "wget", "aria2c", "openssl", "/usr/bin/time"])
    missing = [p for p in (WXDL, H3_SERVE, SINK, REQUESTS) if not p.exists()]
    if missing:
        sys.exit("bench: build first (bench/run.sh does): cargo build --release -p wxdl-cli "
                 "-p wxdl-testkit --bin wxdl --bin wxdl-h3-serve --bin wxdl-sink && cargo build "
                 "--release -p wxdl --example requests (missing "
                 + ", ".join(map(str, missing)) + ")")
    big_mib, small_n = (20, 200) if args.quick else (200, 1000)
    rounds = args.rounds or (2 if args.quick else 5)

    work = Path(tempfile.mkdtemp(prefix="wxdl-bench-"))
    try:
        www = work / "www"
        print(f"bench: generating {big_mib} MiB + {small_n} x 16 KiB ...", file=sys.stderr)
        make_data(www, big_mib, small_n)
        big_size = big_mib << 20
        big_sha = sha256(www / "big.bin")
        small_sha = {p.name: sha256(p) for p in (www / "small").iterdir()}
        make_ca(work)
        ca = str(work / "ca.pem")
        http_port, https_port, h3_port = free_port(), free_port(), free_port()
        # One connection at the throttle takes about 8 s for the big file (4 s with --quick).
        throttle = "5m" if args.quick else "25m"
        nginx = start_nginx(work, www, http_port, https_port, throttle)
        caddy = start_caddy(work, www, h3_port)
        quinn, quinn_port = start_h3_server(work, www)
        data_dir = work / "wxdl-data"
        try:
            bench = Bench(rounds, work)
            bench.servers = [nginx.pid, caddy.pid, quinn.pid]
            if args.only:
                bench.only = set(args.only.split(","))
            wx = [str(WXDL), "get", "-q", "--data-dir", str(data_dir)]

            def verify_big(d: Path, label):
                f = d / "big.bin"
                if f.stat().st_size != big_size or sha256(f) != big_sha:
                    sys.exit(f"bench: {label} wrote a wrong big.bin")

            def verify_small(d: Path, label):
                got = {p.name: p for p in d.iterdir()}
                if len(got) != len(small_sha):
                    sys.exit(f"bench: {label} wrote {len(got)} of {len(small_sha)} files")
                for name, digest in small_sha.items():
                    if sha256(got[name]) != digest:
                        sys.exit(f"bench: {label} wrote a wrong {name}")

            h1 = f"http://127.0.0.1:{http_port}/big.bin"
            tls = f"https://localhost:{https_port}/big.bin"
            h3 = f"https://localhost:{h3_port}/big.bin"
            resolve_tls = f"localhost:{https_port}:127.0.0.1"
            resolve_h3 = f"localhost:{h3_port}:127.0.0.1"
            compare = {}

            w1 = {
                "wxdl": lambda d: wx + [h1, "-o", str(d / "big.bin")],
                "wxdl --no-profile": lambda d: wx + [h1, "-o", str(d / "big.bin"), "--no-profile"],
                "curl": lambda d: ["curl", "-sS", "-o", str(d / "big.bin"), h1],
                "curl + sync": lambda d: with_sync(["curl", "-sS", "-o", str(d / "big.bin"), h1]),
                "wget": lambda d: ["wget", "-q", "-O", str(d / "big.bin"), h1],
                "aria2c": lambda d: ["aria2c", "-q", "--allow-overwrite=true", "-d", str(d), "-o", "big.bin", h1],
                "floor: cat": lambda d: ["sh", "-c", f"cat {www / 'big.bin'} > {d / 'big.bin'}"],
                # The durable floor (W1's target): the same bytes written and made durable with
                # no network at all.
                "floor: dd conv=fdatasync": lambda d: ["dd", f"if={www / 'big.bin'}", f"of={d / 'big.bin'}",
                                                       "bs=1M", "conv=fdatasync", "status=none"],
                "floor: curl -o /dev/null": lambda d: ["curl", "-sS", "-o", "/dev/null", h1],
            }
            n1 = f"W1 {big_mib} MiB HTTP/1.1"
            bench.workload(n1, w1, verify_big)
            for t in w1:
                compare[(n1, t)] = "wxdl"

            # W2 measures the protocol and TLS cost alone: every tool writes to /dev/null (wxdl
            # writes a device straight through), so there is no output to verify; W1 and W3
            # check the same code paths' bytes. aria2c cannot write to a device.
            w2 = {
                "wxdl h1": lambda d: wx + [tls, "--cacert", ca, "--resolve", resolve_tls, "-o", "/dev/null"],
                "curl h1": lambda d: ["curl", "-sS", "--http1.1", "--cacert", ca, "-o", "/dev/null", tls],
                "wxdl h2": lambda d: wx + [tls, "--http2", "--cacert", ca, "--resolve", resolve_tls, "-o", "/dev/null"],
                "curl h2": lambda d: ["curl", "-sS", "--http2", "--cacert", ca, "-o", "/dev/null", tls],
                "wget h1": lambda d: ["wget", "-q", "--ca-certificate", ca, "-O", "/dev/null", tls],
            }
            n2 = f"W2 {big_mib} MiB HTTPS to /dev/null"
            bench.workload(n2, w2, None)
            for t in ("curl h1", "wget h1", "wxdl h1"):
                compare[(n2, t)] = "wxdl h1"
            for t in ("curl h2", "wxdl h2"):
                compare[(n2, t)] = "wxdl h2"

            for scheme in ("http", "https"):
                port = http_port if scheme == "http" else https_port
                host = "127.0.0.1" if scheme == "http" else "localhost"
                urls = [f"{scheme}://{host}:{port}/small/{n}" for n in sorted(small_sha)]
                lst = work / f"urls-{scheme}.txt"
                lst.write_text("\n".join(urls) + "\n")
                cfg = work / f"curl-{scheme}.cfg"
                name = f"W3 {small_n} x 16 KiB {'HTTP/1.1' if scheme == 'http' else 'HTTPS h2'} -j 10"
                extra_wx = [] if scheme == "http" else ["--http2", "--cacert", ca, "--resolve", resolve_tls]
                extra_curl = [] if scheme == "http" else ["--http2", "--cacert", ca]
                extra_aria = [] if scheme == "http" else ["--ca-certificate", ca]

                def curl_cmd(d, cfg=cfg, urls=urls, extra=extra_curl):
                    cfg.write_text("".join(f'url = "{u}"\noutput = "{d / u.rsplit("/", 1)[1]}"\n' for u in urls))
                    return ["curl", "-sS", "--parallel", "--parallel-max", "10", *extra, "-K", str(cfg)]

                w3 = {
                    "wxdl": lambda d, lst=lst, e=extra_wx: wx + ["-i", str(lst), "-j", "10", "-d", str(d), *e],
                    "wxdl --no-profile": lambda d, lst=lst, e=extra_wx: wx + ["-i", str(lst), "-j", "10", "-d", str(d), "--no-profile", *e],
                    "curl --parallel-max 10": curl_cmd,
                    "curl --parallel-max 10 + sync": lambda d, c=curl_cmd: with_sync(c(d)),
                    "aria2c -j 10": lambda d, lst=lst, e=extra_aria: ["aria2c", "-q", "--allow-overwrite=true", "-j", "10", "-i", str(lst), "-d", str(d), *e],
                }
                bench.workload(name, w3, verify_small, keep_outputs=True)
                for t in w3:
                    compare[(name, t)] = "wxdl"

            w4 = {
                "wxdl h3 (Caddy)": lambda d: wx + [h3, "--http3", "--cacert", ca, "--resolve", resolve_h3, "-o", str(d / "big.bin")],
                "wxdl h2 (Caddy)": lambda d: wx + [h3, "--http2", "--cacert", ca, "--resolve", resolve_h3, "-o", str(d / "big.bin")],
                "curl h2 (Caddy)": lambda d: ["curl", "-sS", "--http2", "--cacert", ca, "-o", str(d / "big.bin"), h3],
            }
            # W5: the W3 HTTP files through the JS host, against the CLI batch in the same run.
            http_urls = [f"http://127.0.0.1:{http_port}/small/{n}" for n in sorted(small_sha)]
            js = work / "w5.js"
            js.write_text(
                "const urls = " + repr(http_urls).replace("'", '"') + ";\n"
                "Promise.all(urls.map((url) => wx.downloadFile({ url, "
                "filePath: wx.env.USER_DATA_PATH + '/' + url.slice(url.lastIndexOf('/') + 1) })))\n"
                "  .then((all) => { if (!all.every((r) => r.statusCode === 200)) throw new Error('bad status'); });\n"
            )

            def verify_js(d: Path, label):
                usr = d / "root" / "usr"
                verify_small(usr if usr.exists() else d, label)

            n5 = f"W5 {small_n} x 16 KiB via the JS host"
            w5 = {
                "wxdl run (JS host)": lambda d: [str(WXDL), "run", "--promise", str(js), "--data-dir", str(data_dir), "--root", str(d / "root")],
                "wxdl get -i -j 10": lambda d: wx + ["-i", str(work / "urls-http.txt"), "-j", "10", "-d", str(d)],
            }
            bench.workload(n5, w5, verify_js, keep_outputs=True)
            for t in w5:
                compare[(n5, t)] = "wxdl run (JS host)"

            # W9: the same files through wx.downloadFile in Node (the npm package's addon).
            node_pkg = ROOT / "crates" / "wxdl-node" / "npm"
            w9_js = work / "w9.js"
            w9_js.write_text(
                f"const {{ createWx }} = require({str(node_pkg)!r});\n"
                "const wx = createWx({ root: process.argv[2], promise: true });\n"
                "const urls = " + repr(http_urls).replace("'", '"') + ";\n"
                "Promise.all(urls.map((url) => wx.downloadFile({ url, "
                "filePath: wx.env.USER_DATA_PATH + '/' + url.slice(url.lastIndexOf('/') + 1) })))\n"
                "  .then((all) => { if (!all.every((r) => r.statusCode === 200)) process.exit(1); });\n"
            )
            n9 = f"W9 {small_n} x 16 KiB via Node (wx.downloadFile)"
            w9 = {
                "node (wxdl package)": lambda d: NODE + [str(w9_js), str(d / "root")],
                "wxdl get -i -j 10": lambda d: wx + ["-i", str(work / "urls-http.txt"), "-j", "10", "-d", str(d)],
                "floor: node -e 0": lambda d: NODE + ["-e", "0"],
            }
            if (node_pkg / "wxdl.node").exists() and shutil.which("node"):
                bench.workload(n9, w9, verify_js, keep_outputs=True)
                for t in w9:
                    compare[(n9, t)] = "node (wxdl package)"
            else:
                print("bench: W9 skipped (no node, or the addon is not built: scripts/build-node.sh)",
                      file=sys.stderr)

            # W4, the client's ceiling: HTTP/3 from a quinn server (no Go runtime on the other
            # core) against wxdl's own HTTP/2 from nginx.
            quinn_url = f"https://localhost:{quinn_port}/big.bin"
            resolve_quinn = f"localhost:{quinn_port}:127.0.0.1"
            w4q = {
                "wxdl h3 (quinn)": lambda d: wx + [quinn_url, "--http3", "--cacert", ca, "--resolve", resolve_quinn,
                                                   "-o", str(d / "big.bin")],
                "wxdl h2 (nginx)": lambda d: wx + [tls, "--http2", "--cacert", ca, "--resolve", resolve_tls,
                                                   "-o", str(d / "big.bin")],
            }
            n4q = f"W4 {big_mib} MiB HTTP/3, quinn server"
            bench.workload(n4q, w4q, verify_big)
            for t in w4q:
                compare[(n4q, t)] = "wxdl h3 (quinn)"
            n4 = f"W4 {big_mib} MiB HTTP/3, Caddy"
            bench.workload(n4, w4, verify_big)
            for t in w4:
                compare[(n4, t)] = "wxdl h3 (Caddy)"

            # W7: a per-connection throttle; split 4 against one connection and aria2c -x4 -s4.
            thr = f"http://127.0.0.1:{http_port}/throttled/big.bin"
            w7 = {
                "wxdl --split 4": lambda d: wx + [thr, "--split", "4", "-o", str(d / "big.bin")],
                "wxdl (one connection)": lambda d: wx + [thr, "-o", str(d / "big.bin")],
                "aria2c -x4 -s4": lambda d: ["aria2c", "-q", "--allow-overwrite=true", "-x4", "-s4", "-k1M",
                                             "-d", str(d), "-o", "big.bin", thr],
                "aria2c -x4 -s4 + sync": lambda d: with_sync(["aria2c", "-q", "--allow-overwrite=true", "-x4", "-s4",
                                                              "-k1M", "-d", str(d), "-o", "big.bin", thr]),
            }
            n7 = f"W7 {big_mib} MiB, {throttle}/s per connection"
            bench.workload(n7, w7, verify_big)
            for t in w7:
                compare[(n7, t)] = "wxdl --split 4"

            # W10: 1000 small JSON GETs, 10 at a time: the library's Client::request (every call
            # started at once, its queue admitting 10; each body held until its call ends, then
            # counted and let go) against curl --parallel writing to /dev/null; the floor is
            # wrk's time for as many of the same requests (10 connections, its rate over 1 s).
            api = [f"http://127.0.0.1:{http_port}/api/{p.name}" for p in sorted((www / "api").iterdir())]
            api_list = work / "api-urls.txt"
            api_list.write_text("\n".join(api) + "\n")
            api_cfg = work / "curl-api.cfg"
            api_cfg.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in api))
            w10 = {
                "wxdl (Client::request)": lambda d: [REQUESTS, api_list, "10"],
                "curl --parallel-max 10": lambda d: ["curl", "-sS", "--parallel", "--parallel-max", "10", "-K", api_cfg],
            }
            n10 = f"W10 {small_n} JSON GETs -j 10"
            bench.workload(n10, w10, None)
            for t in w10:
                compare[(n10, t)] = "wxdl (Client::request)"
            if bench.runs("W10"):
                floor = wrk_floor(work, http_port, [u.split(str(http_port), 1)[1] for u in api], rounds)
                if floor:
                    bench.rows[(n10, WRK_FLOOR)] = floor
                    compare[(n10, WRK_FLOOR)] = "wxdl (Client::request)"

            # W11: the big file uploaded as multipart (wx.uploadFile's body) to a server that
            # takes every byte before it answers; peak RSS shows the file is streamed.
            sink, sink_port = start_sink()
            bench.servers.append(sink.pid)
            up = f"http://127.0.0.1:{sink_port}/up"
            big = www / "big.bin"
            w11 = {
                "wxdl upload": lambda d: [WXDL, "upload", "-q", "--data-dir", data_dir, big, up],
                "curl -F": lambda d: ["curl", "-sS", "-o", "/dev/null", "-F", f"file=@{big}", up],
            }
            n11 = f"W11 {big_mib} MiB upload (multipart)"
            bench.workload(n11, w11, None)
            for t in w11:
                compare[(n11, t)] = "wxdl upload"
            sink.terminate()
            sink.wait()

            table = bench.table(compare)
            w8 = resume_rows(work, wx, thr, big_size, big_sha, rounds) if bench.runs("W8") else "(not run)"
        finally:
            nginx.terminate()
            caddy.terminate()
            quinn.terminate()
            nginx.wait()
            caddy.wait()
        cpu = ""
        try:
            cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
        except (OSError, StopIteration):
            pass
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
        print(f"# wxdl benchmark ({'quick' if args.quick else 'full'})\n")
        print(f"Machine: {platform.node()}, {platform.system()} {platform.release()}, "
              f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
              f"{rounds} rounds ({rounds * 2} for the small-file workloads W3, W5, W9), tools alternating; every output verified by size and sha256 (W2 writes to /dev/null: nothing to verify).\n")
        print(f"Data: big.bin {big_size} bytes, small/ {small_n} x 16 KiB. "
              "Ratio = wxdl median / tool median (< 1 means wxdl is faster); for W4 the ratio is "
              "against wxdl over HTTP/3 (target: h3 from the quinn server >= 0.8 x wxdl's h2 throughput, "
              "i.e. ratio vs `wxdl h2 (nginx)` <= 1.25). CPU s is the tool's (user + sys); server "
              "CPU s is what the servers (nginx, Caddy, the quinn server) used during the run.\n")
        print(table)
        print("\nRows `+ sync` run the peer then `sync`: the same durability wxdl gives every file "
              "(fsync before the rename), which plain curl leaves to the kernel's writeback. "
              "`floor: dd conv=fdatasync` is W1's durable floor (target: wxdl <= 1.05 x it): the "
              "file copied and synced with no network.")
        print(f"\nW7: nginx sends each connection at most {throttle}/s; ratio against `wxdl --split 4` "
              "(targets: one connection / split >= 3, i.e. ratio <= 0.33 there; aria2c ratio <= 1.0).")
        print(f"\n### W8 {big_mib} MiB cut at about 50 % (SIGINT), then resumed\n")
        print("Bytes fetched = the body bytes nginx sent for both requests (its access log), over the "
              "file's size (target <= 1.01). Time = the resumed run.\n")
        print(w8)
        print("\nW9 compares a Node script calling the package's wx.downloadFile for every file with "
              "the CLI batch (target: <= 1.3). `floor: node -e 0` is Node's own start, which no addon "
              "can shorten." + w9_note(bench, small_n))
        print("\nW5 compares `wxdl run` of a script calling wx.downloadFile for every file with the "
              "CLI batch (target: <= 1.2). W6 is the `--no-profile` rows beside `wxdl` in W1 and W3.")
        print("\nW10: `Client::request` for every URL (crates/wxdl/examples/requests.rs: all started at "
              "once, the client's request queue admitting 10, each body held in memory until its call "
              "ends, then counted and let go) against "
              "`curl --parallel --parallel-max 10` writing to /dev/null (target <= 1.0); the floor row is wrk's time for "
              "as many of the same requests, from its rate over one second with 10 connections. W11: `wxdl upload` against `curl -F file=@big.bin`, both to wxdl-sink, "
              "which reads every byte before it answers (target <= 1.0, RSS flat: compare the peak "
              "RSS column with the file's size).")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
