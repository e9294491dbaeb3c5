// The Fetch API `Headers` class for the bundled CLI (see build/bundle.ts, which substitutes it for the global inside
// the bundle). Connect uses Headers as a multimap of metadata and nothing else of the Fetch API, but Node's global
// Headers lives in its bundled undici, whose first use costs 25-55 ms on this machine: a third of `jobexec status`.
// Semantics follow the Fetch standard: names are case-insensitive tokens, values are trimmed of HTTP whitespace
// and may hold no NUL, CR or LF, several values of a name read as one joined with ", " (set-cookie excepted), and
// iteration is sorted by name. src/lite-headers.test.ts checks it against the real Headers.

const tokenName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const badValue = /[\0\r\n]/;
// Leading and trailing HTTP whitespace: tab, line feed, carriage return, space.
const edgeWhitespace = /^[\t\n\r ]+|[\t\n\r ]+$/g;

type Init = Headers | [string, string][] | Record<string, string> | Iterable<readonly [string, string]>;

/** A Fetch-standard `Headers`, without undici. */
export class LiteHeaders implements Headers {
  readonly #fields = new Map<string, string[]>();

  constructor(init?: Init | Iterable<readonly string[]>) {
    if (init === undefined || init === null) return;
    if (typeof init !== "object") throw new TypeError("Headers constructor: init must be an object");
    if (Symbol.iterator in init) {
      for (const pair of init as Iterable<readonly string[]>) {
        if (pair.length !== 2) throw new TypeError(`Headers constructor: expected name/value pair to be length 2, found ${pair.length}.`);
        this.append(String(pair[0]), String(pair[1]));
      }
      return;
    }
    for (const [name, value] of Object.entries(init)) this.append(name, String(value));
  }

  append(name: string, value: string): void {
    const key = checkName(name, "append");
    const values = this.#fields.get(key);
    const normal = checkValue(value, "append");
    if (values === undefined) this.#fields.set(key, [normal]);
    else values.push(normal);
  }

  delete(name: string): void {
    this.#fields.delete(checkName(name, "delete"));
  }

  get(name: string): string | null {
    return this.#fields.get(checkName(name, "get"))?.join(", ") ?? null;
  }

  getSetCookie(): string[] {
    return [...(this.#fields.get("set-cookie") ?? [])];
  }

  has(name: string): boolean {
    return this.#fields.has(checkName(name, "has"));
  }

  set(name: string, value: string): void {
    this.#fields.set(checkName(name, "set"), [checkValue(value, "set")]);
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [name, value] of this) callback.call(thisArg, value, name, this);
  }

  *entries(): Generator<[string, string]> {
    for (const name of [...this.#fields.keys()].sort()) {
      const values = this.#fields.get(name) ?? [];
      if (name === "set-cookie") for (const value of values) yield [name, value];
      else yield [name, values.join(", ")];
    }
  }

  *keys(): Generator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): Generator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): Generator<[string, string]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return "Headers";
  }
}

function checkName(name: string, method: string): string {
  const text = String(name);
  if (!tokenName.test(text)) throw new TypeError(`Headers.${method}: "${text}" is an invalid header name.`);
  return text.toLowerCase();
}

function checkValue(value: string, method: string): string {
  const text = String(value).replace(edgeWhitespace, "");
  if (badValue.test(text)) throw new TypeError(`Headers.${method}: "${text}" is an invalid header value.`);
  return text;
}
