package sluice.loadtest;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * What a JVM team would build instead of Sluice for per-event surveillance scoring: a Kafka
 * Streams 4.x application (Processor API, one stream thread), the detector's sequence
 * features per participant x symbol in state stores (in memory, cached, changelogged:
 * Kafka Streams' fault tolerance), and the same ONNX model scored per event by ONNX Runtime
 * for Java on the stream thread, a static threshold, one output per input.
 *
 *   java -cp ... sluice.loadtest.StreamsContender streams-surveillance BROKERS INPUT OUTPUT GROUP SUMMARY_FILE MODEL
 *   java -cp ... sluice.loadtest.StreamsContender check MODEL < events.jsonl   (one score per line, no Kafka)
 *
 * The process prints "ready" once the application is RUNNING; on SIGTERM it closes the
 * application, writes {processed, inEngine: {p50, p99, p999, max, count}} (µs, process() →
 * output forwarded to the producer) to SUMMARY_FILE and exits 0, as loadtest/contender.ts does.
 */
public final class StreamsContender {
  static final ObjectMapper JSON = new ObjectMapper();

  /** the model on this thread: one intra-op thread, as Sluice's workers run it */
  static final class Scorer implements AutoCloseable {
    final OrtEnvironment env = OrtEnvironment.getEnvironment();
    final OrtSession session;
    final long[] shape = {1, OrderEncoder.L, OrderEncoder.W};

    Scorer(String modelPath) throws OrtException {
      OrtSession.SessionOptions so = new OrtSession.SessionOptions();
      so.setIntraOpNumThreads(1);
      so.setInterOpNumThreads(1);
      so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      session = env.createSession(modelPath, so);
    }

    // one direct buffer, reused: from a heap buffer ONNX Runtime for Java copies each input
    // into a fresh direct buffer, whose release waits on the GC
    final FloatBuffer input = java.nio.ByteBuffer.allocateDirect(OrderEncoder.L * OrderEncoder.W * 4).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();

    float score(float[] window) throws OrtException {
      input.clear();
      input.put(window).flip();
      try (OnnxTensor t = OnnxTensor.createTensor(env, input, shape);
           OrtSession.Result r = session.run(Map.of("events", t))) {
        return ((float[]) r.get("score").get().getValue())[0];
      }
    }

    @Override public void close() throws OrtException { session.close(); }
  }

  /** per-record latencies, µs (the process's own measure) */
  static final class Latencies {
    private long[] v = new long[1 << 16];
    private int n;
    synchronized void add(long us) { if (n == v.length) v = Arrays.copyOf(v, n * 2); v[n++] = us; }
    synchronized String json(long processed) {
      long[] s = Arrays.copyOf(v, n);
      Arrays.sort(s);
      if (n == 0) return "{\"processed\":" + processed + ",\"inEngine\":null}";
      java.util.function.DoubleFunction<Long> q = (p) -> s[Math.min(n - 1, (int) Math.floor(p * n))];
      return "{\"processed\":" + processed + ",\"inEngine\":{\"p50\":" + q.apply(0.5) + ",\"p99\":" + q.apply(0.99) + ",\"p999\":" + q.apply(0.999) + ",\"max\":" + s[n - 1] + ",\"count\":" + n + "}}";
    }
  }

  /** the surveillance scoring as a Kafka Streams processor */
  static final class ScoreProcessor implements Processor<String, String, String, String> {
    private final String modelPath;
    private final Latencies latencies;
    private final long[] processed;
    private ProcessorContext<String, String> ctx;
    private KeyValueStore<String, byte[]> rings, symbols;
    private KeyValueStore<String, Double> orders;
    private Scorer scorer;
    private final OrderEncoder encoder = new OrderEncoder();
    private final float[] window = new float[OrderEncoder.L * OrderEncoder.W];

    ScoreProcessor(String modelPath, Latencies latencies, long[] processed) { this.modelPath = modelPath; this.latencies = latencies; this.processed = processed; }

    @Override public void init(ProcessorContext<String, String> context) {
      ctx = context;
      rings = context.getStateStore("rings");
      symbols = context.getStateStore("symbols");
      orders = context.getStateStore("orders");
      try { scorer = new Scorer(modelPath); } catch (OrtException e) { throw new IllegalStateException("cannot open the model " + modelPath, e); }
    }

    @Override public void process(Record<String, String> record) {
      long t0 = System.nanoTime();
      JsonNode o;
      try { o = JSON.readTree(record.value()); } catch (Exception e) { return; } // the load test sends only valid events
      String participant = OrderEncoder.str(o, "participant"), symbol = OrderEncoder.str(o, "symbol");
      String key = participant + "\u0000" + symbol;
      OrderEncoder.KeyState k = OrderEncoder.KeyState.fromBytes(rings.get(key));
      OrderEncoder.SymbolState s = OrderEncoder.SymbolState.fromBytes(symbols.get(symbol));
      encoder.encode(o, k, s, new OrderEncoder.Orders() {
        public Double get(String sym, String id) { return orders.get(sym + "\u0000" + id); }
        public void put(String sym, String id, double ts) { orders.put(sym + "\u0000" + id, ts); }
        public void delete(String sym, String id) { orders.delete(sym + "\u0000" + id); }
      }, window);
      rings.put(key, k.toBytes());
      symbols.put(symbol, s.toBytes());
      float score;
      try { score = scorer.score(window); } catch (OrtException e) { throw new IllegalStateException("inference failed", e); }
      ctx.forward(record.withKey(symbol).withValue("{\"seq\":" + o.path("seq").asLong() + ",\"score\":" + score + ",\"alert\":" + (score > 0.95 ? 1 : 0) + "}"));
      processed[0]++;
      latencies.add(Math.max(1, (System.nanoTime() - t0) / 1000));
    }

    @Override public void close() { try { if (scorer != null) scorer.close(); } catch (OrtException e) { /* closing */ } }
  }

  static void streams(String brokers, String input, String output, String group, String summaryFile, String modelPath) throws Exception {
    Latencies latencies = new Latencies();
    long[] processed = {0};
    StreamsBuilder b = new StreamsBuilder();
    // in-memory stores with Kafka Streams' record cache and changelog: writes reach the
    // changelog once per key per commit, as Sluice's checkpoints do once per interval
    b.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("rings"), Serdes.String(), Serdes.ByteArray()).withCachingEnabled());
    b.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("symbols"), Serdes.String(), Serdes.ByteArray()).withCachingEnabled());
    b.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("orders"), Serdes.String(), Serdes.Double()).withCachingEnabled());
    // the input is keyed by symbol, so each participant x symbol's events stay in one task: no repartition
    b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
      .process(() -> new ScoreProcessor(modelPath, latencies, processed), "rings", "symbols", "orders")
      .to(output, Produced.with(Serdes.String(), Serdes.String()));
    StreamsApp.runUntilStopped("streams-contender", b.build(), StreamsApp.props(brokers, group), summaryFile, () -> latencies.json(processed[0]));
  }

  /** the parity check: score a JSONL file with plain maps for state, one score per line */
  static void check(String modelPath) throws Exception {
    OrderEncoder encoder = new OrderEncoder();
    Map<String, OrderEncoder.KeyState> keys = new HashMap<>();
    Map<String, OrderEncoder.SymbolState> syms = new HashMap<>();
    Map<String, LinkedHashMap<String, Double>> books = new HashMap<>();
    float[] window = new float[OrderEncoder.L * OrderEncoder.W];
    StringBuilder out = new StringBuilder();
    try (Scorer scorer = new Scorer(modelPath); BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null;) {
        if (line.isBlank()) continue;
        JsonNode o = JSON.readTree(line);
        String participant = OrderEncoder.str(o, "participant"), symbol = OrderEncoder.str(o, "symbol");
        OrderEncoder.KeyState k = keys.computeIfAbsent(participant + "\u0000" + symbol, (x) -> new OrderEncoder.KeyState());
        OrderEncoder.SymbolState s = syms.computeIfAbsent(symbol, (x) -> new OrderEncoder.SymbolState());
        encoder.encode(o, k, s, new OrderEncoder.Orders() {
          public Double get(String sym, String id) { LinkedHashMap<String, Double> m = books.get(sym); return m == null ? null : m.get(id); }
          public void put(String sym, String id, double ts) {
            // Map.set in JavaScript keeps an existing key's place: so does put here; the oldest of 50,000 goes
            LinkedHashMap<String, Double> m = books.computeIfAbsent(sym, (x) -> new LinkedHashMap<>());
            m.put(id, ts);
            if (m.size() > 50_000) m.remove(m.keySet().iterator().next());
          }
          public void delete(String sym, String id) { LinkedHashMap<String, Double> m = books.get(sym); if (m != null) m.remove(id); }
        }, window);
        out.append(scorer.score(window)).append('\n');
      }
    }
    System.out.print(out);
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("check")) { check(args[1]); return; }
    if (args.length == 7 && args[0].equals("streams-surveillance")) { streams(args[1], args[2], args[3], args[4], args[5], args[6]); return; }
    System.err.println("usage: StreamsContender streams-surveillance BROKERS INPUT OUTPUT GROUP SUMMARY_FILE MODEL | check MODEL < events.jsonl");
    System.exit(2);
  }
}
