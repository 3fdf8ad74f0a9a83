'use strict';
// The real wx.downloadFile in Node: the wxdl engine (a native addon) under a WeChat Mini
// Program `wx` surface. The download task and the file system manager are the same JavaScript
// the wxdl JS host runs; options, checks, results, errMsg/errno and the profile are the
// engine's.
//
//   const { createWx } = require('wxdl');
//   const wx = createWx({ root: '/tmp/my-sandbox' });
//   wx.downloadFile({ url, success: (res) => console.log(res.tempFilePath) });

const fs = require('fs');
const os = require('os');
const path = require('path');
// Node's own timers: a test environment (jsdom under Jest) may lack setImmediate or fake it.
const timers = require('timers');
const native = require('./wxdl.node');
const makeDownloadFile = require('./download_task.js');
const makeFileSystemManager = require('./fs_manager.js');
const makeWxApis = require('./wx_apis.js');
const makePages = require('./pages.js');

// A callback's exception must not cost the other events of its batch: it is thrown again on
// its own, where Node surfaces any uncaught exception.
const rethrow = (e) => process.nextTick(() => { throw e; });

// A callback that throws surfaces as Node surfaces any uncaught exception, after the callbacks
// that follow it ran: `complete` still follows a `success` that threw (as in WeChat).
const call = (fn, arg) => {
  if (typeof fn !== 'function') return;
  try {
    fn(arg);
  } catch (e) {
    rethrow(e);
  }
};
const later = (f) => timers.setImmediate(f);
// What the shared JS prints (toasts, setData lines): level 0 to stdout, 1 to stderr.
const print = (level, text) => (level === 0 ? process.stdout : process.stderr).write(`${text}\n`);

const codec = {
  b64ToBuffer: (s) => {
    const b = Buffer.from(s, 'base64');
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
  },
  bufferToB64: (ab) => Buffer.from(ab).toString('base64'),
  call,
};

// The options as data for the engine (callbacks stay here): JSON text, what JSON can say, as
// the engine parses every face's options from a JavaScript-style object.
function plain(obj) {
  try {
    return JSON.stringify(obj, (k, v) => (typeof v === 'function' ? undefined : v)) || '{}';
  } catch (e) {
    return JSON.stringify({ url: typeof obj.url === 'string' ? obj.url : undefined });
  }
}

/**
 * A `wx` object over its own engine and sandbox.
 * @param {import('./index').WxConfig} [config]
 */
function createWx(config = {}) {
  return makeWx(config, null);
}

// createWx's `wx`; with `project` ({ root, app: app.json's content }) also the project's App,
// pages and navigation (the JS host's pages.js), that instance handed back as `out.pages`.
function makeWx(config, project, out) {
  // A root made here is this process's alone: removed when it exits (by the engine, at the C
  // library's exit, which Jest's per-file copy of `process` cannot stop from happening).
  const root = config.root || fs.mkdtempSync(path.join(os.tmpdir(), 'wxdl-'));
  const engine = new native.Engine({ ...config, root, removeRootAtExit: !config.root });
  // The engine's file operations: a failure throws WeChat's text after `<op>:fail ` with its
  // FileError errCode.
  const fsCall = makeFileSystemManager.overNative((op, text) => engine.fs(op, text));
  // Every call's events arrive in batches, `[id, kind, json, profile, …]`, in order per call,
  // the outcome last. The engine keeps Node alive while any call runs.
  const running = new Map();
  // Calls started in this turn of the event loop: until it ends a listener may still be
  // added, so they send every event; then only what their tasks listen to (`want`).
  let unsettled = [];
  const settle = () => {
    const ids = unsettled;
    unsettled = [];
    engine.settle(ids);
  };
  engine.listen((batch) => {
    for (let i = 0; i < batch.length; i += 4) {
      const id = batch[i];
      const kind = batch[i + 1];
      const onEvent = running.get(id);
      if (!onEvent) continue;
      if (kind === 'success' || kind === 'fail') running.delete(id);
      try {
        onEvent(kind, batch[i + 2], batch[i + 3]);
      } catch (e) {
        rethrow(e);
      }
    }
    if (running.size === 0) engine.hold(false);
  });
  // One start for the three network APIs, the wx layer's one entry: `engine.call(api,
  // optionsJson)` begins the call and gives its id; its events reach `onEvent` in order, the
  // outcome last (never within this turn, so the id is registered before any arrives).
  const start = (api, options, onEvent) => {
    if (running.size === 0) engine.hold(true);
    const id = engine.call(api, options);
    running.set(id, onEvent);
    if (unsettled.push(id) === 1) timers.setImmediate(settle);
    return { abort: () => engine.abort(id), want: (events) => engine.want(id, events) };
  };
  // `promise: true` (wxdl's opt-in): tasks of calls without callbacks are thenable.
  const promise = config.promise === true;
  const downloadFile = makeDownloadFile(
    (obj, onEvent) => start('downloadFile', plain(obj), onEvent), call, promise);
  // wx.request and wx.uploadFile: bytes cross as base64 (`{base64}`), an ArrayBuffer (or a
  // view, a Buffer) `data` on the way out, a chunk and an arraybuffer `data` on the way back.
  const toBuffer = (b64) => {
    const b = Buffer.from(b64, 'base64');
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  };
  const networkApi = (api) => makeDownloadFile.forApi(api, (obj, onEvent) => {
    let options = obj;
    const data = obj.data;
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      const bytes = data instanceof ArrayBuffer ? Buffer.from(data)
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      options = { ...obj, data: { base64: bytes.toString('base64') } };
    }
    const arraybuffer = obj.responseType === 'arraybuffer';
    return start(api, plain(options), (kind, json, profile) => {
      if (kind === 'chunk') return onEvent(kind, null, toBuffer(JSON.parse(json).data.base64));
      if (kind === 'success' && arraybuffer) {
        const res = JSON.parse(json);
        const bytes = toBuffer(res.data.base64);
        delete res.data;
        return onEvent(kind, res, profile, bytes);
      }
      return onEvent(kind, json, profile);
    });
  }, call, promise);
  const request = networkApi('request');
  const uploadFile = networkApi('uploadFile');
  // Storage, saved files, documents, toasts/loading/modals (printed), system info and the app
  // lifecycle listeners: the wx layer's, the same as the JS host's.
  const shared = makeWxApis({
    fsCall,
    download: (o) => downloadFile(o),
    storage: (op, key, data) => {
      try {
        return JSON.parse(engine.storage(op, key, data));
      } catch (e) {
        throw new Error(e.message);
      }
    },
    systemInfo: () => engine.systemInfo(),
    print,
  }, call, later);
  // The project's App, pages and navigation (loadApp): the JS host's pages.js over Node's
  // require, confined to the project.
  const pages = project && makePages({
    project,
    load: (file) => {
      // A fresh run of the file for this app (another loadApp may have run it before).
      delete require.cache[file];
      return require(file);
    },
    resolvePage: (route) => {
      const file = path.resolve(project.root, `${route}.js`);
      if (!file.startsWith(project.root + path.sep) || !fs.existsSync(file)) {
        throw new Error(`page "${route}" is not found`);
      }
      return file;
    },
    print,
  }, call, later);
  let hidden = false;
  const setHidden = (hide) => {
    if (hide === hidden) return;
    hidden = hide;
    const res = { path: '', query: {}, scene: 1001 };
    shared.appLifecycle(hide, res);
    if (pages) pages.lifecycle(hide, res);
  };
  const netChange = [];
  let netWatched = false;
  const wx = {
    ...shared.apis,
    ...(pages ? pages.wx : {}),
    env: { USER_DATA_PATH: 'wxfile://usr' },
    downloadFile,
    request,
    uploadFile,
    getFileSystemManager: () => makeFileSystemManager(fsCall, later, codec),
    getNetworkType(obj = {}) {
      const res = { errMsg: 'getNetworkType:ok', networkType: engine.networkType() };
      later(() => { call(obj.success, res); call(obj.complete, res); });
      return Promise.resolve(res);
    },
    onNetworkStatusChange(fn) {
      if (typeof fn !== 'function') return;
      // The first listener schedules the emulated timeline's changes (a real network is not
      // watched); the timers do not keep Node alive.
      if (!netWatched) {
        netWatched = true;
        for (const [ms, networkType] of engine.networkChanges()) {
          setTimeout(() => {
            const res = { isConnected: networkType !== 'none', networkType };
            for (const f of netChange.slice()) call(f, res);
          }, ms).unref();
        }
      }
      netChange.push(fn);
    },
    offNetworkStatusChange(fn) {
      const i = netChange.indexOf(fn);
      if (i >= 0) netChange.splice(i, 1);
    },
    // Whether this `wx` has the API (the part before the first dot), as WeChat answers.
    canIUse: (name) => typeof name === 'string' && Object.hasOwn(wx, name.split('.')[0]),
  };
  Object.defineProperty(wx, 'wxdl', {
    value: Object.freeze({
      /** Where a `wxfile://` path is on this machine. */
      hostPath: (p) => engine.hostPath(p),
      /** The sandbox's root directory. */
      root: engine.root(),
      /** The app goes to the background: `wx.onAppHide` listeners run. */
      hide: () => setHidden(true),
      /** The app comes back: `wx.onAppShow` listeners run. */
      show: () => setHidden(false),
    }),
  });
  if (out) out.pages = pages;
  return wx;
}

/**
 * Runs a Mini Program project as WeChat launches it: `app.js` (`App({...})`), the entry (the
 * first page of `app.json`, or `options.entry`: a route or a script of the project), then
 * `onLaunch`/`onShow` and the entry page's `onLoad(query)` → `onShow` → `onReady`. Page files
 * see `App`, `Page`, `getApp`, `getCurrentPages` and `wx` as globals, as in WeChat.
 * @param {string} projectDir
 * @param {import('./index').LoadAppOptions} [options]
 * @returns {Promise<import('./index').LoadedApp>}
 */
async function loadApp(projectDir, options = {}) {
  const root = fs.realpathSync(path.resolve(projectDir));
  const read = (name) => {
    const file = path.join(root, name);
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : null;
  };
  const appJson = read('app.json');
  if (!appJson) throw new Error(`loadApp: no app.json in ${root}`);
  const projectConfig = read('project.config.json') || {};
  const { entry, query, ...config } = options;
  if (config.appid === undefined && typeof projectConfig.appid === 'string') config.appid = projectConfig.appid;
  const out = {};
  const wx = makeWx(config, { root, app: appJson }, out);
  const { pages } = out;
  Object.assign(globalThis, pages.globals, { wx });
  const first = appJson.entryPagePath || (Array.isArray(appJson.pages) ? appJson.pages[0] : undefined);
  const entryName = String(entry || first || '').replace(/^\/+/, '');
  if (!entryName) throw new Error('loadApp: app.json has no pages (give options.entry)');
  const entryFile = path.resolve(root, /\.(js|cjs)$/.test(entryName) ? entryName : `${entryName}.js`);
  if (!entryFile.startsWith(root + path.sep) || !fs.existsSync(entryFile)) {
    throw new Error(`loadApp: the entry ${entryName} is not a file of the project`);
  }
  // As the JS host runs its entry script: app.js first, the entry, then the launch.
  pages.boot(entryFile);
  delete require.cache[entryFile];
  require(entryFile);
  pages.start(typeof query === 'string' ? query : new URLSearchParams(query || {}).toString());
  return {
    wx,
    getApp: pages.globals.getApp,
    getCurrentPages: pages.globals.getCurrentPages,
    /** Moves as wx[api] does (navigateTo, redirectTo, navigateBack, reLaunch, switchTab): a Promise of the result. */
    navigate: (api, opts) => pages.navigate(api, opts),
  };
}

let shared = null;
/** `wx.downloadFile` on a default instance (its sandbox in the system's temp directory). */
function downloadFile(obj) {
  if (!shared) shared = createWx();
  return shared.downloadFile(obj);
}

module.exports = { createWx, downloadFile, loadApp };
