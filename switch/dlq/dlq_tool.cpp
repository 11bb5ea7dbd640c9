#include "dlq/dlq_tool.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <tuple>

#include "codec/json_writer.hpp"
#include "codec/request_decoder.hpp"
#include "kafka/records.hpp"
#include "kafka/topic_reader.hpp"
#include "model/time.hpp"

namespace turnout::dlq {

namespace {
bool is_digit(char c) { return c >= '0' && c <= '9'; }

template <typename T>
std::optional<T> parse_number(std::string_view s) {
    T v{};
    if (s.empty() || !is_digit(s.front())) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Length of the UTF-8 sequence starting at s[i] when well formed (no overlongs, no
// surrogates, ≤ U+10FFFF), else 0.
size_t utf8_length(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (i + n > s.size()) return 0;
    if (b(1) < lo || b(1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if (b(k) < 0x80 || b(k) > 0xBF) return 0;
    return n;
}
}  // namespace

std::optional<Position> parse_position(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto p = parse_number<int32_t>(text.substr(0, colon));
    auto o = parse_number<int64_t>(text.substr(colon + 1));
    if (!p || !o) return std::nullopt;
    return Position{*p, *o};
}

std::string mask_pans(std::string_view text) {
    std::string out(text);
    size_t i = 0;
    while (i < out.size()) {
        if (!is_digit(out[i])) {
            ++i;
            continue;
        }
        // A run: digits, with single spaces or dashes between two digits.
        std::vector<size_t> digits;
        size_t j = i;
        while (j < out.size()) {
            if (is_digit(out[j])) {
                digits.push_back(j++);
            } else if ((out[j] == ' ' || out[j] == '-') && j + 1 < out.size() && is_digit(out[j + 1])) {
                ++j;
            } else {
                break;
            }
        }
        if (digits.size() >= 13)
            for (size_t k = 6; k + 4 < digits.size(); ++k) out[digits[k]] = '*';
        i = j;
    }
    return out;
}

std::string escape_bytes(std::string_view bytes) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size());
    for (size_t i = 0; i < bytes.size();) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c == '\\') out += "\\\\";
        else if (c >= 0x20 && c < 0x7F) out += static_cast<char>(c);
        else if (const size_t n = c >= 0x80 ? utf8_length(bytes, i) : 0; n > 0) {
            out.append(bytes.substr(i, n));
            i += n;
            continue;
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
        ++i;
    }
    return out;
}

std::string Entry::header(std::string_view name) const {
    for (auto it = headers.rbegin(); it != headers.rend(); ++it)
        if (it->first == name) return it->second;
    return {};
}

Original original_of(const Entry& e, const CardVault& vault) {
    boost::json::error_code ec;
    auto doc = boost::json::parse(e.value, ec);
    const boost::json::object* s = nullptr;
    if (!ec && doc.is_object())
        if (auto* v = doc.as_object().if_contains("sealed"); v && v->is_object()) {
            // The router's envelope: `sealed`, plus truncated/original_bytes/sha256 when the
            // record was larger than any request and only its first bytes are kept.
            bool envelope = true;
            for (const auto& kv : doc.as_object())
                envelope &= kv.key() == "sealed" || kv.key() == "truncated" || kv.key() == "original_bytes" ||
                            kv.key() == "sha256";
            if (envelope) s = &v->as_object();
        }
    if (!s) return {e.value, false, true};
    const bool truncated = doc.as_object().contains("truncated");
    auto str = [&](const char* k) {
        auto* v = s->if_contains(k);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    auto opened = vault.open(SealedData{str("key_id"), str("nonce"), str("ciphertext"), str("aad")}, {kDlqField, {}});
    if (!opened) return {{}, true, false, truncated};
    return {std::move(*opened), true, true, truncated};
}

std::string payment_id_of(std::string_view request_bytes) {
    boost::json::error_code ec;
    auto doc = boost::json::parse(request_bytes, ec);
    if (ec || !doc.is_object()) return {};
    auto* v = doc.as_object().if_contains("payment_id");
    if (!v || !v->is_string() || !valid_payment_id(v->as_string())) return {};
    return std::string(v->as_string());
}

namespace {
// Headers the switch itself writes (topic names, positions, reasons, trace ids) are shown
// escaped but not masked: a run id of 13 digits in a topic name is not card data.
std::string header_text(std::string_view name, std::string_view value) {
    return name.starts_with("turnout.") || name == kafka::kTraceparent ? escape_bytes(value) : printable(value);
}
std::string switch_header(const Entry& e, std::string_view name) { return header_text(name, e.header(name)); }
std::string source_of(const Entry& e) {
    return switch_header(e, "turnout.error.topic") + ":" + switch_header(e, "turnout.error.partition") + ":" +
           switch_header(e, "turnout.error.offset");
}
std::string time_of(const Entry& e) { return e.timestamp_ms >= 0 ? format_rfc3339(e.timestamp_ms) : "-"; }
std::string or_dash(std::string s) { return s.empty() ? "-" : s; }
}  // namespace

std::string list_line(const Entry& e, const Original& o) {
    std::ostringstream s;
    s << e.partition << ':' << e.offset << "  " << time_of(e) << "  stage=" << or_dash(switch_header(e, "turnout.error.stage"))
      << "  reason=" << or_dash(switch_header(e, "turnout.error.reason")) << "  from=" << source_of(e)
      << "  payment_id=" << (o.opened ? or_dash(printable(payment_id_of(o.bytes))) : "(sealed, key unknown)")
      << "  bytes=" << (o.opened ? o.bytes.size() : e.value.size()) << (o.sealed ? " sealed" : "");
    return s.str();
}

std::string list_json(const Entry& e, const Original& o) {
    JsonWriter w(256);
    w.begin_object().field("partition", int64_t{e.partition}).field("offset", e.offset);
    w.field("time", time_of(e));
    w.field("stage", switch_header(e, "turnout.error.stage"));
    w.field("reason", switch_header(e, "turnout.error.reason"));
    w.field("source_topic", switch_header(e, "turnout.error.topic"));
    w.field("source_partition", switch_header(e, "turnout.error.partition"));
    w.field("source_offset", switch_header(e, "turnout.error.offset"));
    w.field("payment_id", o.opened ? printable(payment_id_of(o.bytes)) : std::string());
    w.field("bytes", static_cast<int64_t>(o.opened ? o.bytes.size() : e.value.size()));
    w.field("sealed", o.sealed).field("opened", o.opened).end_object();
    return w.take();
}

std::string show_text(const std::string& dlq_topic, const Entry& e, const Original& o) {
    std::ostringstream s;
    s << "record   " << dlq_topic << ':' << e.partition << ':' << e.offset << "  " << time_of(e) << "\n";
    s << "key      " << printable(e.key) << "\n";
    for (const auto& [k, v] : e.headers) s << "header   " << printable(k) << ": " << header_text(k, v) << "\n";
    if (o.sealed && !o.opened) {
        s << "value    sealed under a key the keys file does not hold (" << e.value.size() << " bytes)\n";
        return s.str();
    }
    s << "value    " << (o.sealed ? "unsealed, " : "") << o.bytes.size() << " bytes"
      << (o.truncated ? " (the first bytes only: the record was larger than any request)" : "")
      << ", card numbers masked\n";
    s << printable(o.bytes) << "\n";
    return s.str();
}

std::optional<std::string> replay_refusal(std::string_view dlq_reason, bool from_requests, bool from_file,
                                          std::string_view bytes, size_t max_record_bytes) {
    if (dlq_reason == reject::oversize_record && !from_file)
        return "dead-lettered as oversize_record: replay a fixed version with --from-file";
    if (!from_requests && !from_file)
        return "not a request (dead-lettered from another topic): replay a request written with --from-file";
    auto d = decode_request(bytes, max_record_bytes);
    if (d.rejection)
        return "the router would dead-letter it again: " + d.rejection->code + " (" + d.rejection->message + ")";
    return std::nullopt;
}

kafka::OutRecord replay_record(const Config& cfg, const Entry& e, std::string bytes) {
    auto d = decode_request(bytes, cfg.max_record_bytes);
    std::string key = d.request ? d.request->root_id() : std::string();
    kafka::OutRecord r{cfg.kafka.topics.requests, std::move(key), std::move(bytes), {}};
    r.headers = kafka::descend_headers(e.header(kafka::kTraceparent));
    r.headers.emplace_back("turnout.replayed-from",
                           cfg.kafka.topics.dlq + ":" + std::to_string(e.partition) + ":" + std::to_string(e.offset));
    return r;
}

// ---- Kafka -----------------------------------------------------------------------------

namespace {
// assign() only: the group id is never joined nor committed to.
kafka::TopicReader reader(const KafkaConfig& cfg) {
    return kafka::TopicReader(cfg, "turnout.dlq-tool", {{"fetch.wait.max.ms", "10"}});
}

Entry entry_of(const kafka::Record& r) {
    Entry e;
    e.partition = r.partition;
    e.offset = r.offset;
    e.timestamp_ms = kafka::timestamp_ms(r);
    e.key.assign(r.key);
    e.value.assign(r.value);
    e.headers = kafka::all_headers(r);
    return e;
}
}  // namespace

std::vector<Entry> read_all(const KafkaConfig& cfg) {
    auto c = reader(cfg);
    std::map<int32_t, std::pair<int64_t, int64_t>> ranges;
    for (int32_t p : c.partitions(cfg.topics.dlq)) ranges[p] = c.watermarks(cfg.topics.dlq, p);
    std::vector<Entry> out;
    c.read_ranges(cfg.topics.dlq, ranges, [&](const kafka::Record& r) {
        out.push_back(entry_of(r));
        return true;
    });
    std::sort(out.begin(), out.end(),
              [](const Entry& a, const Entry& b) { return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset); });
    return out;
}

std::optional<Entry> read_at(const KafkaConfig& cfg, Position pos) {
    auto c = reader(cfg);
    const auto parts = c.partitions(cfg.topics.dlq);
    if (std::find(parts.begin(), parts.end(), pos.partition) == parts.end()) return std::nullopt;
    const auto [lo, hi] = c.watermarks(cfg.topics.dlq, pos.partition);
    if (pos.offset < lo || pos.offset >= hi) return std::nullopt;
    std::optional<Entry> found;
    c.read_ranges(cfg.topics.dlq, {{pos.partition, {pos.offset, hi}}}, [&](const kafka::Record& r) {
        if (r.offset != pos.offset) return r.offset < pos.offset;  // past it: a marker or aborted record sat there
        found = entry_of(r);
        return false;
    });
    return found;
}

int list(const Config& cfg, const CardVault& vault, const ListOptions& o, std::ostream& out) {
    std::map<std::string, size_t> by_reason;
    size_t shown = 0, matched = 0;
    for (const auto& e : read_all(cfg.kafka)) {
        const auto reason = e.header("turnout.error.reason");
        if (!o.reason.empty() && reason != o.reason) continue;
        if (!o.stage.empty() && e.header("turnout.error.stage") != o.stage) continue;
        ++matched;
        ++by_reason[reason.empty() ? "-" : reason];
        if (o.limit && shown >= o.limit) continue;
        ++shown;
        const auto orig = original_of(e, vault);
        out << (o.json ? list_json(e, orig) : list_line(e, orig)) << "\n";
    }
    if (o.json) return 0;  // one JSON object per line, nothing else
    out << matched << " record(s) in " << cfg.kafka.topics.dlq << (shown < matched ? ", " + std::to_string(shown) + " shown" : "")
        << "\n";
    for (const auto& [reason, n] : by_reason) out << "  " << printable(reason) << ": " << n << "\n";
    return 0;
}

int show(const Config& cfg, const CardVault& vault, Position pos, std::ostream& out, std::ostream& err) {
    auto e = read_at(cfg.kafka, pos);
    if (!e) {
        err << "turnout: no record at " << cfg.kafka.topics.dlq << ":" << pos.partition << ":" << pos.offset << "\n";
        return 3;
    }
    out << show_text(cfg.kafka.topics.dlq, *e, original_of(*e, vault));
    return 0;
}

int replay(const Config& cfg, const CardVault& vault, Position pos, const std::string& from_file, std::ostream& out,
           std::ostream& err) {
    auto e = read_at(cfg.kafka, pos);
    if (!e) {
        err << "turnout: no record at " << cfg.kafka.topics.dlq << ":" << pos.partition << ":" << pos.offset << "\n";
        return 3;
    }
    std::string bytes;
    if (!from_file.empty()) {
        std::ifstream f(from_file, std::ios::binary);
        if (!f) throw std::runtime_error("cannot read " + from_file);
        std::stringstream ss;
        ss << f.rdbuf();
        bytes = ss.str();
        // An editor's final newline is not part of the request.
        while (!bytes.empty() && (bytes.back() == '\n' || bytes.back() == '\r')) bytes.pop_back();
    } else {
        const auto o = original_of(*e, vault);
        if (!o.opened) {
            err << "turnout: the record is sealed under a key the keys file does not hold\n";
            return 1;
        }
        bytes = o.bytes;
    }
    if (auto why = replay_refusal(e->header("turnout.error.reason"),
                                  e->header("turnout.error.topic") == cfg.kafka.topics.requests, !from_file.empty(),
                                  bytes, cfg.max_record_bytes)) {
        err << "turnout: not replayed: " << printable(*why) << "\n";
        return 1;
    }
    auto rec = replay_record(cfg, *e, std::move(bytes));

    const auto delivery = kafka::produce_and_wait(cfg.kafka, rec);
    if (!delivery.delivered) throw std::runtime_error(delivery.error);
    out << "replayed " << cfg.kafka.topics.dlq << ":" << pos.partition << ":" << pos.offset << " to " << rec.topic
        << ":" << delivery.partition << ":" << delivery.offset << "\n";
    out << "key      " << printable(rec.key) << "\n";
    for (const auto& [k, v] : rec.headers) out << "header   " << k << ": " << header_text(k, v) << "\n";
    out << "value    " << printable(rec.value) << "\n";
    return 0;
}

}  // namespace turnout::dlq
