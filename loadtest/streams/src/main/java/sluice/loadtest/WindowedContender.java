package sluice.loadtest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.Stores;

/**
 * What a JVM team would build instead of Sluice's demo job (apps/demo/topology.ts): a Kafka
 * Streams 4.x application that normalizes and featurizes order events per symbol, re-keys
 * them by participant x symbol and aggregates sliding (hopping) windows of 10 s every 1 s
 * with the demo's 14 aggregates, emitting each window once when event time passes its end
 * plus 5 ms (Sluice's allowed out-of-orderness), as Sluice's watermarks do.
 *
 * The idiomatic DSL: a processor for the per-symbol features (state on the heap, see
 * DemoFeatures), groupByKey after the re-key (which Kafka Streams implements as a repartition
 * topic through the broker: it cannot know that participant x symbol refines the symbol key
 * the input is partitioned by; Sluice keys within the partition and has no such hop), a
 * windowed aggregate in an in-memory, changelogged window store with caching off (with the
 * cache on, updates reach suppress only at commit, up to 1 s late; RocksDB, the default
 * store, is slower still), and suppress(untilWindowCloses).
 *
 *   java -cp ... sluice.loadtest.WindowedContender streams-windowed BROKERS INPUT OUTPUT GROUP SUMMARY_FILE
 *   java -cp ... sluice.loadtest.WindowedContender check < events.jsonl   (window rows as JSON lines, no Kafka)
 *
 * Window rows: {"key","windowStart","windowEnd" (µs),"count", the 14 aggregates (null: none)},
 * as the Sluice contender writes them.
 */
public final class WindowedContender {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration SIZE = Duration.ofSeconds(10), SLIDE = Duration.ofSeconds(1);
  /**
   * How long after a window's end records may still arrive: 5 ms is Sluice's allowed
   * out-of-orderness, but after the repartition one task's stream time runs ahead with the
   * fastest upstream partition and records from the others arrive later than that, and are
   * dropped (Kafka Streams counts them in dropped-records-total; the load test sees windows
   * with too few events). SLUICE_STREAMS_GRACE_MS sets a larger grace: complete windows, a
   * longer wait for every result.
   */
  static final Duration GRACE = Duration.ofMillis(Long.parseLong(System.getenv().getOrDefault("SLUICE_STREAMS_GRACE_MS", "5")));

  /** the demo's aggregates (DemoAggregates in apps/demo/topology.ts), as slots of one double[] */
  static final class Acc {
    static final String[] NAMES = {"events", "newOrders", "cancels", "executions", "qtySum", "qtyNormMax", "otrMean", "cancelRatioMax",
        "cancelLatencyMean", "imbalanceMean", "ofiLast", "spreadBpsMean", "vwapDevBpsMax", "selfTradesMax"};
    static final int WIDTH = 20;

    static double[] init() {
      double[] a = new double[WIDTH];
      a[6] = a[9] = a[18] = a[19] = Double.NEGATIVE_INFINITY;
      a[14] = Double.NEGATIVE_INFINITY; a[15] = Double.NaN;
      return a;
    }

    static void max(double[] a, int o, double x) { if (Double.isFinite(x) && x > a[o]) a[o] = x; }
    static void mean(double[] a, int o, double x) { if (Double.isFinite(x)) { a[o]++; a[o + 1] += x; } }

    static double[] add(double[] a, double[] r) {
      a[0]++;
      a[1]++;
      if (r[DemoFeatures.F_TYPE] == DemoFeatures.T_NEW) a[2]++;
      if (r[DemoFeatures.F_TYPE] == DemoFeatures.T_CANCEL) a[3]++;
      if (r[DemoFeatures.F_TYPE] == DemoFeatures.T_EXEC) a[4]++;
      if (Double.isFinite(r[DemoFeatures.F_QTY])) a[5] += r[DemoFeatures.F_QTY];
      max(a, 6, r[DemoFeatures.F_QTY_NORM]);
      mean(a, 7, r[DemoFeatures.F_OTR]);
      max(a, 9, r[DemoFeatures.F_CANCEL_RATIO]);
      mean(a, 10, r[DemoFeatures.F_CANCEL_LAT]);
      mean(a, 12, r[DemoFeatures.F_IMBALANCE]);
      double ofi = r[DemoFeatures.F_OFI], ts = r[DemoFeatures.F_TS];
      if (Double.isFinite(ofi) && ts >= a[14]) { a[14] = ts; a[15] = ofi; }
      mean(a, 16, r[DemoFeatures.F_SPREAD]);
      max(a, 18, r[DemoFeatures.F_VWAP_DEV]);
      max(a, 19, r[DemoFeatures.F_SELF]);
      return a;
    }

    static double[] results(double[] a) {
      java.util.function.IntFunction<Double> mx = (o) -> Double.isFinite(a[o]) ? a[o] : Double.NaN;
      java.util.function.IntFunction<Double> mn = (o) -> a[o] > 0 ? a[o + 1] / a[o] : Double.NaN;
      return new double[] {a[1], a[2], a[3], a[4], a[5], mx.apply(6), mn.apply(7), mx.apply(9), mn.apply(10), mn.apply(12), a[15], mn.apply(16), mx.apply(18), mx.apply(19)};
    }

    static String json(String key, long startUs, long endUs, double[] a) {
      StringBuilder s = new StringBuilder(400).append("{\"key\":");
      s.append(JSON.valueToTree(key).toString()).append(",\"windowStart\":").append(startUs).append(",\"windowEnd\":").append(endUs).append(",\"count\":").append((long) a[0]);
      double[] r = results(a);
      for (int j = 0; j < NAMES.length; j++) s.append(",\"").append(NAMES[j]).append("\":").append(Double.isFinite(r[j]) ? Double.toString(r[j]) : "null");
      return s.append('}').toString();
    }
  }

  /** double[] <-> bytes, for the repartition topic (feature rows) and the window store (accumulators) */
  static final class DoublesSerde implements Serde<double[]>, Serializer<double[]>, Deserializer<double[]> {
    @Override public byte[] serialize(String topic, double[] v) {
      if (v == null) return null;
      ByteBuffer b = ByteBuffer.allocate(v.length * 8);
      for (double x : v) b.putDouble(x);
      return b.array();
    }
    @Override public double[] deserialize(String topic, byte[] bytes) {
      if (bytes == null) return null;
      ByteBuffer b = ByteBuffer.wrap(bytes);
      double[] v = new double[bytes.length / 8];
      for (int i = 0; i < v.length; i++) v[i] = b.getDouble();
      return v;
    }
    @Override public Serializer<double[]> serializer() { return this; }
    @Override public Deserializer<double[]> deserializer() { return this; }
    @Override public void configure(java.util.Map<String, ?> configs, boolean isKey) { }
    @Override public void close() { }
  }

  /** event time from the contract's "ts" (µs) -> Kafka Streams' ms, without a second JSON parse */
  static final class TsExtractor implements TimestampExtractor {
    @Override public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      String v = String.valueOf(record.value());
      int at = v.indexOf("\"ts\":");
      if (at < 0) return -1; // Kafka Streams skips records with a negative timestamp (and counts them)
      int i = at + 5, end = i;
      while (end < v.length() && (Character.isDigit(v.charAt(end)) || v.charAt(end) == '.' || v.charAt(end) == '-')) end++;
      try { return (long) Math.floor(Double.parseDouble(v.substring(i, end)) / 1000); } catch (NumberFormatException e) { return -1; }
    }
  }

  /** per-symbol normalize + featurize; re-keys each event by participant|symbol */
  static final class FeatureProcessor implements Processor<String, String, String, double[]> {
    private final DemoFeatures features = new DemoFeatures(); // one per task: each task owns its input partition's symbols
    private ProcessorContext<String, double[]> ctx;
    @Override public void init(ProcessorContext<String, double[]> context) { ctx = context; }
    @Override public void process(Record<String, String> record) {
      JsonNode o;
      try { o = JSON.readTree(record.value()); } catch (Exception e) { return; } // the load test sends only valid events
      double[] row = features.apply(o);
      ctx.forward(record.withKey(DemoFeatures.str(o, "participant") + "|" + DemoFeatures.str(o, "symbol")).withValue(row));
    }
  }

  /**
   * SLUICE_STREAMS_CACHE=1 turns the window store's record cache on: updates of one window
   * within a commit interval reach the changelog and suppress once (fewer records through the
   * broker), at up to a commit interval (1 s) more lag per result.
   */
  static final boolean CACHE = "1".equals(System.getenv("SLUICE_STREAMS_CACHE"));
  static <M extends Materialized<String, double[], ?>> M cached(M m) { return CACHE ? m : (M) m.withCachingDisabled(); }

  static Topology topology(String input, String output, AtomicLong windows) {
    DoublesSerde doubles = new DoublesSerde();
    StreamsBuilder b = new StreamsBuilder();
    b.stream(input, Consumed.with(Serdes.String(), Serdes.String()).withTimestampExtractor(new TsExtractor()))
      .process(FeatureProcessor::new, Named.as("featurize"))
      .groupByKey(Grouped.with("by-participant-symbol", Serdes.String(), doubles))
      .windowedBy(TimeWindows.ofSizeAndGrace(SIZE, GRACE).advanceBy(SLIDE))
      .aggregate(Acc::init, (k, row, acc) -> Acc.add(acc, row),
        cached(Materialized.<String, double[]>as(Stores.inMemoryWindowStore("windows", SIZE.plus(GRACE), SIZE, false)).withKeySerde(Serdes.String()).withValueSerde(doubles)))
      .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
      .toStream()
      .map((wk, acc) -> { windows.incrementAndGet(); return KeyValue.pair(wk.key(), Acc.json(wk.key(), wk.window().start() * 1000, wk.window().end() * 1000, acc)); })
      .to(output, Produced.with(Serdes.String(), Serdes.String()));
    return b.build();
  }

  static void streams(String brokers, String input, String output, String group, String summaryFile) throws Exception {
    AtomicLong windows = new AtomicLong();
    // the window rows' lag is measured by the load generator; nothing inside is comparable
    StreamsApp.runUntilStopped("streams-windowed", topology(input, output, windows), StreamsApp.props(brokers, group), summaryFile,
      () -> "{\"processed\":" + windows.get() + ",\"inEngine\":null}");
  }

  /**
   * The parity check: the same topology in Kafka Streams' TopologyTestDriver (no broker),
   * events from stdin in order, then one event of a symbol of its own a day later so that
   * event time passes every window's end; window rows out, one JSON line each.
   */
  static void check() throws Exception {
    List<String> lines = new ArrayList<>();
    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null;) if (!line.isBlank()) lines.add(line);
    }
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, "windows-check");
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    p.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("sluice-streams-check").toString());
    StringBuilder out = new StringBuilder();
    try (TopologyTestDriver driver = new TopologyTestDriver(topology("in", "out", new AtomicLong()), p)) {
      TestInputTopic<String, String> in = driver.createInputTopic("in", Serdes.String().serializer(), Serdes.String().serializer(), Instant.EPOCH, Duration.ZERO);
      TestOutputTopic<String, String> o = driver.createOutputTopic("out", Serdes.String().deserializer(), Serdes.String().deserializer());
      double lastTs = 0;
      for (String line : lines) {
        JsonNode e = JSON.readTree(line);
        lastTs = Math.max(lastTs, DemoFeatures.num(e, "ts"));
        in.pipeInput(DemoFeatures.str(e, "symbol"), line);
      }
      long end = (long) lastTs + 86_400_000_000L;
      in.pipeInput("~END", "{\"ts\":" + end + ",\"symbol\":\"~END\",\"participant\":\"~END\",\"orderId\":\"~END\",\"side\":\"B\",\"type\":\"NEW\",\"price\":1,\"qty\":1}");
      for (String v : o.readValuesToList()) out.append(v).append('\n');
    }
    System.out.print(out);
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 1 && args[0].equals("check")) { check(); return; }
    if (args.length == 6 && args[0].equals("streams-windowed")) { streams(args[1], args[2], args[3], args[4], args[5]); return; }
    System.err.println("usage: WindowedContender streams-windowed BROKERS INPUT OUTPUT GROUP SUMMARY_FILE | check < events.jsonl");
    System.exit(2);
  }
}
