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
import sys

from nsnet import WXDL, Link, require_root_tools, sh, skip

# name: (down kbit/s, up kbit/s, round trip ms) - the presets of docs/network.md.
PRESETS = {
    "wifi": (30000, 15000, 30),
    "4g": (1600, 800, 125),
    "3g": (400, 200, 400),
    "2g": (75, 32, 1500),
    "slow-2g": (40, 20, 3000),
}


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
    require_root_tools()
    with Link(files={"f.bin": args.size}) as link:
        probe = link.qdisc_down("netem", "delay", "1ms", check=False)
        if probe.returncode != 0:
            skip(f"this kernel has no netem qdisc (sch_netem): {probe.stderr.strip()}")
        common = ["get", "-q", "--json", "-o", "/dev/null", "--data-dir", link.data_dir()]
        rows = []
        for name in args.presets.split(","):
            down, up, rtt = PRESETS[name]
            half = f"{rtt / 2}ms"
            link.qdisc_down("netem", "delay", half, "rate", f"{down}kbit", "limit", "100000")
            link.qdisc_up("netem", "delay", half, "rate", f"{up}kbit", "limit", "100000")
            kernel = link.in_ns(WXDL, *common, link.url("f.bin"), check=False)
            if kernel.returncode != 0:
                sys.exit(f"netem: {name} through netem failed: {kernel.stdout} {kernel.stderr}")
            model = sh(WXDL, *common, "--network", name, link.url("f.bin", through_link=False),
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


if __name__ == "__main__":
    main()
