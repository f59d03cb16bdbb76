import { createHmac, randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { RunningStack } from '@strongroom/cli';
import { createUser, OIDC_ROUTES } from '@strongroom/contracts';
import { BusClient, busTlsFilesFor, connectBus, serviceCredentialsOverBus } from '@strongroom/platform';
import * as oidc from 'openid-client';
import { PASSWORD_HASH_OPTIONS } from '../apps/auth/src/passwords/password-hashing';
import { type StartedSignIn, startSignIn, submitSignIn, totpSecretOf } from '../test/e2e/browser-sign-in';
import { basicAuthorization, expectStatus, type GatewayClient, type LoadResult, load } from './gateway-load';
import { type Figure, figure } from './measure';

/**
 * Bounded counts (TIGER_STYLE). A sign-in pays an argon2id verify (m=19 MiB, t=2: tens a second
 * on 2 cores), and set-up pays three per user (the hash at creation, two verifies to enrol TOTP).
 */
const SIGN_INS = 200;
const SIGN_IN_CONCURRENCY = 8;
const SETUP_CONCURRENCY = 8;
const ARGON2_VERIFIES = 200;
const REFRESH_CHAINS = 32;
const REFRESH_WARMUP = 320;
const ROTATIONS = 2_000;

const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const SCOPE = 'openid tenants.tenants.read';
const PASSWORD = 'a long and unusual passphrase for the bench';
const TOTP_STEP_MS = 30_000;

interface BenchUser {
  email: string;
  totpSecret: string;
  /** The TOTP time step redeemed at enrolment: spent, the next sign-in needs a later one. */
  enrolledStep: number;
}

interface Tokens {
  access_token: string;
  refresh_token: string;
}

export interface UserFlowsInput {
  stack: RunningStack;
  pkiDir: string;
  /** Keep-alive client of the gateway with at least REFRESH_CHAINS connections. */
  client: GatewayClient;
  /** A client_credentials token of the demo client (may register clients). */
  accessToken: string;
  log: (line: string) => void;
}

/**
 * Issue 4, users: (1) complete sign-ins of administrators (password + TOTP) with the
 * authorization-code flow and PKCE, through the gateway, against a bare argon2id verify in
 * process, the floor any password login pays; (2) refresh-token rotations (one-time use, so
 * REFRESH_CHAINS independent chains, each redeeming the token its previous rotation returned).
 */
export async function benchUserFlows(input: UserFlowsInput): Promise<{ signIns: Figure[]; rotations: LoadResult }> {
  const { stack, client, log } = input;
  const web = await registerWebClient(input);
  const webForm = {
    authorization: basicAuthorization(web.clientId, web.clientSecret),
    'content-type': 'application/x-www-form-urlencoded',
  };
  const config = await oidc.discovery(new URL(stack.gatewayUrl), web.clientId, web.clientSecret, undefined, {
    execute: [oidc.allowInsecureRequests],
  });
  // RFC 2544's benchmarking range: enrolment from 198.18.x.y, measured sign-ins from 198.19.x.y,
  // one address each, so no address nears the per-IP limit.
  const address = (network: 18 | 19, index: number) => `198.${network}.${index >> 8}.${index & 0xff}`;

  const exchange = async (started: StartedSignIn, signIn: SignInResult) => {
    const callback = signIn.callback;
    if (callback === undefined)
      throw new Error(`sign-in answered ${signIn.response.status}: ${(await signIn.response.text()).slice(0, 300)}`);
    if (`${callback.origin}${callback.pathname}` !== REDIRECT_URI || callback.searchParams.get('error') !== null)
      throw new Error(`the flow came back with ${callback.href}`);
    if (callback.searchParams.get('state') !== started.state) throw new Error('the callback lost the state');
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
      code_verifier: started.verifier,
    });
    const answer = expectStatus(
      await client.send('POST', OIDC_ROUTES.token, webForm, body.toString()),
      200,
      'code exchange',
    );
    const tokens = JSON.parse(answer.body) as Partial<Tokens> & { id_token?: string };
    if (typeof tokens.access_token !== 'string' || typeof tokens.refresh_token !== 'string' || !tokens.id_token)
      throw new Error(`the code exchange returned no access, refresh or ID token: ${answer.body.slice(0, 300)}`);
    return tokens as Tokens;
  };

  // Set-up, not timed: SIGN_INS administrators, each enrolled in TOTP by a first sign-in (the
  // password, then the code of the secret the page shows). Those first sign-ins also warm every
  // path of the flow, and their refresh tokens start the rotation chains.
  const users: BenchUser[] = [];
  const chains: string[] = [];
  const connection = await connectBus({
    servers: stack.natsUrl,
    tls: busTlsFilesFor(input.pkiDir, 'strongroom-admin'),
    name: 'bench-users',
  });
  try {
    const operator = new BusClient(connection, {
      defaultTimeoutMs: 10_000,
      actingAs: serviceCredentialsOverBus(new BusClient(connection, { defaultTimeoutMs: 10_000 })),
    });
    const run = randomBytes(4).toString('hex');
    await load(SIGN_INS, SETUP_CONCURRENCY, async (index) => {
      const email = `bench-admin-${run}-${index}@demo.test`;
      await operator.request(createUser, {
        tenantId: stack.demo.tenantId,
        email,
        password: PASSWORD,
        roles: ['admin'],
      });
      const started = await startSignIn(config, stack.gatewayUrl, REDIRECT_URI, SCOPE, address(18, index));
      const enrolment = await submitSignIn(started, { email, password: PASSWORD });
      if (enrolment.response.status !== 403)
        throw new Error(
          `an administrator's first sign-in answered ${enrolment.response.status}, not the enrolment page`,
        );
      const totpSecret = totpSecretOf(await enrolment.response.text());
      const enrolledStep = Math.floor(Date.now() / TOTP_STEP_MS);
      const confirmed = await submitSignIn(started, {
        email,
        password: PASSWORD,
        totp: totpAt(totpSecret, enrolledStep),
      });
      const tokens = await exchange(started, await pastRecoveryCodes(started, confirmed));
      users[index] = { email, totpSecret, enrolledStep };
      if (chains.length < REFRESH_CHAINS) chains.push(tokens.refresh_token);
    });
  } finally {
    await connection.close();
  }
  log(`oauth: ${SIGN_INS} administrators created over the bus and enrolled in TOTP (not timed)`);

  // Baseline: the argon2id verify every password sign-in pays, in this process, same parameters.
  const storedHash = await hash(PASSWORD, PASSWORD_HASH_OPTIONS);
  const argon2Verify = async () => {
    if (!(await verify(storedHash, PASSWORD))) throw new Error('argon2id refused the right password');
  };
  await load(SIGN_IN_CONCURRENCY * 2, SIGN_IN_CONCURRENCY, argon2Verify);
  const argon2 = await load(ARGON2_VERIFIES, SIGN_IN_CONCURRENCY, argon2Verify);
  log(`oauth: ${ARGON2_VERIFIES} argon2id verifies in process, ${SIGN_IN_CONCURRENCY} in flight (baseline)`);

  // One measured sign-in per user (3 attempts a minute per account with the enrolment's two, each
  // from its own address), with a TOTP step later than the one the enrolment spent.
  const signIns = await load(SIGN_INS, SIGN_IN_CONCURRENCY, async (index) => {
    const user = users[index]!;
    const started = await startSignIn(config, stack.gatewayUrl, REDIRECT_URI, SCOPE, address(19, index));
    const step = Math.max(Math.floor(Date.now() / TOTP_STEP_MS), user.enrolledStep + 1);
    const signIn = await submitSignIn(started, {
      email: user.email,
      password: PASSWORD,
      totp: totpAt(user.totpSecret, step),
    });
    await exchange(started, signIn);
  });
  log(
    `oauth: ${SIGN_INS} sign-ins (authorize, password + TOTP, callback, code exchange), ${SIGN_IN_CONCURRENCY} in flight`,
  );

  const rotate = async (_index: number, chain: number) => {
    const refreshToken = chains[chain]!;
    const answer = expectStatus(
      await client.send(
        'POST',
        OIDC_ROUTES.token,
        webForm,
        `grant_type=refresh_token&refresh_token=${encodeURIComponent(refreshToken)}`,
      ),
      200,
      'refresh',
    );
    const tokens = JSON.parse(answer.body) as Partial<Tokens>;
    if (typeof tokens.access_token !== 'string' || typeof tokens.refresh_token !== 'string')
      throw new Error(`a refresh returned no access or refresh token: ${answer.body.slice(0, 300)}`);
    if (tokens.refresh_token === refreshToken) throw new Error('a refresh did not rotate the refresh token');
    chains[chain] = tokens.refresh_token;
  };
  if (chains.length !== REFRESH_CHAINS) throw new Error(`${chains.length} refresh chains, not ${REFRESH_CHAINS}`);
  await load(REFRESH_WARMUP, REFRESH_CHAINS, rotate);
  const rotations = await load(ROTATIONS, REFRESH_CHAINS, rotate);
  log(`oauth: ${ROTATIONS} refresh-token rotations, ${REFRESH_CHAINS} chains in parallel`);

  return {
    signIns: [
      figure('oauth.login_with_mfa', signIns.perSecond, 'sign-ins/s', 'argon2id verify in process', argon2.perSecond),
      figure('oauth.login_with_mfa_p99', signIns.p99Ms, 'ms', 'argon2id verify in process p99', argon2.p99Ms),
    ],
    rotations,
  };
}

type SignInResult = Awaited<ReturnType<typeof submitSignIn>>;

/**
 * A first TOTP enrolment may stop on a page showing recovery codes once, with a link onward
 * (200, not a redirect): follow that link to the callback, as the user would after keeping them.
 */
async function pastRecoveryCodes(started: StartedSignIn, signIn: SignInResult): Promise<SignInResult> {
  if (signIn.callback !== undefined || signIn.response.status !== 200) return signIn;
  const page = await signIn.response.text();
  const href = /<a id="continue" href="([^"]+)"/.exec(page)?.[1];
  if (!page.includes('id="recovery-codes"') || href === undefined)
    throw new Error(`the enrolment answered 200 without recovery codes and a way on: ${page.slice(0, 300)}`);
  const final = await started.browser.follow(await started.browser.request(href.replaceAll('&amp;', '&')));
  const location = final.headers.get('location');
  return { response: final, callback: location === null ? undefined : new URL(location) };
}

async function registerWebClient(input: UserFlowsInput): Promise<{ clientId: string; clientSecret: string }> {
  const answer = await input.client.send(
    'POST',
    `/v1/tenants/${input.stack.demo.tenantId}/clients`,
    { authorization: `Bearer ${input.accessToken}`, 'content-type': 'application/json' },
    JSON.stringify({
      environment: 'sandbox',
      name: 'Bench sign-in app',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECT_URI],
      permissions: ['tenants.tenants.read'],
    }),
  );
  return JSON.parse(expectStatus(answer, 201, 'client registration').body) as {
    clientId: string;
    clientSecret: string;
  };
}

/** The code an authenticator app shows in a time step: RFC 6238 (HMAC-SHA1, 30 s, 6 digits), independent of the service. */
function totpAt(base32Secret: string, timeStep: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bits = [...base32Secret.replace(/=+$/, '')]
    .map((c) => alphabet.indexOf(c).toString(2).padStart(5, '0'))
    .join('');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((byte) => Number.parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(timeStep));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
