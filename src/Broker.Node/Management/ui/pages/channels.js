// Channels (read only).
import { get, apiPath } from '../api.js';
import { h, pick, fmtRate } from '../util.js';
import { createTable } from '../table.js';

function mode(c) {
  return [c.confirm ? 'confirm' : '', c.transactional ? 'transactional' : ''].filter(Boolean).join(', ');
}

export default function channelsPage(root, _params, ctx) {
  ctx.setTitle('Channels');
  const table = createTable({
    id: 'channels-table',
    key: (c) => c.name,
    rowData: (c) => ({ channel: c.name }),
    empty: 'No channels',
    columns: [
      { field: 'name', label: 'Channel' },
      { field: 'connection', label: 'Connection', value: (c) => pick(c, 'connection_details.name') ?? '' },
      { field: 'number', label: 'No.', num: true },
      { field: 'user', label: 'User' },
      { field: 'vhost', label: 'Virtual host' },
      { field: 'mode', label: 'Mode', value: mode, title: 'Publisher confirms / transactional' },
      { field: 'prefetch_count', label: 'Prefetch', num: true },
      { field: 'consumer_count', label: 'Consumers', num: true },
      { field: 'messages_unacknowledged', label: 'Unacked', num: true },
      { field: 'publish_rate', label: 'Publish', num: true, value: (c) => pick(c, 'message_stats.publish_details.rate'), format: fmtRate },
      { field: 'deliver_get_rate', label: 'Deliver / get', num: true, value: (c) => pick(c, 'message_stats.deliver_get_details.rate'), format: fmtRate },
      { field: 'ack_rate', label: 'Ack', num: true, value: (c) => pick(c, 'message_stats.ack_details.rate'), format: fmtRate },
      { field: 'node', label: 'Node' },
    ],
  });
  root.append(h('h1', {}, 'Channels'), h('section', { class: 'panel' }, table.element));

  async function refresh() {
    const list = await get(apiPath('channels'));
    table.update(Array.isArray(list) ? list : []);
  }
  return { refresh };
}
