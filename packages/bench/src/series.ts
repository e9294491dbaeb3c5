// How starts are timed: one after another, paced at a fixed rate, or from many clients at once.

/**
 * Runs `once` `count` times in a row after `warmUp` untimed runs (so that no series pays for cold caches the others
 * do not), returning the timed samples and the milliseconds the timed runs took together.
 */
export async function backToBack(warmUp: number, count: number, once: () => Promise<number>): Promise<{ samples: number[]; ms: number }> {
  for (let i = 0; i < warmUp; i++) await once();
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) samples.push(await once());
  return { samples, ms: performance.now() - start };
}

/**
 * Runs `once` `count` times, the i-th no earlier than i * `intervalMs` after the first (a run that takes longer
 * delays the next one, never overlaps it), after `warmUp` untimed runs; returns the timed samples.
 */
export async function paced(warmUp: number, count: number, intervalMs: number, once: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < warmUp; i++) {
    await once();
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    samples.push(await once());
  }
  return samples;
}

/**
 * Runs `clients` loops of `perClient` calls of `once` at the same time; returns the calls per second. When a call
 * fails, the other loops stop after their current call, and the first failure is thrown once all have settled.
 */
export async function perSecond(clients: number, perClient: number, once: (client: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let failed = false;
  const loops = await Promise.allSettled(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < perClient && !failed; i++) {
        await once(c).catch((error: unknown) => {
          failed = true;
          throw error;
        });
      }
    }),
  );
  const failure = loops.find((loop) => loop.status === "rejected");
  if (failure !== undefined) throw failure.reason;
  return (clients * perClient) / ((performance.now() - start) / 1000);
}
