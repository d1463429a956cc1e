"""The report page's inline style sheet and script, kept apart from the code that renders the page.

Rules for this module:
- Constants only. The script may filter, sort, expand and copy; it never fetches anything and the page
  must read fully without it (everything it touches is already rendered on the server side).
"""

_CSS = """
:root{--fg:#1b1f24;--muted:#59636e;--line:#d1d9e0;--panel:#f6f8fa;--accent:#0b5cad;
--pass:#00775a;--pass-bg:#ddf2ea;--viol:#b34700;--viol-bg:#fde5d4;--err:#9c3d78;--err-bg:#f6e3ee;
--noted:#1d5f9e;--noted-bg:#e2eefa;--design:#4a5568;--design-bg:#edf0f4;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace}
*{box-sizing:border-box}html{color-scheme:light}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Noto Sans","Liberation Sans",Arial,sans-serif;color:var(--fg);background:#fff}
header{background:#1f2937;color:#f9fafb;padding:1rem 1.5rem}header h1{margin:0;font-size:1.35rem;font-weight:600}
header p{margin:.2rem 0 0;color:#cbd5e1;font-size:.9rem}
nav{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;padding:.5rem 1.5rem;border-bottom:1px solid var(--line);background:var(--panel)}
nav a{color:var(--accent);text-decoration:none;font-weight:500}
main{max-width:1200px;margin:0 auto;padding:0 1.5rem 3rem}
h2{font-size:1.2rem;margin:2rem 0 .75rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}
h4{font-size:.95rem;margin:1.25rem 0 .4rem}a{color:var(--accent)}code,pre{font-family:var(--mono);font-size:.9em}
pre code{font-size:inherit}.note,.muted,.legend{color:var(--muted);font-size:.88rem}
.label{margin:.9rem 0 .25rem;font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
.status{font-size:1.1rem;font-weight:600;padding:.6rem .9rem;border-radius:6px;border-left:5px solid}
.status.good{background:var(--pass-bg);border-color:var(--pass);color:var(--pass)}
.status.bad{background:var(--viol-bg);border-color:var(--viol);color:var(--viol)}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.5rem;margin:1rem 0}
.stats div{border:1px solid var(--line);border-radius:6px;padding:.45rem .7rem}
.stats dt,.meta dt{font-size:.75rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.stats dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.stats div.pass dd{color:var(--pass)}.stats div.violation dd{color:var(--viol)}.stats div.error dd{color:var(--err)}
.stats dd{font-size:1.25rem}.stats dd.sub{font-size:.75rem;font-weight:400;color:var(--muted)}
.stats div.cls-contract dd:not(.sub){color:var(--viol)}.stats div.cls-design dd:not(.sub){color:var(--design)}
.failon{display:inline-block;margin-left:.6rem;padding:0 .5rem;border:1px solid;border-radius:4px;font-size:.85rem;font-weight:500;white-space:nowrap}
.facts th{font-weight:500;color:var(--muted);padding-left:0;width:8rem}.facts td,.facts th{border:0;padding-top:.15rem;padding-bottom:.15rem}
.cmd{display:flex;gap:.5rem;align-items:flex-start}
.cmd pre{flex:1;margin:0;padding:.6rem .8rem;background:#111827;color:#e5e7eb;border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere}
button{font:inherit;font-size:.85rem;padding:.3rem .7rem;border:1px solid var(--line);border-radius:6px;background:#fff;cursor:pointer}
button:hover{background:var(--panel)}.wide{overflow-x:auto}table{border-collapse:collapse;font-size:.88rem}
th,td{padding:.35rem .6rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--panel);font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
table.trace td{padding:.15rem .6rem}.matrix td,.matrix th{border:1px solid var(--line);text-align:center}
.matrix th[scope=row]{text-align:left}
.matrix td a{display:block;color:var(--fg);text-decoration:none;font-variant-numeric:tabular-nums;white-space:nowrap}
.matrix td.pass{background:var(--pass-bg)}.matrix td.violation{background:var(--viol-bg)}
.matrix td.error{background:var(--err-bg)}.matrix td.noted{background:var(--noted-bg)}.matrix td.none{color:var(--muted)}
.n{font-weight:600;white-space:nowrap}.n.pass{color:var(--pass)}.n.violation{color:var(--viol)}.n.error{color:var(--err)}
.n.noted{color:var(--noted)}
.badge{display:inline-block;font-size:.75rem;font-weight:700;padding:.05rem .45rem;border-radius:999px;border:1px solid;white-space:nowrap}
.badge.pass{color:var(--pass);background:var(--pass-bg)}.badge.violation{color:var(--viol);background:var(--viol-bg)}
.badge.error{color:var(--err);background:var(--err-bg)}.badge.noted{color:var(--noted);background:var(--noted-bg)}
.slug{background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:0 .3rem}
.chip{white-space:nowrap}
.cls{display:inline-block;margin-left:.25rem;padding:0 .3rem;border:1px solid;border-radius:3px;font-size:.68rem;font-weight:700;text-transform:uppercase;letter-spacing:.04em;line-height:1.35;vertical-align:middle}
.cls.contract{color:var(--viol);background:#fff}.cls.design{color:var(--design);background:var(--design-bg);border-style:dashed}
.cls.error{color:var(--err);background:#fff}
details.case{border:1px solid var(--line);border-radius:8px;margin:.75rem 0;background:#fff}
details.case.violation{border-left:5px solid var(--viol)}details.case.error{border-left:5px solid var(--err)}
details.case.noted{border-left:5px solid var(--noted)}
details.case>summary{cursor:pointer;padding:.6rem .9rem;display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;list-style:none}
details.case>summary::-webkit-details-marker{display:none}
details.case>summary::before{content:"\\25b8";color:var(--muted);width:1em}details.case[open]>summary::before{content:"\\25be"}
details.case.pass{margin:.3rem 0}details.case.pass>summary{padding:.35rem .9rem}
details.case[open]>summary{border-bottom:1px solid var(--line);background:var(--panel);border-radius:8px 8px 0 0}
.cid{font-family:var(--mono);font-weight:600;overflow-wrap:anywhere}.body{padding:.25rem 1rem 1rem}
.meta{display:flex;flex-wrap:wrap;gap:.4rem 1.5rem;margin:.5rem 0}.meta dd{margin:0;font-family:var(--mono);font-size:.9rem}
.invariants{list-style:none;padding:0;margin:0}
.invariants li{border:1px solid var(--line);border-radius:6px;padding:.5rem .75rem;margin:.4rem 0}
.invariants li.contract{border-left:4px solid var(--viol)}.invariants li.design{border-left:4px solid var(--design)}
.invariants li.error{border-left:4px solid var(--err)}
.verdict{font-size:.8rem;color:var(--muted);margin-left:.5rem}.invariants li.nofail .verdict{color:var(--noted)}
.step{color:var(--muted);font-size:.85rem}.jump{font-size:.85rem;margin-left:.5rem}.slugs code{white-space:nowrap}
table.cases td:first-child{overflow-wrap:break-word;min-width:12rem}table.cases td.slugs{min-width:13rem}
table.cases td.slugs .chip{display:inline-block;margin:0 0 .15rem}
.sub{margin:.75rem 0 .3rem;font-size:.88rem}.expl{margin-top:.2rem}
.msg{margin-top:.25rem;font-family:var(--mono);font-size:.82rem;white-space:pre-wrap;overflow-wrap:anywhere}
.svgwrap{border:1px solid var(--line);border-radius:6px;padding:.25rem;overflow-x:auto}
svg.timeline{display:block;width:100%;min-width:640px;height:auto;font-family:inherit}
.lane0{fill:#f8fafc}.lane1{fill:#eef2f6}.lane-label{font-size:12px;text-anchor:end;fill:#374151;font-family:var(--mono)}
.tick{stroke:#cbd5e1;stroke-width:1}.tick-label{font-size:11px;text-anchor:middle;fill:var(--muted)}.jump-mark path{fill:#7c3aed}
.axis-label{font-size:11px;text-anchor:end;fill:var(--muted)}
.mark{fill:#6b7280}.mark.fd{fill:#0072b2}.mark.stream{fill:#009e73}.mark.harness{fill:#7a5195}.mark.log{fill:#cc79a7}
.mark.inj{fill:#e69f00;stroke:#5c3d00;stroke-width:1}
.pin line{stroke:#d55e00;stroke-width:2;stroke-dasharray:4 3}.pin path{fill:#d55e00}
.pin text{font-size:12px;font-weight:700;fill:#a63f00}
.pin.design line{stroke:#4a5568;stroke-dasharray:2 3}.pin.design path{fill:#4a5568}.pin.design text{fill:#374151}
.pin.error line{stroke:#9c3d78}.pin.error path{fill:#9c3d78}.pin.error text{fill:#7d2f60}
.key{font-weight:700}.key.ev{color:#0072b2}.key.inj{color:#e69f00}.key.pin{color:#d55e00}.key.pin.design{color:#4a5568}
.key.pin.error{color:#9c3d78}.legend .lk{white-space:nowrap;margin-right:.9rem}
.key.lane-fd{color:#0072b2}.key.lane-loop{color:#6b7280}.key.lane-stream{color:#009e73}.key.lane-harness{color:#7a5195}
.key.lane-log{color:#cc79a7}
.scroll{max-height:26rem;overflow:auto;border:1px solid var(--line);border-radius:6px}
.scroll thead th{position:sticky;top:0}[id]{scroll-margin-top:7rem}
.trace td:last-child{font-family:var(--mono);font-size:.8rem;overflow-wrap:anywhere;min-width:18rem}
.trace tr.inj td{background:#fff4dc}.trace tr.pinned td{background:var(--viol-bg)}
.trace tr.culprit td{box-shadow:inset 0 2px 0 var(--viol),inset 0 -2px 0 var(--viol)}
.trace tr.elided td{text-align:center;color:var(--muted);font-style:italic;background:var(--panel)}
table.logs{width:100%}.logs td.logmsg{font-family:var(--mono);font-size:.8rem;white-space:pre-wrap;overflow-wrap:anywhere;min-width:18rem}
.logs tr.lvl-warning td{background:#fff4dc}.logs tr.lvl-error td,.logs tr.lvl-critical td{background:var(--err-bg)}
.payload{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,560px),1fr));gap:1rem}
pre.hex{margin:0;padding:.6rem .8rem;background:var(--panel);border:1px solid var(--line);border-radius:6px;overflow-x:auto;max-height:20rem;font-size:.78rem;line-height:1.45}
.filters{position:sticky;top:0;z-index:2;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1.5rem;background:#fffffff2;border-bottom:1px solid var(--line)}
.filters label{font-size:.85rem;color:var(--muted)}
.filters select,.filters input{font:inherit;font-size:.85rem;padding:.2rem .35rem;border:1px solid var(--line);border-radius:5px}
.filters .buttons{display:flex;gap:.4rem}#filter-count{font-size:.85rem;color:var(--muted)}
th[data-sort].sortable{cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25b2"}th[aria-sort=descending]::after{content:" \\25bc"}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}[hidden]{display:none!important}
footer{max-width:1200px;margin:0 auto;padding:1rem 1.5rem 2rem;color:var(--muted);font-size:.8rem}
@media (max-width:700px){main,nav,header,.filters{padding-left:.75rem;padding-right:.75rem}body{font-size:14px}
.filters{position:static}}
@media print{.filters,.copy,nav{display:none!important}header{background:none;color:#000;padding:0}
header p{color:#333}.scroll,pre.hex{max-height:none;overflow:visible}.cmd pre{background:none;color:#000;border:1px solid #999}
h2,h4{break-after:avoid-page}.invariants li,.svgwrap,pre.hex,tr{break-inside:avoid-page}
a{color:inherit;text-decoration:none}}
"""

_JS = """
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  form.hidden = false;
  var items = [].slice.call(document.querySelectorAll("[data-case]"));
  var rows = items.filter(function (el) { return el.tagName === "TR"; });
  var count = document.getElementById("filter-count");
  function apply() {
    var f = form.elements, q = f.q.value.trim().toLowerCase(), shown = 0;
    items.forEach(function (el) {
      var d = el.dataset;
      var ok = (!f.outcome.value || d.outcome === f.outcome.value) && (!f.fails.value || d.fails === f.fails.value) &&
        (!f.klass.value || (" " + d.classes + " ").indexOf(" " + f.klass.value + " ") !== -1) &&
        (!f.operation.value || d.op === f.operation.value) &&
        (!f.fault.value || d.fault === f.fault.value) && (!f.transport.value || d.transport === f.transport.value) &&
        (!q || d.text.indexOf(q) !== -1);
      el.hidden = !ok;
      if (ok && el.tagName === "TR") { shown += 1; }
    });
    count.value = shown + " of " + rows.length + " cases shown";
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (ev) { ev.preventDefault(); });
  form.addEventListener("reset", function () { setTimeout(apply, 0); });
  function setOpen(open) { document.querySelectorAll("details.case").forEach(function (d) { d.open = open; }); }
  document.getElementById("expand-all").addEventListener("click", function () { setOpen(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setOpen(false); });
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.case:not(.pass)").forEach(function (d) { d.open = true; });
  });
  document.querySelectorAll("a[data-cell-op]").forEach(function (a) {
    a.addEventListener("click", function () {
      form.reset();
      form.elements.operation.value = a.dataset.cellOp;
      form.elements.fault.value = a.dataset.cellFault;
      apply();
    });
  });
  var table = document.getElementById("case-table");
  [].forEach.call(table.querySelectorAll("th[data-sort]"), function (th) {
    th.classList.add("sortable");
    th.tabIndex = 0;
    function sort() {
      var idx = [].indexOf.call(th.parentNode.children, th), asc = th.getAttribute("aria-sort") !== "ascending";
      [].forEach.call(table.querySelectorAll("th[aria-sort]"), function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0], list = [].slice.call(body.rows);
      function key(r) { var c = r.cells[idx]; return c.dataset.v || c.textContent; }
      list.sort(function (a, b) { var c = key(a).localeCompare(key(b), undefined, {numeric: true}); return asc ? c : -c; });
      list.forEach(function (r) { body.appendChild(r); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sort(); } });
  });
  document.querySelectorAll("button.copy").forEach(function (b) {
    if (!navigator.clipboard) { return; }
    b.hidden = false;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(document.getElementById(b.dataset.target).textContent).then(function () {
        b.textContent = "Copied";
        setTimeout(function () { b.textContent = "Copy"; }, 1500);
      });
    });
  });
  apply();
})();
"""
