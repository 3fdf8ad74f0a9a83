// The real wx (wxdl) for every test file, in the DOM environment miniprogram-simulate renders in.
module.exports = {
  testEnvironment: 'jsdom',
  setupFiles: ['wxdl/jest'],
  testTimeout: 30000,
};
