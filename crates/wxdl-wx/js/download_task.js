// The network APIs' tasks (wx.downloadFile, wx.request, wx.uploadFile) over one native start,
// `start(options, onEvent) -> {abort, want}` where onEvent(kind, value or its JSON text,
// extra?, bytes?) gets "progress", "headers", "chunk" (extra: the ArrayBuffer), then "success"
// (extra: the profile's JSON text; bytes: an arraybuffer request's data) or "fail", and
// want(events) tells the engine the task now listens to progress (1), headers (2) or chunk (8)
// events (it may skip building the others): callbacks, the tasks' listeners, the thenable
// rule (thenable only with the face's `promise` opt-in) and WeChat's header spelling. Shared by the JS host (`wxdl run`) and the Node package.
(function (root) {
  'use strict';
  // `api` is downloadFile, request or uploadFile.
  function makeNetworkApi(api, start, call, promise) {
    // Response headers arrive with lowercase names (HTTP/2 and HTTP/3 only have those; HTTP/1.1
    // names are case-insensitive). WeChat hands over the server's spelling, so Mini Program code
    // reads `res.header['Content-Type']`: lookups here ignore case, keys stay as they are.
    // One handler for every header object (a result costs one Proxy, not four closures).
    const caselessHandler = {
      get: (t, k) => (typeof k === 'string' && !(k in t) ? t[k.toLowerCase()] : t[k]),
      has: (t, k) => (k in t) || (typeof k === 'string' && k.toLowerCase() in t),
      getOwnPropertyDescriptor: (t, k) => Object.getOwnPropertyDescriptor(t, k)
        || (typeof k === 'string' ? Object.getOwnPropertyDescriptor(t, k.toLowerCase()) : undefined),
    };
    const caseless = (header) => new Proxy(header, caselessHandler);
    const withCaseless = (v) => {
      if (v && v.header && typeof v.header === 'object') v.header = caseless(v.header);
      return v;
    };

    // The profile comes as JSON text and becomes an object the first time it is read (then a
    // plain data property): most scripts never look at it, and building it costs. The text
    // waits beside the result (one accessor for every result, no closure per result).
    const profileJson = new WeakMap();
    const settle = (o, value) => Object.defineProperty(o, 'profile', {
      value, writable: true, enumerable: true, configurable: true,
    });
    const lazyProfile = {
      configurable: true,
      enumerable: true,
      get() {
        const json = profileJson.get(this);
        return json === undefined ? undefined : settle(this, JSON.parse(json)).profile;
      },
      set(x) { settle(this, x); },
    };
    const withProfile = (v, json) => {
      if (typeof json !== 'string') return v;
      profileJson.set(v, json);
      return Object.defineProperty(v, 'profile', lazyProfile);
    };

    // The task: methods on the prototype, state in private fields. As in WeChat, whose network
    // APIs have no Promise style, a task is never thenable by default: `await
    // wx.downloadFile({url})` yields the task, as on a phone. With `promise` (the face's
    // opt-in: `wxdl run --promise`, `createWx({promise: true})`) a call that passes none of
    // success/fail/complete gets a thenable task; with any callback it stays a plain task (so
    // `resolve(task)` and `return task` from an async function keep the task). The promise is
    // made only when a thenable task is used as one. One class for the three APIs; each
    // API's task type adds the listeners WeChat gives it (see TASKS below).
    class NetworkTask {
      #obj;
      #control = null;
      #ended = false;
      #listeners = null; // { progress: [], headers: [], chunk: [] } from the first listener
      #outcome = null; // [ok, result] once ended
      #promise = null;
      #settle = null;

      constructor(obj) { this.#obj = obj; }

      abort() { if (this.#control && !this.#ended) this.#control.abort(); }

      // `kind`'s listener list gets `fn`; the engine hears of the first one (`bit`).
      _on(kind, bit, fn) {
        if (typeof fn !== 'function') return;
        const listeners = this.#listeners || (this.#listeners = { progress: [], headers: [], chunk: [] });
        if (listeners[kind].push(fn) === 1 && this.#control) this.#control.want(bit);
      }
      _off(kind, fn) {
        const listeners = this.#listeners;
        if (listeners) listeners[kind] = fn ? listeners[kind].filter((f) => f !== fn) : [];
      }

      #thenable() {
        if (!this.#promise) {
          this.#promise = new Promise((res, rej) => { this.#settle = [res, rej]; });
          if (this.#outcome) this.#resolve();
        }
        return this.#promise;
      }

      #resolve() {
        const [ok, res] = this.#outcome;
        this.#settle[ok ? 0 : 1](res);
      }

      #finish(ok, res) {
        if (this.#ended) return;
        this.#ended = true;
        this.#outcome = [ok, res];
        const obj = this.#obj;
        if (ok) call(obj.success, res); else call(obj.fail, res);
        call(obj.complete, res);
        if (this.#promise) this.#resolve();
      }

      // `v` is the event's value, or its JSON text (parsed only when someone listens);
      // `extra` is the profile's JSON text for a success, or an ArrayBuffer (a chunk's data, a
      // request's arraybuffer `data`).
      #event(kind, v, extra, bytes) {
        const value = () => (typeof v === 'string' ? JSON.parse(v) : v);
        if (kind !== 'success' && kind !== 'fail') {
          const heard = this.#listeners && this.#listeners[kind];
          if (heard && heard.length) {
            let e = value();
            if (kind === 'headers') e = withCaseless(e);
            if (kind === 'chunk') e = { data: extra };
            heard.slice().forEach((f) => call(f, e));
          }
          return;
        }
        const res = value();
        if (kind === 'success') {
          if (bytes !== undefined) res.data = bytes;
          this.#finish(true, withProfile(withCaseless(res), extra));
        } else {
          this.#finish(false, res);
        }
      }

      static thenable(Base) {
        return class extends Base {
          then(a, b) { return this.#thenable().then(a, b); }
          catch(b) { return this.#thenable().catch(b); }
          finally(f) { return this.#thenable().finally(f); }
        };
      }

      // Starts the call; the engine parses and checks the options (WeChat's rules and
      // messages) and reports a bad one as the task's failure, after this call returns.
      static start(Task, Thenable, obj) {
        obj = (obj && typeof obj === 'object') ? obj : {};
        const callback = typeof obj.success === 'function' || typeof obj.fail === 'function'
          || typeof obj.complete === 'function';
        const task = callback ? new Task(obj) : new Thenable(obj);
        task.#control = start(obj, (kind, v, extra, bytes) => task.#event(kind, v, extra, bytes));
        return task;
      }
    }

    // WeChat's task types: DownloadTask (progress, headers), RequestTask (headers, chunks),
    // UploadTask (progress, headers). `want` bits: progress 1, headers 2, chunks 8.
    class DownloadTask extends NetworkTask {
      onProgressUpdate(fn) { this._on('progress', 1, fn); }
      offProgressUpdate(fn) { this._off('progress', fn); }
      onHeadersReceived(fn) { this._on('headers', 2, fn); }
      offHeadersReceived(fn) { this._off('headers', fn); }
    }
    class RequestTask extends NetworkTask {
      onHeadersReceived(fn) { this._on('headers', 2, fn); }
      offHeadersReceived(fn) { this._off('headers', fn); }
      onChunkReceived(fn) { this._on('chunk', 8, fn); }
      offChunkReceived(fn) { this._off('chunk', fn); }
    }
    class UploadTask extends NetworkTask {
      onProgressUpdate(fn) { this._on('progress', 1, fn); }
      offProgressUpdate(fn) { this._off('progress', fn); }
      onHeadersReceived(fn) { this._on('headers', 2, fn); }
      offHeadersReceived(fn) { this._off('headers', fn); }
    }
    const TASKS = { downloadFile: DownloadTask, request: RequestTask, uploadFile: UploadTask };
    const Task = TASKS[api];
    let Thenable = Task;
    if (promise) {
      Thenable = NetworkTask.thenable(Task);
      Object.defineProperty(Thenable, 'name', { value: Task.name });
    }
    return (obj) => NetworkTask.start(Task, Thenable, obj);
  }
  // `makeDownloadFile(start, call, promise)`; `.forApi(api, start, call, promise)` for
  // wx.request and wx.uploadFile.
  const makeDownloadFile = (start, call, promise) => makeNetworkApi('downloadFile', start, call, promise);
  makeDownloadFile.forApi = makeNetworkApi;
  if (typeof module === 'object' && module && module.exports) {
    module.exports = makeDownloadFile;
  } else {
    root.__wxdl_download_file = makeDownloadFile;
  }
})(globalThis);
