// A custom component that downloads its `url` when attached, showing progress and where the
// file went: ordinary Mini Program code, unchanged for the test.
Component({
  properties: {
    url: { type: String, value: '' },
  },
  data: { status: 'idle', progress: 0, path: '' },
  lifetimes: {
    attached() {
      this.setData({ status: 'downloading' });
      const task = wx.downloadFile({
        url: this.data.url,
        success: (res) => {
          this.setData({ status: res.statusCode === 200 ? 'done' : `http ${res.statusCode}`, path: res.tempFilePath });
        },
        fail: (err) => this.setData({ status: err.errMsg }),
      });
      task.onProgressUpdate((p) => this.setData({ progress: p.progress }));
    },
  },
});
