// An image cache over saved files, as Mini Programs write it: a download is saved once
// (wx.saveFile gives a `wxfile://store_…` path that outlives the run), its path kept in storage
// by URL; the next call (or the next run, over the same data directory) finds the saved file
// and downloads nothing.
const KEY = 'image-cache';

function remember(url, savedFilePath) {
  const map = wx.getStorageSync(KEY) || {};
  map[url] = savedFilePath;
  wx.setStorageSync(KEY, map);
}

function download(url, resolve, reject) {
  wx.downloadFile({
    url,
    success(res) {
      if (res.statusCode !== 200) {
        reject(new Error(`HTTP ${res.statusCode}`));
        return;
      }
      wx.saveFile({
        tempFilePath: res.tempFilePath,
        success(saved) {
          remember(url, saved.savedFilePath);
          resolve({ path: saved.savedFilePath, hit: false });
        },
        fail: reject,
      });
    },
    fail: reject,
  });
}

// Resolves to `{ path, hit }`: the saved file of `url`, and whether it was already there.
function getImage(url) {
  return new Promise((resolve, reject) => {
    const saved = (wx.getStorageSync(KEY) || {})[url];
    if (!saved) {
      download(url, resolve, reject);
      return;
    }
    wx.getSavedFileInfo({
      filePath: saved,
      success: () => resolve({ path: saved, hit: true }),
      fail: () => download(url, resolve, reject),
    });
  });
}

module.exports = { getImage };
