/**
 * The metric names a PromQL expression reads, for checking alert rules and dashboards against the services'
 * metric catalogue. Not a parser: it removes what cannot hold a metric name (strings, label matchers,
 * ranges, grouping clauses, numbers, durations) and keeps every remaining identifier that is neither a
 * keyword nor called like a function. `promtool check rules` checks the syntax itself.
 */

const KEYWORDS = new Set([
  'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset',
  'atan2', 'inf', 'nan',
]);

export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\boffset\s+-?[0-9a-z]+/gi, ' ')
    .replace(/\$\{?\w+\}?/g, ' ') // Grafana variables such as $__rate_interval
    .replace(/(?<![\w:])(?:0x[0-9a-f]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)/gi, ' '); // numbers
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const word = m[0];
    const rest = stripped.slice(m.index! + word.length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names].sort();
}

/** The names of series a metric of `type` is exported as (prom-client's text format). */
export function exportedSeries(name: string, type: string): string[] {
  if (type === 'histogram') return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}
