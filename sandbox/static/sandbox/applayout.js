/*
 * applayout.js: the parent side of the Bitrix24 app frame, for the sandbox portal's pages.
 *
 * A real portal renders an iframe named "HOST|SECURE|APP_SID", POSTs the app's handler into it
 * through a hidden form, and answers BX24.js over postMessage (protocol reference §5.3, §5.5,
 * and §5.7 for what an offline parent needs). This file is that answering side, the counterpart
 * of bx24.js. The portal template supplies everything through data- attributes:
 *
 *   <iframe data-b24-app name="HOST|SECURE|APP_SID"
 *           data-app-origin="scheme://host:port of the app handler"
 *           data-app-sid="APP_SID"
 *           data-denied-commands="setTitle ..."    (commands ignored in this frame)
 *           data-init='{"LANG": ..., "DOMAIN": ..., ...}'   (the getInitData reply, JSON)
 *           data-refresh-url="..." data-install-finish-url="..." data-option-url="...">
 *   <form data-b24-autosubmit target="HOST|SECURE|APP_SID" method="post" action="HANDLER?...">
 *
 * The portal can observe every accepted command through a bubbling `b24:message` CustomEvent
 * on the iframe (detail {command, params}), and fire a placement event bound with
 * BX24.placement.bindEvent by dispatching `b24:placement-event` (detail {event, data}) on it.
 *
 * Plain ES2020, no build step, no dependencies, no inline handlers.
 */
(function (window, document) {
  'use strict';

  // §5.2: these placements expose reloadData (the card re-reads its data after the app changed
  // it through REST). Commands listed by getInterface exclude the generic ones (§5.5).
  const RELOADABLE_PLACEMENT = /^CRM_.+_(DETAIL_TAB|DETAIL_ACTIVITY|LIST_MENU)$/;

  // §5.3 item 4: inside a placement (anything but DEFAULT) the layout has no title of its own,
  // so setTitle is ignored. setScroll and reloadWindow are allowed there since rest 25.800.0;
  // the template lists what this frame denies (data-denied-commands), older portals included.
  const DENIED_IN_PLACEMENTS = ['setTitle'];

  const frames = [];

  // ---------------------------------------------------------------- helpers

  function isTruthy(value) {
    return value === true || value === 1 || value === '1' || value === 'Y' || value === 'true';
  }

  function isPlainObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  }

  // PHP serialises an empty bag as [] and templates may pass a JSON string through (§5.2).
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

  function normaliseOrigin(value) {
    try {
      return new URL(value).origin;
    } catch (e) {
      return null;
    }
  }

  function readCookie(name) {
    for (const pair of document.cookie.split(';')) {
      const separator = pair.indexOf('=');
      if (pair.slice(0, separator).trim() === name) {
        return decodeURIComponent(pair.slice(separator + 1).trim());
      }
    }
    return '';
  }

  // The portal's own endpoints are Django views behind CsrfViewMiddleware: send the token from
  // the csrftoken cookie, or from a rendered {% csrf_token %} if the cookie is HttpOnly.
  function csrfToken() {
    const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return readCookie('csrftoken') || (input ? input.value : '');
  }

  // A URLSearchParams body is sent as application/x-www-form-urlencoded, which Django parses
  // into request.POST.
  function postToPortal(url, fields) {
    return window
      .fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'X-CSRFToken': csrfToken() },
        body: new URLSearchParams(fields),
      })
      .then((response) => {
        if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
        return response;
      });
  }

  // §5.5: "<command>:<JSON params or empty>:<callbackId or empty>:<APP_SID>", split as first /
  // middle (re-joined, JSON may contain colons) / second-to-last / last. The official JS SDK
  // (b24jssdk frame/message/controller.ts `send`) drops empty parts, so a call without parameters
  // arrives as "<command>:<callbackId>:<APP_SID>": three parts, no parameters. The same SDK sends a
  // command containing ':' as an object {method, params, callback, appSid}. Parameters that are
  // not valid JSON make the whole message unreadable: the portal's JSON.parse throws and the
  // command never runs, so nothing answers (applayout.js).
  function parseMessage(data) {
    if (isPlainObject(data)) return parseObjectMessage(data);
    if (typeof data !== 'string') return null;
    const parts = data.split(':');
    if (parts.length < 3) return null;
    const sid = parts.pop();
    const callbackId = parts.pop();
    const command = parts.shift();
    const params = parseParams(parts.join(':'));
    if (params === undefined) return null;
    return { command, params, callbackId, sid };
  }

  function parseObjectMessage(data) {
    if (typeof data.method !== 'string' || typeof data.appSid !== 'string') return null;
    const raw = data.params === undefined || data.params === null ? '' : data.params;
    const params = typeof raw === 'string' ? parseParams(raw) : raw;
    if (params === undefined) return null;
    const callbackId = typeof data.callback === 'string' ? data.callback : '';
    return { command: data.method, params, callbackId, sid: data.appSid };
  }

  // {} for no parameters, the decoded value, or undefined when the text is not JSON.
  function parseParams(raw) {
    if (raw === '') return {};
    try {
      return JSON.parse(raw);
    } catch (e) {
      return undefined;
    }
  }

  // ---------------------------------------------------------------- one app frame

  class AppFrame {
    constructor(iframe, origin, sid, init) {
      this.iframe = iframe;
      this.origin = origin;
      this.sid = sid;
      this.init = init;
      this.placement = String(init.PLACEMENT || 'DEFAULT').toUpperCase();
      const listed = iframe.dataset.deniedCommands;
      const fallback = this.placement === 'DEFAULT' ? [] : DENIED_IN_PLACEMENTS;
      this.denied = new Set(listed === undefined ? fallback : listed.split(/\s+/).filter(Boolean));
      this.eventCallbacks = new Map(); // placement event name -> callback ids
      this.installFinishing = false;
      iframe.addEventListener('b24:placement-event', (event) => {
        this.firePlacementEvent(event.detail);
      });
    }

    // §5.5: parent -> child is "<callbackId>:<JSON or empty>", posted only to the app origin,
    // so a frame that navigated elsewhere never receives tokens.
    reply(callbackId, data) {
      if (!callbackId || !this.iframe.contentWindow) return;
      const payload = data === undefined ? '' : JSON.stringify(data);
      this.iframe.contentWindow.postMessage(`${callbackId}:${payload}`, this.origin);
    }

    handle(message) {
      this.iframe.dispatchEvent(
        new CustomEvent('b24:message', {
          bubbles: true,
          detail: { command: message.command, params: message.params },
        }),
      );
      if (this.denied.has(message.command)) return;
      // Unknown commands (pickers, messenger helpers, ...) are silently ignored, as on a portal
      // (§5.4 placement.call): the app's callback simply never runs.
      if (!Object.prototype.hasOwnProperty.call(COMMANDS, message.command)) return;
      const params = isPlainObject(message.params) ? message.params : {};
      COMMANDS[message.command](this, params, message.callbackId);
    }

    firePlacementEvent(detail) {
      const { event, data } = isPlainObject(detail) ? detail : {};
      for (const callbackId of this.eventCallbacks.get(String(event)) || []) {
        this.reply(callbackId, data);
      }
    }

    saveOption(kind, params, callbackId) {
      const url = this.iframe.dataset.optionUrl;
      if (!url || params.name === undefined) return;
      const name = String(params.name);
      const value = typeof params.value === 'string' ? params.value : JSON.stringify(params.value);
      postToPortal(url, { app_sid: this.sid, kind, name, value })
        .then(() => {
          this.init[kind === 'app' ? 'APP_OPTIONS' : 'USER_OPTIONS'][name] = params.value;
          this.reply(callbackId, { name, value: params.value });
        })
        .catch((error) => console.error(`b24: saving the ${kind} option failed`, error));
    }
  }

  // ---------------------------------------------------------------- commands (§5.5)

  const COMMANDS = {
    getInitData(frame, params, callbackId) {
      frame.reply(callbackId, frame.init);
    },

    getInterface(frame, params, callbackId) {
      const command = RELOADABLE_PLACEMENT.test(frame.placement) ? ['reloadData'] : [];
      frame.reply(callbackId, { command, event: [] });
    },

    // §5.5: the parent refreshes through its own backend. On failure the real portal alerts
    // "Unable to get new token!" and never calls back; the sandbox logs instead of blocking.
    refreshAuth(frame, params, callbackId) {
      const url = frame.iframe.dataset.refreshUrl;
      if (!url) return;
      postToPortal(url, { app_sid: frame.sid })
        .then((response) => response.json())
        .then((data) => {
          if (!isPlainObject(data) || !data.AUTH_ID) throw new Error('no AUTH_ID in the answer');
          const { AUTH_ID, AUTH_EXPIRES, REFRESH_ID } = data;
          const fresh = { AUTH_ID, AUTH_EXPIRES, REFRESH_ID };
          // A later getInitData (the app reloading itself) must not hand out the old token.
          Object.assign(frame.init, fresh);
          frame.reply(callbackId, fresh);
        })
        .catch((error) => console.error('b24: unable to get a new token', error));
    },

    // §5.5: height in px, width '100%' or px; the reply is what the frame actually measures.
    resizeWindow(frame, params, callbackId) {
      const style = frame.iframe.style;
      const height = parseInt(params.height, 10);
      if (height > 0) style.height = `${height}px`;
      if (params.width === '100%') {
        style.width = '100%';
      } else if (parseInt(params.width, 10) > 0) {
        style.width = `${parseInt(params.width, 10)}px`;
      }
      const box = frame.iframe.getBoundingClientRect();
      frame.reply(callbackId, { width: Math.round(box.width), height: Math.round(box.height) });
    },

    setTitle(frame, params, callbackId) {
      const title = document.querySelector('[data-b24-title]');
      if (title) title.textContent = String(params.title === undefined ? '' : params.title);
      frame.reply(callbackId, params);
    },

    setScroll(frame, params, callbackId) {
      window.scrollTo(0, parseInt(params.scroll, 10) || 0);
      frame.reply(callbackId, params);
    },

    reloadWindow() {
      window.location.reload();
    },

    setInstall(frame, params, callbackId) {
      frame.reply(callbackId, { install: params.install });
    },

    // §5.4/§5.5: only an installer (INSTALL true in the init data) can mark the app installed;
    // the portal then reloads so the app opens in normal mode.
    setInstallFinish(frame, params) {
      const url = frame.iframe.dataset.installFinishUrl;
      if (!isTruthy(frame.init.INSTALL) || !url || frame.installFinishing) return;
      frame.installFinishing = true;
      postToPortal(url, { app_sid: frame.sid, value: params.value === false ? 'N' : 'Y' })
        .then(() => window.location.reload())
        .catch((error) => {
          frame.installFinishing = false;
          console.error('b24: setInstallFinish failed', error);
        });
    },

    setUserOption(frame, params, callbackId) {
      frame.saveOption('user', params, callbackId);
    },

    // §5.5: application options are written by administrators only.
    setAppOption(frame, params, callbackId) {
      if (isTruthy(frame.init.IS_ADMIN)) frame.saveOption('app', params, callbackId);
    },

    // §5.4: open a portal path. The sandbox has no slider, so it navigates the top window, but
    // only to a path on this portal: an app must not be able to send the user elsewhere.
    openPath(frame, params, callbackId) {
      const path = typeof params.path === 'string' ? params.path : '';
      let target = null;
      if (path.startsWith('/') && !path.startsWith('//')) {
        const url = new URL(path, window.location.origin);
        if (url.origin === window.location.origin) target = url;
      }
      if (!target) {
        frame.reply(callbackId, { result: 'error', errorCode: 'PATH_NOT_AVAILABLE' });
        return;
      }
      frame.reply(callbackId, { result: 'close' });
      window.top.location.assign(target.href);
    },

    // No slider either: "opened and closed" at once, an error-free callback.
    openApplication(frame, params, callbackId) {
      frame.reply(callbackId);
    },

    closeApplication(frame, params, callbackId) {
      frame.reply(callbackId);
    },

    // §5.5: the same callback id answers every time the event fires.
    placementBindEvent(frame, params, callbackId) {
      const event = String(params.event || '');
      if (!event || !callbackId) return;
      const ids = frame.eventCallbacks.get(event) || [];
      ids.push(callbackId);
      frame.eventCallbacks.set(event, ids);
    },

    // §5.2: refresh the card around the tab; the sandbox card is this page.
    reloadData(frame) {
      if (RELOADABLE_PLACEMENT.test(frame.placement)) window.location.reload();
    },
  };

  // ---------------------------------------------------------------- wiring

  // §5.3 item 3: accept a message only from the frame's own window, from the app handler's
  // origin, and carrying that frame's APP_SID.
  function onMessage(event) {
    const frame = frames.find((candidate) => candidate.iframe.contentWindow === event.source);
    if (!frame || event.origin !== frame.origin) return;
    const message = parseMessage(event.data);
    if (!message || message.sid !== frame.sid) return;
    frame.handle(message);
  }

  function register(iframe) {
    if (frames.some((frame) => frame.iframe === iframe)) return;
    const origin = normaliseOrigin(iframe.dataset.appOrigin);
    const sid = iframe.dataset.appSid || '';
    let init;
    try {
      init = JSON.parse(iframe.dataset.init || '{}');
    } catch (e) {
      init = null;
    }
    if (!origin || !sid || !isPlainObject(init)) {
      console.error('b24: app frame needs data-app-origin, data-app-sid and data-init', iframe);
      return;
    }
    // The reply object of §5.5 carries objects, whatever the template passed in.
    init.PLACEMENT_OPTIONS = asObject(init.PLACEMENT_OPTIONS);
    init.USER_OPTIONS = asObject(init.USER_OPTIONS);
    init.APP_OPTIONS = asObject(init.APP_OPTIONS);
    frames.push(new AppFrame(iframe, origin, sid, init));
  }

  // Frames are registered before their forms are submitted, so the first getInitData finds a
  // listener. The attribute is dropped so a second scan never posts the handler twice.
  function scan(root) {
    const scope = root || document;
    scope.querySelectorAll('iframe[data-b24-app]').forEach(register);
    scope.querySelectorAll('form[data-b24-autosubmit]').forEach((form) => {
      form.removeAttribute('data-b24-autosubmit');
      form.submit();
    });
  }

  window.addEventListener('message', onMessage);
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', () => scan());
  } else {
    scan();
  }

  // For pages that insert an app frame later (e.g. an htmx swap): B24AppLayout.scan(element).
  window.B24AppLayout = Object.freeze({ scan });
})(window, document);
