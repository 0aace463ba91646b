//! The operator's status page: HTML rendered here from the engine's status
//! snapshot, with inline CSS and one small inline script, so it works on a
//! network with no way out. Every value is HTML-escaped; the snapshot holds
//! token ids (one-way hashes), never a token, ticket, secret or key, and the
//! page adds nothing but names and times.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::sync::OnceLock;
use wxcore::exposition::utc;

/// Re-renders the page every 5 s by fetching it again and swapping its
/// `<main>`: one renderer (this file) for the first load and the refreshes,
/// the scroll position kept, and the session cookie sent by the browser
/// (the script never sees a key). A failed refresh says so instead of
/// showing stale numbers as live.
const SCRIPT: &str = r#"(function(){var live=document.getElementById('live');function tick(){fetch(location.pathname,{credentials:'same-origin',cache:'no-store',headers:{'Accept':'text/html'}}).then(function(r){if(!r.ok)throw new Error(r.status===401?'signed out: reload to sign in':'HTTP '+r.status);return r.text();}).then(function(t){var m=new DOMParser().parseFromString(t,'text/html').getElementById('main');if(!m)throw new Error('unexpected answer');document.getElementById('main').replaceWith(m);live.textContent='Live, updated '+new Date().toLocaleTimeString();live.className='live';}).catch(function(e){live.textContent='Not updating ('+e.message+')';live.className='live stale';});}setInterval(tick,5000);})();"#;

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
header{display:flex;flex-wrap:wrap;gap:4px 16px;align-items:baseline;padding:12px 16px;background:#24292f;color:#fff}
header h1{font-size:18px;margin:0}
header .meta{font-size:12px;color:#d0d7de}
header form{margin:0 0 0 auto}
header button{font:inherit;font-size:12px;background:none;color:#d0d7de;border:1px solid #57606a;border-radius:4px;padding:2px 8px;cursor:pointer}
main{max-width:1200px;margin:0 auto;padding:8px 12px 32px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:12px 0;padding:8px 12px}
h2{font-size:16px;margin:4px 0 8px}
h2 .n{font-weight:normal;color:#57606a;font-size:13px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-top:1px solid #eaeef2;vertical-align:top}
th{font-weight:600;color:#57606a;border-top:0;white-space:nowrap}
td{overflow-wrap:anywhere}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:1px 4px;border-radius:3px}
.sub{display:block;color:#57606a;font-size:12px}
.bar{display:block;height:8px;min-width:80px;background:#eaeef2;border-radius:4px;overflow:hidden;margin:3px 0}
.bar>span{display:block;height:100%;background:#2da44e}
.warn .bar>span{background:#bf8700}
.danger .bar>span{background:#cf222e}
tr.warn td.pct{color:#9a6700;font-weight:600}
tr.danger td.pct{color:#cf222e;font-weight:600}
.badge{display:inline-block;padding:0 6px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.ok{background:#dafbe1;color:#116329}
.bad{background:#ffebe9;color:#a40e26}
.mid{background:#fff8c5;color:#7d4e00}
.off{background:#eaeef2;color:#57606a}
.empty{color:#57606a;font-style:italic;margin:4px 0 8px}
.live{font-size:12px;color:#8ddb8c}
.live.stale{color:#ffb1a8}
code.id{white-space:nowrap}
.k{color:#57606a;font-size:12px}
@media (max-width:600px){
main{padding:4px 6px 24px}section{padding:6px 8px}
table.cards thead{display:none}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
table.cards tr{border-top:1px solid #d0d7de;padding:6px 0}
table.cards tr:first-child{border-top:0}
table.cards td{border:0;padding:2px 0;display:grid;grid-template-columns:7.5em minmax(0,1fr);gap:8px}
table.cards td::before{content:attr(data-label);color:#57606a;font-size:12px;font-weight:600}
}
"#;

/// The script's CSP hash: the page runs that script and nothing else.
pub fn script_csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        use base64::Engine as _;
        let h = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT));
        format!(
            "default-src 'none'; script-src 'sha256-{h}'; style-src 'unsafe-inline'; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )
    })
}

/// The sign-in page's policy: no script at all.
pub const LOGIN_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                             base-uri 'none'; frame-ancestors 'none'";

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A span, two units at most: `1 h 59 min`, `4 min 10 s`, `850 ms`.
pub fn span(ms: u64) -> String {
    let s = ms / 1000;
    if s == 0 {
        return format!("{ms} ms");
    }
    let (d, h, m, s) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) if s == 0 => format!("{m} min"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, 0) => format!("{h} h"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

fn rel(at: u64, now: u64) -> String {
    // The snapshot and a caller's last request can be a few ms apart either way.
    if at.abs_diff(now) < 1000 {
        "just now".into()
    } else if at > now {
        format!("in {}", span(at - now))
    } else {
        format!("{} ago", span(now - at))
    }
}

/// A moment as a person reads it: relative, with the exact time on hover
/// and in the line below.
fn when(at: u64, now: u64) -> String {
    let u = utc(at);
    format!(
        "<time datetime=\"{}\" title=\"{u}\">{}</time><span class=\"sub\">{u}</span>",
        at,
        esc(&rel(at, now))
    )
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A JSON scalar as text (codes are numbers or strings).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What each alert category means, in the words of seed 004 §7.2.
pub fn describe(category: &str) -> &'static str {
    match category {
        "dns_failure" => "DNS failure: cannot resolve the domain",
        "dns_timeout" => "DNS timeout: name resolution took too long",
        "connect_failure" => "Connection failure: refused or unreachable",
        "connect_timeout" => "Connection timeout: could not connect in time",
        "request_timeout" => "Request timeout: no response in time",
        "connection_reset" => "Connection reset mid-exchange",
        "tls_failure" => "TLS failure: handshake or session failed",
        "response_invalid" => "Response invalid: malformed body or HTTP 5xx",
        "mark_fail" => "MarkFail: host blocked after repeated failures",
        _ => "Other failure",
    }
}

fn bar(percent: u64) -> String {
    format!(
        "<span class=\"bar\" role=\"progressbar\" aria-valuenow=\"{p}\" aria-valuemin=\"0\" aria-valuemax=\"100\"><span style=\"width:{p}%\"></span></span>",
        p = percent.min(100)
    )
}

fn section(out: &mut String, id: &str, title: &str, count: usize) {
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{title} <span class=\"n\">({count})</span></h2>"
    );
}

/// A table that turns into one card per row on a narrow screen: each cell
/// carries its column's name (`data-label`), shown beside it there.
fn table(out: &mut String, cols: &[&str]) {
    out.push_str("<div class=\"scroll\"><table class=\"cards\"><thead><tr>");
    for c in cols {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr></thead><tbody>");
}

fn table_end(out: &mut String) {
    out.push_str("</tbody></table></div></section>");
}

/// One cell; `html` is already escaped.
fn cell(out: &mut String, label: &str, class: &str, html: &str) {
    let class = if class.is_empty() {
        String::new()
    } else {
        format!(" class=\"{class}\"")
    };
    let _ = write!(
        out,
        "<td{class} data-label=\"{}\"><div>{html}</div></td>",
        esc(label)
    );
}

fn apps(out: &mut String, doc: &Value, now: u64) {
    let rows = arr(doc, "apps");
    section(out, "apps", "Apps", rows.len());
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">No apps configured</p></section>");
        return;
    }
    const COLS: [&str; 7] = [
        "App",
        "Source",
        "Token id",
        "Token life",
        "Next refresh",
        "Last refresh",
        "Calls",
    ];
    table(out, &COLS);
    for a in rows {
        let app = s(a, "app");
        let fetching = a.get("fetching") == Some(&Value::Bool(true));
        let _ = write!(out, "<tr data-app=\"{}\">", esc(app));
        cell(
            out,
            COLS[0],
            "",
            &format!(
                "<strong>{}</strong><span class=\"sub\">{}</span>",
                esc(app),
                esc(s(a, "platform"))
            ),
        );
        cell(out, COLS[1], "", &esc(s(a, "credential")));
        match a.get("token").filter(|t| t.is_object()) {
            Some(t) => {
                let remaining = n(t, "remaining_ms").unwrap_or(0);
                let expires = n(t, "expires_at_ms").unwrap_or(0);
                let life = n(t, "obtained_at_ms").map(|o| expires.saturating_sub(o));
                let pct = life
                    .filter(|&l| l > 0)
                    .map_or(0, |l| remaining.min(l) * 100 / l);
                let class = if remaining == 0 {
                    "danger"
                } else if pct < 20 {
                    "warn"
                } else {
                    ""
                };
                let age = n(t, "age_ms")
                    .map_or_else(|| "age unknown".into(), |a| format!("age {}", span(a)));
                cell(
                    out,
                    COLS[2],
                    "",
                    &format!("<code class=\"id\">{}</code>", esc(s(t, "id"))),
                );
                cell(
                    out,
                    COLS[3],
                    class,
                    &format!(
                        "{}<span class=\"sub\">{} left · {} · expires {}</span>",
                        bar(pct),
                        esc(&span(remaining)),
                        esc(&age),
                        esc(&utc(expires))
                    ),
                );
                let next = match n(t, "refresh_at_ms") {
                    _ if fetching => "<span class=\"badge mid\">refreshing now</span>".into(),
                    Some(r) => when(r, now),
                    None => "—".into(),
                };
                cell(out, COLS[4], "", &next);
            }
            None => {
                let what = if fetching {
                    "<span class=\"badge mid\">fetching</span>"
                } else if matches!(s(a, "credential"), "relay" | "static") {
                    "<span class=\"badge off\">none held</span>"
                } else {
                    "<span class=\"badge bad\">no token</span>"
                };
                cell(out, COLS[2], "", "—");
                cell(out, COLS[3], "", what);
                cell(out, COLS[4], "", "—");
            }
        }
        let last = match a.get("last_refresh").filter(|l| l.is_object()) {
            Some(l) => {
                let result = s(l, "result");
                let class = if result == "ok" { "ok" } else { "bad" };
                let code = l.get("code").map(scalar).unwrap_or_default();
                let code = if code.is_empty() {
                    String::new()
                } else {
                    format!(" (code {})", esc(&code))
                };
                format!(
                    "<span class=\"badge {class}\">{}</span> {}{code}<br>{}<span class=\"sub\">{} refreshes</span>",
                    esc(result),
                    esc(s(l, "trigger")),
                    n(l, "at_ms").map(|at| when(at, now)).unwrap_or_default(),
                    n(a, "refreshes").unwrap_or(0)
                )
            }
            None => "—".into(),
        };
        cell(out, COLS[5], "", &last);
        let blocked = n(a, "blocked_until_ms")
            .map(|u| {
                format!(
                    "<span class=\"badge bad\">blocked until {}</span>",
                    esc(&utc(u))
                )
            })
            .unwrap_or_default();
        cell(
            out,
            COLS[6],
            "",
            &format!(
                "{} queued<span class=\"sub\">{} in flight · {} waiting for a token</span>{blocked}",
                n(a, "queued").unwrap_or(0),
                n(a, "in_flight").unwrap_or(0),
                n(a, "waiting_for_token").unwrap_or(0)
            ),
        );
        out.push_str("</tr>");
    }
    table_end(out);
}

fn quotas(out: &mut String, doc: &Value, now: u64) {
    let rows = arr(doc, "quotas");
    section(out, "quotas", "Daily quotas", rows.len());
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">No quotas used today</p></section>");
        return;
    }
    const COLS: [&str; 5] = ["App", "API", "Used", "%", "Resets"];
    table(out, &COLS);
    for q in rows {
        let used = n(q, "used").unwrap_or(0);
        let exhausted = q.get("exhausted") == Some(&Value::Bool(true));
        let pct = n(q, "percent");
        let level = match pct {
            _ if exhausted => "danger",
            Some(p) if p >= 95 => "danger",
            Some(p) if p >= 80 => "warn",
            _ => "",
        };
        let limit = n(q, "limit").map_or_else(|| "no limit".to_string(), |l| l.to_string());
        let _ = write!(
            out,
            "<tr class=\"{level}\" data-app=\"{}\" data-api=\"{}\" data-percent=\"{}\">",
            esc(s(q, "app")),
            esc(s(q, "api")),
            pct.map_or_else(String::new, |p| p.to_string()),
        );
        cell(out, COLS[0], "", &esc(s(q, "app")));
        cell(
            out,
            COLS[1],
            "",
            &format!("<code>{}</code>", esc(s(q, "api"))),
        );
        cell(
            out,
            COLS[2],
            "",
            &format!(
                "{used} / {}{}{}",
                esc(&limit),
                bar(pct.unwrap_or(if exhausted { 100 } else { 0 })),
                if exhausted {
                    "<span class=\"badge bad\">used up</span>"
                } else {
                    ""
                }
            ),
        );
        cell(
            out,
            COLS[3],
            "pct",
            &pct.map_or_else(|| "—".to_string(), |p| format!("{p}%")),
        );
        cell(
            out,
            COLS[4],
            "",
            &n(q, "resets_at_ms")
                .map(|r| when(r, now))
                .unwrap_or_default(),
        );
        out.push_str("</tr>");
    }
    table_end(out);
}

fn hosts(out: &mut String, doc: &Value, now: u64) {
    let rows = arr(doc, "hosts");
    section(out, "circuits", "Host circuits", rows.len());
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">No hosts contacted</p></section>");
        return;
    }
    const COLS: [&str; 4] = ["Host", "Circuit", "Until", "Failures in a row"];
    table(out, &COLS);
    for h in rows {
        let state = s(h, "state");
        let (class, label) = match state {
            "closed" => ("ok", "closed (in use)"),
            "open" => ("bad", "open (routed around)"),
            "half_open" => ("mid", "half open (probing)"),
            _ => ("off", state),
        };
        let _ = write!(
            out,
            "<tr data-host=\"{}\" data-state=\"{}\">",
            esc(s(h, "host")),
            esc(state)
        );
        cell(
            out,
            COLS[0],
            "",
            &format!("<code>{}</code>", esc(s(h, "host"))),
        );
        cell(
            out,
            COLS[1],
            "",
            &format!("<span class=\"badge {class}\">{}</span>", esc(label)),
        );
        cell(
            out,
            COLS[2],
            "",
            &n(h, "until_ms")
                .map(|u| when(u, now))
                .unwrap_or_else(|| "—".into()),
        );
        cell(out, COLS[3], "", &n(h, "failures").unwrap_or(0).to_string());
        out.push_str("</tr>");
    }
    table_end(out);
}

fn alerts(out: &mut String, doc: &Value, now: u64) {
    let rows = arr(doc, "alerts");
    let open = rows
        .iter()
        .filter(|a| a.get("open") == Some(&Value::Bool(true)))
        .count();
    section(out, "alerts", "Alerts", rows.len());
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">No alerts</p></section>");
        return;
    }
    let _ = write!(
        out,
        "<p class=\"sub\">{open} open (a failure within the last 5 minutes). As in seed 004 §7.3: \
         app, first occurrence, what failed, how often, one sample.</p>"
    );
    const COLS: [&str; 6] = [
        "App",
        "First seen",
        "Category",
        "Last 5 min",
        "Total",
        "Sample",
    ];
    table(out, &COLS);
    for a in rows {
        let cat = s(a, "category");
        let is_open = a.get("open") == Some(&Value::Bool(true));
        let sample = a.get("sample").cloned().unwrap_or(Value::Null);
        let _ = write!(
            out,
            "<tr data-app=\"{}\" data-category=\"{}\" data-open=\"{is_open}\">",
            esc(s(a, "app")),
            esc(cat)
        );
        cell(out, COLS[0], "", &esc(s(a, "app")));
        cell(
            out,
            COLS[1],
            "",
            &n(a, "first_seen_ms")
                .map(|f| when(f, now))
                .unwrap_or_default(),
        );
        cell(
            out,
            COLS[2],
            "",
            &format!(
                "<span class=\"badge {}\">{}</span><span class=\"sub\">{}</span>",
                if is_open { "bad" } else { "off" },
                esc(cat),
                esc(describe(cat))
            ),
        );
        cell(
            out,
            COLS[3],
            "count",
            &n(a, "count_window").unwrap_or(0).to_string(),
        );
        cell(
            out,
            COLS[4],
            "total",
            &n(a, "count_total").unwrap_or(0).to_string(),
        );
        cell(
            out,
            COLS[5],
            "sample",
            &format!(
                "<span class=\"k\">Host</span> <code>{}</code><br><span class=\"k\">API</span> <code>{}</code><br>\
                 <span class=\"k\">Error</span> {}",
                esc(s(&sample, "host")),
                esc(s(&sample, "api")),
                esc(s(&sample, "error"))
            ),
        );
        out.push_str("</tr>");
    }
    table_end(out);
}

fn callers(out: &mut String, doc: &Value, now: u64) {
    let rows = arr(doc, "callers");
    section(out, "callers", "Callers", rows.len());
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">No callers configured</p></section>");
        return;
    }
    const COLS: [&str; 3] = ["Caller", "Last seen", "Requests"];
    table(out, &COLS);
    for c in rows {
        let _ = write!(out, "<tr data-caller=\"{}\">", esc(s(c, "name")));
        cell(out, COLS[0], "", &esc(s(c, "name")));
        cell(
            out,
            COLS[1],
            "",
            &n(c, "last_seen_ms")
                .map(|t| when(t, now))
                .unwrap_or_else(|| "<span class=\"badge off\">never</span>".into()),
        );
        cell(out, COLS[2], "", &n(c, "requests").unwrap_or(0).to_string());
        out.push_str("</tr>");
    }
    table_end(out);
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The whole page. `doc` is `/status.json`'s document; `viewer` the
/// signed-in caller's name.
pub fn page(doc: &Value, viewer: &str) -> String {
    let now = n(doc, "now_ms").unwrap_or(0);
    let server = doc.get("server").cloned().unwrap_or(Value::Null);
    let open_alerts = arr(doc, "alerts")
        .iter()
        .filter(|a| a.get("open") == Some(&Value::Bool(true)))
        .count();
    let open_hosts = arr(doc, "hosts")
        .iter()
        .filter(|h| s(h, "state") != "closed")
        .count();
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>wxcore-server status</title><style>{STYLE}</style>\
         <noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript></head><body>\
         <header><h1>wxcore-server</h1><span class=\"meta\">version {} · up since {} · signed in as {}</span>\
         <span id=\"live\" class=\"live\">Live, refreshes every 5 s</span>\
         <form method=\"post\" action=\"/status/logout\"><button type=\"submit\">Sign out</button></form></header>",
        esc(s(&server, "version")),
        esc(&n(&server, "started_at_ms").map(utc).unwrap_or_default()),
        esc(viewer)
    );
    let _ = write!(
        out,
        "<main id=\"main\"><p class=\"sub\" id=\"summary\">As of {}: {}, {}, {} not in use.</p>",
        esc(&utc(now)),
        count(arr(doc, "apps").len(), "app"),
        count(open_alerts, "open alert"),
        count(open_hosts, "host")
    );
    apps(&mut out, doc, now);
    quotas(&mut out, doc, now);
    hosts(&mut out, doc, now);
    alerts(&mut out, doc, now);
    callers(&mut out, doc, now);
    let _ = write!(out, "</main><script>{SCRIPT}</script></body></html>");
    out
}

/// The sign-in form: the key goes in a POST body, never a URL.
pub fn login(message: Option<&str>) -> String {
    let msg = message
        .map(|m| format!("<p class=\"badge bad\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>wxcore-server status: sign in</title><style>{STYLE}\
         form.login{{display:flex;flex-direction:column;gap:8px;max-width:420px}}\
         form.login input{{font:inherit;padding:6px 8px;border:1px solid #d0d7de;border-radius:4px;width:100%}}\
         form.login button{{font:inherit;padding:6px 12px;border-radius:4px;border:1px solid #1f883d;background:#1f883d;color:#fff;align-self:flex-start}}\
         </style></head><body><header><h1>wxcore-server</h1></header><main><section>\
         <h2>Sign in to the status page</h2>{msg}\
         <form class=\"login\" method=\"post\" action=\"/status/login\">\
         <label for=\"key\">Caller key with the <code>status</code> action</label>\
         <input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"off\" required>\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"sub\">The key is sent once in this form's body; the browser then holds a session cookie, not the key.</p>\
         </section></main></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_and_spans_read_as_a_person_would() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_764_757_920_000), "2025-12-03 10:32:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(span(850), "850 ms");
        assert_eq!(span(61_000), "1 min 1 s");
        assert_eq!(span(7_140_000), "1 h 59 min");
        assert_eq!(rel(10_000, 4_000), "in 6 s");
        assert_eq!(rel(4_000, 10_000), "6 s ago");
        assert_eq!(rel(10_002, 10_000), "just now");
    }

    #[test]
    fn everything_is_escaped_and_levels_follow_the_percent() {
        let doc = json!({
            "now_ms": 1_000_000u64,
            "apps": [{"app": "<script>x</script>", "platform": "wechat-oa", "credential": "secret",
                      "token": null, "fetching": false, "last_refresh": null}],
            "quotas": [
                {"app": "oa", "api": "/a", "used": 95, "limit": 100, "percent": 95, "exhausted": false, "resets_at_ms": 2_000_000u64},
                {"app": "oa", "api": "/b", "used": 80, "limit": 100, "percent": 80, "exhausted": false, "resets_at_ms": 2_000_000u64},
                {"app": "oa", "api": "/c", "used": 10, "limit": 100, "percent": 10, "exhausted": false, "resets_at_ms": 2_000_000u64}],
            "hosts": [{"host": "http://h\"1", "state": "open", "until_ms": 1_030_000u64, "failures": 3}],
            "alerts": [],
            "callers": [{"name": "ops&co", "last_seen_ms": null, "requests": 0}],
            "server": {"started_at_ms": 0, "version": "0.1.0"}
        });
        let html = page(&doc, "ops&co");
        assert!(!html.contains("<script>x</script>"));
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(html.contains("data-host=\"http://h&quot;1\""));
        assert!(html.contains("ops&amp;co"));
        assert!(html.contains("<tr class=\"danger\" data-app=\"oa\" data-api=\"/a\""));
        assert!(html.contains("<tr class=\"warn\" data-app=\"oa\" data-api=\"/b\""));
        assert!(html.contains("<tr class=\"\" data-app=\"oa\" data-api=\"/c\""));
        assert!(html.contains("No alerts"));
        assert!(html.contains("open (routed around)"));
        // Exactly one script, the one the CSP hash allows.
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(html.contains(SCRIPT));
    }

    #[test]
    fn empty_states_are_spelled_out() {
        let html = page(&json!({"now_ms": 0}), "ops");
        for s in [
            "No apps configured",
            "No quotas used today",
            "No hosts contacted",
            "No alerts",
            "No callers configured",
        ] {
            assert!(html.contains(s), "{s}");
        }
    }
}
