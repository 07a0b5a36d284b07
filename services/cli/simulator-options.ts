/**
 * The simulator's flags, declared once from its option records so that every world, walk and reward setting
 * is a flag of each command that runs simulated users (`eval online`, `eval sensitivity-online`,
 * `simulate oracles`; the demo takes the world and walk flags, its rewards being the learner's):
 * `--items`, `--users`, `--clusters`, `--patience`, … (WorldOptions), `--click-max`, `--redundancy`, …
 * (WalkOptions), `--reward-click`, `--reward-purchase`, … (the simulator's rewards).
 * Defaults are the simulator's; a bad value is an error naming the flag.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Rewards } from '../common/index.js';
import { DEFAULT_WALK, DEFAULT_WORLD, SIMULATOR_REWARDS, type WalkOptions, type WorldOptions } from '../simulator/index.js';

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Integer-valued options of the world and the walk (the rest are real numbers). */
const INTEGER_OPTIONS = new Set(['items', 'clusters', 'users', 'dimension', 'maxPages']);

function numberFlag(flag: string, integer: boolean) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
      throw new InvalidArgumentError(`${flag} expects ${integer ? 'an integer' : 'a number'}, got '${raw}'`);
    }
    return n;
  };
}

const WORLD_KEYS = (Object.keys(DEFAULT_WORLD) as (keyof WorldOptions)[]).filter((k) => k !== 'seed');
const WALK_KEYS = Object.keys(DEFAULT_WALK) as (keyof WalkOptions)[];
const REWARD_KEYS = Object.keys(SIMULATOR_REWARDS) as (keyof Rewards)[];

export type SimulatorFlags = Record<string, number> & { firstSeed: number };

/** Adds `--first-seed` and one flag per world and walk option (what the demo takes: its rewards are the learner's). */
export function addWorldAndWalkOptions(command: Command): Command {
  command.option('--first-seed <n>', 'seed of the first world (the others follow it: first, first + 1, …)', numberFlag('--first-seed', true), 1);
  for (const key of WORLD_KEYS) {
    const flag = `--${kebab(key)}`;
    command.option(`${flag} <x>`, `world: ${key}`, numberFlag(flag, INTEGER_OPTIONS.has(key)), DEFAULT_WORLD[key]);
  }
  for (const key of WALK_KEYS) {
    const flag = `--${kebab(key)}`;
    command.option(`${flag} <x>`, `walk: ${key}`, numberFlag(flag, INTEGER_OPTIONS.has(key)), DEFAULT_WALK[key]);
  }
  return command;
}

/** Adds `--first-seed` and one flag per world, walk and reward option. */
export function addSimulatorOptions(command: Command): Command {
  addWorldAndWalkOptions(command);
  for (const key of REWARD_KEYS) {
    const flag = `--reward-${key}`;
    command.option(`${flag} <x>`, `reward of a ${key}${key === 'purchase' ? ' (per item)' : ''}`, numberFlag(flag, false), SIMULATOR_REWARDS[key]);
  }
  return command;
}

const pick = <K extends string>(flags: Record<string, number>, keys: readonly K[], key: (k: K) => string) =>
  Object.fromEntries(keys.map((k) => [k, flags[camel(key(k))]!]));

/** The world (without its seed) and walk the parsed flags of addWorldAndWalkOptions name; the simulator validates them. */
export function worldAndWalkSettings(flags: SimulatorFlags): { world: Omit<WorldOptions, 'seed'>; walk: WalkOptions; firstSeed: number } {
  return {
    world: pick(flags, WORLD_KEYS, (k) => k) as Omit<WorldOptions, 'seed'>,
    walk: pick(flags, WALK_KEYS, (k) => k) as unknown as WalkOptions,
    firstSeed: flags.firstSeed,
  };
}

/** The world (without its seed), walk and rewards the parsed flags name; the simulator validates them. */
export function simulatorSettings(flags: SimulatorFlags): { world: Omit<WorldOptions, 'seed'>; walk: WalkOptions; rewards: Rewards; firstSeed: number } {
  return { ...worldAndWalkSettings(flags), rewards: pick(flags, REWARD_KEYS, (k) => `reward-${k}`) as Rewards };
}
