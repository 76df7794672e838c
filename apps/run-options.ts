/** The options a run is prepared from (validated by the CLI) and what preparing one gives back. */
import type { Registry } from 'prom-client';
import type { PartitionStateStore } from '../src/partitioned.js';
import type { StateBounds } from '../src/state.js';
import type { Topology } from '../src/topology.js';
import type { TransportName } from '../src/kafka/config.js';

export interface KafkaRunOptions {
  brokers: string[];
  transport: TransportName;
  inputTopic: string;
  outputTopic: string;
  deadLetterTopic: string;
  groupId: string;
  /** transactional id for exactly-once; absent = at-least-once */
  transactionalId?: string;
  /** surveillance: topic of analyst verdicts; personalization: behaviour on pushes */
  feedbackTopic?: string;
  /** personalization: item catalogue and user profile topics */
  catalogueTopic?: string;
  profilesTopic?: string;
}

export interface RunOptions {
  /** set: read and write Kafka topics instead of files */
  kafka?: KafkaRunOptions;
  input: string[];
  format: 'json' | 'csv' | 'lobster';
  output: string;
  deadLetters: string;
  speed: number | 'max';
  events: number;
  seed: number;
  symbol?: string;
  date?: string;
  /** surveillance: file of analyst verdicts; personalization: behaviour on pushes */
  feedback?: string;
  /** surveillance: hold this share of scored events as the alert budget instead of the tuned floor */
  alertRate?: number;
  /** surveillance: the detector to load from the model registry (default surveillance-detector, newest version) */
  model?: { name: string; version?: string };
  /** surveillance: how long an alert waits for its pattern's evidence, ms of event time (0: no gate; unset: the topology's 10 s) */
  evidenceHoldMs?: number;
  /** personalization: item catalogue and user profiles (JSON lines) */
  catalogue?: string;
  profiles?: string;
  /** personalization: load shedding, events more than this behind processing time are dropped (ms; off when unset) */
  shedAfterMs?: number;
  /** surveillance, personalization: bounds on keyed state (unset fields: the topology's defaults) */
  state?: StateBounds;
  /** timeseries: the unit of epoch timestamps (default: told apart by digit count) */
  epochUnit?: 'auto' | 's' | 'ms' | 'us';
}

export interface PreparedRun {
  topology: Topology;
  describe(): Record<string, string | number>;
  /** runtime settings this run needs (Kafka: checkpoints, partition state store) */
  runtime?: { checkpointIntervalMs?: number; stateStore?: PartitionStateStore };
  /** stopping by signal flushes windows (files: end of input) or keeps state for the next process (Kafka) */
  drainOnStop: boolean;
  /** release what prepare opened (inference worker pools) */
  close?(): Promise<void>;
  /** topology-specific Prometheus metrics (personalization: feedback on pushes) */
  registerMetrics?(registry: Registry): void;
}
