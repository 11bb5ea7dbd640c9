#include "kafka/stage_runner.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include "kafka/records.hpp"
#include "kafka/stage_probe.hpp"
#include "metrics/metrics.hpp"
#include "model/time.hpp"

namespace turnout::kafka {
namespace {
// The runner's families (docs/metrics.md, "Stages"); records in/out and DLQ are StageProbe's.
HistogramFamily& stage_latency() {
    static auto& f = declare_histogram("turnout_stage_latency_seconds",
                                       "Age of a record (since it was written) when a stage processes it");
    return f;
}
HistogramFamily& stage_commit() {
    static auto& f = declare_histogram("turnout_stage_commit_seconds",
                                       "Time a stage spends committing its transaction (offsets, records, commit)");
    return f;
}
CounterFamily& transactions() {
    static auto& f =
        declare_counter("turnout_transactions_total", "Kafka transactions ended by a stage, by outcome (commit, abort)");
    return f;
}
GaugeFamily& consumer_lag() {
    static auto& f = declare_gauge(
        "turnout_consumer_lag",
        "Records between a stage's committed position and the partition end (librdkafka statistics)");
    return f;
}
}  // namespace

class StageRunner::TxnEmitter : public Emitter {
public:
    explicit TxnEmitter(StageRunner& r) : r_(r) {}
    void emit(const OutRecord& rec) override {
        r_.begin_if_needed();
        auto err = produce(r_.producer_.get(), rec);
        if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION && rec.partition != RD_KAFKA_PARTITION_UA &&
            rec.topic == r_.cfg_.topics.results) {
            // A result's home partition that payments.results does not have (a routed record
            // from a topic with more partitions, or forged): the key decides instead, so the
            // payment still gets its result and the stage goes on.
            spdlog::warn("{}: {} has no partition {}; the result goes to its key's partition", r_.opts_.name,
                         rec.topic, rec.partition);
            OutRecord by_key = rec;
            by_key.partition = RD_KAFKA_PARTITION_UA;
            err = produce(r_.producer_.get(), by_key);
        }
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
            // No retry can make this record fit: aborting would replay the same input and
            // fail the same way forever. Its digest goes to the DLQ and the stage moves on.
            r_.dead_letter_unproducible(rec, err);
            return;
        }
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            char reason[512];
            if (err == RD_KAFKA_RESP_ERR__FATAL ||
                rd_kafka_fatal_error(r_.producer_.get(), reason, sizeof reason) != RD_KAFKA_RESP_ERR_NO_ERROR)
                throw KafkaError(r_.opts_.name + ": producer fatal error: " + rd_kafka_err2str(err), true, false, false);
            // The transaction cannot hold this record: abort it at the next commit point and replay.
            if (!r_.txn_failed_)
                spdlog::warn("{}: produce to {} failed: {}; transaction will abort", r_.opts_.name, rec.topic,
                             rd_kafka_err2str(err));
            r_.txn_failed_ = true;
        }
    }

private:
    StageRunner& r_;
};

BrokerState broker_state_from_stats(const boost::json::object& stats) {
    const auto* brokers = stats.if_contains("brokers");
    if (!brokers || !brokers->is_object() || brokers->get_object().empty()) return BrokerState::unknown;
    for (const auto& [name, b] : brokers->get_object()) {
        const auto* state = b.is_object() ? b.get_object().if_contains("state") : nullptr;
        if (state && state->is_string() && state->get_string() == "UP") return BrokerState::up;
    }
    return BrokerState::down;
}

namespace {
PartitionSet to_set(const rd_kafka_topic_partition_list_t* l) {
    PartitionSet s;
    for (int i = 0; l && i < l->cnt; ++i) s.emplace_back(l->elems[i].topic, l->elems[i].partition);
    return s;
}
}  // namespace

namespace {
// "connector.acq-eu" → "connector": metric labels come from a small fixed set.
std::string stage_label(const std::string& name) { return name.substr(0, name.find('.')); }
}  // namespace

StageOptions stage_options(const KafkaConfig& cfg, const std::string& name, const std::string& instance,
                           std::vector<std::string> topics) {
    StageOptions o;
    o.name = name;
    o.group_id = cfg.name_prefix + "turnout." + name;
    o.transactional_id = o.group_id + "." + instance;
    o.topics = std::move(topics);
    o.commit_every_records = cfg.commit_every_records;
    o.commit_every_ms = cfg.commit_every_ms;
    o.commit_linger_ms = cfg.commit_linger_ms;
    if (cfg.static_membership) o.group_instance_id = o.transactional_id;
    return o;
}

StageRunner::StageRunner(const KafkaConfig& cfg, StageOptions opts, StageLogic& logic)
    : cfg_(cfg),
      opts_(std::move(opts)),
      logic_(logic),
      health_(HealthBoard::get().add(opts_.name)),
      record_age_(latency_histogram(stage_latency(), {{"stage", stage_label(opts_.name)}})),
      commits_(transactions().Add({{"stage", stage_label(opts_.name)}, {"outcome", "commit"}})),
      commit_time_(latency_histogram(stage_commit(), {{"stage", stage_label(opts_.name)}})),
      aborts_(transactions().Add({{"stage", stage_label(opts_.name)}, {"outcome", "abort"}})),
      // Resolved at start so the series exists (at 0) for the alert before anything happens.
      too_large_(StageProbe::dlq_series(stage_label(opts_.name), "record_too_large")) {
    Properties p{{opts_.transactional ? "transactional.id" : "enable.idempotence",
                  opts_.transactional ? opts_.transactional_id : "true"},
                 {"client.id", opts_.name},
                 {"linger.ms", "5"},
                 {"queue.buffering.max.messages", "1000000"},
                 // A transaction that begins while the previous one's markers are still being
                 // written is answered CONCURRENT_TRANSACTIONS and retried after this backoff
                 // (librdkafka's default 100 ms): with a new transaction every few ms, that
                 // wait was most of each hop's latency.
                 {"retry.backoff.ms", "10"},
                 // Short: a crashed instance's open transaction blocks read_committed readers of
                 // its partitions until the broker aborts it after this timeout.
                 {"transaction.timeout.ms", "10000"}};
    for (const auto& [k, v] : opts_.producer_overrides) p[k] = v;
    producer_ = make_producer(cfg_, p, [this](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_dr_msg_cb(conf, &StageRunner::delivery_cb);
        rd_kafka_conf_set_opaque(conf, this);
    });

    Properties c{{"group.id", opts_.group_id},
                 {"client.id", opts_.name},
                 {"isolation.level", "read_committed"},
                 {"enable.auto.commit", "false"},
                 {"auto.offset.reset", "earliest"},
                 {"enable.partition.eof", "false"},
                 {"session.timeout.ms", std::to_string(cfg_.session_timeout_ms)},
                 {"heartbeat.interval.ms", "1000"},
                 {"statistics.interval.ms", "5000"}};
    if (!opts_.group_instance_id.empty()) c["group.instance.id"] = opts_.group_instance_id;
    for (const auto& [k, v] : opts_.consumer_overrides) c[k] = v;
    consumer_ = make_consumer(cfg_, c, [this](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_rebalance_cb(conf, &StageRunner::rebalance_cb);
        rd_kafka_conf_set_stats_cb(conf, &StageRunner::stats_cb);
        rd_kafka_conf_set_opaque(conf, this);
    });
    queue_.reset(rd_kafka_queue_get_consumer(consumer_.get()));
}

StageRunner::~StageRunner() = default;

void StageRunner::rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                               void* opaque) {
    auto* self = static_cast<StageRunner*>(opaque);
    // Called from librdkafka's C code: an exception must not cross it. A failure is kept
    // and raised by run() once the consume call returns.
    try {
        self->on_rebalance(rk, err, parts);
    } catch (const std::exception& e) {
        if (self->fatal_.empty()) self->fatal_ = e.what();
        if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) rd_kafka_assign(rk, nullptr);
    }
}

void StageRunner::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    auto* self = this;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        spdlog::info("{}: assigned {} partitions", self->opts_.name, parts->cnt);
        rd_kafka_assign(rk, parts);
        // Restored before the stage sees a record of these partitions; not ready until then.
        if (auto* stores = self->logic_.stores()) {
            health_->restoring(true);
            stores->restore(to_set(parts), [this] { health_->turned(now_ms()); });
            health_->restoring(false);
        }
        self->logic_.on_assign(to_set(parts));
        health_->turned(now_ms());
        health_->assigned(true);
        return;
    }
    // Revoked or lost: finish (or give up) the open transaction while we still own the partitions.
    health_->assigned(false);
    if (rd_kafka_assignment_lost(rk)) {
        spdlog::warn("{}: assignment lost; aborting the open transaction", self->opts_.name);
        if (self->txn_open_) self->abort_and_rewind();
    } else {
        self->commit();
    }
    self->logic_.on_revoke(to_set(parts));
    if (auto* stores = self->logic_.stores()) stores->close(to_set(parts));
    rd_kafka_assign(rk, nullptr);
}

void StageRunner::delivery_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err || m->offset < 0) return;  // a failed record fails its transaction
    auto* self = static_cast<StageRunner*>(opaque);
    auto [it, fresh] = self->produced_.try_emplace({m->rkt, m->partition});
    if (fresh) it->second.first = rd_kafka_topic_name(m->rkt);
    it->second.second = std::max(it->second.second, m->offset + 1);
}

void StageRunner::commit_stores() {
    if (auto* stores = logic_.stores()) {
        ProducedOffsets produced;
        for (const auto& [k, v] : produced_) produced[{v.first, k.second}] = v.second;
        stores->commit(produced);
    }
    produced_.clear();
}

int StageRunner::stats_cb(rd_kafka_t*, char* json, size_t len, void* opaque) {
    // Consumer lag per assigned partition, from librdkafka's statistics (served on this thread).
    auto* self = static_cast<StageRunner*>(opaque);
    boost::json::error_code ec;
    auto doc = boost::json::parse(std::string_view(json, len), ec);
    if (ec || !doc.is_object()) return 0;
    self->health_->broker(broker_state_from_stats(doc.get_object()), now_ms());
    auto* topics = doc.get_object().if_contains("topics");
    if (!topics || !topics->is_object()) return 0;
    const std::string stage = stage_label(self->opts_.name);
    for (const auto& [topic, t] : topics->get_object()) {
        auto* parts = t.is_object() ? t.get_object().if_contains("partitions") : nullptr;
        if (!parts || !parts->is_object()) continue;
        for (const auto& [pid, p] : parts->get_object()) {
            if (pid == "-1" || !p.is_object()) continue;
            const auto& po = p.get_object();
            auto* lag = po.if_contains("consumer_lag_stored");
            if (!lag || !lag->is_int64()) lag = po.if_contains("consumer_lag");
            auto* fetch = po.if_contains("fetch_state");
            if (!lag || !lag->is_int64() || !fetch || !fetch->is_string() || fetch->get_string() == "none") continue;
            // Once per statistics interval, not per record.
            consumer_lag()
                .Add({{"stage", stage}, {"topic", std::string(topic)}, {"partition", std::string(pid)}})
                .Set(static_cast<double>(std::max<int64_t>(0, lag->get_int64())));
        }
    }
    return 0;  // librdkafka frees the JSON
}

void StageRunner::dead_letter_unproducible(const OutRecord& rec, rd_kafka_resp_err_t err) {
    const std::string stage = stage_label(opts_.name);
    const size_t bytes = rec.key.size() + rec.value.size();
    spdlog::error("{}: a record for {} ({} bytes) cannot be produced: {}; its digest goes to {}", opts_.name, rec.topic,
                  bytes, rd_kafka_err2str(err), cfg_.topics.dlq);
    OutRecord dlq{cfg_.topics.dlq, rec.key.size() <= kDlqMaxKeyBytes ? rec.key : "sha256:" + sha256_hex_of(rec.key),
                  {}, {}};
    // Only a digest: the record may carry anything the stage writes, so no excerpt of it.
    dlq.value = "{\"unproducible\":true,\"topic\":\"" + rec.topic + "\",\"key_bytes\":" +
                std::to_string(rec.key.size()) + ",\"value_bytes\":" + std::to_string(rec.value.size()) +
                ",\"sha256\":\"" + sha256_hex_of(rec.value) + "\"}";
    dlq.headers = {{"turnout.error.stage", stage},
                   {"turnout.error.reason", "record_too_large"},
                   {"turnout.error.topic", rec.topic},
                   {"turnout.error.partition", std::to_string(rec.partition)},
                   {"turnout.error.offset", "-1"}};
    for (const auto& [k, v] : rec.headers)
        if (k == kTraceparent && valid_traceparent(v)) dlq.headers.emplace_back(k, v);
    too_large_.Increment();
    if (const auto e2 = produce(producer_.get(), dlq); e2 != RD_KAFKA_RESP_ERR_NO_ERROR)
        spdlog::critical("{}: the dead-letter record for an unproducible {} record failed too: {}; skipped",
                         opts_.name, rec.topic, rd_kafka_err2str(e2));
}

void StageRunner::begin_if_needed() {
    if (txn_open_) return;
    if (!opts_.transactional) {
        txn_open_ = true;  // "work since the last commit", nothing to begin
        txn_started_ms_ = now_ms();
        return;
    }
    if (ErrorPtr e{rd_kafka_begin_transaction(producer_.get())})
        throw KafkaError(std::string("begin_transaction: ") + rd_kafka_error_string(e.get()), true, false, false);
    txn_open_ = true;
    txn_started_ms_ = now_ms();
}

void StageRunner::handle_txn_error(rd_kafka_error_t* raw, const char* what) {
    ErrorPtr e(raw);
    if (rd_kafka_error_txn_requires_abort(raw)) {
        spdlog::warn("{}: {} failed ({}); aborting and rewinding", opts_.name, what, rd_kafka_error_string(raw));
        abort_and_rewind();
        return;
    }
    if (rd_kafka_error_is_retriable(raw)) {
        spdlog::warn("{}: {} failed ({}); retrying", opts_.name, what, rd_kafka_error_string(raw));
        retry_commit_ = true;
        return;
    }
    throw KafkaError(opts_.name + ": " + what + ": " + rd_kafka_error_string(raw), true, false, false);
}

void StageRunner::commit() {
    if (!txn_open_) return;
    if (!opts_.transactional) {
        rd_kafka_flush(producer_.get(), 30000);
        rd_kafka_commit(consumer_.get(), nullptr, 1);
        txn_open_ = false;
        uncommitted_ = 0;
        commits_.Increment();
        commit_stores();
        logic_.on_commit();
        return;
    }
    if (txn_failed_) {
        abort_and_rewind();
        return;
    }
    retry_commit_ = false;
    const auto t0 = std::chrono::steady_clock::now();
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(consumer_.get(), &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) assigned = nullptr;
    PartitionListPtr assigned_owned(assigned);
    PartitionListPtr offsets(rd_kafka_topic_partition_list_new(assigned ? assigned->cnt : 0));
    if (assigned && assigned->cnt > 0) {
        rd_kafka_position(consumer_.get(), assigned);
        for (int i = 0; i < assigned->cnt; ++i)
            if (assigned->elems[i].offset >= 0)
                rd_kafka_topic_partition_list_add(offsets.get(), assigned->elems[i].topic, assigned->elems[i].partition)
                    ->offset = assigned->elems[i].offset;
    }
    if (offsets->cnt > 0) {
        GroupMetadataPtr cgmd(rd_kafka_consumer_group_metadata(consumer_.get()));
        if (auto* e = rd_kafka_send_offsets_to_transaction(producer_.get(), offsets.get(), cgmd.get(), -1)) {
            handle_txn_error(e, "send_offsets_to_transaction");
            if (retry_commit_) return;  // the next commit point tries again
            return;
        }
    }
    if (auto* e = rd_kafka_commit_transaction(producer_.get(), -1)) {
        handle_txn_error(e, "commit_transaction");
        return;
    }
    commit_time_.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    txn_open_ = false;
    uncommitted_ = 0;
    commits_.Increment();
    // Committed in Kafka: now in the local stores, with the changelog position reached. A
    // crash right here leaves the checkpoint behind; the next restore replays the tail.
    commit_stores();
    logic_.on_commit();
}

void StageRunner::abort_and_rewind() {
    if (txn_open_) {
        aborts_.Increment();
        for (int attempt = 0;; ++attempt) {
            ErrorPtr e{rd_kafka_abort_transaction(producer_.get(), 30000)};
            if (!e) break;
            if (!rd_kafka_error_is_retriable(e.get()) || attempt >= 10)
                throw KafkaError(opts_.name + ": abort_transaction: " + rd_kafka_error_string(e.get()), true, false, false);
            spdlog::warn("{}: abort_transaction: {}; retrying", opts_.name, rd_kafka_error_string(e.get()));
        }
    }
    txn_open_ = false;
    txn_failed_ = false;
    uncommitted_ = 0;
    // Back to the last committed offsets, so the aborted records are processed again.
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(consumer_.get(), &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR && assigned) {
        PartitionListPtr parts(assigned);
        if (parts->cnt > 0 && rd_kafka_committed(consumer_.get(), parts.get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (int i = 0; i < parts->cnt; ++i)
                if (parts->elems[i].offset < 0) parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
            if (ErrorPtr e{rd_kafka_seek_partitions(consumer_.get(), parts.get(), 10000)})
                spdlog::error("{}: rewind failed: {}", opts_.name, rd_kafka_error_string(e.get()));
        }
    }
    produced_.clear();
    if (auto* stores = logic_.stores()) stores->abort();
    logic_.on_abort();
}

void StageRunner::start() {
    if (started_) return;
    logic_.on_start();
    started_ = true;
}

int StageRunner::run(const std::atomic<bool>& stop) {
    try {
        start();
        for (int attempt = 0; opts_.transactional; ++attempt) {
            ErrorPtr e{rd_kafka_init_transactions(producer_.get(), 30000)};
            if (!e) break;
            if (!rd_kafka_error_is_retriable(e.get()) || attempt > 20)
                throw KafkaError(opts_.name + ": init_transactions: " + rd_kafka_error_string(e.get()), true, false,
                                 false);
            spdlog::warn("{}: init_transactions: {}; retrying", opts_.name, rd_kafka_error_string(e.get()));
        }
        for (const auto& t : opts_.output_topics) {
            try {
                (void)partitions_of(producer_.get(), t, 5000);
            } catch (const std::exception& e) {
                spdlog::warn("{}: no metadata for output topic {} yet: {}", opts_.name, t, e.what());
            }
        }
        PartitionListPtr topics(rd_kafka_topic_partition_list_new(static_cast<int>(opts_.topics.size())));
        for (const auto& t : opts_.topics) rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
        if (auto err = rd_kafka_subscribe(consumer_.get(), topics.get()))
            throw KafkaError(opts_.name + ": subscribe: " + rd_kafka_err2str(err), true, false, false);
        spdlog::info("{}: consuming {} as group {}", opts_.name, opts_.topics.front(), opts_.group_id);

        TxnEmitter emitter(*this);
        std::vector<rd_kafka_message_t*> msgs(opts_.max_batch);
        std::vector<Record> batch;
        batch.reserve(opts_.max_batch);
        int64_t next_tick = now_ms() + opts_.tick_ms;
        health_->turned(now_ms());
        while (!stop.load(std::memory_order_relaxed)) {
            if (!fatal_.empty()) throw KafkaError(opts_.name + ": " + fatal_, true, false, false);
            // Take what is already fetched without waiting; block (briefly) only when idle.
            ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), 0, msgs.data(), msgs.size());
            if (n == 0) {
                if (auto* first = rd_kafka_consume_queue(queue_.get(), 20)) {
                    msgs[0] = first;
                    n = 1 + std::max<ssize_t>(0, rd_kafka_consume_batch_queue(queue_.get(), 0, msgs.data() + 1, msgs.size() - 1));
                }
            }
            batch.clear();
            if (!fatal_.empty()) {
                for (ssize_t i = 0; i < n; ++i) rd_kafka_message_destroy(msgs[static_cast<size_t>(i)]);
                throw KafkaError(opts_.name + ": " + fatal_, true, false, false);
            }
            const int64_t now_consumed = now_ms();
            for (ssize_t i = 0; i < n; ++i) {
                auto* m = msgs[static_cast<size_t>(i)];
                if (!m->err) {
                    const int64_t ts = rd_kafka_message_timestamp(m, nullptr);
                    if (ts > 0) record_age_.Observe(static_cast<double>(std::max<int64_t>(0, now_consumed - ts)) / 1000.0);
                }
                if (m->err) {
                    if (m->err == RD_KAFKA_RESP_ERR__FATAL)
                        throw KafkaError(opts_.name + ": consumer fatal error", true, false, false);
                    spdlog::warn("{}: consume error: {}", opts_.name, rd_kafka_message_errstr(m));
                    continue;
                }
                batch.push_back(Record{rd_kafka_topic_name(m->rkt), m->partition, m->offset,
                                       {static_cast<const char*>(m->key), m->key_len},
                                       {static_cast<const char*>(m->payload), m->len}, m});
            }
            if (!batch.empty()) {
                begin_if_needed();
                logic_.process(batch, emitter);
                uncommitted_ += batch.size();
            }
            for (ssize_t i = 0; i < n; ++i) rd_kafka_message_destroy(msgs[static_cast<size_t>(i)]);
            rd_kafka_poll(producer_.get(), 0);

            const int64_t now = now_ms();
            health_->turned(now);
            if (now >= next_tick) {
                logic_.on_tick(now, emitter);
                if (auto* stores = logic_.stores()) {
                    stores->expire(now, emitter);  // bounded work per tick
                    if (now >= next_store_report_ms_) {
                        stores->report();
                        next_store_report_ms_ = now + 10000;
                    }
                }
                next_tick = now + opts_.tick_ms;
            }
            const bool drained = static_cast<size_t>(n) < msgs.size();
            if (txn_open_ && (uncommitted_ >= static_cast<size_t>(opts_.commit_every_records) ||
                              now - txn_started_ms_ >= opts_.commit_every_ms || txn_failed_ ||
                              (drained && now - txn_started_ms_ >= opts_.commit_linger_ms)))
                commit();
        }
        // Drain: commit what is done, then leave the group.
        commit();
        rd_kafka_consumer_close(consumer_.get());
        rd_kafka_flush(producer_.get(), 10000);
        spdlog::info("{}: stopped cleanly", opts_.name);
        return 0;
    } catch (const KafkaError& e) {
        health_->failed(true);
        spdlog::critical("{}", e.what());
        return 2;
    } catch (const std::exception& e) {
        // An impossible state in the stage's own logic: stop loudly, commit nothing more.
        health_->failed(true);
        spdlog::critical("{}: {}", opts_.name, e.what());
        return 3;
    }
}

}  // namespace turnout::kafka
