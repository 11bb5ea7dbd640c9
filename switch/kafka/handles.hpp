#pragma once
// RAII ownership of librdkafka handles: one deleter + unique_ptr alias per handle type.
// Ownership handed to librdkafka is release()d only after the call that takes it succeeded.
#include <librdkafka/rdkafka.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace turnout::kafka {

struct HandleDeleter {
    void operator()(rd_kafka_t* p) const { rd_kafka_destroy(p); }
    void operator()(rd_kafka_conf_t* p) const { rd_kafka_conf_destroy(p); }
    void operator()(rd_kafka_topic_partition_list_t* p) const { rd_kafka_topic_partition_list_destroy(p); }
    void operator()(rd_kafka_message_t* p) const { rd_kafka_message_destroy(p); }
    void operator()(rd_kafka_error_t* p) const { rd_kafka_error_destroy(p); }
    void operator()(rd_kafka_queue_t* p) const { rd_kafka_queue_destroy(p); }
    void operator()(rd_kafka_headers_t* p) const { rd_kafka_headers_destroy(p); }
    void operator()(rd_kafka_consumer_group_metadata_t* p) const { rd_kafka_consumer_group_metadata_destroy(p); }
    void operator()(rd_kafka_event_t* p) const { rd_kafka_event_destroy(p); }
    void operator()(rd_kafka_AdminOptions_t* p) const { rd_kafka_AdminOptions_destroy(p); }
    void operator()(rd_kafka_NewTopic_t* p) const { rd_kafka_NewTopic_destroy(p); }
};

using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, HandleDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, HandleDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, HandleDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, HandleDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, HandleDeleter>;
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HandleDeleter>;
using GroupMetadataPtr = std::unique_ptr<rd_kafka_consumer_group_metadata_t, HandleDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, HandleDeleter>;
using AdminOptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, HandleDeleter>;
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, HandleDeleter>;

// A Kafka failure with librdkafka's own classification of what to do about it.
class KafkaError : public std::runtime_error {
public:
    KafkaError(std::string what, bool fatal, bool retriable, bool requires_abort)
        : std::runtime_error(std::move(what)), fatal_(fatal), retriable_(retriable), requires_abort_(requires_abort) {}
    // Takes ownership of `e`.
    static KafkaError from(rd_kafka_error_t* e, const std::string& context) {
        ErrorPtr owned(e);
        return KafkaError(context + ": " + rd_kafka_error_string(e), rd_kafka_error_is_fatal(e),
                          rd_kafka_error_is_retriable(e), rd_kafka_error_txn_requires_abort(e));
    }
    bool is_fatal() const { return fatal_; }
    bool is_retriable() const { return retriable_; }
    bool transaction_requires_abort() const { return requires_abort_; }

private:
    bool fatal_, retriable_, requires_abort_;
};

}  // namespace turnout::kafka
