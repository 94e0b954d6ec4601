// A small test harness for the browser tests: test(name, fn) registers a
// test; run() launches Debian's Chromium once (playwright-core, no browser
// download) and runs every test in fresh browser contexts.
//
// Every context a test opens is watched: a console error, an uncaught
// exception or a Content-Security-Policy violation (the console's report,
// and the securitypolicyviolation event caught by an init script) on a page
// of the stack's origin fails the test, whatever the test itself checked.
// (Pages of other origins, the providers' and the attacker's, are not under
// test.)
// The one console error that is not a fault: Chromium logs every 4xx answer
// of a fetch ("Failed to load resource: … 401") — a 4xx from the JSON API is
// how it answers, and the pages handle it; a 4xx of anything else (a missing
// script, style or icon) and any 5xx still fail.
//
// On failure each open page is saved as a screenshot under
// tests/artifacts/failed/.  t.shot(page, name) saves tests/artifacts/NAME.png.

import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = resolve(here, '../../artifacts');

export const CHROMIUM = process.env.APX_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
	'--no-sandbox',
	'--headless=new',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-default-apps',
	'--disable-sync',
	'--disable-extensions',
	'--disable-domain-reliability',
	'--disable-client-side-phishing-detection',
	'--no-first-run',
	'--no-default-browser-check',
	'--metrics-recording-only',
	'--disable-dev-shm-usage',
];

// guards only: a test or a step that takes this long is stuck
const TEST_TIMEOUT_MS = 240000;
const ACTION_TIMEOUT_MS = 20000;
const NAV_TIMEOUT_MS = 30000;

const registry = [];
let currentFile = '';

export function setCurrentFile(f) {
	currentFile = f;
}

// test(name, async (t) => {...}, {timeout})
export function test(name, fn, opts = {}) {
	registry.push({ name, fn, file: currentFile, timeout: opts.timeout || TEST_TIMEOUT_MS });
}

export function registered() {
	return registry.slice();
}

function slugify(s) {
	return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}

// Requests each page has in flight (one counts as done at its answer's
// headers: Chromium may never report a body the page did not read as
// finished, so playwright's 'networkidle' can wait for ever).
const inflight = new WeakMap();

function track(page) {
	const open = new Set();
	inflight.set(page, open);
	page.on('request', (r) => open.add(r));
	const done = (r) => open.delete(r);
	page.on('response', (r) => done(r.request()));
	page.on('requestfailed', done);
	page.on('requestfinished', done);
}

// quiet(page): once the page has loaded and asked for nothing for QUIET_MS
// (a settling point for screenshots and layout checks; the guard only
// bounds the wait, it is not a check).
export async function quiet(page, quietMs = 300, guardMs = 10000) {
	await page.waitForLoadState('load').catch(() => {});
	const open = inflight.get(page);
	if (!open)
		return;
	const deadline = Date.now() + guardMs;
	let since = Date.now();
	while (Date.now() < deadline) {
		if (open.size)
			since = Date.now();
		else if (Date.now() - since >= quietMs)
			return;
		await new Promise((r) => setTimeout(r, 50));
	}
}

const API_PATH = /^\/(api\/|admin\/api\/|\.well-known\/)/;

// The init script of every page: report each CSP violation to the harness.
function cspListener() {
	const report = (e) => {
		try {
			window.__apxCspViolation({
				directive: e.effectiveDirective || e.violatedDirective,
				blocked: String(e.blockedURI || ''),
				document: String(e.documentURI || location.href),
				source: String(e.sourceFile || ''),
				line: e.lineNumber || 0,
				sample: String(e.sample || ''),
			});
		} catch (err) {
			// the binding is always there; nothing to report with otherwise
		}
	};
	document.addEventListener('securitypolicyviolation', report, true);
}

class TestContext {
	constructor(browser, env, name) {
		this.browser = browser;
		this.env = env;
		this.name = name;
		this.origin = env.PUBLIC_ORIGIN;
		this.problems = [];
		this.contexts = [];
		this.notes = [];
	}

	note(msg) {
		this.notes.push(msg);
	}

	problem(kind, text, where) {
		this.problems.push(`${kind}: ${text}${where ? ` (${where})` : ''}`);
	}

	ourPage(url) {
		try {
			return new URL(url).origin === this.origin;
		} catch (e) {
			return false;
		}
	}

	// A fresh browser context (its own cookies), watched; options as
	// browser.newContext's.  Returns {context, page}.
	async newContext(opts = {}) {
		const context = await this.browser.newContext({
			viewport: { width: 1280, height: 900 },
			locale: 'en-GB',
			...opts,
		});
		this.contexts.push(context);
		context.setDefaultTimeout(ACTION_TIMEOUT_MS);
		context.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
		await context.exposeBinding('__apxCspViolation', (_src, v) => {
			// the stack's pages only: a provider's or an attacker's page
			// is not under test
			if (!this.ourPage(v.document))
				return;
			this.problem('CSP violation', `${v.directive} blocked ${v.blocked || '(inline)'}` +
			    (v.sample ? ` "${v.sample}"` : ''),
			    `${v.document}${v.source ? ' ' + v.source + ':' + v.line : ''}`);
		});
		await context.addInitScript(cspListener);
		context.on('page', track);
		context.on('console', (msg) => this.onConsole(msg));
		context.on('weberror', (we) => {
			const p = we.page();
			if (!p || this.ourPage(p.url()))
				this.problem('uncaught exception', String(we.error() && we.error().stack ||
				    we.error()), p && p.url());
		});
		const page = await context.newPage();
		return { context, page };
	}

	onConsole(msg) {
		const text = msg.text();
		const p = msg.page();
		const pageUrl = p ? p.url() : '';
		if (/Content[- ]Security[- ]Policy/i.test(text)) {
			if (this.ourPage(pageUrl) || !p)
				this.problem('CSP violation (console)', text, pageUrl);
			return;
		}
		if (msg.type() !== 'error' || !this.ourPage(pageUrl))
			return;
		const m = /^Failed to load resource: the server responded with a status of (\d+)/.exec(text);
		if (m) {
			const status = Number(m[1]);
			const loc = msg.location() || {};
			let path = '';
			try {
				const u = new URL(loc.url);
				path = u.origin === this.origin ? u.pathname : '';
			} catch (e) {
				path = '';
			}
			if (status >= 400 && status < 500 && API_PATH.test(path))
				return;
			this.problem('console error', text, loc.url || pageUrl);
			return;
		}
		this.problem('console error', text, pageUrl);
	}

	// A screenshot of PAGE as tests/artifacts/NAME.png (full page).
	async shot(page, name) {
		mkdirSync(ARTIFACTS, { recursive: true });
		const path = join(ARTIFACTS, slugify(name) + '.png');
		await page.screenshot({ path, fullPage: true });
		return path;
	}

	async failureShots() {
		const dir = join(ARTIFACTS, 'failed');
		const saved = [];
		let i = 0;
		for (const c of this.contexts) {
			for (const p of c.pages()) {
				if (p.url() === 'about:blank')
					continue;
				i++;
				const path = join(dir, `${slugify(this.name)}-${i}.png`);
				try {
					mkdirSync(dir, { recursive: true });
					await p.screenshot({ path, fullPage: true, timeout: 10000 });
					saved.push(`${path} (${p.url()})`);
				} catch (e) {
					// a closed or crashed page: nothing to save
				}
			}
		}
		return saved;
	}

	async close() {
		for (const c of this.contexts) {
			try {
				await c.close();
			} catch (e) {
				// already gone
			}
		}
		this.contexts = [];
	}
}

// An error as a few readable lines: its message and where in the tests it
// was thrown (not node's or playwright's internals).
function describe(e) {
	const lines = String((e && e.stack) || e).replace(/\x1b\[[0-9;]*m/g, '').split('\n');
	const msg = [];
	const at = [];
	for (const l of lines) {
		if (/^\s+at /.test(l)) {
			if (/\/tests\/browser\//.test(l) && !/\/lib\/harness\.mjs|\/runner\.mjs/.test(l))
				at.push(l.trim());
		} else {
			msg.push(l);
		}
	}
	return msg.concat(at.slice(0, 3)).join('\n');
}

function withTimeout(promise, ms, what) {
	let timer;
	const guard = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms / 1000} s (guard)`)), ms);
	});
	return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

export async function launch() {
	return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60000 });
}

// run(env, tests): runs them in order; prints one line per test and, last,
// "N passed, M failed".  Resolves to the number failed.
export async function run(env, tests, out = console.log) {
	let browser = null;
	let passed = 0;
	let failed = 0;
	for (const tc of tests) {
		const label = `${tc.file}: ${tc.name}`;
		const t0 = Date.now();
		let t = null;
		let error = null;
		let shots = [];
		try {
			if (!browser || !browser.isConnected())
				browser = await launch();
			t = new TestContext(browser, env, tc.name);
			// the test's first context and page: t.context, t.page
			const first = await t.newContext();
			t.context = first.context;
			t.page = first.page;
			await withTimeout(tc.fn(t), tc.timeout, tc.name);
			// let late console messages and violation reports arrive
			for (const c of t.contexts)
				for (const p of c.pages())
					await quiet(p, 300, 5000).catch(() => {});
		} catch (e) {
			error = e;
		}
		if (t && t.problems.length) {
			const list = t.problems.map((p) => '      ' + p).join('\n');
			const msg = `the pages reported ${t.problems.length} problem(s):\n${list}`;
			error = new Error(error ? `${describe(error)}\nand ${msg}` : msg);
			error.stack = error.message;
		}
		if (error && t)
			shots = await t.failureShots();
		if (t)
			await t.close();
		const secs = ((Date.now() - t0) / 1000).toFixed(1);
		if (error) {
			failed++;
			out(`FAIL ${label} (${secs} s)`);
			out('    ' + describe(error).split('\n').join('\n    '));
			for (const s of shots)
				out(`    screenshot: ${s}`);
		} else {
			passed++;
			out(`ok   ${label} (${secs} s)`);
		}
		if (t)
			for (const n of t.notes)
				out(`    note: ${n}`);
	}
	if (browser)
		await browser.close().catch(() => {});
	out(`${passed} passed, ${failed} failed`);
	return failed;
}
