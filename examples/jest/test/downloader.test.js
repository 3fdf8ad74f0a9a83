const path = require('path');
const simulate = require('miniprogram-simulate');

const base = process.env.WXDL_TEST_BASE;
const it_ = base ? test : test.skip;
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

it_('the component downloads for real when attached and shows the result', async () => {
  const comp = simulate.render(downloader, { url: `${base}/hello.txt` });
  comp.attach(document.createElement('parent-wrapper'));
  const data = await settled(comp);
  expect(data.status).toBe('done');
  expect(data.progress).toBe(100);
  expect(data.path).toMatch(/^wxfile:\/\/tmp_[0-9a-f]{16}\.txt$/);
  expect(wx.getFileSystemManager().readFileSync(data.path, 'utf8')).toBe('hello from nginx\n');
  expect(comp.querySelector('.status').dom.textContent).toBe('done');
});

it_('a failure reaches the component with WeChat’s words', async () => {
  const comp = simulate.render(downloader, { url: 'http://127.0.0.1:1/x' });
  comp.attach(document.createElement('parent-wrapper'));
  const data = await settled(comp);
  expect(data.status).toMatch(/^downloadFile:fail connect fail/);
});
