package deepchain.bench;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

/**
 * One event applied to one user's state: an approximation of services/sessionizer/fold.ts, close enough to
 * write about the same transitions per event on the bench's in-order workload. Ported: de-duplication by
 * event id, the pending list's rules for recommendation / click / skip / purchase / leave, a new session
 * closing the open one (its last pending item is the leave), the wait window, the history, the scenario
 * graph and the rewards (DEFAULT_SETTINGS, DEFAULT_SCENARIO_GRAPH, DEFAULT_REWARDS). Not ported: the grace
 * period's out-of-order buffer (events are applied in arrival order), stream time and the timer that closes
 * idle sessions without a new event, dead-letter records (unjoinable events are only counted), metrics.
 */
final class UserFold {
  static final long SESSION_TIMEOUT_MS = 30 * 60 * 1000;
  static final long WAIT_WINDOW_MS = 5 * 60 * 1000;
  static final Map<String, Map<String, String>> GRAPH = Map.of(
      "entrance", Map.of("click", "detail", "skip", "entrance", "leave", ""),
      "detail", Map.of("click", "detail", "skip", "entrance", "leave", ""),
      "cart", Map.of("click", "detail", "skip", "detail", "leave", ""),
      "order", Map.of("click", "detail", "skip", "entrance", "leave", "", "purchase", "order"));
  static final Map<String, Double> REWARDS = Map.of("click", 1.0, "skip", 0.0, "leave", -2.0, "purchase", 1.0);

  private final UserState s;
  private final String userId;
  private final Codec codec;
  private final List<GenericRecord> out = new ArrayList<>();

  UserFold(UserState state, String userId, Codec codec) {
    this.s = state;
    this.userId = userId;
    this.codec = codec;
  }

  /** Transitions of this event (state updated in place), or null when it is a duplicate (state unchanged). */
  List<GenericRecord> apply(GenericRecord event) {
    String eventId = event.get("eventId").toString();
    if (s.recentIds.contains(eventId)) return null;
    UserState.appendBounded(s.recentIds, eventId, UserState.DEDUPE_WINDOW);
    long t = (Long) event.get("eventTime");
    s.maxEventTime = Math.max(s.maxEventTime, t);
    String sessionId = event.get("sessionId").toString();
    if (s.sessionId != null && t >= s.lastActivity + SESSION_TIMEOUT_MS) close(s.lastActivity + SESSION_TIMEOUT_MS);
    if (!sessionId.equals(s.sessionId) && s.closedSessions.contains(sessionId)) return out; // product: dead letter
    if (s.sessionId != null && !s.sessionId.equals(sessionId)) close(t);
    if (s.sessionId == null) {
      s.sessionId = sessionId;
      s.step = 0;
      s.lastActivity = t;
      s.requestId = null;
    }
    GenericRecord payload = (GenericRecord) event.get("payload");
    String type = payload.getSchema().getName();
    if (s.requestId != null && !type.equals("Leave") && t - s.shownAt > WAIT_WINDOW_MS) {
      resolve(s.items.size(), "skip", t);
      s.requestId = null;
    }
    applyPayload(type, payload, event.get("scenario").toString(), t);
    if (s.sessionId != null) s.lastActivity = Math.max(s.lastActivity, t);
    return out;
  }

  private void applyPayload(String type, GenericRecord p, String scenario, long t) {
    switch (type) {
      case "Recommendation" -> {
        @SuppressWarnings("unchecked") List<Object> items = (List<Object>) p.get("items");
        @SuppressWarnings("unchecked") List<Double> props = (List<Double>) p.get("propensities");
        if (items.isEmpty()) return;
        if (s.requestId != null) resolve(s.items.size(), "skip", t);
        s.requestId = p.get("requestId").toString();
        s.scenario = scenario;
        s.items.clear();
        for (Object i : items) s.items.add(i.toString());
        s.propensities.clear();
        s.propensities.addAll(props);
        s.modelVersion = (Long) p.get("modelVersion");
        s.shownAt = t;
        s.next = 0;
      }
      case "Click", "Skip" -> {
        int pos = (Integer) p.get("position");
        if (s.requestId == null || !s.requestId.equals(p.get("requestId").toString())) return; // product: dead letter
        if (pos < s.next || pos >= s.items.size() || !s.items.get(pos).equals(p.get("itemId").toString())) return;
        if (type.equals("Click")) {
          resolve(pos, "skip", t);
          emit(pos, "click", t, s.items.get(pos));
          s.requestId = null;
        } else {
          resolve(pos + 1, "skip", t);
          if (pos + 1 < s.items.size()) s.next = pos + 1;
          else s.requestId = null;
        }
      }
      case "Purchase" -> {
        @SuppressWarnings("unchecked") List<Object> ids = (List<Object>) p.get("itemIds");
        boolean canJoin = s.requestId != null && GRAPH.get(s.scenario).containsKey("purchase");
        Set<Integer> claimed = new HashSet<>();
        List<String> unshown = new ArrayList<>();
        for (Object o : ids) {
          String id = o.toString();
          int at = -1;
          if (canJoin) {
            for (int i = s.next; i < s.items.size(); i++) {
              if (s.items.get(i).equals(id) && !claimed.contains(i)) { at = i; break; }
            }
          }
          if (at >= 0) claimed.add(at);
          else unshown.add(id);
        }
        if (!claimed.isEmpty()) {
          int last = claimed.stream().max(Integer::compare).get();
          for (int i = s.next; i <= last; i++) {
            if (claimed.contains(i)) emit(i, "purchase", t, s.items.get(i));
            else emit(i, "skip", t, null);
          }
          s.requestId = null;
        }
        for (String id : unshown) UserState.appendBounded(s.history, id, UserState.HISTORY);
      }
      case "Leave" -> close(t);
      default -> { } // PageChange, AddToCart: no transition
    }
  }

  /** Ends the open session: pending items are skips but the last, which is the leave. */
  private void close(long t) {
    if (s.requestId != null) {
      int last = s.items.size() - 1;
      resolve(last, "skip", t);
      emit(last, "leave", t, null);
      s.requestId = null;
    }
    UserState.appendBounded(s.closedSessions, s.sessionId, UserState.CLOSED_KEPT);
    s.sessionId = null;
  }

  private void resolve(int end, String behaviour, long t) {
    for (int i = s.next; i < end; i++) emit(i, behaviour, t, null);
  }

  private void emit(int index, String behaviour, long t, String joins) {
    List<String> state = new ArrayList<>(s.history);
    if (joins != null) UserState.appendBounded(s.history, joins, UserState.HISTORY);
    String next = GRAPH.get(s.scenario).get(behaviour);
    Schema scenarioEnum = codec.scenarioSchema;
    GenericRecord r = new GenericData.Record(codec.transitionSchema);
    r.put("userId", userId);
    r.put("sessionId", s.sessionId);
    r.put("step", s.step);
    r.put("scenario", new GenericData.EnumSymbol(scenarioEnum, s.scenario));
    r.put("state", state);
    r.put("action", s.items.get(index));
    r.put("behaviour", new GenericData.EnumSymbol(codec.behaviourSchema, behaviour));
    r.put("reward", REWARDS.get(behaviour));
    r.put("nextState", new ArrayList<>(s.history));
    r.put("nextScenario", next == null || next.isEmpty() ? null : new GenericData.EnumSymbol(scenarioEnum, next));
    r.put("terminal", next == null || next.isEmpty());
    r.put("eventTime", t);
    r.put("modelVersion", s.modelVersion);
    r.put("propensity", index < s.propensities.size() ? s.propensities.get(index) : null);
    r.put("position", index);
    out.add(r);
    s.step++;
  }
}
