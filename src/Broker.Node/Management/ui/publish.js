// "Publish message" form used by the exchange page and the queue page.
import { post, apiPath } from './api.js';
import { h } from './util.js';
import { field, keyValueEditor, resultLine } from './forms.js';

/**
 * publishForm(ctx, { vhost, exchange, routingKey })
 * exchange: API name ('amq.default' for the default exchange).
 * routingKey: fixed routing key (queue page), or undefined for an input.
 */
export function publishForm(ctx, { vhost, exchange, routingKey }) {
  const key = routingKey === undefined
    ? h('input', { type: 'text', id: 'publish-routing-key', testid: 'publish-routing-key', autocomplete: 'off' })
    : null;
  const mode = h('select', { id: 'publish-delivery-mode', testid: 'publish-delivery-mode' },
    h('option', { value: '1' }, '1 – non-persistent'), h('option', { value: '2' }, '2 – persistent'));
  const headers = keyValueEditor('publish-header', { keyHint: 'header' });
  const payload = h('textarea', { id: 'publish-payload', testid: 'publish-payload', rows: 4, spellcheck: 'false' });
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'publish-submit', testid: 'publish-submit' }, 'Publish message');
  const result = resultLine('publish-result');

  const form = h('form', { class: 'form-grid', id: 'publish-form', testid: 'publish-form' },
    key ? field('Routing key', key) : field('Routing key', h('code', { class: 'fixed' }, routingKey), 'published through the default exchange'),
    field('Delivery mode', mode), field('Headers', headers.element), field('Payload', payload),
    h('div', { class: 'form-actions' }, submit, result.element));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    result.clear();
    ctx.action(async () => {
      const body = {
        properties: { delivery_mode: Number(mode.value), headers: headers.value() },
        routing_key: key ? key.value : routingKey,
        payload: payload.value,
        payload_encoding: 'string',
      };
      const answer = await post(apiPath('exchanges', vhost, exchange, 'publish'), body);
      const routed = Boolean(answer && answer.routed);
      result.element.dataset.routed = String(routed);
      result.show(routed ? 'Message published.' : 'Message published, but not routed.', routed ? 'ok' : 'warn');
    }, submit);
  });

  return form;
}
