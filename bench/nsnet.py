"""A network namespace joined to the host by a veth pair, with nginx serving files on both sides
of it: what bench/netem.py and bench/tbf.py shape with the kernel's qdiscs. Only addresses of
the pair made here (a 10.211.x.0/24) and 127.0.0.1 are used; everything is removed on exit.

    with Link(files={"f.bin": 1 << 20}) as link:
        link.qdisc_down("tbf", "rate", "400kbit", ...)   # host -> namespace: the download side
        link.run_in_ns([wxdl, "get", link.url("f.bin")])
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WXDL = ROOT / "target" / "release" / "wxdl"


def sh(*args, check=True):
    return subprocess.run([str(a) for a in args], check=check, capture_output=True, text=True)


def skip(why):
    print(f"skipped: {why}")
    sys.exit(0)


def require_root_tools():
    """Exits 0 with the reason when this machine cannot shape a link (not root, no ip/tc/nginx),
    and 1 when wxdl is not built."""
    if os.geteuid() != 0:
        skip("needs root (network namespaces and tc)")
    for tool in ("ip", "tc", "nginx"):
        if shutil.which(tool) is None:
            skip(f"{tool} is not installed")
    if not WXDL.exists():
        sys.exit(f"build wxdl first: cargo build --release (missing {WXDL})")


class Link:
    """The namespace, the veth pair and nginx; `files` maps names to sizes of random data."""

    def __init__(self, files):
        pid = os.getpid()
        self.ns = f"wxdl-net-{pid}"
        self.host_if, self.ns_if = f"wxh{pid % 10000}", f"wxn{pid % 10000}"
        # A /24 of its own per run, so that two runs at once never share an address.
        self.host_ip, self.ns_ip = f"10.211.{pid % 250}.1", f"10.211.{pid % 250}.2"
        self.port = 18080 + pid % 1000
        self.files = files
        self.work = None
        self.nginx = None

    def __enter__(self):
        self.work = Path(tempfile.mkdtemp(prefix="wxdl-net-"))
        try:
            sh("ip", "netns", "add", self.ns)
        except subprocess.CalledProcessError as e:
            shutil.rmtree(self.work, ignore_errors=True)
            skip(f"cannot make a network namespace: {e.stderr.strip()}")
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        sh("ip", "link", "set", self.ns_if, "netns", self.ns)
        sh("ip", "addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        self.in_ns("ip", "addr", "add", f"{self.ns_ip}/24", "dev", self.ns_if)
        self.in_ns("ip", "link", "set", self.ns_if, "up")
        self.in_ns("ip", "link", "set", "lo", "up")
        www = self.work / "www"
        www.mkdir()
        for name, size in self.files.items():
            (www / name).write_bytes(os.urandom(size))
        w = self.work
        conf = w / "nginx.conf"
        conf.write_text(f"""
daemon off; master_process off; worker_processes 1; pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off; sendfile on; default_type application/octet-stream;
  client_body_temp_path {w}/cb; proxy_temp_path {w}/pt; fastcgi_temp_path {w}/ft;
  uwsgi_temp_path {w}/ut; scgi_temp_path {w}/st;
  server {{ listen {self.host_ip}:{self.port}; listen 127.0.0.1:{self.port}; root {www}; }}
}}
""")
        self.nginx = subprocess.Popen(["nginx", "-p", str(w), "-c", str(conf)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        if self.nginx is not None:
            self.nginx.terminate()
            self.nginx.wait()
        sh("ip", "link", "del", self.host_if, check=False)
        sh("ip", "netns", "del", self.ns, check=False)
        shutil.rmtree(self.work, ignore_errors=True)
        return False

    def in_ns(self, *args, check=True):
        return sh("ip", "netns", "exec", self.ns, *args, check=check)

    def qdisc_down(self, *spec, check=True):
        """The qdisc on the download direction (host -> namespace)."""
        return sh("tc", "qdisc", "replace", "dev", self.host_if, "root", *spec, check=check)

    def qdisc_up(self, *spec, check=True):
        """The qdisc on the upload direction (namespace -> host)."""
        return self.in_ns("tc", "qdisc", "replace", "dev", self.ns_if, "root", *spec,
                          check=check)

    def clear(self):
        sh("tc", "qdisc", "del", "dev", self.host_if, "root", check=False)
        self.in_ns("tc", "qdisc", "del", "dev", self.ns_if, "root", check=False)

    def url(self, name, through_link=True):
        """A file's URL: across the shaped pair (for a client in the namespace), or on
        127.0.0.1 (for a client on the host that emulates the link itself)."""
        host = self.host_ip if through_link else "127.0.0.1"
        return f"http://{host}:{self.port}/{name}"

    def data_dir(self):
        return self.work / "data"
