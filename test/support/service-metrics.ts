/** A service's Prometheus text from its ops server, and sums over it, for the chaos commands. */

/** GET /metrics on 127.0.0.1:`port`; null when it does not answer within 2 s. */
export async function metricsOf(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

/** Sum of a metric's samples whose labels match `labels` (a regular expression over the label text). */
export function metricSum(text: string | null, name: string, labels?: RegExp): number {
  let sum = 0;
  for (const m of (text ?? '').matchAll(/^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)$/gm)) {
    if (m[1] === name && (!labels || labels.test(m[3] ?? ''))) sum += Number(m[4]);
  }
  return sum;
}
