/** A bound on how long the HTTP layer waits for a dependency (health checks, the rate limiter). */

/** `work`'s result, or a rejection "no answer within <ms> ms" once `ms` has passed (the work itself goes on). */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    work.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (err: unknown) => (clearTimeout(timer), reject(err)),
    );
  });
}
