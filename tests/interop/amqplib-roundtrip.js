#!/usr/bin/env node
// Interop round trip: drives the broker with amqplib (Node), a client independent of the
// .NET RabbitMQ.Client the other end-to-end tests use.
//
// Usage: node tests/interop/amqplib-roundtrip.js amqp://guest:guest@127.0.0.1:5672/
//
// Prints one JSON summary line on stdout. Exit code 0 only if every check passed; 1 on a failed
// check (the summary names the step and the reason); 2 on a usage or setup error (e.g. amqplib
// not installed: run `npm ci --prefix tests/interop`); 3 on the overall 30 s timeout.
'use strict';

const OVERALL_TIMEOUT_MS = 30_000;
const STEP_TIMEOUT_MS = 10_000;
const MESSAGE_COUNT = 100;
const PREFETCH = 10;

const started = Date.now();
const checks = [];
let step = 'startup';
let conn = null;
let finished = false;

function emit(summary, code) {
  if (finished) return;
  finished = true;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  // Do not wait for sockets or timers: the verdict is in.
  process.exit(code);
}

function fail(err, code = 1) {
  const message = err && err.message ? err.message : String(err);
  process.stderr.write(`amqplib interop FAILED at step '${step}': ${message}\n`);
  if (err && err.stack) process.stderr.write(`${err.stack}\n`);
  emit(
    {
      ok: false,
      step,
      error: message,
      code: err && err.code !== undefined ? err.code : undefined,
      passedChecks: checks,
      elapsedMs: Date.now() - started,
    },
    code,
  );
}

const url = process.argv[2];
if (!url || !/^amqps?:\/\//.test(url)) {
  process.stderr.write('usage: node amqplib-roundtrip.js <amqp-url>\n');
  emit({ ok: false, step, error: 'missing or invalid AMQP URL argument' }, 2);
}

let amqp;
try {
  amqp = require('amqplib');
} catch (e) {
  fail(new Error(`cannot load amqplib (${e.message}); run \`npm ci --prefix tests/interop\``), 2);
}

const overall = setTimeout(() => fail(new Error(`overall timeout of ${OVERALL_TIMEOUT_MS} ms exceeded`), 3), OVERALL_TIMEOUT_MS);
overall.unref();
process.on('unhandledRejection', (e) => fail(new Error(`unhandled rejection: ${e && e.stack ? e.stack : e}`)));
process.on('uncaughtException', (e) => fail(e));

/** Races a promise against a bound so no single wait can hang the run. */
function within(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

function eq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`check failed: ${what}: expected ${e}, got ${a}`);
}

function pass(name) {
  checks.push(name);
}

/** A deferred whose promise is settled from event handlers. */
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const queueName = `interop.amqplib.q.${suffix}`;
const exchangeName = `interop.amqplib.topic.${suffix}`;
const TS = 1_700_000_000; // a fixed timestamp, seconds

function headersFor(i) {
  return {
    'x-string': `value-${i}`,
    'x-unicode': 'grüße ✓',
    'x-byte': 7, // amqplib encodes small integers as 'b'
    'x-short': 1000, // 's'
    'x-int': 100_000 + i, // 'I'
    'x-long': 2 ** 40 + i, // 'l'
    'x-double': i + 0.5, // 'd'
    'x-bool-true': true,
    'x-bool-false': false,
    'x-void': null,
    'x-bytes': Buffer.from([0, 1, 2, 254, 255]),
    'x-table': { nested: 'yes', depth: 2, deeper: { n: -5 } },
    'x-array': ['a', 1, true, { k: 'v' }],
    'x-timestamp': { '!': 'timestamp', value: TS + i },
    'x-decimal': { '!': 'decimal', value: { places: 2, digits: 12345 } },
    'x-float': { '!': 'float', value: 1.5 },
  };
}

/** What amqplib decodes the headers of message i back to, in JSON form. */
function expectedHeadersJson(i) {
  const h = headersFor(i);
  return {
    ...h,
    'x-bytes': { type: 'Buffer', data: [0, 1, 2, 254, 255] },
    'x-float': 1.5, // decoded as a plain number
  };
}

function sortedJson(v) {
  if (Buffer.isBuffer(v)) return { data: [...v], type: 'Buffer' };
  if (Array.isArray(v)) return v.map(sortedJson);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = sortedJson(v[k]);
    return out;
  }
  return v;
}

function checkMessage(msg, i, what) {
  const body = JSON.parse(msg.content.toString('utf8'));
  eq(body, { seq: i, text: `message ${i}` }, `${what}: body of message ${i}`);
  const p = msg.properties;
  eq(p.contentType, 'application/json', `${what}: contentType of message ${i}`);
  eq(p.contentEncoding, 'utf-8', `${what}: contentEncoding of message ${i}`);
  eq(p.correlationId, `corr-${i}`, `${what}: correlationId of message ${i}`);
  eq(p.messageId, `msg-${i}`, `${what}: messageId of message ${i}`);
  eq(p.deliveryMode, 2, `${what}: deliveryMode (persistent) of message ${i}`);
  eq(p.priority, 3, `${what}: priority of message ${i}`);
  eq(p.replyTo, 'interop.reply', `${what}: replyTo of message ${i}`);
  eq(p.type, 'interop.test', `${what}: type of message ${i}`);
  eq(p.appId, 'amqplib-roundtrip', `${what}: appId of message ${i}`);
  eq(p.timestamp, TS + i, `${what}: timestamp of message ${i}`);
  eq(sortedJson(p.headers), sortedJson(expectedHeadersJson(i)), `${what}: headers of message ${i}`);
  eq(msg.fields.routingKey, `interop.msg.${i}`, `${what}: routing key of message ${i}`);
  eq(msg.fields.exchange, exchangeName, `${what}: exchange of message ${i}`);
}

function publishOne(ch, i) {
  const body = Buffer.from(JSON.stringify({ seq: i, text: `message ${i}` }), 'utf8');
  const d = deferred();
  ch.publish(
    exchangeName,
    `interop.msg.${i}`,
    body,
    {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: headersFor(i),
      correlationId: `corr-${i}`,
      messageId: `msg-${i}`,
      persistent: true,
      priority: 3,
      replyTo: 'interop.reply',
      type: 'interop.test',
      appId: 'amqplib-roundtrip',
      timestamp: TS + i,
    },
    (err) => (err ? d.reject(new Error(`message ${i} was nacked by the broker`)) : d.resolve()),
  );
  return d.promise;
}

async function main() {
  const summary = { ok: false, url: url.replace(/\/\/[^@]*@/, '//***@') };

  step = 'connect';
  conn = await within(amqp.connect(url, { timeout: 5000 }), 'connection open');
  const connErrors = [];
  let connClosed = false;
  conn.on('error', (e) => connErrors.push(e.message));
  conn.on('close', () => {
    connClosed = true;
  });
  const sp = conn.connection.serverProperties || {};
  summary.server = { product: sp.product, version: sp.version };
  pass('connect');

  step = 'confirm channel';
  const pub = await within(conn.createConfirmChannel(), 'confirm channel open');
  pub.on('error', (e) => connErrors.push(`publish channel: ${e.message}`));
  pass('confirm channel');

  step = 'declare topology';
  const q = await within(pub.assertQueue(queueName, { durable: true, autoDelete: false }), 'queue.declare-ok');
  eq(q.queue, queueName, 'declared queue name');
  eq(q.messageCount, 0, 'new queue message count');
  eq(q.consumerCount, 0, 'new queue consumer count');
  const x = await within(pub.assertExchange(exchangeName, 'topic', { durable: false }), 'exchange.declare-ok');
  eq(x.exchange, exchangeName, 'declared exchange name');
  await within(pub.bindQueue(queueName, exchangeName, 'interop.#'), 'queue.bind-ok');
  pass('declare queue, topic exchange, bind');

  step = 'publish with confirms';
  const confirms = [];
  for (let i = 0; i < MESSAGE_COUNT; i++) confirms.push(publishOne(pub, i));
  // A message the binding must not route (no queue matches): it is confirmed and dropped.
  const unroutable = deferred();
  pub.publish(exchangeName, 'other.key', Buffer.from('dropped'), {}, (err) =>
    err ? unroutable.reject(new Error('unroutable message was nacked')) : unroutable.resolve(),
  );
  confirms.push(unroutable.promise);
  await within(Promise.all(confirms), `${MESSAGE_COUNT + 1} publisher confirms`);
  await within(pub.waitForConfirms(), 'waitForConfirms');
  summary.published = MESSAGE_COUNT;
  summary.confirmed = confirms.length;
  pass(`publish ${MESSAGE_COUNT} + 1 unroutable, all confirmed`);

  step = 'queue depth after confirms';
  const depth = await within(pub.checkQueue(queueName), 'passive queue.declare-ok');
  eq(depth.messageCount, MESSAGE_COUNT, 'message count after confirmed publishes');
  pass('queue depth');

  step = 'consume with prefetch';
  const cons = await within(conn.createChannel(), 'consumer channel open');
  cons.on('error', (e) => connErrors.push(`consumer channel: ${e.message}`));
  await within(cons.prefetch(PREFETCH), 'basic.qos-ok');
  const received = [];
  let held = [];
  let unacked = 0;
  let maxOutstanding = 0;
  let batches = 0;
  let consumeError = null;
  const allReceived = deferred();
  let draining = Promise.resolve();
  const onMessage = (msg) => {
    if (msg === null) {
      allReceived.reject(new Error('consumer was cancelled by the broker'));
      return;
    }
    try {
      check(!msg.fields.redelivered, `first delivery of message ${received.length} is not flagged redelivered`);
      checkMessage(msg, received.length, 'consume');
    } catch (e) {
      consumeError = consumeError || e;
      allReceived.reject(e);
      return;
    }
    received.push(msg);
    held.push(msg);
    unacked++;
    maxOutstanding = Math.max(maxOutstanding, unacked);
    if (held.length === PREFETCH) {
      // The window is full: nothing more may arrive until we ack. Wait a little to let a
      // misbehaving broker overshoot, then ack the batch (alternately one by one and with multiple).
      const batch = held;
      held = [];
      const n = batches++;
      draining = draining.then(async () => {
        await sleep(n === 0 ? 300 : 25);
        if (maxOutstanding > PREFETCH) {
          allReceived.reject(new Error(`prefetch ${PREFETCH} not honoured: ${maxOutstanding} unacked deliveries outstanding`));
          return;
        }
        unacked -= batch.length;
        if (n % 2 === 0) {
          for (const m of batch) cons.ack(m);
        } else {
          cons.ack(batch[batch.length - 1], true);
        }
        if (received.length === MESSAGE_COUNT) allReceived.resolve();
      });
    }
  };
  const ok = await within(cons.consume(queueName, onMessage, { noAck: false }), 'basic.consume-ok');
  check(typeof ok.consumerTag === 'string' && ok.consumerTag.length > 0, 'server-generated consumer tag');
  await within(allReceived.promise, `${MESSAGE_COUNT} deliveries`, 20_000);
  if (consumeError) throw consumeError;
  check(maxOutstanding <= PREFETCH, `at most ${PREFETCH} unacked deliveries outstanding (saw ${maxOutstanding})`);
  eq(received.length, MESSAGE_COUNT, 'deliveries received');
  await within(draining, 'final acks');
  const cancelOk = await within(cons.cancel(ok.consumerTag), 'basic.cancel-ok');
  eq(cancelOk.consumerTag, ok.consumerTag, 'cancel-ok consumer tag');
  summary.consumed = received.length;
  summary.maxUnacked = maxOutstanding;
  pass(`consume ${MESSAGE_COUNT} in order with prefetch ${PREFETCH}, properties and headers intact, acked`);

  step = 'queue empty after acks';
  // Acks are asynchronous (no reply); a round trip on the same channel orders after them.
  const afterAcks = await within(cons.checkQueue(queueName), 'passive queue.declare-ok');
  eq(afterAcks.messageCount, 0, 'message count after acking everything');
  eq(afterAcks.consumerCount, 0, 'consumer count after cancel');
  pass('queue drained');

  step = 'basic.get';
  await within(Promise.all([publishOne(pub, 0), publishOne(pub, 1)]), 'confirms for basic.get messages');
  const g1 = await within(cons.get(queueName, { noAck: false }), 'basic.get-ok (1)');
  check(g1 !== false, 'first basic.get returns a message');
  checkMessage(g1, 0, 'get');
  eq(g1.fields.messageCount, 1, 'basic.get-ok message-count (messages remaining)');
  cons.ack(g1);
  const g2 = await within(cons.get(queueName, { noAck: true }), 'basic.get-ok (2)');
  check(g2 !== false, 'second basic.get returns a message');
  checkMessage(g2, 1, 'get');
  eq(g2.fields.messageCount, 0, 'basic.get-ok message-count on last message');
  const g3 = await within(cons.get(queueName), 'basic.get-empty');
  eq(g3, false, 'basic.get on an empty queue (get-empty)');
  pass('basic.get, get-ok message-count, get-empty');

  step = 'large and empty bodies';
  // 300 KB spans several body frames whatever frame-max was negotiated; an empty body has no body frame.
  const large = Buffer.alloc(300 * 1024);
  for (let i = 0; i < large.length; i++) large[i] = (i * 31 + 7) & 0xff;
  const sizes = deferred();
  let pendingSizes = 2;
  const sizeDone = (err) => {
    if (err) sizes.reject(new Error('large/empty message was nacked'));
    else if (--pendingSizes === 0) sizes.resolve();
  };
  pub.sendToQueue(queueName, large, { contentType: 'application/octet-stream' }, sizeDone);
  pub.sendToQueue(queueName, Buffer.alloc(0), { contentType: 'text/plain', headers: { empty: true } }, sizeDone);
  await within(sizes.promise, 'confirms for large and empty messages');
  const big = await within(cons.get(queueName, { noAck: true }), 'basic.get-ok (large)');
  check(big !== false, 'large message is delivered');
  eq(big.content.length, large.length, 'large body length');
  check(big.content.equals(large), 'large body bytes intact');
  eq(big.fields.exchange, '', 'default exchange on sendToQueue');
  eq(big.fields.routingKey, queueName, 'routing key on sendToQueue');
  const empty = await within(cons.get(queueName, { noAck: true }), 'basic.get-ok (empty)');
  check(empty !== false, 'empty message is delivered');
  eq(empty.content.length, 0, 'empty body length');
  eq(empty.properties.headers, { empty: true }, 'headers of the empty message');
  summary.frameMax = conn.connection.frameMax;
  pass('300 KB multi-frame body and empty body round trip');

  step = 'nack with requeue';
  await within(publishOne(pub, 42), 'confirm for nack message');
  const n1 = await within(cons.get(queueName, { noAck: false }), 'basic.get-ok before nack');
  check(n1 !== false, 'basic.get returns the message to nack');
  check(!n1.fields.redelivered, 'first delivery is not redelivered');
  cons.nack(n1, false, true);
  const n2 = await within(cons.get(queueName, { noAck: false }), 'basic.get-ok after nack');
  check(n2 !== false, 'nacked message was requeued');
  checkMessage(n2, 42, 'requeued');
  eq(n2.fields.redelivered, true, 'requeued message has redelivered=true');
  // And once more through a consumer: reject (requeue) then ack.
  cons.reject(n2, true);
  const redelivered = deferred();
  const rc = await within(
    cons.consume(queueName, (m) => (m ? redelivered.resolve(m) : redelivered.reject(new Error('consumer cancelled')))),
    'basic.consume-ok (redelivery)',
  );
  const n3 = await within(redelivered.promise, 'redelivery to a consumer');
  checkMessage(n3, 42, 'redelivered to consumer');
  eq(n3.fields.redelivered, true, 'consumer redelivery has redelivered=true');
  cons.ack(n3);
  await within(cons.cancel(rc.consumerTag), 'basic.cancel-ok (redelivery)');
  const afterNack = await within(cons.checkQueue(queueName), 'passive queue.declare-ok');
  eq(afterNack.messageCount, 0, 'queue empty after acking the redelivered message');
  pass('nack/reject with requeue sets redelivered');

  step = 'channel error (404)';
  const bad = await within(conn.createChannel(), 'channel open for error test');
  const badClosed = deferred();
  let badError = null;
  bad.on('error', (e) => {
    badError = e;
  });
  bad.on('close', () => badClosed.resolve());
  let thrown = null;
  try {
    await within(bad.checkQueue(`interop.amqplib.missing.${suffix}`), 'passive declare of a missing queue to fail');
  } catch (e) {
    thrown = e;
  }
  check(thrown !== null, 'passive declare of a missing queue is refused');
  check(!/timed out/.test(thrown.message), `passive declare is refused, not ignored (${thrown.message})`);
  eq(thrown.code, 404, `reply code of the channel close (${thrown.message})`);
  check(/NOT_FOUND/.test(thrown.message), `reply text mentions NOT_FOUND (${thrown.message})`);
  await within(badClosed.promise, 'channel close after the 404');
  check(badError === null || badError.code === 404, 'channel error event carries 404');
  await sleep(50);
  check(!connClosed, 'connection survives a channel error');
  eq(connErrors, [], 'no connection or other-channel errors');
  const fresh = await within(conn.createChannel(), 'new channel after the channel error');
  const stillThere = await within(fresh.checkQueue(queueName), 'passive declare on the new channel');
  eq(stillThere.queue, queueName, 'queue visible from the new channel');
  // The untouched channels keep working too.
  await within(cons.checkQueue(queueName), 'passive declare on an older channel');
  summary.channelError = { code: thrown.code, message: thrown.message };
  pass('404 closes only the channel; connection and new channel work');

  step = 'cleanup';
  const del = await within(fresh.deleteQueue(queueName), 'queue.delete-ok');
  eq(del.messageCount, 0, 'queue.delete-ok message count');
  await within(fresh.deleteExchange(exchangeName), 'exchange.delete-ok');
  await within(fresh.close(), 'channel.close-ok (fresh)');
  await within(cons.close(), 'channel.close-ok (consumer)');
  await within(pub.close(), 'channel.close-ok (publisher)');
  pass('delete queue and exchange, close channels');

  step = 'close connection';
  await within(conn.close(), 'connection.close-ok');
  eq(connErrors, [], 'no connection errors during the run');
  pass('clean connection close');

  summary.ok = true;
  summary.checks = checks;
  summary.elapsedMs = Date.now() - started;
  emit(summary, 0);
}

main().catch((e) => fail(e));
