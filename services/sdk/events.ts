/**
 * Typed constructors, one per event type (DESIGN.md §3). Each fills what a caller may leave out: the
 * event id (a random UUID; pass your own to make a retried send de-duplicable) and the event time (now).
 * Pure apart from the clock and the random id; no Kafka here.
 */
import { randomUUID } from 'node:crypto';
import type {
  AddToCartEvent, ClickEvent, LeaveEvent, PageChangeEvent, PurchaseEvent, RecommendationEvent, SkipEvent, UserEvent,
} from '../common/index.js';

/** An event as a caller writes it: no `type`, and eventId / eventTime optional. */
export type EventDraft<E extends UserEvent> = Omit<E, 'type' | 'eventId' | 'eventTime'> & {
  eventId?: string;
  eventTime?: number;
};

function complete<E extends UserEvent>(type: E['type'], draft: EventDraft<E>): E {
  return { ...draft, type, eventId: draft.eventId ?? randomUUID(), eventTime: draft.eventTime ?? Date.now() } as E;
}

export const recommendation = (draft: EventDraft<RecommendationEvent>): RecommendationEvent =>
  complete<RecommendationEvent>('recommendation', draft);
export const click = (draft: EventDraft<ClickEvent>): ClickEvent => complete<ClickEvent>('click', draft);
export const skip = (draft: EventDraft<SkipEvent>): SkipEvent => complete<SkipEvent>('skip', draft);
export const leave = (draft: EventDraft<LeaveEvent>): LeaveEvent => complete<LeaveEvent>('leave', draft);
export const addToCart = (draft: EventDraft<AddToCartEvent>): AddToCartEvent => complete<AddToCartEvent>('add_to_cart', draft);
export const purchase = (draft: EventDraft<PurchaseEvent>): PurchaseEvent => complete<PurchaseEvent>('purchase', draft);

/** `itemId` (the detail page's item) may be left out: it is null for pages that show no single item. */
export const pageChange = (
  draft: Omit<EventDraft<PageChangeEvent>, 'itemId'> & { itemId?: string | null },
): PageChangeEvent => complete<PageChangeEvent>('page_change', { ...draft, itemId: draft.itemId ?? null });
