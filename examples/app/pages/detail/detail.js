// Downloads the app's `globalData.url` when it loads and aborts the download when it closes:
// leaving the page before the file arrives ends it with `downloadFile:fail abort`.
const logged = require('../../utils/logged.js');
const base = logged('detail');
Page(logged('detail', {
  onLoad(o) {
    base.onLoad.call(this, o);
    const app = getApp();
    this.task = wx.downloadFile({
      url: app.globalData.url,
      success: (r) => {
        app.globalData.log.push(`detail.success ${r.statusCode}`);
        if (app.globalData.settled) app.globalData.settled();
      },
      fail: (e) => {
        app.globalData.log.push(`detail.fail ${e.errMsg} ${e.errno}`);
        if (app.globalData.settled) app.globalData.settled();
      },
    });
  },
  onUnload() {
    base.onUnload.call(this);
    this.task.abort();
  },
}));
