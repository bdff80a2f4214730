import type { IncomingMessage } from 'node:http';
import { HttpError } from './reply';

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'HTTP_PAYLOAD_TOO_LARGE', `request body exceeds http.body_limit (${limit} bytes)`, { limit });
}

/**
 * Reads the whole request body, never more than `limit` bytes: a declared Content-Length above
 * the limit is refused before reading anything, and a chunked body is cut off as soon as it
 * crosses the limit (the request is paused so the sender is throttled by TCP; the server then closes
 * the connection instead of draining the rest).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new HttpError(400, 'HTTP_BAD_REQUEST', `request body could not be read: ${error.message}`));
    };
    // 'close' before 'end' means the client went away mid-body; nobody will read the response.
    const onClose = (): void => {
      if (req.complete) return;
      cleanup();
      reject(new HttpError(400, 'HTTP_BAD_REQUEST', 'request aborted before the body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
