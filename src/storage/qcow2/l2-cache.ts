/**
 * A least-recently-used cache of loaded tables (qcow2 L2 tables), bounded in bytes, that also
 * shares in-flight loads: concurrent lookups of one table cause one read. A failed load is not
 * cached, so a later request retries (and fails again with the same precise error).
 */
export class TableCache<T extends { readonly byteLength: number }> {
  private readonly entries = new Map<number, Promise<T>>();
  private readonly sizes = new Map<number, number>();
  private bytes = 0;

  /** Holds up to `budget` bytes of tables, and always at least one. */
  constructor(private readonly budget: number) {}

  /** The table at host offset `key`, loaded with `load` if absent. */
  get(key: number, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const p = load().then(
      (table) => {
        if (this.entries.get(key) === p) {
          this.sizes.set(key, table.byteLength);
          this.bytes += table.byteLength;
          this.evict(key);
        }
        return table;
      },
      (err: unknown) => {
        if (this.entries.get(key) === p) this.entries.delete(key);
        throw err;
      },
    );
    this.entries.set(key, p);
    return p;
  }

  /** Puts `table` under `key`, replacing what was there (a table just written). */
  set(key: number, table: T): void {
    this.delete(key);
    void this.get(key, async () => table);
  }

  /** Forgets the table under `key`. */
  delete(key: number): void {
    const size = this.sizes.get(key);
    if (size !== undefined) this.bytes -= size;
    this.sizes.delete(key);
    this.entries.delete(key);
  }

  /** Number of tables held or loading. */
  get size(): number {
    return this.entries.size;
  }

  /** Forgets everything. */
  clear(): void {
    this.entries.clear();
    this.sizes.clear();
    this.bytes = 0;
  }

  private evict(keep: number): void {
    for (const key of this.entries.keys()) {
      if (this.bytes <= this.budget) return;
      if (key === keep) continue;
      const size = this.sizes.get(key);
      if (size === undefined) continue; // still loading
      this.entries.delete(key);
      this.sizes.delete(key);
      this.bytes -= size;
    }
  }
}
