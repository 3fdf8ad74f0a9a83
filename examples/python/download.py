"""wxdl from Python through ctypes: a download, an abort and a bad option.

    WXDL_LIB=target/release/libwxdl_c.so python3 examples/python/download.py ROOT URL SLOW_URL

Exits 0 when every call ended as expected.
"""
import ctypes
import json
import os
import sys
import threading

lib = ctypes.CDLL(os.environ.get("WXDL_LIB", "libwxdl_c.so"))
EVENT_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p)
lib.wxdl_engine_new.restype = ctypes.c_void_p
lib.wxdl_engine_new.argtypes = [ctypes.c_char_p, EVENT_CB, ctypes.c_void_p]
lib.wxdl_call.restype = ctypes.c_uint64
lib.wxdl_call.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
lib.wxdl_abort.restype = ctypes.c_int
lib.wxdl_abort.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
lib.wxdl_engine_free.restype = None
lib.wxdl_engine_free.argtypes = [ctypes.c_void_p]
lib.wxdl_last_error.restype = ctypes.c_char_p


class Wx:
    """One engine; `call` returns the outcome object once the call completes."""

    def __init__(self, config):
        self.done = threading.Condition()
        self.results = {}  # call id -> (kind, object) of its outcome
        self.on_headers = {}  # call id -> function run when its headers arrive
        self._cb = EVENT_CB(self._event)  # kept alive as long as the engine
        self.engine = lib.wxdl_engine_new(json.dumps(config).encode(), self._cb, None)
        if not self.engine:
            raise RuntimeError(lib.wxdl_last_error().decode())

    def _event(self, _user, call_id, kind, data):  # on an engine thread
        kind = kind.decode()
        obj = json.loads(data.decode())
        print(call_id, kind, json.dumps(obj)[:200])
        if kind == "headersReceived" and call_id in self.on_headers:
            self.on_headers[call_id]()
        with self.done:
            if kind in ("success", "fail"):
                self.results[call_id] = (kind, obj)
            self.done.notify_all()

    def start(self, api, options):
        return lib.wxdl_call(self.engine, api.encode(), json.dumps(options).encode())

    def wait(self, call_id, timeout=60):
        with self.done:
            self.done.wait_for(lambda: call_id in self.results, timeout)
            return self.results.get(call_id)

    def close(self):
        lib.wxdl_engine_free(self.engine)
        self.engine = None


def main():
    root, url, slow_url = sys.argv[1:4]
    wx = Wx({"root": root})
    ok = True

    kind, res = wx.wait(wx.start("downloadFile", {"url": url}))
    ok &= kind == "success" and res["errMsg"] == "downloadFile:ok"
    print("saved at", res.get("savedPath"))

    slow = 2  # the next id: abort it once its headers are in
    wx.on_headers[slow] = lambda: lib.wxdl_abort(wx.engine, slow)
    assert wx.start("downloadFile", {"url": slow_url}) == slow
    kind, res = wx.wait(slow)
    ok &= res == {"errMsg": "downloadFile:fail abort", "errno": 603105}

    kind, res = wx.wait(wx.start("downloadFile", {"url": 42}))
    ok &= kind == "fail" and res["errno"] == 600009

    # wx.request through the same call: any status is a success, the body as text here.
    kind, res = wx.wait(wx.start("request", {"url": url, "dataType": "text"}))
    ok &= kind == "success" and res["errMsg"] == "request:ok" and res["statusCode"] == 200
    print("request:", res["statusCode"], len(res["data"]), "chars")

    wx.close()
    print("done:", "ok" if ok else "NOT ok")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
