#include "kafka/topic_reader.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <stdexcept>

namespace turnout::kafka {
namespace {

Record record_of(const rd_kafka_message_t* m) {
    Record r;
    if (m->rkt) r.topic = rd_kafka_topic_name(m->rkt);
    r.partition = m->partition;
    r.offset = m->offset;
    if (m->key) r.key = {static_cast<const char*>(m->key), m->key_len};
    if (m->payload) r.value = {static_cast<const char*>(m->payload), m->len};
    r.raw = m;
    return r;
}

}  // namespace

int64_t timestamp_ms(const Record& r) {
    if (!r.raw) return -1;
    rd_kafka_timestamp_type_t tt;
    return rd_kafka_message_timestamp(r.raw, &tt);
}

std::vector<std::pair<std::string, std::string>> all_headers(const Record& r) {
    std::vector<std::pair<std::string, std::string>> out;
    rd_kafka_headers_t* hdrs = nullptr;
    if (!r.raw || rd_kafka_message_headers(r.raw, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs) return out;
    const char* name;
    const void* val;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
        out.emplace_back(name, val ? std::string(static_cast<const char*>(val), size) : std::string());
    return out;
}

TopicReader::TopicReader(const KafkaConfig& cfg, const std::string& group_id, const Properties& extra,
                         ReaderHooks hooks)
    : hooks_(std::make_unique<ReaderHooks>(std::move(hooks))) {
    Properties p{{"group.id", group_id},
                 {"enable.auto.commit", "false"},
                 {"enable.auto.offset.store", "false"},
                 {"isolation.level", "read_committed"},
                 {"fetch.wait.max.ms", "100"}};
    for (const auto& [k, v] : extra) p[k] = v;
    c_ = make_consumer(cfg, p, [this](rd_kafka_conf_t* conf) {
        if (!hooks_->broker_state) return;
        rd_kafka_conf_set_opaque(conf, hooks_.get());
        rd_kafka_conf_set_stats_cb(conf, [](rd_kafka_t*, char* json, size_t len, void* opaque) {
            boost::system::error_code ec;
            auto doc = boost::json::parse(std::string_view(json, len), ec);
            if (!ec && doc.is_object())
                static_cast<ReaderHooks*>(opaque)->broker_state(broker_state_from_stats(doc.get_object()));
            return 0;  // librdkafka frees the JSON
        });
    });
}

TopicReader::~TopicReader() {
    queue_.reset();
    if (c_) rd_kafka_consumer_close(c_.get());
}

std::vector<int32_t> TopicReader::partitions(const std::string& topic) const { return partitions_of(c_.get(), topic); }

std::pair<int64_t, int64_t> TopicReader::watermarks(const std::string& topic, int32_t partition) const {
    int64_t lo = 0, hi = 0;
    kafka::watermarks(c_.get(), topic, partition, lo, hi);
    return {lo, hi};
}

void TopicReader::assign_from_beginning(const std::string& topic) {
    const auto parts = partitions(topic);
    PartitionListPtr from(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
    for (int32_t p : parts) rd_kafka_topic_partition_list_add(from.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (auto err = rd_kafka_assign(c_.get(), from.get()))
        throw std::runtime_error("assign " + topic + ": " + rd_kafka_err2str(err));
}

std::vector<Position> TopicReader::end_positions(const std::vector<std::string>& topics) const {
    std::vector<Position> out;
    const auto ends = end_offsets(c_.get(), topics);
    for (int i = 0; i < ends->cnt; ++i) out.push_back({ends->elems[i].topic, ends->elems[i].partition, ends->elems[i].offset});
    return out;
}

void TopicReader::assign(const std::vector<Position>& from) {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(from.size()) + 1));
    for (const auto& p : from) rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset = p.offset;
    if (auto err = rd_kafka_assign(c_.get(), list.get())) throw std::runtime_error(std::string("assign: ") + rd_kafka_err2str(err));
}

bool TopicReader::commit(const std::vector<Position>& offsets, std::string& why) {
    if (offsets.empty()) return true;
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& p : offsets) rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset = p.offset;
    if (auto err = rd_kafka_commit(c_.get(), list.get(), 0)) {
        why = rd_kafka_err2str(err);
        return false;
    }
    for (int i = 0; i < list->cnt; ++i)
        if (list->elems[i].err) {
            why = std::string(list->elems[i].topic) + "[" + std::to_string(list->elems[i].partition) +
                  "]: " + rd_kafka_err2str(list->elems[i].err);
            return false;
        }
    return true;
}

namespace {
// One ListOffsets request per broker for every partition of `topic`: the offset of the first
// record at or after `ts` (ms), or of the special timestamps -1 (the end: the last stable
// offset for this read_committed reader) and -2 (the first offset); -1 where there is none.
std::vector<Position> list_offsets(rd_kafka_t* c, const std::string& topic, const std::vector<int32_t>& parts,
                                   int64_t ts, int timeout_ms) {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()) + 1));
    for (int32_t p : parts) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = ts;
    if (auto err = rd_kafka_offsets_for_times(c, list.get(), timeout_ms))
        throw std::runtime_error("offsets of " + topic + ": " + rd_kafka_err2str(err));
    std::vector<Position> out;
    for (int i = 0; i < list->cnt; ++i) {
        if (list->elems[i].err)
            throw std::runtime_error("offsets of " + topic + ": " + rd_kafka_err2str(list->elems[i].err));
        out.push_back({topic, list->elems[i].partition, list->elems[i].offset});
    }
    return out;
}
}  // namespace

std::vector<Position> TopicReader::positions_at(const std::string& topic, int64_t ts_ms, int timeout_ms) const {
    const auto parts = partitions(topic);
    auto out = list_offsets(c_.get(), topic, parts, ts_ms, timeout_ms);
    std::vector<Position> ends;
    for (auto& p : out)
        if (p.offset < 0) {  // no record that late: the end
            if (ends.empty()) ends = ends_of(topic, timeout_ms);
            for (const auto& e : ends)
                if (e.partition == p.partition) p.offset = e.offset;
        }
    return out;
}

std::vector<Position> TopicReader::ends_of(const std::string& topic, int timeout_ms) const {
    return list_offsets(c_.get(), topic, partitions(topic), -1, timeout_ms);
}

std::vector<Position> TopicReader::starts_of(const std::string& topic, int timeout_ms) const {
    return list_offsets(c_.get(), topic, partitions(topic), -2, timeout_ms);
}

size_t TopicReader::poll_batch(int timeout_ms, size_t max, const std::function<void(const Record&)>& fn) {
    if (!queue_) queue_.reset(rd_kafka_queue_get_consumer(c_.get()));
    auto& msgs = batch_;
    msgs.resize(max);
    const ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), timeout_ms, msgs.data(), msgs.size());
    size_t delivered = 0;
    for (ssize_t i = 0; i < n; ++i) {
        MessagePtr m(msgs[static_cast<size_t>(i)]);
        if (m->err) continue;
        fn(record_of(m.get()));
        ++delivered;
    }
    return delivered;
}

std::optional<std::vector<Position>> TopicReader::committed(const std::vector<Position>& which, int timeout_ms) const {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(which.size()) + 1));
    for (const auto& p : which) rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition);
    if (rd_kafka_committed(c_.get(), list.get(), timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
    std::vector<Position> out;
    for (int i = 0; i < list->cnt; ++i) out.push_back({list->elems[i].topic, list->elems[i].partition, list->elems[i].offset});
    return out;
}

bool TopicReader::poll(int timeout_ms, const std::function<void(const Record&)>& fn) {
    MessagePtr m(rd_kafka_consumer_poll(c_.get(), timeout_ms));
    if (!m) return false;
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && hooks_->error) hooks_->error(rd_kafka_message_errstr(m.get()));
        return false;
    }
    fn(record_of(m.get()));
    return true;
}

void TopicReader::read_ranges(const std::string& topic, std::map<int32_t, std::pair<int64_t, int64_t>> ranges,
                              const std::function<bool(const Record&)>& fn) {
    PartitionListPtr from(rd_kafka_topic_partition_list_new(static_cast<int>(ranges.size()) + 1));
    for (auto it = ranges.begin(); it != ranges.end();) {
        if (it->second.first >= it->second.second) {
            it = ranges.erase(it);
            continue;
        }
        rd_kafka_topic_partition_list_add(from.get(), topic.c_str(), it->first)->offset = it->second.first;
        ++it;
    }
    if (ranges.empty()) return;
    if (auto err = rd_kafka_assign(c_.get(), from.get()))
        throw std::runtime_error("assign " + topic + ": " + rd_kafka_err2str(err));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!ranges.empty()) {
        MessagePtr m(rd_kafka_consumer_poll(c_.get(), 100));
        if (m && !m->err)
            if (auto r = ranges.find(m->partition);
                r != ranges.end() && m->offset < r->second.second && !fn(record_of(m.get())))
                break;
        if (m && !m->err) continue;
        // Transaction markers take offsets too: a partition is done when its position is at the end.
        PartitionListPtr pos(rd_kafka_topic_partition_list_new(static_cast<int>(ranges.size())));
        for (const auto& [p, r] : ranges) rd_kafka_topic_partition_list_add(pos.get(), topic.c_str(), p);
        rd_kafka_position(c_.get(), pos.get());
        for (int i = 0; i < pos->cnt; ++i)
            if (pos->elems[i].offset >= ranges[pos->elems[i].partition].second) ranges.erase(pos->elems[i].partition);
        if (std::chrono::steady_clock::now() > deadline) {
            rd_kafka_assign(c_.get(), nullptr);
            throw std::runtime_error(topic + " not readable to its end (a transaction still open?)");
        }
    }
    // No fetch left waiting at the brokers: the reader's next request is not queued behind one.
    rd_kafka_assign(c_.get(), nullptr);
}

Producer::Producer(const KafkaConfig& cfg, const Properties& overrides)
    : p_(make_producer(cfg, overrides, [](rd_kafka_conf_t* conf) {
          // A record produced with try_produce carries its DeliveryFn; others carry nothing.
          rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
              std::unique_ptr<DeliveryFn> done(static_cast<DeliveryFn*>(m->_private));
              if (!done || !*done) return;
              (*done)(Delivery{m->err == RD_KAFKA_RESP_ERR_NO_ERROR, m->partition, m->offset,
                               m->err ? rd_kafka_err2str(m->err) : ""});
          });
      })) {}

bool Producer::produce(const OutRecord& r) { return kafka::produce(p_.get(), r) == RD_KAFKA_RESP_ERR_NO_ERROR; }

bool Producer::send(const OutRecord& r, DeliveryFn done, std::string& why, bool wait_out_full_queue) {
    auto owned = std::make_unique<DeliveryFn>(std::move(done));
    for (;;) {
        const auto err = produce_once(p_.get(), r, owned.get());
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || !wait_out_full_queue) {
            why = rd_kafka_err2str(err);
            return false;
        }
        rd_kafka_poll(p_.get(), 10);
    }
    owned.release();  // the delivery report frees it
    return true;
}

bool Producer::try_produce(const OutRecord& r, DeliveryFn done, std::string& why) {
    return send(r, std::move(done), why, false);
}

bool Producer::produce(const OutRecord& r, DeliveryFn done, std::string& why) {
    return send(r, std::move(done), why, true);
}

int Producer::queued() const { return rd_kafka_outq_len(p_.get()); }

void Producer::poll(int timeout_ms) { rd_kafka_poll(p_.get(), timeout_ms); }

bool Producer::flush(int timeout_ms) { return rd_kafka_flush(p_.get(), timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR; }

std::vector<std::string> Producer::topics(int timeout_ms) const { return list_topics(p_.get(), timeout_ms); }

std::vector<int32_t> Producer::partitions(const std::string& topic) const { return partitions_of(p_.get(), topic); }

Delivery produce_and_wait(const KafkaConfig& cfg, const OutRecord& r, int timeout_ms) {
    struct Report {
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
        int32_t partition = -1;
        int64_t offset = -1;
    } report;
    auto producer = make_producer(cfg, {{"enable.idempotence", "true"}}, [&](rd_kafka_conf_t* conf) {
        rd_kafka_conf_set_opaque(conf, &report);
        rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
            auto* d = static_cast<Report*>(opaque);
            d->err = m->err;
            d->partition = m->partition;
            d->offset = m->offset;
        });
    });
    Delivery out;
    if (auto err = produce(producer.get(), r)) {
        out.error = std::string("produce: ") + rd_kafka_err2str(err);
        return out;
    }
    rd_kafka_flush(producer.get(), timeout_ms);
    if (report.err) {
        out.error = std::string("not delivered: ") + rd_kafka_err2str(report.err);
        return out;
    }
    out.delivered = true;
    out.partition = report.partition;
    out.offset = report.offset;
    return out;
}

}  // namespace turnout::kafka
