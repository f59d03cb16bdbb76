export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline: { name: string; value: number };
  /** value / baseline.value: how close to (or how far past) the floor we are. */
  ratio: number;
}

/** Runs `operation` `count` times with `concurrency` in flight; returns operations per second. */
export async function throughputPerSecond(
  count: number,
  concurrency: number,
  operation: (index: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const startedAt = performance.now();
  const worker = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      await operation(index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - startedAt) / 1000);
}

export function figure(name: string, value: number, unit: string, baselineName: string, baselineValue: number): Figure {
  return { name, value, unit, baseline: { name: baselineName, value: baselineValue }, ratio: value / baselineValue };
}

export function formatFigure(f: Figure): string {
  return `${f.name}: ${Math.round(f.value)} ${f.unit} (${f.ratio < 0.1 ? f.ratio.toPrecision(2) : f.ratio.toFixed(2)}x ${f.baseline.name} at ${Math.round(f.baseline.value)} ${f.unit})`;
}
