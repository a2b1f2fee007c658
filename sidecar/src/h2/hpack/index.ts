// HPACK (RFC 7541) for our HTTP/2 layer, written here: on npm, hpack.js (indutny) is untyped and stream-based on
// readable-stream 2 / obuf / wbuf with no maintained line, and `hpack` (maskit) is a single untyped 1.0.0 release;
// neither decodes into reusable, allocation-light output nor reports an oversized header list apart from errors.
export { type DecodeResult, Decoder, type DecoderOptions } from "./decoder.ts";
export { Encoder, type EncoderOptions } from "./encoder.ts";
export { HpackError } from "./errors.ts";
export { HeaderList } from "./header-list.ts";
