import { sendRetryingRateLimits } from '../src/ledger/export-api';

const reply = (status: number, retryAfter?: string) =>
  new Response(status === 200 ? '{}' : '{"code":"RATE_LIMITED"}', {
    status,
    headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter },
  });

describe('an export page refused for the rate plan', () => {
  it('is asked again after Retry-After, and the later answer is the one used', async () => {
    const answers = [reply(429, '2'), reply(429, '1'), reply(200)];
    const waits: number[] = [];
    const response = await sendRetryingRateLimits(
      async () => answers.shift() as Response,
      async (ms) => {
        waits.push(ms);
      },
    );
    expect(response.status).toBe(200);
    expect(waits).toEqual([2_000, 1_000]);
  });

  it('gives up after five refusals, or when Retry-After is too long to wait, and answers the 429', async () => {
    let sent = 0;
    const always429 = await sendRetryingRateLimits(
      async () => {
        sent += 1;
        return reply(429, '1');
      },
      async () => {},
    );
    expect(always429.status).toBe(429);
    expect(sent).toBe(6);
    const tooLong = await sendRetryingRateLimits(
      async () => reply(429, '3600'),
      async () => {},
    );
    expect(tooLong.status).toBe(429);
  });

  it('never retries any other status', async () => {
    let sent = 0;
    const refused = await sendRetryingRateLimits(
      async () => {
        sent += 1;
        return reply(503, '1');
      },
      async () => {},
    );
    expect(refused.status).toBe(503);
    expect(sent).toBe(1);
  });
});
