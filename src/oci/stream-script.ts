/**
 * The one runner of streamLayeredImage scripts (what `nix build .#streamImage-<arch>` links): the script
 * writes the image tar on its stdout, which is read as it comes. A script that fails fails the reading,
 * with its exit status and the last lines it wrote on stderr, even when its output looked complete:
 * whatever was made of that output is then discarded like any other failed input.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { UserError } from '../util/errors.js';

export class StreamScript {
  private stderr = '';
  private exited: Promise<number | null> | undefined;

  constructor(
    private readonly script: string,
    private readonly display: string,
    private readonly signal?: AbortSignal,
  ) {}

  /** The script's stdout, from a new run. The iteration fails when the script does; stopping early stops it. */
  async *output(): AsyncGenerator<Buffer> {
    const child: ChildProcessByStdio<null, Readable, Readable> = spawn(this.script, [], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000)));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' || error.code === 'EACCES' ? new UserError('image-invalid', `cannot run the stream script ${this.display}: ${error.message}`) : error));
      child.on('close', (code) => resolve(code));
    });
    // Awaited below or by failure(); an early stop is no crash.
    exited.catch(() => undefined);
    this.exited = exited;
    const stop = () => child.kill();
    this.signal?.addEventListener('abort', stop, { once: true });
    let finished = false;
    try {
      this.signal?.throwIfAborted();
      for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
      finished = true;
    } finally {
      this.signal?.removeEventListener('abort', stop);
      if (!finished && child.exitCode === null && child.signalCode === null) child.kill();
    }
    const code = await exited;
    if (code !== 0) throw this.failed(code);
  }

  /**
   * After a failed read: the script's own failure, which explains a broken stream better than the broken
   * stream does (undefined when the script did not fail, or was stopped by us).
   */
  async failure(): Promise<UserError | undefined> {
    if (!this.exited) return undefined;
    const code = await this.exited.catch(() => null);
    return code !== 0 && code !== null ? this.failed(code) : undefined;
  }

  private failed(code: number | null): UserError {
    const said = this.stderr.trim();
    return new UserError('image-invalid', `the stream script ${this.display} failed (exit ${code ?? 'by signal'})${said ? `:\n${said.split('\n').slice(-10).join('\n')}` : ''}`);
  }
}
