// Admin: users, virtual hosts, permissions and (read-only) policies.
import { get, put, del, apiPath } from '../api.js';
import { h, fmtCount, fmtArgs, tagList } from '../util.js';
import { createTable } from '../table.js';
import { field, fillSelect, panel } from '../forms.js';

function deleteButton(testid, label, onClick) {
  const b = h('button', { type: 'button', class: 'btn small danger', testid }, label);
  b.addEventListener('click', () => onClick(b));
  return b;
}

function submitButton(id, label) {
  return h('button', { type: 'submit', class: 'btn primary', id, testid: id }, label);
}

export default function adminPage(root, _params, ctx) {
  ctx.setTitle('Admin');
  const text = (id, attrs = {}) => h('input', { type: 'text', id, testid: id, autocomplete: 'off', ...attrs });

  // --- users
  const users = createTable({
    id: 'users-table',
    key: (u) => u.name,
    rowData: (u) => ({ user: u.name }),
    empty: 'No users',
    columns: [
      { field: 'name', label: 'Name' },
      { field: 'tags', label: 'Tags', value: (u) => tagList(u.tags).join(', ') },
      {
        field: 'actions', label: '', value: (u) => u.name,
        format: (name) => deleteButton('user-delete', 'Delete', (b) => ctx.action(async () => {
          await del(apiPath('users', name));
          ctx.flash(`User ${name} deleted`);
        }, b)),
      },
    ],
  });
  const userName = text('user-name', { required: true });
  const userPassword = h('input', { type: 'password', id: 'user-password', testid: 'user-password', autocomplete: 'new-password' });
  const userTags = text('user-tags', { placeholder: 'administrator, monitoring, management' });
  const userSubmit = submitButton('user-add-submit', 'Add user');
  const userForm = h('form', { class: 'form-grid', id: 'user-add-form', testid: 'user-add-form' },
    field('Name', userName), field('Password', userPassword),
    field('Tags', userTags, 'comma separated'), h('div', { class: 'form-actions' }, userSubmit));
  userForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = userName.value.trim();
    const tags = tagList(userTags.value).join(',');
    ctx.action(async () => {
      await put(apiPath('users', name), { password: userPassword.value, tags });
      ctx.flash(`User ${name} saved`);
      userName.value = ''; userPassword.value = ''; userTags.value = '';
    }, userSubmit);
  });

  // --- virtual hosts
  const vhosts = createTable({
    id: 'vhosts-table',
    key: (v) => v.name,
    rowData: (v) => ({ vhost: v.name }),
    empty: 'No virtual hosts',
    columns: [
      { field: 'name', label: 'Name' },
      { field: 'messages', label: 'Messages', num: true, format: fmtCount },
      {
        field: 'actions', label: '', value: (v) => v.name,
        format: (name) => deleteButton('vhost-delete', 'Delete', (b) => ctx.action(async () => {
          await del(apiPath('vhosts', name));
          ctx.flash(`Virtual host ${name} deleted`);
        }, b)),
      },
    ],
  });
  const vhostName = text('vhost-name', { required: true });
  const vhostSubmit = submitButton('vhost-add-submit', 'Add virtual host');
  const vhostForm = h('form', { class: 'form-grid', id: 'vhost-add-form', testid: 'vhost-add-form' },
    field('Name', vhostName), h('div', { class: 'form-actions' }, vhostSubmit));
  vhostForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = vhostName.value.trim();
    ctx.action(async () => {
      await put(apiPath('vhosts', name), {});
      ctx.flash(`Virtual host ${name} added`);
      vhostName.value = '';
    }, vhostSubmit);
  });

  // --- permissions
  const permissions = createTable({
    id: 'permissions-table',
    key: (p) => `${p.vhost}/${p.user}`,
    rowData: (p) => ({ permission: `${p.vhost}/${p.user}` }),
    empty: 'No permissions',
    columns: [
      { field: 'user', label: 'User' },
      { field: 'vhost', label: 'Virtual host' },
      { field: 'configure', label: 'Configure', format: (v) => h('code', {}, v ?? '') },
      { field: 'write', label: 'Write', format: (v) => h('code', {}, v ?? '') },
      { field: 'read', label: 'Read', format: (v) => h('code', {}, v ?? '') },
      {
        field: 'actions', label: '', value: (p) => [p.vhost, p.user],
        format: ([vhost, user]) => deleteButton('permission-clear', 'Clear', (b) => ctx.action(async () => {
          await del(apiPath('permissions', vhost, user));
          ctx.flash(`Permissions of ${user} on ${vhost} cleared`);
        }, b)),
      },
    ],
  });
  const permUser = h('select', { id: 'permission-user', testid: 'permission-user' });
  const permVhost = h('select', { id: 'permission-vhost', testid: 'permission-vhost' });
  const permConfigure = text('permission-configure', { value: '.*' });
  const permWrite = text('permission-write', { value: '.*' });
  const permRead = text('permission-read', { value: '.*' });
  const permSubmit = submitButton('permission-submit', 'Set permission');
  const permForm = h('form', { class: 'form-grid', id: 'permission-form', testid: 'permission-form' },
    field('User', permUser), field('Virtual host', permVhost),
    field('Configure regexp', permConfigure), field('Write regexp', permWrite), field('Read regexp', permRead),
    h('div', { class: 'form-actions' }, permSubmit));
  permForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const user = permUser.value;
    const vhost = permVhost.value;
    ctx.action(async () => {
      await put(apiPath('permissions', vhost, user),
        { configure: permConfigure.value, write: permWrite.value, read: permRead.value });
      ctx.flash(`Permissions of ${user} on ${vhost} set`);
    }, permSubmit);
  });

  // --- policies (read only)
  const policies = createTable({
    id: 'policies-table',
    key: (p) => `${p.vhost}/${p.name}`,
    rowData: (p) => ({ policy: `${p.vhost}/${p.name}` }),
    empty: 'No policies',
    columns: [
      { field: 'vhost', label: 'Virtual host' },
      { field: 'name', label: 'Name' },
      { field: 'pattern', label: 'Pattern', format: (v) => h('code', {}, v ?? '') },
      { field: 'apply-to', label: 'Apply to' },
      { field: 'definition', label: 'Definition', format: fmtArgs },
      { field: 'priority', label: 'Priority', num: true },
    ],
  });

  root.append(
    h('h1', {}, 'Admin'),
    h('div', { class: 'columns' },
      panel('Users', users.element, h('h3', {}, 'Add or update a user'), userForm),
      panel('Virtual hosts', vhosts.element, h('h3', {}, 'Add a virtual host'), vhostForm)),
    panel('Permissions', permissions.element, h('h3', {}, 'Set permission'), permForm),
    panel('Policies', policies.element));

  async function refresh() {
    const [u, v, p, pol] = await Promise.all([
      get(apiPath('users')), get(apiPath('vhosts')), get(apiPath('permissions')), get(apiPath('policies')),
    ]);
    const userList = Array.isArray(u) ? u : [];
    const vhostList = Array.isArray(v) ? v : [];
    users.update(userList);
    vhosts.update(vhostList);
    permissions.update(Array.isArray(p) ? p : []);
    policies.update(Array.isArray(pol) ? pol : []);
    fillSelect(permUser, userList.map((x) => x.name), ctx.me && ctx.me.name);
    fillSelect(permVhost, vhostList.map((x) => x.name), '/');
  }
  return { refresh };
}
