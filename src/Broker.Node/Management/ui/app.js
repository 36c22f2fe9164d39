// App shell: login, hash routing, the 5 s refresh loop and the error banner.
import * as api from './api.js';
import { h, tagList } from './util.js';
import overview from './pages/overview.js';
import connections from './pages/connections.js';
import channels from './pages/channels.js';
import exchanges from './pages/exchanges.js';
import exchange from './pages/exchange.js';
import queues from './pages/queues.js';
import queue from './pages/queue.js';
import nodes from './pages/nodes.js';
import admin from './pages/admin.js';

const REFRESH_MS = 5000;

// [first path segment, number of parameters, page, nav tab]
const ROUTES = [
  ['', 0, overview, 'overview'],
  ['connections', 0, connections, 'connections'],
  ['channels', 0, channels, 'channels'],
  ['exchanges', 0, exchanges, 'exchanges'],
  ['exchanges', 2, exchange, 'exchanges'],
  ['queues', 0, queues, 'queues'],
  ['queues', 2, queue, 'queues'],
  ['nodes', 0, nodes, 'nodes'],
  ['admin', 0, admin, 'admin'],
];

const $ = (id) => document.getElementById(id);
const main = $('main');

let me = null;           // GET /api/whoami result once logged in
let current = null;      // the mounted page: { refresh, destroy }
let timer = null;
let running = false;
let again = false;
let errorSource = null;  // 'refresh' | 'action'
let flashTimer = null;

// ---------------------------------------------------------------- errors

function showError(err, source = 'action') {
  if (err instanceof api.ApiError && err.loginFailed) return; // the login form shows it
  let text = err instanceof api.ApiError
    ? [err.error, err.reason].filter((x, i, a) => x && a.indexOf(x) === i).join(': ')
    : String(err && err.message ? err.message : err);
  if (err instanceof api.ApiError && err.status) text = `${text} (HTTP ${err.status})`;
  $('error-text').textContent = text;
  $('error-banner').hidden = false;
  errorSource = source;
}

function clearError(source) {
  if (source && errorSource !== source) return;
  $('error-banner').hidden = true;
  $('error-text').textContent = '';
  errorSource = null;
}

function flash(text) {
  const el = $('flash');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

// ---------------------------------------------------------------- refresh loop

function editing() {
  const a = document.activeElement;
  return Boolean(a && a.matches('input, select, textarea') && a.closest('form'));
}

function setStatus(text) { $('refresh-status').textContent = text; }

async function tick(force = false) {
  if (running) { again = again || force; return; }
  clearTimeout(timer);
  const page = current;
  if (!page) return;
  running = true;
  try {
    if (force || (!editing() && !document.hidden)) {
      await page.refresh();
      if (page === current) {
        clearError('refresh');
        setStatus(`Updated ${new Date().toLocaleTimeString()}`);
      }
    } else if (editing()) {
      setStatus('Refresh paused while editing');
    }
  } catch (err) {
    if (page === current) {
      showError(err, 'refresh');
      setStatus(`Update failed ${new Date().toLocaleTimeString()}`);
    }
  } finally {
    running = false;
  }
  if (!current) return;
  if (again || page !== current) { again = false; tick(true); return; }
  timer = setTimeout(() => tick(false), REFRESH_MS);
}

/** Runs a user action: errors go to the banner, success refreshes the page. */
async function action(fn, button) {
  if (button) button.disabled = true;
  try {
    const result = await fn();
    clearError('action');
    tick(true);
    return result;
  } catch (err) {
    showError(err, 'action');
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// ---------------------------------------------------------------- routing

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const parts = raw === '' ? [] : raw.split('/');
  if (parts.length === 2 && parts[1] === '') parts.pop(); // '#/queues/' is '#/queues'
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    return null;
  }
}

function findRoute(parts) {
  if (!parts) return null;
  const head = parts[0] || '';
  const params = parts.slice(1);
  for (const [name, count, page, nav] of ROUTES) {
    if (name === head && count === params.length) return { page, nav, params };
  }
  return null;
}

function unmount() {
  clearTimeout(timer);
  renderedHash = null;
  if (current && current.destroy) current.destroy();
  current = null;
}

let renderedHash = null;

function render() {
  if (!me) return;
  if (current && location.hash === renderedHash) return; // already showing it
  unmount();
  renderedHash = location.hash;
  clearError();
  main.replaceChildren();
  const found = findRoute(parseHash());
  for (const a of document.querySelectorAll('#nav a')) {
    const active = found && a.dataset.nav === found.nav;
    a.classList.toggle('active', Boolean(active));
    if (active) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (!found) {
    document.title = 'Not found · Broker';
    main.append(h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview')));
    return;
  }
  if (found.nav === 'admin' && !isAdmin()) {
    document.title = 'Admin · Broker';
    main.append(h('h1', {}, 'Admin'), h('p', { class: 'muted' }, 'This page needs the administrator tag.'));
    return;
  }
  const ctx = {
    me, isAdmin: isAdmin(), action, flash, showError,
    refresh: () => tick(true),
    // Render at once, so nothing refreshes a page whose object was just deleted.
    navigate: (hash) => { location.hash = hash; render(); },
    setTitle: (title) => { document.title = `${title} · Broker`; },
  };
  current = found.page(main, found.params, ctx);
  tick(true);
}

// ---------------------------------------------------------------- login

function isAdmin() { return Boolean(me && tagList(me.tags).includes('administrator')); }

function showLogin(reason) {
  unmount();
  me = null;
  api.clearCredentials();
  clearError();
  $('topbar').hidden = true;
  main.hidden = true;
  main.replaceChildren();
  $('login').hidden = false;
  const error = $('login-error');
  error.textContent = reason || '';
  error.hidden = !reason;
  $('login-password').value = '';
  ($('login-user').value ? $('login-password') : $('login-user')).focus();
  document.title = 'Log in · Broker';
}

async function start() {
  try {
    me = await api.get(api.apiPath('whoami'));
  } catch (err) {
    if (!err.loginFailed) showLogin(err.reason || err.message);
    return; // a 401 already brought the login form back with its reason
  }
  $('login').hidden = true;
  $('topbar').hidden = false;
  main.hidden = false;
  $('whoami').textContent = me.name || api.currentUser();
  $('nav-admin').hidden = !isAdmin();
  render();
}

api.onUnauthorized((reason) => showLogin(reason));

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const user = $('login-user').value.trim();
  api.setCredentials(user, $('login-password').value);
  $('login-error').hidden = true;
  start();
});

$('logout').addEventListener('click', () => {
  showLogin('');
  location.hash = '#/';
});

$('error-dismiss').addEventListener('click', () => clearError());

window.addEventListener('hashchange', render);
document.addEventListener('visibilitychange', () => { if (!document.hidden && current) tick(false); });

// Nothing on this page should ever reach the console as an uncaught error.
window.addEventListener('unhandledrejection', (e) => { e.preventDefault(); showError(e.reason); });

if (api.hasCredentials()) {
  $('login-user').value = api.currentUser();
  start();
} else {
  showLogin('');
}
