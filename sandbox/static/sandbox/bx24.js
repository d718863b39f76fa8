/*
 * bx24.js: the sandbox's re-implementation of the legacy Bitrix24 BX24.js library.
 *
 * App pages inside a portal iframe load this file (the sandbox serves it at /sandbox/bx24.js)
 * instead of //api.bitrix24.com/api/v1/, so the app can be developed and tested offline
 * (protocol reference §5.7). It speaks the same postMessage wire protocol to the parent page
 * (§5.5) and the same HTTP to the REST endpoint (§5.6) as the original, quirks included, so an
 * app that works here behaves the same on a real portal.
 *
 * Plain ES2020, no build step, no dependencies. The parent side lives in applayout.js.
 */
(function (window, document) {
  'use strict';

  // §5.4: the portal names the iframe "HOST|SECURE|APP_SID"; that name is the only thing the
  // library knows before the parent answers getInitData. The original strips a default port.
  const frameName = String(window.name || '').split('|');
  const FRAME_DOMAIN = (frameName[0] || '').replace(/:(80|443)$/, '');
  const FRAME_PROTOCOL = parseInt(frameName[1], 10) || 0;
  const APP_SID = frameName[2] || '';

  if (!FRAME_DOMAIN || !APP_SID) {
    // §5.4: outside a portal frame the original sets BX24 to null and throws this exact text;
    // apps test `if (!BX24)` or catch it at the point of inclusion.
    window.BX24 = null;
    throw new Error('Unable to initialize Bitrix24 JS library!');
  }

  // §5.5: every message goes to, and every reply must come from, http(s)://HOST of the portal.
  const PARENT_ORIGIN = (FRAME_PROTOCOL ? 'https' : 'http') + '://' + FRAME_DOMAIN;

  let initData = null; // the getInitData reply (§5.5), once it arrived
  let auth = null; // {accessToken, refreshToken, expires: absolute ms}
  const initQueue = []; // BX24.init callbacks waiting for initData
  const installQueue = []; // BX24.install handlers, run on FIRST_RUN
  const callbacks = new Map(); // callbackId -> {fn, persistent}
  let refreshWaiters = null; // non-null while one refreshAuth round trip is in flight
  let domReady = document.readyState !== 'loading';
  const readyQueue = [];

  // ---------------------------------------------------------------- small helpers

  // PHP-side flags arrive as true/false, 1/0, "Y"/"N" depending on the portal version.
  function isTruthy(value) {
    return value === true || value === 1 || value === '1' || value === 'Y' || value === 'true';
  }

  function isPlainObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  }

  // Options bags come from PHP: an empty one is serialised as [] (§4.4), a filled one may
  // still be a JSON string when the portal template passes it through verbatim (§5.2).
  function asObject(value) {
    if (typeof value === 'string' && value !== '') {
      try {
        value = JSON.parse(value);
      } catch (e) {
        return {};
      }
    }
    return isPlainObject(value) ? value : {};
  }

  // §5.5: callback ids are random 32-char [0-9a-z] strings.
  function randomId() {
    const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
    const bytes = new Uint8Array(32);
    window.crypto.getRandomValues(bytes);
    let id = '';
    for (const byte of bytes) id += alphabet[byte % alphabet.length];
    return id;
  }

  // Exceptions from app callbacks must not be swallowed by our promise chains: rethrow them in
  // a fresh task so they reach the console as uncaught errors, as they would in the original.
  function rethrowLater(error) {
    window.setTimeout(() => {
      throw error;
    }, 0);
  }

  // One throwing app callback must not keep the others in the queue from running.
  function runAll(queue) {
    for (const fn of queue.splice(0)) {
      try {
        fn();
      } catch (error) {
        rethrowLater(error);
      }
    }
  }

  function onDomReady() {
    domReady = true;
    runAll(readyQueue);
  }

  if (!domReady) document.addEventListener('DOMContentLoaded', onDomReady);

  // ---------------------------------------------------------------- wire protocol (§5.5)

  // Child -> parent: "<command>:<JSON params or empty>:<callbackId or empty>:<APP_SID>".
  // The parent splits on ':' as first / middle / second-to-last / last, so JSON colons are safe.
  function sendMessage(command, params, callback, persistent) {
    let callbackId = '';
    if (typeof callback === 'function') {
      callbackId = randomId();
      callbacks.set(callbackId, { fn: callback, persistent: !!persistent });
    }
    const json = params === undefined ? '' : JSON.stringify(params);
    window.parent.postMessage(`${command}:${json}:${callbackId}:${APP_SID}`, PARENT_ORIGIN);
  }

  // Parent -> child: "<callbackId>:<JSON or empty>", accepted only from the portal window and
  // origin, otherwise any page that frames us could feed us tokens.
  function onMessage(event) {
    if (event.origin !== PARENT_ORIGIN || event.source !== window.parent) return;
    if (typeof event.data !== 'string') return;
    const separator = event.data.indexOf(':');
    if (separator < 1) return;
    const entry = callbacks.get(event.data.slice(0, separator));
    if (!entry) return;
    const raw = event.data.slice(separator + 1);
    let payload;
    if (raw !== '') {
      try {
        payload = JSON.parse(raw);
      } catch (e) {
        return;
      }
    }
    // placementBindEvent reuses its callback id every time the event fires (§5.5).
    if (!entry.persistent) callbacks.delete(event.data.slice(0, separator));
    entry.fn(payload);
  }

  window.addEventListener('message', onMessage);

  // ---------------------------------------------------------------- init and auth (§5.4)

  function setAuth(source) {
    auth = {
      accessToken: source.AUTH_ID,
      refreshToken: source.REFRESH_ID,
      // §5.4 quirk: AUTH_EXPIRES is seconds on the wire, getAuth() reports absolute ms.
      expires: Date.now() + (parseInt(source.AUTH_EXPIRES, 10) || 0) * 1000,
    };
  }

  function onInitData(data) {
    if (initData) return;
    initData = isPlainObject(data) ? data : {};
    initData.PLACEMENT_OPTIONS = asObject(initData.PLACEMENT_OPTIONS);
    initData.USER_OPTIONS = asObject(initData.USER_OPTIONS);
    initData.APP_OPTIONS = asObject(initData.APP_OPTIONS);
    setAuth(initData);

    // §5.4/§5.5: on the user's first run the install handlers go before the init callbacks;
    // without any, the library itself tells the parent that the first run is done.
    if (isTruthy(initData.FIRST_RUN)) {
      if (installQueue.length > 0) runAll(installQueue);
      else sendMessage('setInstall', { install: true });
    }
    runAll(initQueue);
  }

  function whenInitialised(fn) {
    if (initData) fn();
    else initQueue.push(fn);
  }

  function getAuth() {
    if (!initData || !auth || !auth.accessToken || Date.now() >= auth.expires) return false;
    return {
      access_token: auth.accessToken,
      refresh_token: auth.refreshToken,
      expires_in: auth.expires,
      domain: initData.DOMAIN || FRAME_DOMAIN,
      member_id: initData.MEMBER_ID,
    };
  }

  // §5.5 refreshAuth: the parent asks its own backend and answers {AUTH_ID, AUTH_EXPIRES,
  // REFRESH_ID}. Concurrent callers share one round trip so a burst of expired calls does not
  // spend the refresh token several times (§2.4 rotation). If the parent never answers, the
  // callbacks never run, as in the original.
  function refreshAuth(callback) {
    whenInitialised(() => {
      const waiter = typeof callback === 'function' ? callback : null;
      if (refreshWaiters) {
        if (waiter) refreshWaiters.push(waiter);
        return;
      }
      refreshWaiters = waiter ? [waiter] : [];
      sendMessage('refreshAuth', {}, (data) => {
        if (isPlainObject(data) && data.AUTH_ID) {
          setAuth(data);
          Object.assign(initData, {
            AUTH_ID: data.AUTH_ID,
            AUTH_EXPIRES: data.AUTH_EXPIRES,
            REFRESH_ID: data.REFRESH_ID,
          });
        }
        const waiters = refreshWaiters;
        refreshWaiters = null;
        waiters.forEach((fn) => fn(getAuth()));
      });
    });
  }

  function refreshed() {
    return new Promise((resolve) => refreshAuth(resolve));
  }

  // ---------------------------------------------------------------- REST over HTTP (§5.6)

  function readFileInput(input) {
    const file = input.files && input.files[0];
    if (!file) return Promise.resolve(null);
    return new Promise((resolve) => {
      const reader = new FileReader();
      reader.addEventListener('load', () => {
        const dataUrl = String(reader.result);
        resolve({ name: file.name, data: dataUrl.slice(dataUrl.indexOf(',') + 1) });
      });
      reader.addEventListener('error', () => resolve(null));
      reader.readAsDataURL(file);
    });
  }

  // §3.2/§5.6: PHP-style form encoding, `fields[PHONE][0][VALUE]=...`. Keys and values are
  // percent-encoded, the brackets are not (PHP accepts both). Dates go as toJSON(), an empty
  // array as `key=` so PHP still sees the key, a file input as `key[0]=<name>&key[1]=<base64>`;
  // null and undefined are dropped like the original does. Async only because of files.
  async function encodeParams(data, prefix) {
    const pairs = [];
    for (const key of Object.keys(data)) {
      const value = data[key];
      const name = prefix ? `${prefix}[${encodeURIComponent(key)}]` : encodeURIComponent(key);
      if (value === null || value === undefined || typeof value === 'function') continue;
      if (value instanceof Date) {
        pairs.push(`${name}=${encodeURIComponent(value.toJSON())}`);
      } else if (value instanceof window.HTMLInputElement && value.type === 'file') {
        const file = await readFileInput(value);
        if (file) {
          pairs.push(`${name}[0]=${encodeURIComponent(file.name)}`);
          pairs.push(`${name}[1]=${encodeURIComponent(file.data)}`);
        }
      } else if (Array.isArray(value) && value.length === 0) {
        pairs.push(`${name}=`);
      } else if (typeof value === 'object') {
        const nested = await encodeParams(value, name);
        if (nested) pairs.push(nested);
      } else {
        pairs.push(`${name}=${encodeURIComponent(value)}`);
      }
    }
    return pairs.join('&');
  }

  // §5.5/§5.6: the REST base is PROTOCOL://DOMAIN + PATH from the init data (DOMAIN may carry a
  // port on-premise); the frame name is only the fallback.
  function portalBase() {
    const fromInit = initData && initData.PROTOCOL !== undefined;
    const secure = fromInit ? isTruthy(initData.PROTOCOL) : !!FRAME_PROTOCOL;
    return `${secure ? 'https' : 'http'}://${(initData && initData.DOMAIN) || FRAME_DOMAIN}`;
  }

  function restUrl(method) {
    const path = String(initData.PATH || '/rest').replace(/\/+$/, '');
    return `${portalBase()}${path}/${encodeURIComponent(method)}.json`;
  }

  // query = {method, params, start, callback}
  async function sendRequest(query, isRetry) {
    // §5.6: a token already past its expiry is refreshed before the call, not after a 401.
    if (!getAuth()) await refreshed();

    const params = query.params || {};
    const encoded = typeof params === 'string' ? params : await encodeParams(params);
    let body = `auth=${encodeURIComponent(auth.accessToken)}`;
    if (query.start) body += `&start=${encodeURIComponent(query.start)}`;
    if (encoded) body += `&${encoded}`;

    // §3.2/§5.6: no Content-Type is set on purpose. A string body makes the browser send
    // text/plain;charset=UTF-8, a "simple" CORS request, so there is no preflight; the portal
    // parses any non-JSON body as a query string.
    let response;
    try {
      response = await window.fetch(restUrl(query.method), { method: 'POST', body });
    } catch (e) {
      throw new Error('Query error!');
    }
    // §5.6: 2xx and 4xx carry a JSON envelope (errors must reach result.error()); 5xx throws.
    if (response.status >= 500) throw new Error('Query error!');
    let answer;
    try {
      answer = await response.json();
    } catch (e) {
      throw new Error('Query error!');
    }

    // §5.6/§3.5: expired_token means "refresh and retry"; once, so a portal that keeps
    // rejecting the fresh token ends in an error callback instead of a loop.
    if (isPlainObject(answer) && answer.error === 'expired_token' && !isRetry) {
      await refreshed();
      return sendRequest(query, true);
    }
    if (typeof query.callback === 'function') {
      query.callback(new AjaxResult(answer, query, response.status));
    }
    return undefined;
  }

  function request(query) {
    sendRequest(query, false).catch(rethrowLater);
  }

  // ajaxError (§5.4): `status` is the HTTP status, `ex` the {error, error_description} pair.
  class AjaxError {
    constructor(status, answer) {
      this.status = status;
      this.ex = { error: answer.error, error_description: answer.error_description };
    }

    getError() {
      return this.ex;
    }

    getStatus() {
      return this.status;
    }

    // "code: description (status)"; legacy CRM errors have an empty code (§3.4).
    toString() {
      const description = this.ex.error_description ? `: ${this.ex.error_description}` : '';
      return `${this.ex.error}${description} (${this.status})`;
    }
  }

  // ajaxResult (§5.4), the callback argument of callMethod and of each callBatch entry.
  class AjaxResult {
    constructor(answer, query, status) {
      this.answer = isPlainObject(answer) ? answer : { result: answer };
      this.query = query;
      this.status = status;
      // An error is the presence of the key, not its truthiness: legacy CRM methods send
      // "error": "" with the reason in error_description (§3.4).
      this.ex = 'error' in this.answer ? new AjaxError(status, this.answer) : undefined;
    }

    data() {
      return this.answer.result;
    }

    error() {
      return this.ex;
    }

    error_description() {
      return this.answer.error_description;
    }

    more() {
      return this.answer.next !== undefined && !isNaN(this.answer.next);
    }

    total() {
      return parseInt(this.answer.total, 10);
    }

    time() {
      return this.answer.time;
    }

    // §4.5/§5.4: the next page is the same call with start=<next>; false when there is none.
    next(callback) {
      if (!this.more()) return false;
      const query = Object.assign({}, this.query, { start: this.answer.next });
      if (typeof callback === 'function') query.callback = callback;
      request(query);
      return true;
    }
  }

  function callMethod(method, params, callback) {
    let own = params;
    if (isPlainObject(params)) {
      own = Object.assign({}, params);
      // §4.5 quirk kept on purpose: a truthy `start` is stripped, so paging only works through
      // result.next(), exactly as on a real portal.
      if (own.start) delete own.start;
    }
    const query = { method: String(method), params: own || {}, start: 0, callback };
    whenInitialised(() => request(query));
  }

  // §4.4/§5.6: calls are {id: [method, params]}, {id: {method, params}} or an array of either.
  // Each command becomes cmd[id]=method?<encoded params>; the whole body is encoded once more,
  // which is the double encoding the portal expects. The callback gets the same shape back.
  function callBatch(calls, callback, haltOnError) {
    const send = async () => {
      const asArray = Array.isArray(calls);
      const cmd = asArray ? [] : {};
      const queries = asArray ? [] : {};
      for (const key of Object.keys(calls || {})) {
        const call = calls[key];
        let method;
        let params;
        if (Array.isArray(call)) [method, params] = call;
        else if (isPlainObject(call)) ({ method, params } = call);
        if (!method) continue;
        const encoded = typeof params === 'string' ? params : await encodeParams(params || {});
        cmd[key] = encoded ? `${method}?${encoded}` : String(method);
        queries[key] = { method: String(method), params: params || {}, start: 0 };
      }
      callMethod('batch', { halt: haltOnError ? 1 : 0, cmd }, (outer) => {
        const inner = isPlainObject(outer.data()) ? outer.data() : {};
        const pick = (bag, key) => (bag && typeof bag === 'object' ? bag[key] : undefined);
        const results = asArray ? [] : {};
        for (const key of Object.keys(queries)) {
          let answer;
          if (outer.error()) {
            // The batch itself failed (auth, rate limit): every command shares that error.
            const { error, error_description } = outer.answer;
            answer = { error, error_description };
          } else {
            answer = { result: pick(inner.result, key) };
            const error = pick(inner.result_error, key);
            if (error !== undefined) {
              answer.error = isPlainObject(error) ? error.error : error;
              answer.error_description = isPlainObject(error) ? error.error_description : undefined;
            }
            for (const field of ['total', 'next', 'time']) {
              const value = pick(inner[`result_${field}`], key);
              if (value !== undefined) answer[field] = value;
            }
          }
          results[key] = new AjaxResult(answer, queries[key], outer.status);
        }
        if (typeof callback === 'function') callback(results);
      });
    };
    whenInitialised(() => send().catch(rethrowLater));
  }

  // ---------------------------------------------------------------- window and layout

  // The original measures the document element, so fitWindow never shrinks the frame below
  // its current viewport; kept for compatibility.
  function getScrollSize() {
    const root = document.documentElement;
    return {
      scrollWidth: Math.max(root.scrollWidth, root.offsetWidth),
      scrollHeight: Math.max(root.scrollHeight, root.offsetHeight),
    };
  }

  function loadScript(urls, callback) {
    const list = Array.isArray(urls) ? urls.slice() : [urls];
    const next = () => {
      if (list.length === 0) {
        if (typeof callback === 'function') callback();
        return;
      }
      const script = document.createElement('script');
      script.src = list.shift();
      script.addEventListener('load', next);
      script.addEventListener('error', next);
      document.head.appendChild(script);
    };
    next();
  }

  // ---------------------------------------------------------------- public API (§5.4)

  const BX24 = {
    init(callback) {
      if (typeof callback !== 'function') return;
      // Already initialised: still asynchronous, so callers see one ordering either way.
      if (initData) window.setTimeout(callback, 0);
      else initQueue.push(callback);
    },

    install(handler) {
      if (typeof handler === 'string') installQueue.push(() => loadScript(handler));
      else if (typeof handler === 'function') installQueue.push(handler);
    },

    // §5.4: only meaningful in installer mode; elsewhere it must not mark anything installed.
    installFinish() {
      whenInitialised(() => {
        if (isTruthy(initData.INSTALL)) sendMessage('setInstallFinish', {});
      });
    },

    getAuth,
    refreshAuth,
    callMethod,
    callBatch,

    // §5.4: event.bind/unbind wrappers, admin only.
    callBind(event, handler, authType, callback) {
      if (!BX24.isAdmin()) return false;
      const params = { event, handler };
      if (authType) params.auth_type = authType;
      callMethod('event.bind', params, callback);
      return true;
    },

    callUnbind(event, handler, authType, callback) {
      if (!BX24.isAdmin()) return false;
      const params = { event, handler };
      if (authType) params.auth_type = authType;
      callMethod('event.unbind', params, callback);
      return true;
    },

    fitWindow(callback) {
      const height = getScrollSize().scrollHeight;
      sendMessage('resizeWindow', { width: '100%', height }, callback);
    },

    // §5.4: the original parseInts both and drops the call unless both are positive, so only
    // fitWindow can send '100%'.
    resizeWindow(width, height, callback) {
      const w = parseInt(width, 10);
      const h = parseInt(height, 10);
      if (w > 0 && h > 0) sendMessage('resizeWindow', { width: w, height: h }, callback);
    },

    reloadWindow(callback) {
      sendMessage('reloadWindow', {}, callback);
    },

    setTitle(title, callback) {
      sendMessage('setTitle', { title: String(title) }, callback);
    },

    scrollParentWindow(scroll, callback) {
      sendMessage('setScroll', { scroll: parseInt(scroll, 10) || 0 }, callback);
    },

    // §5.4: not in the legacy copy; the newer SDK adds from= markers, which the sandbox skips.
    openPath(path, callback) {
      sendMessage('openPath', { path: String(path) }, callback);
    },

    // §5.4: settings keys travel as bx24_* params next to the app's own params.
    openApplication(params, closeCallback, settings) {
      const message = Object.assign({}, isPlainObject(params) ? params : {});
      const extra = isPlainObject(settings) ? settings : {};
      for (const key of ['width', 'label', 'title', 'leftBoundary']) {
        if (extra[key] !== undefined) message[`bx24_${key}`] = extra[key];
      }
      sendMessage('openApplication', message, closeCallback);
    },

    closeApplication(callback) {
      sendMessage('closeApplication', {}, callback);
    },

    getScrollSize,

    isAdmin() {
      return !!initData && isTruthy(initData.IS_ADMIN);
    },

    getLang() {
      return initData ? initData.LANG : undefined;
    },

    getDomain(withProtocol) {
      return withProtocol ? portalBase() : (initData && initData.DOMAIN) || FRAME_DOMAIN;
    },

    placement: {
      info() {
        return {
          placement: initData ? initData.PLACEMENT : undefined,
          options: initData ? initData.PLACEMENT_OPTIONS : {},
        };
      },

      getInterface(callback) {
        sendMessage('getInterface', {}, callback);
      },

      // §5.4: a placement command may not smuggle in a library command (setTitle, resizeWindow,
      // ...) that the parent would otherwise gate; such calls are ignored.
      call(command, params, callback) {
        if (typeof BX24[command] === 'function') return;
        sendMessage(String(command), params === undefined ? {} : params, callback);
      },

      bindEvent(event, callback) {
        sendMessage('placementBindEvent', { event: String(event) }, callback, true);
      },
    },

    // §5.4/§5.5: options come with the init data; a set is applied locally once the parent
    // confirms it (setAppOption is admin-only there, so non-admins are not even sent).
    appOption: {
      get(name) {
        return initData ? initData.APP_OPTIONS[name] : undefined;
      },
      set(name, value, callback) {
        if (!BX24.isAdmin()) return false;
        sendMessage('setAppOption', { name, value }, (reply) => {
          initData.APP_OPTIONS[name] = value;
          if (typeof callback === 'function') callback(reply);
        });
        return true;
      },
    },

    userOption: {
      get(name) {
        return initData ? initData.USER_OPTIONS[name] : undefined;
      },
      set(name, value, callback) {
        sendMessage('setUserOption', { name, value }, (reply) => {
          initData.USER_OPTIONS[name] = value;
          if (typeof callback === 'function') callback(reply);
        });
      },
    },

    // Portal pickers (§5.4); the sandbox parent does not implement them and stays silent.
    selectUser(callback) {
      sendMessage('selectUser', { mult: false }, callback);
    },

    selectUsers(callback) {
      sendMessage('selectUser', { mult: true }, callback);
    },

    selectAccess(value, callback) {
      if (typeof value === 'function') sendMessage('selectAccess', { value: [] }, value);
      else sendMessage('selectAccess', { value: value || [] }, callback);
    },

    selectCRM(params, callback) {
      const { entityType, multiple, value } = isPlainObject(params) ? params : {};
      sendMessage('selectCRM', { entityType, multiple, value }, callback);
    },

    // Messenger helpers, fire-and-forget (§5.5).
    im: {
      callTo(userId, video) {
        sendMessage('imCallTo', { userId, video: video !== false });
      },
      phoneTo(phone) {
        sendMessage('imPhoneTo', { phone });
      },
      openMessenger(dialogId) {
        sendMessage('imOpenMessenger', { dialogId });
      },
      openHistory(dialogId) {
        sendMessage('imOpenHistory', { dialogId });
      },
    },

    // DOM utilities of the original (§5.4), no parent traffic.
    ready(fn) {
      if (typeof fn !== 'function') return;
      if (domReady) window.setTimeout(fn, 0);
      else readyQueue.push(fn);
    },

    isReady() {
      return domReady;
    },

    bind(element, eventName, handler) {
      if (element) element.addEventListener(eventName, handler);
    },

    unbind(element, eventName, handler) {
      if (element) element.removeEventListener(eventName, handler);
    },

    proxy(fn, context) {
      return fn.bind(context);
    },

    // Like BX.proxy, but remembers the original `this` (usually the DOM element) in
    // BX24.proxy_context for the duration of the call.
    proxyContext(fn, context) {
      return function proxied(...args) {
        BX24.proxy_context = this;
        try {
          return fn.apply(context, args);
        } finally {
          BX24.proxy_context = null;
        }
      };
    },

    proxy_context: null,
    loadScript,
  };

  window.BX24 = BX24;

  // §5.4: getInitData is sent once, after DOM ready, and everything else waits for its reply.
  BX24.ready(() => sendMessage('getInitData', undefined, onInitData));
})(window, document);
