// The app: its globalData is the log every page writes its lifecycle to.
App({
  globalData: { log: [] },
  onLaunch(o) { this.globalData.log.push(`app.onLaunch scene=${o.scene}`); },
  onShow() { this.globalData.log.push('app.onShow'); },
  onHide() { this.globalData.log.push('app.onHide'); },
});
