// Dashboard login. The coordinator's API wants a token; a browser cannot put one on an
// EventSource or an <img>, so the page trades it once for a session: POST /api/session
// sets an HttpOnly, SameSite=Strict cookie (the page never sees its value) and answers
// with a CSRF secret, which every request that changes something sends back in
// X-CSRF-Token. Ways in, in order:
//   1. a login link (`synthfarm token login-link`, ops/quickstart.sh): #login=<one-time code>
//   2. a session cookie from an earlier visit (GET /api/session answers 200)
//   3. the login card: the user pastes a token once.
// With authentication off on the coordinator, GET /api/session answers at once.

let csrf = '';
let whoami = null;

/** Headers for a request that changes something. */
export const csrfHeaders = () => (csrf ? { 'X-CSRF-Token': csrf } : {});

/** { name, role, auth } of the session, once ensureSession() resolved. */
export const currentUser = () => whoami;

async function open(body) {
  const res = await fetch('/api/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
    cache: 'no-store',
  });
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  return { ok: res.ok, data };
}

function accept(data) {
  whoami = data;
  csrf = (data && typeof data.csrf === 'string') ? data.csrf : '';
  const who = document.getElementById('whoami');
  if (who && data && data.auth) {
    who.textContent = `${data.name} · ${data.role}`;
    who.hidden = false;
    document.getElementById('logout').hidden = false;
  }
  return data;
}

function askForToken(message) {
  const card = document.getElementById('login');
  const form = document.getElementById('login-form');
  const input = document.getElementById('login-token');
  const error = document.getElementById('login-error');
  document.getElementById('app').hidden = true;
  card.hidden = false;
  error.textContent = message || '';
  error.hidden = !message;
  input.focus();
  return new Promise((resolve) => {
    form.addEventListener('submit', async function onSubmit(event) {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      const { ok, data } = await open({ token });
      if (!ok) {
        error.textContent = (data && data.error) || 'the coordinator refused this token';
        error.hidden = false;
        return;
      }
      input.value = '';
      form.removeEventListener('submit', onSubmit);
      card.hidden = true;
      document.getElementById('app').hidden = false;
      resolve(accept(data));
    });
  });
}

/** Resolves once the page may call the API: logged in, or authentication is off. */
export async function ensureSession() {
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/api/session', { method: 'DELETE', headers: csrfHeaders() });
    window.location.reload();
  });
  let message = '';
  const link = /^#login=([0-9a-f]{16,128})$/.exec(window.location.hash);
  if (link) {
    // The code works once; take it out of the address bar and the history first.
    history.replaceState(null, '', window.location.pathname + window.location.search);
    const { ok, data } = await open({ code: link[1] });
    if (ok) return accept(data);
    message = (data && data.error) || 'this login link does not work any more';
  }
  const res = await fetch('/api/session', { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (res.ok) return accept(await res.json());
  return askForToken(message);
}
