// /app: the signed-in person's organisations.  The shell: who is signed in,
// the organisation switcher, the sections (one module each, loaded when
// first shown), the impersonation banner.  /app/NAME shows section NAME;
// ?org=SLUG picks the organisation.

import { get, currentUser, signOut } from './api.js';
import { impersonationBanner } from './banner.js';
import { $, clearMessages, showError, showNotice } from './ui.js';
import { sectionOf, showSection, wireSections } from './common.js';

const SECTIONS = ['orgs', 'members', 'workspaces', 'api-keys', 'sso', 'connectors',
	'retention', 'privacy', 'audit', 'account'];
const ORG_KEY = 'apx.org';

const ctx = {
	me: null,
	orgs: [],
	org: null,		// the selected org {id, slug, name, plan, region, role}
	config: { sign_in: {}, regions: [] },
	impersonating: null,
	reloadOrgs,
	selectOrg,
	show,
};

async function reloadOrgs(pick) {
	const r = await get('/api/v1/orgs');
	ctx.orgs = r.orgs || [];
	const sel = $('#org-switcher');
	sel.replaceChildren(...ctx.orgs.map((o) => {
		const opt = document.createElement('option');
		opt.value = o.slug;
		opt.textContent = o.name + ' (' + o.slug + ')';
		return opt;
	}));
	if (!ctx.orgs.length) {
		const opt = document.createElement('option');
		opt.value = '';
		opt.textContent = 'No organisation yet';
		sel.append(opt);
	}
	selectOrg(pick || (ctx.org && ctx.org.slug) || localStorage.getItem(ORG_KEY), false);
}

function selectOrg(slug, rerender = true) {
	ctx.org = ctx.orgs.find((o) => o.slug === slug) || ctx.orgs[0] || null;
	$('#org-switcher').value = ctx.org ? ctx.org.slug : '';
	if (ctx.org)
		localStorage.setItem(ORG_KEY, ctx.org.slug);
	if (rerender)
		show(current, false);
}

let current = 'orgs';
const loaded = {};

async function show(name, push = true) {
	current = name;
	if (push) {
		const q = ctx.org ? '?org=' + encodeURIComponent(ctx.org.slug) : '';
		history.pushState(null, '', '/app/' + name + q);
	}
	const root = showSection(SECTIONS, name);
	try {
		loaded[name] = loaded[name] || await import('./sec-' + name + '.js');
		root.replaceChildren();
		root.setAttribute('aria-busy', 'true');
		await loaded[name].render(ctx, root);
	} catch (e) {
		showError(e);
	} finally {
		root.removeAttribute('aria-busy');
	}
}

async function init() {
	ctx.impersonating = impersonationBanner();
	let me;
	try {
		me = await currentUser();
	} catch (e) {
		showError(e);
		return;
	}
	if (!me) {
		location.replace('/login?return_to=' + encodeURIComponent(location.pathname));
		return;
	}
	ctx.me = me.user;
	$('#user-menu').textContent = ctx.me.email;
	$('#admin-link').hidden = !ctx.me.is_superuser || !!ctx.impersonating;
	ctx.config = await get('/api/v1/client-config').catch(() => ctx.config);

	$('#signout').addEventListener('click', async () => {
		if (ctx.impersonating) {
			$('#impersonation-end').click();
			return;
		}
		await signOut();
		localStorage.removeItem(ORG_KEY);
		location.assign('/login');
	});
	$('#org-switcher').addEventListener('change', (ev) => {
		clearMessages();
		selectOrg(ev.target.value);
	});
	wireSections('/app', SECTIONS, 'orgs', show);

	const params = new URLSearchParams(location.search);
	await reloadOrgs(params.get('org'));
	if (params.get('error'))
		showError(params.get('error'));
	else if (params.get('linked'))
		showNotice('Linked: you can now sign in with ' + params.get('linked') + '.');
	else if (params.get('connected'))
		showNotice('Connected ' + params.get('connected') + '.');
	const name = sectionOf('/app', SECTIONS, location.pathname) || (ctx.orgs.length ? 'members' : 'orgs');
	history.replaceState(null, '', '/app/' + name + (ctx.org ? '?org=' + encodeURIComponent(ctx.org.slug) : ''));
	await show(name, false);
}

init();
