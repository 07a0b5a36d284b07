/**
 * Item ids ↔ dense indices, append-only, so an index stored in the replay buffer or a weights file keeps
 * meaning the same item as new items arrive. Index 0 is padding (its embedding is the zero vector).
 */
export const PAD_INDEX = 0;

export class ItemVocabulary {
  private readonly ids: string[] = [''];
  private readonly index = new Map<string, number>();

  constructor(ids: Iterable<string> = []) {
    for (const id of ids) this.add(id);
  }

  /** Number of indices in use, padding included. */
  get size(): number {
    return this.ids.length;
  }

  indexOf(id: string): number | undefined {
    return this.index.get(id);
  }

  /** The item's index, assigning the next one to a new item. */
  add(id: string): number {
    const known = this.index.get(id);
    if (known !== undefined) return known;
    if (id === '') throw new Error('an item id must not be empty');
    const i = this.ids.length;
    this.ids.push(id);
    this.index.set(id, i);
    return i;
  }

  idOf(index: number): string {
    const id = this.ids[index];
    if (index === PAD_INDEX || id === undefined) throw new Error(`no item at index ${index}`);
    return id;
  }

  /** Item ids in index order, padding excluded (the weights format stores this list). */
  list(): string[] {
    return this.ids.slice(1);
  }
}
