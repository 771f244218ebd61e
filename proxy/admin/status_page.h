// The status page: one self-contained HTML page (inline CSS and JavaScript, no external assets)
// served at GET / on the admin endpoint. It fetches GET /api/v1/status from the same origin every
// 5 s and renders the listeners, the shards and backends with their state (coloured), sessions
// per backend, the login and TLS counters and the recent refusals; it says when the data is
// stale or the fetch failed. Everything it renders goes in through textContent (names come from
// the config, addresses from clients), never innerHTML. A 401 (a non-loopback reader) shows a
// field for the admin token, kept in the tab's sessionStorage and sent as a Bearer token.
//
// Pure: the page is a constant; StatusPageResponse() adds the headers an inline page needs.
#pragma once

#include <string_view>

#include "net/http_message.h"

namespace imapgate::admin {

// The page's Content-Security-Policy: inline script and style only, fetches to the same origin
// only, no frames, forms, images or base URL.
inline constexpr std::string_view kStatusPageCsp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

// The HTML of the page (UTF-8).
std::string_view StatusPageHtml();

// 200 text/html with the page, its CSP, X-Frame-Options: DENY and Referrer-Policy: no-referrer
// (net::HttpServer adds X-Content-Type-Options: nosniff and Cache-Control: no-store).
net::HttpResponse StatusPageResponse();

}  // namespace imapgate::admin
