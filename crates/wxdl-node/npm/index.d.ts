// Types of the `wxdl` package. The wx shapes follow miniprogram-api-typings (WechatMiniprogram
// .DownloadFileOption, .DownloadTask, .DownloadFileSuccessCallbackResult, ...) under the same
// member names, so code typed against those compiles against these; `[beyond]` members are
// wxdl's own and off unless given.

export interface GeneralCallbackResult {
  errMsg: string;
  /** WeChat's error number, on failures. */
  errno?: number;
}

export interface DownloadProfile {
  invokeStart: number; queueStart: number; queueEnd: number; redirectStart: number;
  redirectEnd: number; fetchStart: number; domainLookUpStart: number; domainLookUpEnd: number;
  connectStart: number; SSLconnectionStart: number; SSLconnectionEnd: number; connectEnd: number;
  requestStart: number; requestEnd: number; responseStart: number; responseEnd: number;
  domainLookupStart: number; domainLookupEnd: number;
  /** WeChat's HttpDNS lookup: always 0 here (the system's DNS is used). */
  httpDNSDomainLookUpStart: number; httpDNSDomainLookUpEnd: number;
  rtt: number; estimate_nettype: number; httpRttEstimate: number; transportRttEstimate: number;
  downstreamThroughputKbpsEstimate: number; throughputKbps: number; peerIP: string; port: number;
  socketReused: boolean; sendBytesCount: number; receivedBytedCount: number; protocol: string;
  usingHighPerformanceMode: boolean;
  [key: string]: unknown;
}

export interface DownloadFileSuccessCallbackResult extends GeneralCallbackResult {
  /** The HTTP status (any status is a success, as in WeChat). */
  statusCode: number;
  /** `wxfile://tmp_…` when no filePath was given (typed as a string, as WeChat's typings do). */
  tempFilePath: string;
  /** The filePath given, echoed (typed as a string, as WeChat's typings do). */
  filePath: string;
  header?: Record<string, string>;
  dataLength: number;
  /** Present unless `enableProfile: false`. */
  profile: DownloadProfile;
  /** [beyond] Where the file is on this machine. */
  savedPath: string;
  /** [beyond] Bytes reused from an earlier, interrupted run (`resume`). */
  resumedFrom?: number;
  /** [beyond] The target was kept as it was (a 304 to your conditional request, a 204). */
  unchanged?: boolean;
}

export interface DownloadFileOption {
  url: string;
  /** A number or boolean value is sent as its string; null and undefined are not sent. */
  header?: Record<string, string | number | boolean | null | undefined>;
  timeout?: number;
  filePath?: string;
  enableHttp2?: boolean;
  enableQuic?: boolean;
  enableProfile?: boolean;
  useHighPerformanceMode?: boolean;
  /** [beyond] `sha256-<base64>` or 64 hex digits; a mismatch fails and leaves nothing. */
  integrity?: string;
  /** [beyond] Fail with `timeout` when no body byte arrives for this long (ms). */
  stallTimeout?: number;
  /** [beyond] At most this many body bytes per second. */
  rateLimit?: number;
  /** [beyond] Tries after the first, for failures a later try may not meet. */
  retry?: number;
  retryDelay?: number;
  retryHttp?: boolean;
  /** [beyond] Keep an interrupted body and continue it next time (Range/If-Range). */
  resume?: boolean;
  /** [beyond] Fetch a large body as this many ranged requests at once (at most 16). */
  split?: number;
  /** [beyond] Let a 204 replace an existing file with its empty body (kept by default). */
  saveEmpty?: boolean;
  success?: (res: DownloadFileSuccessCallbackResult) => void;
  fail?: (res: GeneralCallbackResult) => void;
  complete?: (res: GeneralCallbackResult) => void;
}

export interface OnProgressUpdateListenerResult {
  progress: number;
  totalBytesWritten: number;
  totalBytesExpectedToWrite: number;
}

export interface OnHeadersReceivedListenerResult {
  header: Record<string, string>;
  statusCode: number;
}

/** `RequestTask.onHeadersReceived`: also each `Set-Cookie` as sent, in order. */
export interface RequestHeadersReceivedListenerResult extends OnHeadersReceivedListenerResult {
  cookies: string[];
}

export interface DownloadTask {
  abort(): void;
  onProgressUpdate(listener: (res: OnProgressUpdateListenerResult) => void): void;
  offProgressUpdate(listener?: (res: OnProgressUpdateListenerResult) => void): void;
  onHeadersReceived(listener: (res: OnHeadersReceivedListenerResult) => void): void;
  offHeadersReceived(listener?: (res: OnHeadersReceivedListenerResult) => void): void;
}

/** A task that is also a promise: what a call without success/fail/complete returns. */
export interface ThenableDownloadTask extends DownloadTask, PromiseLike<DownloadFileSuccessCallbackResult> {
  catch<T = never>(onrejected?: (reason: GeneralCallbackResult) => T | PromiseLike<T>): Promise<DownloadFileSuccessCallbackResult | T>;
  finally(onfinally?: () => void): Promise<DownloadFileSuccessCallbackResult>;
}

export interface RequestOption {
  url: string;
  /** A GET's query; other methods: JSON by default, a form with x-www-form-urlencoded. */
  data?: string | Record<string, any> | ArrayBuffer;
  header?: Record<string, any>;
  timeout?: number;
  method?: 'OPTIONS' | 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'TRACE' | 'CONNECT';
  /** `json` (default): `data` parsed when it parses. */
  dataType?: string;
  responseType?: 'text' | 'arraybuffer';
  enableChunked?: boolean;
  redirect?: 'follow' | 'manual';
  enableHttp2?: boolean;
  enableQuic?: boolean;
  enableCache?: boolean;
  enableHttpDNS?: boolean;
  forceCellularNetwork?: boolean;
  enableProfile?: boolean;
  useHighPerformanceMode?: boolean;
  success?: (res: RequestSuccessCallbackResult) => void;
  fail?: (res: GeneralCallbackResult) => void;
  complete?: (res: GeneralCallbackResult) => void;
}

export interface RequestSuccessCallbackResult {
  data: string | Record<string, any> | ArrayBuffer;
  statusCode: number;
  header: Record<string, string>;
  cookies: string[];
  profile?: DownloadProfile;
  errMsg: string;
}

export interface RequestTask {
  abort(): void;
  onHeadersReceived(listener: (res: RequestHeadersReceivedListenerResult) => void): void;
  offHeadersReceived(listener?: (res: RequestHeadersReceivedListenerResult) => void): void;
  onChunkReceived(listener: (res: { data: ArrayBuffer }) => void): void;
  offChunkReceived(listener?: (res: { data: ArrayBuffer }) => void): void;
}

export interface UploadFileOption {
  url: string;
  filePath: string;
  name: string;
  header?: Record<string, any>;
  formData?: Record<string, any>;
  timeout?: number;
  enableHttp2?: boolean;
  enableQuic?: boolean;
  enableProfile?: boolean;
  success?: (res: UploadFileSuccessCallbackResult) => void;
  fail?: (res: GeneralCallbackResult) => void;
  complete?: (res: GeneralCallbackResult) => void;
}

export interface UploadFileSuccessCallbackResult {
  /** The response body as text. */
  data: string;
  statusCode: number;
  header: Record<string, string>;
  profile?: DownloadProfile;
  errMsg: string;
}

export interface UploadTask {
  abort(): void;
  onProgressUpdate(listener: (res: { progress: number; totalBytesSent: number; totalBytesExpectedToSend: number }) => void): void;
  offProgressUpdate(listener?: Function): void;
  onHeadersReceived(listener: (res: OnHeadersReceivedListenerResult) => void): void;
  offHeadersReceived(listener?: (res: OnHeadersReceivedListenerResult) => void): void;
}

/** A file system manager operation's `fail` result, as miniprogram-api-typings' `FileError`
 * (1300002 no such file or directory, 1300013 permission denied, 1300009 bad file descriptor,
 * …); a sync form's thrown Error carries the same `errCode`. */
export interface FileError {
  errMsg: string;
  errCode: number;
}

export interface FileSystemManager {
  accessSync(path: string): void;
  statSync(path: string): { size: number; isFile(): boolean; isDirectory(): boolean };
  readFileSync(filePath: string, encoding?: string, position?: number, length?: number): string | ArrayBuffer;
  writeFileSync(filePath: string, data: string | ArrayBuffer, encoding?: string): void;
  unlinkSync(filePath: string): void;
  readdirSync(dirPath: string): string[];
  mkdirSync(dirPath: string, recursive?: boolean): void;
  saveFileSync(tempFilePath: string, filePath?: string): string;
  appendFileSync(filePath: string, data: string | ArrayBuffer, encoding?: string): void;
  copyFileSync(srcPath: string, destPath: string): void;
  renameSync(oldPath: string, newPath: string): void;
  rmdirSync(dirPath: string, recursive?: boolean): void;
  truncateSync(filePath: string, length?: number): void;
  openSync(option: { filePath: string; flag?: string }): string;
  readSync(option: { fd: string; arrayBuffer: ArrayBuffer; offset?: number; length?: number; position?: number }): { bytesRead: number; arrayBuffer: ArrayBuffer };
  writeSync(option: { fd: string; data: string | ArrayBuffer; offset?: number; length?: number; position?: number; encoding?: string }): { bytesWritten: number };
  fstatSync(option: { fd: string }): { size: number; isFile(): boolean; isDirectory(): boolean };
  ftruncateSync(option: { fd: string; length?: number }): void;
  closeSync(option: { fd: string }): void;
  /** md5 (default) or sha1 of a file, with its size. */
  getFileInfo(option: { filePath: string; digestAlgorithm?: 'md5' | 'sha1' } & Callbacks): void;
  /** A brotli file's content (`compressionAlgorithm: 'br'`). */
  readCompressedFileSync(option: { filePath: string; compressionAlgorithm: 'br' }): ArrayBuffer;
  /** A zip of the sandbox into a directory under usr (confined, bounded, in the usr quota). */
  unzip(option: { zipFilePath: string; targetPath: string } & Callbacks): void;
  getSavedFileList(option?: Callbacks): void;
  removeSavedFile(option: { filePath: string } & Callbacks): void;
  /** Every operation also has its callback form (`readFile({filePath, success})`, …). */
  [op: string]: any;
}

export interface Wx {
  env: { USER_DATA_PATH: string };
  downloadFile(option: DownloadFileOption & ({ success: Function } | { fail: Function } | { complete: Function })): DownloadTask;
  downloadFile(option: DownloadFileOption): ThenableDownloadTask;
  request(option: RequestOption & ({ success: Function } | { fail: Function } | { complete: Function })): RequestTask;
  request(option: RequestOption): RequestTask & PromiseLike<RequestSuccessCallbackResult>;
  uploadFile(option: UploadFileOption & ({ success: Function } | { fail: Function } | { complete: Function })): UploadTask;
  uploadFile(option: UploadFileOption): UploadTask & PromiseLike<UploadFileSuccessCallbackResult>;
  getFileSystemManager(): FileSystemManager;
  /** Into the saved files (`wxfile://store_…`); a Promise without callbacks. */
  saveFile(option: { tempFilePath: string } & Callbacks): Promise<{ savedFilePath: string; errMsg: string }> | void;
  getSavedFileList(option?: Callbacks): Promise<{ fileList: { filePath: string; size: number; createTime: number }[]; errMsg: string }> | void;
  getSavedFileInfo(option: { filePath: string } & Callbacks): Promise<{ size: number; createTime: number; errMsg: string }> | void;
  removeSavedFile(option: { filePath: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  /** Checked (a document type) and printed as a JSON line on stderr. */
  openDocument(option: { filePath: string; fileType?: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  setStorage(option: { key: string; data: unknown } & Callbacks): Promise<GeneralCallbackResult> | void;
  setStorageSync(key: string, data: unknown): void;
  getStorage(option: { key: string } & Callbacks): Promise<{ data: any; errMsg: string }> | void;
  /** `''` for a key it does not have. */
  getStorageSync(key: string): any;
  removeStorage(option: { key: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  removeStorageSync(key: string): void;
  clearStorage(option?: Callbacks): Promise<GeneralCallbackResult> | void;
  clearStorageSync(): void;
  getStorageInfo(option?: Callbacks): Promise<StorageInfo & GeneralCallbackResult> | void;
  getStorageInfoSync(): StorageInfo;
  getSystemInfo(option?: Callbacks): Promise<Record<string, unknown>> | void;
  getSystemInfoSync(): Record<string, unknown>;
  /** Printed as JSON lines on stderr; a modal confirms. */
  showToast(option: { title: string; icon?: string; duration?: number } & Callbacks): Promise<GeneralCallbackResult> | void;
  hideToast(option?: Callbacks): Promise<GeneralCallbackResult> | void;
  showLoading(option: { title: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  hideLoading(option?: Callbacks): Promise<GeneralCallbackResult> | void;
  showModal(option: { title?: string; content?: string } & Callbacks): Promise<{ confirm: boolean; cancel: boolean; errMsg: string }> | void;
  /** Width, height and type from the file's header (a network src is downloaded first); orientation is always 'up'. */
  getImageInfo(option: { src: string } & Callbacks): Promise<ImageInfo> | void;
  /** [headless] A copy into `album/` of the sandbox root; the file must be an image wxdl reads. */
  saveImageToPhotosAlbum(option: { filePath: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  /** [headless] A copy into `album/` of the sandbox root. */
  saveVideoToPhotosAlbum(option: { filePath: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  /** [headless] In memory, this `wx`'s own; the toast WeChat shows is printed. */
  setClipboardData(option: { data: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  getClipboardData(option?: Callbacks): Promise<{ data: string; errMsg: string }> | void;
  /** Present on the `wx` of `loadApp` (a project's pages): moves as in WeChat, with the page lifecycle. */
  navigateTo?(option: { url: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  redirectTo?(option: { url: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  navigateBack?(option?: { delta?: number } & Callbacks): Promise<GeneralCallbackResult> | void;
  reLaunch?(option: { url: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  switchTab?(option: { url: string } & Callbacks): Promise<GeneralCallbackResult> | void;
  onAppShow(listener: (res: AppLifecycleResult) => void): void;
  offAppShow(listener: (res: AppLifecycleResult) => void): void;
  onAppHide(listener: (res: AppLifecycleResult) => void): void;
  offAppHide(listener: (res: AppLifecycleResult) => void): void;
  getNetworkType(option?: { success?: Function; fail?: Function; complete?: Function }): Promise<{ networkType: string; errMsg: string }>;
  onNetworkStatusChange(listener: (res: { isConnected: boolean; networkType: string }) => void): void;
  offNetworkStatusChange(listener: (res: { isConnected: boolean; networkType: string }) => void): void;
  /** Whether this `wx` has the API named before the first dot (`false` for any API wxdl lacks). */
  canIUse(schema: string): boolean;
  /** [beyond] wxdl's own: where the sandbox is. */
  readonly wxdl: {
    hostPath(wxfile: string): string;
    readonly root: string;
    /** The app goes to the background (`onAppHide` listeners run). */
    hide(): void;
    /** The app comes back (`onAppShow` listeners run). */
    show(): void;
  };
}

export interface Callbacks {
  success?: Function;
  fail?: Function;
  complete?: Function;
}

export interface ImageInfo extends GeneralCallbackResult {
  width: number;
  height: number;
  /** 'png', 'jpeg', 'gif', 'webp', 'bmp' or 'tiff'. */
  type: string;
  orientation: 'up';
  /** The local file: the src, or the temp file a network src was downloaded to. */
  path: string;
}

export interface StorageInfo {
  keys: string[];
  currentSize: number;
  limitSize: number;
}

export interface AppLifecycleResult {
  path: string;
  query: Record<string, string>;
  scene: number;
}

export interface WxConfig {
  /** The sandbox root (default: a new directory under the system's temp directory). */
  root?: string;
  appid?: string;
  appVersion?: string;
  /** The strict policy (WeChat's production rules) with this domain list, for every API
   *  without a list of its own. */
  domains?: string[];
  /** WeChat's per-API domain lists (any of them makes the policy strict; an API without one
   *  uses `domains`, else reaches nothing). */
  downloadDomains?: string[];
  requestDomains?: string[];
  uploadDomains?: string[];
  /** Extra trusted CA certificates: PEM text or paths of PEM files. */
  cacert?: string[];
  /** Calls at once per API (default 10, as WeChat). */
  concurrency?: number;
  /** `'per-api'` (default): downloads, requests and uploads each have `concurrency` slots;
   *  `'shared'`: one pool for the three. */
  concurrencyScope?: 'per-api' | 'shared';
  userAgent?: string;
  usrQuota?: number;
  /** curl's `HOST:PORT:ADDR` overrides (an empty ADDR: the name does not resolve). */
  resolve?: string[];
  /** [beyond] An emulated network: offline, slow-2g, 2g, 3g, 4g, wifi. */
  network?: string;
  down?: number; up?: number; latency?: number; jitter?: number;
  /** Loss probability, 0–1. */
  loss?: number;
  /** e.g. '4g:5s,offline:3s,3g'. */
  networkTimeline?: string;
  seed?: number;
  /** As app.json's: the timeout in ms of a `downloadFile` that gives none. */
  networkTimeout?: { downloadFile?: number; request?: number; uploadFile?: number };
}

export function createWx(config?: WxConfig): Wx;

export interface LoadAppOptions extends WxConfig {
  /** The entry: a page route (`pages/x/x`) or a script of the project (default: app.json's
   * `entryPagePath`, else its first page). */
  entry?: string;
  /** The entry page's `onLoad` options (and `onLaunch`'s `query`). */
  query?: string | Record<string, string>;
}

export interface PageInstance {
  route: string;
  options: Record<string, string>;
  data: Record<string, any>;
  setData(patch: Record<string, any>, callback?: () => void): void;
  [key: string]: any;
}

export type NavigateApi = 'navigateTo' | 'redirectTo' | 'navigateBack' | 'reLaunch' | 'switchTab';

export interface LoadedApp {
  /** The app's `wx`: createWx's, with the navigation APIs (also installed as the global `wx`). */
  wx: Wx;
  getApp(): any;
  getCurrentPages(): PageInstance[];
  /** Moves as `wx[api]` does; a Promise of the result (rejected with the fail result). */
  navigate(api: NavigateApi, options?: { url?: string; delta?: number }): Promise<GeneralCallbackResult>;
}

/** Runs a Mini Program project: app.js (App), the entry page (onLoad → onShow → onReady);
 * `App`, `Page`, `getApp`, `getCurrentPages` and `wx` become globals, as in WeChat. */
export function loadApp(projectDir: string, options?: LoadAppOptions): Promise<LoadedApp>;
export function downloadFile(option: DownloadFileOption): DownloadTask | ThenableDownloadTask;
