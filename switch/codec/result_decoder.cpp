#include "codec/result_decoder.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>

#include "codec/json_members.hpp"

#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "codec/text_checks.hpp"
#include "model/time.hpp"

namespace turnout {
namespace json = boost::json;

namespace {

struct Bad {
    std::string_view field;
    std::string message;
};
using Check = std::optional<Bad>;

bool only_members(const json::object& o, std::initializer_list<std::string_view> names) {
    for (const auto& kv : o)
        if (std::find(names.begin(), names.end(), std::string_view(kv.key())) == names.end()) return false;
    return true;
}

// A member that must be a string when present; nullptr when absent, `wrong` set when not a string.
const json::string* string_member(const json::object& o, std::string_view key, bool& wrong) {
    auto* v = o.if_contains(key);
    if (!v) return nullptr;
    auto* s = v->if_string();
    if (!s) wrong = true;
    return s;
}

std::string_view view(const json::string* s) { return s ? std::string_view(s->data(), s->size()) : std::string_view{}; }

Check check_amount(const json::object& o, bool& present) {
    auto* v = o.if_contains("amount");
    present = v != nullptr;
    if (!v) return std::nullopt;
    auto* a = v->if_object();
    if (!a || !only_members(*a, {"value", "currency"}))
        return Bad{"amount", "amount must be an object {value, currency}"};
    auto* val = a->if_contains("value");
    if (!val || !val->is_int64() || val->get_int64() < 1 || val->get_int64() > kMaxAmountMinor)
        return Bad{"amount", "amount.value must be an integer of 1 .. 10^12 minor units"};
    bool wrong = false;
    auto* cur = string_member(*a, "currency", wrong);
    if (!cur || !text::is_currency(view(cur))) return Bad{"amount", "amount.currency must be a known ISO 4217 code"};
    return std::nullopt;
}

Check check_original(const json::object& o) {
    auto* v = o.if_contains("original");
    if (!v) return std::nullopt;
    auto* oo = v->if_object();
    if (!oo || !only_members(*oo, {"payment_id", "channel", "channel_ref"}))
        return Bad{"original", "original must be {payment_id, channel, channel_ref}"};
    bool wrong = false;
    auto* pid = string_member(*oo, "payment_id", wrong);
    auto* ch = string_member(*oo, "channel", wrong);
    auto* ref = string_member(*oo, "channel_ref", wrong);
    if (wrong || !pid || !valid_payment_id(view(pid)) || !ch || !text::is_channel_id(view(ch)) ||
        (ref && !text::is_clean_text(view(ref), 64, true)))
        return Bad{"original", "original needs a valid payment_id and channel id, and a channel_ref of at most 64 "
                               "bytes without control characters"};
    return std::nullopt;
}

Check check_times(const json::object& o, int64_t now_ms) {
    auto* v = o.if_contains("timestamps");
    auto* t = v ? v->if_object() : nullptr;
    if (!t) return Bad{"timestamps", "timestamps must be an object with completed_at"};
    for (const auto& kv : *t) {
        static constexpr std::string_view kNames[] = {"created_at", "received_at", "routed_at", "scored_at",
                                                      "completed_at"};
        if (std::find(std::begin(kNames), std::end(kNames), std::string_view(kv.key())) == std::end(kNames))
            return Bad{"timestamps", "unknown member in timestamps"};
        auto* s = kv.value().if_string();
        if (!s || s->size() > 40 || !parse_rfc3339(view(s)))
            return Bad{"timestamps", "timestamps must be RFC 3339 times"};
    }
    auto* done = t->if_contains("completed_at");
    if (!done) return Bad{"timestamps", "timestamps.completed_at is required"};
    const int64_t completed = *parse_rfc3339(view(done->if_string()));
    if (completed <= 0) return Bad{"timestamps", "timestamps.completed_at must be after 1970-01-01T00:00:00Z"};
    if (completed > now_ms + kResultClockSkewMs) return Bad{"timestamps", "timestamps.completed_at lies in the future"};
    return std::nullopt;
}

Check check_object(const json::object& o, std::optional<std::string_view> key, int64_t now_ms) {
    static constexpr std::string_view kFields[] = {"payment_id", "root_id",  "type",          "status",     "reason",
                                                   "amount",     "merchant_id", "channel",     "channel_ref", "approval_code",
                                                   "risk",       "route",    "instrument",    "original",   "timestamps"};
    for (const auto& kv : o)
        if (std::find(std::begin(kFields), std::end(kFields), std::string_view(kv.key())) == std::end(kFields))
            return Bad{"member", "unknown member in a result"};

    bool wrong = false;
    auto* pid = string_member(o, "payment_id", wrong);
    if (!pid || !valid_payment_id(view(pid))) return Bad{"payment_id", "payment_id must be 1-64 of [A-Za-z0-9._:-]"};
    auto* root = string_member(o, "root_id", wrong);
    if (wrong || (root && !root->empty() && !valid_payment_id(view(root))))
        return Bad{"root_id", "root_id must be empty or 1-64 of [A-Za-z0-9._:-]"};
    if (key) {
        const std::string_view filed_under = root && !root->empty() ? view(root) : view(pid);
        if (*key != filed_under) return Bad{"key", "the record key is not the result's root id"};
    }

    auto* status_s = string_member(o, "status", wrong);
    auto status = status_s ? parse_result_status(view(status_s)) : std::nullopt;
    if (!status) return Bad{"status", "status must be approved, declined, failed, rejected or reversed"};

    auto* type_s = string_member(o, "type", wrong);
    if (wrong || (type_s && !parse_payment_type(view(type_s))))
        return Bad{"type", "type must be sale, authorize, capture, void or refund"};

    auto* reason = o.if_contains("reason");
    auto* ro = reason ? reason->if_object() : nullptr;
    if (!ro || !only_members(*ro, {"code", "message"}))
        return Bad{"reason", "reason must be an object {code, message}"};
    {
        bool w = false;
        auto* code = string_member(*ro, "code", w);
        auto* msg = string_member(*ro, "message", w);
        if (w || !code || !text::is_code(view(code)) || !msg || msg->size() > 4096)
            return Bad{"reason", "reason.code must be 0-64 of [A-Za-z0-9._:-] and reason.message a string of at "
                                 "most 4096 bytes"};
    }

    bool has_amount = false;
    if (auto bad = check_amount(o, has_amount)) return bad;

    auto* merchant = string_member(o, "merchant_id", wrong);
    if (wrong || (merchant && !text::is_clean_text(view(merchant), 64)))
        return Bad{"merchant_id", "merchant_id must be 1-64 bytes without control characters"};
    auto* channel = string_member(o, "channel", wrong);
    if (wrong || (channel && !text::is_channel_id(view(channel))))
        return Bad{"channel", "channel must be 1-64 of [A-Za-z0-9_-]"};
    auto* ref = string_member(o, "channel_ref", wrong);
    if (wrong || (ref && !text::is_clean_text(view(ref), 128, true)))
        return Bad{"channel_ref", "channel_ref must be at most 128 bytes without control characters"};
    auto* approval = string_member(o, "approval_code", wrong);
    if (wrong || (approval && !text::is_clean_text(view(approval), 64, true)))
        return Bad{"approval_code", "approval_code must be at most 64 bytes without control characters"};

    for (std::string_view member : {"risk", "route", "instrument"})
        if (auto* v = o.if_contains(member); v && !v->is_object()) {
            const std::string_view field = member == "risk" ? "risk" : member == "route" ? "route" : "instrument";
            return Bad{field, std::string(member) + " must be an object"};
        }
    if (auto bad = check_original(o)) return bad;
    if (auto bad = check_times(o, now_ms)) return bad;

    // What every non-rejected result carries (the schema's required members).
    if (*status != ResultStatus::rejected) {
        if (!type_s) return Bad{"type", "a result other than rejected needs its type"};
        if (!has_amount) return Bad{"amount", "a result other than rejected needs its amount"};
        if (!merchant) return Bad{"merchant_id", "a result other than rejected needs its merchant_id"};
    }
    if (*status == ResultStatus::approved && !channel)
        return Bad{"channel", "an approved result needs the channel that approved it"};
    return std::nullopt;
}

}  // namespace

ResultOutcome decode_result_checked(std::string_view bytes, std::optional<std::string_view> key, int64_t now_ms,
                                    size_t max_bytes) {
    ResultOutcome out;
    auto refuse = [&](std::string_view reason, std::string_view field, std::string message) {
        out.problem = ResultProblem{reason, field, std::move(message)};
        return out;
    };
    if (bytes.size() > max_bytes)
        return refuse(result_reject::oversize_result, "",
                      "record of " + std::to_string(bytes.size()) + " bytes exceeds " + std::to_string(max_bytes));
    unsigned char buf[8192];
    json::monotonic_resource mr(buf, sizeof buf);
    json::parse_options opts;
    opts.max_depth = 16;
    json::error_code ec;
    json::value doc = json::parse(bytes, ec, &mr, opts);
    if (ec) return refuse(result_reject::undecodable_result, "", "not valid JSON: " + ec.message());
    auto* o = doc.if_object();
    if (!o) return refuse(result_reject::undecodable_result, "", "a result must be a JSON object");
    if (has_repeated_member(bytes, doc))
        return refuse(result_reject::invalid_result, "member", "a member name appears twice in one object");
    if (auto bad = check_object(*o, key, now_ms)) return refuse(result_reject::invalid_result, bad->field, std::move(bad->message));
    out.result = detail::result_from_object(*o);
    if (!out.result) return refuse(result_reject::undecodable_result, "", "not readable as a result");
    return out;
}

}  // namespace turnout
