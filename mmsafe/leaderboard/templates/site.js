/* Sortable tables for the leaderboard. Only reorders existing rows (DOM moves) and sets
   attributes; it never builds markup from data. Numeric columns sort on each cell's
   data-sort number, text columns on data-sort text; empty values always sort last.
   A hash "#sort=TABLE:KEY:asc|desc" (KEY = a header's data-key) is applied on load.
   The ranking's per-mode columns (class "detail": score, safety, capability per mode) are
   folded away while the table would not fit the window without scrolling sideways: first
   their capability (class "cap"), then their safety (class "safe"), then all, until the
   reader chooses with the button above it; without this script every column shows and the
   table scrolls. */
(function () {
  "use strict";
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function headerFor(table, key) {
    var ths = table.querySelectorAll("thead th[data-key]");
    for (var i = 0; i < ths.length; i++) {
      if (ths[i].getAttribute("data-key") === key) return ths[i];
    }
    return null;
  }

  function cellFor(row, key) {
    for (var i = 0; i < row.cells.length; i++) {
      if (row.cells[i].getAttribute("data-col") === key) return row.cells[i];
    }
    return null;
  }

  function valueOf(row, key, type) {
    var cell = cellFor(row, key);
    if (!cell) return null;
    var raw = cell.getAttribute("data-sort");
    var text = (raw === null ? cell.textContent : raw).trim();
    if (text === "" || text === "\u2013") return null;
    if (type !== "num") return text;
    var n = Number(text);
    return isFinite(n) ? n : null;
  }

  function order(row) {
    return Number(row.getAttribute("data-order")) || 0;
  }

  function sortTable(table, key, dir) {
    var th = headerFor(table, key);
    if (!th || !table.tBodies.length) return false;
    var type = th.getAttribute("data-type") || "num";
    var sign = dir === "desc" ? -1 : 1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row) {
      return { row: row, value: valueOf(row, key, type), order: order(row) };
    });
    rows.sort(function (a, b) {
      if (a.value === null || b.value === null) {
        if (a.value === b.value) return a.order - b.order;
        return a.value === null ? 1 : -1;
      }
      var c = type === "num" ? a.value - b.value : collator.compare(a.value, b.value);
      return c !== 0 ? sign * c : a.order - b.order;
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
    var all = table.querySelectorAll("thead th[data-key]");
    for (var i = 0; i < all.length; i++) all[i].setAttribute("aria-sort", "none");
    th.setAttribute("aria-sort", dir === "desc" ? "descending" : "ascending");
    return true;
  }

  function applyHash() {
    var hash = window.location.hash.replace(/^#/, "");
    if (hash.indexOf("sort=") !== 0) return;
    var spec = hash.slice(5);
    var first = spec.indexOf(":");
    var last = spec.lastIndexOf(":");
    if (first < 0 || last <= first) return;
    var key = spec.slice(first + 1, last);
    try { key = decodeURIComponent(key); } catch (e) { return; }
    var dir = spec.slice(last + 1) === "desc" ? "desc" : "asc";
    var table = document.getElementById(spec.slice(0, first));
    if (table && table.classList.contains("sortable") && sortTable(table, key, dir)) {
      if (table.id === "ranking" && key.indexOf("mode:") === 0) showModes();
    }
  }

  var ranking = document.getElementById("ranking");
  var toggle = document.getElementById("ranking-modes");
  var chosen = false;  // the reader's choice wins over fitting to the window

  /* "" shows every per-mode column, "no-cap" their score and safety, "score-only" their
     score, "brief" none */
  var LEVELS = ["", "no-cap", "score-only", "brief"];
  var SPANS = { "": 3, "no-cap": 2, "score-only": 1, "brief": 3 };

  function setModes(level) {
    if (!ranking || !toggle) return;
    ranking.classList.remove("no-cap", "score-only", "brief");
    if (level) ranking.classList.add(level);
    var groups = ranking.querySelectorAll("thead th.group.detail");
    for (var i = 0; i < groups.length; i++) groups[i].colSpan = SPANS[level];
    toggle.setAttribute("aria-expanded", level ? "false" : "true");
    toggle.textContent = level
      ? "Show all " + toggle.getAttribute("data-count") + " per-mode columns"
      : "Hide the per-mode columns";
  }

  function fitModes() {
    if (!ranking || !toggle || chosen) return;
    var wrap = ranking.parentNode;
    for (var i = 0; i < LEVELS.length; i++) {
      setModes(LEVELS[i]);
      if (wrap.scrollWidth <= wrap.clientWidth + 1) break;
    }
    toggle.hidden = i === 0;
  }

  function showModes() {
    chosen = true;
    setModes("");
  }

  if (toggle) {
    toggle.addEventListener("click", function () {
      chosen = true;
      setModes(ranking.className.split(/\s+/).some(function (c) {
        return LEVELS.indexOf(c) > 0;
      }) ? "" : "brief");
    });
  }

  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    table.tHead.addEventListener("click", function (event) {
      var th = event.target.closest("th[data-key]");
      if (!th) return;
      var key = th.getAttribute("data-key");
      var now = th.getAttribute("aria-sort");
      var dir = now === "ascending" ? "desc"
        : now === "descending" ? "asc"
        : (th.getAttribute("data-first") || "asc");
      sortTable(table, key, dir);
      try {
        history.replaceState(null, "", "#sort=" + table.id + ":" + encodeURIComponent(key) + ":" + dir);
      } catch (e) { /* file:// in some browsers: the sort still applies */ }
    });
  });
  fitModes();
  window.addEventListener("resize", fitModes);
  window.addEventListener("hashchange", applyHash);
  applyHash();
})();
