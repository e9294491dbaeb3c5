import { once } from "node:events";

/**
 * Writes bytes to a stream exactly as given, waiting for "drain" when the stream's buffer is full so a slow reader
 * (a pipe into `less`, a full disk) holds back the download instead of growing memory.
 */
export async function writeBytes(out: NodeJS.WritableStream, data: Uint8Array): Promise<void> {
  if (data.byteLength === 0 || out.write(data)) return;
  await once(out, "drain");
}
