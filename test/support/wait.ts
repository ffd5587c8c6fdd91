/** Polling for something a test cannot await directly (a job, a message, a process). */

/**
 * Resolves with the first truthy value `probe` gives, asking every
 * `intervalMs`; throws, naming `what`, once `timeoutMs` has passed.
 * A probe that throws ends the wait with its error.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
