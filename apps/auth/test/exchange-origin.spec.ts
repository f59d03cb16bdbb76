import type { IncomingMessage, ServerResponse } from 'node:http';
import { inject } from 'light-my-request';
import { currentExchangeOrigin, withExchangeOrigin } from '../src/oidc/exchange-origin';

/** What oidc-provider's middleware would see of the exchange's origin, answered as the body. */
function dispatch(_request: IncomingMessage, response: ServerResponse): void {
  // Read after a turn of the event loop, as a middleware reads it after its awaits.
  setImmediate(() => response.end(JSON.stringify(currentExchangeOrigin())));
}

describe('the origin of an OAuth exchange, for the audit events written while it runs', () => {
  it('reaches the code light-my-request runs, though the injection starts only when its result is asked for', async () => {
    // As in OidcProviderHost.exchange: called after an await, so inside a promise job.
    await Promise.resolve();
    const origin = { requestId: 'req-exchange-1', sourceIp: '203.0.113.9', userAgent: 'browser/1' };
    const response = await withExchangeOrigin(origin, () => inject(dispatch, { method: 'GET', url: '/' }));
    expect(JSON.parse(response.payload)).toEqual(origin);
  });

  it('is empty outside an exchange, and two exchanges at once keep their own', async () => {
    expect(currentExchangeOrigin()).toEqual({});
    const [first, second] = await Promise.all(
      ['req-a', 'req-b'].map((requestId) =>
        withExchangeOrigin({ requestId }, () => inject(dispatch, { method: 'GET', url: '/' })),
      ),
    );
    expect([JSON.parse(first!.payload), JSON.parse(second!.payload)]).toEqual([
      { requestId: 'req-a' },
      { requestId: 'req-b' },
    ]);
  });
});
