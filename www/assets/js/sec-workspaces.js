// /app/workspaces: the organisation's workspaces and each one's IP allowlist
// (which client addresses its API keys may come from).

import { get, post, patch, put, del, seg } from './api.js';
import { el, onSubmit, busy, showNotice, fmtDate } from './ui.js';
import { head, field, orgPath, roleAtLeast, planAtLeast } from './common.js';

export async function render(ctx, root) {
	if (!head(ctx, root, 'Workspaces'))
		return;
	const admin = roleAtLeast(ctx, 'admin');
	const growth = planAtLeast(ctx, 'growth');
	const { workspaces } = await get(orgPath(ctx, '/workspaces'));
	const list = el('ul', { id: 'workspace-list', class: 'plain' });
	for (const w of workspaces)
		list.append(await item(ctx, w, admin && growth));
	root.append(list);
	if (!admin)
		return;
	if (!growth) {
		root.append(el('p', { class: 'hint', text: 'More workspaces and IP allowlists are part of the growth plan.' }));
		return;
	}
	const form = el('form', { id: 'workspace-create-form', novalidate: true },
	    field('New workspace', el('input', { name: 'name', type: 'text', maxlength: 100, required: true })),
	    el('button', { type: 'submit', text: 'Create workspace' }));
	onSubmit(form, async (v) => {
		await post(orgPath(ctx, '/workspaces'), { name: v.name || '' });
		showNotice('Workspace created.');
		await ctx.show('workspaces', false);
	});
	root.append(form);
}

async function item(ctx, w, manage) {
	const li = el('li', { dataset: { workspaceId: String(w.id) } },
	    el('strong', {}, w.name), el('span', { class: 'hint' }, ' · created ' + fmtDate(w.created_at)));
	if (!manage)
		return li;
	const wpath = orgPath(ctx, '/workspaces/' + seg(w.id));
	const rename = el('form', { novalidate: true, class: 'row' },
	    field('Name', el('input', { name: 'name', type: 'text', maxlength: 100, value: w.name, required: true })),
	    el('button', { type: 'submit', class: 'secondary', text: 'Rename' }));
	onSubmit(rename, async (v) => {
		await patch(wpath, { name: v.name || '' });
		showNotice('Renamed.');
	});
	const { cidrs } = await get(wpath + '/ip-allowlist');
	const allow = el('form', { novalidate: true },
	    field('IP allowlist for API keys (one network per line; empty: any address)',
		el('textarea', { name: 'cidrs', rows: 3, spellcheck: 'false' }, (cidrs || []).join('\n'))),
	    el('button', { type: 'submit', class: 'secondary', text: 'Save allowlist' }));
	onSubmit(allow, async (v) => {
		const list = (v.cidrs || '').split(/[\s,]+/).filter(Boolean);
		const r = await put(wpath + '/ip-allowlist', { cidrs: list });
		allow.querySelector('textarea').value = (r.cidrs || list).join('\n');
		showNotice('Allowlist saved.');
	});
	const remove = el('button', { type: 'button', class: 'danger', text: 'Delete workspace' });
	remove.addEventListener('click', () => {
		if (!window.confirm('Delete ' + w.name + ' and everything in it?'))
			return;
		busy(remove, async () => {
			await del(wpath);
			li.remove();
			showNotice('Workspace deleted.');
		});
	});
	li.append(el('details', {}, el('summary', { text: 'Manage' }), rename, allow, remove));
	return li;
}
