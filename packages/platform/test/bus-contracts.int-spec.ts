import 'reflect-metadata';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { defineRequest } from '@strongroom/contracts';
import { startTestNats, type TestNats } from '@strongroom/testing';
import type { NatsConnection } from 'nats';
import { z } from 'zod';
import {
  BusClient,
  type BusRequestContext,
  BusServer,
  busHandlerHooks,
  Handles,
  PlatformError,
  type Principal,
  recordToHeaders,
} from '../src';

// The transport under test, not token verification (credentials.spec.ts, apps/auth zero-trust.int-spec.ts):
// a stand-in verifier knows one token, granting the probes' permission.
const CALLER_TOKEN = 'Bearer caller.jwt.token';
const caller: Principal = {
  subject: 'user-1',
  tenantId: '6f1c2a9e-3b7d-4c1a-9f2e-1d3b5a7c9e0f',
  environment: 'sandbox',
  clientId: undefined,
  tokenId: 'token-1',
  issuedAt: new Date(),
  expiresAt: new Date(Date.now() + 3_600_000),
  permissions: new Set(['platform.health.read']),
};

const echo = defineRequest({
  subject: 'ledger.v1.probes.echo',
  request: z.object({ text: z.string().max(16), times: z.number().int().min(1).max(3) }).strict(),
  response: z.object({ echoed: z.string() }),
  permission: 'platform.health.read',
  summary: 'Test-only echo',
});
const broken = defineRequest({
  subject: 'ledger.v1.probes.broken',
  request: z.object({ mode: z.enum(['bad-reply', 'crash', 'not-found', 'slow']) }),
  response: z.object({ ok: z.literal(true) }),
  permission: 'platform.health.read',
  summary: 'Test-only misbehaving handler',
});

const callerContext = defineRequest({
  subject: 'ledger.v1.probes.context',
  request: z.object({}),
  response: z.object({ requestId: z.string(), credential: z.string().optional(), traceparent: z.string().optional() }),
  permission: 'platform.health.read',
  summary: 'Test-only: what the handler learns about its caller',
});

const domainCalls: string[] = [];

@Controller()
class ProbeHandlers {
  @Handles(echo)
  async echo(input: { text: string; times: number }) {
    domainCalls.push(input.text);
    return { echoed: input.text.repeat(input.times) };
  }

  @Handles(callerContext)
  async context(_input: object, context: BusRequestContext) {
    return { requestId: context.requestId, credential: context.credential, traceparent: context.headers.traceparent };
  }

  @Handles(broken)
  async broken(input: { mode: string }): Promise<{ ok: true }> {
    domainCalls.push(input.mode);
    if (input.mode === 'bad-reply') return { ok: 'yes' } as unknown as { ok: true };
    if (input.mode === 'not-found') throw PlatformError.notFound('Probe', 'p-1');
    if (input.mode === 'slow') await new Promise((resolve) => setTimeout(resolve, 1_500));
    throw new Error('database password is hunter2');
  }
}

@Module({ controllers: [ProbeHandlers] })
class ProbeModule {}

describe('typed request/reply over the mTLS bus', () => {
  let nats: TestNats;
  let service: INestMicroservice;
  let gateway: NatsConnection;
  let bus: BusClient;
  const installedVerifier = busHandlerHooks.verifyCredential;

  beforeAll(async () => {
    busHandlerHooks.verifyCredential = async (authorization) => {
      if (authorization !== CALLER_TOKEN) throw PlatformError.unauthenticated();
      return caller;
    };
    nats = await startTestNats();
    service = await NestFactory.createMicroservice(ProbeModule, {
      strategy: new BusServer(() => nats.connectAs('ledger'), { queue: 'ledger' }),
      logger: false,
    });
    await service.listen();
    gateway = await nats.connectAs('gateway');
    bus = new BusClient(gateway, { defaultTimeoutMs: 2_000, actingAs: { authorization: async () => CALLER_TOKEN } });
  });

  afterAll(async () => {
    busHandlerHooks.verifyCredential = installedVerifier;
    await gateway?.close();
    await service?.close();
    await nats?.stop();
  });

  beforeEach(() => {
    domainCalls.length = 0;
  });

  it('delivers a valid request to the handler and returns its typed reply', async () => {
    await expect(bus.request(echo, { text: 'ab', times: 2 })).resolves.toEqual({ echoed: 'abab' });
    expect(domainCalls).toEqual(['ab']);
  });

  it.each([
    ['a wrong type', { text: 1, times: 1 }],
    ['an unknown field', { text: 'a', times: 1, admin: true }],
    ['a missing field', { text: 'a' }],
    ['an out-of-range number', { text: 'a', times: 99 }],
    ['an oversized string', { text: 'x'.repeat(10_000), times: 1 }],
    ['null', null],
  ])('refuses %s with VALIDATION before any domain code runs', async (_case, payload) => {
    const error = await bus.forward(echo, payload).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toMatchObject({ code: 'VALIDATION' });
    expect((error as PlatformError).details?.issues).toEqual(expect.any(Array));
    expect(domainCalls).toEqual([]);
  });

  it("hands the handler the caller's request id and credential from the message headers", async () => {
    await expect(
      bus.request(callerContext, {}, { requestId: 'req-42', credential: CALLER_TOKEN }),
    ).resolves.toMatchObject({ requestId: 'req-42', credential: CALLER_TOKEN });
  });

  it('refuses a call without a verified credential with UNAUTHENTICATED before any domain code runs', async () => {
    const anonymous = new BusClient(gateway, { defaultTimeoutMs: 2_000 });
    await expect(anonymous.request(echo, { text: 'ab', times: 1 })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(
      bus.request(echo, { text: 'ab', times: 1 }, { credential: 'Bearer forged.jwt.token' }),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(domainCalls).toEqual([]);
  });

  it('answers a payload that is not JSON with VALIDATION instead of silence', async () => {
    const reply = await gateway.request(echo.subject, new TextEncoder().encode('{not json'), {
      timeout: 2_000,
      headers: recordToHeaders({ authorization: CALLER_TOKEN }),
    });
    expect(JSON.parse(new TextDecoder().decode(reply.data)).err).toMatchObject({ code: 'VALIDATION' });
    expect(domainCalls).toEqual([]);
  });

  it('refuses invalid typed input on the caller side too', async () => {
    const invalid = { text: 'a', times: 0 };
    await expect(bus.request(echo, invalid)).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(domainCalls).toEqual([]);
  });

  it('reports a reply that breaks the contract as BAD_REPLY', async () => {
    await expect(bus.request(broken, { mode: 'bad-reply' })).rejects.toMatchObject({ code: 'BAD_REPLY' });
  });

  it('passes a domain error through with its code and details', async () => {
    await expect(bus.request(broken, { mode: 'not-found' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      details: { resource: 'Probe', id: 'p-1' },
    });
  });

  it('turns an unexpected error into INTERNAL without leaking its message', async () => {
    const error = (await bus.request(broken, { mode: 'crash' }).catch((e: unknown) => e)) as PlatformError;
    expect(error.code).toBe('INTERNAL');
    expect(JSON.stringify(error.toBody())).not.toContain('hunter2');
  });

  it('times out with TIMEOUT when the handler is too slow', async () => {
    await expect(bus.request(broken, { mode: 'slow' }, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('answers UNAVAILABLE when no service serves the subject', async () => {
    const nobody = defineRequest({ ...echo, subject: 'kyc.v1.probes.echo' });
    await expect(bus.request(nobody, { text: 'a', times: 1 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
