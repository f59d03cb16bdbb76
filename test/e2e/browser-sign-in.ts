import * as oidc from 'openid-client';

/** A browser as far as the authorization-code flow needs one: manual redirects and a cookie jar. */
export class Browser {
  private readonly cookies = new Map<string, string>();

  /** `forwardedFor`: the client address the gateway (trusting the test as its proxy) sees. */
  constructor(
    private readonly baseUrl: string,
    private readonly forwardedFor?: string,
  ) {}

  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.forwardedFor !== undefined) headers.set('x-forwarded-for', this.forwardedFor);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(new URL(url, this.baseUrl), { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const index = pair.indexOf('=');
      this.cookies.set(pair.slice(0, index).trim(), pair.slice(index + 1));
    }
    return response;
  }

  /** Follows redirects while they stay on the gateway; returns the first response that does not. */
  async follow(response: Response): Promise<Response> {
    let current = response;
    while (current.status >= 300 && current.status < 400) {
      const location = new URL(current.headers.get('location')!, this.baseUrl);
      if (location.origin !== new URL(this.baseUrl).origin) return current;
      current = await this.request(location);
    }
    return current;
  }
}

export interface SignInAttempt {
  email: string;
  password: string;
  totp?: string;
}

export interface StartedSignIn {
  browser: Browser;
  /** The interaction page URL. */
  interaction: URL;
  verifier: string;
  state: string;
}

/** Starts the authorization-code flow with PKCE (S256) and lands on the sign-in page. */
export async function startSignIn(
  config: oidc.Configuration,
  gatewayUrl: string,
  redirectUri: string,
  scope: string,
  forwardedFor?: string,
): Promise<StartedSignIn> {
  const browser = new Browser(gatewayUrl, forwardedFor);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const response = await browser.request(url);
  if (response.status !== 303) throw new Error(`authorize answered ${response.status}: ${await response.text()}`);
  return { browser, interaction: new URL(response.headers.get('location')!, gatewayUrl), verifier, state };
}

/** Posts the sign-in form; on success follows the flow back to the redirect URI (the callback URL). */
export async function submitSignIn(started: StartedSignIn, attempt: SignInAttempt) {
  const form = new URLSearchParams({ email: attempt.email, password: attempt.password, totp: attempt.totp ?? '' });
  const response = await started.browser.request(started.interaction, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  if (response.status !== 303) return { response, callback: undefined };
  const final = await started.browser.follow(response);
  if (final.headers.get('location') === null)
    throw new Error(`the flow ended at ${final.status} instead of the callback: ${(await final.text()).slice(0, 300)}`);
  return { response: final, callback: new URL(final.headers.get('location')!) };
}

/** The recovery codes and the link onward shown once after a TOTP enrolment. */
export function recoveryPageOf(page: string): { codes: string[]; continueUrl: string } {
  const codes = [...page.matchAll(/<li><code>([0-9A-Z-]+)<\/code><\/li>/g)].map((match) => match[1]!);
  const href = /<a id="continue" href="([^"]+)"/.exec(page)?.[1];
  if (codes.length === 0 || href === undefined) throw new Error('no recovery codes on the page');
  return { codes, continueUrl: href.replaceAll('&amp;', '&') };
}

/** Posts the sign-in form and expects the recovery-code page (a first TOTP enrolment), then follows it to the callback. */
export async function submitEnrolment(started: StartedSignIn, attempt: Required<SignInAttempt>) {
  const form = new URLSearchParams({ email: attempt.email, password: attempt.password, totp: attempt.totp });
  const response = await started.browser.request(started.interaction, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  if (response.status !== 200) throw new Error(`enrolment answered ${response.status}: ${await response.text()}`);
  const { codes, continueUrl } = recoveryPageOf(await response.text());
  const final = await started.browser.follow(await started.browser.request(continueUrl));
  return { codes, callback: new URL(final.headers.get('location')!) };
}

/** The otpauth secret shown on the enrolment page. */
export function totpSecretOf(page: string): string {
  const uri = /<code id="otpauth">([^<]+)<\/code>/.exec(page)?.[1];
  if (uri === undefined) throw new Error('no otpauth URI on the page');
  return new URL(uri.replaceAll('&amp;', '&')).searchParams.get('secret')!;
}
