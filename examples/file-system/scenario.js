// The file system manager as Mini Programs use it, in both JS faces (wxdl's tests run this with
// `report(result)` writing the result where the test reads it): a recursive mkdir, a download
// into it, getFileInfo (md5, sha1), copyFile, appendFile, rename, truncate, a file descriptor
// (open, write, read into an ArrayBuffer, fstat, close), a recursive stat, readdir, unzip (the
// `bundle.zip` beside the URL) and readCompressedFile (its brotli file), rmdir (refused when not empty, then recursive), a path out
// of the sandbox, and the FileError `errCode` of failures (callback and sync forms).
//   wxdl run examples/file-system/main.js --serve examples/static:8000
// Failures one after another in the callback form, each `[errMsg, errCode]` into `out.errCodes`
// (the typings' FileError), then a sync form's thrown errCode; then `done()`.
function errCodes(fs, usr, out, done) {
  fs.writeFileSync(`${usr}/plain.txt`, 'not brotli, not a zip');
  fs.mkdirSync(`${usr}/z`);
  const calls = [
    ['readFile', { filePath: `${usr}/none.txt` }],
    ['writeFile', { filePath: 'wxfile://tmp_x.txt', data: 'x' }],
    ['mkdir', { dirPath: `${usr}/plain.txt` }],
    ['readFile', { filePath: usr, encoding: 'utf8' }],
    ['fstat', { fd: '999' }],
    ['readCompressedFile', { filePath: `${usr}/plain.txt`, compressionAlgorithm: 'br' }],
    ['unzip', { zipFilePath: `${usr}/plain.txt`, targetPath: `${usr}/z` }],
    ['removeSavedFile', { filePath: 'wxfile://store_none' }],
  ];
  out.errCodes = [];
  const next = (i) => {
    if (i === calls.length) {
      try { fs.accessSync(`${usr}/none.txt`); } catch (e) { out.errCodes.push([e.message, e.errCode]); }
      fs.unlinkSync(`${usr}/plain.txt`);
      fs.rmdirSync(`${usr}/z`);
      done();
      return;
    }
    const [op, args] = calls[i];
    fs[op]({ ...args, success: () => { out.errCodes.push([`${op}:ok`]); next(i + 1); }, fail: (e) => { out.errCodes.push([e.errMsg, e.errCode]); next(i + 1); } });
  };
  next(0);
}

module.exports = function scenario(url, report) {
  const fs = wx.getFileSystemManager();
  const usr = wx.env.USER_DATA_PATH;
  const file = `${usr}/a/b/c/hello.txt`;
  const out = {};
  const fail = (e) => report({ ...out, error: e && (e.errMsg || e.message) });
  fs.mkdirSync(`${usr}/a/b/c`, true);
  out.mkdir = fs.statSync(`${usr}/a/b/c`).isDirectory();
  wx.downloadFile({
    url,
    filePath: file,
    fail,
    success() {
      fs.getFileInfo({
        filePath: file,
        fail,
        success(md5) {
          out.md5 = [md5.errMsg, md5.size, md5.digest];
          fs.getFileInfo({
            filePath: file,
            digestAlgorithm: 'sha1',
            fail,
            success(sha1) {
              out.sha1 = sha1.digest;
              fs.copyFileSync(file, `${usr}/a/copy.txt`);
              fs.appendFileSync(`${usr}/a/copy.txt`, 'and more\n');
              fs.renameSync(`${usr}/a/copy.txt`, `${usr}/a/b/renamed.txt`);
              out.renamed = fs.readFileSync(`${usr}/a/b/renamed.txt`, 'utf8');
              fs.truncateSync(`${usr}/a/b/renamed.txt`, 5);
              out.truncated = fs.readFileSync(`${usr}/a/b/renamed.txt`, 'utf8');
              // A file descriptor: write, then read part of it back into an ArrayBuffer.
              const fd = fs.openSync({ filePath: `${usr}/a/fd.bin`, flag: 'w+' });
              fs.writeSync({ fd, data: 'hello fd' });
              const buf = new ArrayBuffer(4);
              const got = fs.readSync({ fd, arrayBuffer: buf, offset: 1, length: 2, position: 6 });
              out.fd = [typeof fd, got.bytesRead, Array.from(new Uint8Array(buf)), fs.fstatSync({ fd }).size];
              fs.closeSync({ fd });
              try { fs.fstatSync({ fd }); } catch (e) { out.closed = e.message; }
              const tree = fs.statSync(`${usr}/a`, true);
              out.tree = Object.keys(tree).sort().map((k) => `${k} ${tree[k].isDirectory() ? 'dir' : tree[k].size}`);
              out.readdir = fs.readdirSync(`${usr}/a/b`);
              try { fs.rmdirSync(`${usr}/a`); } catch (e) { out.notEmpty = e.message; }
              try { fs.copyFileSync(`${usr}/../outside.txt`, `${usr}/x.txt`); } catch (e) { out.escape = e.message; }
              // A zip downloaded beside the file, unzipped into usr.
              wx.downloadFile({
                url: `${url.slice(0, url.lastIndexOf('/'))}/bundle.zip`,
                fail,
                success(zip) {
                  fs.unzip({
                    zipFilePath: zip.tempFilePath,
                    targetPath: `${usr}/a`,
                    fail,
                    success(u) {
                      out.unzip = [u.errMsg, fs.readFileSync(`${usr}/a/docs/readme.txt`, 'utf8'), fs.readdirSync(`${usr}/a`)];
                      // The zip's brotli-compressed file, read decompressed.
                      const br = fs.readCompressedFileSync({ filePath: `${usr}/a/data.json.br`, compressionAlgorithm: 'br' });
                      out.brotli = JSON.parse(String.fromCharCode(...new Uint8Array(br)));
                      fs.rmdir({
                        dirPath: `${usr}/a`,
                        recursive: true,
                        fail,
                        success(r) {
                          out.rmdir = r.errMsg;
                          fs.getFileInfo({
                            filePath: file,
                            success: () => fail(new Error('still there')),
                            fail(e) { out.gone = e.errMsg; errCodes(fs, usr, out, () => report(out)); },
                          });
                        },
                      });
                    },
                  });
                },
              });
            },
          });
        },
      });
    },
  });
};
