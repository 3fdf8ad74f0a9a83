// `wxdl run examples/app/main.js --serve examples/static:8000`: app.js runs first (App,
// onLaunch, onShow), this entry opens the list page, then drive.js moves between the pages
// (wxdl.navigate) and prints the app's lifecycle log. The detail page downloads a file and
// aborts it in onUnload.
wxdl.navigate('reLaunch', { url: '/pages/list/list?from=main' })
  .then(() => require('./drive.js')(wxdl.navigate, `${wxdl.serveOrigin}/bundle.zip`, (log) => console.log(JSON.stringify(log, null, 2))));
