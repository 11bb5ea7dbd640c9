// The StageRunner on librdkafka's mock cluster (in-process, no broker): the fault paths a
// real broker cannot be made to take on demand — a commit answered with a retriable error,
// a record or the offsets refused for good inside a transaction — end with every input record
// in the output exactly once, through a retry or an abort and replay.
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>  // after rdkafka.h

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "kafka/stage_runner.hpp"
#include "kafka/topic_reader.hpp"

using namespace turnout;

namespace {

class MockCluster {
public:
    MockCluster() {
        char err[256];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
        rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        REQUIRE(rk_ != nullptr);
        mc_ = rd_kafka_mock_cluster_new(rk_, 1);
        REQUIRE(mc_ != nullptr);
    }
    ~MockCluster() {
        rd_kafka_mock_cluster_destroy(mc_);
        rd_kafka_destroy(rk_);
    }
    MockCluster(const MockCluster&) = delete;
    MockCluster& operator=(const MockCluster&) = delete;

    KafkaConfig kafka() const {
        KafkaConfig k;
        k.bootstrap_servers = rd_kafka_mock_cluster_bootstraps(mc_);
        k.properties["log_level"] = "2";
        k.commit_every_records = 50;
        k.static_membership = false;
        return k;
    }
    void topic(const char* name, int partitions) {
        REQUIRE(rd_kafka_mock_topic_create(mc_, name, partitions, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    // The next `errors.size()` requests of protocol API `api` fail with these errors.
    void fail_next(int16_t api, std::vector<rd_kafka_resp_err_t> errors) {
        rd_kafka_mock_push_request_errors_array(mc_, api, errors.size(), errors.data());
    }

private:
    rd_kafka_t* rk_ = nullptr;
    rd_kafka_mock_cluster_t* mc_ = nullptr;
};

// Copies every record of "in" to "out" with its key, the value naming the transaction it
// was emitted in; remembers which transactions committed and which aborted (runner thread;
// read after the runner stopped).
class Copy : public kafka::StageLogic {
public:
    void process(std::span<const kafka::Record> batch, kafka::Emitter& out) override {
        for (const auto& r : batch) {
            out.emit({"out", std::string(r.key), "t" + std::to_string(txn), {}});
            emitted[txn].emplace_back(r.key);
        }
    }
    void on_commit() override {
        committed_records += emitted[txn].size();
        committed.insert(txn++);
    }
    void on_abort() override {
        ++aborts;
        ++txn;
    }
    int txn = 0, aborts = 0;
    std::atomic<size_t> committed_records{0};  // read while the runner runs
    std::map<int, std::vector<std::string>> emitted;
    std::set<int> committed;
};

// Protocol API keys (the Kafka protocol's numbers).
constexpr int16_t kProduce = 0, kEndTxn = 26, kTxnOffsetCommit = 28;

}  // namespace

TEST_CASE("stage runner on a mock cluster: faults inside a transaction end with every record out exactly once") {
    struct Case {
        const char* what;
        int16_t api;
        std::vector<rd_kafka_resp_err_t> errors;
        bool aborts;  // the transaction must abort (and its input be replayed)
    };
    const Case cases[] = {
        {"no fault", kProduce, {}, false},
        {"a commit answered with a retriable error is retried", kEndTxn,
         {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS}, false},
        {"a record refused for good aborts the transaction, which is replayed", kProduce,
         {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED}, true},
        {"offsets refused for good abort the transaction, which is replayed", kTxnOffsetCommit,
         {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED}, true},
    };
    constexpr int kRecords = 300;
    for (const auto& c : cases) {
        CAPTURE(std::string(c.what));
        MockCluster mock;
        mock.topic("in", 2);
        mock.topic("out", 2);
        const auto k = mock.kafka();
        {
            kafka::Producer seed(k, {{"enable.idempotence", "true"}});
            for (int i = 0; i < kRecords; ++i)
                REQUIRE(seed.produce({"in", "k-" + std::to_string(i), "v-" + std::to_string(i), {}}));
            seed.flush(10000);
            REQUIRE(seed.queued() == 0);
        }
        if (!c.errors.empty()) mock.fail_next(c.api, c.errors);

        Copy logic;
        auto opts = kafka::stage_options(k, "copy", "0", {"in"});
        opts.output_topics = {"out"};
        std::atomic<bool> stop{false};
        int rc = -1;
        kafka::StageRunner runner(k, opts, logic);
        std::thread t([&] { rc = runner.run(stop); });

        std::map<std::string, std::set<std::string>> seen;  // key → the transactions it came out in
        kafka::TopicReader reader(k, "check");
        reader.assign_from_beginning("out");
        const auto read = [&](std::chrono::milliseconds for_at_most, const std::function<bool()>& done) {
            const auto deadline = std::chrono::steady_clock::now() + for_at_most;
            while (!done() && std::chrono::steady_clock::now() < deadline)
                reader.poll(100, [&](const kafka::Record& r) { seen[std::string(r.key)].emplace(r.value); });
        };
        // Stop once every record went out in a committed transaction (the mock lets readers see
        // aborted ones, so what the reader saw is no sign of that).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (logic.committed_records < kRecords && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        stop = true;
        t.join();
        CHECK(rc == 0);

        // Exactly once: every key in exactly one committed transaction.
        std::map<std::string, int> committed_outputs;
        for (int txn : logic.committed)
            for (const auto& key : logic.emitted[txn]) ++committed_outputs[key];
        CHECK(committed_outputs.size() == kRecords);
        int doubled = 0;
        for (const auto& [key, n] : committed_outputs) doubled += n > 1;
        CHECK(doubled == 0);
        // And each key's committed output reached the topic. (The mock cluster does not hide
        // the records of aborted transactions from read_committed readers, so those may show
        // too; the real broker is tested for that by the integration tests.)
        const auto delivered = [&] {
            size_t n = 0;
            for (const auto& [key, txns] : seen)
                for (int txn : logic.committed) n += txns.count("t" + std::to_string(txn)) > 0;
            return n;
        };
        read(std::chrono::seconds(30), [&] { return delivered() == kRecords; });
        CHECK(delivered() == kRecords);
        if (c.aborts) CHECK(logic.aborts >= 1);
        else CHECK(logic.aborts == 0);
        MESSAGE(std::string(c.what) << ": " << committed_outputs.size() << " of " << kRecords
                                    << " records out in committed transactions, " << doubled << " doubled, "
                                    << logic.committed.size() << " commits, " << logic.aborts << " aborts");
    }
}
