// A Mini Program's network module as WeChat's docs suggest writing it: every wx API promisified
// once with miniprogram-api-promise, then awaited. Runs unchanged in the page (`wxdl run`) and
// under Jest (the Node package).
import { promisifyAll } from 'miniprogram-api-promise';

export const wxp = {};
promisifyAll(wx, wxp);

// Fetches from `base` through the promisified API: a JSON request, a download, the network
// type, and a request that fails (its rejection is WeChat's fail object).
export async function load(base) {
  const report = { promisified: typeof wxp.request === 'function' && typeof wxp.downloadFile === 'function' };
  const res = await wxp.request({ url: `${base}/data.json`, method: 'GET' });
  report.request = { statusCode: res.statusCode, errMsg: res.errMsg, data: res.data };
  const dl = await wxp.downloadFile({ url: `${base}/data.json` });
  const fs = wx.getFileSystemManager();
  report.download = {
    statusCode: dl.statusCode,
    errMsg: dl.errMsg,
    temp: dl.tempFilePath.startsWith('wxfile://tmp_'),
    text: fs.readFileSync(dl.tempFilePath, 'utf8'),
  };
  report.network = (await wxp.getNetworkType()).errMsg;
  try {
    await wxp.request({ url: 'http://127.0.0.1:9/refused' });
    report.refused = 'resolved';
  } catch (e) {
    report.refused = { errMsg: e.errMsg, errno: e.errno };
  }
  return report;
}
