// The status page's HTML, CSS and JavaScript (see status_page.h).

#include "admin/status_page.h"

#include <string>

namespace imapgate::admin {
namespace {

constexpr std::string_view kHtml = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imapgate status</title>
<style>
  :root { --up: #1b7f3b; --down: #c62828; --draining: #b26a00; --muted: #666; }
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em; color: #111; background: #fafafa; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; }
  h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
  table { border-collapse: collapse; background: #fff; min-width: 40em; }
  th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
  th { background: #f0f0f0; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { font-weight: 700; }
  .state-up { color: #fff; background: var(--up); }
  .state-down { color: #fff; background: var(--down); }
  .state-draining { color: #fff; background: var(--draining); }
  .state-unknown { background: #ddd; }
  #banner { padding: .5em .8em; margin: .6em 0; border-radius: 4px; display: none; }
  #banner.error { display: block; background: #fdecea; color: var(--down); border: 1px solid var(--down); }
  #meta { color: var(--muted); }
  #ready.yes { color: var(--up); font-weight: 700; }
  #ready.no { color: var(--down); font-weight: 700; }
  body.stale main { opacity: .45; }
  #freshness.stale { color: var(--down); font-weight: 700; }
  #token-box { display: none; margin: .6em 0; }
  #token-box.shown { display: block; }
  .counters td { min-width: 6em; }
</style>
</head>
<body>
<h1>imapgate status</h1>
<div id="meta"><span id="version">-</span> &middot; started <span id="started">-</span> &middot; config loaded <span id="config-loaded">-</span> &middot; <span id="freshness">loading&hellip;</span></div>
<div>Readiness: <span id="ready">-</span></div>
<div id="banner" role="alert"></div>
<div id="token-box">Admin token (this address is not loopback):
  <input id="token" type="password" autocomplete="off" size="40">
  <button id="token-save" type="button">Use token</button>
</div>
<main>
<h2>Listeners</h2>
<table id="listeners"><thead><tr><th>Name</th><th>Address</th><th>Mode</th><th>TLS</th><th>PROXY protocol</th></tr></thead><tbody></tbody></table>
<h2>Shards and backends</h2>
<table id="backends"><thead><tr><th>Shard</th><th>Backend</th><th>Address</th><th>State</th><th>Sessions</th><th>Last check</th></tr></thead><tbody></tbody></table>
<h2>Counters</h2>
<table id="counters" class="counters"><thead><tr><th></th><th>OK</th><th>Failed</th></tr></thead><tbody>
  <tr><th>Logins</th><td class="num" id="logins-ok">-</td><td class="num" id="logins-failed">-</td></tr>
  <tr><th>TLS handshakes</th><td class="num" id="tls-ok">-</td><td class="num" id="tls-failed">-</td></tr>
  <tr><th>Refusals since start</th><td class="num" id="refusals-total" colspan="2">-</td></tr>
</tbody></table>
<h2>Recent refusals <span id="refusals-note" class="muted"></span></h2>
<table id="refusals"><thead><tr><th>Time</th><th>Listener</th><th>Reason</th><th>Client</th></tr></thead><tbody></tbody></table>
</main>
<script>
"use strict";
(function () {
  var REFRESH_MS = 5000;
  var STALE_MS = 3 * REFRESH_MS;
  var STATES = { up: "state-up", down: "state-down", draining: "state-draining" };
  var lastOk = 0;
  var failing = false;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function setText(id, text) { $(id).textContent = String(text); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function fmtTime(unix) {
    if (typeof unix !== "number" || unix <= 0) return "-";
    return new Date(unix * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }
  function num(v) { return typeof v === "number" ? v : "-"; }
  function tbody(id) { var b = $(id).tBodies[0]; clear(b); return b; }

  function renderListeners(list) {
    var body = tbody("listeners");
    (list || []).forEach(function (l) {
      var tr = el("tr", "listener");
      tr.setAttribute("data-listener", String(l.name));
      tr.appendChild(el("td", "name", l.name));
      tr.appendChild(el("td", "", l.address));
      tr.appendChild(el("td", "", l.mode));
      tr.appendChild(el("td", "", l.tls ? "yes" : "no"));
      tr.appendChild(el("td", "", l.proxy_protocol ? "required" : "off"));
      body.appendChild(tr);
    });
  }

  function renderShards(shards) {
    var body = tbody("backends");
    (shards || []).forEach(function (s) {
      var backends = s.backends || [];
      backends.forEach(function (b, i) {
        var tr = el("tr", "backend");
        tr.setAttribute("data-backend", String(b.name));
        tr.setAttribute("data-state", String(b.state));
        if (i === 0) {
          var th = el("td", "shard", s.name + " (" + num(s.backends_up) + "/" + backends.length + " up)");
          th.rowSpan = backends.length;
          tr.appendChild(th);
        }
        tr.appendChild(el("td", "name", b.name));
        tr.appendChild(el("td", "", b.address + " (" + b.security + ")"));
        tr.appendChild(el("td", "state " + (STATES.hasOwnProperty(b.state) ? STATES[b.state] : "state-unknown"), b.state));
        tr.appendChild(el("td", "num sessions", num(b.active_sessions)));
        var c = b.last_check;
        tr.appendChild(el("td", "", c ? (c.ok ? "ok" : "failed: " + c.detail) + " at " + fmtTime(c.at) : "not checked yet"));
        body.appendChild(tr);
      });
    });
  }

  function renderRefusals(list, total, capacity) {
    var body = tbody("refusals");
    (list || []).forEach(function (r) {
      var tr = el("tr", "refusal");
      tr.appendChild(el("td", "", fmtTime(r.at)));
      tr.appendChild(el("td", "", r.listener));
      tr.appendChild(el("td", "reason", r.reason));
      tr.appendChild(el("td", "", r.client_address));
      body.appendChild(tr);
    });
    if (!list || list.length === 0) {
      var tr = el("tr");
      var td = el("td", "", "none since start-up");
      td.colSpan = 4;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    setText("refusals-note", "(the last " + num(capacity) + "; " + num(total) + " since start-up)");
  }

  function render(d) {
    setText("version", "imapgate " + d.version);
    setText("started", fmtTime(d.started_at));
    setText("config-loaded", fmtTime(d.config_loaded_at));
    var ready = $("ready");
    ready.textContent = d.ready ? "ready" : "not ready: " + d.ready_reason;
    ready.className = d.ready ? "yes" : "no";
    renderListeners(d.listeners);
    renderShards(d.shards);
    var c = d.counters || {};
    var logins = c.logins || {};
    var tls = c.tls_handshakes || {};
    setText("logins-ok", num(logins.ok));
    setText("logins-failed", num(logins.failed));
    setText("tls-ok", num(tls.ok));
    setText("tls-failed", num(tls.failed));
    setText("refusals-total", num(d.refusals_total));
    renderRefusals(d.refusals, d.refusals_total, d.refusals_capacity);
  }

  function setError(message) {
    var banner = $("banner");
    banner.textContent = message;
    banner.className = message ? "error" : "";
    failing = !!message;
    updateFreshness();
  }

  function updateFreshness() {
    var f = $("freshness");
    var stale = failing || lastOk === 0 || Date.now() - lastOk > STALE_MS;
    if (lastOk === 0) {
      f.textContent = failing ? "no data" : "loading\u2026";
    } else {
      var age = Math.max(0, Math.round((Date.now() - lastOk) / 1000));
      f.textContent = "updated " + age + " s ago" + (stale ? " (stale)" : "");
    }
    f.className = stale && (failing || lastOk !== 0) ? "stale" : "";
    document.body.classList.toggle("stale", stale && lastOk !== 0);
  }

  function token() {
    try { return window.sessionStorage.getItem("imapgate-admin-token") || ""; } catch (e) { return ""; }
  }

  function refresh() {
    var headers = { "Accept": "application/json" };
    var t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    fetch("/api/v1/status", { headers: headers, cache: "no-store", credentials: "omit" })
      .then(function (r) {
        if (r.status === 401) {
          $("token-box").className = "shown";
          throw new Error("the admin token is needed (HTTP 401)");
        }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (d) {
        lastOk = Date.now();
        render(d);
        setError("");
      })
      .catch(function (e) {
        setError("Could not fetch /api/v1/status: " + (e && e.message ? e.message : String(e)) +
                 (lastOk ? "; the data below is from " + new Date(lastOk).toLocaleTimeString() : ""));
      });
  }

  $("token-save").addEventListener("click", function () {
    try { window.sessionStorage.setItem("imapgate-admin-token", $("token").value); } catch (e) {}
    $("token").value = "";
    refresh();
  });
  refresh();
  setInterval(refresh, REFRESH_MS);
  setInterval(updateFreshness, 1000);
})();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view StatusPageHtml() { return kHtml; }

net::HttpResponse StatusPageResponse() {
  net::HttpResponse r(200, "text/html; charset=utf-8", std::string(kHtml));
  r.headers.emplace_back("Content-Security-Policy", std::string(kStatusPageCsp));
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

}  // namespace imapgate::admin
