import { join } from 'node:path';
import type { RequestContract, RequestInputOf, ResponseOf } from '@strongroom/contracts';
import { BusClient, busTlsFilesFor, connectBus } from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import { clientCredentialsToken, type TestStack } from '../test-stack';

/**
 * The ledger on a test stack's bus as the gateway calls it: connected as the `gateway` identity,
 * each call carrying the demo client's token, served by the real ledger and its Postgres. For e2e tests.
 */

/** A typed call of a contract as the demo client. */
export type BusCall = <C extends RequestContract>(contract: C, input: RequestInputOf<C>) => Promise<ResponseOf<C>>;

export interface LedgerBusOptions {
  /** The connection's name on the bus; with several connections, `<name>-<index>`. */
  name: string;
  /** A call's timeout (the BusClient's default). */
  timeoutMs: number;
  /** The BusClient's upper bound on a call (its own default unless given). */
  maxTimeoutMs?: number;
  /** Separate connections, as several gateway replicas would hold (1 unless given). */
  connections?: number;
}

export interface LedgerBus {
  /** `Bearer <token>` of the demo client. */
  credential: string;
  connections: NatsConnection[];
  /** The first connection's client. */
  bus: BusClient;
  /** One caller a connection, each as the demo client. */
  callers: BusCall[];
  /** A call over the first connection. */
  call: BusCall;
  /** Closes every connection. */
  close(): Promise<void>;
}

export async function ledgerBusOf(testStack: TestStack, options: LedgerBusOptions): Promise<LedgerBus> {
  const { stack } = testStack;
  const count = options.connections ?? 1;
  const credential = `Bearer ${await clientCredentialsToken(stack.gatewayUrl, stack.demo)}`;
  const connections = await Promise.all(
    Array.from({ length: count }, (_, index) =>
      connectBus({
        servers: stack.natsUrl,
        tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'gateway'),
        name: count === 1 ? options.name : `${options.name}-${index}`,
      }),
    ),
  );
  const clients = connections.map(
    (connection) =>
      new BusClient(connection, {
        defaultTimeoutMs: options.timeoutMs,
        ...(options.maxTimeoutMs !== undefined ? { maxTimeoutMs: options.maxTimeoutMs } : {}),
      }),
  );
  const callers = clients.map(
    (client): BusCall =>
      (contract, input) =>
        client.request(contract, input, { credential }),
  );
  return {
    credential,
    connections,
    bus: clients[0] as BusClient,
    callers,
    call: callers[0] as BusCall,
    close: async () => {
      await Promise.all(connections.map((connection) => connection.close()));
    },
  };
}
