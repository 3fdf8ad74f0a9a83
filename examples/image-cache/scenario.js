// The image cache and the saved-file APIs, as both JS faces run them (wxdl's tests run this
// with `report(result)` writing the result where the test reads it):
//   wxdl run examples/image-cache/main.js --serve examples/static:8000   (twice: a hit the 2nd time)
const { getImage } = require('./utils/image-cache.js');

module.exports = function scenario(url, report) {
  const fs = wx.getFileSystemManager();
  const out = {};
  const fail = (e) => report({ ...out, error: e && (e.errMsg || e.message) });
  getImage(url).then((first) => {
    out.first = { hit: first.hit, saved: first.path.startsWith('wxfile://store_') };
    return getImage(url);
  }).then((again) => {
    out.again = { hit: again.hit, content: fs.readFileSync(again.path, 'utf8') };
    // The file system manager's saveFile without filePath saves too.
    wx.downloadFile({
      url,
      fail,
      success(res) {
        const path = fs.saveFileSync(res.tempFilePath);
        out.managerSaved = path.startsWith('wxfile://store_');
        wx.getSavedFileList({
          fail,
          success(list) {
            out.listed = list.fileList.filter((f) => f.filePath === path).length;
            out.files = list.fileList.length;
            wx.getSavedFileInfo({
              filePath: path,
              fail,
              success(info) {
                out.size = info.size;
                fs.removeSavedFile({
                  filePath: path,
                  fail,
                  success() {
                    wx.getSavedFileInfo({ filePath: path, success: () => fail(new Error('still there')), fail: (e) => { out.removed = e.errMsg; report(out); } });
                  },
                });
              },
            });
          },
        });
      },
    });
  }).catch(fail);
};
