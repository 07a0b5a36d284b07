/**
 * The set of networks of one DeepChain model (paper Figure 2): an actor per scenario (or one shared actor,
 * DC-o), the global critic and the probability net; and the target copies of the actors and the critic
 * that Algorithm 1 lines 2 and 14 maintain (the probability net has none: Eq. 1 uses its current output).
 */
import * as tf from '@tensorflow/tfjs';
import { createActor, type ActorWeights } from './actor.js';
import { scenarioLayout, type DeepChainConfig, type ScenarioLayout } from './config.js';
import { createCritic, type CriticWeights } from './critic.js';
import { ParamStore } from './params.js';
import { createProbabilityNet, type ProbabilityNetWeights } from './probability-net.js';

export interface ActorCritic {
  /** One per scenario in config order, or a single shared actor (DC-o). */
  readonly actors: readonly ActorWeights[];
  readonly critic: CriticWeights;
}

export interface DeepChainNetworks {
  readonly config: DeepChainConfig;
  readonly layout: ScenarioLayout;
  readonly store: ParamStore;
  readonly online: ActorCritic;
  readonly target: ActorCritic;
  readonly probabilityNet: ProbabilityNetWeights;
}

export const TARGET_PREFIX = 'target.';

/** The actor that acts in scenario index m. */
export function actorOf(nets: ActorCritic, scenario: number): ActorWeights {
  const a = nets.actors.length === 1 ? nets.actors[0] : nets.actors[scenario];
  if (!a) throw new Error(`no actor for scenario index ${scenario}`);
  return a;
}

/** Actor names in weight-file order: the scenario names, or 'shared' for DC-o. */
export function actorNames(config: DeepChainConfig): string[] {
  return config.sharedActor ? ['shared'] : [...config.scenarios];
}

function createActorCritic(store: ParamStore, prefix: string, config: DeepChainConfig): ActorCritic {
  const sizes = { E: config.embeddingSize, H: config.hiddenSize, A: config.attentionSize };
  return {
    actors: actorNames(config).map((name) => createActor(store, `${prefix}actor.${name}`, sizes)),
    critic: createCritic(store, `${prefix}critic`, sizes, config.scenarios.length, config.headHidden),
  };
}

/** Algorithm 1 lines 1–2: random online networks, targets initialised to the same weights. */
export function createNetworks(config: DeepChainConfig): DeepChainNetworks {
  const layout = scenarioLayout(config);
  const store = new ParamStore(config.seed);
  const sizes = { E: config.embeddingSize, H: config.hiddenSize, A: config.attentionSize };
  const online = createActorCritic(store, '', config);
  const probabilityNet = createProbabilityNet(store, 'probability', sizes, layout, config.headHidden);
  const target = createActorCritic(store, TARGET_PREFIX, config);
  for (const [name, v] of store.variables) {
    if (name.startsWith(TARGET_PREFIX)) v.assign(store.get(name.slice(TARGET_PREFIX.length)));
  }
  return { config, layout, store, online, target, probabilityNet };
}

/** Algorithm 1 line 14: θ' ← τθ + (1 − τ)θ' for every target variable. */
export function softUpdateTargets(nets: DeepChainNetworks, tau: number): void {
  tf.tidy(() => {
    for (const [name, v] of nets.store.variables) {
      if (!name.startsWith(TARGET_PREFIX)) continue;
      const source = nets.store.get(name.slice(TARGET_PREFIX.length));
      v.assign(tf.add(tf.mul(source, tau), tf.mul(v, 1 - tau)));
    }
  });
}
