/** Per-entry overhead counted in the table size (RFC 7541 4.1). */
export const ENTRY_OVERHEAD = 32;

/** Size of an entry whose name and value are byte strings (one char per octet). */
export function entrySize(name: string, value: string): number {
  return name.length + value.length + ENTRY_OVERHEAD;
}

/**
 * The dynamic table (RFC 7541 2.3.2, 4): a FIFO ring of (name, value), newest first, with size accounting and
 * eviction. Every entry also has an insertion number (0, 1, 2, ... for the life of the table) so an encoder can map
 * fields to entries that stay valid as others are added.
 */
export class DynamicTable {
  private names: string[] = new Array(16);
  private values: string[] = new Array(16);
  private head = 0; // slot of the oldest entry
  private count = 0;
  private inserted = 0;
  /** Sum of entry sizes. */
  size = 0;

  constructor(
    /** Current maximum size (the last size update, or the initial SETTINGS_HEADER_TABLE_SIZE). */
    public maxSize = 4096,
  ) {}

  get length(): number {
    return this.count;
  }

  /** Number of entries ever inserted: the insertion number the next entry gets. */
  get insertedCount(): number {
    return this.inserted;
  }

  /** Name of the entry at 0-based position `i` from the newest (HPACK index 62 + i). */
  name(i: number): string {
    return this.names[(this.head + this.count - 1 - i) & (this.names.length - 1)] ?? "";
  }

  value(i: number): string {
    return this.values[(this.head + this.count - 1 - i) & (this.names.length - 1)] ?? "";
  }

  /** Position from the newest of the entry with this insertion number (negative or >= length once evicted). */
  positionOf(insertion: number): number {
    return this.inserted - 1 - insertion;
  }

  /** Changes the maximum size, evicting the oldest entries until the table fits. */
  setMaxSize(maxSize: number): void {
    this.maxSize = maxSize;
    this.evictTo(maxSize);
  }

  /**
   * Adds an entry as the newest, first evicting as needed (RFC 7541 4.4). An entry larger than the maximum size
   * empties the table and is not added.
   */
  add(name: string, value: string): void {
    const size = entrySize(name, value);
    if (size > this.maxSize) {
      this.evictTo(0);
      this.inserted++;
      return;
    }
    this.evictTo(this.maxSize - size);
    if (this.count === this.names.length) this.grow();
    const slot = (this.head + this.count) & (this.names.length - 1);
    this.names[slot] = name;
    this.values[slot] = value;
    this.count++;
    this.inserted++;
    this.size += size;
  }

  /** Called for each evicted entry, oldest first, with its insertion number. */
  protected onEvict(_name: string, _value: string, _insertion: number): void {}

  private evictTo(limit: number): void {
    const mask = this.names.length - 1;
    while (this.size > limit && this.count > 0) {
      const name = this.names[this.head] ?? "";
      const value = this.values[this.head] ?? "";
      this.size -= entrySize(name, value);
      this.names[this.head] = "";
      this.values[this.head] = "";
      this.onEvict(name, value, this.inserted - this.count);
      this.head = (this.head + 1) & mask;
      this.count--;
    }
  }

  private grow(): void {
    const n = this.names.length;
    const names: string[] = new Array(n * 2);
    const values: string[] = new Array(n * 2);
    for (let i = 0; i < this.count; i++) {
      names[i] = this.names[(this.head + i) & (n - 1)] ?? "";
      values[i] = this.values[(this.head + i) & (n - 1)] ?? "";
    }
    this.names = names;
    this.values = values;
    this.head = 0;
  }
}
