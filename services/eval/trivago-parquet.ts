/** The Parquet edge of the trivago importer: reads the file with hyparquet (Snappy built in) into rows. */
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import type { TrivagoRow } from './trivago.js';

const COLUMNS = ['user_id', 'session_id', 'timestamp', 'step', 'action_type', 'reference', 'impressions', 'prices'];

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v));

export async function readTrivagoParquet(path: string): Promise<TrivagoRow[]> {
  const file = await asyncBufferFromFile(path);
  const raw = (await parquetReadObjects({ file, columns: COLUMNS })) as Record<string, unknown>[];
  return raw.map((r, i) => {
    const row: TrivagoRow = {
      user_id: str(r.user_id) ?? '',
      session_id: str(r.session_id) ?? '',
      timestamp: num(r.timestamp),
      step: num(r.step),
      action_type: str(r.action_type) ?? '',
      reference: str(r.reference),
      impressions: str(r.impressions),
      prices: str(r.prices),
    };
    if (!row.user_id || !row.session_id || !Number.isFinite(row.timestamp) || !Number.isFinite(row.step)) {
      throw new Error(`${path}: row ${i + 1} lacks user_id, session_id, timestamp or step`);
    }
    return row;
  });
}
