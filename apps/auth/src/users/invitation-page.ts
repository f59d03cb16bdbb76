import { OIDC_ROUTES } from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { currentExchangeOrigin } from '../oidc/exchange-origin';
import { escapeHtml, readForm, renderPage } from '../oidc/html-page';
import { hashPassword } from '../passwords/password-hashing';
import { checkPasswordPolicy } from '../passwords/password-policy';
import type { InvitationsRepository } from './invitations.repository';

/** Under `/oauth/` so the gateway forwards it to auth with the rest of the sign-in surface. */
export const INVITATION_PATH_PREFIX = `${OIDC_ROUTES.invitations}/`;
const INVITATION_PATH = new RegExp(`^${OIDC_ROUTES.invitations}/([A-Za-z0-9_-]{1,64})$`);
const FORM_BYTES_MAX = 2_048;
const NOT_OPEN = 'This invitation is not valid: it was used, it expired, or the link is incomplete. Ask for a new one.';

/**
 * The page behind an invitation link: the invited user chooses a password (the policy of
 * NIST SP 800-63B: length, not a common password, not the email) and the account exists.
 */
export function invitationAcceptance(invitations: InvitationsRepository) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    const match = INVITATION_PATH.exec(ctx.path);
    if (match === null) return next();
    const invitation = await invitations.findOpen(match[1]!);
    if (invitation === undefined) return renderPage(ctx, 404, { title: 'Invitation', error: NOT_OPEN });
    const form = `<p>Choose a password for <strong>${escapeHtml(invitation.email)}</strong>.</p>
<form method="post"><label>Password <input name="password" type="password" required minlength="12" maxlength="256" autocomplete="new-password"></label>
<button type="submit">Create my account</button></form>`;
    if (ctx.method === 'GET') return renderPage(ctx, 200, { title: 'Invitation', body: form });
    if (ctx.method !== 'POST') return renderPage(ctx, 405, { title: 'Invitation', error: 'Use the form.' });
    const password = (await readForm(ctx, FORM_BYTES_MAX))?.get('password') ?? '';
    const policy = checkPasswordPolicy(password, { email: invitation.email });
    if (!policy.ok) {
      const error = `Choose another password (${policy.violations.join(', ').replaceAll('_', ' ')}).`;
      return renderPage(ctx, 400, { title: 'Invitation', error, body: form });
    }
    try {
      await invitations.accept(invitation, await hashPassword(password), currentExchangeOrigin());
    } catch (error) {
      if (!(error instanceof PlatformError) || !['CONFLICT', 'NOT_FOUND'].includes(error.code)) throw error;
      const message =
        error.code === 'CONFLICT' ? 'An account with this email exists already. Sign in instead.' : NOT_OPEN;
      return renderPage(ctx, 409, { title: 'Invitation', error: message });
    }
    return renderPage(ctx, 201, {
      title: 'Invitation',
      body: '<p id="done">Your account is ready. Sign in from your application.</p>',
    });
  };
}
