//! The UI's stylesheet and its one small script, compiled into the binary. The script only
//! shows times in the viewer's local zone and opens the signing dialog; every page works
//! without it.

use axum::http::header;
use axum::response::IntoResponse;

/// High-contrast colours (text on background at least 7:1), visible focus, no web fonts.
const CSS: &str = r#"
:root { --fg:#111; --bg:#fff; --muted:#444; --line:#888; --accent:#0b3d91; --ok:#0a5c2b;
        --bad:#8f0d0d; --warn:#6b4400; --okbg:#e5f4ea; --badbg:#fbe9e9; --warnbg:#fff4d6; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.45 system-ui, sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent); }
a:focus, button:focus, input:focus, select:focus, textarea:focus, summary:focus
  { outline:3px solid #ff9b00; outline-offset:2px; }
.skip { position:absolute; left:-999px; } .skip:focus { left:8px; top:8px; background:#fff; padding:4px; }
header.top { display:flex; flex-wrap:wrap; gap:12px; align-items:center; padding:8px 16px;
             background:#0b2a5b; color:#fff; }
header.top a { color:#fff; } header.top nav a { margin-right:12px; }
.brand { font-weight:700; margin-right:16px; }
form.logout { margin-left:auto; } .who { margin-right:8px; }
main { padding:16px 24px; max-width:1400px; }
h1 { font-size:1.5em; margin:.2em 0 .6em; } h2 { font-size:1.2em; margin-top:1.4em; }
table { border-collapse:collapse; width:100%; margin:.5em 0 1em; }
th, td { border:1px solid var(--line); padding:4px 6px; text-align:left; vertical-align:top; }
th { background:#eef0f4; }
pre.json { background:#f4f4f4; padding:8px; overflow:auto; max-height:30em; border:1px solid var(--line); }
.muted { color:var(--muted); }
.ok { color:var(--ok); background:var(--okbg); } .bad { color:var(--bad); background:var(--badbg); }
.warn { color:var(--warn); background:var(--warnbg); }
.badge { display:inline-block; padding:0 6px; border:1px solid currentColor; border-radius:3px; }
.error { border:2px solid var(--bad); background:var(--badbg); padding:8px 12px; margin:8px 0; }
.notice { border:2px solid var(--ok); background:var(--okbg); padding:8px 12px; margin:8px 0; }
.field { margin:8px 0; display:flex; flex-direction:column; max-width:48em; }
.field label { font-weight:600; }
.field input, .field select, .field textarea { font:inherit; padding:4px; border:1px solid #555; }
.field-error { color:var(--bad); font-weight:600; }
.filters { display:flex; flex-wrap:wrap; gap:12px; align-items:flex-end; }
.filters .field { margin:0; }
button, .button { font:inherit; padding:4px 12px; border:1px solid #0b2a5b; background:#0b3d91;
                  color:#fff; cursor:pointer; text-decoration:none; display:inline-block; }
button.secondary { background:#fff; color:#0b3d91; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(280px,1fr)); gap:12px; }
.card { border:1px solid var(--line); padding:8px 12px; }
.board { display:grid; grid-auto-flow:column; grid-auto-columns:minmax(220px,1fr); gap:8px; overflow-x:auto; }
.column { border:1px solid var(--line); padding:6px; background:#fafafa; }
.attention td { background:var(--warnbg); }
.local { display:block; color:var(--muted); font-size:.9em; }
dialog { max-width:40em; border:2px solid #0b2a5b; }
dl.kv { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; }
dl.kv dt { font-weight:600; }
svg.bars text { font-size:12px; fill:#111; }
"#;

/// Times in the viewer's zone; the signing dialog opened in place when the browser has one.
const JS: &str = r#"
document.querySelectorAll('.local[data-utc]').forEach(function (el) {
  var d = new Date(el.getAttribute('data-utc'));
  if (!isNaN(d)) { el.textContent = 'local: ' + d.toLocaleString(); }
});
document.querySelectorAll('[data-open-dialog]').forEach(function (button) {
  var dialog = document.getElementById(button.getAttribute('data-open-dialog'));
  if (!dialog || !dialog.showModal) { return; }
  button.addEventListener('click', function (e) {
    e.preventDefault(); dialog.showModal();
    var first = dialog.querySelector('select, input:not([type=hidden])');
    if (first) { first.focus(); }
  });
});
document.querySelectorAll('[data-close-dialog]').forEach(function (button) {
  button.addEventListener('click', function () { button.closest('dialog').close(); });
});
"#;

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        JS,
    )
}
