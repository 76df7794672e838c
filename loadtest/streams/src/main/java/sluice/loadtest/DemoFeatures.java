package sluice.loadtest;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The demo job's per-symbol stages in Java, for the windowed Kafka Streams contender: robust
 * normalization of qty (operators/normalize.ts, method 'robust', warm-up 10) and the order-flow
 * features (operators/featurize.ts, horizon 10 s, depth 5), line for line, so the windows
 * downstream aggregate the same numbers Sluice's do (loadtest/streams-parity.ts checks it).
 *
 * State lives on the heap of the stream thread, per symbol, as Sluice keeps it between
 * checkpoints. A Kafka Streams application would put it in changelogged stores to survive a
 * restart; not doing so here spares the JVM contender that cost, so the comparison leans its
 * way.
 */
final class DemoFeatures {
  static final long HORIZON_US = 10_000_000L;
  static final int DEPTH = 5;
  static final int WARMUP = 10;
  static final int ROBUST_INIT = 9;
  static final double ROBUST_RATE = 0.02;

  /** what the demo's windows read from one featurized event (the 14 aggregates' inputs) */
  static final int F_TS = 0, F_TYPE = 1, F_QTY = 2, F_QTY_NORM = 3, F_OTR = 4, F_CANCEL_RATIO = 5, F_CANCEL_LAT = 6,
      F_IMBALANCE = 7, F_OFI = 8, F_SPREAD = 9, F_VWAP_DEV = 10, F_SELF = 11, WIDTH = 12;
  /** F_TYPE codes */
  static final double T_NEW = 0, T_CANCEL = 1, T_EXEC = 2, T_OTHER = 3;

  /** normalize 'robust': [n, median, mad, mean |x - median|] and the first values */
  static final class Robust {
    final double[] s = new double[4];
    final ArrayList<Double> first = new ArrayList<>();

    double step(double x) {
      if (!Double.isFinite(x)) return Double.NaN;
      double n = s[0]++;
      double spread = s[2] > 0 ? 1.4826 * s[2] : 1.2533 * s[3];
      double z = spread > 0 ? (x - s[1]) / spread : 0;
      if (n < ROBUST_INIT) {
        first.add(x);
        double[] buf = first.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        s[1] = median(buf);
        double[] devs = new double[buf.length];
        double sum = 0;
        for (int i = 0; i < buf.length; i++) { devs[i] = Math.abs(buf[i] - s[1]); sum += devs[i]; }
        s[3] = sum / devs.length;
        java.util.Arrays.sort(devs);
        s[2] = median(devs);
        if (n + 1 == ROBUST_INIT) first.clear();
        return n < WARMUP ? 0 : z;
      }
      double step = ROBUST_RATE * (s[2] > 0 ? s[2] : Math.max(Math.max(s[3], 1e-9 * Math.abs(s[1])), 1e-12));
      double dev = Math.abs(x - s[1]);
      s[1] += step * Math.signum(x - s[1]);
      s[2] += step * Math.signum(dev - s[2]);
      if (s[2] < 0) s[2] = 0;
      s[3] += (dev - s[3]) * ROBUST_RATE;
      return n < WARMUP ? 0 : z;
    }

    static double median(double[] sorted) {
      int m = sorted.length >> 1;
      return sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }
  }

  static final class Participant {
    /** rows {ts, kind, cancel latency or NaN, self-trade 0/1, inter-arrival or NaN} */
    final ArrayDeque<double[]> ev = new ArrayDeque<>();
    int nNew, nCancel, nExec;
    double nSelf, clSum, iaSum, iaSq;
    int clN, iaN;
    double lastTs = Double.NaN;
    /** price level -> the participant's resting orders there */
    final HashMap<Double, Integer> levels = new HashMap<>();
  }

  static final class Resting {
    Participant p; String side; double price, qty, ts; boolean visible;
  }

  static final class Symbol {
    final HashMap<String, Resting> orders = new HashMap<>();
    /** price -> visible quantity; bids best (highest) first, asks best (lowest) first */
    final TreeMap<Double, Double> bids = new TreeMap<>(Comparator.reverseOrder()), asks = new TreeMap<>();
    final ArrayDeque<double[]> ofi = new ArrayDeque<>(), vwap = new ArrayDeque<>();
    double ofiSum, pq, q;
    final HashMap<String, Participant> parts = new HashMap<>();
    final Robust qtyNorm = new Robust();
  }

  private final Map<String, Symbol> symbols = new HashMap<>();
  private final double[] before = new double[4], after = new double[4]; // bid, bidQ, ask, askQ

  static double num(JsonNode o, String f) { JsonNode v = o.get(f); return v == null || !v.isNumber() ? Double.NaN : v.asDouble(); }
  static String str(JsonNode o, String f) { JsonNode v = o.get(f); return v == null || v.isNull() ? "" : v.asText(); }

  /** one order event (the contract's JSON) -> its window inputs, updating the symbol's state */
  double[] apply(JsonNode o) {
    double ts = num(o, "ts"), price = num(o, "price"), qty = num(o, "qty");
    String symbol = str(o, "symbol"), participant = str(o, "participant"), id = str(o, "orderId"), type = str(o, "type"), side = str(o, "side");
    Symbol s = symbols.computeIfAbsent(symbol, (k) -> new Symbol());
    double[] row = new double[WIDTH];
    row[F_TS] = ts;
    row[F_QTY] = qty;
    row[F_QTY_NORM] = s.qtyNorm.step(qty);
    Participant p = s.parts.computeIfAbsent(participant, (k) -> new Participant());
    best(s, before);
    double cancelLat = Double.NaN, self = 0;
    if (type.equals("NEW") && Double.isFinite(price)) {
      Resting r = new Resting();
      r.p = p; r.side = side; r.price = price; r.qty = qty; r.ts = ts; r.visible = num(o, "displayQty") != 0;
      Resting prev = s.orders.get(id);
      if (prev != null) { if (prev.visible) level(s, prev.side, prev.price, -prev.qty); restingLevel(prev.p, prev.price, -1); s.orders.remove(id); }
      s.orders.put(id, r);
      if (r.visible) level(s, side, price, qty);
      restingLevel(p, price, 1);
    } else if (type.equals("CANCEL") || type.equals("EXEC") || type.equals("REPLACE")) {
      Resting r = s.orders.get(id);
      if (type.equals("EXEC")) {
        double px = Double.isFinite(price) ? price : r != null ? r.price : Double.NaN;
        if (Double.isFinite(px) && qty > 0) { s.vwap.addLast(new double[] {ts, px * qty, qty}); s.pq += px * qty; s.q += qty; }
        String cp = str(o, "counterparty");
        if (!cp.isEmpty() && cp.equals(participant)) self = 1;
      }
      if (r != null) {
        if (type.equals("REPLACE")) {
          if (r.visible) level(s, r.side, r.price, -r.qty);
          restingLevel(r.p, r.price, -1);
          if (Double.isFinite(price)) r.price = price;
          r.qty = qty; r.ts = ts;
          if (r.visible) level(s, r.side, r.price, r.qty);
          restingLevel(r.p, r.price, 1);
        } else {
          if (type.equals("CANCEL")) cancelLat = ts - r.ts;
          double q = Math.min(qty, r.qty);
          if (r.visible) level(s, r.side, r.price, -q);
          r.qty -= q;
          if (r.qty <= 0) { s.orders.remove(id); restingLevel(r.p, r.price, -1); }
        }
      }
    }
    best(s, after);
    double e = ofiContribution(before, after);
    if (e != 0) { s.ofi.addLast(new double[] {ts, e}); s.ofiSum += e; }
    double from = ts - HORIZON_US;
    while (!s.ofi.isEmpty() && s.ofi.peekFirst()[0] < from) s.ofiSum -= s.ofi.pollFirst()[1];
    while (!s.vwap.isEmpty() && s.vwap.peekFirst()[0] < from) { double[] v = s.vwap.pollFirst(); s.pq -= v[1]; s.q -= v[2]; }
    while (!p.ev.isEmpty() && p.ev.peekFirst()[0] < from) {
      double[] v = p.ev.pollFirst();
      if (v[1] == 0) p.nNew--; else if (v[1] == 1) p.nCancel--; else if (v[1] == 2) p.nExec--;
      if (!Double.isNaN(v[2])) { p.clSum -= v[2]; p.clN--; }
      p.nSelf -= v[3];
      if (!Double.isNaN(v[4])) { p.iaSum -= v[4]; p.iaSq -= v[4] * v[4]; p.iaN--; }
    }
    int kind = switch (type) { case "NEW", "REPLACE" -> 0; case "CANCEL" -> 1; case "EXEC" -> 2; default -> 3; };
    double ia = Double.isNaN(p.lastTs) ? Double.NaN : Math.max(0, ts - p.lastTs);
    p.lastTs = Math.max(ts, Double.isNaN(p.lastTs) ? ts : p.lastTs);
    p.ev.addLast(new double[] {ts, kind, cancelLat, self, ia});
    if (kind == 0) p.nNew++; else if (kind == 1) p.nCancel++; else if (kind == 2) p.nExec++;
    if (!Double.isNaN(cancelLat)) { p.clSum += cancelLat; p.clN++; }
    p.nSelf += self;
    if (!Double.isNaN(ia)) { p.iaSum += ia; p.iaSq += ia * ia; p.iaN++; }

    double mid = (after[0] + after[2]) / 2;
    row[F_TYPE] = type.equals("NEW") ? T_NEW : type.equals("CANCEL") ? T_CANCEL : type.equals("EXEC") ? T_EXEC : T_OTHER;
    row[F_OTR] = (double) p.nNew / Math.max(1, p.nExec);
    row[F_CANCEL_RATIO] = (double) p.nCancel / Math.max(1, p.nNew);
    row[F_CANCEL_LAT] = p.clN > 0 ? p.clSum / p.clN : Double.NaN;
    row[F_SELF] = p.nSelf;
    double bq = 0, aq = 0;
    int j = 0;
    for (double v : s.bids.values()) { if (j++ >= DEPTH) break; bq += v; }
    j = 0;
    for (double v : s.asks.values()) { if (j++ >= DEPTH) break; aq += v; }
    row[F_IMBALANCE] = bq + aq > 0 ? (bq - aq) / (bq + aq) : Double.NaN;
    row[F_OFI] = s.ofiSum;
    row[F_SPREAD] = mid > 0 ? ((after[2] - after[0]) / mid) * 1e4 : Double.NaN;
    double vw = s.q > 0 ? s.pq / s.q : Double.NaN;
    double px = Double.isFinite(price) && !type.equals("HALT") ? price : mid;
    row[F_VWAP_DEV] = vw > 0 ? ((px - vw) / vw) * 1e4 : Double.NaN;
    // featurize's remaining columns (inter-arrival CV, resting levels and span, mid) feed no
    // window of the demo; Sluice computes them, and so does this, to do the same work
    restingSpan(p, mid);
    return row;
  }

  /** the span of the participant's resting prices (featurize's restingSpanBps) */
  private static double restingSpan(Participant p, double mid) {
    if (p.levels.isEmpty() || !(mid > 0)) return p.levels.isEmpty() ? Double.NaN : 0;
    double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
    for (double px : p.levels.keySet()) { if (px < lo) lo = px; if (px > hi) hi = px; }
    return ((hi - lo) / mid) * 1e4;
  }

  private static void level(Symbol s, String side, double price, double dq) {
    TreeMap<Double, Double> book = side.equals("B") ? s.bids : s.asks;
    Double had = book.get(price);
    double q = (had == null ? 0 : had) + dq;
    if (q > 0) book.put(price, q);
    else if (had != null) book.remove(price);
  }

  private static void restingLevel(Participant p, double price, int d) {
    int n = p.levels.getOrDefault(price, 0) + d;
    if (n > 0) p.levels.put(price, n); else p.levels.remove(price);
  }

  private static void best(Symbol s, double[] out) {
    Map.Entry<Double, Double> b = s.bids.firstEntry(), a = s.asks.firstEntry();
    out[0] = b == null ? Double.NaN : b.getKey(); out[1] = b == null ? 0 : b.getValue();
    out[2] = a == null ? Double.NaN : a.getKey(); out[3] = a == null ? 0 : a.getValue();
  }

  /** e_n of Cont, Kukanov & Stoikov: the change in queue sizes at the best quotes */
  private static double ofiContribution(double[] b, double[] a) {
    if (Double.isNaN(b[0]) || Double.isNaN(a[0]) || Double.isNaN(b[2]) || Double.isNaN(a[2])) return 0;
    double e = 0;
    if (a[0] >= b[0]) e += a[1];
    if (a[0] <= b[0]) e -= b[1];
    if (a[2] <= b[2]) e -= a[3];
    if (a[2] >= b[2]) e += b[3];
    return e;
  }
}
