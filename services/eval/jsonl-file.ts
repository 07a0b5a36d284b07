/** The file edge of the logged-session format: read (line by line, errors name the line) and write JSONL. */
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { formatPageViews, parsePageViewLine, type PageView } from './logged-session.js';

export async function readPageViews(path: string, options: { limit?: number } = {}): Promise<PageView[]> {
  const out: PageView[] = [];
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const raw of lines) {
      n++;
      if (raw.trim() === '') continue;
      out.push(parsePageViewLine(raw, n));
      if (options.limit !== undefined && out.length >= options.limit) break;
    }
  } finally {
    lines.close();
  }
  return out;
}

export async function writePageViews(path: string, views: readonly PageView[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, formatPageViews(views));
}
