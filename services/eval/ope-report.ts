/**
 * The off-policy check's numbers (ope-check.ts) summarised and written: coverage of the 95% intervals and
 * Spearman's rank correlation between estimates and truths per estimator, DIR/metrics.json, DIR/report.md
 * (tables and sentences computed from the numbers) and the one-line JSON summary the CLI prints.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Estimator } from '../model/index.js';
import { DEFAULT_GATE } from '../learner/validation.js';
import { DEFAULT_WORLD } from '../simulator/index.js';
import {
  CASCADE_ESTIMATORS, GATE_GAP, OPE_ESTIMATORS, type CascadeEstimator, type ChallengerRedraws, type EstimateCheck, type GatePair, type OpeCheckResult, type PolicyCheck,
} from './ope-check.js';
import { RECALL_SEEDS } from './ope-policies.js';

/** DESIGN.md §6: coverage of the 95% interval ≥ 0.8, rank correlation ≥ 0.8. */
export const OPE_TARGETS = Object.freeze({ coverage: 0.8, rankCorrelation: 0.8 });

export interface EstimatorSummary {
  /** Share of (world, policy) pairs whose deployed truth lies in the interval; a refused estimate counts as a miss. */
  readonly coverage: number;
  readonly covered: number;
  readonly pairs: number;
  /** Pairs the guard let through. */
  readonly estimated: number;
  /** Mean over worlds of Spearman's ρ between estimates and deployed truths (policies with an estimate); null below 3. */
  readonly rank_correlation: number | null;
  readonly rankCorrelationPerWorld: (number | null)[];
  /** The same two against each target's value on the logged pages (the diagnostic truth). */
  readonly coverageOnLoggedPages: number;
  readonly rankCorrelationOnLoggedPages: number | null;
  /** Mean |estimate − deployed truth| over the estimated pairs (null if none). */
  readonly meanAbsoluteError: number | null;
  /** Mean width of the 95% intervals given, against the spread of the deployed truths (max − min over all pairs). */
  readonly meanIntervalWidth: number | null;
  readonly truthSpread: number;
  readonly meetsTargets: boolean;
}

/** The release gate as a decision procedure over every ordered pair of targets, pooled over worlds. */
export interface GateSummary {
  readonly pairs: number;
  /** Pairs the guard let through, and pairs promoted. */
  readonly estimated: number;
  readonly promoted: number;
  /** Share of the pairs with truth(candidate) < truth(served) that the gate promotes (null when there are none). */
  readonly falsePromotions: number | null;
  readonly falselyPromoted: number;
  readonly worsePairs: number;
  /** The same among pairs whose candidate is worse by more than the gap. */
  readonly falsePromotionsBeyondGap: number | null;
  readonly falselyPromotedBeyondGap: number;
  readonly worseBeyondGap: number;
  readonly gap: number;
  /** Share of the pairs with truth(candidate) − truth(served) > gap that the gate promotes (null when there are none). */
  readonly power: number | null;
  readonly promotedBetter: number;
  readonly betterPairs: number;
  /** Share of the estimated pairs whose estimate has the sign of the true difference (an estimate of 0 agrees with none). */
  readonly signAgreement: number | null;
  readonly signAgreed: number;
  /** Share of the pairs whose true difference lies in the 95% interval; a refused comparison counts as a miss. */
  readonly coverage: number;
  readonly covered: number;
  /** Pairs whose two re-orderings agree at every logged position (estimate exactly 0: promoted at margin 0). */
  readonly sameReordering: number;
}

export interface OpeCheckSummary {
  readonly policies: number;
  readonly worlds: number;
  readonly estimators: Readonly<Record<Estimator, EstimatorSummary>>;
  /** The cascade-weight diagnostic, summarised the same way (not the gate's estimators). */
  readonly cascade: Readonly<Record<CascadeEstimator, EstimatorSummary>>;
  /** Each target's on-policy value as a challenger (ope-check.ts step 6), summarised the same way. */
  readonly challenger: EstimatorSummary;
  /** Challenger traffic as the release gate over every ordered pair (ope-check.ts challengerPairs). */
  readonly challengerGate: GateSummary;
  /** Step 6 under further draws of the challengers' users (ope-check.ts challengerRedraws), pooled over worlds. */
  readonly challengerRedraws: RedrawSummary;
  readonly gate: GateSummary;
}

export interface RedrawSummary {
  readonly draws: number;
  /** Share of the (world, target, draw) replicates whose interval holds the target's truth. */
  readonly coverage: number;
  readonly replicates: number;
  /** The gate's (world, pair, draw) replicates: coverage of the true difference, false promotions, power. */
  readonly gate: { readonly pairs: number; readonly coverage: number; readonly falsePromotions: number | null; readonly power: number | null };
}

function summariseRedraws(result: OpeCheckResult): RedrawSummary {
  const all = result.worlds.map((w) => w.challengerRedraws);
  const sum = (got: (r: ChallengerRedraws) => number) => all.reduce((a, r) => a + got(r), 0);
  const replicates = sum((r) => r.targets.replicates);
  const pairs = sum((r) => r.gate.pairs);
  return {
    draws: result.config.challengerDraws,
    coverage: replicates ? sum((r) => r.targets.covered) / replicates : 0,
    replicates,
    gate: {
      pairs,
      coverage: pairs ? sum((r) => r.gate.covered) / pairs : 0,
      falsePromotions: share(sum((r) => r.gate.falselyPromoted), sum((r) => r.gate.worsePairs)),
      power: share(sum((r) => r.gate.promotedBetter), sum((r) => r.gate.betterPairs)),
    },
  };
}

function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => ({ x, i })).sort((a, b) => a.x - b.x);
  const out = new Array<number>(xs.length);
  for (let s = 0; s < order.length;) {
    let e = s;
    while (e + 1 < order.length && order[e + 1]!.x === order[s]!.x) e++;
    for (let j = s; j <= e; j++) out[order[j]!.i] = (s + e) / 2 + 1;
    s = e + 1;
  }
  return out;
}

/** Spearman's ρ: Pearson's correlation of the ranks (ties get their mean rank); null for fewer than 3 pairs or no spread. */
export function spearman(a: readonly number[], b: readonly number[]): number | null {
  if (a.length !== b.length) throw new Error(`spearman: ${a.length} values against ${b.length}`);
  if (a.length < 3) return null;
  const ra = ranks(a);
  const rb = ranks(b);
  const m = (ra.length + 1) / 2;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < ra.length; i++) {
    sab += (ra[i]! - m) * (rb[i]! - m);
    saa += (ra[i]! - m) ** 2;
    sbb += (rb[i]! - m) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : null;
}

const meanOrNull = (xs: readonly (number | null)[]): number | null => {
  const ok = xs.filter((x): x is number => x !== null);
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null;
};

/** Coverage and rank correlation of one estimator over every (world, policy) pair; `got` picks its estimate. */
function summariseEstimates(result: OpeCheckResult, got: (p: PolicyCheck) => EstimateCheck): EstimatorSummary {
  const pairs = result.worlds.flatMap((w) => w.policies);
  const covered = pairs.filter((p) => got(p).covered).length;
  const estimatedPairs = pairs.filter((p) => got(p).status === 'ok');
  const perWorld = (truth: (p: PolicyCheck) => number) => result.worlds.map((w) => {
    const ok = w.policies.filter((p) => got(p).status === 'ok');
    return spearman(ok.map((p) => got(p).estimate!), ok.map(truth));
  });
  const rankCorrelationPerWorld = perWorld((p) => p.truth.perPage);
  const rank = meanOrNull(rankCorrelationPerWorld);
  const coverage = pairs.length ? covered / pairs.length : 0;
  return {
    coverage,
    covered,
    pairs: pairs.length,
    estimated: estimatedPairs.length,
    rank_correlation: rank,
    rankCorrelationPerWorld,
    coverageOnLoggedPages: pairs.length ? pairs.filter((p) => got(p).coveredOnLoggedPages).length / pairs.length : 0,
    rankCorrelationOnLoggedPages: meanOrNull(perWorld((p) => p.onLoggedPages)),
    meanAbsoluteError: meanOrNull(estimatedPairs.map((p) => Math.abs(got(p).estimate! - p.truth.perPage))),
    meanIntervalWidth: meanOrNull(estimatedPairs.map((p) => got(p).high! - got(p).low!)),
    truthSpread: pairs.length ? Math.max(...pairs.map((p) => p.truth.perPage)) - Math.min(...pairs.map((p) => p.truth.perPage)) : 0,
    meetsTargets: coverage >= OPE_TARGETS.coverage && rank !== null && rank >= OPE_TARGETS.rankCorrelation,
  };
}

const share = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);

/** False promotions, power, sign agreement and coverage of the gate's comparisons (ope-check.ts gatePairs). */
export function summariseGate(pairs: readonly GatePair[], gap: number = GATE_GAP): GateSummary {
  const estimated = pairs.filter((p) => p.status === 'ok');
  const worse = pairs.filter((p) => p.trueDifference < 0);
  const worseBeyondGap = pairs.filter((p) => p.trueDifference < -gap);
  const better = pairs.filter((p) => p.trueDifference > gap);
  const promoted = (xs: readonly GatePair[]) => xs.filter((p) => p.promoted).length;
  const signAgreed = estimated.filter((p) => Math.sign(p.estimate!) === Math.sign(p.trueDifference)).length;
  const covered = pairs.filter((p) => p.covered).length;
  return {
    pairs: pairs.length,
    estimated: estimated.length,
    promoted: promoted(pairs),
    falsePromotions: share(promoted(worse), worse.length),
    falselyPromoted: promoted(worse),
    worsePairs: worse.length,
    falsePromotionsBeyondGap: share(promoted(worseBeyondGap), worseBeyondGap.length),
    falselyPromotedBeyondGap: promoted(worseBeyondGap),
    worseBeyondGap: worseBeyondGap.length,
    gap,
    power: share(promoted(better), better.length),
    promotedBetter: promoted(better),
    betterPairs: better.length,
    signAgreement: share(signAgreed, estimated.length),
    signAgreed,
    coverage: pairs.length ? covered / pairs.length : 0,
    covered,
    sameReordering: pairs.filter((p) => p.sameReordering).length,
  };
}

export function summariseOpeCheck(result: OpeCheckResult): OpeCheckSummary {
  return {
    policies: result.worlds[0]?.policies.length ?? 0,
    worlds: result.worlds.length,
    estimators: Object.fromEntries(OPE_ESTIMATORS.map((e) => [e, summariseEstimates(result, (p) => p.estimates[e])])) as Record<Estimator, EstimatorSummary>,
    cascade: Object.fromEntries(CASCADE_ESTIMATORS.map((e) => [e, summariseEstimates(result, (p) => p.cascade[e])])) as Record<CascadeEstimator, EstimatorSummary>,
    challenger: summariseEstimates(result, (p) => p.challenger),
    challengerGate: summariseGate(result.worlds.flatMap((w) => w.challengerGate)),
    challengerRedraws: summariseRedraws(result),
    gate: summariseGate(result.worlds.flatMap((w) => w.gate.pairs)),
  };
}

const round = (x: number | null, digits = 3) => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits);

/**
 * The line the CLI prints: {"ope":"check","policies":N,"estimators":{"ips":{"coverage":…,"rank_correlation":…},…},
 * "challenger":{"coverage":…,"rank_correlation":…,"gate":{…as below},"redraws":{"draws":…,"coverage":…,"gate_coverage":…,"false_promotions":…,"power":…}},"gate":{"false_promotions":…,"power":…,"sign_agreement":…,"coverage":…,"pairs":…}}.
 */
export function opeCheckLine(summary: OpeCheckSummary): string {
  const estimators = Object.fromEntries(OPE_ESTIMATORS.map((e) => [e, { coverage: round(summary.estimators[e].coverage), rank_correlation: round(summary.estimators[e].rank_correlation) }]));
  const gateLine = (g: GateSummary) => ({ false_promotions: round(g.falsePromotions), power: round(g.power), sign_agreement: round(g.signAgreement), coverage: round(g.coverage), pairs: g.pairs });
  const gate = gateLine(summary.gate);
  const r = summary.challengerRedraws;
  const redraws = { draws: r.draws, coverage: round(r.coverage), gate_coverage: round(r.gate.coverage), false_promotions: round(r.gate.falsePromotions), power: round(r.gate.power) };
  const challenger = { coverage: round(summary.challenger.coverage), rank_correlation: round(summary.challenger.rank_correlation), gate: gateLine(summary.challengerGate), redraws };
  return JSON.stringify({ ope: 'check', policies: summary.policies, estimators, challenger, gate });
}

export function opeCheckMetricsJson(result: OpeCheckResult, summary: OpeCheckSummary): string {
  return `${JSON.stringify({ kind: 'ope-check', targets: OPE_TARGETS, summary, ...result }, null, 2)}\n`;
}

const NAMES: Record<Estimator, string> = { ips: 'IPS', snips: 'SNIPS', dr: 'DR' };
const f3 = (x: number | null) => (x === null ? '–' : x.toFixed(3));
const f2 = (x: number | null) => (x === null ? '–' : x.toFixed(2));

/** The report's section on the release gate: the summary, its sentences, and per world every pair. */
function gateSection(result: OpeCheckResult, g: GateSummary): string[] {
  const rules = result.worlds[0]?.gate.rules;
  const c = result.config;
  const lines = [
    '## The release gate as a decision procedure',
    '',
    `For every ordered pair of targets (candidate, served) on each world's evaluation log, the learner's release gate (learner/validation.ts): each target judged by how it would re-order the shown items of every logged page (at position k its best-scored item among positions k and below; π_k = 1 when that is the logged item), ${rules?.estimator ?? '–'} of candidate − served with weights clipped at ${rules?.clip ?? '–'}, a paired session bootstrap of ${rules?.resamples ?? '–'} resamples, promoted when the 95% lower bound is at least the margin ${rules?.margin ?? '–'}; the guard as this check runs it (${c.minPages} pages, effective sample size ${c.minEffectiveSampleSize}; the learner's default is ${rules?.minPages ?? '–'} and ${rules?.minEffectiveSampleSize ?? '–'}). Set against the true difference of the two targets' deployed values per page. A target's scores: its place in its own ranking of the page's recalled candidates (the logging policy: its ranker's, as the gate sees a served version without its exploration; random: fresh uniform scores).`,
    '',
    '| pairs | compared | promoted | false promotions (truly worse) | false promotions (worse by > gap) | power (better by > gap) | sign agreement | coverage of the true difference | identical re-orderings |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${g.pairs} | ${g.estimated} | ${g.promoted} | ${f2(g.falsePromotions)} (${g.falselyPromoted}/${g.worsePairs}) | ${f2(g.falsePromotionsBeyondGap)} (${g.falselyPromotedBeyondGap}/${g.worseBeyondGap}) | ${f2(g.power)} (${g.promotedBetter}/${g.betterPairs}) | ${f2(g.signAgreement)} (${g.signAgreed}/${g.estimated}) | ${g.coverage.toFixed(2)} (${g.covered}/${g.pairs}) | ${g.sameReordering} |`,
    '',
    `- **False promotions**: of the ${g.worsePairs} pairs whose candidate is truly worse than the served version, the gate promotes ${g.falselyPromoted} (${f2(g.falsePromotions)}); a one-sided 95% bound that held would promote at most about 0.025 of them${g.sameReordering ? `. ${g.sameReordering} pair(s) re-order every page alike, so their estimate is exactly 0 and the margin 0 promotes them either way` : ''}.`,
    `- **Power**: of the ${g.betterPairs} pairs whose candidate is better by more than ${g.gap} per page (about the truths' own noise on a difference), the gate promotes ${g.promotedBetter} (${f2(g.power)}).`,
    `- **Sign agreement** ${f2(g.signAgreement)} and **coverage** ${g.coverage.toFixed(2)}: the gate estimates the difference of re-ordering values on the logged pages, not of the deployed values, so the chain effects and the items a target would have recalled instead are outside its interval.`,
    '',
  ];
  for (const w of result.worlds) {
    lines.push(
      `### World ${w.seed}`,
      '',
      `${w.gate.pagesSharingLearnerKey} of the ${w.evalLog.pages} logged pages share the learner's grouping key (user, session, scenario, history: validation.ts loggedPages) with another page, so the learner would read them as parts of longer pages; the comparisons here use the pages as served.`,
      '',
      'Per target, Kish\'s effective sample size of its re-ordering weights as the gate clips them, and its logged positions with π = 1: ' +
        w.gate.targets.map((t) => `${t.name} ${t.effectiveSampleSize.toFixed(0)} (${t.supportedPositions})`).join(', ') + '.',
      '',
      '| candidate | served | true difference | gate estimate [95%] | promoted | covered |',
      '| --- | --- | --- | --- | --- | --- |',
      ...w.gate.pairs.map((p) => `| ${p.candidate} | ${p.served} | ${f3(p.trueDifference)} | ${p.status === 'ok' ? `${f3(p.estimate)} [${f3(p.low)}, ${f3(p.high)}]` : 'refused'} | ${p.promoted ? (p.trueDifference < 0 ? 'yes ✗' : 'yes') : 'no'} | ${p.covered ? '✓' : '✗'} |`),
      '',
    );
  }
  return lines;
}

function challengerGateSection(result: OpeCheckResult, g: GateSummary, r: RedrawSummary): string[] {
  const share = result.config.challengerShare;
  const lines = [
    '## Challenger traffic as the release gate',
    '',
    `For every ordered pair of targets, the candidate served as the challenger to the users whose draw (the serving node's, serving/challenger.ts) falls in a share ${share}, and the served version to every other user, in the same period: each arm's value per page over its users' sessions (the targets' truth runs cut by the draw), the difference with a 95% percentile bootstrap that resamples each arm's users apart (${result.config.resamples} resamples), promoted when the lower bound is above the margin ${DEFAULT_GATE.margin}. On-policy: it measures the deployed values themselves, chain effects included, with the challenger's share of the traffic. The learner runs this gate when \`CHALLENGER_SHARE\` is above 0 (README: challenger traffic).`,
    '',
    '| pairs | promoted | false promotions (truly worse) | false promotions (worse by > gap) | power (better by > gap) | sign agreement | coverage of the true difference |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${g.pairs} | ${g.promoted} | ${f2(g.falsePromotions)} (${g.falselyPromoted}/${g.worsePairs}) | ${f2(g.falsePromotionsBeyondGap)} (${g.falselyPromotedBeyondGap}/${g.worseBeyondGap}) | ${f2(g.power)} (${g.promotedBetter}/${g.betterPairs}) | ${f2(g.signAgreement)} (${g.signAgreed}/${g.estimated}) | ${g.coverage.toFixed(2)} (${g.covered}/${g.pairs}) |`,
    '',
    `Under ${r.draws} further draws of which users each challenger serves (the same truth runs; ope-check.ts challengerRedraws), which say more of the interval than one draw per target: the targets' intervals hold their truths in ${r.coverage.toFixed(3)} of ${r.replicates} (target, draw) replicates; over ${r.gate.pairs} (pair, draw) replicates the gate's intervals hold the true difference in ${r.gate.coverage.toFixed(3)}, it promotes ${f3(r.gate.falsePromotions)} of the truly worse candidates and ${f3(r.gate.power)} of those better by more than ${GATE_GAP}.`,
    '',
  ];
  for (const w of result.worlds) {
    lines.push(
      `### World ${w.seed}: challenger traffic`,
      '',
      '| candidate (challenger) | served | true difference | estimate [95%] | promoted | covered |',
      '| --- | --- | --- | --- | --- | --- |',
      ...w.challengerGate.map((p) => `| ${p.candidate} | ${p.served} | ${f3(p.trueDifference)} | ${f3(p.estimate)} [${f3(p.low)}, ${f3(p.high)}] | ${p.promoted ? (p.trueDifference < 0 ? 'yes ✗' : 'yes') : 'no'} | ${p.covered ? '✓' : '✗'} |`),
      '',
    );
  }
  return lines;
}

function cell(e: EstimateCheck): string {
  if (e.status !== 'ok') return 'refused';
  return `${f3(e.estimate)} [${f3(e.low)}, ${f3(e.high)}] ${e.covered ? '✓' : '✗'}`;
}

function summaryRow(name: string, s: EstimatorSummary): string {
  return `| ${name} | ${s.coverage.toFixed(2)} (${s.covered}/${s.pairs}) | ${f3(s.rank_correlation)} | ${s.estimated}/${s.pairs} | ${s.coverageOnLoggedPages.toFixed(2)} | ${f3(s.rankCorrelationOnLoggedPages)} | ${f3(s.meanAbsoluteError)} | ${s.meetsTargets ? 'yes' : 'no'} |`;
}

function verdict(name: string, s: EstimatorSummary): string {
  const c = `coverage ${s.coverage.toFixed(2)} (${s.covered} of ${s.pairs}) ${s.coverage >= OPE_TARGETS.coverage ? 'meets' : 'misses'} the target ${OPE_TARGETS.coverage}`;
  const r = s.rank_correlation === null
    ? 'no rank correlation (fewer than 3 estimates in a world)'
    : `rank correlation ${s.rank_correlation.toFixed(2)} ${s.rank_correlation >= OPE_TARGETS.rankCorrelation ? 'meets' : 'misses'} the target ${OPE_TARGETS.rankCorrelation}`;
  const w = s.meanIntervalWidth === null ? '' : `; its intervals are ${s.meanIntervalWidth.toFixed(2)} wide on average, against truths that span ${s.truthSpread.toFixed(2)}`;
  return `- **${name}**: ${c}; ${r}${s.estimated < s.pairs ? `; the guard refused ${s.pairs - s.estimated} of ${s.pairs} estimates (counted as misses)` : ''}${w}.`;
}

export function opeCheckMarkdown(result: OpeCheckResult, summary: OpeCheckSummary): string {
  const c = result.config;
  const items = { ...DEFAULT_WORLD, ...c.world }.items;
  const lines: string[] = [
    '# Off-policy estimates against the simulator\'s truth',
    '',
    `${result.worlds.length} world(s) (seeds ${c.seeds.join(', ')}), ${c.trainSessions} training sessions and ${c.sessions} evaluation sessions per world under the exploring logging policy (ε = ${c.epsilon}, k = ${c.k}, ${c.recall} candidates recalled per page from ${items} items), ${summary.policies} target policies behind the same recall, ${c.resamples} bootstrap resamples, guard as run: ${c.minPages} pages and effective sample size ${c.minEffectiveSampleSize} (the module's defaults are 50,000 and 1,000; the table says which estimates they would allow). Backend ${result.backend}; wall time ${(result.wallMs / 1000).toFixed(0)} s.`,
    '',
    '## Summary',
    '',
    '| estimator | coverage (deployed truth) | rank correlation | estimates given | coverage (value on logged pages) | rank correlation (logged pages) | mean abs. error | targets met |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...OPE_ESTIMATORS.map((e) => summaryRow(NAMES[e], summary.estimators[e])),
    ...CASCADE_ESTIMATORS.map((e) => summaryRow(`${NAMES[e]}, cascade weights (diagnostic)`, summary.cascade[e])),
    summaryRow(`on-policy, as a challenger (its truth run's users in a share ${c.challengerShare}; not off-policy)`, summary.challenger),
    '',
    `Targets (DESIGN.md §6): coverage ≥ ${OPE_TARGETS.coverage} and rank correlation ≥ ${OPE_TARGETS.rankCorrelation} for the estimator the release gate uses. The release gate (learner/validation.ts) runs SNIPS on re-orderings of the shown items, not on these targets' own rankings (its check as a decision procedure is the next section); each estimator is judged:`,
    '',
    ...OPE_ESTIMATORS.map((e) => verdict(NAMES[e], summary.estimators[e])),
    '',
    ...gateSection(result, summary.gate),
    ...challengerGateSection(result, summary.challengerGate, summary.challengerRedraws),
  ];
  for (const w of result.worlds) {
    lines.push(
      `## World ${w.seed}`,
      '',
      `Training log ${w.trainLog.sessions} sessions (${w.trainLog.pages} pages); evaluation log ${w.evalLog.sessions} sessions, ${w.evalLog.pages} pages, ${w.evalLog.positions} positions, logged value ${w.evalLog.valuePerPage.toFixed(3)} per page. DeepChain: ${w.deepChain.steps} steps on ${w.deepChain.transitions} transitions. ${(w.wallMs / 1000).toFixed(0)} s.`,
      '',
      'Values are per page (click 1, skip 0, leave −2 per position as configured). ✓: the deployed truth lies in the 95% interval.',
      '',
      '| policy | truth per page [95%] | on logged pages | … at its walk states | repeats deployed / on logged pages | ESS | positions with support | module guard | IPS | SNIPS | DR | ESS, cascade weights | IPS, cascade weights | DR, cascade weights | as a challenger |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...w.policies.map((p) => `| ${p.name} | ${f3(p.truth.perPage)} [${f3(p.truth.low)}, ${f3(p.truth.high)}] | ${f3(p.onLoggedPages)} | ${f3(p.onLoggedPagesAtTargetStates.value)} | ${f2(p.repeats.deployed)} / ${f2(p.repeats.onLoggedPages)} | ${p.effectiveSampleSize.toFixed(1)} | ${p.supportedPositions} | ${p.defaultGuard.passes ? 'passes' : 'refuses'} | ${cell(p.estimates.ips)} | ${cell(p.estimates.snips)} | ${cell(p.estimates.dr)} | ${p.cascadeEffectiveSampleSize.toFixed(1)} | ${cell(p.cascade.ips)} | ${cell(p.cascade.dr)} | ${cell(p.challenger)} |`),
      '',
    );
  }
  lines.push(
    '## Definitions',
    '',
    `- **Recall**: every page's candidates are the ${c.recall} items a serving node would recall (serving/recommender.ts): the nearest neighbours of the user's last ${RECALL_SEEDS} history items in the training log's item space, then the catalogue in order. The logging policy explores among them and every target ranks them, when logged and when deployed alike (ope-policies.ts historyRecall).`,
    '- **Propensity** μ_k of a logged item: the exploring policy\'s exact probability of that item at position k given the items above it, (1 − ε)·[it is the ranker\'s first untaken item] + ε/(candidates − k), candidates being the recalled ones (ope-policies.ts).',
    '- **Target probability** π_k: for a deterministic target, 1 when its choice at position k given the same items above (the first item of its answer for the page not shown above) is the logged item, else 0; for random, 1/(candidates − k); for the logging policy, its own propensity. The estimators weight each position by π_k/μ_k (the item-position estimator of services/model/off-policy.ts).',
    '- **Per-position reward and page value**: the clicked position earns the click reward, the last position of a page the user left on earns the leave reward, every other position the skip reward; a page\'s value is their sum. Purchases are left out: they are not per position. The same definition values the logs and the truth runs.',
    '- **Deployed truth**: the target serves the evaluation sessions itself (same users, same draws, same starting histories: common random numbers); its value is the mean page value over the pages it walked, with a session-bootstrap 95% interval. It includes what a per-page estimate cannot see: a target changes which pages follow (a poor page makes the next a poorer one, a click leads to a detail page).',
    '- **Value on logged pages** (diagnostic): the target\'s exact expected page value, from the simulator\'s click model, on the walk states of the logged pages (random: the mean over uniformly random lists).',
    c.directModel === 'cascade'
      ? '- **DR\'s direct model** (cascade): the trained DeepChain\'s probability net gives each item\'s click and leave chances c, l in the page\'s logged state, and the page is read in order (ope-policies.ts cascadeExpectedRewards): position j is read with R_j = Π_{i<j}(1 − c_i − l_i), clicked with R_j·c_j, and the leave chance L = Σ_j R_j·l_j lands on the last position. Item-position DR: q̂_k and v̂_k are that expected reward at k of the logged and of the target\'s item (random: the untaken candidates\' mean chances; the logging policy: its mix of the two) below the logged items above. Cascade DR: Q̂_k is the page\'s value from k down, the logged items down to k and then the target\'s own continuation (random: the mean chances at every later position).'
      : '- **DR\'s direct model** (position-blind): the trained DeepChain\'s probability net, q̂ = Σ_b p_b(s, e_item)·r_b over click, skip and leave, in the page\'s logged state; v̂_k is q̂ of the target\'s item at k (deterministic), the mean over the untaken candidates (random; a uniform sample of them per page), or the logging policy\'s mix of the two.',
    '- **… at its walk states** (diagnostic): the value on logged pages reweighted to the target\'s deployed share of pages per walk state (scenario; pages without a click before it, 3 or more pooled), d_π(s)/d_μ(s) counted from its own walk (ope-policies.ts reweightToStates): the most that state-distribution weights over these states could correct. **Repeats**: the mean share of a page\'s items shown earlier in the session, on the target\'s deployed pages and for its lists on the logged pages (the walk discounts a repeated item\'s click chance).',
    '- **Cascade weights** (diagnostic, not a gate estimator): the same module fed cumulative probabilities, Π_{j≤k} π_j over Π_{j≤k} μ_j, so position k is weighted by the whole prefix down to it. Unbiased when a position\'s reward depends on the items at and above it, as in the simulator (users read in order and click at most once; the leave falls on the last position); the item-position weights of the gate assume it depends on the item at its position only. A deterministic target that disagrees with the logging policy\'s ranker matches a whole prefix by exploration only, with probability about (ε/candidates)^depth, so the deep positions of most targets go unseen (their cascade ESS says how few pages carry them). Cascade DR (Kiyohara et al. 2022) puts the direct model\'s value of the rest of the page where the prefix stops matching: it is as good as that direct model there.',
    `- **ESS** and **positions with support**: Kish's effective sample size of the item-position weights π_k/μ_k over all logged positions, and the number of positions with a positive weight. An exploring slot picks one of the ${c.recall} recalled candidates, so a deterministic target's item shows up by exploration with probability about ε/${c.recall} per position besides agreeing with the logging policy's ranker (weight ≈ 1/(1 − ε)); an explored match weighs about ${c.recall}/ε.`,
    '- **Coverage**: the share of (world, policy) pairs whose truth lies inside the 95% interval; an estimate the guard refuses has no interval and counts as a miss. **Rank correlation**: Spearman\'s ρ between estimates and truths over one world\'s policies with an estimate, averaged over worlds.',
    '',
  );
  return lines.join('\n');
}

/** Writes DIR/metrics.json and DIR/report.md; returns the file names. */
export async function writeOpeCheckReport(dir: string, result: OpeCheckResult, summary: OpeCheckSummary = summariseOpeCheck(result)): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'metrics.json'), opeCheckMetricsJson(result, summary));
  await writeFile(join(dir, 'report.md'), opeCheckMarkdown(result, summary));
  return ['metrics.json', 'report.md'];
}
