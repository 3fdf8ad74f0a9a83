const http = require('http');
const fs = require('fs');
const path = require('path');
const { load } = require('../api');

// WXDL_TEST_BASE: an origin serving /data.json (the wxdl test suite gives its nginx). Without
// it the test serves static/ itself on 127.0.0.1, so `npx jest` runs as it is.
let base = process.env.WXDL_TEST_BASE;
let server;
beforeAll(async () => {
  if (base) return;
  const data = fs.readFileSync(path.join(__dirname, '../static/data.json'));
  server = http.createServer((req, res) => {
    res.writeHead(req.url === '/data.json' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === '/data.json' ? data : '{}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});
afterAll(() => new Promise((resolve) => (server ? server.close(resolve) : resolve())));

test('miniprogram-api-promise, unmodified, over the real wx', async () => {
  const report = await load(base);
  expect(report.promisified).toBe(true);
  expect(report.request).toEqual({ statusCode: 200, errMsg: 'request:ok', data: { hello: 'api-promise' } });
  expect(report.download).toEqual({
    statusCode: 200, errMsg: 'downloadFile:ok', temp: true, text: '{"hello":"api-promise"}\n',
  });
  expect(report.network).toBe('getNetworkType:ok');
  expect(report.refused.errMsg).toMatch(/^request:fail /);
  expect(typeof report.refused.errno).toBe('number');
});
