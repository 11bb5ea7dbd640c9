#include "bench/pipe_bench.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "kafka/client.hpp"
#include "kafka/topic_reader.hpp"
#include "kafka/stage_runner.hpp"
#include "model/time.hpp"

namespace turnout {
namespace {

class CopyLogic : public kafka::StageLogic {
public:
    explicit CopyLogic(std::string to) : to_(std::move(to)) {}
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override {
        for (const auto& r : batch) out.emit({to_, std::string(r.key), std::string(r.value), {}});
    }

private:
    std::string to_;
};

}  // namespace

PipeBenchResult run_pipe_bench(const Config& base, const PipeBenchOptions& o) {
    Config cfg = base;
    const std::string run = "bench" + std::to_string(now_ms()) + (o.transactional ? "tx" : "plain");
    auto topic = [&](int i) { return cfg.kafka.name_prefix + "pipe." + run + ".h" + std::to_string(i); };
    std::vector<kafka::TopicSpec> specs;
    for (int i = 0; i <= o.hops; ++i) specs.push_back({topic(i), {}});
    kafka::create_topics(cfg.kafka, specs);

    std::atomic<bool> stop{false};
    std::vector<std::unique_ptr<CopyLogic>> logics;
    std::vector<std::unique_ptr<kafka::StageRunner>> runners;
    for (int i = 0; i < o.hops; ++i) {
        auto so = kafka::stage_options(cfg.kafka, "pipe." + run + ".h" + std::to_string(i), "0", {topic(i)});
        so.transactional = o.transactional;
        logics.push_back(std::make_unique<CopyLogic>(topic(i + 1)));
        runners.push_back(std::make_unique<kafka::StageRunner>(cfg.kafka, so, *logics.back()));
    }
    std::vector<std::thread> threads;
    for (auto& r : runners) threads.emplace_back([&, raw = r.get()] { raw->run(stop); });

    // The sink reads the last hop from the start; the clock starts at the first produce.
    kafka::TopicReader sink(cfg.kafka, "turnout.pipe.sink." + run, {{"fetch.wait.max.ms", "10"}});
    sink.assign(sink.end_positions({topic(o.hops)}));
    std::this_thread::sleep_for(std::chrono::seconds(3));  // let the workers join their groups

    kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"},
                                         {"linger.ms", "5"},
                                         {"queue.buffering.max.messages", "1000000"}});
    const std::string value(o.record_bytes, 'x');
    PipeBenchResult res;
    const auto t0 = std::chrono::steady_clock::now();
    const auto deadline = t0 + std::chrono::seconds(o.timeout_s);
    int64_t sent = 0;
    while (res.delivered < o.count && std::chrono::steady_clock::now() < deadline) {
        for (int i = 0; i < 2000 && sent < o.count; ++i, ++sent)
            producer.produce({topic(0), "k" + std::to_string(sent), value, {}});
        producer.poll();
        res.delivered += static_cast<int64_t>(sink.poll_batch(sent < o.count ? 0 : 50, 1000, [](const kafka::Record&) {}));
    }
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    res.records_per_s = res.seconds > 0 ? static_cast<double>(res.delivered) / res.seconds : 0;
    stop = true;
    for (auto& t : threads) t.join();
    return res;
}

}  // namespace turnout
