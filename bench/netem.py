#!/usr/bin/env python3
"""wxdl's network emulation against the kernel's: the same download under `tc netem`.

For each preset (docs/network.md), one download of SIZE bytes from nginx:
  - netem: wxdl runs in a network namespace made for this, joined to the host by a veth pair
    whose two ends delay by half the round trip and limit the rate each way (tc netem);
  - emulated: wxdl runs on the host against nginx on 127.0.0.1 with `--network PRESET`.
Total time (fetchStart to responseEnd) and first-byte time (fetchStart to responseStart) come
from wxdl's own profile in both cases; the target is agreement within 20 %. Needs root, `ip`
and `tc`; otherwise prints why it is skipped and exits 0. Cleans up the namespace and nginx.

    python3 bench/netem.py                   # 1 MiB at every preset (about 12 minutes)
    python3 bench/netem.py --size 262144 --presets wifi,4g,3g
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WXDL = ROOT / "target" / "release" / "wxdl"
# name: (down kbit/s, up kbit/s, round trip ms) - the presets of docs/network.md.
PRESETS = {
    "wifi": (30000, 15000, 30),
    "4g": (1600, 800, 125),
    "3g": (400, 200, 400),
    "2g": (75, 32, 1500),
    "slow-2g": (40, 20, 3000),
}
NS = f"wxdl-netem-{os.getpid()}"
HOST_IF, NS_IF = f"wxh{os.getpid() % 10000}", f"wxn{os.getpid() % 10000}"
HOST_IP, NS_IP = "10.211.0.1", "10.211.0.2"


def sh(*args, check=True):
    return subprocess.run([str(a) for a in args], check=check, capture_output=True, text=True)


def skip(why):
    print(f"skipped: {why}")
    sys.exit(0)


def profile_times(out: str):
    v = json.loads(out.strip().splitlines()[-1])
    if v.get("errMsg") != "downloadFile:ok":
        sys.exit(f"netem: download failed: {v}")
    p = v["profile"]
    return p["responseEnd"] - p["fetchStart"], p["responseStart"] - p["fetchStart"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--presets", default=",".join(PRESETS))
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("needs root (network namespaces and tc)")
    for tool in ("ip", "tc", "nginx"):
        if shutil.which(tool) is None:
            skip(f"{tool} is not installed")
    if not WXDL.exists():
        sys.exit(f"netem: build wxdl first: cargo build --release (missing {WXDL})")
    work = Path(tempfile.mkdtemp(prefix="wxdl-netem-"))
    nginx = None
    try:
        try:
            sh("ip", "netns", "add", NS)
        except subprocess.CalledProcessError as e:
            skip(f"cannot make a network namespace: {e.stderr.strip()}")
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
        sh("ip", "link", "set", NS_IF, "netns", NS)
        sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", HOST_IF)
        sh("ip", "link", "set", HOST_IF, "up")
        sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{NS_IP}/24", "dev", NS_IF)
        sh("ip", "netns", "exec", NS, "ip", "link", "set", NS_IF, "up")
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
        probe = sh("tc", "qdisc", "replace", "dev", HOST_IF, "root", "netem", "delay", "1ms",
                   check=False)
        if probe.returncode != 0:
            skip(f"this kernel has no netem qdisc (sch_netem): {probe.stderr.strip()}")
        www = work / "www"
        www.mkdir()
        (www / "f.bin").write_bytes(os.urandom(args.size))
        port = 18080 + os.getpid() % 1000
        conf = work / "nginx.conf"
        conf.write_text(f"""
daemon off; master_process off; worker_processes 1; pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off; sendfile on; default_type application/octet-stream;
  client_body_temp_path {work}/cb; proxy_temp_path {work}/pt; fastcgi_temp_path {work}/ft;
  uwsgi_temp_path {work}/ut; scgi_temp_path {work}/st;
  server {{ listen {HOST_IP}:{port}; listen 127.0.0.1:{port}; root {www}; }}
}}
""")
        nginx = subprocess.Popen(["nginx", "-p", str(work), "-c", str(conf)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        data = work / "data"
        common = ["get", "-q", "--json", "-o", "/dev/null", "--data-dir", str(data)]
        rows = []
        for name in args.presets.split(","):
            down, up, rtt = PRESETS[name]
            half = f"{rtt / 2}ms"
            sh("tc", "qdisc", "replace", "dev", HOST_IF, "root", "netem", "delay", half,
               "rate", f"{down}kbit", "limit", "100000")
            sh("ip", "netns", "exec", NS, "tc", "qdisc", "replace", "dev", NS_IF, "root",
               "netem", "delay", half, "rate", f"{up}kbit", "limit", "100000")
            kernel = sh("ip", "netns", "exec", NS, WXDL, *common,
                        f"http://{HOST_IP}:{port}/f.bin", check=False)
            if kernel.returncode != 0:
                sys.exit(f"netem: {name} through netem failed: {kernel.stdout} {kernel.stderr}")
            model = sh(WXDL, *common, "--network", name, f"http://127.0.0.1:{port}/f.bin",
                       check=False)
            if model.returncode != 0:
                sys.exit(f"netem: {name} emulated failed: {model.stdout} {model.stderr}")
            (kt, kf), (mt, mf) = profile_times(kernel.stdout), profile_times(model.stdout)
            rows.append((name, kt, mt, kf, mf))
            print(f"netem: {name}: total {kt:.0f} / {mt:.0f} ms, first byte {kf:.0f} / {mf:.0f} ms",
                  file=sys.stderr)
        print(f"### wxdl's emulation against tc netem ({args.size} bytes over HTTP/1.1)\n")
        print("| preset | netem total ms | emulated total ms | ratio | netem first byte ms "
              "| emulated first byte ms | ratio |")
        print("|---|---|---|---|---|---|---|")
        for name, kt, mt, kf, mf in rows:
            print(f"| {name} | {kt:.0f} | {mt:.0f} | {mt / kt:.2f} | {kf:.0f} | {mf:.0f} | {mf / kf:.2f} |")
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait()
        sh("ip", "link", "del", HOST_IF, check=False)
        sh("ip", "netns", "del", NS, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
