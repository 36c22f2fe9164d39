// Table helper. Rows are keyed, so a refresh only rewrites the cells whose
// value changed: buttons and links in unchanged rows stay the same elements.
import { h } from './util.js';

/**
 * createTable({
 *   id: 'queues-table',                       // id and data-testid of <table>
 *   columns: [{ field, label, value(row), format(value, row) -> string|Node, num, nowrap }],
 *   key: (row) => 'vhost/name',               // unique per row
 *   rowData: (row) => ({ queue: 'vhost/name' }), // data-* attributes of the <tr>
 *   empty: 'No queues',
 * }) -> { element, update(rows) }
 *
 * Every <td> carries data-field (the column's field) and, for plain values,
 * data-value (the raw value). A cell is redrawn only when value(row) changes,
 * so value() must return everything format() shows.
 */
export function createTable({ id, columns, key, rowData = () => ({}), empty = 'Nothing to show' }) {
  const tbody = h('tbody');
  const table = h('table', { id, testid: id, class: 'data' },
    h('thead', {}, h('tr', {}, columns.map((c) =>
      h('th', { class: c.num ? 'num' : null, title: c.title }, c.label)))),
    tbody);
  const emptyNote = h('p', { class: 'empty', testid: `${id}-empty`, hidden: true }, empty);
  const element = h('div', { class: 'table-wrap' }, table, emptyNote);
  let rowsByKey = new Map();

  function fillCell(td, column, row, value) {
    const shown = column.format ? column.format(value, row) : value;
    td.replaceChildren();
    if (shown instanceof Node) td.append(shown);
    else if (shown !== null && shown !== undefined) td.textContent = String(shown);
    if (value === null || value === undefined || typeof value === 'object') td.removeAttribute('data-value');
    else td.dataset.value = String(value);
  }

  function update(rows) {
    const next = new Map();
    rows.forEach((row) => {
      const k = String(key(row));
      if (next.has(k)) return; // first one wins on a duplicate key
      let entry = rowsByKey.get(k);
      if (!entry) {
        const tr = h('tr', { dataset: rowData(row) });
        const cells = columns.map((c) => h('td', {
          class: [c.num ? 'num' : '', c.nowrap ? 'nowrap' : ''].join(' ').trim() || null,
          dataset: { field: c.field },
        }));
        tr.append(...cells);
        entry = { tr, cells, sigs: columns.map(() => undefined) };
      }
      columns.forEach((c, i) => {
        const value = c.value ? c.value(row) : row[c.field];
        const sig = JSON.stringify(value === undefined ? null : value);
        if (sig !== entry.sigs[i]) {
          fillCell(entry.cells[i], c, row, value);
          entry.sigs[i] = sig;
        }
      });
      next.set(k, entry);
    });
    // Put rows in the order given, touching the DOM only when needed.
    let cursor = tbody.firstChild;
    for (const { tr } of next.values()) {
      if (tr === cursor) cursor = cursor.nextSibling;
      else tbody.insertBefore(tr, cursor);
    }
    while (cursor) { const after = cursor.nextSibling; cursor.remove(); cursor = after; }
    rowsByKey = next;
    emptyNote.hidden = next.size > 0;
    table.classList.toggle('is-empty', next.size === 0);
  }

  return { element, update };
}
