// Every page at 360 px: no sideways scroll, every form control labelled,
// and (as in every test) no CSP violation and no console error.  Each page
// is saved under tests/artifacts/ at 360 px and on a desktop.

import { quiet, test } from './lib/harness.mjs';
import {
	assert, assertNoHorizontalScroll, newAccount, newOrg, unlabelledControls, until, url,
} from './lib/helpers.mjs';

const APP_SECTIONS = ['orgs', 'members', 'workspaces', 'api-keys', 'sso', 'connectors',
	'retention', 'privacy', 'audit', 'account'];
// what each section shows at once (the pages' contract)
const SECTION_PARTS = {
	orgs: ['form#org-create-form', '#org-name', '#org-slug', 'select#org-region'],
	members: ['table#member-list', 'form#invite-form', '#invite-email', '#invite-role', 'ul#invitation-list'],
	'api-keys': ['form#apikey-create-form', '#apikey-name', '#apikey-role', 'table#apikey-list'],
	connectors: ['div.connector[data-connector=shopify] input.shop-domain',
		'div.connector[data-connector=shopify] button.connect',
		'div.connector[data-connector=intuit] button.connect',
		'div.connector[data-connector=xero] button.connect'],
	privacy: ['button#export-start', 'button#erasure-start', 'dialog#erasure-dialog'],
	account: ['form#password-form', 'ul#session-list', 'ul#identity-list', '#mfa-section'],
};
const ADMIN_SECTIONS = ['orgs', 'users', 'settings', 'audit', 'compliance'];
const PUBLIC_PAGES = ['/login', '/register', '/reset-password', '/verify-email', '/invitations'];

const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

async function settle(page) {
	await page.locator('main').waitFor();
	await quiet(page);
}

async function sectionReady(page, name) {
	const sec = page.locator(`section#sec-${name}`);
	await sec.waitFor({ state: 'visible' });
	await until(async () => (await sec.getAttribute('aria-busy')) === null &&
	    (await sec.locator('h1, h2').count()) > 0, `section ${name} rendered`);
	await settle(page);
}

async function checkPage(t, page, what, shotName, { messages = true } = {}) {
	await assertNoHorizontalScroll(page, what);
	const bare = await unlabelledControls(page);
	assert.deepEqual(bare, [], `${what}: form controls without a label`);
	assert.equal(await page.locator('main').count(), 1, `${what}: no single <main>`);
	if (messages)
		await checkMessages(page, what);
	if (shotName)
		await t.shot(page, shotName);
}

// the pages with a script have their #error and #notice regions
async function checkMessages(page, what) {
	assert.equal(await page.locator('#error[role=alert]').count(), 1, `${what}: no #error[role=alert]`);
	assert.equal(await page.locator('#notice[role=status]').count(), 1, `${what}: no #notice[role=status]`);
}

test('360 px: the public pages have no horizontal scroll and labelled controls', async (t) => {
	const { page } = await t.newContext(PHONE);
	for (const p of PUBLIC_PAGES) {
		await page.goto(url(t.env, p));
		await settle(page);
		await checkPage(t, page, p, '360' + p.replace(/\//g, '-'));
	}
	// the app's own page, linked from every footer (static, no script)
	await page.goto(url(t.env, '/security/disclosure'));
	await settle(page);
	await checkPage(t, page, '/security/disclosure', '360-security-disclosure', { messages: false });
});

test('360 px: every /app section has no horizontal scroll and labelled controls', async (t) => {
	const acct = await newAccount(t.env, 'phone');
	const { slug } = await newOrg(t.env, acct, 'phone');
	for (const [label, opts] of [['360', PHONE], ['desktop', {}]]) {
		const { page } = await t.newContext(opts);
		await page.goto(url(t.env, '/login'));
		await page.locator('form#login-form #email').fill(acct.email);
		await page.locator('form#login-form #password').fill(acct.password);
		await page.locator('form#login-form [type=submit]').click();
		await page.waitForURL((u) => u.pathname.startsWith('/app'));
		for (const s of APP_SECTIONS) {
			await page.goto(url(t.env, `/app/${s}?org=${slug}`));
			await sectionReady(page, s);
			for (const sel of SECTION_PARTS[s] || [])
				assert.equal(await page.locator(`section#sec-${s} ${sel}`).count(), 1,
				    `/app/${s}: no ${sel}`);
			await checkPage(t, page, `/app/${s} (${label})`, `${label}-app-${s}`);
		}
	}
});

test('360 px: every /admin section has no horizontal scroll and labelled controls', async (t) => {
	assert.ok(t.env.ADMIN_EMAIL && t.env.ADMIN_PASSWORD, 'stack.env has no ADMIN_EMAIL/ADMIN_PASSWORD');
	for (const [label, opts] of [['360', PHONE], ['desktop', {}]]) {
		const { page } = await t.newContext(opts);
		await page.goto(url(t.env, '/login?return_to=/admin'));
		await page.locator('form#login-form #email').fill(t.env.ADMIN_EMAIL);
		await page.locator('form#login-form #password').fill(t.env.ADMIN_PASSWORD);
		await page.locator('form#login-form [type=submit]').click();
		await page.waitForURL((u) => u.pathname.startsWith('/admin'));
		for (const s of ADMIN_SECTIONS) {
			await page.goto(url(t.env, `/admin/${s}`));
			await page.locator(`section#sec-${s}`).waitFor({ state: 'visible' });
			await page.locator(`section#sec-${s} h1`).waitFor();
			await settle(page);
			await checkPage(t, page, `/admin/${s} (${label})`, `${label}-admin-${s}`);
		}
	}
});
