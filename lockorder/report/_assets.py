"""The HTML report's inline style sheet and script (the page fetches nothing)."""

CSS = """
:root{--red:#c62828;--red-bg:#fdecea;--amber:#9a6700;--amber-bg:#fff4d6;--ink:#1f2328;
--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--blue:#0969da;
--mono:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace;}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans","Liberation Sans",
sans-serif;color:var(--ink);background:#fff}
code,pre,.stack,q{font-family:var(--mono);font-size:12.5px}
q{quotes:"'" "'"}
.suppressed{padding:0 24px 24px}.suppressed details{margin:4px 0}
header{padding:16px 24px 12px;background:var(--bg);border-bottom:1px solid var(--line)}
.title{display:flex;align-items:baseline;gap:16px;flex-wrap:wrap}
h1{font-size:22px;margin:0}
h2{font-size:17px;margin:0}
h4{margin:8px 0 4px;font-size:13.5px;font-weight:600}
.verdict{font-weight:600;padding:2px 10px;border-radius:12px}
.verdict.error{color:#fff;background:var(--red)}
.verdict.warning{color:#fff;background:var(--amber)}
.verdict.ok{color:#fff;background:#1a7f37}
.cards{display:flex;gap:10px;margin:12px 0 8px;flex-wrap:wrap}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:6px 16px;
min-width:110px}
.card .n{font-size:22px;font-weight:700}
.card .l{color:var(--muted);font-size:12px}
.card.error{border-color:var(--red)}.card.error .n{color:var(--red)}
.card.warning{border-color:var(--amber)}.card.warning .n{color:var(--amber)}
.row{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:4px 0}
.row-head{color:var(--muted);font-size:12px;min-width:64px}
.chip{border:1px solid var(--line);background:#fff;border-radius:12px;padding:0 9px;
font-size:12.5px;font-family:var(--mono)}
.meta{gap:4px 18px;color:var(--muted);font-size:12.5px}.meta .wide{flex-basis:100%}
.meta b{color:var(--ink);font-weight:600}
.toolbar{position:sticky;top:0;z-index:5;display:flex;gap:8px;align-items:center;
flex-wrap:wrap;padding:8px 24px;background:#fff;border-bottom:1px solid var(--line)}
.toolbar input{flex:1 1 240px;max-width:640px;padding:6px 10px;border:1px solid var(--line);
border-radius:6px;font:inherit}
select,button{font:inherit;font-size:13px;padding:5px 10px;border:1px solid var(--line);
border-radius:6px;background:var(--bg);cursor:pointer}
.muted{color:var(--muted)}
section{padding:12px 24px}
.section-head{display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin-bottom:4px}
.toggle{user-select:none;cursor:pointer}
.legend{display:flex;gap:6px;align-items:center;color:var(--muted);font-size:12px}
.sw{display:inline-block;width:22px;height:0;border-top:2px solid #8c959f;margin-left:10px}
.sw.hot{border-top:3px solid var(--red);margin-left:0}
.sw.gated{border-top:2px dashed #8c959f}
.sw.node-hot{width:16px;height:12px;border:1.5px solid var(--red);background:var(--red-bg);
border-radius:3px}
.zoom-controls{margin-left:auto;display:flex;gap:4px;align-items:center}
.zoom-controls button{min-width:32px}
#zoom{min-width:44px;text-align:center;font-size:12.5px}
.hint{margin:0 0 4px;color:var(--muted);font-size:12px}
.note{margin:2px 0 6px;color:var(--muted);font-size:12.5px}
.canvas{border:1px solid var(--line);border-radius:8px;overflow:auto;max-height:72vh;
background:#fcfcfd}
.canvas.live{overflow:hidden;touch-action:none;cursor:grab}
.canvas.live:focus{outline:2px solid var(--blue);outline-offset:1px}
.canvas.live.panning{cursor:grabbing}
.canvas.live svg{width:100%;height:100%}
svg.graph{display:block}
button.show-in-graph{float:right;margin:4px 0 0 8px}
.node rect{fill:#fff;stroke:#6e7781;stroke-width:1.2}
.node.hot rect{fill:var(--red-bg);stroke:var(--red);stroke-width:1.8}
.node text{font-family:var(--mono);text-anchor:middle;fill:var(--ink)}
.node .t1{font-size:12px;font-weight:700}
.node .t2{font-size:11px;fill:var(--muted)}
.node{cursor:pointer}
.node.match rect{stroke:var(--blue);stroke-width:3;fill:#ddf4ff}
.node.focus rect{stroke:var(--blue);stroke-width:3}
.dim{opacity:.18}
.group rect{fill:#f6f8fa;stroke:#d0d7de;stroke-dasharray:4 3}
.group text{font-size:12.5px;fill:var(--muted);font-weight:600}
.edge{fill:none;stroke:#8c959f;stroke-width:1.3}
.edge.gated{stroke-dasharray:5 4}
.edge.hot{stroke:var(--red);stroke-width:2.8}
.arrow-grey{fill:#8c959f}.arrow-hot{fill:var(--red)}
.findings h2{margin-bottom:8px}
details.finding{border:1px solid var(--line);border-left:5px solid var(--red);border-radius:8px;
margin:0 0 10px;background:#fff}
details.finding.warning{border-left-color:var(--amber)}
details.finding>summary{cursor:pointer;padding:8px 12px;display:flex;gap:10px;
align-items:baseline;flex-wrap:wrap;list-style:none}
details.finding>summary::-webkit-details-marker{display:none}
details.finding>summary::before{content:"\\25B8";color:var(--muted);width:10px}
details.finding[open]>summary::before{content:"\\25BE"}
details.finding[open]>summary{border-bottom:1px solid var(--line);background:var(--bg);
border-radius:8px 8px 0 0}
.num{color:var(--muted);font-size:12px}
.badge{text-transform:uppercase;font-size:11px;font-weight:700;padding:1px 7px;border-radius:4px;
color:#fff;background:var(--red)}
.badge.warning{background:var(--amber)}
.badge.confirm{background:#6e7781}.badge.confirm.confirmed{background:#82071e}
.confirmation{border:1px solid var(--line);border-radius:6px;padding:2px 12px 6px;margin:6px 0}
.confirmation.confirmed{border-color:var(--red);background:#fff8f8}
.kind{font-family:var(--mono);font-weight:700}
.msg{flex:1 1 400px;font-family:var(--mono);font-size:12.5px;word-break:break-word}
.test{font-family:var(--mono);font-size:12px;color:var(--blue)}
.body{padding:6px 14px 12px}
.kind-help{margin:4px 0 8px;color:var(--muted);font-size:12.5px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:4px 0 8px}
dl.facts dt{color:var(--muted);font-size:12.5px}
dl.facts dd{margin:0;word-break:break-word}
code.lock{background:var(--red-bg);border:1px solid #f5c2c0;border-radius:4px;padding:0 5px;
display:inline-block;max-width:100%;overflow-wrap:anywhere;line-height:1.45}
.chain{margin:8px 0;padding:8px 10px;background:var(--bg);border-radius:6px;line-height:2}
.chain-head{color:var(--muted);font-size:12px;margin-right:8px}
.arrow{color:var(--red);font-weight:700}
ol.edges{list-style:none;padding:0;margin:0;display:grid;
grid-template-columns:repeat(auto-fit,minmax(min(520px,100%),1fr));gap:10px}
li.edge-report{border:1px solid var(--line);border-radius:6px;padding:4px 12px 8px;min-width:0}
.stack-head{color:var(--muted);font-size:12px;margin-top:4px}
ol.stack{margin:2px 0 0;padding:6px 10px 6px 34px;background:#0d1117;color:#e6edf3;
border-radius:6px;overflow:auto}
ol.stack li{white-space:pre}
ol.stack .file{color:#79c0ff}ol.stack .line{color:#ffa657}ol.stack .fn{color:#d2a8ff}
ol.stack li.lib{opacity:.6}
div.scenario{overflow-x:auto}
table.scenario{border-collapse:collapse;font-family:var(--mono);font-size:12.5px;margin:4px 0}
table.scenario th{text-align:left;border-bottom:2px solid var(--line);padding:3px 14px 3px 6px}
table.scenario td{padding:2px 14px 2px 6px;vertical-align:top;overflow-wrap:break-word}
table.scenario td.waits{color:var(--red);font-weight:600}
table.scenario td.dead{font-weight:700;color:var(--red);padding-top:6px}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 10px;
overflow:auto;margin:6px 0}
details.as-text{margin-top:8px}details.as-text>summary{cursor:pointer;color:var(--muted);
font-size:12.5px}
.empty{color:var(--muted);font-style:italic}
[hidden]{display:none!important}
"""

JS = """
(function () {
  "use strict";
  var q = document.getElementById("q"), kind = document.getElementById("kind");
  var count = document.getElementById("count");
  var findings = Array.prototype.slice.call(document.querySelectorAll("details.finding"));
  var texts = findings.map(function (f) { return f.textContent.toLowerCase(); });
  var nodes = Array.prototype.slice.call(document.querySelectorAll("g.node"));
  var edges = Array.prototype.slice.call(document.querySelectorAll("path.edge"));
  var spotlight = false;  // a finding shown in the graph: its classes lit, the rest dim
  function nodesOf(f) { return (f.getAttribute("data-nodes") || "").split(" ").filter(Boolean); }
  function apply() {
    if (spotlight) {  // a finding shown in the graph gives way to the filter
      spotlight = false;
      nodes.forEach(function (n) { n.classList.remove("focus"); });
    }
    var text = q.value.trim().toLowerCase(), k = kind.value, shown = 0, related = {};
    var active = text !== "" || k !== "";
    findings.forEach(function (f, i) {
      var ok = (!k || f.getAttribute("data-kind") === k || f.getAttribute("data-severity") === k
                || f.getAttribute("data-confirm") === k)
        && (!text || texts[i].indexOf(text) >= 0);
      f.hidden = !ok;
      if (ok) { shown++; nodesOf(f).forEach(function (n) { related[n] = true; }); }
    });
    nodes.forEach(function (n) {
      var match = text !== "" && n.getAttribute("data-search").indexOf(text) >= 0;
      n.classList.toggle("match", match);
      if (match) { related[n.getAttribute("data-k")] = true; }
    });
    nodes.forEach(function (n) {
      n.classList.toggle("dim", active && !related[n.getAttribute("data-k")]);
    });
    edges.forEach(function (e) {
      var on = related[e.getAttribute("data-s")] && related[e.getAttribute("data-d")];
      e.classList.toggle("dim", active && !on);
    });
    count.textContent = active ? shown + " of " + findings.length + " findings"
      : findings.length + (findings.length === 1 ? " finding" : " findings");
  }
  q.addEventListener("input", apply);
  kind.addEventListener("change", apply);
  document.getElementById("expand").addEventListener("click", function () {
    findings.forEach(function (f) { f.open = true; });
  });
  document.getElementById("collapse").addEventListener("click", function () {
    findings.forEach(function (f) { f.open = false; });
  });
  // pan and zoom: each drawing is moved by its viewBox; s is screen px per drawing px
  var MAX_ZOOM = 4, zoomLabel = document.getElementById("zoom");
  function Canvas(view) {
    var c = view.querySelector(".canvas"), svg = c && c.querySelector("svg");
    if (!svg) { return null; }
    var box = svg.getAttribute("viewBox").split(" ").map(Number);
    var me = { view: view, c: c, svg: svg, x0: box[0], y0: box[1], W: box[2], H: box[3],
               x: box[0], y: box[1], s: 1, fitS: 1, fitted: false, ready: false };
    me.show = function () {
      var cw = c.clientWidth, ch = c.clientHeight;
      svg.setAttribute("viewBox", [me.x, me.y, cw / me.s, ch / me.s].map(function (v) {
        return Math.round(v * 10) / 10; }).join(" "));
      c.setAttribute("data-zoom", me.s.toFixed(3));
      if (!view.hidden) { zoomLabel.textContent = Math.round(me.s * 100) + "%"; }
    };
    me.fit = function () {  // the whole drawing in the window, never enlarged
      var cw = c.clientWidth;
      if (!cw) { return false; }  // hidden: fitted when shown
      // as tall as the rest of the first screen allows (at least 40% of it, at
      // most 72%), never taller than the fitted drawing
      var top = c.getBoundingClientRect().top + window.scrollY, tall = window.innerHeight;
      var room = Math.round(Math.min(tall * 0.72, Math.max(tall * 0.4, tall - top - 12)));
      var h = Math.min(room, Math.ceil(me.H * Math.min(1, cw / me.W)) + 2);
      c.style.height = Math.max(h, 120) + "px";
      var ch = c.clientHeight;
      me.s = me.fitS = Math.min(1, cw / me.W, ch / me.H);
      me.x = me.x0 + (me.W - cw / me.s) / 2;
      me.y = me.y0 + (me.H - ch / me.s) / 2;
      me.fitted = true;
      me.show();
      return true;
    };
    me.zoomAt = function (factor, px, py) {  // px, py: canvas pixels that stay put
      var s = Math.max(Math.min(me.fitS, 1) / 2, Math.min(MAX_ZOOM, me.s * factor));
      me.x += px / me.s - px / s; me.y += py / me.s - py / s; me.s = s;
      me.fitted = false;
      me.show();
    };
    me.zoomTo = function (x, y, w, h) {  // a drawing rectangle, centred, at most 150%
      var cw = c.clientWidth, ch = c.clientHeight, pad = 40;
      me.s = Math.min(1.5, cw / (w + 2 * pad), ch / (h + 2 * pad));
      me.x = x + w / 2 - cw / me.s / 2; me.y = y + h / 2 - ch / me.s / 2;
      me.fitted = false;
      me.show();
    };
    svg.removeAttribute("width"); svg.removeAttribute("height");
    c.classList.add("live");
    c.setAttribute("tabindex", "0");
    var drag = null;
    c.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) { return; }
      drag = { px: e.clientX, py: e.clientY, x: me.x, y: me.y, moved: false, id: e.pointerId };
    });
    c.addEventListener("pointermove", function (e) {
      if (!drag) { return; }
      var dx = e.clientX - drag.px, dy = e.clientY - drag.py;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) { return; }
      if (!drag.moved) { drag.moved = true; c.setPointerCapture(drag.id);
                         c.classList.add("panning"); }
      me.x = drag.x - dx / me.s; me.y = drag.y - dy / me.s; me.fitted = false;
      me.show();
    });
    var end = function () {
      if (drag && drag.moved) { me.dragged = Date.now(); }
      drag = null; c.classList.remove("panning");
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener("wheel", function (e) {  // Ctrl+wheel and pinch zoom; a wheel scrolls
      if (!e.ctrlKey && !e.metaKey) { return; }
      e.preventDefault();
      var at = c.getBoundingClientRect();
      me.zoomAt(Math.exp(-e.deltaY / 300), e.clientX - at.left, e.clientY - at.top);
    }, { passive: false });
    c.addEventListener("dblclick", function (e) {
      var at = c.getBoundingClientRect();
      me.zoomAt(e.shiftKey ? 0.5 : 2, e.clientX - at.left, e.clientY - at.top);
    });
    c.addEventListener("keydown", function (e) {
      var step = 60 / me.s, cw = c.clientWidth, ch = c.clientHeight;
      if (e.key === "+" || e.key === "=") { me.zoomAt(1.25, cw / 2, ch / 2); }
      else if (e.key === "-") { me.zoomAt(0.8, cw / 2, ch / 2); }
      else if (e.key === "0") { unspot(); me.fit(); }
      else if (e.key === "ArrowLeft") { me.x -= step; me.show(); }
      else if (e.key === "ArrowRight") { me.x += step; me.show(); }
      else if (e.key === "ArrowUp") { me.y -= step; me.show(); }
      else if (e.key === "ArrowDown") { me.y += step; me.show(); }
      else { return; }
      e.preventDefault();
    });
    return me;
  }
  var canvases = Array.prototype.slice.call(document.querySelectorAll(".view"))
    .map(Canvas).filter(Boolean);
  function current() {
    return canvases.filter(function (k) { return !k.view.hidden; })[0] || null;
  }
  function frame() {  // fits each shown drawing the first time it has room
    canvases.forEach(function (k) {
      if (!k.view.hidden && !k.ready) { k.ready = k.fit(); }
      if (!k.view.hidden && k.ready) { k.show(); }
    });
  }
  var full = document.getElementById("show-full");
  function showView(whole) {
    if (!full) { return; }
    full.checked = whole;
    document.getElementById("view-full").hidden = !whole;
    document.getElementById("view-focus").hidden = whole;
    frame();
  }
  if (full) {
    full.addEventListener("change", function () { showView(full.checked); });
    if (location.hash === "#full") { showView(true); }
  }
  if (location.hash.indexOf("#q=") === 0) {  // report.html#q=TEXT opens filtered
    q.value = decodeURIComponent(location.hash.slice(3));
  }
  frame();
  window.addEventListener("resize", function () {
    canvases.forEach(function (k) { if (k.fitted && !k.view.hidden) { k.fit(); } });
  });
  document.getElementById("fit").addEventListener("click", function () {
    var k = current(); unspot(); if (k) { k.fit(); }
  });
  document.getElementById("zoom-in").addEventListener("click", function () {
    var k = current(); if (k) { k.zoomAt(1.25, k.c.clientWidth / 2, k.c.clientHeight / 2); }
  });
  document.getElementById("zoom-out").addEventListener("click", function () {
    var k = current(); if (k) { k.zoomAt(0.8, k.c.clientWidth / 2, k.c.clientHeight / 2); }
  });
  function drawn(k, set) {
    return Array.prototype.slice.call(k.svg.querySelectorAll("g.node")).filter(function (n) {
      return set[n.getAttribute("data-k")]; });
  }
  function unspot() {  // back to what the filter shows
    if (spotlight) { apply(); }
  }
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") { unspot(); } });
  function showInGraph(f) {  // zooms to the finding's classes, in a view that draws them
    var set = {}, k = current(), found;
    nodesOf(f).forEach(function (key) { set[key] = true; });
    if (!k) { return; }
    found = drawn(k, set);
    if (!found.length && full) { showView(!full.checked); k = current(); found = drawn(k, set); }
    if (!found.length) { return; }
    var x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    found.forEach(function (n) {
      var b = n.getBBox();
      x1 = Math.min(x1, b.x); y1 = Math.min(y1, b.y);
      x2 = Math.max(x2, b.x + b.width); y2 = Math.max(y2, b.y + b.height);
    });
    nodes.forEach(function (n) {  // the finding's classes stand out, the rest dims
      var mine = !!set[n.getAttribute("data-k")];
      n.classList.toggle("focus", mine); n.classList.toggle("dim", !mine);
    });
    edges.forEach(function (e) {
      e.classList.toggle("dim", !(set[e.getAttribute("data-s")] && set[e.getAttribute("data-d")]));
    });
    spotlight = true;
    k.c.scrollIntoView({ block: "nearest" });
    k.zoomTo(x1, y1, x2 - x1, y2 - y1);
  }
  findings.forEach(function (f) {
    var b = f.querySelector("button.show-in-graph");
    if (b) { b.addEventListener("click", function () { showInGraph(f); }); }
  });
  nodes.forEach(function (n) {
    n.addEventListener("click", function () {
      var k = current();
      if (k && k.dragged && Date.now() - k.dragged < 300) { return; }
      var title = n.querySelector("title").textContent.split("\\n")[0];
      q.value = q.value === title ? "" : title;
      apply();
    });
  });
  findings.forEach(function (f) {
    var mark = function (on) {
      var set = {};
      nodesOf(f).forEach(function (k) { set[k] = true; });
      nodes.forEach(function (n) {
        if (set[n.getAttribute("data-k")]) { n.classList.toggle("focus", on); }
      });
    };
    var s = f.querySelector("summary");
    s.addEventListener("mouseenter", function () { mark(true); });
    s.addEventListener("mouseleave", function () { mark(false); });
  });
  apply();
  document.body.setAttribute("data-ready", "1");
})();
"""
