// Overview: totals, queued messages, message rates, two charts and the nodes.
import { get, apiPath, ApiError } from '../api.js';
import { h, pick, fmtCount, fmtRate, fmtBytes, fmtDuration, fmtBool } from '../util.js';
import { createTable } from '../table.js';
import { createChart, SampleBuffer } from '../chart.js';

const TOTALS = [
  ['connections', 'Connections'], ['channels', 'Channels'], ['exchanges', 'Exchanges'],
  ['queues', 'Queues'], ['consumers', 'Consumers'],
];
const DEPTH = [
  ['messages_ready', 'Ready', 'overview-messages-ready', '#2563eb'],
  ['messages_unacknowledged', 'Unacked', 'overview-messages-unacked', '#d97706'],
  ['messages', 'Total', 'overview-messages', '#64748b'],
];
const RATES = [
  ['publish', 'Publish', '#2563eb'],
  ['deliver_get', 'Deliver / get', '#16a34a'],
  ['ack', 'Ack', '#9333ea'],
  ['redeliver', 'Redeliver', '#ea580c'],
  ['confirm', 'Confirm', '#0891b2'],
  ['return_unroutable', 'Returned unroutable', '#dc2626'],
  ['drop_unroutable', 'Dropped unroutable', '#a16207'],
];

// Kept across visits to the page, so the charts keep their history.
const samples = new SampleBuffer();
// The user who may not list nodes (RabbitMQ wants the monitoring tag), once seen.
let nodesDeniedFor = null;

function stat(testid, label) {
  const value = h('span', { class: 'stat-value', id: testid, testid }, '');
  return { value, element: h('div', { class: 'stat' }, value, h('span', { class: 'stat-label' }, label)) };
}

function nodesTable() {
  return createTable({
    id: 'nodes-table',
    key: (n) => n.name,
    rowData: (n) => ({ node: n.name }),
    empty: 'No nodes',
    columns: [
      { field: 'name', label: 'Name' },
      { field: 'type', label: 'Type' },
      { field: 'running', label: 'Running', format: (v) => h('span', { class: v === false ? 'badge bad' : 'badge ok' }, fmtBool(v)) },
      { field: 'mem_used', label: 'Memory used', num: true, format: fmtBytes },
      { field: 'uptime', label: 'Uptime', num: true, format: fmtDuration },
    ],
  });
}

export default function overviewPage(root, _params, ctx) {
  ctx.setTitle('Overview');
  const clusterLine = h('p', { class: 'subtitle', id: 'overview-cluster', testid: 'overview-cluster' });
  const totals = Object.fromEntries(TOTALS.map(([k, label]) => [k, stat(`overview-${k}`, label)]));
  const depth = Object.fromEntries(DEPTH.map(([k, label, id]) => [k, stat(id, label)]));
  const rates = Object.fromEntries(RATES.map(([k, label]) => [k, stat(`overview-rate-${k}`, label)]));

  const ratesChart = createChart({
    id: 'chart-rates', format: fmtRate,
    series: RATES.map(([key, label, color]) => ({ key, label, color })),
  });
  const depthChart = createChart({
    id: 'chart-depth', format: (v) => String(Math.round(v * 100) / 100),
    series: DEPTH.map(([key, label, , color]) => ({ key, label, color })),
  });
  const nodes = nodesTable();
  const user = ctx.me && ctx.me.name;
  const nodesPanel = h('section', { class: 'panel', hidden: nodesDeniedFor === user }, h('h2', {}, 'Nodes'), nodes.element);

  root.append(
    h('h1', {}, 'Overview'), clusterLine,
    h('section', { class: 'panel' }, h('h2', {}, 'Totals'),
      h('div', { class: 'stats' }, Object.values(totals).map((s) => s.element))),
    h('div', { class: 'columns' },
      h('section', { class: 'panel' }, h('h2', {}, 'Queued messages'),
        h('div', { class: 'stats' }, Object.values(depth).map((s) => s.element)),
        depthChart.element),
      h('section', { class: 'panel' }, h('h2', {}, 'Message rates'),
        h('div', { class: 'stats compact' }, Object.values(rates).map((s) => s.element)),
        ratesChart.element)),
    nodesPanel);

  async function refreshNodes() {
    if (nodesDeniedFor === user) return;
    try {
      const list = await get(apiPath('nodes'));
      nodes.update(Array.isArray(list) ? list : []);
    } catch (err) {
      if (err instanceof ApiError && !err.loginFailed && (err.status === 401 || err.status === 403)) {
        nodesDeniedFor = user;
        nodesPanel.hidden = true;
        return;
      }
      throw err;
    }
  }

  async function refresh() {
    const [ov] = await Promise.all([get(apiPath('overview')), refreshNodes()]);

    clusterLine.replaceChildren(
      'Cluster ', h('strong', { testid: 'overview-cluster-name' }, ov.cluster_name || ''),
      ' · Node ', h('strong', { testid: 'overview-node' }, ov.node || ''),
      ' · ', h('strong', { testid: 'overview-version' },
        [ov.product_name, ov.product_version].filter(Boolean).join(' ')));

    for (const [k] of TOTALS) totals[k].value.textContent = fmtCount(pick(ov, `object_totals.${k}`));
    const values = {};
    for (const [k] of DEPTH) {
      const v = pick(ov, `queue_totals.${k}`);
      depth[k].value.textContent = fmtCount(v);
      values[k] = typeof v === 'number' ? v : 0;
    }
    for (const [k] of RATES) {
      const v = pick(ov, `message_stats.${k}_details.rate`);
      const rate = typeof v === 'number' ? v : 0; // no stats yet means nothing happened
      rates[k].value.textContent = fmtRate(rate);
      values[k] = rate;
    }
    samples.push(values);
    ratesChart.update(samples.samples);
    depthChart.update(samples.samples);
  }

  return { refresh };
}
