// Form building blocks shared by the pages.
import { h, parseValue } from './util.js';

/** A labelled form field: field('Name', input, 'hint'). */
export function field(label, control, hint) {
  return h('label', { class: 'field' },
    h('span', { class: 'field-label' }, label), control,
    hint ? h('span', { class: 'hint' }, hint) : null);
}

export function checkbox(id, label, checked = false) {
  const input = h('input', { type: 'checkbox', id, testid: id, checked });
  return { input, element: h('label', { class: 'check' }, input, label) };
}

/**
 * Key/value rows (arguments, headers). One row to begin with; "Add" adds more.
 * Inputs carry data-testid `${prefix}-key` / `${prefix}-value` and data-index.
 * value() -> object; numeric-looking values and true/false keep their JSON type.
 */
export function keyValueEditor(prefix, { keyHint = 'key', valueHint = 'value' } = {}) {
  const rows = h('div', { class: 'kv-rows' });
  const addRow = () => {
    const i = rows.children.length;
    rows.append(h('div', { class: 'kv-row' },
      h('input', { type: 'text', placeholder: keyHint, testid: `${prefix}-key`, dataset: { index: i }, 'aria-label': `${prefix} key ${i + 1}` }),
      h('span', { class: 'kv-eq' }, '='),
      h('input', { type: 'text', placeholder: valueHint, testid: `${prefix}-value`, dataset: { index: i }, 'aria-label': `${prefix} value ${i + 1}` })));
  };
  addRow();
  const addButton = h('button', { type: 'button', class: 'btn small link', testid: `${prefix}-add`, onclick: addRow }, '+ add');
  const element = h('div', { class: 'kv', testid: prefix }, rows, addButton);

  return {
    element,
    value() {
      const out = {};
      for (const row of rows.children) {
        const [k, v] = row.querySelectorAll('input');
        if (k.value.trim() !== '') out[k.value.trim()] = parseValue(v.value);
      }
      return out;
    },
    reset() { rows.replaceChildren(); addRow(); },
  };
}

/** Replaces a <select>'s options, keeping the current choice when it still exists. */
export function fillSelect(select, values, preferred) {
  const keep = select.value;
  const same = select.options.length === values.length
    && values.every((v, i) => select.options[i].value === v);
  if (!same) {
    select.replaceChildren(...values.map((v) => h('option', { value: v }, v)));
  }
  if (values.includes(keep)) select.value = keep;
  else if (preferred !== undefined && values.includes(preferred)) select.value = preferred;
}

/** A form panel: panel('Add a queue', form). */
export function panel(title, ...content) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...content);
}

/** A short-lived result line next to a submit button. */
export function resultLine(id) {
  const el = h('span', { class: 'result', id, testid: id, role: 'status' });
  return {
    element: el,
    show(text, kind = 'ok') { el.textContent = text; el.className = `result ${kind}`; },
    clear() { el.textContent = ''; el.className = 'result'; },
  };
}
