// /admin: the platform operator's console (superusers only; the API answers
// 404 to anyone else).  Organisations and their plans, users and
// impersonation, platform settings, the platform audit log, the compliance
// sheet of DPAs and subprocessors.

import { get, post, patch, del, seg, currentUser, signOut, setImpersonation } from './api.js';
import { $, el, onSubmit, busy, showError, showNotice, fmtDate } from './ui.js';
import { field, sectionOf, select, showSection, table, wireSections, PLAN_LIST } from './common.js';
import { auditView } from './audit-view.js';
import { impersonationBanner } from './banner.js';

const SECTIONS = ['orgs', 'users', 'settings', 'audit', 'compliance'];
let current = 'orgs';

async function show(name, push = true) {
	current = name;
	if (push)
		history.pushState(null, '', '/admin/' + name);
	const root = showSection(SECTIONS, name);
	root.replaceChildren();
	try {
		await RENDER[name](root);
	} catch (e) {
		showError(e);
	}
}

// a list with search and pages: load(q, cursor) -> {items, next_cursor}
function searchable(root, label, load, draw) {
	const form = el('form', { class: 'row', novalidate: true, role: 'search' },
	    field(label, el('input', { name: 'q', type: 'search' })),
	    el('button', { type: 'submit', text: 'Search' }));
	const out = el('div');
	const more = el('button', { type: 'button', class: 'secondary', text: 'More', hidden: true });
	let cursor = null;
	let q = '';
	const run = async (append) => {
		const r = await load(q, append ? cursor : null);
		draw(out, r.items, append);
		cursor = r.next_cursor;
		more.hidden = !cursor || !r.items.length;
	};
	onSubmit(form, async (v) => { q = v.q || ''; await run(false); });
	more.addEventListener('click', () => busy(more, () => run(true)));
	root.append(form, out, more);
	return run(false);
}

function qs(q, cursor) {
	const p = new URLSearchParams({ limit: '50' });
	if (q)
		p.set('q', q);
	if (cursor)
		p.set('cursor', cursor);
	return p.toString();
}

async function renderOrgs(root) {
	root.append(el('h1', { text: 'Organisations' }));
	await searchable(root, 'Name or short name contains', async (q, c) => {
		const r = await get('/admin/api/orgs?' + qs(q, c));
		return { items: r.orgs, next_cursor: r.next_cursor };
	}, (out, orgs, append) => {
		const rows = orgs.map((o) => {
			const plan = select('plan', PLAN_LIST, o.plan, { 'aria-label': 'Plan of ' + o.slug });
			plan.addEventListener('change', () => busy(plan, async () => {
				await patch('/admin/api/orgs/' + seg(o.slug), { plan: plan.value });
				showNotice(o.slug + ' is now on ' + plan.value + '.');
			}));
			return el('tr', { dataset: { slug: o.slug } }, el('td', {}, o.name), el('td', {}, o.slug),
			    el('td', {}, plan), el('td', {}, o.region), el('td', {}, String(o.members ?? '')),
			    el('td', {}, fmtDate(o.created_at)));
		});
		if (append)
			out.querySelector('tbody').append(...rows);
		else
			out.replaceChildren(table(['Name', 'Short name', 'Plan', 'Region', 'Members', 'Created'], rows, { id: 'admin-org-list' }));
	});
}

async function renderUsers(root) {
	root.append(el('h1', { text: 'Users' }),
	    el('p', { class: 'hint', text: 'View as a user to see what they see: read-only, 10 minutes, recorded in the audit logs.' }));
	await searchable(root, 'Email or name contains', async (q, c) => {
		const r = await get('/admin/api/users?' + qs(q, c));
		return { items: r.users, next_cursor: r.next_cursor };
	}, (out, users, append) => {
		const rows = users.map((u) => {
			const imp = el('button', { type: 'button', class: 'secondary impersonate', text: 'View as' });
			imp.hidden = u.is_superuser;
			imp.addEventListener('click', () => {
				const reason = window.prompt('Why do you view as ' + u.email + '? (recorded)');
				if (!reason)
					return;
				busy(imp, async () => {
					const r = await post('/admin/api/impersonate', { user_id: u.id, reason });
					setImpersonation({ id: r.impersonation_id, token: r.access_token, user_id: u.id,
						email: u.email, expires_at: Date.now() + r.expires_in * 1000 });
					location.assign('/app');
				});
			});
			return el('tr', { dataset: { email: u.email, userId: String(u.id) } },
			    el('td', {}, u.name || ''), el('td', {}, u.email),
			    el('td', {}, u.is_superuser ? 'superuser' : ''), el('td', {}, fmtDate(u.created_at)), el('td', {}, imp));
		});
		if (append)
			out.querySelector('tbody').append(...rows);
		else
			out.replaceChildren(table(['Name', 'Email', '', 'Created', ''], rows, { id: 'admin-user-list' }));
	});
}

async function renderSettings(root) {
	root.append(el('h1', { text: 'Platform settings' }));
	const { settings } = await get('/admin/api/settings');
	const num = (name, label, hint, min, max) => field(label, el('input', { name, type: 'number', min, max,
		value: settings[name], required: true }), hint);
	const form = el('form', { id: 'admin-settings-form', novalidate: true },
	    num('access_token_lifetime', 'ACCESS_TOKEN_LIFETIME (seconds)', 'How long an access token lives; sessions refresh it.', 60, 86400),
	    num('password_t', 'Password hashing passes (argon2id t)', 'More is slower for attackers and for every sign-in.', 1, 10),
	    num('password_m_kib', 'Password hashing memory (KiB)', 'Each sign-in holds this much memory while it hashes.', 8192, 1048576),
	    el('button', { type: 'submit', text: 'Save' }));
	onSubmit(form, async (v) => {
		const body = {};
		for (const k of Object.keys(settings))
			if (v[k] !== undefined && Number(v[k]) !== settings[k])
				body[k] = Number(v[k]);
		if (!Object.keys(body).length) {
			showNotice('Nothing changed.');
			return;
		}
		const r = await patch('/admin/api/settings', body);
		Object.assign(settings, (r && r.settings) || body);
		showNotice('Saved.');
	});
	root.append(form);
}

async function renderAudit(root) {
	root.append(el('h1', { text: 'Platform audit log' }));
	await auditView(root, '/admin/api/audit-log', 'audit-platform.jsonl');
}

const KINDS = [['subprocessor', 'Subprocessor'], ['dpa', 'DPA']];

function complianceForm(item, onDone) {
	const v = item || {};
	const form = el('form', { class: 'compliance-form', novalidate: true },
	    el('div', { class: 'row' },
		field('Kind', select('kind', KINDS, v.kind || 'subprocessor')),
		field('Name', el('input', { name: 'name', type: 'text', required: true, maxlength: 200, value: v.name || '' })),
		field('Region', el('input', { name: 'region', type: 'text', maxlength: 100, value: v.region || '' }))),
	    field('Purpose', el('input', { name: 'purpose', type: 'text', maxlength: 500, value: v.purpose || '' })),
	    field('Data categories (comma-separated)', el('input', { name: 'data_categories', type: 'text',
		value: (v.data_categories || []).join(', ') })),
	    el('div', { class: 'row' },
		field('DPA signed', el('input', { name: 'dpa_signed', type: 'date', value: v.dpa_signed || '' })),
		field('Review due', el('input', { name: 'review_due', type: 'date', required: true, value: v.review_due || '' }))),
	    field('Document link (https)', el('input', { name: 'document_url', type: 'url', value: v.document_url || '' })),
	    el('button', { type: 'submit', text: item ? 'Save' : 'Add' }));
	onSubmit(form, async (f) => {
		const body = {
			kind: f.kind, name: f.name || '', purpose: f.purpose || '',
			data_categories: (f.data_categories || '').split(',').map((s) => s.trim()).filter(Boolean),
			region: f.region || '', review_due: f.review_due || '',
			dpa_signed: f.dpa_signed || null, document_url: f.document_url || null,
		};
		if (item)
			await patch('/admin/api/compliance/' + seg(item.id), body);
		else
			await post('/admin/api/compliance', body);
		showNotice(item ? 'Saved.' : 'Added.');
		await onDone();
	});
	return form;
}

async function renderCompliance(root) {
	root.append(el('h1', { text: 'Compliance sheet' }),
	    el('p', { class: 'hint', text: 'Data processing agreements and subprocessors. Rows past their review date are highlighted.' }));
	const out = el('div');
	const reload = async () => {
		const { items } = await get('/admin/api/compliance');
		const rows = items.map((i) => {
			const edit = el('button', { type: 'button', class: 'secondary', text: 'Edit' });
			const remove = el('button', { type: 'button', class: 'secondary', text: 'Delete' });
			const tr = el('tr', { class: i.overdue ? 'overdue' : undefined, dataset: { itemId: String(i.id) } },
			    el('td', {}, i.kind === 'dpa' ? 'DPA' : 'Subprocessor'), el('td', {}, i.name),
			    el('td', {}, i.purpose || ''), el('td', {}, (i.data_categories || []).join(', ')),
			    el('td', {}, i.region || ''), el('td', {}, fmtDate(i.dpa_signed)),
			    el('td', {}, fmtDate(i.review_due), i.overdue ? el('span', { class: 'badge warn' }, ' review overdue') : ''),
			    el('td', {}, i.document_url ? el('a', { href: i.document_url, rel: 'noopener noreferrer', target: '_blank' }, 'Document') : ''),
			    el('td', {}, el('div', { class: 'buttons' }, edit, remove)));
			edit.addEventListener('click', () => {
				const f = complianceForm(i, reload);
				tr.after(el('tr', {}, el('td', { colspan: 9 }, f)));
				edit.disabled = true;
			});
			remove.addEventListener('click', () => {
				if (!window.confirm('Delete ' + i.name + ' from the sheet?'))
					return;
				busy(remove, async () => {
					await del('/admin/api/compliance/' + seg(i.id));
					showNotice('Deleted.');
					await reload();
				});
			});
			return tr;
		});
		out.replaceChildren(table(['Kind', 'Name', 'Purpose', 'Data', 'Region', 'DPA signed', 'Review due', '', ''],
		    rows, { id: 'compliance-list' }));
	};
	root.append(out, el('h2', { text: 'Add' }), complianceForm(null, reload));
	await reload();
}

const RENDER = { orgs: renderOrgs, users: renderUsers, settings: renderSettings,
	audit: renderAudit, compliance: renderCompliance };

async function init() {
	impersonationBanner();
	const me = await currentUser().catch((e) => { showError(e); return undefined; });
	if (me === null) {
		location.replace('/login?return_to=' + encodeURIComponent(location.pathname));
		return;
	}
	if (!me)
		return;
	if (!me.user.is_superuser) {
		document.querySelector('.layout').replaceChildren(el('main', { id: 'main' },
		    el('h1', { text: 'Not found' }), el('p', {}, el('a', { href: '/app' }, 'Back to the app'))));
		return;
	}
	$('#user-menu').textContent = me.user.email;
	$('#signout').addEventListener('click', async () => {
		await signOut();
		location.assign('/login');
	});
	wireSections('/admin', SECTIONS, 'orgs', show);
	const name = sectionOf('/admin', SECTIONS, location.pathname) || 'orgs';
	history.replaceState(null, '', '/admin/' + name);
	await show(name, false);
}

init();
