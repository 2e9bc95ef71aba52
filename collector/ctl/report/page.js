// The report page's script (html.cpp embeds it; its Content-Security-Policy allows it by hash):
// filters (also from the address's fragment), sortable tables, details opened for print.
(function () {
  'use strict';
  var rank = {critical: 5, high: 4, medium: 3, low: 2, info: 1};
  var statuses = ['leftover', 'unverified', 'active', 'revoked', 'stale', 'changed'];
  var each = function (list, f) { Array.prototype.forEach.call(list, f); };
  var controls = document.getElementById('controls');
  if (controls) {
    var host = document.getElementById('f-host');
    var sev = document.getElementById('f-severity');
    var status = document.getElementById('f-status');
    var count = document.getElementById('f-count');
    var rows = document.querySelectorAll('.f');
    var total = document.querySelectorAll('tr.hostrow').length;
    var apply = function () {
      var h = host.value.trim().toLowerCase();
      var s = rank[sev.value] || 0;
      var st = status.value;
      var shown = 0;
      each(rows, function (el) {
        var d = el.dataset, ok = true;
        if (h && d.host !== undefined) ok = d.host.toLowerCase().indexOf(h) >= 0;
        if (ok && s && d.severity !== undefined) ok = (rank[d.severity] || 0) >= s;
        if (ok && st && d.status !== undefined) {
          ok = (' ' + d.status + ' ').indexOf(' ' + st + ' ') >= 0;
        }
        el.hidden = !ok;
        if (ok && el.classList.contains('hostrow')) shown++;
      });
      count.textContent = shown + ' of ' + total + ' hosts in the table shown';
      var q = [];
      if (host.value.trim()) q.push('host=' + encodeURIComponent(host.value.trim()));
      if (sev.value) q.push('severity=' + sev.value);
      if (st) q.push('status=' + st);
      try {
        history.replaceState(null, '', q.length ? '#' + q.join('&')
                                                : location.pathname + location.search);
      } catch (e) { /* a page opened from a file may refuse it: the filter still applies */ }
    };
    var fromHash = function () {
      var p = {};
      each(location.hash.replace(/^#/, '').split('&'), function (kv) {
        var i = kv.indexOf('=');
        if (i > 0) {
          try { p[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1)); } catch (e) { }
        }
      });
      host.value = p.host || '';
      sev.value = rank[p.severity] ? p.severity : '';
      status.value = statuses.indexOf(p.status) >= 0 ? p.status : '';
    };
    controls.hidden = false;
    fromHash();
    apply();
    each([host, sev, status], function (el) {
      el.addEventListener('input', apply);
      el.addEventListener('change', apply);
    });
    window.addEventListener('hashchange', function () { fromHash(); apply(); });
  }
  var key = function (cell) {
    if (!cell) return '';
    var v = cell.getAttribute('data-v');
    return v !== null ? Number(v) : cell.textContent.toLowerCase();
  };
  each(document.querySelectorAll('table.sortable'), function (table) {
    if (!table.tHead || !table.tBodies.length) return;
    var ths = table.tHead.rows[0].cells;
    each(ths, function (th, col) {
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'sort';
      while (th.firstChild) b.appendChild(th.firstChild);
      th.appendChild(b);
      b.addEventListener('click', function () {
        var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
        each(ths, function (o) { o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var list = Array.prototype.slice.call(body.rows);
        list.sort(function (x, y) {
          var a = key(x.cells[col]), c = key(y.cells[col]);
          return (a < c ? -1 : a > c ? 1 : 0) * dir;
        });
        var frag = document.createDocumentFragment();
        each(list, function (r) { frag.appendChild(r); });
        body.appendChild(frag);
      });
    });
  });
  window.addEventListener('beforeprint', function () {
    each(document.querySelectorAll('details:not([open])'), function (d) {
      d.open = true;
      d.setAttribute('data-print', '');
    });
  });
  window.addEventListener('afterprint', function () {
    each(document.querySelectorAll('details[data-print]'), function (d) {
      d.open = false;
      d.removeAttribute('data-print');
    });
  });
})();
