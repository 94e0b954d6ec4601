// A page on another origin cannot make a state-changing call with the
// signed-in person's cookies.  The attacker's pages come from a throwaway
// server on another port: http://127.0.0.1:OTHER is another origin but the
// same site (SameSite=Lax cookies do travel with its requests, so only the
// app's own checks, Origin and the CSRF token, stand in the way), and
// http://localhost:OTHER is another site.  Each tries, with the browser's
// cookies: fetch() with JSON (preflighted), fetch() as a "simple" request
// (no preflight, text/plain), and plain HTML form posts (urlencoded, and
// text/plain shaped as JSON).  None may create the org it asks for.

import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { test } from './lib/harness.mjs';
import { assert, Api, newAccount, signIn, uniqueSlug, until } from './lib/helpers.mjs';

// The access log's size now, and the statuses of the POST /api/v1/orgs
// it logged since (null without an access log).
function logSize(env) {
	try {
		return statSync(env.ACCESS_LOG).size;
	} catch (e) {
		return null;
	}
}

function orgPosts(env, from) {
	if (from === null)
		return null;
	const buf = readFileSync(env.ACCESS_LOG);
	return buf.subarray(from).toString('utf8').split('\n')
	    .map((l) => /"POST \/api\/v1\/orgs HTTP\/[0-9.]+" ([0-9]{3})/.exec(l))
	    .filter(Boolean).map((m) => Number(m[1]));
}

function esc(s) {
	return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// The attacker's site: GET /fetch?target=…&slug=… and /form?… pages.
function attackerServer() {
	const server = createServer((req, res) => {
		const u = new URL(req.url, 'http://x');
		const target = u.searchParams.get('target') || '';
		const slug = u.searchParams.get('slug') || '';
		let body;
		if (u.pathname === '/fetch') {
			// two fetches: JSON (needs a preflight) and a "simple" text/plain
			// one; each result is written into the page for the test to read
			body = `<!doctype html><title>fetch</title><pre id="out">running</pre>
<script>
const target = ${JSON.stringify(target)};
const slug = ${JSON.stringify(slug)};
async function attempt(name, init) {
	try {
		const r = await fetch(target + '/api/v1/orgs', Object.assign({ method: 'POST', credentials: 'include' }, init));
		return name + ': status ' + r.status + ' type ' + r.type;
	} catch (e) {
		return name + ': refused (' + e.name + ')';
	}
}
(async () => {
	const out = [];
	out.push(await attempt('json', { headers: { 'Content-Type': 'application/json' },
	    body: JSON.stringify({ name: 'evil', slug: slug + '_j' }) }));
	out.push(await attempt('simple', { mode: 'no-cors', headers: { 'Content-Type': 'text/plain' },
	    body: JSON.stringify({ name: 'evil', slug: slug + '_s' }) }));
	out.push(await attempt('simple-cors', { headers: { 'Content-Type': 'text/plain' },
	    body: JSON.stringify({ name: 'evil', slug: slug + '_c' }) }));
	document.getElementById('out').textContent = out.join('\\n');
	document.title = 'done';
})();
</script>`;
		} else if (u.pathname === '/form') {
			// enctype text/plain makes the body name=value, here shaped so
			// that it reads as JSON: {"name":"evil","slug":"…","x":"="}
			const kind = u.searchParams.get('kind');
			const fields = kind === 'plain' ?
			    `<input type="hidden" name='${esc(`{"name":"evil","slug":"${slug}_p","x":"`)}' value='"}'>` :
			    `<input type="hidden" name="name" value="evil"><input type="hidden" name="slug" value="${esc(slug + '_u')}">`;
			const enctype = kind === 'plain' ? 'text/plain' : 'application/x-www-form-urlencoded';
			body = `<!doctype html><title>form</title>
<form id="f" method="post" action="${esc(target)}/api/v1/orgs" enctype="${enctype}">${fields}</form>
<script>document.getElementById('f').submit();</script>`;
		} else {
			res.writeHead(404).end();
			return;
		}
		res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
		res.end(body);
	});
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('another origin cannot make a state-changing call with the signed-in browser\'s cookies', async (t) => {
	const acct = await newAccount(t.env, 'csrf');
	const api = await new Api(t.env).login(acct.email, acct.password);
	const server = await attackerServer();
	const port = server.address().port;
	try {
		const { page, context } = t;
		await signIn(page, t.env, acct);
		// the cookies are there: a same-origin write works (the control case)
		const control = uniqueSlug('ctl');
		const ok = await page.evaluate(async (slug) => {
			const csrf = document.cookie.split('; ').find((c) => c.startsWith('__Host-apx_csrf='));
			const r = await fetch('/api/v1/orgs', {
				method: 'POST', credentials: 'same-origin',
				headers: { 'Content-Type': 'application/json',
				    'X-CSRF-Token': decodeURIComponent(csrf.split('=')[1]) },
				body: JSON.stringify({ name: 'control', slug }),
			});
			return r.status;
		}, control);
		assert.equal(ok, 201, 'the same-origin control write failed: the test proves nothing');

		const slugs = [];
		const target = t.env.PUBLIC_ORIGIN;
		for (const host of ['127.0.0.1', 'localhost']) {
			const site = `http://${host}:${port}`;
			const slug = uniqueSlug(host === 'localhost' ? 'xsite' : 'xorig');
			slugs.push(`${slug}_j`, `${slug}_s`, `${slug}_c`, `${slug}_u`, `${slug}_p`);
			const evil = await context.newPage();
			// what the app answered (the page itself may not read a
			// cross-origin answer): the web server's access log
			const from = logSize(t.env);
			await evil.goto(`${site}/fetch?target=${encodeURIComponent(target)}&slug=${slug}`);
			await evil.waitForFunction(() => document.title === 'done');
			// (Apache writes a line once its answer is sent: wait for both)
			const answers = from === null ? null : await until(() => {
				const a = orgPosts(t.env, from);
				return a.length >= 2 && a;
			}, 'the two simple requests in the access log').catch(() => orgPosts(t.env, from));
			t.note(`${host}: ${(await evil.locator('#out').textContent()).split('\n').join('; ')}; ` +
			    `the app answered ${answers === null ? '(no access log)' : answers.join(', ')}`);
			if (answers !== null) {
				// the two simple requests go without a preflight: they reach
				// the app, which must refuse them
				assert.ok(answers.length >= 2, `the simple requests did not reach the app: ${answers}`);
				assert.ok(answers.every((st) => st >= 400), `the app accepted a fetch from ${site}: ${answers}`);
			}
			for (const kind of ['urlencoded', 'plain']) {
				const answer = evil.waitForResponse((r) => r.url() === target + '/api/v1/orgs' &&
				    r.request().method() === 'POST');
				await evil.goto(`${site}/form?kind=${kind}&target=${encodeURIComponent(target)}&slug=${slug}`);
				const r = await answer;
				t.note(`${host}: form ${kind}: status ${r.status()}`);
				assert.ok(r.status() >= 400, `the ${kind} form post from ${site} got ${r.status()}`);
			}
			await evil.close();
		}
		const { orgs } = await api.get('/api/v1/orgs');
		const have = orgs.map((o) => o.slug);
		assert.ok(have.includes(control), `the control org ${control} is missing: ${have}`);
		const made = slugs.filter((s) => have.includes(s));
		assert.deepEqual(made, [], `another origin created orgs: ${made.join(', ')}`);
	} finally {
		server.close();
	}
});
