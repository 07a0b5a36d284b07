/**
 * Eq. 1 (services/model/target.ts) against hand computations on fixed numbers: every one of the paper's six
 * rows in the default (graph) form, the paper's literal form, and the model-free target of DC-f.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { resolveConfig, scenarioLayout } from '../../services/model/config.js';
import { eq1Slots, eq1Target, eq1TargetTensor } from '../../services/model/target.js';

const config = resolveConfig({});
const layout = scenarioLayout(config);
const g = 0.95;
const R = config.rewards; // click 1, skip 0, leave −2
const ENTRANCE = 0;
const DETAIL = 1;
// Softmax order in both scenarios: click, skip, leave.
const [CLICK, SKIP, LEAVE] = [0, 1, 2];
// The slots are float32 (they become tensors), so equality holds to float32 precision.
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} ≠ ${b}`);

test('the paper layout: behaviours click, skip, leave; click on the entrance page leads to the detail page', () => {
  assert.deepEqual(layout.behaviours, [['click', 'skip', 'leave'], ['click', 'skip', 'leave']]);
  assert.deepEqual(layout.next, [[DETAIL, ENTRANCE, -1], [DETAIL, ENTRANCE, -1]]);
});

test('Eq. 1 rows 1–3 (entrance page), graph form, by hand', () => {
  const p = [0.2, 0.7, 0.1]; // p^c_m, p^s_m, p^l_m
  const q = [3, 2, 99]; // Q'(s+a, π'_d(s+a)), Q'(s, π'_m(s)), unused (leave is terminal)
  const slots = eq1Slots('graph', layout, R, g, { scenario: ENTRANCE, behaviour: CLICK, reward: 1, nextScenario: DETAIL });
  // row 1: p^s_m · γQ'(s', π'_m)          = 0.7 · 0.95 · 2   = 1.33
  // row 2: p^c_m · (r_click + γQ'(s', π'_d)) = 0.2 · (1 + 0.95·3) = 0.77
  // row 3: p^l_m · r_leave                 = 0.1 · (−2)       = −0.2
  close(eq1Target(slots, p, q), 0.7 * 0.95 * 2 + 0.2 * (1 + 0.95 * 3) + 0.1 * -2);
  close(eq1Target(slots, p, q), 1.9);
  // Each row alone (p one-hot) isolates it.
  close(eq1Target(slots, [0, 1, 0], q), g * 2);
  close(eq1Target(slots, [1, 0, 0], q), R.click + g * 3);
  close(eq1Target(slots, [0, 0, 1], q), R.leave);
  // s'_b and next(m, b): click → s + item on the detail page, skip → s on the entrance page, leave → none.
  assert.deepEqual(slots.next, [{ appended: true, scenario: DETAIL }, { appended: false, scenario: ENTRANCE }, null]);
});

test('Eq. 1 rows 4–6 (item detail page), graph form, by hand', () => {
  const p = [0.5, 0.3, 0.2]; // p^c_d, p^s_d, p^l_d
  const q = [4, 1, 99];
  // The logged behaviour and reward do not enter the graph form: a skip logged with r_t = 0 gives the same y.
  const slots = eq1Slots('graph', layout, R, g, { scenario: DETAIL, behaviour: SKIP, reward: 0, nextScenario: ENTRANCE });
  // row 4: p^c_d (r_click + γQ'(s', π'_d)) = 0.5 · 4.8 = 2.4; row 5: p^s_d γQ'(s', π'_m) = 0.285; row 6: p^l_d r_leave = −0.4
  close(eq1Target(slots, p, q), 2.4 + 0.285 - 0.4);
  close(eq1Target(slots, [1, 0, 0], q), R.click + g * 4);
  close(eq1Target(slots, [0, 1, 0], q), g * 1);
  close(eq1Target(slots, [0, 0, 1], q), R.leave);
  assert.deepEqual(slots.next, [{ appended: true, scenario: DETAIL }, { appended: false, scenario: ENTRANCE }, null]);
});

test('literal form: observed r_t in the click and leave rows, none in the skip row, s_{t+1} in every row', () => {
  const p = [0.2, 0.7, 0.1];
  const q = [3, 2, 99];
  const click = eq1Slots('literal', layout, R, g, { scenario: ENTRANCE, behaviour: CLICK, reward: 1, nextScenario: DETAIL });
  close(eq1Target(click, p, q), 0.7 * g * 2 + 0.2 * (1 + g * 3) + 0.1 * 1);
  assert.deepEqual(click.next, [{ appended: true, scenario: DETAIL }, { appended: true, scenario: ENTRANCE }, null]);
  const leave = eq1Slots('literal', layout, R, g, { scenario: DETAIL, behaviour: LEAVE, reward: -2, nextScenario: -1 });
  close(eq1Target(leave, [0.5, 0.3, 0.2], [4, 1, 99]), 0.5 * (-2 + g * 4) + 0.3 * g * 1 + 0.2 * -2);
  assert.deepEqual(leave.next, [{ appended: false, scenario: DETAIL }, { appended: false, scenario: ENTRANCE }, null]);
  // The graph form differs from the literal one on the same numbers (behaviour-specific rewards).
  const graph = eq1Slots('graph', layout, R, g, { scenario: DETAIL, behaviour: LEAVE, reward: -2, nextScenario: -1 });
  assert.notEqual(eq1Target(graph, [0.5, 0.3, 0.2], [4, 1, 99]), eq1Target(leave, [0.5, 0.3, 0.2], [4, 1, 99]));
});

test('model-free target (DC-f): y = r_t + γ·Q\'(s_{t+1}, π\'(s_{t+1})), and r_t alone at the end of a session', () => {
  const click = eq1Slots('model-free', layout, R, g, { scenario: ENTRANCE, behaviour: CLICK, reward: 1, nextScenario: DETAIL });
  close(eq1Target(click, [0.3, 0.3, 0.4], [5, 7, 9]), 1 + g * 5);
  assert.deepEqual(click.next, [{ appended: true, scenario: DETAIL }, null, null]);
  const leave = eq1Slots('model-free', layout, R, g, { scenario: DETAIL, behaviour: LEAVE, reward: -2, nextScenario: -1 });
  close(eq1Target(leave, [0.3, 0.3, 0.4], [5, 7, 9]), -2);
});

test('the tensor form equals the number form on a batch', () => {
  const steps = [
    { scenario: ENTRANCE, behaviour: CLICK, reward: 1, nextScenario: DETAIL },
    { scenario: DETAIL, behaviour: SKIP, reward: 0, nextScenario: ENTRANCE },
    { scenario: DETAIL, behaviour: LEAVE, reward: -2, nextScenario: -1 },
  ];
  const p = [[0.2, 0.7, 0.1], [0.5, 0.3, 0.2], [0.1, 0.1, 0.8]];
  const q = [[3, 2, 0], [4, 1, 0], [-1, 0.5, 0]];
  for (const mode of ['graph', 'literal', 'model-free'] as const) {
    const slots = steps.map((s) => eq1Slots(mode, layout, R, g, s));
    const weights = slots[0]!.usesProbabilities ? p : slots.map((s) => [...s.fixedWeight]);
    const y = eq1TargetTensor(
      tf.tensor2d(weights),
      tf.tensor2d(q),
      tf.tensor2d(slots.map((s) => [...s.rewardTerm])),
      tf.tensor2d(slots.map((s) => [...s.discount])),
    ).arraySync();
    slots.forEach((s, i) => assert.ok(Math.abs(y[i]! - eq1Target(s, p[i]!, q[i]!)) < 1e-5, `${mode} row ${i}`));
  }
});
