/**
 * `deepchain simulate oracles [world, walk and reward flags]`: the simulator's own check that the chain
 * matters (DESIGN.md §4). Oracle policies that read the hidden vectors walk the same sessions (common
 * random numbers): look-ahead against greedy, scenario-specific against shared (services/simulator/
 * oracles.ts). Prints one JSON line: each oracle's reward per session with its 95% interval (and clicks,
 * purchases, pages per session), the paired differences with theirs, and the settings it ran with.
 */
import type { Command } from 'commander';
import { runOracles, type Estimate, type OracleResult } from '../simulator/index.js';
import { addSimulatorOptions, simulatorSettings, type SimulatorFlags } from './simulator-options.js';

function positiveInt(flag: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got '${raw}'`);
    return n;
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const interval = (e: Estimate) => ({ mean: round(e.mean), ci95: e.ci95.map(round) });
const oracle = (r: OracleResult) => ({ ...interval(r), clicks: round(r.clicks), purchases: round(r.purchases), pages: round(r.pages) });

interface OraclesFlags extends SimulatorFlags {
  sessions: number;
  seeds: number;
  k: number;
}

export function addSimulateCommands(program: Command): void {
  const simulate = program.command('simulate').description('the simulator on its own');
  const oracles = addSimulatorOptions(
    simulate
      .command('oracles')
      .description('oracles that know the hidden vectors, on the same sessions: look-ahead vs greedy, scenario-specific vs shared; one JSON line'),
  )
    .option('--sessions <n>', 'sessions per world and oracle', positiveInt('--sessions'), 1000)
    .option('--seeds <n>', 'worlds (seeds first-seed, first-seed + 1, …); sessions of all worlds pooled', positiveInt('--seeds'), 1)
    .option('--k <n>', 'items per page', positiveInt('--k'), 5);
  oracles.action((o: OraclesFlags) => {
    const { world, walk, rewards, firstSeed } = simulatorSettings(o);
    const started = Date.now();
    let r;
    try {
      r = runOracles({ ...world, seed: firstSeed }, walk, { sessions: o.sessions, worlds: o.seeds, k: o.k, rewards });
    } catch (err) {
      if (err instanceof RangeError) oracles.error(`error: ${err.message}`);
      throw err;
    }
    const paired = (d: Estimate & { relative: number }) => ({ ...interval(d), relative: round(d.relative) });
    console.log(JSON.stringify({
      oracles: 'simulator',
      lookahead: oracle(r.lookahead),
      greedy: oracle(r.greedy),
      scenario_specific: oracle(r.scenario_specific),
      shared: oracle(r.shared),
      lookahead_minus_greedy: paired(r.lookahead_minus_greedy),
      scenario_specific_minus_shared: paired(r.scenario_specific_minus_shared),
      sessions: r.sessions,
      worlds: o.seeds,
      first_seed: firstSeed,
      k: o.k,
      world,
      walk,
      rewards,
      seconds: round((Date.now() - started) / 1000),
    }));
  });
}
