// The org pages that leave the app or bring a file back: connecting the
// Shopify stand-in through its consent redirect and disconnecting it, and
// Settings → Privacy's export download and the erasure confirmation.

import { readFileSync } from 'node:fs';
import { test } from './lib/harness.mjs';
import { assert, newAccount, newOrg, signIn, shownText, until, url } from './lib/helpers.mjs';

async function sectionReady(page, name) {
	const sec = page.locator(`section#sec-${name}`);
	await sec.waitFor({ state: 'visible' });
	await until(async () => (await sec.getAttribute('aria-busy')) === null &&
	    (await sec.locator('h1').count()) > 0, `section ${name} rendered`);
}

test('connectors: connect the Shopify stand-in and disconnect it', async (t) => {
	assert.ok(t.env.PROVIDERS_URL && t.env.DEMO_SHOP, 'stack.env lacks PROVIDERS_URL/DEMO_SHOP');
	const acct = await newAccount(t.env, 'shop');
	const { slug, api } = await newOrg(t.env, acct, 'shop');
	const { page } = t;
	// Disconnect asks "are you sure?"
	page.on('dialog', (d) => d.accept());
	await signIn(page, t.env, acct);
	await page.goto(url(t.env, `/app/connectors?org=${slug}`));
	await sectionReady(page, 'connectors');
	const card = page.locator('div.connector[data-connector="shopify"]');
	await card.waitFor();
	for (const name of ['intuit', 'xero'])
		await page.locator(`div.connector[data-connector="${name}"] button.connect`).waitFor();
	await card.locator('input.shop-domain').fill(t.env.DEMO_SHOP);
	await t.shot(page, 'app-connectors');
	// the stand-in's authorize page consents at once and sends the browser back
	const provider = new URL(t.env.PROVIDERS_URL).origin;
	const visited = page.waitForRequest((r) => r.isNavigationRequest() && r.url().startsWith(provider + '/shopify/'));
	await card.locator('button.connect').click();
	await visited;
	await page.waitForURL((u) => u.origin === t.env.PUBLIC_ORIGIN && u.pathname.startsWith('/app/connectors'));
	assert.ok(!new URL(page.url()).searchParams.get('error'), `came back with an error: ${page.url()}`);
	await sectionReady(page, 'connectors');
	await until(async () => /connected/i.test(await card.locator('.status').textContent()) &&
	    !/not connected/i.test(await card.locator('.status').textContent()),
	    'the Shopify card saying connected');
	const { connections } = await api.get(`/api/v1/orgs/${slug}/connections`);
	assert.equal(connections.filter((c) => c.connector === 'shopify').length, 1, JSON.stringify(connections));
	await t.shot(page, 'app-connectors-connected');

	await card.locator('button.disconnect').click();
	await shownText(page, '#notice');
	await until(async () => /not connected/i.test(await card.locator('.status').textContent()),
	    'the Shopify card saying not connected');
	const after = await api.get(`/api/v1/orgs/${slug}/connections`);
	assert.equal(after.connections.filter((c) => c.connector === 'shopify' && c.status !== 'revoked' &&
	    !c.revoked_at).length, 0, JSON.stringify(after.connections));
});

test('privacy: the export downloads a file; erasure asks for confirmation first', async (t) => {
	const acct = await newAccount(t.env, 'priv');
	const { slug, api } = await newOrg(t.env, acct, 'priv');
	const { page } = t;
	await signIn(page, t.env, acct);
	await page.goto(url(t.env, `/app/privacy?org=${slug}`));
	await sectionReady(page, 'privacy');
	await page.locator('button#export-start').click();
	const link = page.locator('a#export-download');
	await link.waitFor({ state: 'visible' });
	const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
	const file = await download.path();
	const data = JSON.parse(readFileSync(file, 'utf8'));
	assert.ok(data.format && data.generated_at, `not an export: ${JSON.stringify(data).slice(0, 200)}`);
	assert.match(download.suggestedFilename(), /\.json$/);
	await t.shot(page, 'app-privacy');

	// erasure: the dialog opens, and cancelling it erases nothing
	await page.locator('button#erasure-start').click();
	const dialog = page.locator('dialog#erasure-dialog');
	await dialog.waitFor({ state: 'visible' });
	assert.equal(await dialog.evaluate((d) => d.open), true);
	await t.shot(page, 'app-privacy-erasure-dialog');
	await dialog.locator('button', { hasText: 'Cancel' }).click();
	await dialog.waitFor({ state: 'hidden' });
	const { org } = await api.get(`/api/v1/orgs/${slug}`);
	assert.equal(org.slug, slug);
});
