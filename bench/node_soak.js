'use strict';
// Memory over many downloads through the Node package: N downloads (default 10 000), 10 at a
// time, of 16 KiB bodies from an in-process HTTP server on 127.0.0.1, each into one of ten user
// files (replaced again and again). RSS and heap are sampled every N/10 downloads; the run
// fails when RSS at the end exceeds RSS at the second sample by more than 50 % + 20 MiB (a
// leak grows with N).
//
//   node --expose-gc --max-semi-space-size=1 bench/node_soak.js [N]
//                                    (needs scripts/build-node.sh first; the semispace cap
//                                    keeps V8's young-generation sizing out of the RSS)
const http = require('http');
const path = require('path');
const { createWx } = require(path.join(__dirname, '../crates/wxdl-node/npm'));

const n = Number(process.argv[2] || 10000);
const body = Buffer.alloc(16 * 1024, 7);
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
  res.end(body);
});

server.listen(0, '127.0.0.1', async () => {
  const url = `http://127.0.0.1:${server.address().port}/f.bin`;
  const wx = createWx({ promise: true });
  const fsm = wx.getFileSystemManager();
  const samples = [];
  const step = Math.max(1, Math.floor(n / 10));
  let done = 0;
  let failed = 0;
  // Ten user files, each replaced again and again (temp files could not be removed).
  const one = (_, i) => wx.downloadFile({ url, filePath: `${wx.env.USER_DATA_PATH}/f${i}.bin` }).then(
    (r) => { if (fsm.statSync(r.filePath).size !== body.length) failed += 1; },
    () => { failed += 1; },
  );
  const started = Date.now();
  while (done < n) {
    const batch = Math.min(10, n - done);
    await Promise.all(Array.from({ length: batch }, one));
    done += batch;
    if (done % step === 0 || done === n) {
      if (global.gc) global.gc();
      const m = process.memoryUsage();
      samples.push([done, Math.round(m.rss / 1024), Math.round(m.heapUsed / 1024)]);
    }
  }
  server.close();
  console.log(`| downloads | RSS KiB | JS heap KiB |\n|---|---|---|`);
  for (const [d, rss, heap] of samples) console.log(`| ${d} | ${rss} | ${heap} |`);
  console.log(`\n${n} downloads in ${((Date.now() - started) / 1000).toFixed(1)} s, ${failed} failed`);
  const base = samples[Math.min(1, samples.length - 1)][1];
  const last = samples[samples.length - 1][1];
  if (failed > 0 || last > base * 1.5 + 20 * 1024) {
    console.error(`node soak: RSS grew from ${base} to ${last} KiB, or downloads failed`);
    process.exit(1);
  }
});
