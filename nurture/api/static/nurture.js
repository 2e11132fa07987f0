/*! Nurture first-party tracker 1.0.0 | served at /v1/nurture.js | no dependencies */
(function (window, document) {
  "use strict";
  var VERSION = "1.0.0";
  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var host = data.host || (script ? new URL(script.src).origin : "");
  var key = data.key || "";
  // `data-require-consent` (any value but "false"): nothing until nurture.consent(true)
  var needsConsent = "requireConsent" in data && data.requireConsent !== "false";
  var COOKIE = "nurture_aid";
  var queue = [];
  var timer = null;
  var consented = !needsConsent;
  var forms = [];
  var visitorToken = takeVisitorToken();

  // A Nurture email link adds `#nt=` (a sealed token of its lead, an hour long): keep it for
  // identify, and take it out of the address bar so it is neither bookmarked nor shared.
  function takeVisitorToken() {
    var found = location.hash.match(/^#nt=([A-Za-z0-9_-]+)$/);
    if (!found) { return null; }
    history.replaceState(history.state, "", location.pathname + location.search);
    return found[1];
  }

  function identifyVisitor() {
    if (!visitorToken) { return; }
    var item = message("identify", { traits: {} });
    item.context.nurture = { token: visitorToken };
    visitorToken = null;
    queue.push(item);
  }

  function optedOut() {
    return navigator.doNotTrack === "1" || window.doNotTrack === "1" ||
      navigator.globalPrivacyControl === true;
  }

  function active() {
    return consented && !optedOut() && !!key;
  }

  function randomId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function anonymousId() {
    var found = document.cookie.match(new RegExp("(?:^|; )" + COOKIE + "=([^;]+)"));
    if (found) { return decodeURIComponent(found[1]); }
    var id = randomId();
    document.cookie = COOKIE + "=" + encodeURIComponent(id) + "; path=/; max-age=31536000; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    return id;
  }

  function campaign() {
    var params = new URLSearchParams(location.search);
    var found = {};
    ["source", "medium", "campaign", "term", "content"].forEach(function (name) {
      var value = params.get("utm_" + name);
      if (value) { found[name === "campaign" ? "name" : name] = value; }
    });
    return found;
  }

  function context() {
    return {
      page: { url: location.href, path: location.pathname, referrer: document.referrer, title: document.title },
      campaign: campaign(),
      library: { name: "nurture.js", version: VERSION }
    };
  }

  function message(type, fields) {
    var base = { type: type, messageId: randomId(), anonymousId: anonymousId(),
                 timestamp: new Date().toISOString(), context: context() };
    for (var name in fields) { if (Object.prototype.hasOwnProperty.call(fields, name)) { base[name] = fields[name]; } }
    return base;
  }

  function endpoint() {
    return host + "/v1/batch?writeKey=" + encodeURIComponent(key);
  }

  function flush(unloading) {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!queue.length || !active()) { return; }
    var batch = queue.splice(0, queue.length);
    var blob = new Blob([JSON.stringify({ batch: batch })], { type: "text/plain" });  // no preflight
    if (unloading && navigator.sendBeacon && navigator.sendBeacon(endpoint(), blob)) { return; }
    fetch(endpoint(), { method: "POST", body: blob, keepalive: true, mode: "cors",
                        credentials: "omit" }).then(function (answer) {
      if (answer.status === 429 || answer.status >= 500) { retry(batch, answer.headers.get("Retry-After")); }
    }).catch(function () { retry(batch, null); });
  }

  // Too fast (429) or the API away: the batch goes back to the front, tried again when the
  // API says (Retry-After) or in 5 s; a queue past 200 events stops growing.
  function retry(batch, after) {
    if (queue.length + batch.length > 200) { return; }
    queue = batch.concat(queue);
    if (timer) { clearTimeout(timer); }
    var seconds = Math.min(Number(after) || 5, 60);
    timer = setTimeout(function () { flush(false); }, seconds * 1000);
  }

  function send(type, fields) {
    if (!active()) { return; }  // before the message: no cookie without consent
    queue.push(message(type, fields));
    if (queue.length >= 10) { flush(false); }
    else if (!timer) { timer = setTimeout(function () { flush(false); }, 2000); }
  }

  function watchForms() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-nurture-form]"), function (form) {
      var state = { name: form.getAttribute("data-nurture-form"), started: false, sent: false };
      forms.push(state);
      form.addEventListener("input", function () { state.started = true; });  // typed in
      form.addEventListener("submit", function () { state.sent = true; });
    });
  }

  function leaving() {
    forms.forEach(function (state) {
      if (state.started && !state.sent && !state.reported) {
        state.reported = true;
        send("track", { event: "Contact Form Abandoned", properties: { form: state.name } });
      }
    });
    flush(true);
  }

  var nurture = {
    VERSION: VERSION,
    page: function (properties) { send("page", { properties: properties || {} }); },
    track: function (event, properties) {
      send("track", { event: event, properties: properties || {} });
    },
    consent: function (given) {
      consented = !!given;
      if (!consented) {
        queue = [];
        document.cookie = COOKIE + "=; path=/; max-age=0";
      } else if (!nurture._paged) {
        nurture._paged = true;
        nurture.page();
        identifyVisitor();
      }
    },
    flush: function () { flush(false); },
    _paged: false
  };
  window.nurture = nurture;
  window.addEventListener("pagehide", leaving);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flush(true); }  // the tab may never return
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watchForms);
  } else { watchForms(); }
  if (active()) { nurture._paged = true; nurture.page(); identifyVisitor(); }
})(window, document);
