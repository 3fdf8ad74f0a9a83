// The wx.* surface and the JS runtime basics, written in JS over a few native primitives
// (`N`, provided by the host). Runs once before the user's script.
(function (N, makeFileSystemManager, makeDownloadFile, makeWxApis, makePages) {
  'use strict';
  const g = globalThis;

  // ---- console ---------------------------------------------------------------------------
  const show = (x) => {
    if (typeof x === 'string') return x;
    if (x instanceof Error) return x.stack ? `${x.name}: ${x.message}\n${x.stack}` : String(x);
    if (typeof x === 'function') return `[Function ${x.name || 'anonymous'}]`;
    if (typeof x === 'undefined') return 'undefined';
    try {
      const s = JSON.stringify(x);
      return s === undefined ? String(x) : s;
    } catch (e) {
      return String(x);
    }
  };
  const line = (args) => args.map(show).join(' ');
  g.console = {
    log: (...a) => N.print(0, line(a)),
    info: (...a) => N.print(0, line(a)),
    debug: (...a) => N.print(0, line(a)),
    warn: (...a) => N.print(1, line(a)),
    error: (...a) => N.print(1, line(a)),
  };

  // ---- timers ------------------------------------------------------------------------------
  const delay = (ms) => Math.max(0, Number(ms) || 0);
  g.setTimeout = (fn, ms, ...args) => N.setTimer(delay(ms), false, () => fn(...args));
  g.setInterval = (fn, ms, ...args) => N.setTimer(Math.max(1, delay(ms)), true, () => fn(...args));
  g.clearTimeout = (id) => N.clearTimer(id | 0);
  g.clearInterval = (id) => N.clearTimer(id | 0);
  g.queueMicrotask = (fn) => { Promise.resolve().then(fn); };

  const typeName = (v) => (v === null ? 'Null' : Array.isArray(v) ? 'Array'
    : (typeof v).charAt(0).toUpperCase() + (typeof v).slice(1));
  // A callback that throws is reported with its stack and the run goes on (as in WeChat):
  // `complete` still follows a `success` that threw.
  const call = (fn, arg) => {
    if (typeof fn !== 'function') return;
    try { fn(arg); } catch (e) { N.uncaught(e); }
  };

  // `wxdl run --promise`: tasks of calls without callbacks are thenable (WeChat's are not).
  const promise = g.__wxdl_promise === true;
  delete g.__wxdl_promise;

  // ---- the network calls: one start for wx.downloadFile, wx.request, wx.uploadFile ----------
  // `N.call(api, options, deliver)` starts the call (the wx layer's one entry) and gives its
  // id; every call's events come back through `deliver`, in order per call, the outcome last.
  const running = new Map();
  const deliver = (id, kind, v, extra, bytes) => {
    const onEvent = running.get(id);
    if (!onEvent) return;
    if (kind === 'success' || kind === 'fail') running.delete(id);
    onEvent(kind, v, extra, bytes);
  };
  const start = (api, obj, onEvent) => {
    const id = N.call(api, obj, deliver);
    running.set(id, onEvent);
    return { abort: () => N.abort(id), want: (events) => N.want(id, events) };
  };

  // ---- wx.downloadFile ---------------------------------------------------------------------
  const downloadFile = makeDownloadFile((obj, onEvent) => start('downloadFile', obj, onEvent),
    call, promise);

  // ---- wx.request, wx.uploadFile -----------------------------------------------------------
  // Bytes cross to the natives as base64: an ArrayBuffer (or a view of one) `data` goes as
  // {base64}; a chunk's and an arraybuffer response's bytes come back as base64 text.
  const asBuffer = (b64) => (typeof b64 === 'string' ? b64ToBuffer(b64) : b64);
  const viewBytes = (v) => v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength);
  const networkApi = (api) => makeDownloadFile.forApi(api, (obj, onEvent) => {
    let options = obj;
    const data = obj.data;
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      options = Object.assign({}, obj, {
        data: { base64: bufferToB64(data instanceof ArrayBuffer ? data : viewBytes(data)) },
      });
    }
    return start(api, options, (kind, v, extra, bytes) => onEvent(
      kind, v, kind === 'chunk' ? asBuffer(extra) : extra, asBuffer(bytes)));
  }, call, promise);
  const request = networkApi('request');
  const uploadFile = networkApi('uploadFile');

  // ---- wx.getFileSystemManager -------------------------------------------------------------
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function b64ToBuffer(s) {
    const clean = s.replace(/=+$/, '');
    const out = new Uint8Array(Math.floor(clean.length * 3 / 4));
    let bits = 0, acc = 0, j = 0;
    for (let i = 0; i < clean.length; i++) {
      acc = (acc << 6) | B64.indexOf(clean[i]);
      bits += 6;
      if (bits >= 8) { bits -= 8; out[j++] = (acc >> bits) & 0xff; }
    }
    return out.buffer;
  }
  function bufferToB64(buf) {
    const bytes = new Uint8Array(buf);
    let s = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63]
        + (i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=')
        + (i + 2 < bytes.length ? B64[n & 63] : '=');
    }
    return s;
  }
  const later = (f) => N.setTimer(0, false, f);
  const fsCall = makeFileSystemManager.overNative((op, text) => N.fs(op, text));
  const fileSystemManager = () => makeFileSystemManager(fsCall, later, {
    b64ToBuffer,
    bufferToB64,
    call,
  });

  // ---- the rest of wx ------------------------------------------------------------------------
  // Storage, saved files, documents, toasts/loading/modals, system info and the app lifecycle
  // listeners: the wx layer's, shared with the Node package.
  const shared = makeWxApis({
    fsCall,
    download: (o) => downloadFile(o),
    storage: (op, key, data) => JSON.parse(N.storage(op, key, data)),
    systemInfo: () => JSON.parse(N.systemInfo()),
    print: (level, text) => N.print(level, text),
  }, call, later);
  // ---- App, Page, getApp, getCurrentPages and navigation (pages.js) --------------------------
  const pages = makePages({
    project: JSON.parse(N.project()),
    load: (path) => load(path),
    resolvePage: (route) => N.resolvePage(route),
    print: (level, text) => N.print(level, text),
  }, call, later);
  Object.assign(g, pages.globals);
  g.__wxdl_boot = pages.boot;
  g.__wxdl_page = pages.start;
  // The app lifecycle: going to the background and back. In the background, a download still
  // running 5 s later fails with `interrupted`, and one started there fails at once (the host
  // enforces it). Scripts drive it with the documented hook `wxdl.hide()` / `wxdl.show()`;
  // `wxdl run --hide-at MS --show-at MS` schedules it.
  let hidden = false;
  const setHidden = (hide) => {
    if (hide === hidden) return;
    hidden = hide;
    N.lifecycle(hide);
    const res = { path: '', query: {}, scene: 1001 };
    shared.appLifecycle(hide, res);
    pages.lifecycle(hide, res);
  };
  g.__wxdl_lifecycle = setHidden;
  // `wxdl.serveOrigin`: the origin `wxdl run --serve DIR:PORT` serves (undefined without it).
  const serveOrigin = g.__wxdl_serve_origin;
  delete g.__wxdl_serve_origin;
  g.wxdl = Object.freeze({
    hide: () => setHidden(true),
    show: () => setHidden(false),
    // Moves between the project's pages as wx.navigateTo & co. do: `wxdl.navigate('navigateBack')`,
    // `wxdl.navigate('redirectTo', { url: '/pages/b/b?id=1' })`; a Promise of the result.
    navigate: (api, options) => pages.navigate(api, options),
    serveOrigin,
  });
  const netChange = [];
  let netWatched = false;
  const wx = {
    ...shared.apis,
    ...pages.wx,
    env: { USER_DATA_PATH: 'wxfile://usr' },
    downloadFile,
    request,
    uploadFile,
    getFileSystemManager: fileSystemManager,
    getNetworkType(obj) {
      const res = { errMsg: 'getNetworkType:ok', networkType: N.networkType() };
      N.setTimer(0, false, () => { call(obj && obj.success, res); call(obj && obj.complete, res); });
      return Promise.resolve(res);
    },
    onNetworkStatusChange: (fn) => {
      if (typeof fn !== 'function') return;
      // The first listener schedules the emulated timeline's changes (none on a real network).
      if (!netWatched) {
        netWatched = true;
        for (const [ms, networkType] of JSON.parse(N.networkChanges())) {
          N.setTimer(ms, false, () => {
            const res = { isConnected: networkType !== 'none', networkType };
            for (const f of netChange.slice()) call(f, res);
          });
        }
      }
      netChange.push(fn);
    },
    offNetworkStatusChange: (fn) => { const i = netChange.indexOf(fn); if (i >= 0) netChange.splice(i, 1); },
    canIUse: (name) => typeof name === 'string' && Object.prototype.hasOwnProperty.call(wxTarget, name.split('.')[0]),
    playVoice(obj) {
      obj = obj || {};
      let ok = true;
      let res;
      try {
        const info = JSON.parse(N.audioInfo(String(obj.filePath || '')));
        N.print(0, `playVoice: ${obj.filePath} format=${info.format} duration=${info.duration.toFixed(3)}s `
          + `sampleRate=${info.sampleRate} channels=${info.channels} (decoded; wxdl has no audio output)`);
        res = { errMsg: 'playVoice:ok', ...info };
      } catch (e) {
        ok = false;
        res = { errMsg: 'playVoice:fail ' + e.message };
      }
      N.setTimer(0, false, () => { call(ok ? obj.success : obj.fail, res); call(obj.complete, res); });
    },
    stopVoice() {},
    pauseVoice() {},
  };
  const wxTarget = wx;
  // As in WeChat: the APIs wxdl has are enumerable own properties of `wx`, and one it lacks is
  // absent (`typeof wx.x === 'undefined'`), so guards like `wx.x && wx.x()` behave.
  // Reading an API wxdl lacks is remembered until the turn ends: a `TypeError: not a function`
  // calling it is reported naming it ("wx.chooseImage is not provided by wxdl (headless)").
  let forgetting = false;
  const NOT_APIS = new Set(['then', 'toJSON', 'constructor', '__esModule', 'default', 'inspect']);
  g.wx = new Proxy(wx, {
    get(target, key, receiver) {
      if (typeof key === 'string' && !(key in target) && !NOT_APIS.has(key)) {
        N.missing(key);
        if (!forgetting) {
          forgetting = true;
          later(() => { forgetting = false; N.missing(''); });
        }
      }
      return Reflect.get(target, key, receiver);
    },
  });

  // ---- CommonJS modules ----------------------------------------------------------------------
  // As WeChat's build: `require` of an ES module (or one mixing `import`/`export` with
  // `require`/`module.exports`) gives its `module.exports` when it set one, else its namespace.
  const cache = Object.create(null);
  const record = (path) => {
    if (!cache[path]) cache[path] = { exports: {}, id: path, filename: path, loaded: false };
    return cache[path];
  };
  const dirOf = (path) => path.slice(0, path.lastIndexOf('/')) || '/';
  function load(path) {
    if (cache[path]) return cache[path].exports;
    const module = record(path);
    const source = N.readText(path);
    if (path.endsWith('.json')) {
      module.exports = JSON.parse(source);
    } else if (N.isEsm(path, source)) {
      const initial = module.exports;
      const namespace = N.importSync(path);
      const set = module.exports !== initial || Object.keys(initial).length > 0;
      module.exports = set ? module.exports : namespace;
    } else {
      const fn = N.compile(source, path);
      fn.call(module.exports, module.exports, makeRequire(path), module, path, dirOf(path));
    }
    module.loaded = true;
    return module.exports;
  }
  function makeRequire(file) {
    const require = (spec) => load(N.resolve(file, String(spec)));
    require.resolve = (spec) => N.resolve(file, String(spec));
    require.cache = cache;
    return require;
  }
  // The CommonJS names an ES module that uses them gets (wxdl-js's modules::with_commonjs).
  g.__wxdl_cjs = (path) => {
    const module = record(String(path));
    return { require: makeRequire(module.filename), module, exports: module.exports, __filename: module.filename, __dirname: dirOf(module.filename) };
  };
  g.__wxdl_load = load;

})(globalThis.__native, globalThis.__wxdl_fs_manager, globalThis.__wxdl_download_file, globalThis.__wxdl_wx_apis, globalThis.__wxdl_pages);
// The natives are the prelude's alone: scripts reach them only through the wx surface.
delete globalThis.__native;
delete globalThis.__wxdl_fs_manager;
delete globalThis.__wxdl_download_file;
delete globalThis.__wxdl_wx_apis;
delete globalThis.__wxdl_pages;
