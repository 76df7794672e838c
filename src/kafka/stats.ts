/**
 * What the Kafka sources and sinks of this process report to metrics: live readers are
 * listed here while open (lag and paused partitions are read when Prometheus scrapes),
 * and commit latency and produce errors go to an observer as they happen — the same
 * shape as the inference pools' `openPools` / `observeInference`.
 */

/** One open Kafka source, as metrics see it. */
export interface KafkaSourceView {
  /** the source stage's name */
  readonly stage: string;
  /** per 'topic/partition': high watermark minus the next offset the engine will take */
  lag(): Map<string, number>;
  /** partitions paused (or held) for backpressure now */
  pausedPartitions(): number;
}

export interface KafkaObserver {
  /** an offset commit finished (ok: accepted by the group coordinator) */
  committed(stage: string, seconds: number, ok: boolean): void;
  /** a produce request failed (after the client's own retries) */
  produceFailed(stage: string, topic: string): void;
}

export const openKafkaSources = new Set<KafkaSourceView>();

let observer: KafkaObserver | undefined;
export function observeKafka(o: KafkaObserver | undefined): void { observer = o; }
export function kafkaObserver(): KafkaObserver | undefined { return observer; }
