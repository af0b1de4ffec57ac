/**
 * The live page's own script, added after the report's: it follows the server's event stream
 * (SSE) and, as events arrive, fetches the page again and redraws it with the report's own
 * chart script (the page is rendered by the report code on the server, so there is one
 * rendering). Clicking a case opens its raw replies at each eval. Plain ES2017, no modules;
 * everything from the run is put into the page as text (textContent), never as HTML.
 */
export const LIVE_SCRIPT = `
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('ui-config').textContent);
  var q = function (params) {
    var s = 'token=' + encodeURIComponent(cfg.token);
    Object.keys(params || {}).forEach(function (k) { if (params[k] != null) { s += '&' + k + '=' + encodeURIComponent(params[k]); } });
    return s;
  };
  var status = document.getElementById('ui-status');
  var setStatus = function (text) { if (status) { status.textContent = text; } };
  var pending = null;
  var redraw = function () {
    pending = null;
    fetch(location.href, { cache: 'no-store' }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, 'text/html');
      var main = doc.querySelector('main'), data = doc.getElementById('report-data'), script = doc.getElementById('report-script');
      if (!main || !data || !script) { return; }
      if (typeof Chart !== 'undefined') { document.querySelectorAll('canvas').forEach(function (c) { var ch = Chart.getChart(c); if (ch) { ch.destroy(); } }); }
      document.querySelector('main').innerHTML = main.innerHTML;
      document.getElementById('report-data').textContent = data.textContent;
      var run = document.createElement('script');
      run.textContent = script.textContent;
      document.body.appendChild(run);
      run.remove();
      status = document.getElementById('ui-status');
      document.body.setAttribute('data-ui-updates', String(Number(document.body.getAttribute('data-ui-updates') || 0) + 1));
    });
  };
  var schedule = function () { if (!pending) { pending = setTimeout(redraw, 300); } };
  if (cfg.live && typeof EventSource !== 'undefined') {
    var es = new EventSource('events?' + q());
    es.addEventListener('metrics', function () { setStatus('live · updating'); schedule(); });
    es.addEventListener('finished', function () { setStatus('finished'); schedule(); es.close(); });
    es.onerror = function () { setStatus('live · connection lost, retrying'); };
  }

  var panel = document.createElement('div');
  panel.id = 'ui-replies';
  panel.style.cssText = 'display:none;position:fixed;right:16px;top:16px;bottom:16px;width:min(640px,90vw);overflow:auto;background:#fff;border:1px solid #d0d5dd;border-radius:8px;box-shadow:0 8px 24px rgba(0,0,0,.15);padding:12px 16px;z-index:10';
  document.body.appendChild(panel);
  var el = function (tag, text, css) { var e = document.createElement(tag); if (text != null) { e.textContent = text; } if (css) { e.style.cssText = css; } return e; };
  var showReplies = function (id, json) {
    panel.innerHTML = '';
    var close = el('button', 'close', 'float:right');
    close.onclick = function () { panel.style.display = 'none'; };
    panel.appendChild(close);
    panel.appendChild(el('h2', 'Replies of ' + id));
    (json.runs || []).forEach(function (r) {
      if (json.runs.length > 1 || r.run) { panel.appendChild(el('h3', r.label || r.run || 'run')); }
      if (!r.evals.length) { panel.appendChild(el('p', 'No eval of this case yet.')); }
      r.evals.forEach(function (e) {
        panel.appendChild(el('div', (e.label || 'step ' + e.iteration) + ' · score ' + (e.score == null ? '–' : e.score), 'font-weight:600;margin-top:8px'));
        panel.appendChild(el('pre', e.reply == null ? '(the reply was not recorded in this run\\'s log)' : e.reply, 'white-space:pre-wrap;background:#f8f9fb;padding:6px;border-radius:4px'));
      });
    });
    panel.style.display = 'block';
  };
  document.addEventListener('click', function (ev) {
    var th = ev.target && ev.target.closest ? ev.target.closest('th.case') : null;
    if (!th || !th.getAttribute('title') || th.closest('thead')) { return; }
    var id = th.getAttribute('title');
    fetch('replies?' + q({ case: id, run: cfg.run }), { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (json) { showReplies(id, json); });
  });
})();
`;
