// /app/retention: how long uploads are kept, for the organisation and per
// workspace (empty: kept until deleted).

import { get, put } from './api.js';
import { el, onSubmit, showNotice } from './ui.js';
import { head, field, orgPath } from './common.js';

export async function render(ctx, root) {
	if (!head(ctx, root, 'Retention', { role: 'admin', plan: 'growth',
	    intro: 'Uploads older than this are deleted with their forecasts, every night.' }))
		return;
	const [{ retention }, { workspaces }] = await Promise.all([
		get(orgPath(ctx, '/retention')), get(orgPath(ctx, '/workspaces'))]);
	const per = new Map((retention.workspaces || []).map((w) => [w.workspace_id, w.upload_days]));
	const days = (name, value, label) => field(label, el('input', { name, type: 'number', min: 1, max: 3650,
		value: value === null || value === undefined ? '' : value, placeholder: 'keep' }));
	const form = el('form', { id: 'retention-form', novalidate: true },
	    days('upload_days', retention.upload_days, 'Keep uploads for (days), whole organisation'),
	    el('h2', { text: 'Per workspace' }),
	    ...workspaces.map((w) => days('ws-' + w.id, per.get(w.id), w.name + ' (days)')),
	    el('button', { type: 'submit', text: 'Save retention' }));
	onSubmit(form, async (v) => {
		const body = { upload_days: v.upload_days ? Number(v.upload_days) : null, workspaces: [] };
		for (const w of workspaces)
			if (v['ws-' + w.id])
				body.workspaces.push({ workspace_id: w.id, upload_days: Number(v['ws-' + w.id]) });
		await put(orgPath(ctx, '/retention'), body);
		showNotice('Retention saved.');
	});
	root.append(form);
}
