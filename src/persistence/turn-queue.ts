/**
 * The writes asked for during one turn of the event loop, handed over together after it (setImmediate:
 * after this turn's I/O callbacks), so that they share one group commit. Both engines' writers use it.
 */
export class TurnQueue<T> {
  /** What waits to be sent; the owner takes from it (all of it, or a group's worth at a time). */
  items: T[] = [];
  private scheduled = false;

  constructor(private readonly flush: () => void) {}

  push(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Everything waiting, leaving the queue empty. */
  takeAll(): T[] {
    const items = this.items;
    this.items = [];
    return items;
  }
}
