// The harness itself: the watch that fails a test on a CSP violation does
// see one, and the __Host- session cookies work over the stack's
// http://127.0.0.1 origin (Chromium counts loopback as a secure context).

import { test } from './lib/harness.mjs';
import { assert, newAccount, url, until } from './lib/helpers.mjs';

test('harness: an inline script on a page is reported as a CSP violation', async (t) => {
	const { page } = t;
	await page.goto(url(t.env, '/login'));
	await page.locator('main').waitFor();
	assert.equal(t.problems.length, 0, t.problems.join('; '));
	// what a page's own code might do: an inline script element
	await page.evaluate(() => {
		const s = document.createElement('script');
		s.textContent = 'window.__inlineRan = true';
		document.body.append(s);
	});
	await until(() => t.problems.some((p) => p.startsWith('CSP violation')), 'the violation report');
	assert.equal(await page.evaluate(() => window.__inlineRan === true), false,
	    'the inline script ran: the page has no script-src CSP');
	// seen, so the watch works; this test's own violation is not a fault
	t.problems.length = 0;
});

test('harness: the __Host- session cookies are set and sent over the public origin', async (t) => {
	const acct = await newAccount(t.env, 'cookie');
	const { page, context } = t;
	await page.goto(url(t.env, '/login'));
	const r = await page.request.post(url(t.env, '/api/v1/auth/login'), {
		data: { email: acct.email, password: acct.password },
		headers: { Origin: t.env.PUBLIC_ORIGIN },
	});
	assert.equal(r.status(), 200, await r.text());
	const cookies = await context.cookies(t.env.PUBLIC_ORIGIN);
	const names = cookies.map((c) => c.name).sort();
	for (const n of ['__Host-apx_access', '__Host-apx_csrf', '__Host-apx_refresh'])
		assert.ok(names.includes(n), `cookie ${n} not set (cookies: ${names.join(', ')})`);
	for (const c of cookies.filter((c) => c.name.startsWith('__Host-'))) {
		assert.equal(c.secure, true, `${c.name} is not Secure`);
		assert.equal(c.path, '/', `${c.name} path ${c.path}`);
	}
	// the page's own fetch carries them
	const me = await page.evaluate(async () => {
		const r = await fetch('/api/v1/me', { credentials: 'same-origin' });
		return { status: r.status, body: await r.json() };
	});
	assert.equal(me.status, 200, JSON.stringify(me.body));
	assert.equal(me.body.user.email, acct.email);
});
