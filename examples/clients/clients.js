// Libraries Mini Programs reach wx.request through, unmodified, against a server that echoes
// what it got (`node clients.js BASE_URL`): axios 0.27 with axios-miniprogram-adapter, and
// flyio's wx engine, over wxdl's `wx` in Node. Prints one JSON report.
'use strict';
const { createWx } = require('wxdl');
global.wx = createWx();
const base = process.argv[2];
const axios = require('axios');
const mpAdapter = require('axios-miniprogram-adapter');
const Fly = require('flyio/dist/npm/wx');

async function main() {
  const report = {};
  const ax = axios.create({ adapter: mpAdapter.default || mpAdapter });
  const a = await ax.post(`${base}/axios?x=1`, { hello: 'axios' }, { headers: { 'X-Lib': 'axios' } });
  report.axios = { status: a.status, method: a.data.method, body: a.data.body_text, lib: a.data.headers['x-lib'] };
  const a404 = await ax.get(`${base}/status/404`).catch((e) => e.response && e.response.status);
  report.axios404 = a404;
  const fly = new Fly();
  const f = await fly.request(`${base}/fly`, { k: 'v w' }, { method: 'GET' });
  report.fly = { status: f.status, path: f.data.path };
  const fp = await fly.post(`${base}/flypost`, { n: 1 });
  report.flyPost = { method: fp.data.method, body: fp.data.body_text, type: fp.data.headers['content-type'] };
  console.log(JSON.stringify(report));
}
main().catch((e) => { console.error(e); process.exit(1); });
