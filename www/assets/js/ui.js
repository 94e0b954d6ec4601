// Small DOM helpers shared by the pages: elements built with textContent
// only (nothing the API returns is ever parsed as HTML), the #error and
// #notice regions, forms and busy buttons.

import { ApiError } from './api.js';
import { messageFor } from './messages.js';

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// el('tag', {attr: value, class: 'x', dataset: {...}, on: {click: fn}}, ...children)
export function el(tag, attrs = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k === 'class')
			e.className = v;
		else if (k === 'dataset')
			Object.assign(e.dataset, v);
		else if (k === 'on')
			for (const [ev, fn] of Object.entries(v))
				e.addEventListener(ev, fn);
		else if (k === 'text')
			e.textContent = v;
		else if (v === true)
			e.setAttribute(k, '');
		else
			e.setAttribute(k, String(v));
	}
	for (const c of children.flat()) {
		if (c === undefined || c === null || c === false)
			continue;
		e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return e;
}

export function clearMessages() {
	for (const id of ['error', 'notice']) {
		const n = document.getElementById(id);
		if (n) {
			n.hidden = true;
			n.textContent = '';
			delete n.dataset.type;
		}
	}
	for (const f of $$('[aria-invalid="true"]'))
		f.removeAttribute('aria-invalid');
}

// showError(err | slug): the friendly message of a problem; the field it
// names is marked and focused.
export function showError(err, form) {
	const box = document.getElementById('error');
	let slug, detail = '';
	if (err instanceof ApiError) {
		slug = err.slug;
		if (err.problem.detail && (slug === 'invalid-field' || slug === 'weak-password' ||
		    slug === 'invalid-setting' || slug === 'invalid-csv' || !messageFor(slug, '')))
			detail = err.problem.detail;
		if (err.problem.field && form) {
			const f = form.querySelector('[name="' + CSS.escape(err.problem.field) + '"]');
			if (f) {
				f.setAttribute('aria-invalid', 'true');
				f.focus();
			}
		}
	} else if (typeof err === 'string') {
		slug = err;
	} else {
		slug = 'network';
		detail = 'The service could not be reached. Check your connection and try again.';
	}
	const text = slug === 'network' ? detail :
	    messageFor(slug) + (detail ? ' ' + detail : '');
	if (!box) {
		window.alert(text);
		return;
	}
	box.dataset.type = slug;
	box.textContent = text;
	box.hidden = false;
	const notice = document.getElementById('notice');
	if (notice)
		notice.hidden = true;
	if (!(err instanceof ApiError) && typeof err !== 'string')
		console.warn('request failed', err);
}

export function showNotice(text) {
	const box = document.getElementById('notice');
	const err = document.getElementById('error');
	if (err)
		err.hidden = true;
	if (box) {
		box.textContent = text;
		box.hidden = false;
	}
}

// The form's named controls as an object (empty strings left out unless keep).
export function formValues(form, keep = false) {
	const out = {};
	for (const [k, v] of new FormData(form).entries()) {
		const s = typeof v === 'string' ? v.trim() : v;
		if (s !== '' || keep)
			out[k] = s;
	}
	return out;
}

// onSubmit(form, async fn(values, form)): the submit button is busy while
// fn runs; an error shows in #error.
export function onSubmit(form, fn) {
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearMessages();
		const btns = $$('button[type=submit], button:not([type])', form);
		btns.forEach((b) => { b.disabled = true; b.setAttribute('aria-busy', 'true'); });
		try {
			await fn(formValues(form), form);
		} catch (e) {
			showError(e, form);
		} finally {
			btns.forEach((b) => { b.disabled = false; b.removeAttribute('aria-busy'); });
		}
	});
}

// busy(button, async fn): the same for a single button.
export async function busy(button, fn) {
	clearMessages();
	button.disabled = true;
	button.setAttribute('aria-busy', 'true');
	try {
		return await fn();
	} catch (e) {
		showError(e);
		return undefined;
	} finally {
		button.disabled = false;
		button.removeAttribute('aria-busy');
	}
}

export function fmtTime(s) {
	if (!s)
		return '—';
	const d = new Date(s);
	return isNaN(d) ? String(s) : d.toLocaleString();
}

export function fmtDate(s) {
	if (!s)
		return '—';
	const d = new Date(s);
	return isNaN(d) ? String(s) : d.toLocaleDateString();
}

// The fragment's parameters (tokens travel after #, never to a server log).
export function fragmentParams() {
	return new URLSearchParams(location.hash.replace(/^#/, ''));
}

// A same-site path to go to after sign-in, or the default.
export function safeReturn(p, dflt = '/app') {
	return typeof p === 'string' && /^\/(?!\/)[A-Za-z0-9/_.?=&%-]*$/.test(p) ? p : dflt;
}

export function download(filename, blob) {
	const url = URL.createObjectURL(blob);
	const a = el('a', { href: url, download: filename });
	document.body.append(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(url), 10000);
}
