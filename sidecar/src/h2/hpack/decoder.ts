import { DynamicTable, ENTRY_OVERHEAD } from "./dynamic-table.ts";
import { HpackError } from "./errors.ts";
import type { HeaderList } from "./header-list.ts";
import { huffmanDecode } from "./huffman.ts";
import { type Cursor, decodeInteger } from "./integer.ts";
import { STATIC_TABLE } from "./static-table.ts";

export interface DecoderOptions {
  /** SETTINGS_HEADER_TABLE_SIZE we advertise: the most the peer's size updates may ask for. Default 4096. */
  maxTableSize?: number;
  /**
   * SETTINGS_MAX_HEADER_LIST_SIZE we enforce: sum over fields of name + value + 32 octets (RFC 9113 6.5.2).
   * Default 65536.
   */
  maxHeaderListSize?: number;
}

/**
 * "ok", or "header-list-too-large": the block was well formed and fully decoded (the dynamic table is in sync) but
 * its fields exceed maxHeaderListSize, so the caller should reset the stream (or answer 431), not the connection.
 * The list then holds only the fields that fitted.
 */
export type DecodeResult = "ok" | "header-list-too-large";

const STATIC_LENGTH = STATIC_TABLE.length;

/** Decodes header blocks of one HTTP/2 connection direction (RFC 7541 3, 6). One instance per connection. */
export class Decoder {
  private readonly table: DynamicTable;
  private limit: number;
  private updateRequired = false;
  maxHeaderListSize: number;
  /** The header list size (RFC 9113 6.5.2) of the last block decoded, counted in full even when it was too large. */
  lastListSize = 0;
  private readonly cursor: Cursor = { pos: 0 };
  private scratch = Buffer.allocUnsafe(512);

  constructor(options: DecoderOptions = {}) {
    this.limit = options.maxTableSize ?? 4096;
    this.table = new DynamicTable(this.limit);
    this.maxHeaderListSize = options.maxHeaderListSize ?? 65536;
  }

  /**
   * Changes the SETTINGS_HEADER_TABLE_SIZE we advertise (once the peer acknowledged it). When it goes below the
   * table's current maximum, the peer's next header block must start with a size update within the new limit.
   */
  setMaxTableSize(limit: number): void {
    this.limit = limit;
    if (limit < this.table.maxSize) this.updateRequired = true;
  }

  /** Current dynamic table: its size in octets, maximum size and entries (position 0 = newest, index 62). */
  get tableSize(): number {
    return this.table.size;
  }

  get tableMaxSize(): number {
    return this.table.maxSize;
  }

  get tableLength(): number {
    return this.table.length;
  }

  tableEntry(position: number): [name: string, value: string] {
    return [this.table.name(position), this.table.value(position)];
  }

  /**
   * Decodes one complete header block (HEADERS plus CONTINUATION payloads, concatenated) into `out`, which is
   * cleared first. Throws HpackError (a connection error of type COMPRESSION_ERROR) when the block is malformed.
   */
  decode(block: Uint8Array, out: HeaderList): DecodeResult {
    out.clear();
    const src = Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    const cursor = this.cursor;
    cursor.pos = 0;
    const end = src.length;
    let atStart = true;
    let listSize = 0;
    let tooLarge = false;
    const maxList = this.maxHeaderListSize;
    while (cursor.pos < end) {
      const b = src[cursor.pos] ?? 0;
      if ((b & 0xe0) === 0x20) {
        if (!atStart) throw new HpackError("dynamic table size update after the first header field of the block");
        const size = decodeInteger(src, cursor, 5);
        if (size > this.limit) {
          throw new HpackError(`dynamic table size update to ${size} exceeds SETTINGS_HEADER_TABLE_SIZE ${this.limit}`);
        }
        this.table.setMaxSize(size);
        this.updateRequired = false;
        continue;
      }
      if (this.updateRequired) {
        throw new HpackError(`expected a dynamic table size update to at most ${this.limit} at the start of the block`);
      }
      atStart = false;
      let name: string;
      let value: string;
      let neverIndexed = false;
      if (b & 0x80) {
        const index = decodeInteger(src, cursor, 7);
        if (index === 0) throw new HpackError("indexed header field with index 0");
        if (index <= STATIC_LENGTH) {
          const entry = STATIC_TABLE[index - 1] ?? ["", ""];
          name = entry[0];
          value = entry[1];
        } else {
          const position = this.dynamicPosition(index);
          name = this.table.name(position);
          value = this.table.value(position);
        }
      } else {
        const incremental = (b & 0x40) !== 0;
        neverIndexed = !incremental && (b & 0x10) !== 0;
        const nameIndex = decodeInteger(src, cursor, incremental ? 6 : 4);
        if (nameIndex === 0) name = this.readString(src);
        else if (nameIndex <= STATIC_LENGTH) name = STATIC_TABLE[nameIndex - 1]?.[0] ?? "";
        else name = this.table.name(this.dynamicPosition(nameIndex));
        value = this.readString(src);
        if (incremental) this.table.add(name, value);
      }
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize > maxList) tooLarge = true;
      else out.push(name, value, neverIndexed);
    }
    if (this.updateRequired) {
      throw new HpackError(`expected a dynamic table size update to at most ${this.limit} at the start of the block`);
    }
    this.lastListSize = listSize;
    return tooLarge ? "header-list-too-large" : "ok";
  }

  private dynamicPosition(index: number): number {
    const position = index - STATIC_LENGTH - 1;
    if (position >= this.table.length) {
      throw new HpackError(
        `index ${index} out of range: static table has ${STATIC_LENGTH} entries, dynamic table ${this.table.length}`,
      );
    }
    return position;
  }

  private readString(src: Buffer): string {
    const cursor = this.cursor;
    if (cursor.pos >= src.length) throw new HpackError("truncated string: header block ends before its length");
    const huffman = ((src[cursor.pos] ?? 0) & 0x80) !== 0;
    const length = decodeInteger(src, cursor, 7);
    const start = cursor.pos;
    if (length > src.length - start) {
      throw new HpackError(`truncated string: length ${length} but ${src.length - start} octets left in the block`);
    }
    cursor.pos = start + length;
    if (!huffman) return src.toString("latin1", start, start + length);
    const most = Math.ceil((length * 8) / 5);
    if (this.scratch.length < most) this.scratch = Buffer.allocUnsafe(Math.max(most, this.scratch.length * 2));
    const n = huffmanDecode(src, start, start + length, this.scratch);
    return this.scratch.toString("latin1", 0, n);
  }
}
