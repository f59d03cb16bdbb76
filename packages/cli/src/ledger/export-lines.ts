import { createReadStream } from 'node:fs';
import { LedgerExportError } from './export-api';

/**
 * The longest line an export file may hold. An entry line is about 500 bytes; a reader without
 * a limit buffers a file with no line break whole (a hostile export could exhaust the verifier).
 */
export const LEDGER_EXPORT_LINE_BYTES_MAX = 64 * 1024;

const LF = 0x0a;

/** A line's bytes as text, without the CR of a CRLF ending (as readline with crlfDelay: Infinity). */
function textOf(parts: Buffer[]): string {
  const text = Buffer.concat(parts).toString('utf8');
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/**
 * The lines of a file, read in chunks, none longer than LEDGER_EXPORT_LINE_BYTES_MAX: a longer
 * one throws EXPORT_UNREADABLE naming the file (`name`) and the line (numbered from 1).
 */
export async function* boundedLinesOf(path: string, name: string): AsyncGenerator<string> {
  const input = createReadStream(path);
  const partial: Buffer[] = [];
  let partialBytes = 0;
  let number = 0;
  const tooLong = () =>
    new LedgerExportError(
      'EXPORT_UNREADABLE',
      `${name} line ${number + 1} is longer than ${LEDGER_EXPORT_LINE_BYTES_MAX} bytes: no line of an export is`,
    );
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let start = 0;
      for (let end = chunk.indexOf(LF, start); end !== -1; end = chunk.indexOf(LF, start)) {
        if (partialBytes + (end - start) > LEDGER_EXPORT_LINE_BYTES_MAX) throw tooLong();
        partial.push(chunk.subarray(start, end));
        const line = textOf(partial.splice(0));
        partialBytes = 0;
        number += 1;
        yield line;
        start = end + 1;
      }
      partialBytes += chunk.length - start;
      if (partialBytes > LEDGER_EXPORT_LINE_BYTES_MAX) throw tooLong();
      if (start < chunk.length) partial.push(chunk.subarray(start));
    }
    if (partialBytes > 0) yield textOf(partial);
  } finally {
    input.destroy();
  }
}

/** The lines of a file as its chunks go by (the digest pass counts them): its LFs, plus an unterminated last line. */
export class LineCounter {
  private lineBreaks = 0;
  private trailing = false;

  add(chunk: Buffer): void {
    for (let at = chunk.indexOf(LF); at !== -1; at = chunk.indexOf(LF, at + 1)) this.lineBreaks += 1;
    if (chunk.length > 0) this.trailing = chunk[chunk.length - 1] !== LF;
  }

  get lines(): number {
    return this.lineBreaks + (this.trailing ? 1 : 0);
  }
}
