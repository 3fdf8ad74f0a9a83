// The app and its pages, headless: `App()`, `getApp()`, `Page()`, `getCurrentPages()` and the
// navigation APIs (navigateTo, redirectTo, navigateBack, reLaunch, switchTab) over the project's
// `app.json`, with WeChat's page lifecycle (onLoad → onShow → onReady; onHide when covered,
// onUnload when closed). Shared by the JS host (its prelude) and the Node package (`loadApp`):
//
//   makePages({ project, load, resolvePage, print }, call, later) -> { globals, wx, ... }
//
// where project is `{root, app}` (app: app.json's content or null), load(path) runs a module,
// resolvePage(route) is its file (throws when there is none), print(level, text) prints.
(function (root) {
  'use strict';
  function makePages(N, call, later) {
    const { project } = N;
    const appJson = project.app || {};
    const pagesList = Array.isArray(appJson.pages) ? appJson.pages.map(String) : null;
    const tabs = ((appJson.tabBar && appJson.tabBar.list) || []).map((t) => String(t.pagePath || ''));
    const MAX_STACK = 10;

    let appDef = null;
    let appInstance = null;
    const defs = Object.create(null); // route -> Page() definition
    let loadingRoute = null; // the route whose file is running (its Page() call is that route's)
    let lastDef = null; // the last Page() of the entry script (a script may register several)
    const stack = [];
    const tabPages = Object.create(null); // tab route -> its page, kept while another tab shows

    const App = (def) => {
      appDef = def || {};
      appInstance = appDef;
      if (appInstance.globalData === undefined) appInstance.globalData = {};
    };
    const getApp = () => appInstance || {};
    const Page = (def) => {
      def = def || {};
      lastDef = def;
      if (loadingRoute !== null) defs[loadingRoute] = def;
    };
    const getCurrentPages = () => stack.slice();
    const current = () => stack[stack.length - 1] || null;

    // Sets `data` at a path like `a.b[2].c`, creating objects and arrays on the way.
    function setPath(data, path, value) {
      const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.').filter((k) => k !== '');
      let o = data;
      keys.slice(0, -1).forEach((k, i) => {
        if (o[k] === null || typeof o[k] !== 'object') o[k] = /^\d+$/.test(keys[i + 1]) ? [] : {};
        o = o[k];
      });
      o[keys[keys.length - 1]] = value;
    }
    // A query string as onLoad's options object.
    const parseQuery = (q) => {
      const out = {};
      String(q || '').replace(/^\?/, '').split('&').filter(Boolean).forEach((pair) => {
        const i = pair.indexOf('=');
        const k = i < 0 ? pair : pair.slice(0, i);
        const v = i < 0 ? '' : pair.slice(i + 1);
        const dec = (x) => { try { return decodeURIComponent(x.replace(/\+/g, ' ')); } catch (e) { return x; } };
        out[dec(k)] = dec(v);
      });
      return out;
    };

    // A page instance of `def` at `route`: its own copy of data, route, options, setData.
    function instance(def, route, options) {
      const page = Object.assign({}, def);
      page.data = JSON.parse(JSON.stringify(def.data || {}));
      page.route = route;
      page.__route__ = route;
      page.options = options;
      page.setData = (patch, cb) => {
        Object.keys(patch || {}).forEach((k) => setPath(page.data, k, patch[k]));
        N.print(0, JSON.stringify({ setData: patch }));
        if (typeof cb === 'function') later(cb);
      };
      return page;
    }
    const hook = (page, name, arg) => {
      if (page && typeof page[name] === 'function') call(() => page[name](arg));
    };
    // Opens `route` on top of the stack: onLoad(options) → onShow → onReady.
    function open(route, options) {
      if (!defs[route]) {
        const path = N.resolvePage(route);
        const before = loadingRoute;
        loadingRoute = route;
        try { N.load(path); } finally { loadingRoute = before; }
        if (!defs[route]) throw new Error(`page "${route}" has not been registered yet (no Page() in ${route}.js)`);
      }
      const page = instance(defs[route], route, options);
      stack.push(page);
      if (tabs.includes(route)) tabPages[route] = page;
      hook(page, 'onLoad', options);
      hook(page, 'onShow');
      hook(page, 'onReady');
      return page;
    }
    const close = (page) => {
      if (page && tabPages[page.route] === page) delete tabPages[page.route];
      hook(page, 'onUnload');
    };

    // `url` ('/pages/x/x?id=1', or relative to the current page) as [route, query].
    function target(url) {
      if (typeof url !== 'string' || url === '') throw new Error('parameter error: parameter.url should be String');
      const q = url.indexOf('?');
      let path = q < 0 ? url : url.slice(0, q);
      const query = q < 0 ? '' : url.slice(q + 1);
      if (!path.startsWith('/')) {
        const top = current();
        const dir = top ? top.route.split('/').slice(0, -1) : [];
        path = [...dir, path].join('/');
      }
      const parts = [];
      for (const part of path.split('/')) {
        if (part === '' || part === '.') continue;
        if (part === '..') parts.pop(); else parts.push(part);
      }
      const route = parts.join('/').replace(/\.js$/, '');
      if (pagesList && !pagesList.includes(route)) throw new Error(`page "${route}" is not found`);
      return [route, query];
    }

    // The navigation APIs: the move happens after the call returns, then success/complete.
    const moves = {
      navigateTo(o) {
        const [route, query] = target(o.url);
        if (tabs.includes(route)) throw new Error('can not navigateTo a tabbar page');
        if (stack.length >= MAX_STACK) throw new Error('webview count limit exceed');
        hook(current(), 'onHide');
        open(route, parseQuery(query));
      },
      redirectTo(o) {
        const [route, query] = target(o.url);
        if (tabs.includes(route)) throw new Error('can not redirectTo a tabbar page');
        close(stack.pop());
        open(route, parseQuery(query));
      },
      navigateBack(o) {
        if (stack.length <= 1) throw new Error('cannot navigate back at first page.');
        const delta = Math.max(1, Math.floor(Number(o.delta) || 1));
        for (let i = 0; i < delta && stack.length > 1; i++) close(stack.pop());
        hook(current(), 'onShow');
      },
      reLaunch(o) {
        const [route, query] = target(o.url);
        while (stack.length) close(stack.pop());
        Object.keys(tabPages).forEach((r) => close(tabPages[r]));
        open(route, parseQuery(query));
      },
      switchTab(o) {
        const [route, query] = target(o.url);
        if (!tabs.includes(route)) throw new Error(`can not switch to no-tabBar page "${route}"`);
        if (query) throw new Error('switchTab does not take a query');
        if (current() && current().route === route) return;
        while (stack.length) {
          const page = stack.pop();
          if (tabPages[page.route] === page) hook(page, 'onHide'); else close(page);
        }
        const kept = tabPages[route];
        if (kept) {
          stack.push(kept);
          hook(kept, 'onShow');
        } else {
          open(route, {});
        }
      },
    };
    function navigate(api, o) {
      o = o || {};
      return new Promise((resolve, reject) => {
        later(() => {
          let res;
          let ok = true;
          try {
            moves[api](o);
            res = { errMsg: `${api}:ok` };
          } catch (e) {
            ok = false;
            res = { errMsg: `${api}:fail ${e.message}` };
          }
          call(ok ? o.success : o.fail, res);
          call(o.complete, res);
          (ok ? resolve : reject)(res);
        });
      });
    }
    const wx = {};
    for (const api of Object.keys(moves)) {
      // As WeChat: a Promise only without callbacks.
      wx[api] = (o) => {
        const p = navigate(api, o);
        const callback = o && ['success', 'fail', 'complete'].some((k) => typeof o[k] === 'function');
        if (callback) { p.catch(() => {}); return undefined; }
        return p;
      };
    }

    // Before the entry script: the project's app.js (when it has an app.json and the entry is
    // not app.js itself); the entry's Page() is its route's.
    const routeOf = (path) => (path.startsWith(`${project.root}/`) ? path.slice(project.root.length + 1) : path)
      .replace(/\.(js|mjs|cjs)$/, '');
    let entryRoute = null;
    function boot(entry) {
      entryRoute = routeOf(entry);
      const appJs = `${project.root}/app.js`;
      if (project.app && entry !== appJs) {
        let path = null;
        try { path = N.resolvePage('app'); } catch (e) { /* no app.js */ }
        if (path) call(() => N.load(path));
      }
      loadingRoute = entryRoute;
    }
    // After the entry script: the app's onLaunch/onShow, then the entry's page (the last
    // Page() it registered) onLoad(query) → onShow → onReady, then `method` once (a lifecycle
    // method is not repeated).
    const LIFECYCLE = ['onLoad', 'onShow', 'onReady'];
    function start(query, method) {
      loadingRoute = null;
      const options = parseQuery(query);
      const launch = { path: entryRoute || '', query: options, scene: 1001 };
      if (appDef) {
        if (typeof appDef.onLaunch === 'function') appDef.onLaunch.call(appInstance, launch);
        if (typeof appDef.onShow === 'function') appDef.onShow.call(appInstance, launch);
      }
      if (!lastDef) {
        if (method) throw new Error('--call: the script registered no Page()');
        return undefined;
      }
      defs[entryRoute] = lastDef;
      const page = open(entryRoute, options);
      if (!method || LIFECYCLE.includes(method)) return undefined;
      if (typeof page[method] !== 'function') throw new Error(`--call: the page has no method ${method}`);
      return page[method]();
    }

    // The app went to the background (hide) or came back: App's onHide/onShow (onShow with
    // `res`) and the current page's.
    function lifecycle(hide, res) {
      const method = hide ? 'onHide' : 'onShow';
      if (appDef && typeof appDef[method] === 'function') call(() => appDef[method].call(appInstance, res));
      hook(current(), method);
    }

    return {
      globals: { App, getApp, Page, getCurrentPages },
      lifecycle,
      wx,
      navigate: (api, o) => {
        if (!Object.prototype.hasOwnProperty.call(moves, api)) throw new Error(`wxdl.navigate: no such move ${api}`);
        return navigate(api, o);
      },
      boot,
      start,
      current,
      app: () => appDef,
    };
  }
  if (typeof module === 'object' && module && module.exports) {
    module.exports = makePages;
  } else {
    root.__wxdl_pages = makePages;
  }
})(globalThis);
