// Queues list and the "Add queue" form.
import { get, put, apiPath } from '../api.js';
import { h, pick, route, fmtRate, fmtBytes } from '../util.js';
import { createTable } from '../table.js';
import { field, checkbox, keyValueEditor, fillSelect, panel } from '../forms.js';

/** Small badges for durable / auto-delete / exclusive and each argument. */
function queueFeatures(q) {
  const out = [];
  if (q.durable) out.push(['D', 'durable']);
  if (q.auto_delete) out.push(['AD', 'auto delete']);
  if (q.exclusive) out.push(['Excl', 'exclusive']);
  for (const [k, v] of Object.entries(q.arguments || {})) out.push([k.replace(/^x-/, ''), `${k}: ${JSON.stringify(v)}`]);
  if (q.policy) out.push([`policy ${q.policy}`, `policy: ${q.policy}`]);
  return out;
}

const badges = (list) => h('span', { class: 'badges' },
  list.map(([text, title]) => h('span', { class: 'badge', title }, text)));

export default function queuesPage(root, _params, ctx) {
  ctx.setTitle('Queues');

  const table = createTable({
    id: 'queues-table',
    key: (q) => `${q.vhost}/${q.name}`,
    rowData: (q) => ({ queue: `${q.vhost}/${q.name}` }),
    empty: 'No queues',
    columns: [
      { field: 'vhost', label: 'Virtual host' },
      {
        field: 'name', label: 'Name', value: (q) => [q.vhost, q.name],
        format: ([vhost, name]) => h('a', { href: route('queues', vhost, name) }, name),
      },
      { field: 'type', label: 'Type' },
      { field: 'features', label: 'Features', value: queueFeatures, format: badges },
      { field: 'state', label: 'State', format: (v) => h('span', { class: `badge ${v === 'running' ? 'ok' : 'warn'}` }, v ?? '') },
      { field: 'messages_ready', label: 'Ready', num: true },
      { field: 'messages_unacknowledged', label: 'Unacked', num: true },
      { field: 'messages', label: 'Total', num: true },
      { field: 'consumers', label: 'Consumers', num: true },
      { field: 'publish_rate', label: 'Incoming', num: true, value: (q) => pick(q, 'message_stats.publish_details.rate'), format: fmtRate },
      { field: 'deliver_get_rate', label: 'Deliver / get', num: true, value: (q) => pick(q, 'message_stats.deliver_get_details.rate'), format: fmtRate },
      { field: 'ack_rate', label: 'Ack', num: true, value: (q) => pick(q, 'message_stats.ack_details.rate'), format: fmtRate },
      { field: 'memory', label: 'Memory', num: true, format: fmtBytes },
      { field: 'node', label: 'Node' },
    ],
  });

  // --- add form
  const vhost = h('select', { id: 'queue-vhost', testid: 'queue-vhost' });
  const name = h('input', { type: 'text', id: 'queue-name', testid: 'queue-name', required: true, autocomplete: 'off' });
  const durable = checkbox('queue-durable', 'Durable', true);
  const autoDelete = checkbox('queue-auto-delete', 'Auto delete');
  const args = keyValueEditor('queue-arg', { keyHint: 'e.g. x-max-length' });
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'queue-add-submit', testid: 'queue-add-submit' }, 'Add queue');
  const form = h('form', { class: 'form-grid', id: 'queue-add-form', testid: 'queue-add-form' },
    field('Virtual host', vhost), field('Name', name),
    h('div', { class: 'field checks' }, durable.element, autoDelete.element),
    field('Arguments', args.element, 'Numbers and true/false are sent as JSON numbers and booleans.'),
    h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = vhost.value;
    const n = name.value.trim();
    ctx.action(async () => {
      await put(apiPath('queues', v, n), {
        durable: durable.input.checked, auto_delete: autoDelete.input.checked, arguments: args.value(),
      });
      ctx.flash(`Queue ${n} added`);
      name.value = '';
      args.reset();
    }, submit);
  });

  root.append(h('h1', {}, 'Queues'), h('section', { class: 'panel' }, table.element),
    panel('Add a new queue', form));

  async function refresh() {
    const [list, vhosts] = await Promise.all([get(apiPath('queues')), get(apiPath('vhosts'))]);
    table.update(Array.isArray(list) ? list : []);
    fillSelect(vhost, (vhosts || []).map((x) => x.name), '/');
  }
  return { refresh };
}
