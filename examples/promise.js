// Promise style, wxdl's opt-in (WeChat's tasks are not thenable): with `wxdl run --promise` a
// call without callbacks gets a thenable DownloadTask, so `await wx.downloadFile({url})` works.
// Usage: wxdl run --promise --serve examples/static:8000 examples/promise.js (any port: wxdl.serveOrigin)
const base = (typeof wxdl !== 'undefined' && wxdl.serveOrigin) || 'http://127.0.0.1:8000'

async function main () {
  const fs = wx.getFileSystemManager()
  const res = await wx.downloadFile({
    url: `${base}/index.html`,
    filePath: `${wx.env.USER_DATA_PATH}/index.html`,
  })
  console.log(res.statusCode, res.filePath, fs.statSync(res.filePath).size, 'bytes')
  console.log('took', (res.profile.responseEnd - res.profile.invokeStart).toFixed(1), 'ms over', res.profile.protocol)
  try {
    await wx.downloadFile({ url: 'ftp://example.com/x' })
  } catch (err) {
    console.log('as expected:', err.errMsg)
  }
}

main().catch((err) => {
  console.error('promise.js:', err.errMsg || err, '- is the server up? (wxdl run --serve examples/static:PORT …)')
})
