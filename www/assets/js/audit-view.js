// An audit log view, for an organisation's log (/app/audit) and the
// platform's (/admin/audit): filters, pages, JSON Lines export.

import { get, api } from './api.js';
import { el, onSubmit, busy, fmtTime, download, formValues } from './ui.js';
import { field, table } from './common.js';

function query(v, cursor) {
	const q = new URLSearchParams();
	if (v.action)
		q.set('action', v.action);
	if (v.actor)
		q.set('actor', v.actor);
	if (v.since)
		q.set('since', new Date(v.since + 'T00:00:00').toISOString());
	if (v.until)
		q.set('until', new Date(v.until + 'T23:59:59').toISOString());
	if (cursor)
		q.set('cursor', cursor);
	return q;
}

function brief(v) {
	if (v === null || v === undefined)
		return '';
	const s = typeof v === 'string' ? v : JSON.stringify(v);
	return s.length > 160 ? s.slice(0, 157) + '…' : s;
}

// auditView(root, path, filename): the view under root for the log at path.
export function auditView(root, path, filename) {
	const form = el('form', { id: 'audit-filter-form', class: 'row', novalidate: true },
	    field('Action (exact, or a prefix ending in .)', el('input', { name: 'action', type: 'text', placeholder: 'member.' })),
	    field('Actor id', el('input', { name: 'actor', type: 'text', inputmode: 'numeric' })),
	    field('Since', el('input', { name: 'since', type: 'date' })),
	    field('Until', el('input', { name: 'until', type: 'date' })),
	    el('button', { type: 'submit', text: 'Filter' }));
	const exportBtn = el('button', { type: 'button', id: 'audit-export', class: 'secondary', text: 'Export (JSON Lines)' });
	const more = el('button', { type: 'button', id: 'audit-more', class: 'secondary', text: 'Older entries', hidden: true });
	const out = el('div', { id: 'audit-entries' });
	let cursor = null;

	const load = async (append) => {
		const v = formValues(form);
		const q = query(v, append ? cursor : null);
		const r = await get(path + '?' + q.toString());
		const rows = r.entries.map((e) => [fmtTime(e.at), e.action, (e.actor_type || '') + ' ' + (e.actor_id ?? ''),
			brief(e.target), e.client_addr || '', brief(e.after ?? e.before)]);
		if (append) {
			const tbody = out.querySelector('tbody');
			for (const r2 of rows)
				tbody.append(el('tr', {}, ...r2.map((c) => el('td', {}, c))));
		} else {
			out.replaceChildren(table(['When', 'Action', 'Actor', 'Target', 'Address', 'Details'], rows,
			    { id: 'audit-list' }));
		}
		cursor = r.next_cursor;
		more.hidden = !cursor || !r.entries.length;
	};
	onSubmit(form, () => load(false));
	more.addEventListener('click', () => busy(more, () => load(true)));
	exportBtn.addEventListener('click', () => busy(exportBtn, async () => {
		const q = query(formValues(form));
		q.set('format', 'jsonl');
		const r = await api('GET', path + '?' + q.toString(), undefined, { raw: true });
		download(filename, await r.blob());
	}));
	root.append(form, el('div', { class: 'buttons' }, exportBtn), out, more);
	return load(false);
}
