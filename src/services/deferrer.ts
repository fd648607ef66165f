/**
 * Where deferred work goes: the request's ExecutionContext (`ctx.waitUntil`), so that a write
 * that need not hold up the answer (usage, a self-healing edge entry) runs after it.
 */
export interface Deferrer {
  waitUntil(promise: Promise<unknown>): void;
}
