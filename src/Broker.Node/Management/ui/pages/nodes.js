// Nodes: one row per node, blank where the API leaves a field out.
import { get, apiPath } from '../api.js';
import { h, fmtBytes, fmtDuration, fmtBool, fmtCount } from '../util.js';
import { createTable } from '../table.js';

const alarm = (v) => (v === undefined || v === null ? ''
  : h('span', { class: `badge ${v ? 'bad' : 'ok'}` }, v ? 'alarm' : 'ok'));

export default function nodesPage(root, _params, ctx) {
  ctx.setTitle('Nodes');
  const table = createTable({
    id: 'nodes-table',
    key: (n) => n.name,
    rowData: (n) => ({ node: n.name }),
    empty: 'No nodes',
    columns: [
      { field: 'name', label: 'Name' },
      { field: 'type', label: 'Type' },
      { field: 'running', label: 'Running', format: (v) => (v === undefined ? '' : h('span', { class: `badge ${v ? 'ok' : 'bad'}` }, fmtBool(v))) },
      { field: 'uptime', label: 'Uptime', num: true, format: fmtDuration },
      { field: 'mem_used', label: 'Memory used', num: true, format: fmtBytes },
      { field: 'mem_limit', label: 'Memory limit', num: true, format: fmtBytes },
      { field: 'mem_alarm', label: 'Memory alarm', format: alarm },
      { field: 'fd_used', label: 'File descr.', num: true, format: fmtCount },
      { field: 'fd_total', label: 'FD limit', num: true, format: fmtCount },
      { field: 'proc_used', label: 'Processes', num: true, format: fmtCount },
      { field: 'sockets_used', label: 'Sockets', num: true, format: fmtCount },
      { field: 'disk_free', label: 'Disk free', num: true, format: fmtBytes },
      { field: 'disk_free_limit', label: 'Disk limit', num: true, format: fmtBytes },
      { field: 'disk_free_alarm', label: 'Disk alarm', format: alarm },
    ],
  });
  root.append(h('h1', {}, 'Nodes'), h('section', { class: 'panel' }, table.element));

  async function refresh() {
    const list = await get(apiPath('nodes'));
    table.update(Array.isArray(list) ? list : []);
  }
  return { refresh };
}
