import { createLogger } from '@strongroom/platform';
import { PeriodicJob } from '../src/periodic-job';

const logger = createLogger({ service: 'audit', level: 'silent' });

describe('PeriodicJob (the checkpoint and purge schedules)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs first after its first delay, then every interval from the end of the previous run', async () => {
    const runs: number[] = [];
    const job = new PeriodicJob('test', 1_000, async () => runs.push(Date.now()), logger, 100);
    const start = Date.now();
    job.start();
    await jest.advanceTimersByTimeAsync(99);
    expect(runs).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(runs.map((at) => at - start)).toEqual([100, 1_100, 2_100]);
    await job.stop();
  });

  it('never runs two at once, and goes on after a failed run', async () => {
    let active = 0;
    let most = 0;
    let calls = 0;
    const job = new PeriodicJob(
      'test',
      10,
      async () => {
        calls += 1;
        active += 1;
        most = Math.max(most, active);
        await new Promise((resolve) => setTimeout(resolve, 50));
        active -= 1;
        if (calls === 1) throw new Error('first run fails');
      },
      logger,
    );
    job.start();
    await jest.advanceTimersByTimeAsync(500);
    expect(calls).toBeGreaterThan(3);
    expect(most).toBe(1);
    const stopping = job.stop();
    await jest.advanceTimersByTimeAsync(50);
    await stopping;
  });

  it('never runs with interval 0 (switched off)', async () => {
    const work = jest.fn(async () => undefined);
    const job = new PeriodicJob('test', 0, work, logger, 0);
    job.start();
    await jest.advanceTimersByTimeAsync(100_000);
    expect(work).not.toHaveBeenCalled();
    await job.stop();
  });

  it('stops: no run after stop, and stop waits for the run in progress', async () => {
    let finished = false;
    const job = new PeriodicJob(
      'test',
      10,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        finished = true;
      },
      logger,
    );
    job.start();
    await jest.advanceTimersByTimeAsync(10);
    const stopping = job.stop();
    await jest.advanceTimersByTimeAsync(100);
    await stopping;
    expect(finished).toBe(true);
  });
});
