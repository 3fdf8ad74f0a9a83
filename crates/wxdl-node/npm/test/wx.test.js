'use strict';
// The package against a real nginx (started by wxdl-testkit's node test, which sets
// WXDL_TEST_BASE): callbacks, events, abort, failures with WeChat's errno, the thenable rule,
// file system confinement and the concurrency limit.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { createWx } = require('..');

const base = process.env.WXDL_TEST_BASE;
if (!base) {
  console.log('skipped: WXDL_TEST_BASE is not set (run through cargo test -p wxdl-testkit --test node)');
  process.exit(0);
}
const wx = createWx({ resolve: ['nowhere.test:80:'], promise: true });
// WeChat's default: no Promise style.
const plainWx = createWx();
const settle = (opts) => new Promise((resolve) => {
  const events = [];
  const task = wx.downloadFile({
    ...opts,
    success: (r) => events.push(['success', r]),
    fail: (e) => events.push(['fail', e]),
    complete: (r) => { events.push(['complete', r]); resolve({ events, task }); },
  });
  task.onProgressUpdate((p) => events.push(['progress', p]));
  task.onHeadersReceived((h) => events.push(['headers', h]));
  if (opts.abortAfterHeaders) task.onHeadersReceived(() => task.abort());
});

test('success: result, events in order, header spelling, profile, the file', async () => {
  const { events } = await settle({ url: `${base}/hello.txt` });
  const kinds = events.map((e) => e[0]);
  assert.equal(kinds[0], 'headers');
  assert.deepEqual(kinds.slice(-2), ['success', 'complete']);
  const res = events.find((e) => e[0] === 'success')[1];
  assert.equal(res.errMsg, 'downloadFile:ok');
  assert.equal(res.statusCode, 200);
  assert.match(res.tempFilePath, /^wxfile:\/\/tmp_[0-9a-f]{16}\.txt$/);
  assert.equal(res.header['Content-Type'], 'text/plain');
  assert.equal(res.dataLength, 17);
  assert.equal(res.profile.protocol, 'http1.1');
  const last = events.filter((e) => e[0] === 'progress').pop()[1];
  assert.deepEqual(last, { progress: 100, totalBytesWritten: 17, totalBytesExpectedToWrite: 17 });
  const text = wx.getFileSystemManager().readFileSync(res.tempFilePath, 'utf8');
  assert.equal(text, 'hello from nginx\n');
});

test('failures carry WeChat errMsg and errno; an HTTP error is a success', async () => {
  const cases = [
    [{}, 600005, 'downloadFile:fail url is null or nil'],
    [{ url: 'ftp://127.0.0.1/x' }, 600009, 'downloadFile:fail invalid url'],
    [{ url: `${base}/hello.txt`, header: 'x' }, 600005, 'downloadFile:fail invalid header'],
    [{ url: 'http://127.0.0.1:1/x' }, 600001, 'downloadFile:fail connect fail'],
    [{ url: `${base}/slow/big.bin`, timeout: 200 }, 5, 'downloadFile:fail timeout'],
    [{ url: `${base}/hello.txt`, filePath: 'wxfile://usr/../escape' }, 603303, 'downloadFile:fail permission denied'],
    [{ url: `${base}/hello.txt`, integrity: '0'.repeat(64) }, 603901, 'downloadFile:fail integrity check fail'],
    [{ url: `${base}/slow/big.bin`, abortAfterHeaders: true }, 603105, 'downloadFile:fail abort'],
  ];
  for (const [opts, errno, prefix] of cases) {
    const { events } = await settle(opts);
    const f = events.find((e) => e[0] === 'fail');
    assert.ok(f, `${JSON.stringify(opts)} failed`);
    assert.equal(f[1].errno, errno, f[1].errMsg);
    assert.ok(f[1].errMsg.startsWith(prefix), f[1].errMsg);
    assert.equal(events.filter((e) => e[0] === 'success').length, 0);
  }
  const { events } = await settle({ url: `${base}/status/404` });
  assert.equal(events.find((e) => e[0] === 'success')[1].statusCode, 404);
});

test("createWx's networkTimeout is app.json's: the timeout of a download that gives none", async () => {
  const timed = createWx({ networkTimeout: { downloadFile: 200 } });
  const r = await new Promise((resolve) => {
    timed.downloadFile({ url: `${base}/slow/big.bin`, success: resolve, fail: resolve });
  });
  assert.equal(r.errMsg, 'downloadFile:fail timeout');
  assert.equal(r.errno, 5);
});

test('every other failure row reachable from Node, with its errno', async () => {
  const https = process.env.WXDL_TEST_HTTPS;
  const fsm = wx.getFileSystemManager();
  fsm.mkdirSync(`${wx.env.USER_DATA_PATH}/adir`);
  const rows = [
    [wx, { url: 'http://nowhere.test/x' }, 600001, 'downloadFile:fail dns resolve fail'],
    [wx, { url: `${https}/hello.txt` }, 600001, 'downloadFile:fail ssl handshake fail'],
    [wx, { url: `${base}/drop` }, 600001, 'downloadFile:fail network interrupted'],
    [wx, { url: `${base}/loop` }, 600008, 'downloadFile:fail too many redirects'],
    [wx, { url: `${base}/huge.bin` }, 603301, 'downloadFile:fail exceed max file size'],
    [wx, { url: `${base}/hello.txt`, filePath: `${wx.env.USER_DATA_PATH}/missing/f` }, 1300002,
      'downloadFile:fail no such file or directory'],
    [wx, { url: `${base}/hello.txt`, filePath: `${wx.env.USER_DATA_PATH}/adir` }, 1301003,
      'downloadFile:fail illegal operation on a directory'],
    [wx, { url: `${base}/hello.txt`, filePath: `${wx.env.USER_DATA_PATH}/${'n'.repeat(256)}` }, 603300,
      'downloadFile:fail write file fail'],
    [createWx({ usrQuota: 10, promise: true }), { url: `${base}/hello.txt`, filePath: 'wxfile://usr/big.txt' }, 1300202,
      'downloadFile:fail the maximum size of the file storage limit is exceeded'],
    [createWx({ domains: ['example.com'], promise: true }), { url: 'https://127.0.0.1/x' }, null,
      'downloadFile:fail url not in domain list'],
  ];
  for (const [w, opts, errno, prefix] of rows) {
    const res = await w.downloadFile(opts).then(() => null, (e) => e);
    assert.ok(res, `${JSON.stringify(opts)} failed`);
    assert.ok(res.errMsg.startsWith(prefix), `${prefix}: ${res.errMsg}`);
    if (errno !== null) assert.equal(res.errno, errno, res.errMsg);
    else assert.equal(typeof res.errno, 'number');
  }
});

test('no task is thenable without the promise opt-in, as in WeChat', async () => {
  const t = plainWx.downloadFile({ url: `${base}/hello.txt` });
  assert.equal(typeof t.then, 'undefined');
  assert.equal(await t, t);
  assert.equal(typeof plainWx.request({ url: `${base}/hello.txt` }).then, 'undefined');
});

test('the thenable rule: a promise only without callbacks; no callback after complete', async () => {
  const res = await wx.downloadFile({ url: `${base}/hello.txt` });
  assert.equal(res.statusCode, 200);
  await assert.rejects(wx.downloadFile({ url: '' }), (e) => e.errno === 600005);
  const task = wx.downloadFile({ url: `${base}/hello.txt`, complete() {} });
  assert.equal(typeof task.then, 'undefined');
  assert.equal(typeof task.abort, 'function');
  const { events, task: done } = await settle({ url: `${base}/hello.txt` });
  const count = events.length;
  done.abort();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(events.length, count, 'nothing after complete');
});

test('the file system manager is confined to the sandbox', async () => {
  const fsm = wx.getFileSystemManager();
  fsm.writeFileSync(`${wx.env.USER_DATA_PATH}/note.txt`, 'mine', 'utf8');
  assert.equal(fsm.readFileSync('wxfile://usr/note.txt', 'utf8'), 'mine');
  assert.ok(fsm.readdirSync(wx.env.USER_DATA_PATH).includes('note.txt'));
  assert.throws(() => fsm.readFileSync('wxfile://usr/../../../etc/passwd', 'utf8'), /readFileSync:fail permission denied/);
  assert.throws(() => fsm.readFileSync('/etc/passwd', 'utf8'), /readFileSync:fail/);
  const res = await wx.downloadFile({ url: `${base}/hello.txt`, filePath: `${wx.env.USER_DATA_PATH}/h.txt` });
  assert.equal(res.filePath, 'wxfile://usr/h.txt');
  assert.equal(fsm.statSync('wxfile://usr/h.txt').size, 17);
});

test('at most `concurrency` at once, admitted first in first out', async () => {
  // With one slot, each request goes out only after the previous body is in: the response
  // heads arrive in call order. (A finished body's fsync and rename may overlap the next
  // download, so completions need not be in order.)
  const one = createWx({ concurrency: 1 });
  const order = [];
  await Promise.all([0, 1, 2, 3, 4].map((i) => new Promise((resolve) => {
    const task = one.downloadFile({ url: `${base}/hello.txt?i=${i}`, complete: resolve });
    task.onHeadersReceived(() => order.push(i));
  })));
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
});

test('a listener added later in the calling turn hears every event, however long the turn', async () => {
  // The engine runs on its own threads: this download ends while the turn is still busy, and
  // its headers and progress must still reach listeners the turn adds afterwards.
  const events = [];
  const done = new Promise((resolve) => {
    const task = wx.downloadFile({ url: `${base}/hello.txt`, complete: resolve });
    const until = Date.now() + 300;
    while (Date.now() < until) { /* a busy turn */ }
    task.onHeadersReceived(() => events.push('headers'));
    task.onProgressUpdate((p) => events.push(`progress ${p.progress}`));
  });
  await done;
  assert.deepEqual([events[0], events[events.length - 1]], ['headers', 'progress 100']);
});

test('an exception in a callback is an uncaught exception, as Node surfaces any', () => {
  const script = `
    const { createWx } = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    process.on('uncaughtException', (e) => { console.log('uncaught', e.message); process.exit(0); });
    createWx({}).downloadFile({ url: '${base}/hello.txt', success() { throw new Error('boom'); } });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.match(r.stdout, /uncaught boom/, r.stderr);
});

test('resume and split never splice two versions (a server that changes the file, ignores If-Range)', async (t) => {
  const resumed = process.env.WXDL_TEST_CHANGING_RESUME;
  const split = process.env.WXDL_TEST_CHANGING_SPLIT;
  if (!resumed || !split) return t.skip('no staged servers');
  const crypto = require('node:crypto');
  const one = await settle({ url: `${resumed}/r`, filePath: 'wxfile://usr/r.bin', resume: true, retry: 2, retryDelay: 10 });
  const ok = one.events.find((e) => e[0] === 'success');
  assert.ok(ok, JSON.stringify(one.events.filter((e) => e[0] === 'fail')));
  assert.equal(ok[1].dataLength, 2097152);
  const bytes = Buffer.from(wx.getFileSystemManager().readFileSync('wxfile://usr/r.bin'));
  assert.equal(crypto.createHash('sha256').update(bytes).digest('hex'), process.env.WXDL_TEST_V2_SHA, 'the new version whole');
  const two = await settle({ url: `${split}/s`, filePath: 'wxfile://usr/s.bin', split: 4 });
  const fail = two.events.find((e) => e[0] === 'fail');
  assert.ok(fail, 'a split over a changing file fails');
  assert.match(fail[1].errMsg, /^downloadFile:fail /);
  assert.throws(() => wx.getFileSystemManager().accessSync('wxfile://usr/s.bin'));
});

test('header values as WeChat devtools send them: a number or boolean as its string, null and undefined not at all', async (t) => {
  const echo = process.env.WXDL_TEST_ECHO;
  if (!echo) return t.skip('no echo server');
  const header = { 'X-N': 5, 'X-F': 1.5, 'X-T': true, 'X-Off': false, 'X-S': 's', 'X-Null': null, 'X-Undef': undefined };
  const { events } = await settle({ url: `${echo}/h`, header });
  const ok = events.find((e) => e[0] === 'success');
  assert.ok(ok, JSON.stringify(events.filter((e) => e[0] === 'fail')));
  const lines = wx.getFileSystemManager().readFileSync(ok[1].tempFilePath, 'utf8').toLowerCase().split('\r\n');
  for (const sent of ['x-n: 5', 'x-f: 1.5', 'x-t: true', 'x-off: false', 'x-s: s']) assert.ok(lines.includes(sent), sent);
  assert.ok(!lines.some((l) => l.startsWith('x-null') || l.startsWith('x-undef')), lines.join('\n'));
  const object = await settle({ url: `${echo}/h`, header: { 'X-O': {} } });
  const fail = object.events.find((e) => e[0] === 'fail')[1];
  assert.deepEqual([fail.errno, fail.errMsg], [600005, 'downloadFile:fail invalid header: value of X-O should be String instead of Object']);
});

test('an API wxdl lacks is absent; canIUse answers for what it has; its APIs are enumerable own properties', () => {
  assert.equal(typeof wx.navigateToMiniProgram, 'undefined');
  assert.equal(wx.canIUse('navigateToMiniProgram'), false);
  assert.equal(wx.canIUse('downloadFile'), true);
  assert.equal(wx.canIUse('getFileSystemManager'), true);
  assert.equal(wx.canIUse('toString'), false);
  const own = Object.keys(wx);
  for (const k of ['downloadFile', 'getFileSystemManager', 'saveFile', 'getNetworkType', 'canIUse']) assert.ok(own.includes(k), k);
  assert.throws(() => wx.navigateToMiniProgram({}), TypeError);
});

test('what the JS host has: storage sync and async, system info, toasts and modals, documents, the app lifecycle', async () => {
  const own = createWx({ appid: 'wxstorage' });
  own.setStorageSync('n', { a: [1, 2] });
  assert.deepEqual(own.getStorageSync('n'), { a: [1, 2] });
  assert.equal(own.getStorageSync('missing'), '');
  const got = await new Promise((resolve) => own.getStorage({ key: 'n', success: resolve }));
  assert.deepEqual([got.errMsg, got.data], ['getStorage:ok', { a: [1, 2] }]);
  const missing = await own.getStorage({ key: 'missing' }).catch((e) => e);
  assert.equal(missing.errMsg, 'getStorage:fail data not found');
  await own.setStorage({ key: 's', data: 'x' });
  assert.deepEqual(own.getStorageInfoSync().keys, ['n', 's']);
  own.removeStorageSync('n');
  own.clearStorage({ success: () => {} });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(own.getStorageInfoSync().keys, []);
  assert.throws(() => own.setStorageSync('', 1), /^Error: setStorageSync:fail parameter error/);
  // The same appid over the same root sees what was stored (one storage file per appid).
  const root = own.wxdl.root;
  createWx({ root, appid: 'wxstorage' }).setStorageSync('kept', 7);
  assert.equal(createWx({ root, appid: 'wxstorage' }).getStorageSync('kept'), 7);

  const info = own.getSystemInfoSync();
  assert.equal(info.platform, 'devtools');
  const async = await new Promise((resolve) => own.getSystemInfo({ success: resolve }));
  assert.deepEqual([async.errMsg, async.windowWidth], ['getSystemInfo:ok', info.windowWidth]);

  const modal = await own.showModal({ title: 't', content: 'c' });
  assert.deepEqual([modal.errMsg, modal.confirm], ['showModal:ok', true]);
  for (const api of ['showToast', 'hideToast', 'showLoading', 'hideLoading']) {
    assert.equal((await own[api]({ title: 'x' })).errMsg, `${api}:ok`);
  }
  const { events } = await settle({ url: `${base}/hello.txt`, filePath: 'wxfile://usr/doc.pdf' });
  assert.ok(events.find((e) => e[0] === 'success'));
  const noDoc = await own.openDocument({ filePath: 'wxfile://usr/doc.pdf' }).catch((e) => e);
  assert.equal(noDoc.errMsg, 'openDocument:fail file not exist', 'another sandbox');
  assert.equal((await wx.openDocument({ filePath: 'wxfile://usr/doc.pdf' })).errMsg, 'openDocument:ok');

  const seen = [];
  const onHide = (r) => seen.push(['hide', r.scene]);
  own.onAppHide(onHide);
  own.onAppShow(() => seen.push(['show']));
  own.wxdl.hide();
  own.wxdl.show();
  own.offAppHide(onHide);
  own.wxdl.hide();
  assert.deepEqual(seen, [['hide', 1001], ['show']]);
  for (const k of ['setStorage', 'getSavedFileList', 'openDocument', 'showToast', 'getSystemInfoSync', 'onAppShow']) {
    assert.ok(Object.keys(own).includes(k) && own.canIUse(k), k);
  }
});

test('a throw inside success still runs complete (a Jest-style test that waits for complete)', () => {
  // Each API's success throws (an assertion failing, in a test); the test waits for complete.
  // The throw still surfaces as an uncaught exception, after complete ran.
  const script = `
    const { createWx } = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const wx = createWx({});
    const thrown = [];
    process.on('uncaughtException', (e) => thrown.push(e.message));
    const until = (api, obj) => new Promise((resolve) => {
      wx[api]({ ...obj, success() { throw new Error(api); }, complete: () => resolve(api) });
    });
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timed out'), 10000).unref());
    const apis = [
      until('downloadFile', { url: '${base}/hello.txt' }),
      until('setStorage', { key: 'k', data: 1 }),
      until('getSystemInfo', {}),
      until('showToast', { title: 't' }),
    ];
    Promise.race([Promise.all(apis), timeout]).then((r) => {
      setImmediate(() => console.log(JSON.stringify({ completed: r, thrown: thrown.sort() })));
    });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.deepEqual(JSON.parse(r.stdout), {
    completed: ['downloadFile', 'setStorage', 'getSystemInfo', 'showToast'],
    thrown: ['downloadFile', 'getSystemInfo', 'setStorage', 'showToast'],
  }, r.stderr);
});

test('wx.request and wx.uploadFile: the wire, data by dataType/responseType, chunks, progress', async () => {
  const api = process.env.WXDL_TEST_API;
  const req = (opts) => new Promise((resolve) => {
    const t = wx.request({ ...opts, success: (r) => resolve(['ok', r, t]), fail: (e) => resolve(['fail', e, t]) });
    if (opts.onChunk) t.onChunkReceived(opts.onChunk);
  });
  const [k1, get] = await req({ url: `${api}/get`, data: { q: 'a b' }, header: { 'X-N': 3 } });
  assert.equal(k1, 'ok');
  assert.equal(get.errMsg, 'request:ok');
  assert.equal(get.data.path, '/get?q=a%20b');
  assert.equal(get.data.headers['x-n'], '3');
  assert.equal(get.header['Content-Type'], 'application/json');
  assert.deepEqual(get.cookies, []);
  assert.equal(typeof get.profile.fetchStart, 'number');
  const [, post] = await req({ url: `${api}/post`, method: 'POST', data: new Uint8Array([1, 2, 3, 4]) });
  assert.equal(post.data.body_len, 4);
  let chunked = 0;
  const [, bytes] = await req({ url: `${api}/bytes/50000`, responseType: 'arraybuffer', enableChunked: true,
    onChunk: (c) => { chunked += c.data.byteLength; } });
  assert.ok(bytes.data instanceof ArrayBuffer);
  assert.equal(bytes.data.byteLength, 50000);
  assert.equal(new Uint8Array(bytes.data)[300], 300 % 251);
  assert.equal(chunked, 50000);
  const [k4, bad] = await req({ url: `${api}/x`, method: 'PATCH' });
  assert.equal(k4, 'fail');
  assert.equal(bad.errno, 600005);
  assert.match(bad.errMsg, /^request:fail parameter error: parameter\.method should be one of/);
  // Thenable without callbacks, as the download's.
  const res = await wx.request({ url: `${api}/then`, dataType: 'text' });
  assert.equal(typeof res.data, 'string');

  const fsm = wx.getFileSystemManager();
  fsm.writeFileSync(`${wx.env.USER_DATA_PATH}/up.bin`, new Uint8Array(200000).fill(5).buffer);
  const progress = [];
  const up = await new Promise((resolve) => {
    const t = wx.uploadFile({ url: `${api}/up`, filePath: `${wx.env.USER_DATA_PATH}/up.bin`, name: 'f',
      formData: { user: 7 }, success: resolve, fail: resolve });
    t.onProgressUpdate((p) => progress.push(p));
  });
  assert.equal(up.errMsg, 'uploadFile:ok');
  assert.equal(typeof up.data, 'string');
  const echoed = JSON.parse(up.data);
  assert.deepEqual(echoed.parts.map((p) => p.name), ['user', 'f']);
  assert.equal(echoed.parts[1].len, 200000);
  const last = progress[progress.length - 1];
  assert.equal(last.progress, 100);
  assert.equal(last.totalBytesSent, last.totalBytesExpectedToSend);
});
