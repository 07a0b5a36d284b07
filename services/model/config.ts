/**
 * DeepChain model configuration: the paper's defaults (§4.1) and the choices DESIGN.md §2 fixes, validated
 * once into a frozen object. Every other model file reads sizes and constants from here only.
 */
import {
  behavioursOf,
  DEFAULT_REWARDS,
  DEFAULT_SCENARIO_GRAPH,
  isScenario,
  nextScenario,
  type Behaviour,
  type Rewards,
  type Scenario,
  type ScenarioGraph,
} from '../common/domain.js';

/**
 * How the critic's target y is formed (Algorithm 1 line 11).
 * - 'graph': Eq. 1 generalised to the scenario graph (DESIGN.md §2): behaviour-specific rewards r_b and
 *   behaviour-specific next states s'_b. The default.
 * - 'literal': Eq. 1 exactly as printed: the observed r_t in every row but the skip rows, and the observed
 *   s_{t+1} in every row.
 * - 'model-free': DC-f, y = r_t + γ·Q'(s_{t+1}, π'(s_{t+1})) (paper §4.3).
 */
export type TargetMode = 'graph' | 'literal' | 'model-free';
export const TARGET_MODES: readonly TargetMode[] = ['graph', 'literal', 'model-free'];

export interface LearningRates {
  readonly actor: number;
  readonly critic: number;
  readonly probability: number;
}

export interface DeepChainConfig {
  /** The scenarios that have an agent, in a fixed order (index = scenario id inside the model). */
  readonly scenarios: readonly Scenario[];
  readonly graph: ScenarioGraph;
  readonly rewards: Rewards;
  /** |E|: item-embedding size, also the size of a proto-action (paper §4.1: 20). */
  readonly embeddingSize: number;
  /** |H|: GRU size (paper §4.1: 64). */
  readonly hiddenSize: number;
  /** N: history length (paper §4.1: 50). */
  readonly historyLength: number;
  /** Size of the additive item-level attention's hidden layer (the paper leaves it open). */
  readonly attentionSize: number;
  /** Hidden widths of the fully connected layers of the critic and the probability net (paper §3.3: "several"). */
  readonly headHidden: readonly number[];
  /** γ (paper §4.1: 0.95). */
  readonly gamma: number;
  /** τ of the soft target updates (paper §4.1: 0.01). */
  readonly tau: number;
  readonly learningRates: LearningRates;
  readonly target: TargetMode;
  /** DC-o: one actor shared by all scenarios (paper §4.3). */
  readonly sharedActor: boolean;
  /**
   * Beyond the paper: weight of a behaviour-cloning term on the actors (TD3+BC, Fujimoto & Gu 2021), pulling
   * π(s) towards the embedding of the item the user clicked or bought in s, with the policy-gradient term
   * scaled by 1 / mean|Q| as TD3+BC does. DDPG on logged data drifts to proto-actions where the critic
   * over-estimates and no real item lies (Fujimoto et al. 2019); this keeps the actor on the data.
   * 0 is the paper's Eq. 4 alone; the default 2 was chosen on validation data (`deepchain eval ablation` and
   * `ablation-online`, services/eval/README.md).
   */
  readonly cloning: number;
  /** Seed of the weight initialisation. */
  readonly seed: number;
}

export type DeepChainConfigInput = Partial<Omit<DeepChainConfig, 'learningRates'>> & {
  learningRates?: Partial<LearningRates>;
};

/** The paper's two scenarios (§3: entrance page and item detail page). */
export const PAPER_SCENARIOS: readonly Scenario[] = Object.freeze(['entrance', 'detail'] as Scenario[]);

export const DEFAULT_CONFIG: DeepChainConfig = Object.freeze({
  scenarios: PAPER_SCENARIOS,
  graph: DEFAULT_SCENARIO_GRAPH,
  rewards: DEFAULT_REWARDS,
  embeddingSize: 20,
  hiddenSize: 64,
  historyLength: 50,
  attentionSize: 32,
  headHidden: Object.freeze([64, 32]),
  gamma: 0.95,
  tau: 0.01,
  learningRates: Object.freeze({ actor: 1e-4, critic: 1e-3, probability: 1e-3 }),
  target: 'graph' as TargetMode,
  sharedActor: false,
  cloning: 2,
  seed: 1,
});

export class ModelConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`invalid model config '${field}': ${message}`);
    this.name = 'ModelConfigError';
  }
}

function positiveInt(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ModelConfigError(field, `expected a positive integer, got ${String(v)}`);
  return v;
}

function inRange(field: string, v: unknown, lo: number, hi: number, loOpen: boolean, hiOpen: boolean): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  if (!ok) throw new ModelConfigError(field, `expected a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${String(v)}`);
  return v as number;
}

/** Merges `input` over the paper defaults, validates every field, and freezes the result. */
export function resolveConfig(input: DeepChainConfigInput = {}): DeepChainConfig {
  const c = { ...DEFAULT_CONFIG, ...input, learningRates: { ...DEFAULT_CONFIG.learningRates, ...input.learningRates } };
  if (!Array.isArray(c.scenarios) || c.scenarios.length === 0) throw new ModelConfigError('scenarios', 'expected a non-empty list');
  for (const s of c.scenarios) if (!isScenario(s)) throw new ModelConfigError('scenarios', `unknown scenario '${String(s)}'`);
  if (new Set(c.scenarios).size !== c.scenarios.length) throw new ModelConfigError('scenarios', 'duplicate scenario');
  // Every edge of the graph that leaves a modelled scenario must land on a modelled scenario (or end the
  // session), or Eq. 1 would need an actor that does not exist.
  for (const m of c.scenarios) {
    const bs = behavioursOf(c.graph, m);
    if (bs.length === 0) throw new ModelConfigError('graph', `scenario '${m}' has no behaviours`);
    for (const b of bs) {
      const n = nextScenario(c.graph, m, b);
      if (n !== null && !c.scenarios.includes(n)) {
        throw new ModelConfigError('graph', `next('${m}', '${b}') = '${n}' is not one of the model's scenarios`);
      }
    }
  }
  for (const b of Object.keys(c.rewards) as Behaviour[]) {
    if (!Number.isFinite(c.rewards[b])) throw new ModelConfigError('rewards', `reward of '${b}' is not a finite number`);
  }
  positiveInt('embeddingSize', c.embeddingSize);
  positiveInt('hiddenSize', c.hiddenSize);
  positiveInt('historyLength', c.historyLength);
  positiveInt('attentionSize', c.attentionSize);
  if (!Array.isArray(c.headHidden)) throw new ModelConfigError('headHidden', 'expected a list of positive integers');
  c.headHidden.forEach((w, i) => positiveInt(`headHidden[${i}]`, w));
  inRange('gamma', c.gamma, 0, 1, false, true);
  inRange('tau', c.tau, 0, 1, true, false);
  inRange('learningRates.actor', c.learningRates.actor, 0, 1, true, false);
  inRange('learningRates.critic', c.learningRates.critic, 0, 1, true, false);
  inRange('learningRates.probability', c.learningRates.probability, 0, 1, true, false);
  if (!TARGET_MODES.includes(c.target)) throw new ModelConfigError('target', `expected one of ${TARGET_MODES.join(', ')}, got '${String(c.target)}'`);
  if (typeof c.sharedActor !== 'boolean') throw new ModelConfigError('sharedActor', 'expected a boolean');
  inRange('cloning', c.cloning, 0, Number.POSITIVE_INFINITY, false, true);
  if (!Number.isInteger(c.seed)) throw new ModelConfigError('seed', 'expected an integer');
  return Object.freeze({
    ...c,
    scenarios: Object.freeze([...c.scenarios]),
    headHidden: Object.freeze([...c.headHidden]),
    learningRates: Object.freeze(c.learningRates),
  });
}

/** Behaviours that put the shown item into the state (DESIGN.md §2: a click appends it; purchases join like clicks). */
export const APPENDING_BEHAVIOURS: readonly Behaviour[] = ['click', 'purchase'];

/**
 * The layout the networks use for a config: scenario index ↔ name, each scenario's behaviours in the
 * probability net's softmax order, and the widest behaviour list (Bmax).
 */
export interface ScenarioLayout {
  readonly scenarios: readonly Scenario[];
  readonly behaviours: readonly (readonly Behaviour[])[];
  readonly maxBehaviours: number;
  /** next[m][j]: index of next(m, behaviours[m][j]), or -1 when the behaviour ends the session. */
  readonly next: readonly (readonly number[])[];
}

export function scenarioLayout(config: DeepChainConfig): ScenarioLayout {
  const behaviours = config.scenarios.map((m) => behavioursOf(config.graph, m));
  const next = config.scenarios.map((m, i) =>
    (behaviours[i] ?? []).map((b) => {
      const n = nextScenario(config.graph, m, b);
      return n === null ? -1 : config.scenarios.indexOf(n);
    }),
  );
  return Object.freeze({
    scenarios: config.scenarios,
    behaviours,
    maxBehaviours: Math.max(...behaviours.map((b) => b.length)),
    next,
  });
}
