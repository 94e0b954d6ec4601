// The read-only banner of "view as" (impersonation), on every page of /app
// and /admin of the tab that holds the token: who is viewed, until when,
// and End (revokes the token; the console's own call never carries it).

import { del, ApiError, impersonation, setImpersonation } from './api.js';
import { $, showError } from './ui.js';

export function impersonationBanner() {
	const imp = impersonation();
	const banner = $('#impersonation-banner');
	if (!imp || !banner)
		return null;
	$('#impersonation-text').textContent = 'Viewing as ' + (imp.email || 'user ' + imp.user_id) +
	    ', read-only: nothing can be changed. Ends ' +
	    new Date(imp.expires_at).toLocaleTimeString() + '.';
	banner.hidden = false;
	$('#impersonation-end').addEventListener('click', async () => {
		try {
			await del('/admin/api/impersonate/' + encodeURIComponent(imp.id), undefined, { asSelf: true });
		} catch (e) {
			if (!(e instanceof ApiError) || e.status !== 404)
				showError(e);
		}
		setImpersonation(null);
		location.assign('/admin/users');
	});
	return imp;
}
