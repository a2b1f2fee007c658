// HPACK (RFC 7541) for our HTTP/2 layer. Written here rather than taken from npm: hpack.js (indutny) is untyped,
// stream-based on readable-stream 2 / obuf / wbuf and long unmaintained, and `hpack` on npm is a 1.0.0 stub-like
// package; neither decodes into reusable, allocation-light output nor reports an oversized header list separately.
export { type DecodeResult, Decoder, type DecoderOptions } from "./decoder.ts";
export { Encoder, type EncoderOptions } from "./encoder.ts";
export { HpackError } from "./errors.ts";
export { HeaderList } from "./header-list.ts";
