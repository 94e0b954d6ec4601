// /app/connectors: Shopify, QuickBooks (Intuit) and Xero.  Each card: the
// settings the org gives the connector, Connect (to the provider's consent
// page), and the connections made: granted scopes, "needs re-auth", sync.

import { get, post, put, patch, del, seg } from './api.js';
import { el, busy, showNotice, fmtTime } from './ui.js';
import { head, field, select, orgPath } from './common.js';

export async function render(ctx, root) {
	if (!head(ctx, root, 'Connectors', { role: 'admin',
	    intro: 'Bring sales data in from your shop or accounting system.' }))
		return;
	const [{ connectors }, { connections }, { workspaces }] = await Promise.all([
		get('/api/v1/connectors'), get(orgPath(ctx, '/connections')),
		get(orgPath(ctx, '/workspaces'))]);
	const cards = el('div', { class: 'cards' });
	for (const c of connectors) {
		const config = c.config.length ? (await get(orgPath(ctx, '/connectors/' + seg(c.name) + '/config'))).config : {};
		cards.append(card(ctx, c, config, connections.filter((x) => x.connector === c.name), workspaces));
	}
	if (!connectors.length)
		cards.append(el('p', { class: 'hint', text: 'No connector is installed on this server.' }));
	root.append(cards);
}

function card(ctx, c, config, conns, workspaces) {
	const inputs = {};
	const fields = c.config.map((f) => {
		const cur = config[f.name];
		const attrs = { name: f.name, type: f.secret ? 'password' : 'text', maxlength: f.max_length || undefined,
			class: 'config-' + f.name + (c.name === 'shopify' && f.name === 'shop' ? ' shop-domain' : ''),
			placeholder: f.secret ? '' : f.description || '', autocomplete: 'off' };
		if (!f.secret && typeof cur === 'string')
			attrs.value = cur;
		inputs[f.name] = el('input', attrs);
		return field(f.name.replace(/_/g, ' ') + (f.required ? '' : ' (optional)'), inputs[f.name],
		    f.secret ? (cur && cur.set ? 'Set; leave empty to keep it.' : f.description) : f.description);
	});
	const connect = el('button', { type: 'button', class: 'connect', text: conns.length ? 'Connect another' : 'Connect' });
	connect.addEventListener('click', () => busy(connect, async () => {
		const change = {};
		for (const f of c.config) {
			const v = inputs[f.name].value.trim();
			if (v && (f.secret || v !== config[f.name]))
				change[f.name] = v;
		}
		if (Object.keys(change).length)
			await put(orgPath(ctx, '/connectors/' + seg(c.name) + '/config'), change);
		const r = await post(orgPath(ctx, '/connectors/' + seg(c.name) + '/connect'));
		location.assign(r.authorize_url);
	}));
	const list = el('ul', { class: 'plain' }, ...conns.map((x) => connection(ctx, c, x, workspaces)));
	const status = conns.length ? (conns.some((x) => x.status === 'needs_reauth') ? 'Needs re-auth' : 'Connected') : 'Not connected';
	return el('div', { class: 'connector', dataset: { connector: c.name } },
	    el('h2', {}, c.display_name || c.name),
	    el('p', { class: 'status' }, status),
	    el('p', { class: 'hint' }, 'Asks for: ', c.scopes.join(', ')),
	    ...fields,
	    el('div', { class: 'buttons' }, connect),
	    list);
}

function connection(ctx, c, x, workspaces) {
	const path = orgPath(ctx, '/connections/' + seg(x.id));
	const accounts = (x.accounts || []).map((a) => a.name || a.id).join(', ');
	const sync = el('button', { type: 'button', class: 'secondary', text: 'Sync now' });
	const check = el('button', { type: 'button', class: 'secondary', text: 'Check' });
	const disconnect = el('button', { type: 'button', class: 'disconnect secondary', text: 'Disconnect' });
	const progress = el('progress', { hidden: true, 'aria-label': 'Sync progress' });
	const syncText = el('span', { class: 'hint sync-state' });
	const showSync = (s) => {
		s = s || {};
		syncText.textContent = 'Sync: ' + (s.state || 'never') +
		    (s.last_success_at ? ', last ' + fmtTime(s.last_success_at) : '') +
		    (s.records ? ', ' + s.records + ' records' : '') +
		    (s.last_error ? ' (' + s.last_error + ')' : '');
		progress.hidden = s.state !== 'running';
	};
	showSync(x.sync);
	sync.addEventListener('click', () => busy(sync, async () => {
		await post(path + '/sync');
		progress.hidden = false;
		syncText.textContent = 'Sync: queued';
		// follow the job until it ends (the job runner picks it up)
		for (let i = 0; i < 120; i++) {
			await new Promise((r) => setTimeout(r, 2000));
			const { connection: now } = await get(path);
			showSync(now.sync);
			if (now.sync && now.sync.state !== 'running' && now.sync.started_at &&
			    (!x.sync || now.sync.started_at !== x.sync.started_at))
				break;
		}
	}));
	check.addEventListener('click', () => busy(check, async () => {
		await post(path + '/check');
		showNotice('The connection works.');
	}));
	disconnect.addEventListener('click', () => {
		if (!window.confirm('Disconnect ' + (accounts || c.name) + '? Its access is revoked.'))
			return;
		busy(disconnect, async () => {
			await del(path);
			showNotice('Disconnected.');
			await ctx.show('connectors', false);
		});
	});
	const ws = select('workspace_id', [['', 'First workspace'], ...workspaces.map((w) => [String(w.id), w.name])],
	    x.workspace_id ? String(x.workspace_id) : '', { 'aria-label': 'Workspace for its sales data' });
	ws.addEventListener('change', () => busy(ws, async () => {
		await patch(path, { workspace_id: ws.value ? Number(ws.value) : null });
		showNotice('Its sales data goes to the chosen workspace from the next sync.');
	}));
	const reauth = x.status === 'needs_reauth';
	return el('li', { dataset: { connectionId: String(x.id) } },
	    el('strong', {}, accounts || 'Connection ' + x.id), ' ',
	    el('span', { class: reauth ? 'badge warn' : 'badge ok' }, reauth ? 'needs re-auth' : 'active'),
	    el('p', { class: 'hint' }, 'Granted: ' + ((x.scopes || []).join(', ') || '—')),
	    reauth ? el('p', {}, 'The provider no longer accepts this connection: press Connect to grant access again.') : '',
	    x.last_error && !reauth ? el('p', { class: 'hint' }, 'Last error: ' + x.last_error) : '',
	    syncText, progress,
	    field('Workspace', ws),
	    el('div', { class: 'buttons' }, sync, check, disconnect));
}
