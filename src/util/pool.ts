/**
 * Runs `worker` over `items` with at most `concurrency` calls at once; results keep the input order.
 * On the first failure no further item is started, and the calls already running are waited for before
 * it is thrown: a failed batch must not go on calling the vault behind its own retry (or after the job's
 * report was written).
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await worker(items[index]!, index);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  });
  await Promise.all(lanes);
  if (failed) throw firstError;
  return results;
}
