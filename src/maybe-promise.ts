/**
 * Values that are known at once on a hot path and only sometimes must be
 * waited for (a token verified lately, a caller known from it): the next
 * step runs at once on the first, after the wait on the second, and no
 * promise is made when none is needed (docs/architecture.md, the proxy's
 * fast paths).
 */
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)`, at once when `value` is known, else once it is. */
export function andThen<T, R>(value: MaybePromise<T>, next: (known: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
