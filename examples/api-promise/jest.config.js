// The real wx (wxdl) for every test file. miniprogram-api-promise ships untranspiled ES modules
// (WeChat's devtools transpile them in their npm build): babel-jest does the same here.
module.exports = {
  testEnvironment: 'node',
  setupFiles: ['wxdl/jest'],
  testTimeout: 30000,
  transform: {
    '\\.js$': ['babel-jest', { plugins: ['@babel/plugin-transform-modules-commonjs'] }],
  },
  transformIgnorePatterns: ['/node_modules/(?!miniprogram-api-promise/)'],
};
