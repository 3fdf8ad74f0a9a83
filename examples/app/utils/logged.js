// A page definition that logs its lifecycle as `name.hook` into the app's globalData.
const log = (s) => getApp().globalData.log.push(s);
module.exports = (name, extra) => Object.assign({
  onLoad(o) { log(`${name}.onLoad ${this.route} ${JSON.stringify(o)}`); },
  onShow() { log(`${name}.onShow`); },
  onReady() { log(`${name}.onReady`); },
  onHide() { log(`${name}.onHide`); },
  onUnload() { log(`${name}.onUnload`); },
}, extra || {});
