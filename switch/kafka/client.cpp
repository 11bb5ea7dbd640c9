#include "kafka/client.hpp"

#include "config/topic_catalogue.hpp"

#include <boost/json.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace turnout::kafka {
namespace {

ConfPtr make_conf(const KafkaConfig& cfg, const Properties& overrides) {
    ConfPtr conf(rd_kafka_conf_new());
    char err[512];
    auto set = [&](const std::string& k, const std::string& v) {
        if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
            throw std::runtime_error("kafka property `" + k + "`: " + err);
    };
    set("bootstrap.servers", cfg.bootstrap_servers);
    for (const auto& [k, v] : cfg.properties) set(k, v);
    for (const auto& [k, v] : overrides) set(k, v);
    rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
        if (level <= 3)
            spdlog::error("kafka {} {}: {}", rd_kafka_name(rk), fac, buf);
        else if (level <= 4)
            spdlog::warn("kafka {} {}: {}", rd_kafka_name(rk), fac, buf);
    });
    return conf;
}

HandlePtr make_client(rd_kafka_type_t type, ConfPtr conf) {
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
    if (!rk) throw std::runtime_error(std::string("cannot create kafka client: ") + err);
    conf.release();  // owned by rk now
    return HandlePtr(rk);
}

}  // namespace

HandlePtr make_producer(const KafkaConfig& cfg, const Properties& overrides) {
    Properties p{{"partitioner", "murmur2_random"}};
    for (const auto& [k, v] : cfg.properties) p[k] = v;
    for (const auto& [k, v] : overrides) p[k] = v;
    return make_client(RD_KAFKA_PRODUCER, make_conf(cfg, p));
}

HandlePtr make_producer(const KafkaConfig& cfg, const Properties& overrides,
                        const std::function<void(rd_kafka_conf_t*)>& customize) {
    Properties p{{"partitioner", "murmur2_random"}};
    for (const auto& [k, v] : cfg.properties) p[k] = v;
    for (const auto& [k, v] : overrides) p[k] = v;
    auto conf = make_conf(cfg, p);
    if (customize) customize(conf.get());
    return make_client(RD_KAFKA_PRODUCER, std::move(conf));
}

HandlePtr make_consumer(const KafkaConfig& cfg, const Properties& overrides,
                        const std::function<void(rd_kafka_conf_t*)>& customize) {
    auto conf = make_conf(cfg, overrides);
    if (customize) customize(conf.get());
    auto rk = make_client(RD_KAFKA_CONSUMER, std::move(conf));
    rd_kafka_poll_set_consumer(rk.get());
    return rk;
}

rd_kafka_resp_err_t produce_once(rd_kafka_t* producer, const OutRecord& r, void* opaque) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!r.headers.empty()) {
        hdrs = rd_kafka_headers_new(r.headers.size());
        for (const auto& [k, v] : r.headers)
            rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(), static_cast<ssize_t>(v.size()));
    }
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(r.topic.c_str()), RD_KAFKA_V_PARTITION(r.partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r.null_key ? nullptr : r.key.data(), r.null_key ? 0 : r.key.size()),
        RD_KAFKA_V_VALUE(r.value.empty() && !r.empty_value ? nullptr : const_cast<char*>(r.value.data()), r.value.size()),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) rd_kafka_headers_destroy(hdrs);  // else owned by the message
    return err;
}

rd_kafka_resp_err_t produce(rd_kafka_t* producer, const OutRecord& r) {
    for (;;) {
        const auto err = produce_once(producer, r, nullptr);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return err;
        rd_kafka_poll(producer, 10);
    }
}

std::string_view header(const rd_kafka_message_t* m, const char* name) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs) return {};
    const void* val = nullptr;
    size_t size = 0;
    if (rd_kafka_header_get_last(hdrs, name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR || !val) return {};
    return {static_cast<const char*>(val), size};
}

namespace {
// A catalogue retention setting's value in hours; throws for a setting the switch does not have.
int retention_hours(const Config& cfg, const std::string& setting) {
    if (setting == "settlement.log_retention_hours") return cfg.settlement.log_retention_hours;
    if (setting == "risk.velocity_retention_hours") return cfg.risk.velocity_retention_hours;
    throw std::logic_error("topic catalogue: unknown retention setting `" + setting + "`");
}
}  // namespace

std::vector<TopicSpec> topic_catalogue(const Config& cfg) {
    const auto& t = cfg.kafka.topics;
    std::vector<TopicSpec> topics;
    for (const auto& e : topic_catalogue_entries()) {
        std::vector<std::pair<std::string, std::string>> conf;
        if (e.compacted()) conf.emplace_back("cleanup.policy", "compact");
        if (e.retention != "broker")
            conf.emplace_back("retention.ms", std::to_string(int64_t{retention_hours(cfg, e.retention)} * 3600 * 1000));
        if (e.key == "channel_prefix") {
            for (const auto& ch : cfg.channels) topics.push_back({t.channel(ch.id), conf, &e});
        } else {
            topics.push_back({*t.by_key(e.key), std::move(conf), &e});
        }
    }
    return topics;
}

std::vector<std::string> topics_written_by(const Config& cfg, std::string_view principal) {
    std::vector<std::string> out;
    for (const auto& spec : topic_catalogue(cfg))
        if (spec.entry->written_by(principal)) out.push_back(spec.name);
    return out;
}

std::string topic_catalogue_json(const Config& cfg) {
    boost::json::array out;
    for (const auto& spec : topic_catalogue(cfg)) {
        boost::json::object conf;
        for (const auto& [k, v] : spec.config) conf[k] = v;
        const auto list = [](const std::vector<std::string>& v) { return boost::json::array(v.begin(), v.end()); };
        const auto& e = *spec.entry;
        out.push_back(boost::json::object{{"name", spec.name},
                                          {"partitions", cfg.kafka.partitions},
                                          {"replication_factor", cfg.kafka.replication_factor},
                                          {"config", std::move(conf)},
                                          {"catalogue_key", e.key},
                                          {"key", e.record_key},
                                          {"value", e.value},
                                          {"partitioning", e.partitioning},
                                          {"read", list(e.read)},
                                          {"write", list(e.write)},
                                          {"describe", list(e.describe)}});
    }
    return boost::json::serialize(out);
}

void ensure_topics(const Config& cfg, int timeout_ms, const std::vector<std::pair<std::string, std::string>>& extra) {
    auto topics = topic_catalogue(cfg);
    for (auto& spec : topics) spec.config.insert(spec.config.end(), extra.begin(), extra.end());
    create_topics(cfg.kafka, topics, timeout_ms);
}

void create_topics(const KafkaConfig& kcfg, const std::vector<TopicSpec>& topics, int timeout_ms) {
    auto rk = make_producer(kcfg, {});
    std::vector<NewTopicPtr> owned;
    std::vector<rd_kafka_NewTopic_t*> raw;
    char err[512];
    for (const auto& [name, topic_config, entry] : topics) {
        NewTopicPtr nt(rd_kafka_NewTopic_new(name.c_str(), kcfg.partitions, kcfg.replication_factor, err, sizeof err));
        if (!nt) throw std::runtime_error("topic " + name + ": " + err);
        for (const auto& [k, v] : topic_config) rd_kafka_NewTopic_set_config(nt.get(), k.c_str(), v.c_str());
        raw.push_back(nt.get());
        owned.push_back(std::move(nt));
    }
    QueuePtr q(rd_kafka_queue_new(rk.get()));
    AdminOptionsPtr opts(rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
    rd_kafka_AdminOptions_set_operation_timeout(opts.get(), timeout_ms, err, sizeof err);
    rd_kafka_CreateTopics(rk.get(), raw.data(), raw.size(), opts.get(), q.get());
    EventPtr ev(rd_kafka_queue_poll(q.get(), timeout_ms + 5000));
    if (!ev) throw std::runtime_error("creating topics timed out");
    if (rd_kafka_event_error(ev.get())) throw std::runtime_error(std::string("creating topics: ") + rd_kafka_event_error_string(ev.get()));
    const auto* res = rd_kafka_event_CreateTopics_result(ev.get());
    size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
        auto e = rd_kafka_topic_result_error(results[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            throw std::runtime_error(std::string("topic ") + rd_kafka_topic_result_name(results[i]) + ": " +
                                     rd_kafka_err2str(e));
    }
    // Created is not yet usable: wait until every partition of every topic has a leader.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (const auto& spec : topics) {
        const auto& name = spec.name;
        for (;;) {
            std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> t(
                rd_kafka_topic_new(rk.get(), name.c_str(), nullptr), rd_kafka_topic_destroy);
            const rd_kafka_metadata_t* md = nullptr;
            bool ready = false;
            if (rd_kafka_metadata(rk.get(), 0, t.get(), &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                ready = md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0;
                for (int p = 0; ready && p < md->topics[0].partition_cnt; ++p)
                    ready = md->topics[0].partitions[p].leader >= 0 && !md->topics[0].partitions[p].err;
                rd_kafka_metadata_destroy(md);
            }
            if (ready) break;
            if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("topic " + name + " has no leader yet");
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
}

}  // namespace turnout::kafka

namespace turnout::kafka {

std::vector<int32_t> partitions_of(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
    std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> t(rd_kafka_topic_new(rk, topic.c_str(), nullptr),
                                                                          rd_kafka_topic_destroy);
    // A topic created a moment ago is unknown to the brokers that have not seen its metadata
    // yet (a cluster propagates it in the background): retry those answers until the deadline.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const rd_kafka_metadata_t* md = nullptr;
        auto err = rd_kafka_metadata(rk, 0, t.get(), &md, std::max(100, std::min(timeout_ms, 2000)));
        const bool out_of_time = std::chrono::steady_clock::now() >= deadline;
        if (err) {
            if ((err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT) && !out_of_time) continue;
            throw std::runtime_error("metadata for " + topic + ": " + rd_kafka_err2str(err));
        }
        std::unique_ptr<const rd_kafka_metadata_t, decltype(&rd_kafka_metadata_destroy)> owned(md, rd_kafka_metadata_destroy);
        std::vector<int32_t> ids;
        rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int i = 0; i < md->topic_cnt; ++i) {
            if (md->topics[i].err) topic_err = md->topics[i].err;
            for (int p = 0; p < md->topics[i].partition_cnt; ++p) ids.push_back(md->topics[i].partitions[p].id);
        }
        const bool transient = topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                               topic_err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE || (!topic_err && ids.empty());
        if (transient && !out_of_time) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            continue;
        }
        if (topic_err) throw std::runtime_error("topic " + topic + ": " + rd_kafka_err2str(topic_err));
        if (ids.empty()) throw std::runtime_error("topic " + topic + " has no partitions");
        return ids;
    }
}

void watermarks(rd_kafka_t* rk, const std::string& topic, int32_t partition, int64_t& lo, int64_t& hi, int timeout_ms) {
    rd_kafka_resp_err_t err;
    // A topic created a moment ago may not have its leaders elected yet; a broker that
    // just failed over answers "not leader" or not at all for a while. Short tries under
    // one overall deadline, so a dead leader cannot eat the whole budget in one call.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &lo, &hi, std::min(timeout_ms, 2000));
        const bool transient = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                               err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                               err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                               err == RD_KAFKA_RESP_ERR__TIMED_OUT;
        if (!transient || std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (err) throw std::runtime_error("watermarks of " + topic + "/" + std::to_string(partition) + ": " + rd_kafka_err2str(err));
}

PartitionListPtr end_offsets(rd_kafka_t* rk, const std::vector<std::string>& topics, int timeout_ms) {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(16));
    for (const auto& topic : topics)
        for (int32_t p : partitions_of(rk, topic, timeout_ms)) {
            int64_t lo = 0, hi = 0;
            watermarks(rk, topic, p, lo, hi, timeout_ms);
            rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = hi;
        }
    return list;
}

int32_t key_partition(std::string_view key, int32_t partition_count) {
    // With a key, murmur2_random never looks at the topic handle.
    return rd_kafka_msg_partitioner_murmur2_random(nullptr, key.data(), key.size(), partition_count, nullptr, nullptr);
}

int32_t consistent_random_partition(std::string_view key, int32_t partition_count) {
    return rd_kafka_msg_partitioner_consistent_random(nullptr, key.data(), key.size(), partition_count, nullptr,
                                                      nullptr);
}

std::vector<std::string> list_topics(rd_kafka_t* rk, int timeout_ms) {
    const rd_kafka_metadata_t* md = nullptr;
    const auto err = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md) rd_kafka_metadata_destroy(md);
        throw std::runtime_error(std::string("listing topics: ") + rd_kafka_err2str(err));
    }
    std::unique_ptr<const rd_kafka_metadata_t, decltype(&rd_kafka_metadata_destroy)> owned(md, rd_kafka_metadata_destroy);
    std::vector<std::string> out;
    for (int i = 0; i < md->topic_cnt; ++i) out.emplace_back(md->topics[i].topic);
    return out;
}

}  // namespace turnout::kafka
