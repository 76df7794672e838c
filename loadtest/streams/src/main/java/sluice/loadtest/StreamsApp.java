package sluice.loadtest;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;

/**
 * What the load test's Kafka Streams contenders share: the settings a JVM team tuned for
 * latency would use, and the lifecycle the harness drives (print "ready" once RUNNING, write a
 * summary and exit 0 on SIGTERM, exit 1 if the application fails).
 */
final class StreamsApp {
  private StreamsApp() {}

  /**
   * One stream thread; Sluice's load-test contenders checkpoint every second, so the same
   * commit interval here; the producer sends at once (Streams' default linger is 100 ms) and
   * the consumer waits at most 20 ms for data (Sluice's maxWaitMs).
   * SLUICE_STREAMS_PROPS="key=value,key=value" overrides for experiments (the report names any used).
   */
  static Properties props(String brokers, String group) throws Exception {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, group);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
    p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 0);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), 20);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    p.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("sluice-streams").toString());
    String extra = System.getenv("SLUICE_STREAMS_PROPS");
    if (extra != null && !extra.isBlank()) for (String kv : extra.split(",")) { String[] a = kv.split("=", 2); p.put(a[0].trim(), a[1].trim()); }
    return p;
  }

  /** runs the topology until SIGTERM, then writes summary.get() to summaryFile and exits 0 */
  static void runUntilStopped(String name, Topology topology, Properties p, String summaryFile, Supplier<String> summary) throws Exception {
    KafkaStreams streams = new KafkaStreams(topology, p);
    CountDownLatch running = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) running.countDown();
      if (now == KafkaStreams.State.ERROR) { System.err.println(name + ": the application failed"); Runtime.getRuntime().halt(1); }
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(20));
      try { Files.writeString(Path.of(summaryFile), summary.get()); } catch (Exception e) { System.err.println(name + ": " + e); Runtime.getRuntime().halt(1); }
      Runtime.getRuntime().halt(0); // SIGTERM would otherwise exit 143; the load test wants 0 for a clean stop
    }));
    streams.start();
    running.await();
    System.out.println("ready");
    System.out.flush();
    Thread.currentThread().join();
  }
}
