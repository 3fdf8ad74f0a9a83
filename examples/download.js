// The classic wx.downloadFile sample, unchanged but for the URL.
// Serve a directory with an `audio/123` file (e.g. `python3 -m http.server 8000`), then:
//   wxdl run examples/download.js
wx.downloadFile({
  url: 'http://127.0.0.1:8000/audio/123',
  success (res) {
    if (res.statusCode === 200) {
      wx.playVoice({ filePath: res.tempFilePath })
    }
  }
})
