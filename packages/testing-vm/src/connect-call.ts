import http2 from "node:http2";

/** A client's TLS material: the CA that signed the server, and the client's certificate and key (PEM). */
export interface ClientCredentials {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/**
 * One unary call in the Connect protocol (JSON over HTTP/2) to `path` ("/jobexec.v1.JobService/StartJob"). In-process
 * on purpose: the CLI is a second Node program to start, which under TCG on a busy host takes a minute.
 */
export async function connectCall(address: string, credentials: ClientCredentials, path: string, body: unknown): Promise<unknown> {
  const session = http2.connect(`https://${address}`, credentials);
  try {
    return await new Promise((resolve, reject) => {
      // A refused connection or a failed handshake: the session's error, which nothing else would catch.
      session.once("error", reject);
      const request = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/json",
        "connect-protocol-version": "1",
      });
      request.once("error", reject);
      request.once("response", (headers) => {
        let text = "";
        request.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        request.once("end", () => {
          if (Number(headers[":status"]) !== 200) reject(new Error(`${path}: HTTP ${String(headers[":status"])} ${text}`));
          else resolve(JSON.parse(text));
        });
      });
      request.end(JSON.stringify(body));
    });
  } finally {
    session.close();
  }
}
