// badop: a fault-injecting OpenID Provider stand-in for AccuPredix's negative OIDC tests.
//
// One node process, one loopback port, any number of issuers, each under /i/<name>:
//   issuer  http://127.0.0.1:PORT/i/<name>   (discovery, authorize, token, userinfo, jwks)
// Each issuer has one client, one user and one "fault" that spoils exactly one thing in
// what it answers (a bad signature, a wrong iss, an expired token, ...), so that a test can
// check that the relying party refuses it. Issuers are created and changed through the
// /_control API. No login page: authorize answers with the code at once.
//
// Node 20, no npm dependencies (node: modules only). All state is in memory.
// See BADOP.md beside this file for the command line, endpoints, faults and control API.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

const HOST = '127.0.0.1';
const NAME_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;
const ALGS = ['RS256', 'ES256', 'PS256'];
const FAULTS = [
  'none', 'bad-signature', 'alg-none', 'hs256-pubkey', 'wrong-iss', 'no-aud', 'wrong-aud',
  'azp-mismatch', 'expired', 'iat-past', 'iat-future', 'no-sub', 'wrong-nonce', 'unknown-kid',
  'jwks-unknown-kty', 'userinfo-sub', 'discovery-issuer', 'no-email-verified',
];
const SCOPES = ['openid', 'email', 'profile'];
// claims this stand-in sets itself; a user object may not carry them
const RESERVED_CLAIMS = ['iss', 'aud', 'azp', 'exp', 'iat', 'auth_time', 'nonce'];
const CODE_TTL_MS = 120_000;
const TOKEN_TTL_S = 300;
const ID_TOKEN_TTL_S = 300;
const BODY_LIMIT = 65536;

// ---------------------------------------------------------------------------
// command line

function usage(msg) {
  if (msg) process.stderr.write(`badop.mjs: ${msg}\n`);
  process.stderr.write('usage: node badop.mjs [--port N] [--pidfile F] [--log F]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const out = { port: 0, pidfile: undefined, log: undefined };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`missing value for ${a}`);
      i += 1;
      return argv[i];
    };
    if (a === '--port') {
      const v = val();
      out.port = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
    }
    else if (a === '--pidfile') out.pidfile = val();
    else if (a === '--log') out.log = val();
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) usage('--port must be 0..65535');
  return out;
}

const args = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------
// logging: one line per request (time, method, path without query, status), plus
// "stopped". Query strings, bodies and headers are never logged, so no code, token,
// client secret or verifier is. Written synchronously: a line is in the file as soon
// as the response has gone.

const logFd = args.log ? fs.openSync(args.log, 'a') : null;
function log(line) {
  const text = `${new Date().toISOString()} ${line}\n`;
  if (logFd !== null) fs.writeSync(logFd, text);
  else process.stderr.write(text);
}

// ---------------------------------------------------------------------------
// small helpers

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const b64json = (obj) => b64url(JSON.stringify(obj));
const randomToken = (n = 32) => b64url(crypto.randomBytes(n));
const nowS = () => Math.floor(Date.now() / 1000);

// constant-time string comparison (hash first: timingSafeEqual wants equal lengths)
function sameString(a, b) {
  const ha = crypto.createHash('sha256').update(String(a)).digest();
  const hb = crypto.createHash('sha256').update(String(b)).digest();
  return crypto.timingSafeEqual(ha, hb);
}

function send(res, status, type, body, headers = {}) {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(body);
}
function sendJson(res, status, obj, headers = {}) {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(obj), headers);
}
function sendText(res, status, text) {
  send(res, status, 'text/plain; charset=utf-8', `${text}\n`);
}
// OAuth error body (RFC 6749 5.2)
function oauthError(res, status, error, description, headers = {}) {
  sendJson(res, status, { error, error_description: description },
    { 'Cache-Control': 'no-store', Pragma: 'no-cache', ...headers });
}
function methodNotAllowed(res, allow) {
  send(res, 405, 'application/json; charset=utf-8', JSON.stringify({ error: 'method not allowed' }),
    { Allow: allow });
}

async function readBody(req) {
  const chunks = [];
  let n = 0;
  for await (const c of req) {
    n += c.length;
    if (n > BODY_LIMIT) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// a form or query as a Map of name -> first value, and the first name that is repeated
// (a repeated parameter is an error: RFC 6749 3.1, 3.2)
function singleParams(search) {
  const params = new Map();
  let repeated;
  for (const [k, v] of new URLSearchParams(search)) {
    if (!params.has(k)) params.set(k, v);
    else if (repeated === undefined) repeated = k;
  }
  return { params, repeated };
}

// ---------------------------------------------------------------------------
// keys: every issuer has one RSA-2048 key (published alg RS256, also signs PS256) and one
// EC P-256 key (ES256). kids are "<issuer>-<rsa|ec|hidden>-<serial>-<random>".

let keySerial = 0;
function newKey(issuerName, type) {
  keySerial += 1;
  const kid = `${issuerName}-${type}-${keySerial}-${crypto.randomBytes(4).toString('hex')}`;
  const { privateKey, publicKey } = type === 'ec'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = {
    ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: type === 'ec' ? 'ES256' : 'RS256',
  };
  return { kid, privateKey, publicKey, jwk };
}

// the JWKS as published (the jwks-unknown-kty fault puts two keys we cannot use first)
function publishedKeys(iss) {
  const keys = [iss.rsa.jwk, iss.ec.jwk];
  if (iss.fault === 'jwks-unknown-kty') {
    return [
      { kty: 'OKP', crv: 'Ed25519', x: iss.okpX, kid: 'okp-1', use: 'sig' },
      { kty: 'XYZ', kid: 'weird-1' },
      ...keys,
    ];
  }
  return keys;
}

// the RSA key that signs unknown-kid tokens: made on first use, never published
function hiddenKey(iss) {
  if (!iss.hidden) iss.hidden = newKey(iss.name, 'hidden');
  return iss.hidden;
}

// JWS signature over INPUT (the "header.payload" text) for ALG with KEY
function sign(alg, input, key) {
  const data = Buffer.from(input);
  if (alg === 'RS256') return crypto.sign('sha256', data, key.privateKey);
  if (alg === 'PS256') {
    return crypto.sign('sha256', data, {
      key: key.privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
    });
  }
  if (alg === 'ES256') return crypto.sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  throw new Error(`cannot sign ${alg}`);
}

// ---------------------------------------------------------------------------
// issuers

const issuers = new Map();
let baseUrl = ''; // http://127.0.0.1:PORT, set once listening

function newStats() {
  return { discovery: 0, jwks: 0, authorize: 0, token: 0, userinfo: 0 };
}

// user object of the control API: a JSON object with a non-empty string sub
function checkUser(u) {
  if (!u || typeof u !== 'object' || Array.isArray(u)) return 'user must be a JSON object';
  if (typeof u.sub !== 'string' || u.sub === '') return 'user.sub must be a non-empty string';
  for (const k of RESERVED_CLAIMS) {
    if (Object.hasOwn(u, k)) return `user claim "${k}" is set by badop itself`;
  }
  return null;
}

const ISSUER_FIELDS = ['client_id', 'client_secret', 'redirect_uris', 'user', 'fault', 'alg'];
function checkIssuerBody(b) {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return 'body must be a JSON object';
  for (const k of Object.keys(b)) if (!ISSUER_FIELDS.includes(k)) return `unknown field "${k}"`;
  if (typeof b.client_id !== 'string' || b.client_id === '') return 'client_id must be a non-empty string';
  if (typeof b.client_secret !== 'string' || b.client_secret === '') {
    return 'client_secret must be a non-empty string';
  }
  if (!Array.isArray(b.redirect_uris) || b.redirect_uris.length === 0) {
    return 'redirect_uris must be a non-empty array';
  }
  for (const u of b.redirect_uris) {
    let parsed;
    try { parsed = typeof u === 'string' ? new URL(u) : null; } catch { parsed = null; }
    if (!parsed || u.includes('#')) return 'each redirect_uri must be an absolute URL without fragment';
  }
  const userErr = checkUser(b.user);
  if (userErr) return userErr;
  if (b.fault !== undefined && !FAULTS.includes(b.fault)) return `unknown fault "${b.fault}"`;
  if (b.alg !== undefined && !ALGS.includes(b.alg)) return `alg must be one of ${ALGS.join(', ')}`;
  return null;
}

// PUT /_control/issuers/<name>: create, or replace everything but the keys
function putIssuer(name, b) {
  let iss = issuers.get(name);
  if (!iss) {
    iss = {
      name,
      issuer: `${baseUrl}/i/${name}`,
      rsa: newKey(name, 'rsa'),
      ec: newKey(name, 'ec'),
      hidden: null,
      okpX: randomToken(32),
    };
    issuers.set(name, iss);
  }
  iss.client = {
    client_id: b.client_id, client_secret: b.client_secret, redirect_uris: [...b.redirect_uris],
  };
  iss.user = { ...b.user };
  iss.fault = b.fault ?? 'none';
  iss.alg = b.alg ?? 'RS256';
  iss.stats = newStats();
  // codes and access tokens of the previous client/user are forgotten
  iss.codes = new Map();
  iss.tokens = new Map();
  return iss;
}

// expired codes and access tokens are dropped now and then (lookups check expiry too)
setInterval(() => {
  const t = Date.now();
  for (const iss of issuers.values()) {
    for (const [k, c] of iss.codes) if (t - c.created > CODE_TTL_MS) iss.codes.delete(k);
    for (const [k, a] of iss.tokens) if (a.exp < t) iss.tokens.delete(k);
  }
}, 60_000).unref();

// ---------------------------------------------------------------------------
// ID token, with the issuer's fault applied

function userClaims(iss) {
  const claims = { ...iss.user };
  delete claims.sub;
  if (iss.fault === 'no-email-verified') delete claims.email_verified;
  return claims;
}

function idToken(iss, code) {
  const f = iss.fault;
  const now = nowS();
  const clientId = code.clientId;

  const c = {};
  c.iss = f === 'wrong-iss' ? `${iss.issuer}/evil` : iss.issuer;
  if (f !== 'no-sub') c.sub = iss.user.sub;
  if (f === 'wrong-aud') c.aud = 'someone-else';
  else if (f === 'azp-mismatch') c.aud = [clientId, 'other-client'];
  else if (f !== 'no-aud') c.aud = clientId;
  if (f === 'azp-mismatch') c.azp = 'other-client';
  c.exp = now + ID_TOKEN_TTL_S;
  c.iat = now;
  if (f === 'expired') { c.exp = now - 600; c.iat = now - 900; }
  if (f === 'iat-past') c.iat = now - 7200;
  if (f === 'iat-future') { c.iat = now + 3600; c.exp = now + 4000; }
  c.auth_time = now;
  if (f === 'wrong-nonce') c.nonce = randomToken(16);
  else if (code.nonce !== undefined) c.nonce = code.nonce;
  Object.assign(c, userClaims(iss));

  if (f === 'alg-none') return `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(c)}.`;

  if (f === 'hs256-pubkey') {
    // key confusion: HMAC keyed with the public key's PEM text, under the RSA key's kid
    const input = `${b64json({ alg: 'HS256', kid: iss.rsa.kid })}.${b64json(c)}`;
    const pem = iss.rsa.publicKey.export({ type: 'spki', format: 'pem' });
    return `${input}.${b64url(crypto.createHmac('sha256', pem).update(input).digest())}`;
  }

  let alg = iss.alg;
  let key = alg === 'ES256' ? iss.ec : iss.rsa;
  if (f === 'unknown-kid') {
    // an RSA key, so an ES256 issuer signs these with RS256
    if (alg === 'ES256') alg = 'RS256';
    key = hiddenKey(iss);
  }
  const input = `${b64json({ alg, kid: key.kid, typ: 'JWT' })}.${b64json(c)}`;
  const sig = sign(alg, input, key);
  if (f === 'bad-signature') sig[Math.floor(sig.length / 2)] ^= 0x01;
  return `${input}.${b64url(sig)}`;
}

// ---------------------------------------------------------------------------
// issuer endpoints

function discoveryDoc(iss) {
  const i = iss.issuer;
  return {
    issuer: iss.fault === 'discovery-issuer' ? `${i}-other` : i,
    authorization_endpoint: `${i}/authorize`,
    token_endpoint: `${i}/token`,
    userinfo_endpoint: `${i}/userinfo`,
    jwks_uri: `${i}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256', 'PS256'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: SCOPES,
  };
}

// GET /authorize: no login, no consent; the code (or an error) goes straight back
function authorize(iss, res, query) {
  const { params: q, repeated } = singleParams(query);
  if (repeated === 'client_id' || repeated === 'redirect_uri') {
    sendText(res, 400, `repeated parameter ${repeated}`);
    return;
  }
  const clientId = q.get('client_id');
  if (!clientId || clientId !== iss.client.client_id) {
    sendText(res, 400, 'unknown client_id');
    return;
  }
  const redirectUri = q.get('redirect_uri');
  if (!redirectUri || !iss.client.redirect_uris.includes(redirectUri)) {
    sendText(res, 400, 'redirect_uri is not registered for this client');
    return;
  }

  // from here on, answers go back to the client's redirect_uri
  const state = repeated === 'state' ? undefined : q.get('state');
  const back = (pairs) => {
    const all = state === undefined ? pairs : [...pairs, ['state', state]];
    const qs = all.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    send(res, 302, 'text/plain; charset=utf-8', '', {
      Location: `${redirectUri}${redirectUri.includes('?') ? '&' : '?'}${qs}`,
      'Cache-Control': 'no-store',
    });
  };
  const refuse = (why) => back([['error', 'invalid_request'], ['error_description', why]]);

  if (repeated) { refuse(`repeated parameter ${repeated}`); return; }
  if (q.get('response_type') !== 'code') { refuse('response_type must be code'); return; }
  const scopes = (q.get('scope') || '').split(' ').filter(Boolean);
  if (!scopes.includes('openid')) { refuse('scope must contain openid'); return; }
  const challenge = q.get('code_challenge');
  if (!challenge) { refuse('code_challenge is required'); return; }
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(challenge)) { refuse('code_challenge is malformed'); return; }
  if (q.get('code_challenge_method') !== 'S256') { refuse('code_challenge_method must be S256'); return; }

  const code = randomToken(32);
  iss.codes.set(code, {
    clientId,
    redirectUri,
    nonce: q.get('nonce'), // undefined when absent
    challenge,
    scope: SCOPES.filter((s) => scopes.includes(s)).join(' '),
    created: Date.now(),
    used: false,
    accessToken: null,
  });
  back([['code', code]]);
}

// form-urlencoded decoding of one half of a Basic credential (RFC 6749 2.3.1)
function formDecode(s) {
  try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return null; }
}

// client authentication: { id, secret } or { error } (with the HTTP status to answer)
function clientCredentials(req, form) {
  const h = req.headers.authorization;
  const inBody = form.has('client_secret');
  if (h !== undefined) {
    const m = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(h.trim());
    if (!m) return { status: 401, error: 'invalid_client', why: 'malformed Authorization header' };
    if (inBody) return { status: 400, error: 'invalid_request', why: 'more than one client authentication method' };
    const raw = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = raw.indexOf(':');
    if (colon < 0) return { status: 401, error: 'invalid_client', why: 'malformed Basic credentials' };
    const id = formDecode(raw.slice(0, colon));
    const secret = formDecode(raw.slice(colon + 1));
    if (id === null || secret === null) {
      return { status: 401, error: 'invalid_client', why: 'Basic credentials are not form-urlencoded' };
    }
    if (form.has('client_id') && form.get('client_id') !== id) {
      return { status: 401, error: 'invalid_client', why: 'client_id differs from the Basic one' };
    }
    return { id, secret };
  }
  if (inBody && form.has('client_id')) return { id: form.get('client_id'), secret: form.get('client_secret') };
  return { status: 401, error: 'invalid_client', why: 'no client authentication' };
}

// POST /token: authorization_code with PKCE only
async function token(iss, req, res) {
  const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  const raw = await readBody(req);
  if (type !== 'application/x-www-form-urlencoded') {
    oauthError(res, 400, 'invalid_request', 'body must be application/x-www-form-urlencoded');
    return;
  }
  const { params: form, repeated } = singleParams(raw);
  if (repeated) { oauthError(res, 400, 'invalid_request', `repeated parameter ${repeated}`); return; }

  const cred = clientCredentials(req, form);
  if (cred.error) {
    const hdr = cred.status === 401 ? { 'WWW-Authenticate': 'Basic realm="badop"' } : {};
    oauthError(res, cred.status, cred.error, cred.why, hdr);
    return;
  }
  if (!sameString(cred.id, iss.client.client_id) || !sameString(cred.secret, iss.client.client_secret)) {
    oauthError(res, 401, 'invalid_client', 'client authentication failed',
      { 'WWW-Authenticate': 'Basic realm="badop"' });
    return;
  }

  if (form.get('grant_type') !== 'authorization_code') {
    oauthError(res, 400, 'unsupported_grant_type', 'only authorization_code');
    return;
  }
  const codeValue = form.get('code');
  if (!codeValue) { oauthError(res, 400, 'invalid_request', 'code is required'); return; }
  const code = iss.codes.get(codeValue);
  if (!code || code.clientId !== cred.id || Date.now() - code.created > CODE_TTL_MS) {
    oauthError(res, 400, 'invalid_grant', 'unknown or expired code');
    return;
  }
  if (code.used) {
    // a replayed code: refuse it and revoke the access token it gave (RFC 6749 4.1.2)
    if (code.accessToken) iss.tokens.delete(code.accessToken);
    oauthError(res, 400, 'invalid_grant', 'code already used');
    return;
  }
  // from here on the code is spent, whether or not the rest checks out
  code.used = true;
  if (form.get('redirect_uri') !== code.redirectUri) {
    oauthError(res, 400, 'invalid_grant', 'redirect_uri differs from the authorization request');
    return;
  }
  const verifier = form.get('code_verifier') || '';
  const computed = b64url(crypto.createHash('sha256').update(verifier).digest());
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || !sameString(computed, code.challenge)) {
    oauthError(res, 400, 'invalid_grant', 'PKCE verification failed');
    return;
  }

  const accessToken = randomToken(32);
  code.accessToken = accessToken;
  iss.tokens.set(accessToken, { exp: Date.now() + TOKEN_TTL_S * 1000, scope: code.scope });
  sendJson(res, 200, {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: TOKEN_TTL_S,
    scope: code.scope,
    id_token: idToken(iss, code),
  }, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

// GET (or POST) /userinfo: Bearer header only
async function userinfo(iss, req, res, query) {
  // RFC 6750 3: the error also goes in WWW-Authenticate (none when no token was sent)
  const bearerError = (status, error, why) => {
    const hdr = error ? `Bearer error="${error}", error_description="${why}"` : 'Bearer';
    sendJson(res, status, { error: error || 'invalid_token', error_description: why },
      { 'WWW-Authenticate': hdr, 'Cache-Control': 'no-store' });
  };
  const q = new URLSearchParams(query);
  let bodyHasToken = false;
  if (req.method === 'POST') bodyHasToken = new URLSearchParams(await readBody(req)).has('access_token');
  if (q.has('access_token') || bodyHasToken) {
    bearerError(400, 'invalid_request', 'the access token goes in the Authorization header only');
    return;
  }
  const h = req.headers.authorization;
  if (h === undefined) { bearerError(401, null, 'no access token'); return; }
  const m = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(h.trim());
  if (!m) { bearerError(400, 'invalid_request', 'malformed Authorization header'); return; }
  const at = iss.tokens.get(m[1]);
  if (!at || at.exp < Date.now()) { bearerError(401, 'invalid_token', 'unknown or expired access token'); return; }

  const sub = iss.fault === 'userinfo-sub' ? `${iss.user.sub}-other` : iss.user.sub;
  sendJson(res, 200, { sub, ...userClaims(iss) }, { 'Cache-Control': 'no-store' });
}

async function handleIssuer(iss, req, res, rest, query) {
  const m = req.method;
  if (rest === '/.well-known/openid-configuration') {
    if (m !== 'GET') { methodNotAllowed(res, 'GET'); return; }
    iss.stats.discovery += 1;
    sendJson(res, 200, discoveryDoc(iss));
  } else if (rest === '/jwks') {
    if (m !== 'GET') { methodNotAllowed(res, 'GET'); return; }
    iss.stats.jwks += 1;
    send(res, 200, 'application/json; charset=utf-8', JSON.stringify({ keys: publishedKeys(iss) }));
  } else if (rest === '/authorize') {
    if (m !== 'GET') { methodNotAllowed(res, 'GET'); return; }
    iss.stats.authorize += 1;
    authorize(iss, res, query);
  } else if (rest === '/token') {
    if (m !== 'POST') { methodNotAllowed(res, 'POST'); return; }
    iss.stats.token += 1;
    await token(iss, req, res);
  } else if (rest === '/userinfo') {
    if (m !== 'GET' && m !== 'POST') { methodNotAllowed(res, 'GET, POST'); return; }
    iss.stats.userinfo += 1;
    await userinfo(iss, req, res, query);
  } else {
    sendJson(res, 404, { error: 'not_found' });
  }
}

// ---------------------------------------------------------------------------
// control API (no authentication: loopback only)

async function readJson(req) {
  const raw = await readBody(req);
  try { return { body: JSON.parse(raw) }; } catch { return { error: 'body is not JSON' }; }
}

async function handleControl(req, res, path) {
  const m = req.method;
  if (path === '/_control/health') {
    if (m !== 'GET') { methodNotAllowed(res, 'GET'); return; }
    sendJson(res, 200, { ok: true });
    return;
  }
  const pm = /^\/_control\/issuers\/([^/]+)(?:\/(fault|user|rotate|stats))?$/.exec(path);
  if (!pm) { sendJson(res, 404, { error: 'unknown control endpoint' }); return; }
  const [, name, action] = pm;
  if (!NAME_RE.test(name)) { sendJson(res, 400, { error: 'issuer name must match ^[a-z0-9][a-z0-9-]{0,39}$' }); return; }

  if (!action) {
    if (m !== 'PUT') { methodNotAllowed(res, 'PUT'); return; }
    const { body, error } = await readJson(req);
    const why = error || checkIssuerBody(body);
    if (why) { sendJson(res, 400, { error: why }); return; }
    const iss = putIssuer(name, body);
    sendJson(res, 200, { issuer: iss.issuer, discovery: `${iss.issuer}/.well-known/openid-configuration` });
    return;
  }

  const iss = issuers.get(name);
  const wantMethod = action === 'stats' ? 'GET' : 'POST';
  if (m !== wantMethod) { methodNotAllowed(res, wantMethod); return; }
  if (!iss) { sendJson(res, 404, { error: 'unknown issuer' }); return; }

  if (action === 'stats') {
    sendJson(res, 200, { ...iss.stats });
  } else if (action === 'rotate') {
    // new kids; the old keys leave the JWKS at once
    iss.rsa = newKey(name, 'rsa');
    iss.ec = newKey(name, 'ec');
    sendJson(res, 200, { kids: [iss.rsa.kid, iss.ec.kid] });
  } else if (action === 'fault') {
    const { body, error } = await readJson(req);
    if (error) { sendJson(res, 400, { error }); return; }
    if (!body || typeof body !== 'object' || !FAULTS.includes(body.fault)) {
      sendJson(res, 400, { error: `fault must be one of ${FAULTS.join(', ')}` });
      return;
    }
    iss.fault = body.fault;
    sendJson(res, 200, { fault: iss.fault });
  } else {
    const { body, error } = await readJson(req);
    const why = error || checkUser(body);
    if (why) { sendJson(res, 400, { error: why }); return; }
    iss.user = { ...body };
    sendJson(res, 200, { user: iss.user });
  }
}

// ---------------------------------------------------------------------------
// request routing

async function handle(req, res) {
  // the raw path (never URL-decoded), and the query apart from it
  const qpos = req.url.search(/[?#]/);
  const path = qpos < 0 ? req.url : req.url.slice(0, qpos);
  const query = qpos >= 0 && req.url[qpos] === '?' ? req.url.slice(qpos + 1).split('#')[0] : '';
  res.on('finish', () => log(`${req.method} ${path} ${res.statusCode}`));

  if (path.startsWith('/_control/')) { await handleControl(req, res, path); return; }
  const im = /^\/i\/([^/]+)(\/.*)?$/.exec(path);
  const iss = im && NAME_RE.test(im[1]) ? issuers.get(im[1]) : undefined;
  if (!iss) { sendJson(res, 404, { error: 'not_found' }); return; }
  await handleIssuer(iss, req, res, im[2] || '', query);
}

// ---------------------------------------------------------------------------
// start and stop

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    log(`handler error ${err.name}`);
    if (res.headersSent) { res.destroy(); return; }
    if (err.status === 413) sendJson(res, 413, { error: 'body too large' });
    else sendJson(res, 500, { error: 'internal error' });
  });
});
server.keepAliveTimeout = 5000;

server.once('error', (err) => {
  process.stderr.write(`badop.mjs: cannot listen on ${HOST}:${args.port}: ${err.code || err.message}\n`);
  process.exit(1);
});
server.listen(args.port, HOST, () => {
  const { port } = server.address();
  baseUrl = `http://${HOST}:${port}`;
  if (args.pidfile) fs.writeFileSync(args.pidfile, `${process.pid}\n`);
  process.stdout.write(`listening ${baseUrl}\n`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections();
  if (args.pidfile) {
    try { fs.unlinkSync(args.pidfile); } catch { /* gone already */ }
  }
  log('stopped');
  if (logFd !== null) fs.closeSync(logFd);
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
