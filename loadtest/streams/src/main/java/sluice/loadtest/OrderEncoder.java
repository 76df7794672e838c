package sluice.loadtest;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * apps/surveillance/order-sequence.ts in Java, value for value: each participant x symbol's
 * last 32 order events, 16 values per event, oldest first and zero-padded in front. The
 * state lives wherever the caller keeps it (Kafka Streams stores, or plain maps for the
 * parity check); `check` mode compares this encoder's scores with Sluice's on the same file.
 */
final class OrderEncoder {
  static final int L = 32, W = 16;

  /** one key's ring and running figures (what the store holds per participant x symbol) */
  static final class KeyState {
    final float[] ring = new float[L * W];
    int n;
    double lastTs = Double.NaN, meanQty = Double.NaN;

    byte[] toBytes() {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(L * W * 4 + 4 + 16);
      for (float f : ring) b.putFloat(f);
      b.putInt(n).putDouble(lastTs).putDouble(meanQty);
      return b.array();
    }

    static KeyState fromBytes(byte[] bytes) {
      KeyState k = new KeyState();
      if (bytes == null) return k;
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
      for (int i = 0; i < k.ring.length; i++) k.ring[i] = b.getFloat();
      k.n = b.getInt(); k.lastTs = b.getDouble(); k.meanQty = b.getDouble();
      return k;
    }
  }

  /** one symbol's last trade price and last event time */
  static final class SymbolState {
    double lastPrice = Double.NaN, lastTs = Double.NaN;

    byte[] toBytes() { return java.nio.ByteBuffer.allocate(16).putDouble(lastPrice).putDouble(lastTs).array(); }

    static SymbolState fromBytes(byte[] bytes) {
      SymbolState s = new SymbolState();
      if (bytes == null) return s;
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
      s.lastPrice = b.getDouble(); s.lastTs = b.getDouble();
      return s;
    }
  }

  /** resting orders' entry times, per symbol and order id */
  interface Orders {
    Double get(String symbol, String orderId);
    void put(String symbol, String orderId, double ts);
    void delete(String symbol, String orderId);
  }

  static String str(JsonNode o, String f) { JsonNode v = o.get(f); return v == null || v.isNull() ? "" : v.asText(); }
  static double num(JsonNode o, String f) { JsonNode v = o.get(f); return v == null || v.isNull() || !v.isNumber() ? Double.NaN : v.asDouble(); }
  static double clip(double x, double m) { return x > m ? m : x < -m ? -m : x; }

  private final float[] e = new float[W];

  /** encode event `o` into the key's ring and write its window into `out` (L x W floats) */
  void encode(JsonNode o, KeyState k, SymbolState sym, Orders orders, float[] out) {
    String participant = str(o, "participant"), symbol = str(o, "symbol"), type = str(o, "type");
    double ts = num(o, "ts"), qty = num(o, "qty"), price = num(o, "price");
    java.util.Arrays.fill(e, 0f);
    e[0] = type.equals("NEW") ? 1 : 0; e[1] = type.equals("CANCEL") ? 1 : 0; e[2] = type.equals("REPLACE") ? 1 : 0; e[3] = type.equals("EXEC") ? 1 : 0;
    e[4] = str(o, "side").equals("B") ? 1 : -1;
    String ot = str(o, "orderType");
    e[5] = ot.equals("MARKET") || ot.equals("IOC") ? 1 : 0;
    e[6] = ot.equals("MIDPOINT") ? 1 : 0;
    e[7] = num(o, "displayQty") == 0 || str(o, "venue").contains("DARK") ? 1 : 0;
    e[8] = (float) (Math.log1p(Math.max(0, qty)) / 8);
    if (price > 0 && sym.lastPrice > 0) e[9] = (float) clip(((price - sym.lastPrice) / sym.lastPrice) * 1000, 5);
    e[10] = Double.isFinite(k.lastTs) ? (float) (Math.log1p(Math.max(0, ts - k.lastTs)) / 16) : 1;
    String id = str(o, "orderId");
    if (type.equals("NEW")) orders.put(symbol, id, ts);
    else if (type.equals("CANCEL") || type.equals("EXEC")) {
      Double t0 = orders.get(symbol, id);
      if (t0 != null) e[11] = (float) (Math.log1p(Math.max(0, ts - t0)) / 16);
      if (type.equals("CANCEL")) orders.delete(symbol, id);
    }
    String cp = str(o, "counterparty");
    e[12] = !cp.isEmpty() && cp.equals(participant) ? 1 : 0;
    e[13] = !cp.isEmpty() ? 1 : 0;
    e[14] = Double.isFinite(sym.lastTs) ? (float) (Math.log1p(Math.max(0, ts - sym.lastTs)) / 16) : 1;
    if (qty > 0) {
      e[15] = Double.isFinite(k.meanQty) ? (float) clip(Math.log(qty / k.meanQty), 4) : 0;
      k.meanQty = Double.isFinite(k.meanQty) ? k.meanQty + 0.1 * (qty - k.meanQty) : qty;
    }
    if (type.equals("EXEC") && price > 0) sym.lastPrice = price;
    sym.lastTs = ts; k.lastTs = ts;
    // pushAndWrite: append to the ring, then the window oldest first, zero-padded in front
    System.arraycopy(e, 0, k.ring, (k.n % L) * W, W);
    k.n++;
    int have = Math.min(k.n, L);
    java.util.Arrays.fill(out, 0, (L - have) * W, 0f);
    for (int j = 0; j < have; j++) System.arraycopy(k.ring, ((k.n - have + j) % L) * W, out, (L - have + j) * W, W);
  }
}
