// A whole Mini Program under Jest: `loadApp` runs examples/app (app.js, then its first page),
// and the test moves between its pages. The detail page downloads in onLoad and aborts in
// onUnload: leaving it ends the download with WeChat's `fail abort`.
const http = require('http');
const path = require('path');
const { loadApp } = require('wxdl');

// A file that never finishes: headers and a first chunk, then nothing.
let server;
let slowUrl;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1 << 20 });
    res.write(Buffer.alloc(1024));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  slowUrl = `http://127.0.0.1:${server.address().port}/slow.bin`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(resolve));
});

test('a page that downloads in onLoad aborts its download in onUnload', async () => {
  const app = await loadApp(path.join(__dirname, '../../app'), { query: { from: 'jest' } });
  expect(getCurrentPages().map((p) => p.route)).toEqual(['pages/list/list']);
  expect(getCurrentPages()[0].options).toEqual({ from: 'jest' });
  const { globalData } = getApp();
  globalData.url = slowUrl;
  const settled = new Promise((resolve) => { globalData.settled = resolve; });
  await app.navigate('navigateTo', { url: '/pages/detail/detail?id=7' });
  expect(getCurrentPages().map((p) => p.route)).toEqual(['pages/list/list', 'pages/detail/detail']);
  await app.navigate('navigateBack');
  await settled;
  expect(globalData.log).toEqual(expect.arrayContaining([
    'detail.onLoad pages/detail/detail {"id":"7"}',
    'detail.onUnload',
    'detail.fail downloadFile:fail abort 603105',
  ]));
  expect(globalData.log.indexOf('detail.onUnload')).toBeLessThan(globalData.log.indexOf('detail.fail downloadFile:fail abort 603105'));
});
