// The wx APIs around the download that both JS faces have, over a few natives: storage (sync and
// async), saved files and documents, toasts/loading/modals (printed), image info, the photo
// album and the clipboard, the system info and the app lifecycle listeners. Shared by the JS host (`wxdl run`) and the Node package:
//
//   makeWxApis({ fsCall, storage, systemInfo, print, download }, call, later) -> { apis, appLifecycle }
//
// where download(obj) is the face's wx.downloadFile (getImageInfo of a network src), fsCall(op, args) -> result object (wxdl_wx::fs; throws with WeChat's text after
// `<op>:fail `), storage(op, key, dataJson) -> result object (wxdl_wx::storage, same errors),
// systemInfo() -> object, print(level, text) (0 stdout, 1 stderr); call(fn, arg) runs a callback
// so that its exception never stops the next one (`complete` follows a `success` that threw);
// later(f) runs f after the current call returns.
(function (root) {
  'use strict';
  function makeWxApis(N, call, later) {
    // An asynchronous wx API: success or fail then complete, after the call returns; with no
    // callback it returns a Promise (these APIs have WeChat's Promise style).
    const asyncApi = (name, obj, work) => {
      obj = obj || {};
      let ok = true;
      let res;
      try {
        res = { errMsg: `${name}:ok`, ...(work(obj) || {}) };
      } catch (e) {
        ok = false;
        res = { errMsg: `${name}:fail ${e.message}` };
      }
      const callback = ['success', 'fail', 'complete'].some((k) => typeof obj[k] === 'function');
      later(() => { call(ok ? obj.success : obj.fail, res); call(obj.complete, res); });
      if (!callback) return ok ? Promise.resolve(res) : Promise.reject(res);
      return undefined;
    };
    // One whose work ends later: `start(done)` calls done(ok, fields) once.
    const laterApi = (name, obj, start) => {
      obj = obj || {};
      const callback = ['success', 'fail', 'complete'].some((k) => typeof obj[k] === 'function');
      const p = new Promise((resolve, reject) => start((ok, fields) => {
        const res = { errMsg: `${name}:${ok ? 'ok' : 'fail'}${ok ? '' : ` ${fields}`}`, ...(ok ? fields : {}) };
        call(ok ? obj.success : obj.fail, res);
        call(obj.complete, res);
        (ok ? resolve : reject)(res);
      }));
      if (callback) { p.catch(() => {}); return undefined; }
      return p;
    };
    const syncApi = (name, fn) => (...a) => {
      try { return fn(...a); } catch (e) { throw new Error(`${name}:fail ${e.message}`); }
    };

    // Toasts, loading and modals, headless: printed as JSON lines on stderr; a modal confirms.
    const shown = (name, fields) => N.print(1, JSON.stringify({ [name]: fields }));
    const ui = {
      showToast: (obj) => asyncApi('showToast', obj, (o) => {
        shown('showToast', { title: String(o.title ?? ''), icon: o.icon || 'success', duration: o.duration ?? 1500 });
      }),
      hideToast: (obj) => asyncApi('hideToast', obj, () => shown('hideToast', {})),
      showLoading: (obj) => asyncApi('showLoading', obj, (o) => shown('showLoading', { title: String(o.title ?? '') })),
      hideLoading: (obj) => asyncApi('hideLoading', obj, () => shown('hideLoading', {})),
      showModal: (obj) => asyncApi('showModal', obj, (o) => {
        shown('showModal', { title: String(o.title ?? ''), content: String(o.content ?? '') });
        return { confirm: true, cancel: false };
      }),
    };

    // Storage, persisted per appid with WeChat's limits (1 MB a key, 10 MB in all).
    const store = (op, key, data) => N.storage(op, key === undefined ? '' : String(key), data === undefined ? '' : data);
    const encode = (data) => { const t = JSON.stringify(data); return t === undefined ? 'null' : t; };
    const storage = {
      setStorage: (obj) => asyncApi('setStorage', obj, (o) => { store('set', o.key, encode(o.data)); }),
      setStorageSync: syncApi('setStorageSync', (key, data) => { store('set', key, encode(data)); }),
      getStorage: (obj) => asyncApi('getStorage', obj, (o) => ({ data: JSON.parse(store('get', o.key).data) })),
      // WeChat's getStorageSync gives '' for a key it does not have.
      getStorageSync: syncApi('getStorageSync', (key) => {
        try { return JSON.parse(store('get', key).data); } catch (e) { return ''; }
      }),
      removeStorage: (obj) => asyncApi('removeStorage', obj, (o) => { store('remove', o.key); }),
      removeStorageSync: syncApi('removeStorageSync', (key) => { store('remove', key); }),
      clearStorage: (obj) => asyncApi('clearStorage', obj, () => { store('clear'); }),
      clearStorageSync: syncApi('clearStorageSync', () => { store('clear'); }),
      getStorageInfo: (obj) => asyncApi('getStorageInfo', obj, () => store('info')),
      getStorageInfoSync: syncApi('getStorageInfoSync', () => store('info')),
    };

    // Saved files (`wxfile://store_…`, 10 MB in all) and documents: the same operations as the
    // file system manager's saveFile (without filePath), getSavedFileList, getSavedFileInfo and
    // removeSavedFile.
    const files = {
      saveFile: (obj) => asyncApi('saveFile', obj, (o) => N.fsCall('saveStore', { tempFilePath: o.tempFilePath })),
      getSavedFileList: (obj) => asyncApi('getSavedFileList', obj, () => N.fsCall('savedList', {})),
      getSavedFileInfo: (obj) => asyncApi('getSavedFileInfo', obj, (o) => N.fsCall('savedInfo', { filePath: o.filePath })),
      removeSavedFile: (obj) => asyncApi('removeSavedFile', obj, (o) => { N.fsCall('removeSaved', { filePath: o.filePath }); }),
      openDocument: (obj) => asyncApi('openDocument', obj, (o) => {
        shown('openDocument', N.fsCall('docInfo', { filePath: o.filePath, fileType: o.fileType }));
      }),
    };

    // Images and the photo album (wxdl_wx::image): getImageInfo reads a sandbox file's header
    // (a network src is downloaded first, as WeChat does); a save to the album is a copy into the
    // data directory's album/.
    const isString = (v, what) => {
      if (typeof v !== 'string') {
        const type = v === null ? 'Null' : (typeof v).charAt(0).toUpperCase() + (typeof v).slice(1);
        throw new Error(`parameter error: parameter.${what} should be String instead of ${type};`);
      }
    };
    const media = {
      getImageInfo: (obj) => {
        const src = obj && obj.src;
        if (typeof src !== 'string' || !/^https?:\/\//i.test(src) || !N.download) {
          return asyncApi('getImageInfo', obj, (o) => { isString(o.src, 'src'); return N.fsCall('imageInfo', { src: o.src }); });
        }
        return laterApi('getImageInfo', obj, (done) => N.download({
          url: src,
          success: (r) => {
            if (r.statusCode < 200 || r.statusCode > 299) return done(false, 'download image fail');
            try { done(true, N.fsCall('imageInfo', { src: r.tempFilePath })); } catch (e) { done(false, e.message); }
          },
          fail: () => done(false, 'download image fail'),
        }));
      },
      saveImageToPhotosAlbum: (obj) => asyncApi('saveImageToPhotosAlbum', obj, (o) => {
        isString(o.filePath, 'filePath');
        N.fsCall('saveToAlbum', { filePath: o.filePath, image: true });
      }),
      saveVideoToPhotosAlbum: (obj) => asyncApi('saveVideoToPhotosAlbum', obj, (o) => {
        isString(o.filePath, 'filePath');
        N.fsCall('saveToAlbum', { filePath: o.filePath, image: false });
      }),
    };

    // The clipboard: in memory, this wx's own (a run of `wxdl run`, one createWx in Node). As in
    // WeChat, setting it shows a toast (printed).
    let clipboard = '';
    const clipboardApis = {
      setClipboardData: (obj) => asyncApi('setClipboardData', obj, (o) => {
        isString(o.data, 'data');
        clipboard = o.data;
        shown('setClipboardData', { data: o.data });
      }),
      getClipboardData: (obj) => asyncApi('getClipboardData', obj, () => ({ data: clipboard })),
    };

    const system = {
      getSystemInfoSync: () => N.systemInfo(),
      getSystemInfo: (obj) => asyncApi('getSystemInfo', obj, () => N.systemInfo()),
    };

    // The app lifecycle listeners; `appLifecycle(hide, res)` tells them the app went to the
    // background (or came back).
    const appShow = [];
    const appHide = [];
    const off = (list, fn) => { const i = list.indexOf(fn); if (i >= 0) list.splice(i, 1); };
    const lifecycle = {
      onAppShow: (fn) => { if (typeof fn === 'function') appShow.push(fn); },
      offAppShow: (fn) => off(appShow, fn),
      onAppHide: (fn) => { if (typeof fn === 'function') appHide.push(fn); },
      offAppHide: (fn) => off(appHide, fn),
    };
    const appLifecycle = (hide, res) => {
      (hide ? appHide : appShow).slice().forEach((fn) => call(fn, res));
    };

    return { apis: { ...ui, ...storage, ...files, ...media, ...clipboardApis, ...system, ...lifecycle }, appLifecycle };
  }
  if (typeof module === 'object' && module && module.exports) {
    module.exports = makeWxApis;
  } else {
    root.__wxdl_wx_apis = makeWxApis;
  }
})(globalThis);
