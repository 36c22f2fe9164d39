// Tiny client for the management HTTP API: Basic auth from sessionStorage,
// JSON in and out, and every failure turned into an ApiError.

const AUTH_KEY = 'broker-ui.auth';
const USER_KEY = 'broker-ui.user';

let unauthorizedHandler = () => {};

export class ApiError extends Error {
  constructor(status, error, reason) {
    super(reason || error || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.error = error || '';
    this.reason = reason || '';
    this.loginFailed = false; // set when a 401 means the credentials are wrong
  }
}

/** Called with the error's reason when a 401 means the login itself failed. */
export function onUnauthorized(handler) { unauthorizedHandler = handler; }

function base64Utf8(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function setCredentials(user, password) {
  sessionStorage.setItem(AUTH_KEY, base64Utf8(`${user}:${password}`));
  sessionStorage.setItem(USER_KEY, user);
}

export function clearCredentials() {
  sessionStorage.removeItem(AUTH_KEY);
  sessionStorage.removeItem(USER_KEY);
}

export function hasCredentials() { return sessionStorage.getItem(AUTH_KEY) !== null; }
export function currentUser() { return sessionStorage.getItem(USER_KEY) || ''; }

/** '/api/' + each segment percent-encoded: apiPath('queues', '/', 'q') -> /api/queues/%2F/q */
export function apiPath(...segments) {
  return '/api/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
}

const WHOAMI = '/api/whoami';

async function credentialsWork(authorization) {
  if (!authorization) return false;
  try {
    const r = await fetch(WHOAMI, {
      headers: { Authorization: authorization, 'X-Requested-With': 'XMLHttpRequest' }, credentials: 'omit', cache: 'no-store',
    });
    return r.ok;
  } catch {
    return true; // cannot tell; keep the session and show the error instead
  }
}

/**
 * request('GET', apiPath('overview')) -> parsed JSON (or null for an empty body).
 * Throws ApiError; a 401 from failing credentials also calls the onUnauthorized handler.
 */
export async function request(method, path, body, extraHeaders = {}) {
  // X-Requested-With: the node then leaves out WWW-Authenticate, so no browser prompt.
  const headers = { 'X-Requested-With': 'XMLHttpRequest', ...extraHeaders };
  const auth = sessionStorage.getItem(AUTH_KEY);
  if (auth) headers.Authorization = `Basic ${auth}`;
  const init = { method, headers, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network_error', `Cannot reach the server (${e.message})`);
  }

  const text = await response.text().catch(() => '');
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!response.ok) {
    const error = data && typeof data === 'object' ? data.error : '';
    const reason = data && typeof data === 'object' ? data.reason : (typeof data === 'string' ? data : '');
    const err = new ApiError(response.status, error || response.statusText, reason || response.statusText);
    // A 401 also answers a user who lacks a tag (e.g. "Not administrator user"):
    // only go back to the login form when the credentials themselves fail.
    if (response.status === 401 && (path === WHOAMI || !(await credentialsWork(headers.Authorization)))) {
      err.loginFailed = true;
      unauthorizedHandler(err.reason || err.error || 'Not authorised');
    }
    throw err;
  }
  return data;
}

export const get = (path) => request('GET', path);
export const put = (path, body) => request('PUT', path, body ?? {});
export const post = (path, body) => request('POST', path, body ?? {});
export const del = (path, headers) => request('DELETE', path, undefined, headers);
