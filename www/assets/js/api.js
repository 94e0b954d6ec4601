// The JSON API, as the pages call it: the same origin, the session cookies
// (__Host-apx_access, __Host-apx_refresh: HttpOnly, never seen here) and the
// CSRF token (__Host-apx_csrf, readable) echoed in X-CSRF-Token on writes.
// An expired access cookie is renewed once through /api/v1/auth/refresh.

const CSRF_COOKIE = '__Host-apx_csrf';
const REFRESH = '/api/v1/auth/refresh';
// An operator viewing as another user: the read-only impersonation token
// (10 minutes) kept in this tab only, sent as a Bearer token by the calls of
// /app, never by the console's (/admin) nor to /admin/api.
const IMPERSONATION = 'apx.impersonation';

export function impersonation() {
	try {
		const v = JSON.parse(sessionStorage.getItem(IMPERSONATION) || 'null');
		if (v && v.token && v.expires_at > Date.now())
			return v;
	} catch (e) {
		// unreadable: dropped below
	}
	sessionStorage.removeItem(IMPERSONATION);
	return null;
}

export function setImpersonation(v) {
	if (v)
		sessionStorage.setItem(IMPERSONATION, JSON.stringify(v));
	else
		sessionStorage.removeItem(IMPERSONATION);
}

export class ApiError extends Error {
	constructor(status, problem) {
		super((problem && (problem.detail || problem.title)) || 'HTTP ' + status);
		this.status = status;
		this.problem = problem || {};
		// the slug: the last segment of the problem type URL
		const type = String(this.problem.type || '');
		this.slug = type.slice(type.lastIndexOf('/') + 1) || 'http-' + status;
	}
}

export function csrfToken() {
	for (const part of document.cookie.split(';')) {
		const eq = part.indexOf('=');
		if (eq > 0 && part.slice(0, eq).trim() === CSRF_COOKIE)
			return decodeURIComponent(part.slice(eq + 1).trim());
	}
	return '';
}

function isWrite(method) {
	return method !== 'GET' && method !== 'HEAD';
}

async function send(method, path, body, extraHeaders, asSelf) {
	const headers = { Accept: 'application/json, application/problem+json' };
	// the console (/admin) and its API are always the operator's own
	const imp = asSelf || path.startsWith('/admin/api/') ||
	    location.pathname.startsWith('/admin') ? null : impersonation();
	if (imp)
		headers.Authorization = 'Bearer ' + imp.token;
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (isWrite(method)) {
		const t = csrfToken();
		if (t)
			headers['X-CSRF-Token'] = t;
	}
	Object.assign(headers, extraHeaders || {});
	return fetch(path, {
		method,
		headers,
		body: body === undefined ? undefined : JSON.stringify(body),
		credentials: 'same-origin',
		cache: 'no-store',
		redirect: 'manual',
	});
}

let refreshing = null;

// One refresh at a time however many calls found the access cookie stale.
export function refreshSession() {
	if (!refreshing) {
		refreshing = send('POST', REFRESH, {}, undefined, true)
			.then((r) => r.ok)
			.catch(() => false)
			.finally(() => { refreshing = null; });
	}
	return refreshing;
}

async function problemOf(r) {
	const ct = r.headers.get('Content-Type') || '';
	if (ct.includes('json')) {
		try {
			return await r.json();
		} catch (e) {
			return null;
		}
	}
	return null;
}

// api(method, path[, body[, {raw, noRefresh, headers}]]): the parsed JSON
// answer (null for 204), or the Response itself with raw; an ApiError for
// an error answer.  asSelf: the operator's own call while impersonating.
export async function api(method, path, body, opts = {}) {
	let r = await send(method, path, body, opts.headers, opts.asSelf);
	if (r.status === 401 && !opts.asSelf && impersonation()) {
		// the impersonation ended (or expired): back to the operator
		setImpersonation(null);
		r = await send(method, path, body, opts.headers, true);
	}
	if (r.status === 401 && !opts.noRefresh && path !== REFRESH &&
	    !path.startsWith('/api/v1/auth/')) {
		if (await refreshSession())
			r = await send(method, path, body, opts.headers, opts.asSelf);
	}
	if (!r.ok)
		throw new ApiError(r.status, await problemOf(r));
	if (opts.raw)
		return r;
	if (r.status === 204)
		return null;
	const ct = r.headers.get('Content-Type') || '';
	return ct.includes('json') ? r.json() : r.text();
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body === undefined ? {} : body, opts);
export const put = (path, body, opts) => api('PUT', path, body, opts);
export const patch = (path, body, opts) => api('PATCH', path, body, opts);
export const del = (path, body, opts) => api('DELETE', path, body, opts);

// A path segment from user-held values (slugs, ids).
export function seg(v) {
	return encodeURIComponent(String(v));
}

// The signed-in person, or null (401).
export async function currentUser() {
	try {
		return await get('/api/v1/me');
	} catch (e) {
		if (e instanceof ApiError && e.status === 401)
			return null;
		throw e;
	}
}

export async function signOut() {
	try {
		await post('/api/v1/auth/logout', {}, { noRefresh: true });
	} catch (e) {
		// already signed out: the cookies are gone either way
	}
}
