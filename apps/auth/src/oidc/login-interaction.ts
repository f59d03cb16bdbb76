import { OIDC_ROUTES } from '@strongroom/contracts';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import QRCode from 'qrcode';
import type { LoginOutcome, LoginService } from '../login/login-service';
import type { TenantPolicies } from '../tenant-policies/tenant-policies';
import { escapeHtml, readForm, renderPage } from './html-page';
import type { StrongroomClientMetadata } from './oidc-configuration';

const INTERACTION_PATH = new RegExp(`^${OIDC_ROUTES.interaction}/([A-Za-z0-9_-]{1,64})$`);
/** A login form is a few hundred bytes; anything larger is not one. */
const FORM_BYTES_MAX = 4_096;

interface LoginForm {
  email: string;
  password: string;
  totp: string | undefined;
}

/**
 * The sign-in step of the authorization-code flow, at `/oauth/interaction/:uid`: a plain HTML
 * form (no script, so the gateway's `default-src 'none'` CSP holds) for email, password and
 * TOTP code. The tenant is the client's: a user signs in to the tenant whose application asked.
 */
export function loginInteraction(provider: Provider, login: LoginService, tenants: TenantPolicies) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    const match = INTERACTION_PATH.exec(ctx.path);
    if (match === null) return next();
    ctx.set('cache-control', 'no-store');
    let details: Awaited<ReturnType<Provider['interactionDetails']>>;
    try {
      // Checks the signed interaction cookie set at /oauth/authorize: no cookie, no sign-in.
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch {
      return render(ctx, 400, {
        error: 'This sign-in expired or was not started here. Start again from the application.',
        formless: true,
      });
    }
    if (details.uid !== match[1])
      return render(ctx, 400, { error: 'This sign-in link does not match your session.', formless: true });
    if (ctx.method === 'GET') return render(ctx, 200, {});
    if (ctx.method !== 'POST') {
      ctx.set('allow', 'GET, POST');
      return render(ctx, 405, { error: 'Use the form.' });
    }
    const form = await readLoginForm(ctx);
    if (form === undefined) return render(ctx, 400, { error: 'Enter your email and password.' });
    const client = await provider.Client.find(String(details.params.client_id));
    const tenantId = (client?.metadata() as StrongroomClientMetadata | undefined)?.tenant_id;
    if (tenantId === undefined) return render(ctx, 400, { error: 'The application is no longer registered.' });
    if ((await tenants.policyOf(tenantId)).status !== 'active')
      return render(ctx, 403, { error: 'This organisation is suspended.', formless: true });
    const outcome = await login.login({
      tenantId,
      ...form,
      totpCode: form.totp,
      ip: ctx.ip,
      now: new Date(),
      clientId: String(details.params.client_id),
    });
    if (outcome.outcome === 'authenticated') {
      const returnTo = await provider.interactionResult(
        ctx.req,
        ctx.res,
        { login: { accountId: outcome.userId, amr: outcome.amr, remember: false } },
        { mergeWithLastSubmission: false },
      );
      // Recovery codes exist in clear only on this page, once; the user continues when they are kept.
      if (outcome.enrolledMfa !== undefined) {
        const codes = outcome.enrolledMfa.recoveryCodes.map((code) => `<li><code>${escapeHtml(code)}</code></li>`);
        return renderPage(ctx, 200, {
          title: 'Recovery codes',
          body: `<p>Keep these codes somewhere safe: each one signs you in once if you lose your authenticator.</p>
<ol id="recovery-codes">${codes.join('')}</ol><p><a id="continue" href="${escapeHtml(returnTo)}">Continue</a></p>`,
        });
      }
      ctx.status = 303;
      ctx.redirect(returnTo);
      return;
    }
    return renderRefusal(ctx, outcome, form.email);
  };
}

async function renderRefusal(
  ctx: KoaContextWithOIDC,
  outcome: Exclude<LoginOutcome, { outcome: 'authenticated' }>,
  email: string,
) {
  switch (outcome.outcome) {
    case 'throttled':
      // Seed 001: 5 attempts a minute, then 429 with Retry-After (RFC 6585 §4).
      ctx.set('retry-after', String(outcome.retryAfterSeconds));
      return render(ctx, 429, { email, error: `Too many attempts. Try again in ${outcome.retryAfterSeconds} s.` });
    case 'invalid_credentials':
      return render(ctx, 401, { email, error: 'The email, password or code is not right.' });
    case 'mfa_code_required':
      return render(ctx, 401, { email, error: 'Enter the code from your authenticator app.', askCode: true });
    case 'mfa_enrolment_required':
      return render(ctx, 403, {
        // Inline SVG markup (no image fetch, so the page's `default-src 'none'` still holds).
        qrSvg: await QRCode.toString(outcome.otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),
        email,
        error:
          'Your role requires two-factor authentication. Add this key to your authenticator app, then sign in with a code.',
        otpauthUri: outcome.otpauthUri,
        askCode: true,
      });
  }
}

async function readLoginForm(ctx: KoaContextWithOIDC): Promise<LoginForm | undefined> {
  const fields = await readForm(ctx, FORM_BYTES_MAX);
  if (fields === undefined) return undefined;
  const email = fields.get('email') ?? '';
  const password = fields.get('password') ?? '';
  if (email.length === 0 || email.length > 320 || password.length === 0 || password.length > 256) return undefined;
  const totp = fields.get('totp') ?? undefined;
  return { email, password, totp: totp !== undefined && totp.length <= 16 ? totp : undefined };
}

interface PageState {
  email?: string;
  error?: string;
  otpauthUri?: string;
  /** The otpauth URI as a QR code, SVG markup generated here from the URI alone. */
  qrSvg?: string;
  askCode?: boolean;
  /** An error with nothing to submit (no valid interaction). */
  formless?: boolean;
}

function render(ctx: KoaContextWithOIDC, status: number, state: PageState): void {
  renderPage(ctx, status, { title: 'Sign in', error: state.error, body: state.formless ? '' : loginForm(state) });
}

/** The form never echoes the password, and escapes everything it echoes. */
function loginForm(state: PageState): string {
  const enrolment =
    state.otpauthUri === undefined
      ? ''
      : `<figure>${state.qrSvg ?? ''}<figcaption>Key: <code id="otpauth">${escapeHtml(state.otpauthUri)}</code></figcaption></figure>`;
  return `${enrolment}
<form method="post" autocomplete="on">
<label>Email <input name="email" type="email" required maxlength="320" value="${escapeHtml(state.email ?? '')}"></label>
<label>Password <input name="password" type="password" required maxlength="256"></label>
<label>Authenticator code <input name="totp" inputmode="numeric" maxlength="8" autocomplete="one-time-code"${state.askCode ? ' required' : ''}></label>
<button type="submit">Sign in</button>
</form>`;
}
