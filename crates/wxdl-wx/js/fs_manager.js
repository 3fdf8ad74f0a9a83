// wx.getFileSystemManager() over one native call, `fsCall(op, args) -> result` (the engine's
// confined file operations, wxdl_wx::fs; `makeFileSystemManager.overNative` makes it), shared by the
// JS host (`wxdl run`) and the Node package: each operation in its sync form (returns or throws
// `<op>Sync:fail …`, the Error carrying `errCode`) and its callback form (success/fail/complete,
// called later through `later`; a fail result has WeChat's FileError `errCode`).
(function (root) {
  'use strict';
  function makeFileSystemManager(fsCall, later, codec) {
    const { b64ToBuffer, bufferToB64, call } = codec;
    // Each API: how its positional sync arguments map to the object form, and how the result is
    // shaped for the sync return value and the success callback.
    const FS = {
      access: { params: ['path'], sync: () => undefined, ok: () => ({}) },
      // With recursive on a directory: `{'/': Stats, '/a.txt': Stats, …}`, as WeChat's.
      stat: { params: ['path', 'recursive'], sync: (r) => stats(r), ok: (r) => ({ stats: stats(r) }) },
      readFile: {
        params: ['filePath', 'encoding', 'position', 'length'],
        prep: (a) => ({ ...a, encoding: a.encoding || null }),
        sync: (r, a) => (a.encoding ? r.data : b64ToBuffer(r.data)),
        ok: (r, a) => ({ data: a.encoding ? r.data : b64ToBuffer(r.data) }),
      },
      writeFile: { params: ['filePath', 'data', 'encoding'], prep: dataPrep, sync: () => undefined, ok: () => ({}) },
      appendFile: { params: ['filePath', 'data', 'encoding'], prep: dataPrep, sync: () => undefined, ok: () => ({}) },
      copyFile: { params: ['srcPath', 'destPath'], sync: () => undefined, ok: () => ({}) },
      rename: { params: ['oldPath', 'newPath'], sync: () => undefined, ok: () => ({}) },
      rmdir: { params: ['dirPath', 'recursive'], sync: () => undefined, ok: () => ({}) },
      truncate: { params: ['filePath', 'length'], sync: () => undefined, ok: () => ({}) },
      // File descriptors (strings); their sync forms take the object, as WeChat's.
      open: { params: [], objectSync: true, sync: (r) => r.fd, ok: (r) => ({ fd: r.fd }) },
      close: { params: [], objectSync: true, sync: () => undefined, ok: () => ({}) },
      fstat: { params: [], objectSync: true, sync: (r) => statObj(r), ok: (r) => ({ stats: statObj(r) }) },
      ftruncate: { params: [], objectSync: true, sync: () => undefined, ok: () => ({}) },
      read: {
        params: [],
        objectSync: true,
        prep: (a) => {
          const size = a.arrayBuffer ? a.arrayBuffer.byteLength : 0;
          const offset = a.offset || 0;
          const length = a.length === undefined ? size - offset : a.length;
          if (offset < 0 || length < 0 || offset + length > size) throw new Error('invalid offset or length for arrayBuffer');
          return { fd: a.fd, length, position: a.position };
        },
        sync: (r, a, raw) => readInto(r, raw),
        ok: (r, a, raw) => readInto(r, raw),
      },
      write: {
        params: [],
        objectSync: true,
        prep: (a) => {
          const buf = a.data instanceof ArrayBuffer ? a.data : (ArrayBuffer.isView(a.data) ? a.data.buffer : null);
          if (!buf) return dataPrep(a);
          const offset = a.offset || 0;
          const length = a.length === undefined ? buf.byteLength - offset : a.length;
          return { fd: a.fd, position: a.position, data: bufferToB64(buf.slice(offset, offset + length)), encoding: 'base64' };
        },
        sync: (r) => ({ bytesWritten: r.bytesWritten }),
        ok: (r) => ({ bytesWritten: r.bytesWritten }),
      },
      // A brotli file's content as an ArrayBuffer; the sync form takes the object, as WeChat's.
      readCompressedFile: {
        params: [],
        objectSync: true,
        sync: (r) => b64ToBuffer(r.data),
        ok: (r) => ({ data: b64ToBuffer(r.data) }),
      },
      // A zip of the sandbox into a directory under usr (no sync form in WeChat).
      unzip: { params: [], noSync: true, ok: () => ({}) },
      // md5 (default) or sha1 of a file, with its size (no sync form in WeChat).
      getFileInfo: {
        params: ['filePath', 'digestAlgorithm'],
        noSync: true,
        ok: (r) => ({ size: r.size, digest: r.digest }),
      },
      unlink: { params: ['filePath'], sync: () => undefined, ok: () => ({}) },
      readdir: { params: ['dirPath'], sync: (r) => r.files, ok: (r) => ({ files: r.files }) },
      mkdir: { params: ['dirPath', 'recursive'], sync: () => undefined, ok: () => ({}) },
      // Without filePath, into the saved files (`wxfile://store_…`), as wx.saveFile.
      saveFile: {
        params: ['tempFilePath', 'filePath'],
        sync: (r) => r.savedFilePath,
        ok: (r) => ({ savedFilePath: r.savedFilePath }),
      },
      // The saved files, as wx.getSavedFileList / wx.removeSavedFile (no sync form in WeChat).
      // Its fail result is a GeneralCallbackResult (no errCode), as the typings have it.
      getSavedFileList: { op: 'savedList', params: [], noSync: true, general: true, ok: (r) => ({ fileList: r.fileList }) },
      removeSavedFile: { op: 'removeSaved', params: ['filePath'], noSync: true, ok: () => ({}) },
    };
    // A read's bytes into the caller's ArrayBuffer at `offset`.
    function readInto(r, raw) {
      const bytes = new Uint8Array(b64ToBuffer(r.data));
      if (raw.arrayBuffer) new Uint8Array(raw.arrayBuffer, raw.offset || 0, bytes.length).set(bytes);
      return { bytesRead: r.bytesRead, arrayBuffer: raw.arrayBuffer };
    }
    function dataPrep(a) {
      return a.data instanceof ArrayBuffer || ArrayBuffer.isView(a.data)
        ? { ...a, data: bufferToB64(a.data instanceof ArrayBuffer ? a.data : a.data.buffer), encoding: 'base64' }
        : { ...a, data: String(a.data), encoding: a.encoding || 'utf8' };
    }
    function stats(r) {
      if (!r.recursive) return statObj(r);
      const out = {};
      for (const [path, s] of Object.entries(r.recursive)) out[path] = statObj(s);
      return out;
    }
    function statObj(r) {
      return {
        size: r.size,
        mode: r.mode,
        lastAccessedTime: r.lastAccessedTime,
        lastModifiedTime: r.lastModifiedTime,
        isFile: () => r.isFile,
        isDirectory: () => r.isDirectory,
      };
    }
    // A failure's FileError code: the native's (wxdl_wx::fs::FsError::err_code), else an
    // argument this JS refused (1300022 Invalid argument).
    const errCode = (e) => (typeof e.errCode === 'number' ? e.errCode : 1300022);
    function fileSystemManager() {
      const m = {};
      for (const [name, spec] of Object.entries(FS)) {
        const prep = spec.prep || ((a) => a);
        const op = spec.op || name;
        if (!spec.noSync) m[name + 'Sync'] = (...pos) => {
          let args = {};
          if (spec.objectSync) args = pos[0] || {};
          else spec.params.forEach((p, i) => { args[p] = pos[i]; });
          try {
            const a = prep(args);
            return spec.sync(fsCall(op, a), a, args);
          } catch (e) {
            throw Object.assign(new Error(`${name}Sync:fail ${e.message}`), { errCode: errCode(e) });
          }
        };
        m[name] = (obj) => {
          obj = obj || {};
          let res, ok = true;
          try {
            const a = prep(obj);
            res = { errMsg: `${name}:ok`, ...spec.ok(fsCall(op, a), a, obj) };
          } catch (e) {
            ok = false;
            res = spec.general ? { errMsg: `${name}:fail ${e.message}` }
              : { errMsg: `${name}:fail ${e.message}`, errCode: errCode(e) };
          }
          later(() => {
            call(ok ? obj.success : obj.fail, res);
            call(obj.complete, res);
          });
        };
      }
      return m;
    }
    return fileSystemManager();
  }
  // The `fsCall` both faces give, over their native `fs(op, argsJson)` (wxdl_wx::fs::outcome):
  // the result object, or an Error with WeChat's words and the FileError `errCode`.
  makeFileSystemManager.overNative = (native) => (op, args) => {
    const r = JSON.parse(native(op, JSON.stringify(args)));
    if (r && typeof r.$fail === 'string') throw Object.assign(new Error(r.$fail), { errCode: r.errCode });
    return r;
  };
  if (typeof module === 'object' && module && module.exports) {
    module.exports = makeFileSystemManager;
  } else {
    root.__wxdl_fs_manager = makeFileSystemManager;
  }
})(globalThis);
