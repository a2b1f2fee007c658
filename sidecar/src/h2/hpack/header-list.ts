/**
 * A reusable list of decoded header fields, kept as three parallel arrays (struct of arrays) so that decoding a block
 * allocates only the name and value strings: no per-field objects or closures, and the arrays keep their capacity
 * when the list is cleared for the next block. Names and values are byte strings (latin1: one char per octet), so
 * `name.length` is the octet length and any octets round-trip through a re-encode unchanged.
 */
export class HeaderList {
  readonly names: string[] = [];
  readonly values: string[] = [];
  /** True for fields received as "never indexed" (RFC 7541 6.2.3): a proxy must forward them the same way. */
  readonly neverIndexed: boolean[] = [];
  length = 0;

  clear(): void {
    this.length = 0;
  }

  push(name: string, value: string, neverIndexed = false): void {
    const i = this.length++;
    this.names[i] = name;
    this.values[i] = value;
    this.neverIndexed[i] = neverIndexed;
  }

  name(i: number): string {
    return this.names[i] ?? "";
  }

  value(i: number): string {
    return this.values[i] ?? "";
  }

  isNeverIndexed(i: number): boolean {
    return this.neverIndexed[i] === true;
  }

  /** A copy as [name, value] pairs (for tests and logs; allocates). */
  toArray(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 0; i < this.length; i++) out.push([this.name(i), this.value(i)]);
    return out;
  }
}
