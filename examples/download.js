// The classic wx.downloadFile sample, unchanged but for the URL. Offline, as shipped:
//   wxdl run --serve examples/static:8000 examples/download.js
wx.downloadFile({
  url: 'http://127.0.0.1:8000/audio/123',
  success (res) {
    if (res.statusCode === 200) {
      wx.playVoice({ filePath: res.tempFilePath })
    }
  }
})
