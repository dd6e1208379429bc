"""The inbox page's stylesheet, script and icon, served as files (the page's
Content-Security-Policy allows no inline script or style).

The script keeps the page live: it follows ``api/stream`` (Server-Sent
Events) and adds the interrupts that arrive and removes those answered,
wherever they were answered, without a reload; it filters the cards by graph
and by text, and remembers the reviewer's name.
"""

FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#2f5bea"/>'
    '<path d="M9 17l5 5 9-11" stroke="#fff" stroke-width="3.5" fill="none" '
    'stroke-linecap="round" stroke-linejoin="round"/></svg>'
)

STYLESHEET = """
:root { --bg:#f5f6f8; --card:#fff; --ink:#1d2330; --muted:#667085; --line:#e4e7ec;
  --accent:#2f5bea; --ok:#0f7b4d; --okbg:#e7f6ee; --err:#b42318; --errbg:#fdecea; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
header { background:#151b2c; color:#fff; padding:14px 28px; display:flex;
  align-items:center; justify-content:space-between; }
header h1 { font-size:18px; margin:0; font-weight:600; }
header h1 span { color:#9aa7c7; font-weight:400; }
header nav { color:#c9d1e6; font-size:14px; display:flex; gap:16px; align-items:center; }
header form { margin:0; }
header button { background:none; border:1px solid #4a5675; color:#c9d1e6; border-radius:6px;
  padding:3px 10px; cursor:pointer; }
main { max-width:1040px; margin:0 auto; padding:22px 28px 60px; }
h2 { font-size:16px; margin:26px 0 12px; display:flex; gap:8px; align-items:center; }
.count { background:var(--accent); color:#fff; border-radius:10px; padding:0 8px; font-size:13px; }
.flash { border-radius:8px; padding:12px 16px; margin:8px 0 4px; border:1px solid; }
.flash.ok { background:var(--okbg); border-color:#a6dcc0; color:var(--ok); }
.flash.err { background:var(--errbg); border-color:#f4b8b0; color:var(--err); }
.notice { display:none; background:#fff7e0; border:1px solid #f1d38a; border-radius:8px;
  padding:8px 14px; margin:8px 0; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:16px 18px; margin:0 0 14px; box-shadow:0 1px 2px rgba(16,24,40,.04); }
.meta { display:flex; flex-wrap:wrap; gap:6px 16px; color:var(--muted); font-size:13px; }
.meta .graph { color:var(--ink); font-weight:600; font-size:15px; }
code { font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
.interrupt { margin-top:12px; }
.iid { font-size:12px; color:var(--muted); margin-bottom:4px; }
pre.value { background:#f8f9fb; border:1px solid var(--line); border-radius:8px; margin:0;
  padding:10px 12px; max-height:320px; overflow:auto; white-space:pre-wrap;
  word-break:break-word; font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
label { display:block; font-size:13px; color:var(--muted); margin-top:10px; }
textarea { width:100%; margin-top:4px; border:1px solid #cfd4dc; border-radius:8px;
  padding:8px 10px; font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
textarea:focus, input:focus { outline:2px solid #b9c8fb; border-color:var(--accent); }
.human .description { margin:4px 0 10px; } .human .description p { margin:4px 0; }
.human .action { margin:6px 0; } .human table.args { border-collapse:collapse; margin:6px 0; }
.human table.args th { text-align:left; padding:2px 10px 2px 0; color:var(--muted); }
.human fieldset.args { border:1px solid var(--line); border-radius:8px; margin:8px 0; }
.human fieldset.args label { display:block; margin:6px 0; color:var(--muted); font-size:13px; }
.human fieldset.args input { display:block; width:100%; margin-top:2px; padding:6px 8px;
  border:1px solid var(--line); border-radius:6px; font:14px ui-monospace,monospace; }
.human .choices { display:flex; gap:8px; flex-wrap:wrap; margin-top:10px; }
.human .choices button:not(.primary) { background:#fff; color:var(--ink); cursor:pointer;
  border:1px solid #c9cfd8; border-radius:8px; padding:8px 14px; font:inherit; }
[hidden] { display:none !important; }
textarea.invalid { border-color:var(--err); } .jsonerr { color:var(--err); font-size:13px; }
header nav a { color:#c7d2fe; margin-left:14px; text-decoration:none; }
.deadline { color:var(--err); }
.toolbar { display:flex; gap:8px; margin:0 0 12px; }
.toolbar select, .toolbar input { border:1px solid #cfd4dc; border-radius:8px; padding:6px 10px;
  font:inherit; background:#fff; } .toolbar input { flex:1; }
.context { margin:8px 0; } .context summary { cursor:pointer; color:var(--muted); }
.context ol.messages { margin:6px 0; padding-left:22px; } .context .role { font-weight:600; }
.context .call code { margin-left:4px; }
.quick { margin-top:8px; display:flex; gap:6px; flex-wrap:wrap; align-items:center;
  font-size:13px; color:var(--muted); }
.quick button { background:#eef2ff; color:#23399c; border:1px solid #c7d2fe; border-radius:6px;
  padding:3px 10px; cursor:pointer; font-size:13px; }
.actions { display:flex; gap:12px; align-items:flex-end; margin-top:12px; }
.actions label { margin:0; }
.actions input { display:block; margin-top:4px; border:1px solid #cfd4dc; border-radius:8px;
  padding:7px 10px; font-size:14px; width:200px; }
button.primary { background:var(--accent); color:#fff; border:0; border-radius:8px;
  padding:9px 18px; font-size:14px; font-weight:600; cursor:pointer; }
.lasterr { margin-top:10px; background:var(--errbg); color:var(--err); border-radius:8px;
  padding:8px 12px; font-size:13px; }
.empty { color:var(--muted); background:var(--card); border:1px dashed var(--line);
  border-radius:10px; padding:22px; text-align:center; }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line);
  border-radius:10px; overflow:hidden; font-size:13px; }
th, td { text-align:left; padding:8px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#f8f9fb; color:var(--muted); font-weight:600; }
.login { max-width:360px; margin:80px auto; }
.login input { width:100%; border:1px solid #cfd4dc; border-radius:8px; padding:8px 10px;
  margin:6px 0 14px; font-size:14px; }
"""

SCRIPT = """
(function () {
  var key = "relaygraph-reviewer-name";
  function remember(root) {
    var saved = localStorage.getItem(key) || "";
    root.querySelectorAll("input.reviewer-name").forEach(function (el) {
      if (!el.value) el.value = saved;
      el.addEventListener("change", function () { localStorage.setItem(key, el.value); });
    });
  }
  remember(document);
  var list = document.getElementById("cards");
  var graph = document.getElementById("graph-filter");
  var search = document.getElementById("search");
  var count = document.querySelector("#pending .count");
  function filter() {
    var g = graph ? graph.value : "", q = search ? search.value.toLowerCase() : "";
    document.querySelectorAll("#cards article.card").forEach(function (card) {
      var hit = (!g || card.dataset.graph === g) &&
        (!q || card.textContent.toLowerCase().indexOf(q) >= 0);
      card.hidden = !hit;
    });
  }
  function counts(byGraph) {
    if (!graph) return;
    var chosen = graph.value, total = 0;
    var options = ['<option value="">all graphs</option>'];
    Object.keys(byGraph).sort().forEach(function (g) {
      total += byGraph[g];
      var opt = document.createElement("option");
      opt.value = g; opt.textContent = g + " (" + byGraph[g] + ")";
      options.push(opt.outerHTML);
    });
    graph.innerHTML = options.join("");
    graph.value = byGraph[chosen] ? chosen : "";
    if (count) count.textContent = total;
    document.title = "(" + total + ") relaygraph reviewer";
  }
  // A JSON answer is checked before it is sent (the server checks it again).
  document.addEventListener("submit", function (e) {
    var form = e.target, bad = null;
    if (e.submitter && e.submitter.name.indexOf("quick:") === 0) return;
    form.querySelectorAll("textarea.json").forEach(function (box) {
      box.classList.remove("invalid");
      if (bad) return;
      try { JSON.parse(box.value); } catch (err) { bad = box; }
    });
    if (!bad) return;
    e.preventDefault();
    bad.classList.add("invalid");
    var note = form.querySelector(".jsonerr") || document.createElement("div");
    note.className = "jsonerr";
    note.textContent = "Not sent: the answer is not valid JSON (a text needs quotes: 'yes' as \\"yes\\").";
    bad.insertAdjacentElement("afterend", note);
    bad.focus();
  });
  if (graph) graph.addEventListener("change", filter);
  if (search) search.addEventListener("input", filter);
  if (!list || !window.EventSource) return;
  var stream = new EventSource("api/stream");
  stream.addEventListener("inbox", function (e) {
    var change = JSON.parse(e.data);
    var keep = {};
    change.pending.forEach(function (id) { keep[id] = true; });
    list.querySelectorAll("article.card").forEach(function (card) {
      if (!keep[card.dataset.msgId]) card.remove();
    });
    change.added.forEach(function (html) {
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var card = holder.firstElementChild;
      if (!card || list.querySelector('[data-msg-id="' + card.dataset.msgId + '"]')) return;
      list.appendChild(card);
      remember(card);
    });
    var empty = document.getElementById("empty");
    if (empty) empty.hidden = change.pending.length > 0;
    counts(change.counts);
    filter();
  });
})();
"""
