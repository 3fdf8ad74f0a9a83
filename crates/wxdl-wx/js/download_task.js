// wx.downloadFile's task over one native start, `start(options, onEvent) -> {abort, want}`
// where onEvent(kind, value or its JSON text, profileJson?) gets "progress", "headers", then
// "success" or "fail", and want(events) tells the engine the task now listens to progress (1)
// or headers (2) events (it may skip building the others): callbacks, the DownloadTask's
// listeners, the thenable rule and WeChat's header spelling. Shared by the JS host
// (`wxdl run`) and the Node package.
(function (root) {
  'use strict';
  function makeDownloadFile(start, call) {
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

    // The task: methods on the prototype, state in private fields. A call that passes none of
    // success/fail/complete gets a thenable task (`await wx.downloadFile({url})`); with any
    // callback it is a plain DownloadTask, as in WeChat, whose downloadFile has no Promise style
    // (so `resolve(task)` and `return task` from an async function keep the task). The promise
    // is made only when a thenable task is used as one.
    class DownloadTask {
      #obj;
      #control = null;
      #ended = false;
      #progress = [];
      #headers = [];
      #outcome = null; // [ok, result] once ended
      #promise = null;
      #settle = null;

      constructor(obj) { this.#obj = obj; }

      abort() { if (this.#control && !this.#ended) this.#control.abort(); }
      onProgressUpdate(fn) {
        if (typeof fn !== 'function') return;
        if (this.#progress.push(fn) === 1 && this.#control) this.#control.want(1);
      }
      offProgressUpdate(fn) { this.#progress = fn ? this.#progress.filter((f) => f !== fn) : []; }
      onHeadersReceived(fn) {
        if (typeof fn !== 'function') return;
        if (this.#headers.push(fn) === 1 && this.#control) this.#control.want(2);
      }
      offHeadersReceived(fn) { this.#headers = fn ? this.#headers.filter((f) => f !== fn) : []; }
      static Thenable = class DownloadTask extends this {
        then(a, b) { return this.#thenable().then(a, b); }
        catch(b) { return this.#thenable().catch(b); }
        finally(f) { return this.#thenable().finally(f); }
      };

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

      // `v` is the event's value, or its JSON text (parsed only when someone listens).
      #event(kind, v, profile) {
        const value = () => (typeof v === 'string' ? JSON.parse(v) : v);
        if (kind === 'progress') {
          if (this.#progress.length) {
            const p = value();
            this.#progress.slice().forEach((f) => call(f, p));
          }
        } else if (kind === 'headers') {
          if (this.#headers.length) {
            const h = withCaseless(value());
            this.#headers.slice().forEach((f) => call(f, h));
          }
        } else {
          const res = value();
          this.#finish(kind === 'success', kind === 'success' ? withProfile(withCaseless(res), profile) : res);
        }
      }

      // Starts the download; the engine parses and checks the options (WeChat's rules and
      // messages) and reports a bad one as the task's failure, after this call returns.
      static start(obj) {
        obj = (obj && typeof obj === 'object') ? obj : {};
        const callback = typeof obj.success === 'function' || typeof obj.fail === 'function'
          || typeof obj.complete === 'function';
        const task = callback ? new DownloadTask(obj) : new DownloadTask.Thenable(obj);
        task.#control = start(obj, (kind, v, profile) => task.#event(kind, v, profile));
        return task;
      }
    }
    return (obj) => DownloadTask.start(obj);
  }
  if (typeof module === 'object' && module && module.exports) {
    module.exports = makeDownloadFile;
  } else {
    root.__wxdl_download_file = makeDownloadFile;
  }
})(globalThis);
