/**
 * The evidence rule (issue #18's floors): alert a participant × symbol whenever one of the
 * seven patterns' evidence (apps/surveillance/evidence.ts) appears in its flow, without any
 * model: at the first event where it holds, then again after a 5 s cooldown per pattern, as
 * the alerts stage folds. Beside the detector it says what the evidence gate alone is worth,
 * so that the model's own part can be seen.
 */
import type { Batch } from '../src/batch.js';
import type { OrderEvent } from '../apps/demo/orderflow.js';
import { EvidencePatterns, KeyedEvidence, type EvidenceInput } from '../apps/surveillance/evidence.js';
import type { Alert } from './eval-surveillance.js';

/** order events as the columns KeyedEvidence reads */
export function evidenceColumns(events: OrderEvent[]): Batch<EvidenceInput> {
  const col = <T>(f: (e: OrderEvent) => T) => events.map(f);
  return { length: events.length, columns: {
    ts: col((e) => e.ts), symbol: col((e) => e.symbol), participant: col((e) => e.participant), side: col((e) => e.side), type: col((e) => e.type), orderType: col((e) => e.orderType ?? 'LIMIT'),
    orderId: col((e) => e.orderId), price: col((e) => e.price ?? NaN), qty: col((e) => e.qty), displayQty: col((e) => e.displayQty ?? e.qty), counterparty: col((e) => e.counterparty ?? ''), execId: col((e) => e.execId ?? ''),
  } } as unknown as Batch<EvidenceInput>;
}

export function evidenceRule(events: OrderEvent[], cooldownUs = 5e6): Alert[] {
  const b = evidenceColumns(events), ev = new KeyedEvidence(), last = new Map<string, number>(), out: Alert[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i], k = `${e.participant}|${e.symbol}`;
    ev.push(k, b, i);
    const got = ev.evidence(k);
    for (const p of EvidencePatterns) {
      if (!got[p]) continue;
      const lk = `${k}|${p}`, at = last.get(lk);
      if (at !== undefined && e.ts - at < cooldownUs) continue;
      last.set(lk, e.ts);
      out.push({ ts: e.ts, participant: e.participant, symbol: e.symbol, pattern: p });
    }
  }
  return out;
}
