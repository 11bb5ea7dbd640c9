package example;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A Turnout client on the Kafka Java client (its default partitioner).
 *
 * <p>Publishes N sales and N authorize → capture → refund life cycles to payments.requests,
 * reads payments.results (read_committed) and prints a summary. Each capture is sent once its
 * authorization's result has arrived (it needs the result's channel and channel_ref), each
 * refund once its capture's result has arrived. Exit 0 only if every sale and every life cycle
 * was approved; 1 if a payment ended otherwise; 2 on timeout.
 *
 * <p>usage: java -jar turnout-client.jar [--bootstrap HOST:PORT] [--prefix P] [--merchant ID]
 * [--count N] [--timeout S] (environment: TURNOUT_BOOTSTRAP, TURNOUT_PREFIX, TURNOUT_MERCHANT,
 * TURNOUT_COUNT)
 */
public final class TurnoutClient {
    static final long AMOUNT = 2500; // EUR 25.00: ends in 00, which the channel simulators approve
    static final ObjectMapper JSON = new ObjectMapper();

    final Map<String, String> sent = new LinkedHashMap<>(); // payment_id -> type
    final Map<String, JsonNode> results = new HashMap<>(); // payment_id -> its final result
    final KafkaProducer<String, String> producer;
    final String requestsTopic;
    final String merchant;
    final long cardBase = ThreadLocalRandom.current().nextLong(100_000_000L); // fresh cards per run

    TurnoutClient(KafkaProducer<String, String> producer, String requestsTopic, String merchant) {
        this.producer = producer;
        this.requestsTopic = requestsTopic;
        this.merchant = merchant;
    }

    public static void main(String[] args) throws Exception {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        Map<String, String> opt = new HashMap<>();
        opt.put("bootstrap", env("TURNOUT_BOOTSTRAP", "127.0.0.1:9092"));
        opt.put("prefix", env("TURNOUT_PREFIX", ""));
        opt.put("merchant", env("TURNOUT_MERCHANT", "m-kit"));
        opt.put("count", env("TURNOUT_COUNT", "10"));
        opt.put("timeout", "120");
        for (int i = 0; i + 1 < args.length; i += 2) opt.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        System.exit(run(opt.get("bootstrap"), opt.get("prefix"), opt.get("merchant"),
                Integer.parseInt(opt.get("count")), Double.parseDouble(opt.get("timeout"))));
    }

    static int run(String bootstrap, String prefix, String merchant, int count, double timeoutS) throws Exception {
        String resultsTopic = prefix + "payments.results";
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (var producer = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer());
             var consumer = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            // 1. Where payments.results ends now, before anything is published: no result is missed.
            List<TopicPartition> parts = new ArrayList<>();
            consumer.partitionsFor(resultsTopic).forEach(p -> parts.add(new TopicPartition(resultsTopic, p.partition())));
            consumer.assign(parts);
            consumer.endOffsets(parts).forEach(consumer::seek);

            // 2. The originals, each keyed by its root id (its own payment_id).
            TurnoutClient c = new TurnoutClient(producer, prefix + "payments.requests", merchant);
            String run = "kit-java-" + System.currentTimeMillis();
            for (int i = 0; i < count; i++) {
                c.original(run + "-s" + i, "sale");
                c.original(run + "-a" + i, "authorize");
            }
            producer.flush();

            // 3. Results, matched by payment_id; a follow-up goes out once its predecessor is approved.
            long t0 = System.nanoTime();
            long deadline = t0 + (long) (timeoutS * 1e9);
            while (c.results.size() < c.sent.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> rec : consumer.poll(Duration.ofMillis(500))) {
                    JsonNode r = JSON.readTree(rec.value());
                    String pid = r.path("payment_id").asText();
                    if (!c.sent.containsKey(pid) || c.results.containsKey(pid)) continue;
                    if (r.path("status").asText().equals("rejected")
                            && r.path("reason").path("code").asText().equals("duplicate_request"))
                        continue; // answers a second copy of the request; the payment's own result comes separately
                    c.results.put(pid, r);
                    if (!r.path("status").asText().equals("approved")) continue;
                    switch (r.path("type").asText()) {
                        case "authorize" -> c.followUp("capture", pid.replace(run + "-a", run + "-c"), r, AMOUNT);
                        case "capture" -> c.followUp("refund", pid.replace(run + "-c", run + "-r"), r, AMOUNT / 2);
                        default -> { }
                    }
                }
            }
            return c.summary(run, count, (System.nanoTime() - t0) / 1e9, timeoutS);
        }
    }

    void original(String pid, String type) {
        String digits = String.format("555555%09d", cardBase + sent.size());
        ObjectNode r = request(pid, type, AMOUNT);
        ((ObjectNode) r.get("merchant")).put("mcc", "5411").put("country", "DE");
        r.putObject("instrument").put("kind", "card").put("pan", luhnComplete(digits)).put("expiry", "3012");
        r.putObject("customer").put("id", "c-" + pid).put("country", "DE");
        publish(r, pid);
    }

    void followUp(String type, String pid, JsonNode of, long amount) {
        ObjectNode r = request(pid, type, amount);
        String root = of.path("root_id").asText();
        r.putObject("original").put("payment_id", root).put("channel", of.path("channel").asText())
                .put("channel_ref", of.path("channel_ref").asText(""));
        publish(r, root);
    }

    ObjectNode request(String pid, String type, long amount) {
        ObjectNode r = JSON.createObjectNode().put("payment_id", pid).put("type", type);
        r.putObject("merchant").put("id", merchant);
        r.putObject("amount").put("value", amount).put("currency", "EUR");
        return r;
    }

    void publish(ObjectNode r, String rootId) {
        r.put("created_at", Instant.now().toString());
        producer.send(new ProducerRecord<>(requestsTopic, rootId, r.toString())); // key = root id
        sent.put(r.get("payment_id").asText(), r.get("type").asText());
    }

    int summary(String run, int count, double elapsed, double timeoutS) {
        Map<String, long[]> byType = new LinkedHashMap<>(); // sent, approved, declined, other
        for (String t : List.of("sale", "authorize", "capture", "refund")) byType.put(t, new long[4]);
        Map<String, Integer> others = new TreeMap<>();
        for (var e : sent.entrySet()) {
            long[] n = byType.get(e.getValue());
            n[0]++;
            JsonNode r = results.get(e.getKey());
            String status = r == null ? "no result" : r.path("status").asText();
            if (status.equals("approved")) n[1]++;
            else if (status.equals("declined")) n[2]++;
            else {
                n[3]++;
                String what = e.getValue() + " " + status + (r == null ? "" : "/" + r.path("reason").path("code").asText());
                others.merge(what, 1, Integer::sum);
            }
        }
        long complete = results.values().stream()
                .filter(r -> r.path("type").asText().equals("refund") && r.path("status").asText().equals("approved"))
                .count();
        System.out.printf("java kit (%s): %d sales, %d authorize -> capture -> refund; %d/%d results in %.1f s%n",
                run, count, count, results.size(), sent.size(), elapsed);
        System.out.printf("  %-10s%6s%10s%10s%7s%n", "type", "sent", "approved", "declined", "other");
        byType.forEach((t, n) -> System.out.printf("  %-10s%6d%10d%10d%7d%n", t, n[0], n[1], n[2], n[3]));
        System.out.printf("  life cycles complete: %d/%d%n", complete, count);
        others.forEach((what, n) -> System.out.printf("  other: %s x%d%n", what, n));
        if (results.size() < sent.size()) {
            System.out.printf("FAILED: timeout after %.0f s, %d results missing%n", timeoutS, sent.size() - results.size());
            return 2;
        }
        boolean ok = byType.get("sale")[1] == count && complete == count;
        System.out.println(ok ? "OK" : "FAILED: not every payment ended as expected");
        return ok ? 0 : 1;
    }

    static String luhnComplete(String digits) {
        int sum = 0;
        for (int i = 0; i < digits.length(); i++) {
            int d = (digits.charAt(digits.length() - 1 - i) - '0') * (i % 2 == 0 ? 2 : 1);
            sum += d > 9 ? d - 9 : d;
        }
        return digits + (10 - sum % 10) % 10;
    }

    static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }
}
