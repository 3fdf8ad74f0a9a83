#!/usr/bin/env python3
"""wxdl's rate emulation against the kernel's token bucket (`tc tbf`), for kernels without netem.

For each preset's download rate (docs/network.md) and each size, one download from nginx:
  - tbf: wxdl runs in a network namespace made for this, joined to the host by a veth pair
    whose host end is shaped by `tbf rate R` (the download direction), no added delay;
  - emulated: wxdl runs on the host against the same nginx on 127.0.0.1 with `--down R`.
Total time (fetchStart to responseEnd) comes from wxdl's own profile in both; the target is
agreement within 10 %. tbf cannot delay, so for the presets' round trip the emulated time of
`--network PRESET` is put beside the analytic model instead: 2 round trips (connect, request)
+ size / rate. Needs root, `ip`, `tc` (sch_tbf) and nginx; otherwise prints why it is skipped
and exits 0. Cleans up the namespace and nginx.

    python3 bench/tbf.py                                  # 1 MiB and 10 MiB at 4g, 3g; 1 MiB slow-2g (~25 min)
    python3 bench/tbf.py --sizes 262144 --presets 4g,3g   # the bounded run of scripts/heavy.sh
"""

import argparse
import json
import sys

from nsnet import WXDL, Link, require_root_tools, sh, skip

# name: (down kbit/s, round trip ms) - the presets of docs/network.md.
PRESETS = {"wifi": (30000, 30), "4g": (1600, 125), "3g": (400, 400), "2g": (75, 1500),
           "slow-2g": (40, 3000)}


def total_ms(out: str, what: str) -> float:
    v = json.loads(out.strip().splitlines()[-1])
    if v.get("errMsg") != "downloadFile:ok":
        sys.exit(f"tbf: {what} failed: {v}")
    p = v["profile"]
    return p["responseEnd"] - p["fetchStart"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default=f"{1 << 20},{10 << 20}")
    ap.add_argument("--presets", default="4g,3g,slow-2g")
    ap.add_argument("--max-seconds", type=float, default=400.0,
                    help="skip a row whose size / rate alone would take longer")
    args = ap.parse_args()
    require_root_tools()
    sizes = [int(s) for s in args.sizes.split(",")]
    with Link(files={f"{s}.bin": s for s in sizes}) as link:
        probe = link.qdisc_down("tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms",
                                check=False)
        if probe.returncode != 0:
            skip(f"this kernel has no tbf qdisc (sch_tbf): {probe.stderr.strip()}")
        common = ["get", "-q", "--json", "-o", "/dev/null", "--timeout", "3600000",
                  "--data-dir", link.data_dir()]
        rows = []
        for name in args.presets.split(","):
            down, rtt = PRESETS[name]
            for size in sizes:
                ideal = size * 8 / (down * 1000)
                if ideal > args.max_seconds:
                    print(f"tbf: {name} {size} B skipped: {ideal:.0f} s > --max-seconds",
                          file=sys.stderr)
                    continue
                # A bucket of at least 2 full frames and one timer tick (HZ ≤ 1000) of tokens,
                # and a queue deep enough that TCP is limited by the rate, not by drops.
                burst = max(3200, down * 1000 // 8 // 100)
                link.qdisc_down("tbf", "rate", f"{down}kbit", "burst", str(burst),
                                "latency", "2s")
                kernel = link.in_ns(WXDL, *common, link.url(f"{size}.bin"), check=False)
                if kernel.returncode != 0:
                    sys.exit(f"tbf: {name} through tbf failed: {kernel.stdout} {kernel.stderr}")
                link.clear()
                local = link.url(f"{size}.bin", through_link=False)
                model = sh(WXDL, *common, "--down", str(down), local, check=False)
                if model.returncode != 0:
                    sys.exit(f"tbf: {name} --down failed: {model.stdout} {model.stderr}")
                preset = sh(WXDL, *common, "--network", name, local, check=False)
                if preset.returncode != 0:
                    sys.exit(f"tbf: {name} --network failed: {preset.stdout} {preset.stderr}")
                kt = total_ms(kernel.stdout, "tbf")
                mt = total_ms(model.stdout, "--down")
                pt = total_ms(preset.stdout, "--network")
                analytic = 2 * rtt + ideal * 1000
                rows.append((name, down, size, kt, mt, pt, analytic))
                print(f"tbf: {name} {size} B: tbf {kt:.0f} ms, --down {mt:.0f} ms "
                      f"({mt / kt:.3f}), --network {pt:.0f} ms vs model {analytic:.0f} ms",
                      file=sys.stderr)
        print("### wxdl's rate emulation against the kernel's tbf (HTTP/1.1, no added delay)\n")
        print("| preset | rate kbit/s | bytes | tbf ms | --down ms | ratio | --network ms "
              "| model ms (2 RTT + size/rate) | ratio |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, down, size, kt, mt, pt, analytic in rows:
            print(f"| {name} | {down} | {size} | {kt:.0f} | {mt:.0f} | {mt / kt:.3f} | {pt:.0f} "
                  f"| {analytic:.0f} | {pt / analytic:.3f} |")


if __name__ == "__main__":
    main()
