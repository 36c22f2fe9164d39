// Exchanges list and the "Add exchange" form.
import { get, put, apiPath } from '../api.js';
import { h, pick, route, fmtRate, fmtBool, fmtArgs, exchangeLabel } from '../util.js';
import { createTable } from '../table.js';
import { field, checkbox, keyValueEditor, fillSelect, panel } from '../forms.js';

const TYPES = ['direct', 'fanout', 'topic', 'headers'];

/** Link target for an exchange; the default one is addressed as amq.default. */
const exchangeRoute = (vhost, name) => route('exchanges', vhost, name === '' ? 'amq.default' : name);

export default function exchangesPage(root, _params, ctx) {
  ctx.setTitle('Exchanges');

  const table = createTable({
    id: 'exchanges-table',
    key: (x) => `${x.vhost}/${x.name}`,
    rowData: (x) => ({ exchange: `${x.vhost}/${x.name}` }),
    empty: 'No exchanges',
    columns: [
      { field: 'vhost', label: 'Virtual host' },
      {
        field: 'name', label: 'Name', value: (x) => [x.vhost, x.name],
        format: ([vhost, name]) => h('a', { href: exchangeRoute(vhost, name) }, exchangeLabel(name)),
      },
      { field: 'type', label: 'Type' },
      { field: 'durable', label: 'Durable', format: fmtBool },
      { field: 'auto_delete', label: 'Auto delete', format: fmtBool },
      { field: 'internal', label: 'Internal', format: fmtBool },
      { field: 'arguments', label: 'Arguments', format: fmtArgs },
      { field: 'publish_in', label: 'Publish in', num: true, value: (x) => pick(x, 'message_stats.publish_in_details.rate'), format: fmtRate },
      { field: 'publish_out', label: 'Publish out', num: true, value: (x) => pick(x, 'message_stats.publish_out_details.rate'), format: fmtRate },
    ],
  });

  // --- add form
  const vhost = h('select', { id: 'exchange-vhost', testid: 'exchange-vhost' });
  const name = h('input', { type: 'text', id: 'exchange-name', testid: 'exchange-name', required: true, autocomplete: 'off' });
  const type = h('select', { id: 'exchange-type', testid: 'exchange-type' }, TYPES.map((t) => h('option', { value: t }, t)));
  const durable = checkbox('exchange-durable', 'Durable', true);
  const autoDelete = checkbox('exchange-auto-delete', 'Auto delete');
  const internal = checkbox('exchange-internal', 'Internal');
  const args = keyValueEditor('exchange-arg', { keyHint: 'e.g. alternate-exchange' });
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'exchange-add-submit', testid: 'exchange-add-submit' }, 'Add exchange');
  const form = h('form', { class: 'form-grid', id: 'exchange-add-form', testid: 'exchange-add-form' },
    field('Virtual host', vhost), field('Name', name), field('Type', type),
    h('div', { class: 'field checks' }, durable.element, autoDelete.element, internal.element),
    field('Arguments', args.element), h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = vhost.value;
    const n = name.value.trim();
    ctx.action(async () => {
      await put(apiPath('exchanges', v, n), {
        type: type.value, durable: durable.input.checked, auto_delete: autoDelete.input.checked,
        internal: internal.input.checked, arguments: args.value(),
      });
      ctx.flash(`Exchange ${n} added`);
      name.value = '';
      args.reset();
    }, submit);
  });

  root.append(h('h1', {}, 'Exchanges'), h('section', { class: 'panel' }, table.element),
    panel('Add a new exchange', form));

  async function refresh() {
    const [list, vhosts] = await Promise.all([get(apiPath('exchanges')), get(apiPath('vhosts'))]);
    table.update(Array.isArray(list) ? list : []);
    fillSelect(vhost, (vhosts || []).map((x) => x.name), '/');
  }
  return { refresh };
}
