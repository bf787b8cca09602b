// The live budget dashboard: polls one read-only admin route and redraws. No framework; uPlot draws
// the charts. The admin key stays in this tab's sessionStorage and goes only to this server.

(() => {
  const STATE_URL = '/v1/x-cycles-guard/dashboard/state';
  const POLL_MS = 2000;
  const COLORS = ['#0550ae', '#b42318', '#1a7f37', '#8250df', '#9a6700', '#0e7490', '#bc4c00', '#57606a'];
  const byId = (id) => document.getElementById(id);
  const charts = {};
  let timer;

  const money = (amount, unit) =>
    unit === 'USD_MICROCENTS'
      ? `$${(amount / 1e8).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 })}`
      : `${amount.toLocaleString('en-US')} ${unit.toLowerCase()}`;
  const time = (iso) => new Date(iso).toLocaleTimeString();

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function emptyRow(body, columns, text) {
    const td = body.insertRow().insertCell();
    td.colSpan = columns;
    td.className = 'empty';
    td.textContent = text;
  }

  function renderBudgets(budgets) {
    const body = byId('budgets').tBodies[0];
    body.replaceChildren();
    if (budgets.length === 0) emptyRow(body, 5, 'No budgets yet');
    for (const budget of budgets) {
      const row = body.insertRow();
      row.dataset.scope = budget.scope;
      row.dataset.unit = budget.unit;
      const depth = budget.scope.split('/').length - 1;
      const name = cell(row, budget.scope.split('/').pop());
      name.style.paddingLeft = `${0.6 + depth * 1.25}rem`;
      name.title = budget.scope;
      const percent = Math.round(budget.utilization * 1000) / 10;
      const used = row.insertCell();
      const bar = document.createElement('span');
      bar.className = `bar${percent >= 95 ? ' bad' : percent >= 80 ? ' warn' : ''}`;
      bar.setAttribute('role', 'progressbar');
      bar.setAttribute('aria-label', `${budget.scope} used`);
      bar.setAttribute('aria-valuemin', '0');
      bar.setAttribute('aria-valuemax', '100');
      bar.setAttribute('aria-valuenow', String(Math.min(100, percent)));
      const fill = document.createElement('span');
      fill.style.width = `${Math.min(100, percent)}%`;
      bar.append(fill);
      const label = document.createElement('span');
      label.className = 'pct';
      label.textContent = `${percent}%`;
      used.append(bar, label);
      cell(row, `${money(budget.spent, budget.unit)} / ${money(budget.allocated, budget.unit)}`, 'num spent');
      cell(row, money(budget.reserved, budget.unit), 'num');
      cell(row, budget.next_reset ? new Date(budget.next_reset).toLocaleString() : '—');
    }
  }

  function renderChart(id, from, step, points) {
    const unit = points.find((point) => point.unit === 'USD_MICROCENTS') ? 'USD_MICROCENTS' : points[0]?.unit;
    const keys = [...new Set(points.filter((point) => point.unit === unit).map((point) => point.key))].sort();
    const slots = 60;
    const xs = Array.from({ length: slots }, (_, index) => (from + index * step) / 1000);
    const series = keys.map(() => new Array(slots).fill(0));
    for (const point of points) {
      if (point.unit !== unit) continue;
      const slot = Math.floor((point.start - from) / step);
      if (slot >= 0 && slot < slots) series[keys.indexOf(point.key)][slot] += point.amount;
    }
    const scale = unit === 'USD_MICROCENTS' ? 1e8 : 1;
    const data = [xs, ...series.map((values) => values.map((value) => value / scale))];
    const signature = keys.join('\n');
    const target = byId(id);
    if (charts[id]?.signature === signature) {
      charts[id].plot.setData(data);
      return;
    }
    charts[id]?.plot.destroy();
    const plot = new uPlot(
      {
        width: Math.max(320, target.clientWidth || 520),
        height: 220,
        series: [
          {},
          ...keys.map((key, index) => ({
            label: key,
            stroke: COLORS[index % COLORS.length],
            width: 2,
            value: (_, value) =>
              value == null ? '—' : unit === 'USD_MICROCENTS' ? `$${value.toFixed(6)}` : value,
          })),
        ],
        axes: [{}, { label: unit === 'USD_MICROCENTS' ? 'USD' : (unit ?? ''), size: 70 }],
      },
      data,
      target,
    );
    charts[id] = { plot, signature };
  }

  function renderReservations(reservations) {
    const body = byId('reservations').tBodies[0];
    body.replaceChildren();
    if (reservations.length === 0) emptyRow(body, 4, 'No live reservations');
    for (const reservation of reservations) {
      const row = body.insertRow();
      cell(row, reservation.scope);
      cell(row, reservation.action);
      cell(row, money(reservation.reserved, reservation.unit), 'num');
      cell(row, time(reservation.expires));
    }
  }

  function renderActivity(items) {
    const list = byId('activity');
    list.replaceChildren();
    if (items.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'empty';
      empty.textContent = 'No denials or cuts yet';
      list.append(empty);
    }
    for (const item of items) {
      const entry = document.createElement('li');
      const kind = document.createElement('span');
      kind.className = `kind ${item.kind}`;
      kind.textContent = item.kind;
      entry.append(kind, `${time(item.time)} · ${item.scope} · ${item.reason} · ${item.detail}`);
      list.append(entry);
    }
  }

  function render(state) {
    renderBudgets(state.budgets);
    renderChart('chart-tenant', state.spend.from, state.spend.step, state.spend.by_tenant);
    renderChart('chart-model', state.spend.from, state.spend.step, state.spend.by_model);
    renderReservations(state.reservations);
    renderActivity(state.activity);
    byId('status').textContent = `Live · updated ${time(state.now)}`;
    document.body.dataset.updated = state.now;
    if (!window.firstRenderMs) window.firstRenderMs = performance.now();
  }

  function signOut(message) {
    clearTimeout(timer);
    sessionStorage.removeItem('cycles-admin-key');
    byId('board').hidden = true;
    byId('login').hidden = false;
    byId('login-error').textContent = message;
    byId('status').textContent = 'Not connected';
    byId('key').focus();
  }

  async function poll() {
    const key = sessionStorage.getItem('cycles-admin-key');
    if (!key) return signOut('');
    try {
      const response = await fetch(STATE_URL, { headers: { 'X-Admin-API-Key': key }, cache: 'no-store' });
      if (response.status === 401) return signOut('That key was refused: check the admin API key');
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      byId('login').hidden = true;
      byId('board').hidden = false;
      render(await response.json());
    } catch (error) {
      byId('status').textContent = `Disconnected (${error.message}); retrying`;
    }
    timer = setTimeout(poll, POLL_MS);
  }

  byId('login').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem('cycles-admin-key', byId('key').value);
    byId('key').value = '';
    byId('login-error').textContent = '';
    poll();
  });
  if (sessionStorage.getItem('cycles-admin-key')) poll();
  else byId('key').focus();
})();
