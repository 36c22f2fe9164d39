// One queue: counters, depth chart, consumers, bindings, publish, get, purge, delete.
import { get, post, del, apiPath } from '../api.js';
import { h, pick, route, fmtCount, fmtRate, fmtBytes, fmtBool, fmtArgs, exchangeLabel } from '../util.js';
import { createTable } from '../table.js';
import { createChart, SampleBuffer } from '../chart.js';
import { field, keyValueEditor, panel } from '../forms.js';
import { publishForm } from '../publish.js';

// Depth history per queue, kept while the browser tab lives.
const history = new Map();

const COUNTERS = [
  ['messages_ready', 'Ready', 'queue-messages-ready'],
  ['messages_unacknowledged', 'Unacked', 'queue-messages-unacked'],
  ['messages', 'Total', 'queue-messages'],
  ['consumers', 'Consumers', 'queue-consumers'],
];
const RATES = [['publish', 'Incoming'], ['deliver_get', 'Deliver / get'], ['ack', 'Ack']];

function messageBlock(m, index) {
  const props = Object.entries(m.properties || {}).map(([k, v]) =>
    [h('dt', {}, k), h('dd', {}, typeof v === 'object' && v !== null ? fmtArgs(v) || '{}' : String(v))]);
  return h('article', { class: 'message', testid: 'get-message', dataset: { index } },
    h('header', {}, h('strong', {}, `Message ${index + 1}`),
      h('span', { class: 'muted' }, ` · ${m.message_count ?? 0} left in the queue`)),
    h('dl', { class: 'details compact' },
      h('dt', {}, 'Exchange'), h('dd', {}, exchangeLabel(m.exchange ?? '')),
      h('dt', {}, 'Routing key'), h('dd', {}, m.routing_key ?? ''),
      h('dt', {}, 'Redelivered'), h('dd', { testid: 'get-redelivered' }, fmtBool(m.redelivered)),
      ...props.flat(),
      h('dt', {}, 'Payload'),
      h('dd', {}, `${m.payload_bytes ?? ''} bytes, encoding: ${m.payload_encoding ?? ''}`)),
    h('pre', { class: 'payload', testid: 'get-payload' }, m.payload ?? ''));
}

export default function queuePage(root, [vhost, name], ctx) {
  ctx.setTitle(`Queue ${name}`);
  const historyKey = `${vhost}/${name}`;
  if (!history.has(historyKey)) history.set(historyKey, new SampleBuffer());
  const samples = history.get(historyKey);

  // --- header with purge / delete
  const purge = h('button', { type: 'button', class: 'btn', id: 'purge-submit', testid: 'purge-submit' }, 'Purge messages');
  const remove = h('button', { type: 'button', class: 'btn danger', id: 'delete-submit', testid: 'delete-submit' }, 'Delete queue');
  purge.addEventListener('click', () => {
    if (!window.confirm(`Purge all messages from queue "${name}"?`)) return;
    ctx.action(async () => {
      await del(apiPath('queues', vhost, name, 'contents'));
      ctx.flash(`Queue ${name} purged`);
    }, purge);
  });
  remove.addEventListener('click', () => {
    if (!window.confirm(`Delete queue "${name}"?`)) return;
    ctx.action(async () => {
      await del(apiPath('queues', vhost, name));
      history.delete(historyKey);
      ctx.flash(`Queue ${name} deleted`);
      ctx.navigate('#/queues');
    }, remove);
  });

  // --- details, counters, chart
  const details = h('dl', { class: 'details', id: 'queue-details', testid: 'queue-details' });
  const counters = Object.fromEntries(COUNTERS.map(([k, label, id]) => {
    const value = h('span', { class: 'stat-value', id, testid: id });
    return [k, { value, element: h('div', { class: 'stat' }, value, h('span', { class: 'stat-label' }, label)) }];
  }));
  const rateValues = Object.fromEntries(RATES.map(([k, label]) => {
    const value = h('span', { class: 'stat-value', id: `queue-rate-${k}`, testid: `queue-rate-${k}` });
    return [k, { value, element: h('div', { class: 'stat' }, value, h('span', { class: 'stat-label' }, label)) }];
  }));
  const chart = createChart({
    id: 'chart-depth', format: (v) => String(Math.round(v * 100) / 100),
    series: [
      { key: 'ready', label: 'Ready', color: '#2563eb' },
      { key: 'unacked', label: 'Unacked', color: '#d97706' },
    ],
  });

  // --- consumers
  const consumers = createTable({
    id: 'consumers-table',
    key: (c) => `${pick(c, 'channel_details.name')}/${c.consumer_tag}`,
    rowData: (c) => ({ consumer: c.consumer_tag }),
    empty: 'No consumers',
    columns: [
      { field: 'channel', label: 'Channel', value: (c) => pick(c, 'channel_details.name') ?? '' },
      { field: 'consumer_tag', label: 'Consumer tag' },
      { field: 'ack_required', label: 'Ack required', format: fmtBool },
      { field: 'exclusive', label: 'Exclusive', format: fmtBool },
      { field: 'prefetch_count', label: 'Prefetch', num: true },
      { field: 'active', label: 'Active', format: fmtBool },
    ],
  });

  // --- bindings
  const unbind = (b, button) => ctx.action(async () => {
    await del(apiPath('bindings', vhost, 'e', b.source, 'q', name, b.properties_key));
    ctx.flash(`Binding from ${b.source} removed`);
  }, button);
  const bindings = createTable({
    id: 'bindings-table',
    key: (b) => `${b.source}/${b.properties_key}`,
    rowData: (b) => ({ binding: `${b.source}/${b.properties_key ?? ''}` }),
    empty: 'No bindings',
    columns: [
      {
        field: 'source', label: 'From exchange',
        format: (src) => (src === '' ? exchangeLabel('') : h('a', { href: route('exchanges', vhost, src) }, src)),
      },
      { field: 'routing_key', label: 'Routing key' },
      { field: 'arguments', label: 'Arguments', format: fmtArgs },
      {
        field: 'actions', label: '', value: (b) => ({ source: b.source, properties_key: b.properties_key }),
        format: (b) => {
          if (b.source === '') return h('span', { class: 'muted' }, 'default binding');
          const button = h('button', { type: 'button', class: 'btn small danger', testid: 'binding-delete' }, 'Unbind');
          button.addEventListener('click', () => unbind(b, button));
          return button;
        },
      },
    ],
  });
  const bindExchange = h('input', { type: 'text', id: 'binding-exchange', testid: 'binding-exchange', list: 'binding-exchanges', required: true, autocomplete: 'off' });
  const exchangeList = h('datalist', { id: 'binding-exchanges' });
  const bindKey = h('input', { type: 'text', id: 'binding-routing-key', testid: 'binding-routing-key', autocomplete: 'off' });
  const bindArgs = keyValueEditor('binding-arg');
  const bindSubmit = h('button', { type: 'submit', class: 'btn primary', id: 'binding-submit', testid: 'binding-submit' }, 'Bind');
  const bindForm = h('form', { class: 'form-grid', id: 'binding-form', testid: 'binding-form' },
    field('From exchange', h('span', {}, bindExchange, exchangeList)), field('Routing key', bindKey),
    field('Arguments', bindArgs.element), h('div', { class: 'form-actions' }, bindSubmit));
  bindForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const source = bindExchange.value.trim();
    ctx.action(async () => {
      await post(apiPath('bindings', vhost, 'e', source, 'q', name), { routing_key: bindKey.value, arguments: bindArgs.value() });
      ctx.flash(`Bound to ${source}`);
      bindKey.value = '';
      bindArgs.reset();
    }, bindSubmit);
  });

  // --- get messages
  const getCount = h('input', { type: 'number', id: 'get-count', testid: 'get-count', min: 1, value: '1' });
  const getMode = h('select', { id: 'get-ackmode', testid: 'get-ackmode' },
    h('option', { value: 'ack_requeue_true' }, 'Nack, requeue'),
    h('option', { value: 'ack_requeue_false' }, 'Ack, remove from queue'));
  const getSubmit = h('button', { type: 'submit', class: 'btn primary', id: 'get-submit', testid: 'get-submit' }, 'Get messages');
  const getResults = h('div', { class: 'messages', id: 'get-results', testid: 'get-results', 'aria-live': 'polite' });
  const getForm = h('form', { class: 'form-grid', id: 'get-form', testid: 'get-form' },
    field('Ack mode', getMode), field('Messages', getCount), h('div', { class: 'form-actions' }, getSubmit));
  getForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const count = Math.max(1, parseInt(getCount.value, 10) || 1);
    ctx.action(async () => {
      const list = await post(apiPath('queues', vhost, name, 'get'),
        { count, ackmode: getMode.value, encoding: 'auto', truncate: 50000 });
      const messages = Array.isArray(list) ? list : [];
      getResults.replaceChildren(...(messages.length
        ? messages.map(messageBlock)
        : [h('p', { class: 'empty', testid: 'get-empty' }, 'Queue is empty')]));
    }, getSubmit);
  });

  root.append(
    h('div', { class: 'page-head' },
      h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '#/queues' }, 'Queues'), ' · virtual host ', h('strong', { testid: 'page-vhost' }, vhost)),
        h('h1', {}, 'Queue ', h('span', { class: 'name' }, name))),
      h('div', { class: 'head-actions' }, purge, remove)),
    h('div', { class: 'columns' },
      panel('Details', details),
      panel('Messages',
        h('div', { class: 'stats' }, Object.values(counters).map((c) => c.element)),
        h('div', { class: 'stats compact' }, Object.values(rateValues).map((c) => c.element)),
        chart.element)),
    panel('Consumers', consumers.element),
    panel('Bindings', bindings.element, h('h3', {}, 'Add binding from an exchange'), bindForm),
    h('div', { class: 'columns' },
      panel('Publish message', publishForm(ctx, { vhost, exchange: 'amq.default', routingKey: name })),
      panel('Get messages', getForm, getResults)));

  async function refresh() {
    const [q, consumerList, bindingList, exchanges] = await Promise.all([
      get(apiPath('queues', vhost, name)),
      get(apiPath('consumers', vhost)),
      get(apiPath('queues', vhost, name, 'bindings')),
      get(apiPath('exchanges', vhost)),
    ]);
    for (const [k] of COUNTERS) counters[k].value.textContent = fmtCount(q[k]);
    for (const [k] of RATES) rateValues[k].value.textContent = fmtRate(pick(q, `message_stats.${k}_details.rate`) ?? 0);
    const rows = [
      ['Virtual host', q.vhost], ['Type', q.type], ['Node', q.node],
      ['State', h('span', { testid: 'queue-state' }, q.state ?? '')],
      ['Durable', fmtBool(q.durable)], ['Auto delete', fmtBool(q.auto_delete)], ['Exclusive', fmtBool(q.exclusive)],
      ['Arguments', fmtArgs(q.arguments)], ['Policy', q.policy ?? ''], ['Memory', fmtBytes(q.memory)],
    ];
    details.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '')]));

    samples.push({ ready: q.messages_ready ?? 0, unacked: q.messages_unacknowledged ?? 0 });
    chart.update(samples.samples);

    consumers.update((Array.isArray(consumerList) ? consumerList : [])
      .filter((c) => pick(c, 'queue.name') === name));
    bindings.update(Array.isArray(bindingList) ? bindingList : []);
    const names = (exchanges || []).map((x) => x.name).filter((n) => n !== '');
    if (names.join('\n') !== [...exchangeList.options].map((o) => o.value).join('\n')) {
      exchangeList.replaceChildren(...names.map((n) => h('option', { value: n })));
    }
  }
  return { refresh };
}
