#pragma once
// `turnout dlq list|show|replay` (docs/design.md, "Security"): an operator inspects payments.dlq with card
// data masked and re-drives fixed requests into payments.requests. The helpers in the first
// half are free of Kafka; the commands at the end read the topic directly (no consumer
// group, no commits) and produce with an idempotent producer.
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "kafka/client.hpp"
#include "security/card_vault.hpp"

namespace turnout::dlq {

// "PARTITION:OFFSET", both non-negative decimal integers.
struct Position {
    int32_t partition = 0;
    int64_t offset = 0;
};
std::optional<Position> parse_position(std::string_view text);

// Masks every PAN-looking digit run to BIN6…last4 ("4111111111111111" → "411111******1111").
// A run is 13 or more digits, optionally grouped by single spaces or dashes
// ("4111 1111 1111 1111"); Luhn is not checked, so a mistyped PAN is masked too. Runs longer
// than 19 digits are masked the same way: a PAN may hide inside them.
std::string mask_pans(std::string_view text);

// Valid UTF-8 is kept; control characters, backslashes and bytes that are not UTF-8 are
// written as \xNN (\n, \t and \r as such), so binary records print on one line.
std::string escape_bytes(std::string_view bytes);

// What to print: masked, then escaped.
inline std::string printable(std::string_view bytes) { return escape_bytes(mask_pans(bytes)); }

// A DLQ record as read from the topic.
struct Entry {
    int32_t partition = 0;
    int64_t offset = 0;
    int64_t timestamp_ms = -1;
    std::string key;
    std::string value;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string header(std::string_view name) const;
};

// The original bytes of a DLQ record: its sealed envelope opened with the configured keys,
// or the value itself when it is not sealed.
struct Original {
    std::string bytes;
    bool sealed = false;
    bool opened = false;  // false: sealed under a key the keys file does not hold
    bool truncated = false;  // only the first max_record_bytes of a larger record were kept
};
Original original_of(const Entry& e, const CardVault& vault);

// The payment_id of a request's bytes when the JSON is readable and the id valid, else empty.
std::string payment_id_of(std::string_view request_bytes);

// One line of `dlq list`, and its JSON form.
std::string list_line(const Entry& e, const Original& o);
std::string list_json(const Entry& e, const Original& o);
// `dlq show`: headers, key, the original masked and escaped.
std::string show_text(const std::string& dlq_topic, const Entry& e, const Original& o);

// Why a replay is refused, nullopt when it may go: a record dead-lettered as oversize_record,
// or by a stage after the router (its value is no request), needs a fixed version
// (--from-file); bytes the router would dead-letter again (decode_request) are refused with
// that reason.
std::optional<std::string> replay_refusal(std::string_view dlq_reason, bool from_requests, bool from_file,
                                          std::string_view bytes, size_t max_record_bytes);

// The record a replay sends: payments.requests, key = root id of the request, the DLQ
// record's traceparent, `turnout.replayed-from: <dlq topic>:<partition>:<offset>`.
// Call only after replay_refusal said yes (the bytes decode).
kafka::OutRecord replay_record(const Config& cfg, const Entry& e, std::string bytes);

// ---- Commands (Kafka) -------------------------------------------------------------------

// Every committed DLQ record from the beginning to the end as of the call.
std::vector<Entry> read_all(const KafkaConfig& cfg);
// The record at `pos`; nullopt when there is none.
std::optional<Entry> read_at(const KafkaConfig& cfg, Position pos);

struct ListOptions {
    std::string reason, stage;
    size_t limit = 0;  // 0 = all
    bool json = false;
};
// Prints the records that match, then a count by reason. Returns the exit code.
int list(const Config& cfg, const CardVault& vault, const ListOptions& o, std::ostream& out);
int show(const Config& cfg, const CardVault& vault, Position pos, std::ostream& out, std::ostream& err);
// `from_file` empty: the original bytes. Prints what was sent (masked).
int replay(const Config& cfg, const CardVault& vault, Position pos, const std::string& from_file, std::ostream& out,
           std::ostream& err);

}  // namespace turnout::dlq
