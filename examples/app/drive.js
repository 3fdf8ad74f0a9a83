// Drives the app through its pages as a test does, in both JS faces: `navigate(api, options)`
// is `wxdl.navigate` on the JS host (main.js) and `app.navigate` from Node's `loadApp`; `url`
// is a slow file the detail page starts downloading and aborts when it is closed. Reports the
// app's lifecycle log.
module.exports = async function drive(navigate, url, report) {
  const app = getApp();
  const log = (s) => app.globalData.log.push(s);
  const stack = () => log(`stack ${getCurrentPages().map((p) => p.route).join(',')}`);
  app.globalData.url = url;
  const settled = new Promise((resolve) => { app.globalData.settled = resolve; });
  stack();
  await navigate('navigateTo', { url: '../detail/detail?id=7' });
  stack();
  await navigate('navigateBack');
  await settled;
  await navigate('switchTab', { url: '/pages/tab/tab' });
  await navigate('switchTab', { url: '/pages/list/list' });
  stack();
  for (const [api, to] of [['navigateTo', '/pages/nope/nope'], ['navigateBack'], ['navigateTo', '/pages/tab/tab']]) {
    await new Promise((resolve) => wx[api]({ url: to, fail: (e) => { log(`fail ${e.errMsg}`); resolve(); } }));
  }
  await navigate('redirectTo', { url: '/pages/detail/detail?id=8' });
  const page = getCurrentPages()[0];
  log(`options ${JSON.stringify(page.options)} ${page.route}`);
  // Closing the page aborts its second download: the run ends now, not when the file would.
  const again = new Promise((resolve) => { app.globalData.settled = resolve; });
  await navigate('reLaunch', { url: '/pages/tab/tab' });
  await again;
  report(app.globalData.log);
};
