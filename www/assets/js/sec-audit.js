// /app/audit: the organisation's audit log.

import { head, orgPath } from './common.js';
import { auditView } from './audit-view.js';

export async function render(ctx, root) {
	if (!head(ctx, root, 'Audit log', { role: 'admin',
	    intro: 'Every change in this organisation, newest first. The log is a hash chain: entries cannot be altered.' }))
		return;
	await auditView(root, orgPath(ctx, '/audit-log'), 'audit-' + ctx.org.slug + '.jsonl');
}
