// A page, run headless: wxdl run --serve examples/static:8000 examples/page.js --call refresh
// onLoad, onShow and onReady run first, then `refresh`; every setData is printed as a JSON line.
// Any port: wxdl.serveOrigin is the origin --serve serves.
const base = (typeof wxdl !== 'undefined' && wxdl.serveOrigin) || 'http://127.0.0.1:8000'
Page({
  data: { status: 'idle', size: 0 },

  onLoad () {
    this.setData({ status: 'ready' })
  },

  refresh () {
    this.setData({ status: 'downloading' })
    const task = wx.downloadFile({
      url: `${base}/index.html`,
      success: (res) => this.setData({ status: 'done', size: res.dataLength }),
      fail: (err) => this.setData({ status: err.errMsg }),
    })
    task.onProgressUpdate(({ progress }) => {
      if (progress === 100) console.log('all bytes written')
    })
  },
})
