// Loopback OpenID Providers for AccuPredix's integration tests and dev stack.
//
// One node process, three oidc-provider instances on three loopback ports:
//   google    - issuer http://127.0.0.1:PG                 (Google-like paths, hd claim)
//   microsoft - discovery issuer http://127.0.0.1:PM/{tenantid}/v2.0 (literal template),
//               ID tokens iss = template with the user's tid; endpoints under /common
//   orgidp    - issuer http://127.0.0.1:PO                 (a plain per-organisation IdP)
//
// See README.md beside this file for the command line, config format, login sequence
// and the /_control API.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
import { promisify } from 'node:util';

// oidc-provider prints notices with console.info (stdout). stdout is reserved for the
// single "listening ..." line, so send everything console prints to stderr.
const toStderr = (...args) => process.stderr.write(`${args.map(String).join(' ')}\n`);
console.log = toStderr;
console.info = toStderr;

const NAMES = ['google', 'microsoft', 'orgidp'];
const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------
// command line

function parseArgs(argv) {
  const out = { portBase: undefined, config: undefined, pidfile: undefined, log: undefined };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`missing value for ${a}`);
      i += 1;
      return argv[i];
    };
    if (a === '--config') out.config = val();
    else if (a === '--port-base') out.portBase = Number.parseInt(val(), 10);
    else if (a === '--pidfile') out.pidfile = val();
    else if (a === '--log') out.log = val();
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!out.config) usage('--config is required');
  if (out.portBase !== undefined && (!Number.isInteger(out.portBase) || out.portBase < 0 || out.portBase > 65533)) {
    usage('--port-base must be 0..65533');
  }
  return out;
}

function usage(msg) {
  if (msg) process.stderr.write(`server.mjs: ${msg}\n`);
  process.stderr.write('usage: node server.mjs --config FILE [--port-base N] [--pidfile F] [--log F]\n');
  process.exit(2);
}

const args = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------
// keys

let keySerial = 0;
const generateKeyPair = promisify(crypto.generateKeyPair);
async function newSigningKeys(name) {
  keySerial += 1;
  const serial = keySerial;
  const tag = crypto.randomBytes(6).toString('hex');
  const [r, e] = await Promise.all([
    generateKeyPair('rsa', { modulusLength: 2048 }),
    generateKeyPair('ec', { namedCurve: 'P-256' }),
  ]);
  const rsa = r.privateKey.export({ format: 'jwk' });
  const ec = e.privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: `${name}-rsa-${serial}-${tag}`, alg: 'RS256', use: 'sig' },
    { ...ec, kid: `${name}-ec-${serial}-${tag}`, alg: 'ES256', use: 'sig' },
  ];
}

// RSA key generation runs on libuv's thread pool: start it before loading oidc-provider
const initialKeys = Promise.all(NAMES.map((name) => newSigningKeys(name)));

const { Provider, errors: oidcErrors } = await import('oidc-provider');


// ---------------------------------------------------------------------------
// logging: one line per request (time, provider, method, path without query, status).
// Path segments that could be handles (interaction uids, etc.) are masked; query
// strings, bodies and headers are never logged, so no token, code or password is.

const logStream = args.log ? fs.createWriteStream(args.log, { flags: 'a' }) : null;
function log(line) {
  const text = `${new Date().toISOString()} ${line}\n`;
  if (logStream) logStream.write(text);
  else process.stderr.write(text);
}
function maskPath(path) {
  // interaction/resume uids are 21-char nanoids; route names never hold digits,
  // capitals or underscores
  return path.split('/').map((seg) => (seg.length >= 16 && /[0-9A-Z_]/.test(seg) ? '*' : seg)).join('/');
}

// ---------------------------------------------------------------------------
// config

const config = JSON.parse(fs.readFileSync(args.config, 'utf8'));

const KIND_DEFAULTS = {
  google: {
    mount: '',
    routes: {
      authorization: '/o/oauth2/v2/auth',
      token: '/token',
      userinfo: '/v1/userinfo',
      jwks: '/oauth2/v3/certs',
      revocation: '/revoke',
      end_session: '/logout',
    },
    claims: {
      openid: ['sub', 'hd'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'picture', 'locale'],
    },
    idTokenAlways: ['hd'],
    conformIdTokenClaims: false, // Google puts email/name in the ID token
  },
  microsoft: {
    mount: '/common',
    routes: {
      authorization: '/oauth2/v2.0/authorize',
      token: '/oauth2/v2.0/token',
      userinfo: '/oidc/userinfo',
      jwks: '/discovery/v2.0/keys',
      revocation: '/oauth2/v2.0/revoke',
      end_session: '/oauth2/v2.0/logout',
    },
    claims: {
      openid: ['sub', 'tid', 'oid'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'oid', 'tid'],
    },
    idTokenAlways: ['tid', 'oid'],
    conformIdTokenClaims: false, // Microsoft puts email/name/preferred_username in the ID token
  },
  orgidp: {
    mount: '',
    routes: {},
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    },
    idTokenAlways: [],
    conformIdTokenClaims: true, // email etc. only from UserInfo (oidc-provider default)
  },
};

function hashHex(...parts) {
  return crypto.createHash('sha256').update(parts.join('\0')).digest('hex');
}
function guidFrom(hex) {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function normaliseUser(name, u) {
  const login = u.login || u.email;
  if (!login || typeof u.password !== 'string') {
    throw new Error(`${name}: every user needs login (or email) and password`);
  }
  let { sub } = u;
  if (!sub) {
    const h = hashHex(name, login);
    // Google's subs are long decimal strings; others are opaque.
    sub = name === 'google' ? BigInt(`0x${h.slice(0, 18)}`).toString().padStart(21, '1').slice(0, 21) : h.slice(0, 32);
  }
  const claims = { sub: String(sub) };
  for (const k of ['email', 'email_verified', 'name', 'given_name', 'family_name', 'preferred_username',
    'picture', 'locale', 'hd', 'tid', 'oid']) {
    if (u[k] !== undefined) claims[k] = u[k];
  }
  if (u.claims && typeof u.claims === 'object') Object.assign(claims, u.claims, { sub: claims.sub });
  if (name === 'microsoft') {
    if (!claims.tid) throw new Error(`microsoft user ${login}: tid is required`);
    if (!claims.oid) claims.oid = guidFrom(hashHex('oid', login));
    if (!claims.preferred_username) claims.preferred_username = login;
  }
  // iss_tid (microsoft, optional): the tenant put in the ID token's iss instead of tid,
  // for a token whose tid claim and issuer disagree. Not a claim itself.
  if (u.iss_tid !== undefined && (name !== 'microsoft' || typeof u.iss_tid !== 'string' || !u.iss_tid)) {
    throw new Error(`${name} user ${login}: iss_tid must be a non-empty string, microsoft only`);
  }
  return { login: String(login).toLowerCase(), password: u.password, claims, issTid: u.iss_tid };
}

function normaliseClient(c) {
  if (!c.client_id || !c.client_secret || !Array.isArray(c.redirect_uris)) {
    throw new Error('every client needs client_id, client_secret and redirect_uris');
  }
  const meta = {
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: c.token_endpoint_auth_method || 'client_secret_basic',
    id_token_signed_response_alg: c.id_token_signed_response_alg || 'RS256',
  };
  if (c.post_logout_redirect_uris) meta.post_logout_redirect_uris = c.post_logout_redirect_uris;
  return {
    meta,
    autoConsent: c.auto_consent !== false,
    // a client registered for client_secret_basic also accepts client_secret_post
    allowPost: c.allow_client_secret_post !== false,
  };
}

// ---------------------------------------------------------------------------
// per-provider in-memory adapter (oidc-provider's own memory adapter is shared by every
// instance in a process; this one is per provider and survives key rotation rebuilds)

function makeAdapter() {
  const store = new Map();
  const grants = new Map();
  const uids = new Map();
  const now = () => Date.now();
  const live = (key) => {
    const e = store.get(key);
    if (!e) return undefined;
    if (e.exp && e.exp < now()) { store.delete(key); return undefined; }
    return e.payload;
  };
  setInterval(() => {
    const t = now();
    for (const [k, e] of store) if (e.exp && e.exp < t) store.delete(k);
  }, 60_000).unref();
  return class Adapter {
    constructor(model) { this.model = model; }

    key(id) { return `${this.model}:${id}`; }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      store.set(key, { payload, exp: expiresIn ? now() + expiresIn * 1000 : 0 });
      if (payload.grantId) {
        if (!grants.has(payload.grantId)) grants.set(payload.grantId, new Set());
        grants.get(payload.grantId).add(key);
      }
      if (payload.uid) uids.set(`${this.model}:${payload.uid}`, id);
    }

    async find(id) { return live(this.key(id)); }

    async findByUid(uid) {
      const id = uids.get(`${this.model}:${uid}`);
      return id ? live(this.key(id)) : undefined;
    }

    async findByUserCode() { return undefined; }

    async consume(id) {
      const p = live(this.key(id));
      if (p) p.consumed = Math.floor(now() / 1000);
    }

    async destroy(id) { store.delete(this.key(id)); }

    async revokeByGrantId(grantId) {
      for (const key of grants.get(grantId) || []) store.delete(key);
      grants.delete(grantId);
    }
  };
}

// ---------------------------------------------------------------------------
// provider construction

const issuerAls = new AsyncLocalStorage();

function buildProvider(p) {
  const kind = KIND_DEFAULTS[p.name];
  const clientsById = p.clients;
  const usersBySub = p.usersBySub;

  async function loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    const c = clientsById.get(oidc.client.clientId);
    if (!c || !c.autoConsent) return grant;
    // auto-consent: grant whatever OIDC scopes/claims this request asks for
    if (!grant) {
      grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.account.accountId });
    }
    const scopes = [...oidc.requestParamOIDCScopes];
    if (scopes.length) grant.addOIDCScope(scopes.join(' '));
    const claims = [...oidc.requestParamClaims];
    if (claims.length) grant.addOIDCClaims(claims);
    await grant.save();
    return grant;
  }

  const conf = {
    adapter: p.Adapter,
    clients: [...clientsById.values()].map((c) => c.meta),
    jwks: { keys: p.keys },
    cookies: { keys: [p.cookieSecret] },
    pkce: { required: () => true },
    responseTypes: ['code'],
    scopes: ['openid', 'email', 'profile'],
    claims: p.cfg.claims_by_scope || kind.claims,
    conformIdTokenClaims: p.cfg.conform_id_token_claims ?? kind.conformIdTokenClaims,
    routes: { ...kind.routes, ...(p.cfg.routes || {}) },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      claimsParameter: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    loadExistingGrant,
    clientBasedCORS: () => false,
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 120,
      IdToken: 3600,
      Interaction: 1800,
      Session: 86400,
      Grant: 86400,
      RefreshToken: 86400,
    },
    async findAccount(ctx, sub) {
      const u = usersBySub.get(sub);
      if (!u) return undefined;
      return { accountId: sub, claims: async () => ({ ...u.claims }) };
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>${esc(out.error)}</h1><p>${esc(out.error_description || '')}</p>`);
    },
  };

  const provider = new Provider(p.constructIssuer, conf);
  provider.on('server_error', (ctx, err) => log(`${p.name} server_error ${err.name}: ${err.message}`));

  if (p.name === 'microsoft') {
    // provider.issuer is read wherever oidc-provider needs the issuer (discovery, ID
    // token iss, auth response iss, ...). Outside an ID token issue/validate it is the
    // literal {tenantid} template; inside, it is the tenant's issuer.
    const template = p.issuerTemplate;
    Object.defineProperty(provider, 'issuer', {
      get: () => issuerAls.getStore() ?? template,
      configurable: true,
      enumerable: true,
    });
    const { validate } = provider.IdToken;
    provider.IdToken.validate = function patchedValidate(jwt, client) {
      let tid;
      let sub;
      try {
        ({ tid, sub } = JSON.parse(Buffer.from(String(jwt).split('.')[1], 'base64url')));
      } catch { tid = undefined; }
      if (typeof tid !== 'string') return validate.call(this, jwt, client);
      return issuerAls.run(tenantIssuer(p, issuerTid(p, sub, tid)), () => validate.call(this, jwt, client));
    };
  }

  const { issue } = provider.IdToken.prototype;
  const always = p.cfg.id_token_always_claims || kind.idTokenAlways;
  provider.IdToken.prototype.issue = function patchedIssue(opts) {
    for (const k of always) {
      if (this.available[k] !== undefined) this.set(k, this.available[k]);
    }
    if (p.name === 'microsoft' && typeof this.available.tid === 'string') {
      const tid = issuerTid(p, this.available.sub, this.available.tid);
      return issuerAls.run(tenantIssuer(p, tid), () => issue.call(this, opts));
    }
    return issue.call(this, opts);
  };

  return provider;
}

function tenantIssuer(p, tid) {
  return p.issuerTemplate.replace('{tenantid}', tid);
}

// the tenant of a user's ID token iss: the user's iss_tid when set, else the token's tid
function issuerTid(p, sub, tid) {
  return p.usersBySub.get(sub)?.issTid ?? tid;
}

// ---------------------------------------------------------------------------
// small HTML helpers

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}
function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>`
    + `<body>${body}</body></html>`;
}
function send(res, status, type, body, headers = {}) {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(body);
}
function sendJson(res, status, obj) {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(obj));
}
async function readBody(req, limit = 65536) {
  const chunks = [];
  let n = 0;
  for await (const c of req) {
    n += c.length;
    if (n > limit) throw new Error('body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// ---------------------------------------------------------------------------
// interactions (login + consent)

function loginForm(p, uid, { loginHint = '', error = '' } = {}) {
  return page(`Sign in - ${p.name}`, `<h1>Sign in (${esc(p.name)})</h1>`
    + (error ? `<p class="error" id="error">${esc(error)}</p>` : '')
    + `<form method="post" action="/interaction/${esc(uid)}" autocomplete="off">`
    + '<input type="hidden" name="prompt" value="login">'
    + `<label>Login <input type="text" name="login" value="${esc(loginHint)}" autofocus></label>`
    + '<label>Password <input type="password" name="password"></label>'
    + '<button type="submit">Sign-in</button></form>'
    + `<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`);
}
function consentForm(p, uid, clientId, details) {
  const scopes = (details.missingOIDCScope || []).join(' ');
  return page(`Authorize - ${p.name}`, `<h1>Authorize ${esc(clientId)}</h1>`
    + `<p>Scopes: ${esc(scopes)}</p>`
    + `<form method="post" action="/interaction/${esc(uid)}">`
    + '<input type="hidden" name="prompt" value="consent">'
    + '<button type="submit" autofocus>Continue</button></form>'
    + `<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

function passwordOk(expected, given) {
  const a = crypto.createHash('sha256').update(String(expected)).digest();
  const b = crypto.createHash('sha256').update(String(given)).digest();
  return crypto.timingSafeEqual(a, b);
}

async function handleInteraction(p, req, res, uid, action) {
  const provider = p.provider;
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    const status = err instanceof oidcErrors.SessionNotFound ? 400 : 500;
    send(res, status, 'text/html; charset=utf-8', page('Error', '<h1>interaction session not found or expired</h1>'));
    return;
  }
  if (details.uid !== uid) {
    send(res, 400, 'text/html; charset=utf-8', page('Error', '<h1>interaction mismatch</h1>'));
    return;
  }
  const { prompt, params } = details;

  if (action === 'abort') {
    if (req.method !== 'POST') { send(res, 405, 'text/plain', 'POST only\n'); return; }
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (req.method === 'GET') {
    if (prompt.name === 'login') {
      send(res, 200, 'text/html; charset=utf-8', loginForm(p, uid, { loginHint: params.login_hint || '' }));
    } else if (prompt.name === 'consent') {
      send(res, 200, 'text/html; charset=utf-8', consentForm(p, uid, params.client_id, prompt.details));
    } else {
      send(res, 501, 'text/plain', `prompt ${prompt.name} not implemented\n`);
    }
    return;
  }
  if (req.method !== 'POST') { send(res, 405, 'text/plain', 'GET or POST\n'); return; }

  const body = new URLSearchParams(await readBody(req));
  if (prompt.name === 'login') {
    const login = (body.get('login') || '').trim().toLowerCase();
    const user = p.usersByLogin.get(login);
    if (!user || !passwordOk(user.password, body.get('password') || '')) {
      log(`${p.name} login failed`);
      send(res, 401, 'text/html; charset=utf-8', loginForm(p, uid, { loginHint: login, error: 'Invalid login or password' }));
      return;
    }
    await provider.interactionFinished(req, res, {
      login: { accountId: user.claims.sub },
    }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const { grantId, session } = details;
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    const newGrantId = await grant.save();
    await provider.interactionFinished(req, res, {
      consent: grantId ? {} : { grantId: newGrantId },
    }, { mergeWithLastSubmission: true });
    return;
  }
  send(res, 501, 'text/plain', `prompt ${prompt.name} not implemented\n`);
}

// ---------------------------------------------------------------------------
// control API

function newStats() {
  return { discovery: 0, jwks: 0, authorization: 0, token: 0, userinfo: 0, login_ok: 0, login_failed: 0 };
}

function publicKids(p) { return p.keys.map((k) => k.kid); }

async function handleControl(p, req, res, path, query) {
  if (path === '/_control/stats' && req.method === 'GET') {
    sendJson(res, 200, { provider: p.name, issuer: p.issuerTemplate, ...p.stats, kids: publicKids(p) });
    return;
  }
  if (path === '/_control/reset-stats' && req.method === 'POST') {
    p.stats = newStats();
    sendJson(res, 200, { ok: true });
    return;
  }
  if (path === '/_control/rotate-keys' && req.method === 'POST') {
    const previous = publicKids(p);
    const fresh = await newSigningKeys(p.name);
    const keepOld = ['1', 'true', 'yes'].includes(query.get('keep_old') || '');
    // the first key of an alg signs; with keep_old the old keys stay published after it
    p.keys = keepOld ? [...fresh, ...p.keys] : fresh;
    p.provider = buildProvider(p);
    p.callback = p.provider.callback();
    log(`${p.name} keys rotated kids=${publicKids(p).join(',')} keep_old=${keepOld}`);
    sendJson(res, 200, { previous, kids: publicKids(p), signing: fresh.map((k) => k.kid) });
    return;
  }
  sendJson(res, 404, { error: 'unknown control endpoint' });
}

// ---------------------------------------------------------------------------
// request routing

async function handle(p, req, res) {
  const url = new URL(req.url, 'http://local');
  const path = url.pathname;
  res.on('finish', () => log(`${p.name} ${req.method} ${maskPath(path)} ${res.statusCode}`));

  if (!p.provider) { send(res, 503, 'text/plain', 'starting\n'); return; }

  if (path.startsWith('/_control/')) { await handleControl(p, req, res, path, url.searchParams); return; }

  const im = /^\/interaction\/([A-Za-z0-9_-]+)(\/abort)?$/.exec(path);
  if (im) {
    await handleInteraction(p, req, res, im[1], im[2] ? 'abort' : undefined);
    if (req.method === 'POST' && !im[2]) {
      if (res.statusCode === 303) p.stats.login_ok += 1;
      else if (res.statusCode === 401) p.stats.login_failed += 1;
    }
    return;
  }

  // path inside the provider (after the mount prefix)
  let inner = path;
  let innerUrl = req.url;
  if (p.mount) {
    if (path === `${p.mount}/v2.0/.well-known/openid-configuration`) {
      // Microsoft's discovery location; served by the provider's own discovery route
      inner = '/.well-known/openid-configuration';
      innerUrl = inner + url.search;
    } else if (path === p.mount || path.startsWith(`${p.mount}/`)) {
      inner = path.slice(p.mount.length) || '/';
      innerUrl = req.url.slice(p.mount.length) || '/';
    } else {
      sendJson(res, 404, { error: 'not_found' });
      return;
    }
    req.originalUrl = p.mount + innerUrl;
    req.url = innerUrl;
  }

  const routes = p.routePaths;
  if (req.method === 'GET' && inner === '/.well-known/openid-configuration') p.stats.discovery += 1;
  else if (req.method === 'GET' && inner === routes.jwks) p.stats.jwks += 1;
  else if (inner === routes.authorization) p.stats.authorization += 1;
  else if (inner === routes.token) p.stats.token += 1;
  else if (inner === routes.userinfo) p.stats.userinfo += 1;

  if (req.method === 'POST' && inner === routes.token && !req.headers.authorization) {
    // client_secret_post for a client registered with client_secret_basic: move the
    // credentials into a Basic header so oidc-provider accepts either method.
    const raw = await readBody(req);
    const form = new URLSearchParams(raw);
    const c = clientsForPost(p, form);
    if (c) {
      const enc = (s) => encodeURIComponent(s);
      req.headers.authorization = `Basic ${Buffer.from(`${enc(form.get('client_id'))}:${enc(form.get('client_secret'))}`).toString('base64')}`;
      form.delete('client_id');
      form.delete('client_secret');
      req.body = form.toString();
    } else {
      req.body = raw;
    }
    req.headers['content-length'] = String(Buffer.byteLength(req.body));
  }

  p.callback(req, res);
}

function clientsForPost(p, form) {
  const id = form.get('client_id');
  if (!id || !form.has('client_secret')) return undefined;
  if (form.getAll('client_id').length !== 1 || form.getAll('client_secret').length !== 1) return undefined;
  const c = p.clients.get(id);
  if (!c || !c.allowPost || c.meta.token_endpoint_auth_method !== 'client_secret_basic') return undefined;
  return c;
}

// ---------------------------------------------------------------------------
// start

const providers = NAMES.map((name, i) => {
  const cfg = config[name];
  if (!cfg) throw new Error(`config: section "${name}" is missing`);
  const users = (cfg.users || []).map((u) => normaliseUser(name, u));
  const clients = new Map((cfg.clients || []).map((c) => {
    const n = normaliseClient(c);
    return [n.meta.client_id, n];
  }));
  let port = Number.isInteger(cfg.port) ? cfg.port : 0;
  if (args.portBase !== undefined) port = args.portBase === 0 ? 0 : args.portBase + i;
  const kind = KIND_DEFAULTS[name];
  const routePaths = {
    authorization: '/auth', token: '/token', userinfo: '/me', jwks: '/jwks',
    ...kind.routes, ...(cfg.routes || {}),
  };
  return {
    name,
    cfg,
    port,
    mount: kind.mount,
    routePaths,
    usersByLogin: new Map(users.map((u) => [u.login, u])),
    usersBySub: new Map(users.map((u) => [u.claims.sub, u])),
    clients,
    Adapter: makeAdapter(),
    cookieSecret: crypto.randomBytes(32).toString('hex'),
    keys: null,
    stats: newStats(),
    provider: null,
    callback: null,
  };
});

(await initialKeys).forEach((keys, i) => { providers[i].keys = keys; });

const servers = [];
for (const p of providers) {
  const server = http.createServer((req, res) => {
    handle(p, req, res).catch((err) => {
      log(`${p.name} handler error ${err.name}`);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p.port, HOST, () => { server.off('error', reject); resolve(); });
  });
  p.port = server.address().port;
  const base = `http://${HOST}:${p.port}`;
  if (p.name === 'microsoft') {
    p.issuerTemplate = `${base}/{tenantid}/v2.0`;
    p.constructIssuer = p.issuerTemplate;
    p.baseUrl = `${base}${p.mount}/v2.0`;
  } else {
    p.issuerTemplate = base;
    p.constructIssuer = base;
    p.baseUrl = base;
  }
  p.provider = buildProvider(p);
  p.callback = p.provider.callback();
  servers.push(server);
}

if (args.pidfile) fs.writeFileSync(args.pidfile, `${process.pid}\n`);
log(`started ${providers.map((p) => `${p.name}=${p.baseUrl}`).join(' ')}`);
process.stdout.write(`listening ${providers.map((p) => `${p.name}=${p.baseUrl}`).join(' ')}\n`);

let stopping = false;
function stop(sig) {
  if (stopping) return;
  stopping = true;
  for (const s of servers) {
    s.close();
    s.closeAllConnections();
  }
  if (args.pidfile) {
    try { fs.unlinkSync(args.pidfile); } catch { /* gone already */ }
  }
  log(`stopped (${sig})`);
  if (logStream) logStream.end(() => process.exit(0));
  else process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
