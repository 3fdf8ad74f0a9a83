// The classic wx.downloadFile sample, unchanged but for the URL and a fail callback that says
// what went wrong. Offline, as shipped, on any port (wxdl.serveOrigin is the served origin):
//   wxdl run --serve examples/static:8000 examples/download.js
const base = (typeof wxdl !== 'undefined' && wxdl.serveOrigin) || 'http://127.0.0.1:8000'
wx.downloadFile({
  url: `${base}/audio/123`,
  success (res) {
    if (res.statusCode === 200) {
      wx.playVoice({ filePath: res.tempFilePath })
    } else {
      console.error('download.js: HTTP', res.statusCode)
    }
  },
  fail (err) {
    console.error('download.js:', err.errMsg, '- is the server up? (wxdl run --serve examples/static:PORT …)')
  }
})
