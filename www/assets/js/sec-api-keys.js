// /app/api-keys: the organisation's API keys.  A new key's secret is shown
// once, in this page's memory only, with a copy button; nothing keeps it.

import { get, post, del, seg } from './api.js';
import { el, onSubmit, busy, showNotice, fmtTime } from './ui.js';
import { head, field, select, table, orgPath, roleSelect } from './common.js';

export async function render(ctx, root) {
	if (!head(ctx, root, 'API keys', { role: 'admin', plan: 'growth',
	    intro: 'Keys let programs call the API as a role of this organisation.' }))
		return;
	const [{ api_keys: keys }, { workspaces }] = await Promise.all([
		get(orgPath(ctx, '/api-keys')), get(orgPath(ctx, '/workspaces'))]);
	const shown = el('div', { id: 'apikey-shown', hidden: true });
	const form = el('form', { id: 'apikey-create-form', novalidate: true },
	    el('div', { class: 'row' },
		field('Name', el('input', { id: 'apikey-name', name: 'name', type: 'text', maxlength: 100, required: true })),
		field('Role', roleSelect(ctx, 'role', 'viewer', { id: 'apikey-role' }, { owner: false })),
		field('Workspace', select('workspace_id',
		    [['', 'All workspaces'], ...workspaces.map((w) => [String(w.id), w.name])], '',
		    { id: 'apikey-workspace' }))),
	    el('button', { type: 'submit', text: 'Create key' }));
	onSubmit(form, async (v) => {
		const body = { name: v.name || '', role: v.role };
		if (v.workspace_id)
			body.workspace_id = Number(v.workspace_id);
		const r = await post(orgPath(ctx, '/api-keys'), body);
		form.reset();
		showSecret(shown, r.key, 'Key "' + r.api_key.name + '" created.');
		tbody.prepend(row(ctx, r.api_key, shown));
	});
	const t = table(['Name', 'Prefix', 'Role', 'Created', 'Last used', 'Expires', ''],
	    keys.map((k) => row(ctx, k, shown)), { id: 'apikey-list' });
	const tbody = t.querySelector('tbody');
	root.append(form, shown, t);
}

function showSecret(box, key, what) {
	const code = el('output', { id: 'apikey-secret', class: 'secret' }, key);
	const copy = el('button', { type: 'button', id: 'apikey-copy', class: 'secondary', text: 'Copy' });
	copy.addEventListener('click', async () => {
		try {
			await navigator.clipboard.writeText(key);
			copy.textContent = 'Copied';
		} catch (e) {
			// no clipboard permission: select it for a manual copy
			const r = document.createRange();
			r.selectNodeContents(code);
			getSelection().removeAllRanges();
			getSelection().addRange(r);
			copy.textContent = 'Selected: press Ctrl+C';
		}
	});
	box.replaceChildren(el('p', { role: 'status' }, what + ' Copy it now: it is shown only once.'), code,
	    el('div', { class: 'buttons' }, copy));
	box.hidden = false;
	showNotice(what);
	copy.focus();
}

function row(ctx, k, shown) {
	const revoked = !!k.revoked_at;
	const state = revoked ? el('span', { class: 'badge' }, 'revoked') :
	    k.rotation_due ? el('span', { class: 'badge warn' }, 'rotation due') : '';
	const rotate = el('button', { type: 'button', class: 'secondary', text: 'Rotate' });
	const revoke = el('button', { type: 'button', class: 'secondary', text: 'Revoke' });
	rotate.hidden = revoke.hidden = revoked;
	rotate.addEventListener('click', () => busy(rotate, async () => {
		const r = await post(orgPath(ctx, '/api-keys/' + seg(k.id) + '/rotate'));
		showSecret(shown, r.key, 'Key "' + k.name + '" rotated; the previous secret works until ' +
		    fmtTime(r.api_key.previous_valid_until) + '.');
	}));
	revoke.addEventListener('click', () => {
		if (!window.confirm('Revoke "' + k.name + '"? Programs using it stop at once.'))
			return;
		busy(revoke, async () => {
			await del(orgPath(ctx, '/api-keys/' + seg(k.id)));
			tr.replaceWith(row(ctx, Object.assign({}, k, { revoked_at: new Date().toISOString() }), shown));
			showNotice('Key revoked.');
		});
	});
	const tr = el('tr', { dataset: { keyId: String(k.id) } },
	    el('td', {}, k.name, ' ', state), el('td', {}, el('code', {}, k.prefix)), el('td', {}, k.role),
	    el('td', {}, fmtTime(k.created_at)), el('td', {}, fmtTime(k.last_used_at)),
	    el('td', {}, fmtTime(k.expires_at)), el('td', {}, el('div', { class: 'buttons' }, rotate, revoke)));
	return tr;
}
