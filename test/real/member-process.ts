/**
 * A group member in its own OS process (fixtures/group-member.ts) and a line-based
 * request/response channel to it, for the multi-process group tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/group-member.ts', import.meta.url));

/** A member process and a line-based request/response channel to it. */
export class Member {
  readonly child: ChildProcess;
  readonly addr: Promise<string>;
  #next = 1;
  readonly #waiting = new Map<number, (reply: Record<string, unknown>) => void>();

  constructor(network: string, bootstrap: string | undefined, keySeed: string | undefined, dataDir?: string) {
    this.child = spawn(process.execPath, ['--import', 'tsx', fixture, network, bootstrap ?? '-', keySeed ?? '-', dataDir ?? '-'], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let resolveAddr: (a: string) => void = () => {};
    this.addr = new Promise((r) => {
      resolveAddr = r;
    });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('{')) {
        if (line.includes('@')) resolveAddr(line.trim());
        return;
      }
      const reply = JSON.parse(line) as Record<string, unknown>;
      this.#waiting.get(reply.id as number)?.(reply);
      this.#waiting.delete(reply.id as number);
    });
  }

  ask(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.child.stdin?.write(`${JSON.stringify({ id, ...cmd })}\n`);
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}

/** Polls `f` every 100 ms until it returns a value, or fails after `ms`. */
export async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
