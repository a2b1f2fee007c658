// Reading a request body up to a limit. Over the limit the rest is not read: a declared Content-Length over it is
// refused before any byte is read, and a streamed body stops being read (and buffered) at the first byte over it;
// the caller answers 413 and closes the connection.
import type { IncomingMessage } from "node:http";
import { gunzip } from "node:zlib";

export type BodyResult = { body: Uint8Array } | { tooLarge: true } | { error: string };

function gunzipLimited(data: Buffer, limit: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    gunzip(data, { maxOutputLength: limit }, (error, result) => {
      if (!error) resolve({ body: result });
      else if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") resolve({ tooLarge: true });
      else resolve({ error: `the gzip body does not decompress: ${error.message}` });
    });
  });
}

/** The body (gunzipped when Content-Encoding is gzip, the limit applying to both sizes), or why not. */
export function readBody(request: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve({ tooLarge: true });
  const encoding = (request.headers["content-encoding"] ?? "identity").toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip") {
    return Promise.resolve({ error: `unsupported Content-Encoding ${encoding}` });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: BodyResult) => {
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onError);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        request.pause();
        finish({ tooLarge: true });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const data = Buffer.concat(chunks, size);
      if (encoding === "gzip") void gunzipLimited(data, limit).then(finish);
      else finish({ body: data });
    };
    const onError = (error: Error) => finish({ error: `reading the body failed: ${error.message}` });
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onError);
  });
}
