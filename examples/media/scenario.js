// What a Mini Program does with images around a download, as both JS faces run it (wxdl's tests
// run this with `report(result)` writing the result where the test reads it): getImageInfo of a
// downloaded file, of a network src and of a file it wrote; WeChat's fail words; the photo
// album; the clipboard; and the guards code puts around APIs a headless run lacks.
//   wxdl run examples/media/main.js --serve examples/static:8000
const GIF_1X1 = 'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';

// The promise style WeChat's own APIs have without callbacks (getImageInfo, clipboard, album).
const settle = (p) => p.then((r) => r, (e) => e);

module.exports = function scenario(pngUrl, report) {
  const fs = wx.getFileSystemManager();
  const out = {};
  const fail = (e) => report({ ...out, error: e && (e.errMsg || e.message) });
  wx.downloadFile({
    url: pngUrl,
    fail,
    success(res) {
      wx.getImageInfo({
        src: res.tempFilePath,
        fail,
        success(info) {
          out.downloaded = [info.errMsg, info.width, info.height, info.type, info.orientation, info.path === res.tempFilePath];
          rest(res.tempFilePath).then(() => report(out), fail);
        },
      });
    },
  });

  async function rest(tempFilePath) {
    const net = await settle(wx.getImageInfo({ src: pngUrl }));
    out.network = [net.errMsg, net.width, net.height, net.type, /^wxfile:\/\/tmp_/.test(net.path)];
    const gif = `${wx.env.USER_DATA_PATH}/dot.gif`;
    fs.writeFileSync(gif, GIF_1X1, 'base64');
    const g = await settle(wx.getImageInfo({ src: gif }));
    out.gif = [g.width, g.height, g.type];
    fs.writeFileSync(`${wx.env.USER_DATA_PATH}/note.txt`, 'not an image');
    out.fails = [
      (await settle(wx.getImageInfo({ src: `${wx.env.USER_DATA_PATH}/none.png` }))).errMsg,
      (await settle(wx.getImageInfo({ src: `${wx.env.USER_DATA_PATH}/note.txt` }))).errMsg,
      (await settle(wx.getImageInfo({}))).errMsg,
      (await settle(wx.getImageInfo({ src: pngUrl.replace(/[^/]*$/, 'missing.png') }))).errMsg,
    ];
    out.album = [
      (await settle(wx.saveImageToPhotosAlbum({ filePath: tempFilePath }))).errMsg,
      (await settle(wx.saveImageToPhotosAlbum({ filePath: gif }))).errMsg,
      (await settle(wx.saveVideoToPhotosAlbum({ filePath: `${wx.env.USER_DATA_PATH}/note.txt` }))).errMsg,
      (await settle(wx.saveImageToPhotosAlbum({ filePath: `${wx.env.USER_DATA_PATH}/note.txt` }))).errMsg,
      (await settle(wx.saveImageToPhotosAlbum({ filePath: `${wx.env.USER_DATA_PATH}/none.png` }))).errMsg,
    ];
    const set = await settle(wx.setClipboardData({ data: 'copied by wxdl' }));
    const got = await settle(wx.getClipboardData());
    out.clipboard = [set.errMsg, got.errMsg, got.data];
    // Guards: an API wxdl lacks is absent; the ones it has are enumerable own properties.
    const keys = [];
    for (const k in wx) keys.push(k);
    out.guards = {
      chooseImage: typeof wx.chooseImage,
      canIUse: [wx.canIUse('getImageInfo'), wx.canIUse('setClipboardData'), wx.canIUse('chooseImage')],
      enumerable: ['getImageInfo', 'saveImageToPhotosAlbum', 'saveVideoToPhotosAlbum', 'setClipboardData', 'getClipboardData']
        .every((k) => keys.includes(k) && Object.keys(wx).includes(k)),
    };
    try {
      wx.chooseImage({ count: 1 });
      out.called = 'no error';
    } catch (e) {
      out.called = e instanceof TypeError ? 'TypeError' : String(e);
    }
  }
};
