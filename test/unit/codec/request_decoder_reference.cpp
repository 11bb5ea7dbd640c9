// The request decoder as it was before it read the JSON text with its own handler: the whole
// document parsed into a Boost.JSON tree, then validated member by member. Kept as the
// reference the decoder is compared with (test/unit/codec/request_decoder_equivalence_test.cpp and
// the request decoder fuzz target): same request, or same rejection code and message.
#include "request_decoder_reference.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>

#include "codec/json_members.hpp"
#include "codec/request_checks.hpp"
#include "model/time.hpp"
#include "security/card_vault.hpp"

namespace turnout {
namespace json = boost::json;
using namespace request_checks;

namespace {

const json::string* get_string(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v ? v->if_string() : nullptr;
}

// An optional short string field: absent is fine, present must be a string within limits.
bool optional_short_string(const json::object& o, std::string_view key, std::string& out, size_t max_len = 64) {
    auto* v = o.if_contains(key);
    if (!v) return true;
    auto* s = v->if_string();
    if (!s || s->size() > max_len) return false;
    out.assign(s->data(), s->size());
    return true;
}

std::optional<Invalid> read_merchant(const json::object& o, Merchant& m) {
    auto* v = o.if_contains("merchant");
    auto* mo = v ? v->if_object() : nullptr;
    if (!mo) return Invalid{reject::invalid_merchant, "merchant must be an object with an id"};
    for (const auto& kv : *mo)
        if (kv.key() != "id" && kv.key() != "mcc" && kv.key() != "country")
            return Invalid{reject::invalid_merchant, "unknown merchant field `" + name_for_message(kv.key()) + "`"};
    auto* id = get_string(*mo, "id");
    if (!id || id->empty() || id->size() > 64 || has_control_char(*id))
        return Invalid{reject::invalid_merchant, "merchant.id must be 1-64 characters without control characters"};
    m.id.assign(id->data(), id->size());
    if (!optional_short_string(*mo, "mcc", m.mcc, 4) || (!m.mcc.empty() && (m.mcc.size() != 4 || !is_digits(m.mcc))))
        return Invalid{reject::invalid_merchant, "merchant.mcc must be 4 digits"};
    if (!optional_short_string(*mo, "country", m.country, 2) || (!m.country.empty() && !is_upper_alpha(m.country, 2)))
        return Invalid{reject::invalid_merchant, "merchant.country must be ISO 3166 alpha-2"};
    return std::nullopt;
}

std::optional<Invalid> read_amount(const json::object& o, Money& m) {
    auto* v = o.if_contains("amount");
    if (!v) return Invalid{reject::missing_amount, "amount is required"};
    auto* ao = v->if_object();
    if (!ao) return Invalid{reject::missing_amount, "amount must be an object {value, currency}"};
    for (const auto& kv : *ao)
        if (kv.key() != "value" && kv.key() != "currency")
            return Invalid{reject::unknown_field, "unknown amount field `" + name_for_message(kv.key()) + "`"};
    auto* val = ao->if_contains("value");
    if (!val) return Invalid{reject::missing_amount, "amount.value is required"};
    if (val->is_int64()) {
        m.value = val->get_int64();
    } else if (val->is_uint64() || (val->is_double() && std::abs(val->get_double()) > double(kMaxAmountMinor))) {
        // Beyond uint64 the parser gives a double; a number that large is out of range first.
        return Invalid{reject::amount_out_of_range, "amount.value must be 1 .. 10^12 minor units"};
    } else {
        return Invalid{reject::amount_not_integer, "amount.value must be an integer count of minor units"};
    }
    if (m.value < 1 || m.value > kMaxAmountMinor)
        return Invalid{reject::amount_out_of_range, "amount.value must be 1 .. 10^12 minor units"};
    auto* cur = get_string(*ao, "currency");
    if (!cur || !is_upper_alpha(*cur, 3) || !find_currency(*cur))
        return Invalid{reject::unknown_currency, "amount.currency must be an ISO 4217 alpha code"};
    m.currency.assign(cur->data(), cur->size());
    return std::nullopt;
}

std::optional<Invalid> read_instrument(const json::object& io, Instrument& in) {
    auto* kind = get_string(io, "kind");
    auto k = kind ? parse_instrument_kind(*kind) : std::nullopt;
    if (!k) return Invalid{reject::invalid_instrument, "instrument.kind must be card, card_token, wallet or bank_account"};
    in.kind = *k;
    auto allowed = [&](std::initializer_list<std::string_view> keys) -> std::optional<Invalid> {
        for (const auto& kv : io)
            if (kv.key() != "kind" && std::find(keys.begin(), keys.end(), kv.key()) == keys.end())
                return Invalid{reject::invalid_instrument, "unknown instrument field `" + name_for_message(kv.key()) + "`"};
        return std::nullopt;
    };
    switch (in.kind) {
        case InstrumentKind::card: {
            if (auto bad = allowed({"pan", "expiry", "pin_block"})) return bad;
            auto* pan = get_string(io, "pan");
            if (!pan || pan->size() < 12 || pan->size() > 19 || !is_digits(*pan) || !luhn_valid(*pan))
                return Invalid{reject::invalid_pan, "instrument.pan must be 12-19 digits passing the Luhn check"};
            in.pan.assign(pan->data(), pan->size());
            auto* exp = get_string(io, "expiry");
            if (!exp || exp->size() != 4 || !is_digits(*exp))
                return Invalid{reject::invalid_expiry, "instrument.expiry must be YYMM"};
            const int month = ((*exp)[2] - '0') * 10 + ((*exp)[3] - '0');
            if (month < 1 || month > 12) return Invalid{reject::invalid_expiry, "instrument.expiry month must be 01-12"};
            in.expiry.assign(exp->data(), exp->size());
            if (io.contains("pin_block")) {
                auto* pb = get_string(io, "pin_block");
                if (!pb || !is_pin_block(*pb))
                    return Invalid{reject::invalid_instrument,
                                   "instrument.pin_block must be 16 or 32 hex digits (an ISO 9564 PIN block)"};
                in.pin_block.assign(pb->data(), pb->size());
            }
            break;
        }
        case InstrumentKind::card_token:
        case InstrumentKind::bank_account: {
            if (auto bad = allowed({"token"})) return bad;
            auto* tok = get_string(io, "token");
            if (!tok || tok->empty() || tok->size() > 128 || has_control_char(*tok))
                return Invalid{reject::invalid_instrument, "instrument.token must be 1-128 characters"};
            in.token.assign(tok->data(), tok->size());
            break;
        }
        case InstrumentKind::wallet: {
            if (auto bad = allowed({"token", "provider"})) return bad;
            auto* tok = get_string(io, "token");
            auto* prov = get_string(io, "provider");
            if (!tok || tok->empty() || tok->size() > 128 || !prov || prov->empty() || prov->size() > 32 ||
                has_control_char(*tok) || has_control_char(*prov))
                return Invalid{reject::invalid_instrument, "a wallet needs provider (1-32) and token (1-128)"};
            in.token.assign(tok->data(), tok->size());
            in.provider.assign(prov->data(), prov->size());
            break;
        }
    }
    return std::nullopt;
}

std::optional<Invalid> validate(const json::object& o, PaymentRequest& r, size_t& masked) {
    static constexpr std::string_view kFields[] = {"payment_id", "type",     "merchant", "amount",    "instrument",
                                                   "customer",   "metadata", "original", "created_at"};
    for (const auto& kv : o)
        if (std::find(std::begin(kFields), std::end(kFields), kv.key()) == std::end(kFields))
            return Invalid{reject::unknown_field, "unknown field `" + name_for_message(kv.key()) + "`"};

    auto* type = get_string(o, "type");
    auto t = type ? parse_payment_type(*type) : std::nullopt;
    if (!t) return Invalid{reject::invalid_type, "type must be sale, authorize, capture, void or refund"};
    r.type = *t;

    if (auto bad = read_merchant(o, r.merchant)) return bad;
    if (auto bad = read_amount(o, r.amount)) return bad;

    if (auto* v = o.if_contains("instrument")) {
        auto* io = v->if_object();
        if (!io) return Invalid{reject::invalid_instrument, "instrument must be an object"};
        r.instrument.emplace();
        if (auto bad = read_instrument(*io, *r.instrument)) return bad;
        if (is_follow_up(r.type) && !r.instrument->pin_block.empty())
            return Invalid{reject::invalid_instrument, "a capture, void or refund carries no PIN block"};
    } else if (!is_follow_up(r.type)) {
        return Invalid{reject::missing_instrument, "instrument is required for sale and authorize"};
    }

    if (is_follow_up(r.type)) {
        auto* v = o.if_contains("original");
        if (!v) return Invalid{reject::missing_original, "capture, void and refund need original {payment_id, channel, channel_ref}"};
        auto* oo = v->if_object();
        auto* pid = oo ? get_string(*oo, "payment_id") : nullptr;
        auto* ch = oo ? get_string(*oo, "channel") : nullptr;
        auto* ref = oo ? get_string(*oo, "channel_ref") : nullptr;
        if (!pid || !valid_payment_id(*pid) || !ch || ch->empty() || ch->size() > 64 || has_control_char(*ch) || !ref ||
            ref->size() > 64 || has_control_char(*ref) || oo->size() != 3)
            return Invalid{reject::invalid_original, "original must be {payment_id, channel, channel_ref}"};
        r.original = OriginalRef{std::string(*pid), std::string(*ch), std::string(*ref)};
    } else if (o.contains("original")) {
        return Invalid{reject::invalid_original, "original is only allowed on capture, void and refund"};
    }

    auto* created = get_string(o, "created_at");
    auto when = created ? parse_rfc3339(*created) : std::nullopt;
    if (!when) return Invalid{reject::invalid_created_at, "created_at must be an RFC 3339 timestamp"};
    r.created_at_ms = *when;

    if (auto* v = o.if_contains("customer")) {
        auto* co = v->if_object();
        if (!co) return Invalid{reject::invalid_customer, "customer must be an object"};
        Customer c;
        for (const auto& kv : *co)
            if (kv.key() != "id" && kv.key() != "ip" && kv.key() != "country")
                return Invalid{reject::invalid_customer, "unknown customer field `" + name_for_message(kv.key()) + "`"};
        if (!optional_short_string(*co, "id", c.id) || !optional_short_string(*co, "ip", c.ip, 45) ||
            !optional_short_string(*co, "country", c.country, 2) || (!c.country.empty() && !is_upper_alpha(c.country, 2)) ||
            has_control_char(c.id) || has_control_char(c.ip))
            return Invalid{reject::invalid_customer, "customer fields are id, ip and an ISO 3166 alpha-2 country"};
        r.customer = std::move(c);
    }

    if (auto* v = o.if_contains("metadata")) {
        auto* mo = v->if_object();
        if (!mo || mo->size() > 20) return Invalid{reject::invalid_metadata, "metadata must be an object of at most 20 strings"};
        for (const auto& kv : *mo) {
            auto* s = kv.value().if_string();
            if (!s || kv.key().size() > 64 || s->size() > 256 || has_control_char(kv.key()) || has_control_char(*s))
                return Invalid{reject::invalid_metadata,
                               "metadata values must be strings without control characters (keys ≤ 64, values ≤ 256)"};
            r.metadata.emplace_back(std::string(kv.key()), std::string(*s));
        }
    }
    return free_text_card_number(r, masked);
}

}  // namespace

DecodeOutcome decode_request_reference(std::string_view bytes, size_t max_record_bytes) {
    DecodeOutcome out;
    auto rejected = [&](std::string_view code, std::string message, std::string pid = {}, std::string root = {}) {
        out.rejection = Rejection{std::string(code), std::move(message), std::move(pid), std::move(root)};
        return out;
    };
    if (bytes.size() > max_record_bytes)
        return rejected(reject::oversize_record,
                        "record of " + std::to_string(bytes.size()) + " bytes exceeds " + std::to_string(max_record_bytes));

    unsigned char buf[16384];
    json::monotonic_resource mr(buf, sizeof buf);
    json::parse_options opts;
    opts.max_depth = 16;
    json::error_code ec;
    json::value doc = json::parse(bytes, ec, &mr, opts);
    if (ec) return rejected(reject::invalid_json, "not valid JSON: " + ec.message());
    // Two values for one member: readers disagree on which counts (the parser keeps the last,
    // another system may take the first), so the record is refused as a whole.
    if (has_repeated_member(bytes, doc))
        return rejected(reject::invalid_json, "not valid JSON for a payment: a member name appears twice in one object");
    auto* o = doc.if_object();
    if (!o) return rejected(reject::not_an_object, "a payment request must be a JSON object");

    auto* pidv = o->if_contains("payment_id");
    if (!pidv) return rejected(reject::missing_payment_id, "payment_id is required");
    auto* pid = pidv->if_string();
    if (!pid || !valid_payment_id(*pid))
        return rejected(reject::invalid_payment_id, "payment_id must be 1-64 characters of [A-Za-z0-9._:-]");

    PaymentRequest r;
    r.payment_id.assign(pid->data(), pid->size());
    if (auto bad = validate(*o, r, out.masked_card_numbers)) {
        std::string root = r.payment_id;
        // A follow-up's result is keyed by its root (original) id when that is readable.
        if (auto* ov = o->if_contains("original"); ov && ov->is_object())
            if (auto* opid = get_string(ov->get_object(), "payment_id"); opid && valid_payment_id(*opid))
                if (auto* tp = get_string(*o, "type"); tp && *tp != "sale" && *tp != "authorize")
                    root.assign(opid->data(), opid->size());
        return rejected(bad->code, std::move(bad->message), r.payment_id, std::move(root));
    }
    out.request = std::move(r);
    return out;
}

}  // namespace turnout
