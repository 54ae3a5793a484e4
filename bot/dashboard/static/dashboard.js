// The Switchboard dashboard: polls /dashboard/data.json and draws it. Everything is text content
// (never HTML from the data); the charts are uPlot, served by the bot itself.

const REFRESH_MS = 5000;
const DATA_URL = '/dashboard/data.json';
const charts = new Map();

function byId(id) {
  return document.getElementById(id);
}

function setText(id, text) {
  byId(id).textContent = text;
}

function number(value) {
  return value === undefined || value === null ? '–' : Number(value).toLocaleString('en');
}

function percent(rate) {
  return rate === undefined || rate === null ? '–' : `${(rate * 100).toFixed(1)}%`;
}

function ms(value) {
  return value === undefined || value === null ? '–' : `${Math.round(value)}`;
}

function duration(seconds) {
  if (seconds === undefined || seconds === null) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function until(epochMs, now) {
  return epochMs === undefined || epochMs === null ? '' : ` (${duration((epochMs - now) / 1000)} left)`;
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

/** A bar showing `used` of `capacity`, and the figures beside it. */
function meterCell(row, used, capacity) {
  const td = document.createElement('td');
  if (capacity !== undefined && capacity !== null && capacity > 0) {
    const meter = document.createElement('span');
    meter.className = 'meter';
    const fill = document.createElement('span');
    fill.style.width = `${Math.min(100, (used / capacity) * 100).toFixed(1)}%`;
    meter.appendChild(fill);
    td.appendChild(meter);
    td.appendChild(document.createTextNode(`${number(used)} / ${number(capacity)}`));
  } else {
    td.textContent = `${number(used)} / no known limit`;
  }
  row.appendChild(td);
}

function fillRows(tableId, rows) {
  const body = byId(tableId).querySelector('tbody');
  body.replaceChildren(...rows);
}

function renderSummary(data) {
  const pool = data.pool;
  setText('pool-left', `${number(pool.leftToday)} / ${number(pool.dailyCapacity)}`);
  setText(
    'pool-used',
    `${number(pool.usedToday)} used on ${pool.day}` +
      (pool.keysWithUnknownLimit > 0 ? `; ${pool.keysWithUnknownLimit} keys without a known limit` : ''),
  );
  const hour = data.timeline.lastHour;
  const whole = data.timeline.window;
  setText('success-rate', percent(hour.successRate));
  setText(
    'attempts-hour',
    `${number(hour.attempts)} attempts; ${percent(whole.successRate)} over ${whole.minutes / 60} h`,
  );
  setText('latency', `${ms(hour.latencyP50Ms)} / ${ms(hour.latencyP95Ms)} ms`);
  setText('latency-window', `${ms(whole.latencyP50Ms)} / ${ms(whole.latencyP95Ms)} ms over ${whole.minutes / 60} h`);
  setText('hedges', `${number(hour.hedgesWon + hour.hedgesLost)} / ${number(hour.fallbacks)}`);
  setText('hedges-window', `hedges won ${number(hour.hedgesWon)}, lost ${number(hour.hedgesLost)}`);
  if (data.intake) {
    setText('backlog', data.intake.backlog === undefined ? 'unreadable' : number(data.intake.backlog));
    setText(
      'backlog-limit',
      `limit ${number(data.intake.backlogLimit)}; this process ${data.intake.polling ? 'polls' : 'does not poll'}`,
    );
  } else {
    setText('backlog', 'none');
    setText('backlog-limit', 'in-process intake (no Redis)');
  }
  setText('active-users', number(data.users.activeToday));
  setText('storage', `storage: ${data.process.storage}${data.storageUp ? '' : ' (unreachable)'}`);
}

function renderProviders(data) {
  const rows = [];
  for (const provider of data.pool.providers) {
    const row = document.createElement('tr');
    row.className = 'provider';
    cell(row, provider.name);
    cell(row, provider.model);
    cell(row, provider.breaker + until(provider.breakerOpenUntil, data.generatedAt), `state-${provider.breaker}`);
    cell(row, number(provider.requestsToday));
    meterCell(
      row,
      provider.dailyCapacity === undefined ? provider.requestsToday : provider.dailyCapacity - provider.leftToday,
      provider.dailyCapacity,
    );
    cell(row, number(provider.leftToday));
    cell(row, percent(provider.successRate));
    cell(row, `${ms(provider.latencyP50Ms)} / ${ms(provider.latencyP95Ms)}`);
    cell(row, number(provider.fallbacks));
    cell(row, number(provider.hedges));
    rows.push(row);
    for (const key of provider.keys) {
      const keyRow = document.createElement('tr');
      keyRow.className = 'key';
      cell(keyRow, key.maskedKey);
      cell(keyRow, '');
      if (key.blocked) cell(keyRow, `${key.blocked.reason}${until(key.blocked.until, data.generatedAt)}`, 'blocked');
      else cell(keyRow, 'usable');
      cell(keyRow, number(key.requestsToday));
      meterCell(
        keyRow,
        key.dailyLimit === undefined ? key.requestsToday : key.dailyLimit - key.leftToday,
        key.dailyLimit,
      );
      cell(keyRow, number(key.leftToday));
      for (let i = 0; i < 4; i++) cell(keyRow, '');
      rows.push(keyRow);
    }
  }
  fillRows('providers', rows);
}

function renderTables(data) {
  fillRows(
    'top-users',
    data.users.top.map((user) => {
      const row = document.createElement('tr');
      cell(row, user.userId);
      cell(row, number(user.requests));
      return row;
    }),
  );
  const processes =
    data.processes.length > 0 ? data.processes : [{ ...data.process, self: true, lastBeatAt: data.generatedAt }];
  fillRows(
    'processes',
    processes.map((process) => {
      const row = document.createElement('tr');
      cell(row, process.self ? `${process.id} (this page)` : process.id);
      cell(row, process.version ?? '–');
      cell(row, process.mode ?? '–');
      cell(row, duration(process.uptimeSeconds));
      cell(row, `${duration((data.generatedAt - process.lastBeatAt) / 1000)} ago`);
      return row;
    }),
  );
  const others = processes.length - 1;
  setText(
    'scope-note',
    others > 0
      ? `Charts show this process's own attempts (${data.process.id}); ${others} other process${others > 1 ? 'es' : ''} share the storage, and the provider table counts them all.`
      : "Charts show this process's own attempts; the provider table counts every process sharing the storage.",
  );
  setText(
    'footer',
    `Switchboard ${data.process.version} · process ${data.process.id} · up ${duration(data.process.uptimeSeconds)}` +
      ` · Node ${data.process.node}` +
      (data.process.memoryBytes ? ` · ${Math.round(data.process.memoryBytes / 1048576)} MiB resident` : ''),
  );
}

const SERIES = {
  'chart-attempts': [
    { label: 'answered', key: 'successes', stroke: '#1a7f37', fill: 'rgba(26,127,55,0.15)' },
    { label: 'failed', key: 'failures', stroke: '#c62828', fill: 'rgba(198,40,40,0.15)' },
  ],
  'chart-latency': [
    { label: 'p50 ms', key: 'latencyP50Ms', stroke: '#3b6fd8', points: true },
    { label: 'p95 ms', key: 'latencyP95Ms', stroke: '#b35900', points: true },
  ],
  'chart-success': [{ label: 'success rate %', key: 'successRate', stroke: '#1a7f37', scale: 100, points: true }],
  'chart-hedges': [
    { label: 'hedges', key: 'hedges', stroke: '#7b3fd8' },
    { label: 'fallbacks', key: 'fallbacks', stroke: '#b35900' },
  ],
};

function chartData(timeline, series) {
  return [
    timeline.minutes,
    ...series.map((entry) =>
      timeline[entry.key].map((value) => (value === null || entry.scale === undefined ? value : value * entry.scale)),
    ),
  ];
}

/** Counts and latencies are read from zero up. */
function fromZero(_chart, _min, max) {
  return [0, max > 0 ? max * 1.1 : 1];
}

function renderCharts(data) {
  for (const [id, series] of Object.entries(SERIES)) {
    const element = byId(id);
    const values = chartData(data.timeline, series);
    const existing = charts.get(id);
    if (existing) {
      existing.setData(values);
      continue;
    }
    const width = Math.max(300, element.clientWidth || 460);
    const chart = new uPlot(
      {
        width,
        height: 200,
        series: [
          {},
          ...series.map((entry) => ({
            label: entry.label,
            stroke: entry.stroke,
            fill: entry.fill,
            width: 1.5,
            spanGaps: false,
            // Minutes without answers are gaps: show each measured minute as a point too.
            ...(entry.points ? { points: { show: true, size: 5 } } : {}),
          })),
        ],
        axes: [{}, { size: 50 }],
        scales: { x: { time: true }, y: { range: id === 'chart-success' ? [0, 100] : fromZero } },
        legend: { live: true },
      },
      values,
      element,
    );
    charts.set(id, chart);
  }
}

function resizeCharts() {
  for (const [id, chart] of charts) {
    const width = Math.max(300, byId(id).clientWidth);
    chart.setSize({ width, height: 200 });
  }
}

let lastOk = 0;

async function refresh() {
  const status = byId('status');
  try {
    const response = await fetch(DATA_URL, { credentials: 'same-origin', cache: 'no-store' });
    if (response.status === 401) {
      status.textContent = 'Session ended: open the dashboard link with its token again.';
      status.className = 'status error';
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    renderSummary(data);
    renderProviders(data);
    renderTables(data);
    renderCharts(data);
    lastOk = Date.now();
    status.textContent = `Updated ${new Date(data.generatedAt).toLocaleTimeString('en-GB')} · refreshes every ${REFRESH_MS / 1000} s`;
    status.className = 'status';
    document.body.dataset.loaded = 'true';
  } catch (error) {
    status.textContent = `Could not refresh${lastOk ? ` (last update ${Math.round((Date.now() - lastOk) / 1000)} s ago)` : ''}: ${error.message}`;
    status.className = 'status error';
  }
}

window.addEventListener('resize', resizeCharts);
refresh();
setInterval(refresh, REFRESH_MS);
