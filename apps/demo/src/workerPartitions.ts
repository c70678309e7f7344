/**
 * The partitions worker `index` of `workers` drives (`p % workers === index`):
 * the coordinator shows them and the worker process drives them, so both ask here.
 */
export function workerPartitions(index: number, workers: number, partitions: number): number[] {
  return Array.from({ length: partitions }, (_, p) => p).filter((p) => p % workers === index);
}
