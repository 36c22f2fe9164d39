// Connections, with a Close button per row, and the recently closed ones.
import { get, del, apiPath, ApiError } from '../api.js';
import { h, pick, fmtByteRate, fmtBool, fmtTime } from '../util.js';
import { createTable } from '../table.js';

// null: not asked yet; false: this server has no /api/closed-connections.
let closedSupported = null;

const peer = (c) => (c.peer_host === undefined ? '' : `${c.peer_host}:${c.peer_port ?? ''}`);

export default function connectionsPage(root, _params, ctx) {
  ctx.setTitle('Connections');

  const close = (name, button) => ctx.action(async () => {
    await del(apiPath('connections', name), { 'X-Reason': 'closed from the management UI' });
    ctx.flash(`Closing connection ${name}`);
  }, button);

  const open = createTable({
    id: 'connections-table',
    key: (c) => c.name,
    rowData: (c) => ({ connection: c.name }),
    empty: 'No connections',
    columns: [
      { field: 'name', label: 'Name' },
      { field: 'connection_name', label: 'Client name', value: (c) => pick(c, 'client_properties.connection_name') ?? '' },
      { field: 'user', label: 'User' },
      { field: 'vhost', label: 'Virtual host' },
      { field: 'peer', label: 'Peer', value: peer },
      { field: 'protocol', label: 'Protocol', nowrap: true },
      { field: 'ssl', label: 'TLS', format: fmtBool },
      { field: 'state', label: 'State', format: (v) => h('span', { class: `badge ${v === 'running' ? 'ok' : 'warn'}` }, v ?? '') },
      { field: 'channels', label: 'Channels', num: true },
      { field: 'recv_rate', label: 'From client', num: true, value: (c) => pick(c, 'recv_oct_details.rate'), format: fmtByteRate },
      { field: 'send_rate', label: 'To client', num: true, value: (c) => pick(c, 'send_oct_details.rate'), format: fmtByteRate },
      { field: 'node', label: 'Node' },
      {
        field: 'actions', label: '', value: (c) => c.name,
        format: (name) => {
          const b = h('button', { type: 'button', class: 'btn small danger', testid: 'connection-close' }, 'Close');
          b.addEventListener('click', () => close(name, b));
          return b;
        },
      },
    ],
  });

  const closed = createTable({
    id: 'closed-connections-table',
    key: (c) => `${c.name}|${c.closed_at}`,
    rowData: (c) => ({ connection: c.name }),
    empty: 'No recently closed connections',
    columns: [
      { field: 'closed_at', label: 'Closed at', nowrap: true, format: fmtTime },
      { field: 'name', label: 'Name' },
      { field: 'user', label: 'User' },
      { field: 'vhost', label: 'Virtual host' },
      { field: 'peer', label: 'Peer', value: peer },
      { field: 'reply_code', label: 'Code', num: true },
      { field: 'reply_text', label: 'Reason' },
      { field: 'initiated_by', label: 'Closed by' },
      { field: 'node', label: 'Node' },
    ],
  });
  const closedSection = h('section', { class: 'panel', id: 'closed-connections', testid: 'closed-connections', hidden: closedSupported !== true },
    h('h2', {}, 'Recently closed'), closed.element);

  root.append(h('h1', {}, 'Connections'), h('section', { class: 'panel' }, open.element), closedSection);

  async function refreshClosed() {
    if (closedSupported === false) return;
    try {
      const list = await get(apiPath('closed-connections'));
      closedSupported = true;
      const rows = (Array.isArray(list) ? list : []).slice()
        .sort((a, b) => (b.closed_at || 0) - (a.closed_at || 0));
      closed.update(rows);
      closedSection.hidden = false;
    } catch (err) {
      if (err instanceof ApiError && [404, 405, 406, 501].includes(err.status)) {
        // Not offered by this server (RabbitMQ answers 404 or 406): hide the section.
        closedSupported = false;
        closedSection.hidden = true;
        return;
      }
      throw err;
    }
  }

  async function refresh() {
    const [list, recent] = await Promise.allSettled([get(apiPath('connections')), refreshClosed()]);
    if (list.status === 'fulfilled') open.update(Array.isArray(list.value) ? list.value : []);
    for (const r of [list, recent]) if (r.status === 'rejected') throw r.reason;
  }

  return { refresh };
}
