// One exchange: details, bindings from it, publish form, delete.
import { get, del, apiPath } from '../api.js';
import { h, pick, route, fmtBool, fmtArgs, fmtRate, exchangeLabel } from '../util.js';
import { createTable } from '../table.js';
import { panel } from '../forms.js';
import { publishForm } from '../publish.js';

export default function exchangePage(root, [vhost, rawName], ctx) {
  const name = rawName === '' ? 'amq.default' : rawName;
  const isDefault = name === 'amq.default';
  const label = isDefault ? exchangeLabel('') : name;
  ctx.setTitle(`Exchange ${label}`);

  const details = h('dl', { class: 'details', id: 'exchange-details', testid: 'exchange-details' });
  const bindings = createTable({
    id: 'bindings-table',
    key: (b) => `${b.destination_type}/${b.destination}/${b.properties_key}`,
    rowData: (b) => ({ binding: `${b.destination_type}/${b.destination}/${b.properties_key ?? ''}` }),
    empty: 'No bindings from this exchange',
    columns: [
      {
        field: 'destination', label: 'To', value: (b) => [b.destination_type, b.destination],
        format: ([type, dest]) => (type === 'queue'
          ? h('a', { href: route('queues', vhost, dest) }, dest)
          : h('a', { href: route('exchanges', vhost, dest) }, dest)),
      },
      { field: 'destination_type', label: 'Type' },
      { field: 'routing_key', label: 'Routing key' },
      { field: 'arguments', label: 'Arguments', format: fmtArgs },
    ],
  });

  const remove = h('button', { type: 'button', class: 'btn danger', id: 'delete-submit', testid: 'delete-submit', hidden: isDefault }, 'Delete exchange');
  remove.addEventListener('click', () => ctx.action(async () => {
    await del(apiPath('exchanges', vhost, name));
    ctx.flash(`Exchange ${name} deleted`);
    ctx.navigate('#/exchanges');
  }, remove));

  root.append(
    h('div', { class: 'page-head' },
      h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '#/exchanges' }, 'Exchanges'), ' · virtual host ', h('strong', { testid: 'page-vhost' }, vhost)),
        h('h1', {}, 'Exchange ', h('span', { class: 'name' }, label))),
      h('div', { class: 'head-actions' }, remove)),
    h('div', { class: 'columns' },
      panel('Details', details),
      panel('Publish message', publishForm(ctx, { vhost, exchange: name }))),
    panel('Bindings from this exchange', bindings.element));

  async function refresh() {
    const [x, list] = await Promise.all([
      get(apiPath('exchanges', vhost, name)),
      get(apiPath('exchanges', vhost, name, 'bindings', 'source')),
    ]);
    const rows = [
      ['Virtual host', x.vhost], ['Type', x.type], ['Durable', fmtBool(x.durable)],
      ['Auto delete', fmtBool(x.auto_delete)], ['Internal', fmtBool(x.internal)],
      ['Arguments', fmtArgs(x.arguments)],
      ['Publish in', fmtRate(pick(x, 'message_stats.publish_in_details.rate'))],
      ['Publish out', fmtRate(pick(x, 'message_stats.publish_out_details.rate'))],
    ];
    details.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '')]));
    bindings.update(Array.isArray(list) ? list : []);
  }
  return { refresh };
}
