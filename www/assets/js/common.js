// Pieces the sections of /app and /admin share: the org's API path, roles,
// labelled fields, tables.

import { seg } from './api.js';
import { $, $$, clearMessages, el } from './ui.js';

const ROLES = ['viewer', 'analyst', 'admin', 'owner'];
const PLANS = ['free', 'growth', 'agency'];

export function orgPath(ctx, rest = '') {
	return '/api/v1/orgs/' + seg(ctx.org.slug) + rest;
}

export function roleAtLeast(ctx, role) {
	return !!ctx.org && ROLES.indexOf(ctx.org.role) >= ROLES.indexOf(role);
}

export function planAtLeast(ctx, plan) {
	return !!ctx.org && PLANS.indexOf(ctx.org.plan) >= PLANS.indexOf(plan);
}

// A section's heading; false (with a hint) when it needs an org and there
// is none, or the caller's role or the org's plan is below what it needs.
export function head(ctx, root, title, { role, plan, org = true, intro } = {}) {
	root.append(el('h1', { text: title }));
	if (intro)
		root.append(el('p', { class: 'hint', text: intro }));
	if (org && !ctx.org) {
		root.append(el('p', {}, 'Create an organisation first: ',
		    el('a', { href: '/app/orgs', text: 'Organisations' }), '.'));
		return false;
	}
	if (role && !roleAtLeast(ctx, role)) {
		root.append(el('p', { class: 'hint', text: 'This needs the ' + role +
		    ' role in ' + ctx.org.name + '; yours is ' + ctx.org.role + '.' }));
		return false;
	}
	if (plan && !planAtLeast(ctx, plan)) {
		root.append(el('p', { class: 'hint', text: 'This is part of the ' + plan +
		    ' plan; ' + ctx.org.name + ' is on ' + ctx.org.plan + '.' }));
		return false;
	}
	return true;
}

// Show section NAME of NAMES (section#sec-NAME), mark its link in
// nav#sections as the current page; the section element.
export function showSection(names, name) {
	for (const a of $$('nav#sections a')) {
		if (a.dataset.section === name)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
	for (const s of names)
		$('#sec-' + s).hidden = s !== name;
	return $('#sec-' + name);
}

// The section PATH names under BASE ("/app"), one of NAMES, or null.
export function sectionOf(base, names, path) {
	const m = new RegExp('^' + base + '/([a-z0-9-]+)/?$').exec(path);
	return m && names.includes(m[1]) ? m[1] : null;
}

// A click on a link of nav#sections shows its section in this page (a
// modified click opens it as usual); back and forward show theirs.
export function wireSections(base, names, fallback, show) {
	for (const a of $$('nav#sections a'))
		a.addEventListener('click', (ev) => {
			if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0)
				return;
			ev.preventDefault();
			clearMessages();
			show(a.dataset.section);
			$('#main').focus();
		});
	window.addEventListener('popstate', () => {
		clearMessages();
		show(sectionOf(base, names, location.pathname) || fallback, false);
	});
}

let uid = 0;

// field('Label', inputElement[, hint]): a labelled control.
export function field(label, input, hint) {
	if (!input.id)
		input.id = 'f' + (++uid);
	const parts = [el('label', { for: input.id, text: label }), input];
	if (hint) {
		const h = el('span', { class: 'hint', id: input.id + '-hint', text: hint });
		input.setAttribute('aria-describedby', h.id);
		parts.push(h);
	}
	return el('div', { class: input.type === 'checkbox' ? 'field inline' : 'field' }, ...parts);
}

export function select(name, options, value, attrs = {}) {
	const s = el('select', Object.assign({ name }, attrs));
	for (const o of options) {
		const [v, t] = Array.isArray(o) ? o : [o, o];
		const opt = el('option', { value: v, text: t });
		if (String(v) === String(value))
			opt.selected = true;
		s.append(opt);
	}
	return s;
}

export function roleSelect(ctx, name, value, attrs = {}, { owner = true } = {}) {
	// nobody grants a role above their own; only an owner grants owner
	const mine = ROLES.indexOf(ctx.org ? ctx.org.role : 'viewer');
	const roles = ROLES.filter((r, i) => i <= mine && (owner || r !== 'owner'));
	return select(name, roles, value, attrs);
}

// table(['Head', ...], rows of [cells] or tr elements[, attrs])
export function table(heads, rows, attrs = {}) {
	const t = el('table', attrs,
	    el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', { scope: 'col', text: h })))),
	    el('tbody', {}, ...rows.map((r) => r instanceof Node ? r :
	        el('tr', {}, ...r.map((c) => el('td', {}, c))))));
	return el('div', { class: 'table-wrap' }, t);
}

export const ROLE_LIST = ROLES;
export const PLAN_LIST = PLANS;
