#!/usr/bin/env python3
"""A/B of two wxdl builds on the workloads a restructuring must not slow down: W1 (one big file
over HTTP/1.1), W3 (many small files, 10 at a time), W5 (the same through the JS host) and W9
(the same through the Node package), the two builds alternating within each round against the
same nginx, every output verified, one markdown table with B / A by medians.

    python3 bench/ab.py --a /path/to/old/checkout --b . [--rounds 5] [--quick] [--dir /dev/shm]

Each checkout needs its release CLI (`cargo build --release -p wxdl-cli --bin wxdl`) and, for
W9, its Node package (`bash scripts/build-node.sh`). The scripts use callbacks only, so they
run unchanged on builds from before and after tasks stopped being thenable by default.
"""

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: servers, data, measuring)


def w5_script(urls):
    return (
        "const urls = " + repr(urls).replace("'", '"') + ";\n"
        "for (const url of urls) {\n"
        "  wx.downloadFile({ url, filePath: wx.env.USER_DATA_PATH + '/' + url.slice(url.lastIndexOf('/') + 1),\n"
        "    success(r) { if (r.statusCode !== 200) throw new Error('bad status'); },\n"
        "    fail(e) { throw new Error(e.errMsg); } });\n"
        "}\n"
    )


def w9_script(pkg: Path, urls):
    return (
        f"const {{ createWx }} = require({str(pkg)!r});\n"
        "const wx = createWx({ root: process.argv[2] });\n" + w5_script(urls)
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, type=Path, help="the baseline checkout")
    ap.add_argument("--b", required=True, type=Path, help="the checkout under test")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="20 MiB and 200 files")
    ap.add_argument("--dir", type=Path, default=None,
                    help="where the data and outputs go (default: the system's temp dir); "
                    "/dev/shm takes the disk's state (ext4's scans after deletions) out of the "
                    "comparison of two builds' code")
    args = ap.parse_args()
    run.need(["nginx", "node", "/usr/bin/time"])
    builds = {}
    for tag, root in (("A", args.a.resolve()), ("B", args.b.resolve())):
        cli = root / "target" / "release" / "wxdl"
        pkg = root / "crates" / "wxdl-node" / "npm"
        if not cli.exists() or not (pkg / "wxdl.node").exists():
            sys.exit(f"ab: build {root} first (release CLI and scripts/build-node.sh)")
        builds[tag] = (cli, pkg)
    big_mib, small_n = (20, 200) if args.quick else (200, 1000)
    work = Path(tempfile.mkdtemp(prefix="wxdl-ab-", dir=args.dir))
    work.chmod(0o755)  # nginx's workers read the data as another user
    try:
        www = work / "www"
        run.make_data(www, big_mib, small_n)
        big_size, big_sha = big_mib << 20, run.sha256(www / "big.bin")
        small_sha = {p.name: run.sha256(p) for p in (www / "small").iterdir()}
        http_port, https_port = run.free_port(), run.free_port()
        run.make_ca(work)
        nginx = run.start_nginx(work, www, http_port, https_port)
        try:
            bench = run.Bench(args.rounds, work)
            bench.servers = [nginx.pid]
            h1 = f"http://127.0.0.1:{http_port}/big.bin"
            urls = [f"http://127.0.0.1:{http_port}/small/{n}" for n in sorted(small_sha)]
            lst = work / "urls.txt"
            lst.write_text("\n".join(urls) + "\n")

            def verify_big(d: Path, label):
                f = d / "big.bin"
                if f.stat().st_size != big_size or run.sha256(f) != big_sha:
                    sys.exit(f"ab: {label} wrote a wrong big.bin")

            def verify_small(d: Path, label):
                usr = d / "root" / "usr"
                d = usr if usr.exists() else d
                got = {p.name: p for p in d.iterdir()}
                if got.keys() != small_sha.keys() or any(
                        run.sha256(got[n]) != s for n, s in small_sha.items()):
                    sys.exit(f"ab: {label} wrote the wrong small files")

            data = {tag: work / f"data-{tag}" for tag in builds}
            get = {tag: [str(cli), "get", "-q", "--data-dir", str(data[tag])]
                   for tag, (cli, _) in builds.items()}
            js = work / "w5.js"
            js.write_text(w5_script(urls))
            w9 = {tag: work / f"w9-{tag}.js" for tag in builds}
            for tag, (_, pkg) in builds.items():
                w9[tag].write_text(w9_script(pkg, urls))

            names = {
                "W1": f"W1 {big_mib} MiB HTTP/1.1",
                "W3": f"W3 {small_n} x 16 KiB HTTP/1.1 -j 10",
                "W5": f"W5 {small_n} x 16 KiB via the JS host",
                "W9": f"W9 {small_n} x 16 KiB via Node",
            }
            bench.workload(names["W1"], {
                tag: (lambda d, t=tag: get[t] + [h1, "-o", str(d / "big.bin")]) for tag in builds
            }, verify_big)
            bench.workload(names["W3"], {
                tag: (lambda d, t=tag: get[t] + ["-i", str(lst), "-j", "10", "-d", str(d)])
                for tag in builds
            }, verify_small, keep_outputs=True)
            bench.workload(names["W5"], {
                tag: (lambda d, t=tag: [str(builds[t][0]), "run", str(js), "--data-dir",
                                        str(data[t]), "--root", str(d / "root")])
                for tag in builds
            }, verify_small, keep_outputs=True)
            bench.workload(names["W9"], {
                tag: (lambda d, t=tag: run.NODE + [str(w9[t]), str(d / "root")]) for tag in builds
            }, verify_small, keep_outputs=True)
            print(f"A = {args.a}, B = {args.b}; {args.rounds} rounds (twice that for the small "
                  "files), the builds alternating; medians.\n")
            print("| workload | A median s | B median s | B / A | A CPU s | B CPU s | A RSS MiB | B RSS MiB |")
            print("|---|---|---|---|---|---|---|---|")
            for name in names.values():
                a, b = bench.rows[(name, "A")], bench.rows[(name, "B")]
                med = lambda runs, i: statistics.median(r[i] for r in runs)  # noqa: E731
                print(f"| {name} | {med(a, 0):.3f} | {med(b, 0):.3f} | {med(b, 0) / med(a, 0):.2f} "
                      f"| {med(a, 2):.3f} | {med(b, 2):.3f} | {max(r[1] for r in a) / 1024:.1f} "
                      f"| {max(r[1] for r in b) / 1024:.1f} |")
        finally:
            nginx.terminate()
            nginx.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
