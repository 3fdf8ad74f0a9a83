// Beyond WeChat (off unless asked): a download that survives a bad network. With `resume`, an
// interrupted download keeps what it received and the next run continues it (Range/If-Range);
// `retry` tries again after a cut, continuing the body. Offline, as shipped:
//   wxdl run --serve examples/static:8000 examples/resume.js (any port: wxdl.serveOrigin)
const base = (typeof wxdl !== 'undefined' && wxdl.serveOrigin) || 'http://127.0.0.1:8000'
wx.downloadFile({
  url: `${base}/audio/123`,
  filePath: `${wx.env.USER_DATA_PATH}/voice.wav`,
  resume: true,
  retry: 3,
  stallTimeout: 10000,
  success (res) {
    console.log('saved', res.filePath, res.dataLength, 'bytes; reused from an earlier run:', res.resumedFrom || 0)
  },
  fail (err) {
    console.log('not yet:', err.errMsg, '- run again to continue')
  }
})
