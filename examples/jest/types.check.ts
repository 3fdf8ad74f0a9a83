// Code typed against the official miniprogram-api-typings type-checks against the wxdl
// package: its wx.downloadFile takes WechatMiniprogram.DownloadFileOption and its task is a
// WechatMiniprogram.DownloadTask. `npm run typecheck` (tsc --noEmit).
/// <reference types="miniprogram-api-typings" />
import { createWx } from 'wxdl';

const wx2 = createWx({ root: '/tmp/wxdl-types', network: '3g' });

const option: WechatMiniprogram.DownloadFileOption = {
  url: 'https://example.com/a.mp3',
  header: { 'X-Token': 'abc' },
  timeout: 5000,
  success(res) {
    const path: string = res.tempFilePath;
    const status: number = res.statusCode;
    void path;
    void status;
  },
  fail(err) {
    const msg: string = err.errMsg;
    void msg;
  },
};
const task: WechatMiniprogram.DownloadTask = wx2.downloadFile(option);
task.onProgressUpdate((p) => {
  const pct: number = p.progress;
  void pct;
});
task.onHeadersReceived((h) => void h.header);
task.abort();

async function thenable(): Promise<number> {
  const res = await wx2.downloadFile({ url: 'https://example.com/b' });
  return res.statusCode;
}
void thenable;
