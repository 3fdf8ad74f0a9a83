'use strict';
// Jest setup: `setupFiles: ['wxdl/jest']` gives every test file a real `wx` (global.wx) over
// a fresh sandbox of its own, removed when the test file's worker is done with it.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { createWx } = require('./index.js');

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wxdl-jest-'));
global.wx = createWx({ root });
process.once('exit', () => fs.rmSync(root, { recursive: true, force: true }));
if (typeof afterAll === 'function') {
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
}
