import { ByteWriter } from "./byte-writer.ts";
import { DynamicTable, entrySize } from "./dynamic-table.ts";
import type { HeaderList } from "./header-list.ts";
import { huffmanEncode, huffmanEncodedLength } from "./huffman.ts";
import { encodeInteger } from "./integer.ts";
import { STATIC_FIELD_INDEX, STATIC_NAME_INDEX, STATIC_TABLE } from "./static-table.ts";

/** Names always sent as never indexed (RFC 7541 7.1.3): credentials that must not sit in any shared table. */
const SENSITIVE_NAMES = ["authorization", "proxy-authorization", "cookie"];

/** Names whose values rarely repeat: indexing them would only push useful entries out of the table. */
const UNINDEXED_NAMES = new Set([
  "content-length",
  "grpc-timeout",
  "traceparent",
  "etag",
  "if-none-match",
  "if-modified-since",
]);

export interface EncoderOptions {
  /**
   * Maximum dynamic table size in effect when the connection starts (the peer's SETTINGS_HEADER_TABLE_SIZE,
   * 4096 by default); later changes go through setMaxTableSize.
   */
  maxTableSize?: number;
  /** Further header names (lowercase) to send as never indexed, on top of authorization and cookie. */
  neverIndex?: Iterable<string>;
  /** Huffman-code a string when that is shorter (default true). */
  huffman?: boolean;
}

/** The dynamic table plus maps from name, and name and value, to the newest entry's insertion number. */
class EncoderTable extends DynamicTable {
  readonly byName = new Map<string, number>();
  readonly byField = new Map<string, Map<string, number>>();

  override add(name: string, value: string): void {
    const insertion = this.insertedCount;
    super.add(name, value);
    if (this.positionOf(insertion) >= this.length) return; // too large: not added
    this.byName.set(name, insertion);
    let values = this.byField.get(name);
    if (values === undefined) {
      values = new Map();
      this.byField.set(name, values);
    }
    values.set(value, insertion);
  }

  protected override onEvict(name: string, value: string, insertion: number): void {
    if (this.byName.get(name) === insertion) this.byName.delete(name);
    const values = this.byField.get(name);
    if (values?.get(value) === insertion) {
      values.delete(value);
      if (values.size === 0) this.byField.delete(name);
    }
  }
}

const STATIC_LENGTH = STATIC_TABLE.length;

/** Encodes header blocks for one HTTP/2 connection direction. One instance per connection. */
export class Encoder {
  private readonly table: EncoderTable;
  private readonly sensitive: Set<string>;
  private readonly huffman: boolean;
  private readonly out = new ByteWriter();
  private pendingMin = -1;
  private pendingFinal = -1;

  constructor(options: EncoderOptions = {}) {
    this.table = new EncoderTable(options.maxTableSize ?? 4096);
    this.sensitive = new Set([...SENSITIVE_NAMES, ...(options.neverIndex ?? [])]);
    this.huffman = options.huffman ?? true;
  }

  /**
   * The peer changed SETTINGS_HEADER_TABLE_SIZE: the next block starts with the size update(s) (RFC 7541 4.2: the
   * smallest size since the last block, then the final one when it is larger).
   */
  setMaxTableSize(size: number): void {
    this.pendingMin = this.pendingMin < 0 ? size : Math.min(this.pendingMin, size);
    this.pendingFinal = size;
  }

  get tableSize(): number {
    return this.table.size;
  }

  get tableLength(): number {
    return this.table.length;
  }

  tableEntry(position: number): [name: string, value: string] {
    return [this.table.name(position), this.table.value(position)];
  }

  /**
   * Encodes the fields of `list` (lowercase names; byte strings, one char per octet) as one header block and returns
   * a new buffer holding it. Fields flagged never indexed in the list stay never indexed.
   */
  encode(list: HeaderList): Buffer {
    const out = this.out;
    out.reset();
    if (this.pendingFinal >= 0) {
      if (this.pendingMin < this.pendingFinal) this.sizeUpdate(this.pendingMin);
      this.sizeUpdate(this.pendingFinal);
      this.pendingMin = -1;
      this.pendingFinal = -1;
    }
    for (let i = 0; i < list.length; i++) this.field(list.name(i), list.value(i), list.isNeverIndexed(i));
    return Buffer.from(out.buf.subarray(0, out.length));
  }

  private sizeUpdate(size: number): void {
    this.table.setMaxSize(size);
    encodeInteger(this.out, size, 5, 0x20);
  }

  private field(name: string, value: string, neverIndexed: boolean): void {
    const table = this.table;
    const sensitive = neverIndexed || this.sensitive.has(name);
    if (!sensitive) {
      const staticIndex = STATIC_FIELD_INDEX.get(name)?.get(value);
      if (staticIndex !== undefined) {
        encodeInteger(this.out, staticIndex, 7, 0x80);
        return;
      }
      const insertion = table.byField.get(name)?.get(value);
      if (insertion !== undefined) {
        encodeInteger(this.out, STATIC_LENGTH + 1 + table.positionOf(insertion), 7, 0x80);
        return;
      }
    }
    let nameIndex = STATIC_NAME_INDEX.get(name) ?? 0;
    if (nameIndex === 0) {
      const insertion = table.byName.get(name);
      if (insertion !== undefined) nameIndex = STATIC_LENGTH + 1 + table.positionOf(insertion);
    }
    if (sensitive) {
      encodeInteger(this.out, nameIndex, 4, 0x10);
    } else if (!UNINDEXED_NAMES.has(name) && entrySize(name, value) * 4 <= table.maxSize * 3) {
      encodeInteger(this.out, nameIndex, 6, 0x40);
      table.add(name, value);
    } else {
      encodeInteger(this.out, nameIndex, 4, 0x00);
    }
    if (nameIndex === 0) this.string(name);
    this.string(value);
  }

  private string(s: string): void {
    const out = this.out;
    if (this.huffman) {
      const length = huffmanEncodedLength(s);
      if (length < s.length) {
        encodeInteger(out, length, 7, 0x80);
        huffmanEncode(out, s, length);
        return;
      }
    }
    encodeInteger(out, s.length, 7, 0x00);
    out.reserve(s.length);
    const buf = out.buf;
    let pos = out.length;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i) & 0xff;
    out.length = pos;
  }
}
