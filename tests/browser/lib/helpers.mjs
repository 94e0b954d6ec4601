// Helpers of the browser tests: unique accounts, the JSON API called
// directly (set-up and checks behind the pages' backs), the mailed links,
// waiting for the pages, the 360 px layout check.

import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { waitMail, mailLink } from './mail.mjs';

export { assert };

const RUN = Date.now().toString(36) + process.pid.toString(36);
let serial = 0;

// A fresh address for this run: TAG-RUN-N@example.test.
export function uniqueEmail(tag = 'b') {
	serial++;
	return `${tag}-${RUN}-${serial}@example.test`;
}

// A slug for an org (^[a-z0-9][a-z0-9_]{1,40}$).
export function uniqueSlug(tag = 'org') {
	serial++;
	return `${tag}_${RUN}_${serial}`.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 41);
}

export function strongPassword() {
	return 'Q7' + randomBytes(18).toString('base64url');
}

// A documentation-prefix IPv6 address: the stack trusts X-Forwarded-For
// from loopback, so API registrations do not spend the browser's
// per-network registration budget (127.0.0.1).
function randomNet() {
	const r = randomBytes(4);
	return `2001:db8:${r.readUInt16BE(0).toString(16)}:${r.readUInt16BE(2).toString(16)}::1`;
}

export class ApiError extends Error {
	constructor(method, path, status, body) {
		super(`${method} ${path}: ${status} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
		this.status = status;
		this.body = body;
	}
}

// The JSON API from node (not the browser): bearer tokens, no cookies.
export class Api {
	constructor(env, token = null) {
		this.env = env;
		this.base = env.BASE_URL;
		this.token = token;
	}

	async raw(method, path, body, headers = {}) {
		const h = { Accept: 'application/json', Origin: this.env.PUBLIC_ORIGIN, ...headers };
		if (this.token)
			h.Authorization = 'Bearer ' + this.token;
		if (body !== undefined)
			h['Content-Type'] = 'application/json';
		const r = await fetch(this.base + path, {
			method, headers: h, redirect: 'manual',
			body: body === undefined ? undefined : JSON.stringify(body),
			signal: AbortSignal.timeout(30000),
		});
		const text = await r.text();
		let parsed = text;
		try {
			parsed = text ? JSON.parse(text) : null;
		} catch (e) {
			// not JSON: keep the text
		}
		return { status: r.status, body: parsed, headers: r.headers };
	}

	async call(method, path, body, expect) {
		const r = await this.raw(method, path, body);
		const ok = expect === undefined ? r.status >= 200 && r.status < 300 :
		    [].concat(expect).includes(r.status);
		if (!ok)
			throw new ApiError(method, path, r.status, r.body);
		return r.body;
	}

	get(path, expect) { return this.call('GET', path, undefined, expect); }
	post(path, body = {}, expect) { return this.call('POST', path, body, expect); }
	patch(path, body, expect) { return this.call('PATCH', path, body, expect); }
	put(path, body, expect) { return this.call('PUT', path, body, expect); }
	del(path, expect) { return this.call('DELETE', path, undefined, expect); }

	// signed in as EMAIL (a new Api); throws on a refused login
	async login(email, password) {
		const r = await this.raw('POST', '/api/v1/auth/login', { email, password });
		if (r.status !== 200 || !r.body || !r.body.access_token)
			throw new ApiError('POST', '/api/v1/auth/login', r.status, r.body);
		return new Api(this.env, r.body.access_token);
	}

	async register(email, password, name) {
		const r = await this.raw('POST', '/api/v1/auth/register', { email, password, name },
		    { 'X-Forwarded-For': randomNet() });
		if (r.status !== 202 && r.status !== 200)
			throw new ApiError('POST', '/api/v1/auth/register', r.status, r.body);
	}
}

// The token of the link to PAGE in the newest mail to ADDR about SUBJECT.
export async function mailedLink(env, addr, page, { subject, count = 1 } = {}) {
	const mail = await waitMail(env, addr, { subject, count });
	const link = mailLink(mail, page);
	assert.ok(link.startsWith(env.PUBLIC_ORIGIN + page),
	    `the mail's link ${link.replace(/token=.*/, 'token=…')} is not on ${env.PUBLIC_ORIGIN}`);
	return link;
}

// A verified account made through the API (for tests that are not about
// registering): {email, password, name}.
export async function newAccount(env, tag = 'u') {
	const api = new Api(env);
	const email = uniqueEmail(tag);
	const password = strongPassword();
	const name = `Browser ${tag} ${serial}`;
	await api.register(email, password, name);
	const link = await mailedLink(env, email, '/verify-email', { subject: 'Confirm your email' });
	const token = new URL(link).hash.replace(/^#/, '').split('&')
	    .map((kv) => kv.split('=')).find(([k]) => k === 'token')[1];
	await api.post('/api/v1/auth/verify-email', { token }, 200);
	return { email, password, name };
}

// An org made through the API by ACCOUNT (on the growth plan, so that
// every section has its full page): {slug, name, api}.
export async function newOrg(env, account, tag = 'org', plan = 'growth') {
	const api = await new Api(env).login(account.email, account.password);
	const slug = uniqueSlug(tag);
	const name = `Org ${slug}`;
	await api.post('/api/v1/orgs', { name, slug, plan }, 201);
	return { slug, name, api };
}

export function url(env, path) {
	return env.PUBLIC_ORIGIN + path;
}

// Sign in through /login; waits until the browser is on /app.
export async function signIn(page, env, account) {
	await page.goto(url(env, '/login'));
	await page.locator('#login-form #email').fill(account.email);
	await page.locator('#login-form #password').fill(account.password);
	await page.locator('#login-form [type=submit]').click();
	await page.waitForURL((u) => u.pathname === '/app' || u.pathname.startsWith('/app/'));
}

// Wait until fn() (async, in node) is truthy; a guard, not a timed check.
export async function until(fn, what, timeout = 20000) {
	const deadline = Date.now() + timeout;
	let last;
	for (;;) {
		try {
			last = await fn();
			if (last)
				return last;
		} catch (e) {
			last = e;
		}
		if (Date.now() > deadline)
			throw new Error(`waiting for ${what}: not so after ${timeout / 1000} s` +
			    (last instanceof Error ? ` (${last.message})` : ''));
		await new Promise((r) => setTimeout(r, 150));
	}
}

// The element's visible text, once it is shown.
export async function shownText(page, selector) {
	const loc = page.locator(selector);
	await loc.waitFor({ state: 'visible' });
	return (await loc.textContent()).trim();
}

// #error shown with data-type SLUG.
export async function expectError(page, slug) {
	const box = page.locator(`#error[data-type="${slug}"]`);
	try {
		await box.waitFor({ state: 'visible' });
	} catch (e) {
		const err = page.locator('#error');
		const type = await err.getAttribute('data-type').catch(() => null);
		const text = await err.textContent().catch(() => null);
		throw new Error(`#error[data-type=${slug}] not shown; #error has data-type=${type}, ` +
		    `text ${JSON.stringify(text)}`);
	}
	return (await box.textContent()).trim();
}

// At the current viewport, nothing is wider than the page (no sideways
// scroll): the document element's scrollWidth <= clientWidth.  Returns the
// widest offenders for the message when it fails.
export async function horizontalOverflow(page) {
	return page.evaluate(() => {
		const de = document.documentElement;
		if (de.scrollWidth <= de.clientWidth)
			return null;
		const wide = [];
		for (const e of document.querySelectorAll('body *')) {
			const r = e.getBoundingClientRect();
			if (r.right > de.clientWidth + 0.5 && r.width > 0)
				wide.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}` +
				    `${e.className && typeof e.className === 'string' ? '.' + e.className.split(/\s+/).join('.') : ''}` +
				    ` right=${Math.round(r.right)}`);
		}
		return { scrollWidth: de.scrollWidth, clientWidth: de.clientWidth, wide: wide.slice(0, 8) };
	});
}

export async function assertNoHorizontalScroll(page, what) {
	const o = await horizontalOverflow(page);
	assert.equal(o, null, `${what}: horizontal scroll at ${page.viewportSize().width} px: ` +
	    JSON.stringify(o));
}

// Every form control on the page has a label (a <label for>, a wrapping
// <label>, aria-label or aria-labelledby); the unlabelled ones.
export async function unlabelledControls(page) {
	return page.evaluate(() => {
		const out = [];
		for (const e of document.querySelectorAll('input, select, textarea')) {
			if (e.type === 'hidden' || e.type === 'submit' || e.type === 'button')
				continue;
			if (e.labels && e.labels.length)
				continue;
			if (e.getAttribute('aria-label') || e.getAttribute('aria-labelledby'))
				continue;
			out.push(e.outerHTML.slice(0, 120));
		}
		return out;
	});
}

// RFC 6238 code of the base32 SECRET for time step STEP (30 s, SHA-1, six
// digits, as the app's second factor); step defaults to now's.
export function totp(secret, step = Math.floor(Date.now() / 30000)) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = '';
	for (const ch of secret.toUpperCase().replace(/[=\s-]/g, ''))
		bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
	const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
	const msg = Buffer.alloc(8);
	msg.writeBigUInt64BE(BigInt(step));
	const h = createHmac('sha1', key).update(msg).digest();
	const o = h[h.length - 1] & 15;
	return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

// The cookies of CONTEXT for the stack's origin, by name.
export async function cookieNames(context, env) {
	return (await context.cookies(env.PUBLIC_ORIGIN)).map((c) => c.name);
}
