// creds.js - credentials: everyone sees the list (GET answers names, never values);
// admins add, rename, replace the value and delete.  Secret fields are password
// inputs, emptied as soon as the request is sent, and farm never returns a value,
// so a secret typed here is nowhere in the page afterwards.
import { h, append, clear, when, errorBox } from './dom.js';
import { api, enc } from './api.js';
import { platforms, forget } from './platforms.js';
import { current } from './session.js';

let seq = 0;
function uid(p) { return p + '-' + (++seq); }

// Inputs for a type's value fields; returns [elements, read()] where read() gives the
// value object (empty optional fields left out; a boolean field is a checkbox, sent
// only when ticked: unticked is its default, false).
function valueInputs(fields, idp) {
  const rows = [];
  const inputs = [];
  for (const f of fields) {
    const id = uid(idp + '-' + f.name);
    if (f.boolean) {
      const box = h('input', { id, name: f.name, type: 'checkbox', checked: f.default === true });
      inputs.push([f, box]);
      rows.push(h('div', { class: 'field' }, h('label', { for: id }, box, ' ', f.name)));
      continue;
    }
    const input = h('input', {
      id, name: f.name, required: f.required,
      type: f.secret ? 'password' : f.url ? 'url' : 'text',
      autocomplete: f.secret ? 'new-password' : 'off', spellcheck: false,
      'data-secret': f.secret ? 'true' : null,
      placeholder: f.default ? String(f.default) : null,
    });
    inputs.push([f, input]);
    rows.push(h('div', { class: 'field' },
      h('label', { for: id }, f.name, f.required ? '' : ' (optional)', f.secret ? ' — secret' : ''), input));
  }
  const read = () => {
    const v = {};
    for (const [f, i] of inputs) {
      if (f.boolean) { if (i.checked) v[f.name] = true; } else if (i.value !== '') v[f.name] = i.value;
    }
    return v;
  };
  const wipe = () => { for (const [f, i] of inputs) if (!f.boolean) i.value = ''; };
  return [rows, read, wipe];
}

export function credsView(main) {
  const s = current();
  const admin = !!(s && s.admin);
  const list = h('div', { id: 'creds' });
  const msg = h('div', { id: 'creds-message', 'aria-live': 'polite' });
  const addBox = h('section', { id: 'cred-add', 'aria-labelledby': 'cred-add-h' });
  let gone = false;
  let types = [];

  main.append(h('h1', null, 'Credentials'),
    h('p', { class: 'muted' }, admin ? 'Values are encrypted at rest and never shown again once saved.'
      : 'Only admins can add or change credentials.'),
    msg, list, admin ? addBox : null);

  function say(node) { clear(msg).append(node); }

  async function refresh() {
    let creds;
    try {
      creds = await api('GET', '/integrations/credentials');
    } catch (e) { if (!gone) clear(list).append(errorBox(e.message)); return; }
    if (gone) return;
    if (!creds.length) { clear(list).append(h('p', { class: 'muted' }, 'No credentials yet.')); return; }
    const body = h('tbody');
    for (const c of creds) body.append(row(c));
    clear(list).append(h('table', { class: 'table' },
      h('caption', { class: 'sr-only' }, 'Credentials'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Platform'),
        h('th', { scope: 'col' }, 'Updated'), admin ? h('th', { scope: 'col' }, 'Actions') : null)),
      body));
  }

  function row(c) {
    const tr = h('tr', { 'data-id': c.id });
    const nameCell = h('td', null, c.name);
    const tools = h('td', { class: 'tools' });
    tr.append(nameCell, h('td', null, c.type), h('td', null, when(c.updatedAt)), admin ? tools : null);
    if (!admin) return tr;
    const panel = h('div', { class: 'panel' });
    const reset = () => clear(panel);
    tools.append(
      h('button', { type: 'button', 'aria-label': 'Rename ' + c.name, onclick: () => rename(c, panel, reset) }, 'Rename'),
      h('button', { type: 'button', 'aria-label': 'Replace the value of ' + c.name, onclick: () => replace(c, panel, reset) }, 'Replace value'),
      h('button', { type: 'button', class: 'danger', 'aria-label': 'Delete ' + c.name, onclick: () => confirmDelete(c, panel, reset) }, 'Delete'),
      panel);
    return tr;
  }

  function rename(c, panel, reset) {
    const id = uid('rename');
    const input = h('input', { id, type: 'text', required: true, maxLength: 200, value: c.name });
    const form = h('form', {
      class: 'inline',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          await api('PATCH', '/integrations/credentials/' + enc(c.id), { name: input.value });
          say(h('p', { class: 'ok', role: 'status' }, 'Renamed.'));
          refresh();
        } catch (e) { say(errorBox('Rename failed: ' + e.message)); }
      },
    }, h('label', { for: id }, 'New name'), input, h('button', { type: 'submit' }, 'Save'),
    h('button', { type: 'button', onclick: reset }, 'Keep'));
    clear(panel).append(form);
    input.focus();
  }

  function replace(c, panel, reset) {
    const t = types.find((p) => p.type === c.type);
    const [rows, read, wipe] = valueInputs(t ? t.fields : [], 'replace');
    const form = h('form', {
      class: 'inline',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const value = read();
        wipe();
        try {
          await api('PATCH', '/integrations/credentials/' + enc(c.id), { value });
          say(h('p', { class: 'ok', role: 'status' }, 'Value replaced.'));
          reset();
          refresh();
        } catch (e) { say(errorBox('Replace failed: ' + e.message)); }
      },
    }, h('fieldset', null, h('legend', null, 'New value of ', c.name), rows),
    h('button', { type: 'submit' }, 'Replace'), h('button', { type: 'button', onclick: () => { wipe(); reset(); } }, 'Keep'));
    clear(panel).append(form);
    const first = form.querySelector('input');
    if (first) first.focus();
  }

  function confirmDelete(c, panel, reset) {
    const yes = h('button', {
      type: 'button', class: 'danger', id: 'confirm-delete',
      onclick: async () => {
        try {
          await api('DELETE', '/integrations/credentials/' + enc(c.id));
          say(h('p', { class: 'ok', role: 'status' }, 'Deleted ', c.name, '.'));
          forget();
          refresh();
        } catch (e) { say(errorBox('Delete failed: ' + e.message)); }
      },
    }, 'Delete it');
    clear(panel).append(h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm delete' },
      h('span', null, 'Delete ', h('strong', null, c.name), '? Calls that use it will fail.'), ' ', yes, ' ',
      h('button', { type: 'button', onclick: reset }, 'Keep')));
    yes.focus();
  }

  async function addForm() {
    try {
      types = (await platforms()).list;
    } catch (e) { clear(addBox).append(errorBox(e.message)); return; }
    if (gone || !admin) return;
    const sel = h('select', { id: 'cred-type', name: 'type', required: true },
      types.map((p) => h('option', { value: p.type }, p.name)));
    const name = h('input', { id: 'cred-name', name: 'name', type: 'text', required: true, maxLength: 200 });
    const fieldsBox = h('div', { id: 'cred-fields' });
    let read = () => ({});
    let wipe = () => {};
    const build = () => {
      const t = types.find((p) => p.type === sel.value);
      const [rows, r, w] = valueInputs(t ? t.fields : [], 'add');
      read = r; wipe = w;
      append(clear(fieldsBox), rows);
    };
    sel.addEventListener('change', build);
    const form = h('form', {
      id: 'cred-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const body = { type: sel.value, name: name.value, value: read() };
        wipe();
        try {
          await api('POST', '/integrations/credentials', body);
          say(h('p', { class: 'ok', role: 'status' }, 'Added ', body.name, '.'));
          name.value = '';
          forget();
          build();
          refresh();
        } catch (e) { say(errorBox('Add failed: ' + e.message)); }
        body.value = null;
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'cred-type' }, 'Platform'), sel),
    h('div', { class: 'field' }, h('label', { for: 'cred-name' }, 'Name'), name),
    fieldsBox,
    h('button', { type: 'submit', id: 'cred-submit' }, 'Add credential'));
    clear(addBox).append(h('h2', { id: 'cred-add-h' }, 'Add a credential'), form);
    build();
  }

  refresh();
  if (admin) addForm();
  return () => { gone = true; };
}
