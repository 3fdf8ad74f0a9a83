// `wxdl run pages/index/index.js --serve static:0`: the page loads through the promisified
// API and prints what it got as JSON.
import { load } from '../../api';

Page({
  async onLoad() {
    const report = await load(wxdl.serveOrigin);
    console.log(JSON.stringify(report));
  },
});
