import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';

export interface ManagedProcess {
  readonly name: string;
  readonly tier: number;
  readonly stopSignal: NodeJS.Signals;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) when the process has exited. */
  readonly exited: Promise<number | NodeJS.Signals>;
}

export interface SpawnSpec {
  name: string;
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Children stop in tiers, highest first; a tier's members stop in parallel. */
  tier: number;
  /** The signal that asks this program to shut down gracefully (default SIGTERM). */
  stopSignal?: NodeJS.Signals;
}

// Tiers stop one after another; their graces together stay under the 10 s Ctrl-C promise.
const EXIT_GRACE_MS = 2_500;

/**
 * The children of `strongroom up`: each in its own process, output to `<logDir>/<name>.log`,
 * stopped together (SIGTERM, then SIGKILL after a grace period) so Ctrl-C leaves nothing behind.
 */
export class ProcessGroup {
  private readonly processes: ManagedProcess[] = [];
  private readonly logs: WriteStream[] = [];

  constructor(
    private readonly logDir: string,
    private readonly onUnexpectedExit: (name: string, code: number | NodeJS.Signals) => void,
  ) {}

  spawn(spec: SpawnSpec): ManagedProcess {
    const log = createWriteStream(join(this.logDir, `${spec.name}.log`), { flags: 'a', mode: 0o600 });
    this.logs.push(log);
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    let stopping = false;
    const exited = new Promise<number | NodeJS.Signals>((resolve) => {
      child.once('exit', (code, signal) => {
        const outcome = code ?? signal ?? 1;
        if (!stopping && !this.stopping) this.onUnexpectedExit(spec.name, outcome);
        stopping = true;
        resolve(outcome);
      });
    });
    const managed = { name: spec.name, tier: spec.tier, stopSignal: spec.stopSignal ?? 'SIGTERM', child, exited };
    this.processes.push(managed);
    return managed;
  }

  private stopping = false;

  pidOf(name: string): number | undefined {
    return this.processes.find((p) => p.name === name)?.child.pid;
  }

  /** Stops every child by tiers (the gateway, then the services, then the bus and the database). */
  async stopAll(graceMs = EXIT_GRACE_MS): Promise<Record<string, number | NodeJS.Signals>> {
    this.stopping = true;
    const tiers = [...new Set(this.processes.map((p) => p.tier))].sort((a, b) => b - a);
    for (const tier of tiers) {
      await Promise.all(this.processes.filter((p) => p.tier === tier).map((p) => stopProcess(p, graceMs)));
    }
    for (const log of this.logs) log.end();
    const outcomes: Record<string, number | NodeJS.Signals> = {};
    for (const managed of this.processes) outcomes[managed.name] = await managed.exited;
    return outcomes;
  }

  /** The last lines a child wrote, for an error message when it dies during start. */
  static tailOf(text: string, lines = 20): string {
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }
}

async function stopProcess(managed: ManagedProcess, graceMs: number): Promise<void> {
  const { child } = managed;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(managed.stopSignal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await managed.exited;
  clearTimeout(timer);
}
