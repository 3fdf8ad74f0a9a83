'use strict';
// Jest setup: `setupFiles: ['wxdl/jest']` (or `setupFilesAfterEnv`) gives every test file a
// real `wx` (global.wx) over a fresh sandbox of its own under the system's temp directory. The
// sandbox is removed when the worker process exits (by the engine: Jest gives each test file a
// copy of `process` whose 'exit' event never fires), and at once after the file's tests when
// the setup runs where `afterAll` exists (`setupFilesAfterEnv`).
const fs = require('fs');
const { createWx } = require('./index.js');

// `global.wxdlConfig` (set by an earlier setup file) configures it: `{promise: true}`, a
// `network`, `domains`, … as createWx takes.
global.wx = createWx(global.wxdlConfig || {});
if (typeof afterAll === 'function') {
  const { root } = global.wx.wxdl;
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
}
