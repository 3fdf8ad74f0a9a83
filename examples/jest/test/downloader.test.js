const http = require('http');
const path = require('path');
const simulate = require('miniprogram-simulate');

// What /hello.txt holds (the testkit's nginx serves it; so does the server below).
const HELLO = 'hello from nginx\n';
// WXDL_TEST_BASE: an origin serving /hello.txt (`cargo test -p wxdl-testkit --test node` gives
// its nginx). Without it, the tests serve /hello.txt themselves on 127.0.0.1, so `npx jest`
// runs them as they are, never skipped.
let base = process.env.WXDL_TEST_BASE;
let server;

beforeAll(async () => {
  if (base) return;
  server = http.createServer((req, res) => {
    if (req.url === '/hello.txt') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(HELLO);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

afterAll(() => new Promise((resolve) => (server ? server.close(resolve) : resolve())));

const downloader = simulate.load(path.join(__dirname, '../components/downloader/index'));

const settled = (comp) => new Promise((resolve, reject) => {
  const started = Date.now();
  const poll = () => {
    if (comp.data.status !== 'downloading') return resolve(comp.data);
    if (Date.now() - started > 20000) return reject(new Error('no outcome in 20 s'));
    setTimeout(poll, 10);
  };
  poll();
});

test('the component downloads for real when attached and shows the result', async () => {
  const comp = simulate.render(downloader, { url: `${base}/hello.txt` });
  comp.attach(document.createElement('parent-wrapper'));
  const data = await settled(comp);
  expect(data.status).toBe('done');
  expect(data.progress).toBe(100);
  expect(data.path).toMatch(/^wxfile:\/\/tmp_[0-9a-f]{16}\.txt$/);
  expect(wx.getFileSystemManager().readFileSync(data.path, 'utf8')).toBe(HELLO);
  expect(comp.querySelector('.status').dom.textContent).toBe('done');
});

test('a failure reaches the component with WeChat’s words', async () => {
  const comp = simulate.render(downloader, { url: 'http://127.0.0.1:1/x' });
  comp.attach(document.createElement('parent-wrapper'));
  const data = await settled(comp);
  expect(data.status).toMatch(/^downloadFile:fail connect fail/);
});
