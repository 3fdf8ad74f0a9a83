#!/usr/bin/env python3
"""A big upload keeps memory flat: `wxdl upload` of a SIZE-byte file (default 1 GiB, sparse, so
it costs no disk) to wxdl-sink, which reads every byte before it answers `{"len": N}`. Fails
unless the upload succeeds, the sink took the whole multipart body (more than SIZE bytes) and
wxdl's peak RSS stays under LIMIT MiB (default 64): the body is streamed, never held.

    python3 bench/upload_rss.py [--size BYTES] [--limit MIB]

Needs the release builds of `wxdl` and `wxdl-sink` (bench/run.sh builds both).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: the binaries, the sink)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1 << 30)
    ap.add_argument("--limit", type=float, default=64.0, help="peak RSS bound, MiB")
    args = ap.parse_args()
    for binary in (run.WXDL, run.SINK):
        if not binary.exists():
            sys.exit(f"upload_rss: build {binary.name} first (cargo build --release)")
    with tempfile.TemporaryDirectory(prefix="wxdl-upload-rss-") as tmp:
        work = Path(tmp)
        big = work / "big.bin"
        with open(big, "wb") as f:
            f.truncate(args.size)
        sink, port = run.start_sink()
        try:
            rss = work / "rss.txt"
            out = subprocess.run(
                ["/usr/bin/time", "-f", "%M", "-o", str(rss), str(run.WXDL), "upload", "-q",
                 "--data-dir", str(work / "data"), str(big), f"http://127.0.0.1:{port}/up"],
                capture_output=True, text=True, timeout=600)
        finally:
            sink.terminate()
            sink.wait()
        if out.returncode != 0:
            sys.exit(f"upload_rss: wxdl upload failed ({out.returncode}): {out.stderr.strip()}")
        taken = json.loads(out.stdout)["len"]
        peak = int(rss.read_text().split()[-1]) / 1024
        print(f"upload of {args.size} bytes: the sink took {taken} bytes (multipart), "
              f"wxdl's peak RSS {peak:.1f} MiB (bound {args.limit:.0f} MiB)")
        if taken <= args.size:
            sys.exit("upload_rss: the sink took less than the file")
        if peak > args.limit:
            sys.exit("upload_rss: RSS grew with the body")


if __name__ == "__main__":
    main()
