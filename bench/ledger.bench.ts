import { startTestStack } from '../test/e2e/test-stack';
import { LedgerBusClient, type ServiceMemory } from './ledger-bus-client';
import { PostgresLedgerFloor } from './ledger-floor';
import { type BenchTransfer, type Book, bookOf, transfersOf } from './ledger-transfers';
import { type Figure, figure } from './measure';

/**
 * Bounded counts (TIGER_STYLE): the measured cases take ~3 minutes on 2 cores; the memory run's
 * 1,000,000 transfers take what the service needs (~100 s at the 10,000/s target).
 */
const ACCOUNTS = 10_000;
const ACCOUNT_OPENERS = 32;
/** Issue 6: calls of 1,000 transfers; a few callers at once keep the service busy while one waits on Postgres. */
const BATCH_SIZE = 1_000;
const BATCH_CALLERS = 3;
const BATCHED_TRANSFERS = 50_000;
const HOT_TRANSFERS = 20_000;
const SINGLE_TRANSFERS = 5_000;
/** One transaction per transfer is slow (~200–1,000/s here): fewer of them give its rate as well. */
const FLOOR_SINGLE_TRANSFERS = 2_000;
const SINGLE_CLIENTS = 64;
/** The ledger's own pool (the platform's DataSource default): the floor gets as many connections. */
const FLOOR_CONNECTIONS = 10;
const WARMUP_BATCHES = 5;
const WARMUP_SINGLES = 1_000;
/** Each path measured this many times, alternating which goes first, best kept: neighbours' noise hits both alike. */
const ROUNDS = 2;
/** Before each measurement the ledger's outbox relay may publish the last one's events (bounded wait). */
const RELAY_DRAIN_WAIT_MS_MAX = 20_000;
const MEMORY_TRANSFERS_DEFAULT = 1_000_000;
/** Issue 6's targets. */
const TARGETS = {
  batchedPerSecondMin: 10_000,
  batchedFloorRatioMin: 0.6,
  singlePerSecondMin: 2_000,
  singleP99MsMax: 50,
  hotPerSecondMin: 3_000,
};

const FLOOR_OF_BATCHES = 'the same batches straight to Postgres';

const CASES = ['batched', 'single', 'hot', 'memory'] as const;
type Case = (typeof CASES)[number];

interface Rate {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** How one path (the service on the bus, or the floor) applies transfers, and the accounts it has. */
interface LedgerPath {
  book: Book;
  batch(transfers: readonly BenchTransfer[]): Promise<void>;
  one(transfer: BenchTransfer): Promise<void>;
}

interface Bench {
  service: LedgerPath;
  floor: LedgerPath;
  ledger: LedgerBusClient;
  log(line: string): void;
  /** Transfers the service applied since the memory reading before. */
  applied: number;
}

/**
 * The ledger's write path through the bus with the real service (issue 6), each figure against
 * its Postgres floor measured in the same run: the same transfers written with `pg` from this
 * process into a ledger database of their own (ledger-floor.ts), one transaction per batch.
 *
 * BENCH_LEDGER_CASES=batched,single,hot,memory picks cases (default all); BENCH_LEDGER_TRANSFERS
 * sets how many transfers the ledger applies between its two RSS readings (default 1,000,000,
 * the measured cases' included). With STRONGROOM_CPU_PROFILE_DIR=<dir> every process of the stack
 * writes a V8 CPU profile there when it stops: run one case at a time to see where its time goes.
 */
export async function runLedgerBenchmarks(log: (line: string) => void): Promise<Figure[]> {
  const settings = settingsFromEnvironment(process.env);
  const running = await startTestStack({}, (line: string) => log(`stack: ${line}`));
  let floor: PostgresLedgerFloor | undefined;
  let ledger: LedgerBusClient | undefined;
  try {
    floor = await PostgresLedgerFloor.open(FLOOR_CONNECTIONS);
    ledger = await LedgerBusClient.connect(running);
    log(`ledger: stack up at ${running.stack.gatewayUrl}; cases ${[...settings.cases].join(', ')}`);
    const bench = await prepare(ledger, floor, log);
    const before = ledger.serviceMemory();
    bench.applied = 0;
    const figures: Figure[] = [];
    if (settings.cases.has('batched')) figures.push(...(await benchBatched(bench)));
    if (settings.cases.has('single')) figures.push(...(await benchSingle(bench)));
    if (settings.cases.has('hot')) figures.push(...(await benchHotAccount(bench)));
    if (settings.cases.has('memory')) figures.push(await benchMemory(bench, before, settings.memoryTransfers));
    return figures;
  } finally {
    await ledger?.close();
    await floor?.close();
    await running.dispose();
  }
}

/** Opens the accounts on both paths, then warms both with batches (JIT, pools, plans). */
async function prepare(
  ledger: LedgerBusClient,
  floor: PostgresLedgerFloor,
  log: (line: string) => void,
): Promise<Bench> {
  const openedAt = performance.now();
  const serviceBook = bookOf(await ledger.openAccounts(ACCOUNTS + 1, 'bench-', ACCOUNT_OPENERS));
  const perSecond = (ACCOUNTS + 1) / ((performance.now() - openedAt) / 1000);
  log(`ledger: ${ACCOUNTS} accounts and a hot one opened over the bus at ${Math.round(perSecond)}/s`);
  const bench: Bench = {
    ledger,
    log,
    applied: 0,
    service: {
      book: serviceBook,
      batch: async (transfers) => {
        await ledger.applyBatch(transfers);
        bench.applied += transfers.length;
      },
      one: async (transfer) => {
        await ledger.applyOne(transfer);
        bench.applied += 1;
      },
    },
    floor: {
      book: bookOf(await floor.openAccounts(ACCOUNTS + 1, 'bench-')),
      batch: (transfers) => floor.applyBatch(transfers),
      one: (transfer) => floor.applyBatch([transfer]),
    },
  };
  for (const path of [bench.service, bench.floor]) {
    await batches(WARMUP_BATCHES * BATCH_SIZE, transfersOf(path.book, false, 1), path.batch);
  }
  return bench;
}

async function benchBatched(bench: Bench): Promise<Figure[]> {
  const [edge, base] = await alternate(bench, (path, round) =>
    batches(BATCHED_TRANSFERS, transfersOf(path.book, false, 10 + round), path.batch),
  );
  const ratio = edge.perSecond / base.perSecond;
  bench.log(
    `ledger: batched, ${BATCHED_TRANSFERS} transfers in calls of ${BATCH_SIZE}, ${BATCH_CALLERS} calls in flight, ` +
      `${ACCOUNTS} accounts, best of ${ROUNDS}: service ${Math.round(edge.perSecond)}/s, ` +
      `floor ${Math.round(base.perSecond)}/s (${ratio.toFixed(2)}x); ` +
      `≥ ${TARGETS.batchedPerSecondMin}/s: ${verdict(edge.perSecond >= TARGETS.batchedPerSecondMin)}, ` +
      `≥ ${TARGETS.batchedFloorRatioMin}x the floor: ${verdict(ratio >= TARGETS.batchedFloorRatioMin)}`,
  );
  return [
    figure('ledger.batched_transfers', edge.perSecond, 'transfers/s', FLOOR_OF_BATCHES, base.perSecond),
    figure(
      'ledger.batched_transfers_vs_target',
      edge.perSecond,
      'transfers/s',
      'the 10,000/s target',
      TARGETS.batchedPerSecondMin,
    ),
  ];
}

async function benchSingle(bench: Bench): Promise<Figure[]> {
  await singles(WARMUP_SINGLES, transfersOf(bench.service.book, false, 2), bench.service.one);
  await singles(WARMUP_SINGLES / 4, transfersOf(bench.floor.book, false, 2), bench.floor.one);
  const since = new Date();
  const [edge, base] = await alternate(bench, (path, round) =>
    singles(
      path === bench.service ? SINGLE_TRANSFERS : FLOOR_SINGLE_TRANSFERS,
      transfersOf(path.book, false, 20 + round),
      path.one,
    ),
  );
  bench.log(
    `ledger: single, ${SINGLE_TRANSFERS} createTransfer calls, ${SINGLE_CLIENTS} clients, best of ${ROUNDS}: ` +
      `service ${Math.round(edge.perSecond)}/s p50 ${edge.p50Ms.toFixed(1)} ms p99 ${edge.p99Ms.toFixed(1)} ms; ` +
      `floor (${FLOOR_SINGLE_TRANSFERS}, one transaction each, ${FLOOR_CONNECTIONS} connections) ` +
      `${Math.round(base.perSecond)}/s p50 ${base.p50Ms.toFixed(1)} ms p99 ${base.p99Ms.toFixed(1)} ms; ` +
      `≥ ${TARGETS.singlePerSecondMin}/s: ${verdict(edge.perSecond >= TARGETS.singlePerSecondMin)}, ` +
      `p99 ≤ ${TARGETS.singleP99MsMax} ms: ${verdict(edge.p99Ms <= TARGETS.singleP99MsMax)}`,
  );
  const written = await bench.ledger.transfersWrittenSince(since);
  bench.log(
    `ledger: group commit wrote the service's ${written.transfers} single transfers in ${written.transactions} ` +
      `transactions (${(written.transfers / Math.max(written.transactions, 1)).toFixed(1)} a transaction)`,
  );
  const floorName = 'single transfers straight to Postgres, one transaction each';
  return [
    figure('ledger.single_transfers', edge.perSecond, 'transfers/s', floorName, base.perSecond),
    figure('ledger.single_transfer_p50', edge.p50Ms, 'ms', `${floorName}, p50`, base.p50Ms),
    figure('ledger.single_transfer_p99', edge.p99Ms, 'ms', `${floorName}, p99`, base.p99Ms),
    figure(
      'ledger.single_transfers_vs_target',
      edge.perSecond,
      'transfers/s',
      'the 2,000/s target',
      TARGETS.singlePerSecondMin,
    ),
    figure('ledger.single_transfer_p99_vs_target', edge.p99Ms, 'ms', 'the 50 ms target', TARGETS.singleP99MsMax),
  ];
}

async function benchHotAccount(bench: Bench): Promise<Figure[]> {
  const [edge, base] = await alternate(bench, (path, round) =>
    batches(HOT_TRANSFERS, transfersOf(path.book, true, 30 + round), path.batch),
  );
  bench.log(
    `ledger: hot account, ${HOT_TRANSFERS} transfers each touching one account, calls of ${BATCH_SIZE}, ` +
      `${BATCH_CALLERS} in flight, best of ${ROUNDS}: service ${Math.round(edge.perSecond)}/s, ` +
      `floor ${Math.round(base.perSecond)}/s; ≥ ${TARGETS.hotPerSecondMin}/s: ${verdict(edge.perSecond >= TARGETS.hotPerSecondMin)}`,
  );
  return [
    figure('ledger.hot_account_transfers', edge.perSecond, 'transfers/s', FLOOR_OF_BATCHES, base.perSecond),
    figure(
      'ledger.hot_account_transfers_vs_target',
      edge.perSecond,
      'transfers/s',
      'the 3,000/s target',
      TARGETS.hotPerSecondMin,
    ),
  ];
}

/** The ledger's RSS after `transfers` in all (the measured cases' first, then batches of 1,000 up to the count). */
async function benchMemory(bench: Bench, before: ServiceMemory, transfers: number): Promise<Figure> {
  const rest = Math.max(0, transfers - bench.applied);
  const filled = await batches(rest, transfersOf(bench.service.book, false, 40), bench.service.batch);
  const after = bench.ledger.serviceMemory();
  const sustained =
    rest > 0 ? ` (the last ${rest} in calls of ${BATCH_SIZE} at ${Math.round(filled.perSecond)}/s)` : '';
  bench.log(
    `ledger: RSS ${before.rssMb.toFixed(0)} MB before, ${after.rssMb.toFixed(0)} MB after ${bench.applied} transfers` +
      `${sustained}, peak ${after.peakRssMb.toFixed(0)} MB; ` +
      `${await bench.ledger.unpublishedEvents()} events not yet published by the ledger's outbox relay`,
  );
  return figure('ledger.service_rss', after.rssMb, 'MB', `its RSS before ${bench.applied} transfers`, before.rssMb);
}

function settingsFromEnvironment(env: NodeJS.ProcessEnv): { cases: ReadonlySet<Case>; memoryTransfers: number } {
  const cases = env.BENCH_LEDGER_CASES?.split(',').map((name) => name.trim()) ?? [...CASES];
  if (cases.length === 0 || cases.some((name) => !(CASES as readonly string[]).includes(name)))
    throw new Error(`BENCH_LEDGER_CASES must list some of ${CASES.join(', ')} (got ${env.BENCH_LEDGER_CASES})`);
  const transfers = env.BENCH_LEDGER_TRANSFERS ?? String(MEMORY_TRANSFERS_DEFAULT);
  if (!/^[0-9]{1,9}$/.test(transfers))
    throw new Error(`BENCH_LEDGER_TRANSFERS must be a whole number of transfers (got ${transfers})`);
  return { cases: new Set(cases as Case[]), memoryTransfers: Number(transfers) };
}

/**
 * Measures the service and the floor ROUNDS times each, alternating which goes first, each after
 * the ledger's relay has published the events before it (so neither pays for the other's); keeps
 * each path's best round.
 */
async function alternate(
  bench: Bench,
  measure: (path: LedgerPath, round: number) => Promise<Rate>,
): Promise<[Rate, Rate]> {
  let edge: Rate | undefined;
  let base: Rate | undefined;
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = round % 2 === 0 ? [bench.service, bench.floor] : [bench.floor, bench.service];
    for (const path of order) {
      const left = await bench.ledger.relayDrained(RELAY_DRAIN_WAIT_MS_MAX);
      if (left > 0)
        bench.log(`ledger: the outbox relay still had ${left} events to publish after 20 s; measuring anyway`);
      const rate = await measure(path, round);
      if (path === bench.service) edge = best(edge, rate);
      else base = best(base, rate);
    }
  }
  return [edge!, base!];
}

function best(kept: Rate | undefined, candidate: Rate): Rate {
  return kept === undefined || candidate.perSecond > kept.perSecond ? candidate : kept;
}

/** `count` transfers in calls of BATCH_SIZE, BATCH_CALLERS calls in flight. */
async function batches(
  count: number,
  next: () => BenchTransfer,
  apply: (transfers: readonly BenchTransfer[]) => Promise<void>,
): Promise<Rate> {
  const calls = Math.ceil(count / BATCH_SIZE);
  const rate = await timed(calls, BATCH_CALLERS, (call) =>
    apply(Array.from({ length: Math.min(BATCH_SIZE, count - call * BATCH_SIZE) }, next)),
  );
  return { ...rate, perSecond: calls === 0 ? 0 : (rate.perSecond * count) / calls };
}

/** `count` transfers one call each, SINGLE_CLIENTS clients each waiting for its answer before the next call. */
function singles(count: number, next: () => BenchTransfer, apply: (transfer: BenchTransfer) => Promise<void>) {
  return timed(count, SINGLE_CLIENTS, () => apply(next()));
}

/** `count` operations, `concurrency` in flight: operations per second and the latencies of the calls. */
async function timed(count: number, concurrency: number, operation: (index: number) => Promise<void>): Promise<Rate> {
  const latenciesMs: number[] = [];
  let next = 0;
  const startedAt = performance.now();
  const worker = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      const sentAt = performance.now();
      await operation(index);
      latenciesMs.push(performance.now() - sentAt);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - startedAt;
  latenciesMs.sort((a, b) => a - b);
  const percentile = (p: number) => latenciesMs[Math.max(0, Math.ceil(latenciesMs.length * p) - 1)] ?? 0;
  return { perSecond: count === 0 ? 0 : count / (elapsedMs / 1000), p50Ms: percentile(0.5), p99Ms: percentile(0.99) };
}

function verdict(holds: boolean): string {
  return holds ? 'holds' : 'MISSED';
}
