#include "codec/request_decoder.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <forward_list>
#include <functional>
#include <memory>
#include <unordered_set>
#include <vector>

#include <boost/container/small_vector.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "codec/message_parts.hpp"
#include "codec/request_checks.hpp"
#include "model/time.hpp"
#include "model/card_number.hpp"

namespace turnout {
namespace json = boost::json;
using request_checks::Invalid;

namespace {

// Card numbers hidden in free text: 13-19 digits, optionally grouped by single spaces or
// dashes ("4111 1111 1111 1111"), passing the Luhn check. A run of groups is read group by
// group, so a card number behind another number ("1 4111111111111111") is found too; an
// ungrouped run longer than 19 digits is not read as a card number (order numbers, bank
// references). `on_card(begin, end, digits)` is called for each, with its byte range in `s`.
template <typename F>
void scan_card_numbers(std::string_view s, F&& on_card) {
    struct Group {
        size_t begin, end;  // bytes [begin, end) of s
    };
    std::vector<Group> groups;
    auto end_run = [&] {
        for (size_t i = 0; i < groups.size(); ++i) {
            std::string digits;
            for (size_t j = i; j < groups.size() && digits.size() < 19; ++j) {
                digits.append(s.substr(groups[j].begin, groups[j].end - groups[j].begin));
                if (digits.size() >= 13 && digits.size() <= 19 && luhn_valid(digits)) {
                    on_card(groups[i].begin, groups[j].end, digits);
                    i = j;
                    break;
                }
            }
        }
        groups.clear();
    };
    for (size_t i = 0; i < s.size();) {
        if (s[i] >= '0' && s[i] <= '9') {
            size_t j = i;
            while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
            groups.push_back({i, j});
            // One space or dash between two digits keeps the run going.
            if (j + 1 < s.size() && (s[j] == ' ' || s[j] == '-') && s[j + 1] >= '0' && s[j + 1] <= '9') {
                i = j + 1;
                continue;
            }
            end_run();
            i = j;
            continue;
        }
        ++i;
    }
    end_run();
}

bool holds_card_number(std::string_view s) {
    bool found = false;
    scan_card_numbers(s, [&](size_t, size_t, const std::string&) { found = true; });
    return found;
}

}  // namespace

namespace request_checks {

bool is_upper_alpha(std::string_view s, size_t n) {
    if (s.size() != n) return false;
    for (char c : s)
        if (c < 'A' || c > 'Z') return false;
    return true;
}

bool is_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

bool is_pin_block(std::string_view s) {
    if (s.size() != 16 && s.size() != 32) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
    return true;
}

bool has_control_char(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return true;
    return false;
}

std::string name_for_message(std::string_view name) {
    std::string out(name.substr(0, 64));
    for (char& c : out)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')) c = '?';
    return out;
}

// Card data travels only in instrument.pan (sealed by the router). A card token or wallet
// provider that is a card number is refused: it is a card sent as the wrong kind, and so is a
// metadata key that is one (keys are names; masked, two could become one). Text the
// sender writes about the payment (metadata values, customer.id) keeps its card
// numbers masked (every digit '*'), so the payment goes on and the number never leaves the
// router in clear. Not checked: payment_id, merchant.id (acquirers' merchant
// ids are 15-digit numbers), original.channel_ref (the channel's own transaction number),
// bank account and wallet tokens (account numbers and device tokens): long digit runs there
// are identifiers, and refusing or altering them would break payments.
std::optional<Invalid> free_text_card_number(PaymentRequest& r, size_t& masked) {
    auto found = [](std::string_view field) {
        return Invalid{reject::card_number_in_free_text,
                       std::string(field) + " holds what looks like a card number; send it only as instrument.pan"};
    };
    if (r.instrument && r.instrument->kind == InstrumentKind::card_token && holds_card_number(r.instrument->token))
        return found("instrument.token");
    if (r.instrument && holds_card_number(r.instrument->provider)) return found("instrument.provider");
    // A metadata key is a name, not text: masked, two keys could become one.
    for (const auto& [k, v] : r.metadata)
        if (holds_card_number(k)) return found("a metadata key");
    if (r.customer) masked += mask_card_numbers(r.customer->id);
    for (auto& [k, v] : r.metadata) masked += mask_card_numbers(v);
    return std::nullopt;
}

}  // namespace request_checks

namespace {
using namespace request_checks;

// What the decoder keeps of one JSON value: its kind, and a string's or number's content
// (a string points into the record, or into the decoder's arena when it held escapes).
struct Value {
    enum class Kind : uint8_t { none, string, int64, uint64, number, boolean, null, object, array };
    Kind kind = Kind::none;
    std::string_view text;
    int64_t int64 = 0;
    double number = 0;
    bool present() const { return kind != Kind::none; }
    const std::string_view* string() const { return kind == Kind::string ? &text : nullptr; }
};

// An object of known member names (the request, or one of its objects): each known
// member's value, the members in the order written up to the first unknown name, and how
// many members there are. Every member name is unique (a repeated one refuses the record
// before validation), so the order holds at most every known name and one unknown.
struct KnownObject {
    static constexpr size_t kMax = 9;
    const std::string_view* names = nullptr;
    size_t name_count = 0;
    std::array<Value, kMax> values{};
    std::array<int8_t, kMax + 1> order{};  // slot of each member written, -1 for the unknown one
    size_t ordered = 0;
    std::string_view first_unknown;
    size_t members = 0;

    template <size_t N>
    explicit KnownObject(const std::array<std::string_view, N>& n) : names(n.data()), name_count(N) {
        static_assert(N <= kMax);
    }
    int slot(std::string_view key) const {
        for (size_t i = 0; i < name_count; ++i)
            if (names[i] == key) return static_cast<int>(i);
        return -1;
    }
    const Value& operator[](size_t slot) const { return values[slot]; }
    // The first member, in the order written, whose name `allowed` refuses; or none.
    template <typename Allowed>
    std::optional<std::string_view> first_outside(Allowed&& allowed) const {
        for (size_t i = 0; i < ordered; ++i) {
            const std::string_view name = order[i] < 0 ? first_unknown : names[order[i]];
            if (order[i] < 0 || !allowed(static_cast<size_t>(order[i]))) return name;
        }
        return std::nullopt;
    }
    std::optional<std::string_view> first_unknown_name() const {
        return first_outside([](size_t) { return true; });
    }
};

// The members of the request and of its objects, by slot.
namespace top {
constexpr std::array<std::string_view, 9> names{"payment_id", "type",     "merchant", "amount",    "instrument",
                                                 "customer",   "metadata", "original", "created_at"};
enum : size_t { payment_id, type, merchant, amount, instrument, customer, metadata, original, created_at };
}  // namespace top
namespace merchant {
constexpr std::array<std::string_view, 3> names{"id", "mcc", "country"};
enum : size_t { id, mcc, country };
}  // namespace merchant
namespace amount {
constexpr std::array<std::string_view, 2> names{"value", "currency"};
enum : size_t { value, currency };
}  // namespace amount
namespace instrument {
constexpr std::array<std::string_view, 6> names{"kind", "pan", "expiry", "token", "provider", "pin_block"};
enum : size_t { kind, pan, expiry, token, provider, pin_block };
}  // namespace instrument
namespace original {
constexpr std::array<std::string_view, 3> names{"payment_id", "channel", "channel_ref"};
enum : size_t { payment_id, channel, channel_ref };
}  // namespace original
namespace customer {
constexpr std::array<std::string_view, 3> names{"id", "ip", "country"};
enum : size_t { id, ip, country };
}  // namespace customer

// Metadata: its members in order, the first 21 of them (more than 20 refuses the request).
struct Metadata {
    static constexpr size_t kKept = 21;
    boost::container::small_vector<std::pair<std::string_view, Value>, 4> kept;
    size_t members = 0;
};

// A Boost.JSON basic_parser handler that reads a payment request in one pass over the text,
// without building a document: the values of the members validation looks at, and whether
// any object, at any depth, names a member twice. The parser itself checks the syntax, the
// depth limit and UTF-8, and classifies numbers as Boost.JSON's document parser does.
class RequestReader {
public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    explicit RequestReader(std::string_view input) : input_(input) {}

    Value::Kind root = Value::Kind::none;
    bool repeated_member = false;
    KnownObject request{top::names};
    KnownObject merchant{merchant::names}, amount{amount::names}, instrument{instrument::names},
        original{original::names}, customer{customer::names};
    Metadata metadata;

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }
    bool on_object_begin(json::error_code& ec) { return open(true, ec); }
    bool on_object_end(std::size_t, json::error_code&) { return close(); }
    bool on_array_begin(json::error_code& ec) { return open(false, ec); }
    bool on_array_end(std::size_t, json::error_code&) { return close(); }
    bool on_key_part(json::string_view s, std::size_t, json::error_code&) { return add_part(s); }
    bool on_key(json::string_view s, std::size_t, json::error_code&) {
        const std::string_view key = stable(whole(s));
        part_.clear();
        Frame& f = frames_[depth_ - 1];
        // A known name is repeated when its slot already holds a value (a value is put
        // before the next name is read); other names are looked up.
        slot_ = f.known ? f.known->slot(key) : -1;
        if (!repeated_member)
            repeated_member = slot_ >= 0 ? f.known->values[static_cast<size_t>(slot_)].present() : !remember_key(f, key);
        key_ = key;
        return true;
    }
    bool on_string_part(json::string_view s, std::size_t, json::error_code&) { return add_part(s); }
    bool on_string(json::string_view s, std::size_t, json::error_code&) {
        const std::string_view text = whole(s);
        if (wanted()) {
            Value v;
            v.kind = Value::Kind::string;
            v.text = stable(text);
            put(v);
        }
        part_.clear();
        return true;
    }
    bool on_number_part(json::string_view, json::error_code&) { return true; }
    bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
        Value v;
        v.kind = Value::Kind::int64;
        v.int64 = i;
        return put(v);
    }
    bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return put_kind(Value::Kind::uint64); }
    bool on_double(double d, json::string_view, json::error_code&) {
        Value v;
        v.kind = Value::Kind::number;
        v.number = d;
        return put(v);
    }
    bool on_bool(bool, json::error_code&) { return put_kind(Value::Kind::boolean); }
    bool on_null(json::error_code&) { return put_kind(Value::Kind::null); }
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }

private:
    // One open object or array: where its members' values go (request, one of its objects,
    // metadata, or nowhere), and where its member names start in keys_.
    struct Frame {
        bool object = false;
        KnownObject* known = nullptr;
        Metadata* meta = nullptr;
        size_t keys_begin = 0;
        std::unique_ptr<std::unordered_set<std::string_view>> many;  // names of a large object
    };
    static constexpr size_t kLinearNames = 16;  // beyond this many names, a hash set

    std::string_view input_;
    std::array<Frame, 18> frames_{};  // the parser stops at depth 16
    size_t depth_ = 0;
    std::string_view key_;  // the name of the member whose value comes next
    int slot_ = -1;         // its slot when the open object is a known one
    boost::container::small_vector<std::string_view, 48> keys_;
    std::string part_;
    std::forward_list<std::string> arena_;  // names and strings the parser unescaped (no allocation until one is)

    // A name or string the parser hands over in parts (it had escapes, say): the parts so far.
    bool add_part(json::string_view s) {
        part_.append(s.data(), s.size());
        return true;
    }
    // The whole name or string: the parts so far and this last one.
    std::string_view whole(json::string_view last) {
        if (part_.empty()) return {last.data(), last.size()};
        part_.append(last.data(), last.size());
        return part_;
    }

    // A view that outlives the callback: the record's own bytes, else a copy.
    std::string_view stable(std::string_view s) {
        const std::less_equal<const char*> le;  // a total order, also for pointers into other buffers
        if (le(input_.data(), s.data()) && le(s.data() + s.size(), input_.data() + input_.size())) return s;
        return arena_.emplace_front(s);
    }

    // False when the open object already has this member name.
    bool remember_key(Frame& f, std::string_view key) {
        if (f.many) return f.many->insert(key).second;
        for (size_t i = f.keys_begin; i < keys_.size(); ++i)
            if (keys_[i] == key) return false;
        keys_.push_back(key);
        if (keys_.size() - f.keys_begin > kLinearNames) {
            f.many = std::make_unique<std::unordered_set<std::string_view>>(keys_.begin() + f.keys_begin, keys_.end());
            keys_.resize(f.keys_begin);
        }
        return true;
    }

    // Whether the value now read is one validation looks at.
    bool wanted() const {
        if (depth_ == 0) return true;
        const Frame& f = frames_[depth_ - 1];
        return f.object && (f.known || f.meta);
    }

    bool put_kind(Value::Kind k) {
        Value v;
        v.kind = k;
        return put(v);
    }

    bool put(const Value& v) {
        if (depth_ == 0) {
            root = v.kind;
            return true;
        }
        Frame& f = frames_[depth_ - 1];
        if (!f.object) return true;
        if (f.known) {
            KnownObject& o = *f.known;
            ++o.members;
            const int slot = slot_;
            if (slot >= 0) o.values[static_cast<size_t>(slot)] = v;
            // The order up to the first unknown name (a repeated name, which refuses the
            // record anyway, could fill it).
            if (!has_unknown(o) && o.ordered < o.order.size()) {
                if (slot < 0) o.first_unknown = key_;
                o.order[o.ordered++] = static_cast<int8_t>(slot);
            }
        } else if (f.meta) {
            if (f.meta->kept.size() < Metadata::kKept) f.meta->kept.emplace_back(key_, v);
            ++f.meta->members;
        }
        return true;
    }

    static bool has_unknown(const KnownObject& o) { return o.ordered > 0 && o.order[o.ordered - 1] < 0; }

    bool open(bool object, json::error_code& ec) {
        if (depth_ >= frames_.size()) {
            ec = json::error::too_deep;
            return false;
        }
        KnownObject* known = nullptr;
        Metadata* meta = nullptr;
        if (object && depth_ == 0) {
            known = &request;
        } else if (object && depth_ == 1 && frames_[0].known == &request) {
            switch (slot_) {
                case top::merchant: known = &merchant; break;
                case top::amount: known = &amount; break;
                case top::instrument: known = &instrument; break;
                case top::original: known = &original; break;
                case top::customer: known = &customer; break;
                case top::metadata: meta = &metadata; break;
                default: break;
            }
        }
        put_kind(object ? Value::Kind::object : Value::Kind::array);
        Frame& f = frames_[depth_++];
        f.object = object;
        f.known = known;
        f.meta = meta;
        f.keys_begin = keys_.size();
        f.many.reset();
        return true;
    }

    bool close() {
        Frame& f = frames_[--depth_];
        keys_.resize(f.keys_begin);
        f.many.reset();
        return true;
    }
};

// An optional short string member: absent is fine, present must be a string within limits.
bool optional_short_string(const Value& v, std::string& out, size_t max_len = 64) {
    if (!v.present()) return true;
    auto* s = v.string();
    if (!s || s->size() > max_len) return false;
    out.assign(*s);
    return true;
}

std::optional<Invalid> read_merchant(const RequestReader& in, Merchant& m) {
    if (in.request[top::merchant].kind != Value::Kind::object)
        return Invalid{reject::invalid_merchant, "merchant must be an object with an id"};
    const KnownObject& mo = in.merchant;
    if (auto name = mo.first_unknown_name())
        return Invalid{reject::invalid_merchant, "unknown merchant field `" + name_for_message(*name) + "`"};
    auto* id = mo[merchant::id].string();
    if (!id || id->empty() || id->size() > 64 || has_control_char(*id))
        return Invalid{reject::invalid_merchant, "merchant.id must be 1-64 characters without control characters"};
    m.id.assign(*id);
    if (!optional_short_string(mo[merchant::mcc], m.mcc, 4) || (!m.mcc.empty() && (m.mcc.size() != 4 || !is_digits(m.mcc))))
        return Invalid{reject::invalid_merchant, "merchant.mcc must be 4 digits"};
    if (!optional_short_string(mo[merchant::country], m.country, 2) || (!m.country.empty() && !is_upper_alpha(m.country, 2)))
        return Invalid{reject::invalid_merchant, "merchant.country must be ISO 3166 alpha-2"};
    return std::nullopt;
}

std::optional<Invalid> read_amount(const RequestReader& in, Money& m) {
    const Value& v = in.request[top::amount];
    if (!v.present()) return Invalid{reject::missing_amount, "amount is required"};
    if (v.kind != Value::Kind::object) return Invalid{reject::missing_amount, "amount must be an object {value, currency}"};
    const KnownObject& ao = in.amount;
    if (auto name = ao.first_unknown_name())
        return Invalid{reject::unknown_field, "unknown amount field `" + name_for_message(*name) + "`"};
    const Value& val = ao[amount::value];
    if (!val.present()) return Invalid{reject::missing_amount, "amount.value is required"};
    if (val.kind == Value::Kind::int64) {
        m.value = val.int64;
    } else if (val.kind == Value::Kind::uint64 ||
               (val.kind == Value::Kind::number && std::abs(val.number) > double(kMaxAmountMinor))) {
        // Beyond uint64 the parser gives a double; a number that large is out of range first.
        return Invalid{reject::amount_out_of_range, "amount.value must be 1 .. 10^12 minor units"};
    } else {
        return Invalid{reject::amount_not_integer, "amount.value must be an integer count of minor units"};
    }
    if (m.value < 1 || m.value > kMaxAmountMinor)
        return Invalid{reject::amount_out_of_range, "amount.value must be 1 .. 10^12 minor units"};
    auto* cur = ao[amount::currency].string();
    if (!cur || !is_upper_alpha(*cur, 3) || !find_currency(*cur))
        return Invalid{reject::unknown_currency, "amount.currency must be an ISO 4217 alpha code"};
    m.currency.assign(*cur);
    return std::nullopt;
}

std::optional<Invalid> read_instrument(const KnownObject& io, Instrument& in) {
    auto* kind = io[instrument::kind].string();
    auto k = kind ? parse_instrument_kind(*kind) : std::nullopt;
    if (!k) return Invalid{reject::invalid_instrument, "instrument.kind must be card, card_token, wallet or bank_account"};
    in.kind = *k;
    auto allowed = [&](std::initializer_list<size_t> slots) -> std::optional<Invalid> {
        auto name = io.first_outside([&](size_t slot) {
            return slot == instrument::kind || std::find(slots.begin(), slots.end(), slot) != slots.end();
        });
        if (name) return Invalid{reject::invalid_instrument, "unknown instrument field `" + name_for_message(*name) + "`"};
        return std::nullopt;
    };
    switch (in.kind) {
        case InstrumentKind::card: {
            if (auto bad = allowed({instrument::pan, instrument::expiry, instrument::pin_block})) return bad;
            auto* pan = io[instrument::pan].string();
            if (!pan || pan->size() < 12 || pan->size() > 19 || !is_digits(*pan) || !luhn_valid(*pan))
                return Invalid{reject::invalid_pan, "instrument.pan must be 12-19 digits passing the Luhn check"};
            in.pan.assign(*pan);
            auto* exp = io[instrument::expiry].string();
            if (!exp || exp->size() != 4 || !is_digits(*exp))
                return Invalid{reject::invalid_expiry, "instrument.expiry must be YYMM"};
            const int month = ((*exp)[2] - '0') * 10 + ((*exp)[3] - '0');
            if (month < 1 || month > 12) return Invalid{reject::invalid_expiry, "instrument.expiry month must be 01-12"};
            in.expiry.assign(*exp);
            if (io[instrument::pin_block].present()) {
                auto* pb = io[instrument::pin_block].string();
                if (!pb || !is_pin_block(*pb))
                    return Invalid{reject::invalid_instrument,
                                   "instrument.pin_block must be 16 or 32 hex digits (an ISO 9564 PIN block)"};
                in.pin_block.assign(*pb);
            }
            break;
        }
        case InstrumentKind::card_token:
        case InstrumentKind::bank_account: {
            if (auto bad = allowed({instrument::token})) return bad;
            auto* tok = io[instrument::token].string();
            if (!tok || tok->empty() || tok->size() > 128 || has_control_char(*tok))
                return Invalid{reject::invalid_instrument, "instrument.token must be 1-128 characters"};
            in.token.assign(*tok);
            break;
        }
        case InstrumentKind::wallet: {
            if (auto bad = allowed({instrument::token, instrument::provider})) return bad;
            auto* tok = io[instrument::token].string();
            auto* prov = io[instrument::provider].string();
            if (!tok || tok->empty() || tok->size() > 128 || !prov || prov->empty() || prov->size() > 32 ||
                has_control_char(*tok) || has_control_char(*prov))
                return Invalid{reject::invalid_instrument, "a wallet needs provider (1-32) and token (1-128)"};
            in.token.assign(*tok);
            in.provider.assign(*prov);
            break;
        }
    }
    return std::nullopt;
}

std::optional<Invalid> validate(const RequestReader& in, PaymentRequest& r, size_t& masked) {
    const KnownObject& o = in.request;
    if (auto name = o.first_unknown_name())
        return Invalid{reject::unknown_field, "unknown field `" + name_for_message(*name) + "`"};

    auto* type = o[top::type].string();
    auto t = type ? parse_payment_type(*type) : std::nullopt;
    if (!t) return Invalid{reject::invalid_type, "type must be sale, authorize, capture, void or refund"};
    r.type = *t;

    if (auto bad = read_merchant(in, r.merchant)) return bad;
    if (auto bad = read_amount(in, r.amount)) return bad;

    if (o[top::instrument].present()) {
        if (o[top::instrument].kind != Value::Kind::object)
            return Invalid{reject::invalid_instrument, "instrument must be an object"};
        r.instrument.emplace();
        if (auto bad = read_instrument(in.instrument, *r.instrument)) return bad;
        if (is_follow_up(r.type) && !r.instrument->pin_block.empty())
            return Invalid{reject::invalid_instrument, "a capture, void or refund carries no PIN block"};
    } else if (!is_follow_up(r.type)) {
        return Invalid{reject::missing_instrument, "instrument is required for sale and authorize"};
    }

    if (is_follow_up(r.type)) {
        const Value& v = o[top::original];
        if (!v.present())
            return Invalid{reject::missing_original, "capture, void and refund need original {payment_id, channel, channel_ref}"};
        const bool object = v.kind == Value::Kind::object;
        const KnownObject& oo = in.original;
        auto* pid = object ? oo[original::payment_id].string() : nullptr;
        auto* ch = object ? oo[original::channel].string() : nullptr;
        auto* ref = object ? oo[original::channel_ref].string() : nullptr;
        if (!pid || !valid_payment_id(*pid) || !ch || ch->empty() || ch->size() > 64 || has_control_char(*ch) || !ref ||
            ref->size() > 64 || has_control_char(*ref) || oo.members != 3)
            return Invalid{reject::invalid_original, "original must be {payment_id, channel, channel_ref}"};
        r.original = OriginalRef{std::string(*pid), std::string(*ch), std::string(*ref)};
    } else if (o[top::original].present()) {
        return Invalid{reject::invalid_original, "original is only allowed on capture, void and refund"};
    }

    auto* created = o[top::created_at].string();
    auto when = created ? parse_rfc3339(*created) : std::nullopt;
    if (!when) return Invalid{reject::invalid_created_at, "created_at must be an RFC 3339 timestamp"};
    r.created_at_ms = *when;

    if (o[top::customer].present()) {
        if (o[top::customer].kind != Value::Kind::object)
            return Invalid{reject::invalid_customer, "customer must be an object"};
        const KnownObject& co = in.customer;
        if (auto name = co.first_unknown_name())
            return Invalid{reject::invalid_customer, "unknown customer field `" + name_for_message(*name) + "`"};
        Customer c;
        if (!optional_short_string(co[customer::id], c.id) || !optional_short_string(co[customer::ip], c.ip, 45) ||
            !optional_short_string(co[customer::country], c.country, 2) ||
            (!c.country.empty() && !is_upper_alpha(c.country, 2)) || has_control_char(c.id) || has_control_char(c.ip))
            return Invalid{reject::invalid_customer, "customer fields are id, ip and an ISO 3166 alpha-2 country"};
        r.customer = std::move(c);
    }

    if (o[top::metadata].present()) {
        if (o[top::metadata].kind != Value::Kind::object || in.metadata.members > 20)
            return Invalid{reject::invalid_metadata, "metadata must be an object of at most 20 strings"};
        r.metadata.reserve(in.metadata.kept.size());
        for (const auto& [key, value] : in.metadata.kept) {
            auto* s = value.string();
            if (!s || key.size() > 64 || s->size() > 256 || has_control_char(key) || has_control_char(*s))
                return Invalid{reject::invalid_metadata,
                               "metadata values must be strings without control characters (keys ≤ 64, values ≤ 256)"};
            r.metadata.emplace_back(std::string(key), std::string(*s));
        }
    }
    return free_text_card_number(r, masked);
}

}  // namespace

size_t mask_card_numbers(std::string& text) {
    std::string out;
    size_t from = 0, n = 0;
    // Every digit of the number becomes '*', separators stay: no digit is left that could
    // join a neighbour into another card number, so masking twice gives the same text.
    scan_card_numbers(text, [&](size_t begin, size_t end, const std::string&) {
        out.append(text, from, begin - from);
        for (size_t i = begin; i < end; ++i) out += (text[i] >= '0' && text[i] <= '9') ? '*' : text[i];
        from = end;
        ++n;
    });
    if (n == 0) return 0;
    out.append(text, from, std::string::npos);
    text = std::move(out);
    return n;
}

bool valid_payment_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

DecodeOutcome decode_request(std::string_view bytes, size_t max_record_bytes) {
    DecodeOutcome out;
    auto rejected = [&](std::string_view code, std::string message, std::string pid = {}, std::string root = {}) {
        out.rejection = Rejection{std::string(code), std::move(message), std::move(pid), std::move(root)};
        return out;
    };
    if (bytes.size() > max_record_bytes)
        return rejected(reject::oversize_record,
                        "record of " + std::to_string(bytes.size()) + " bytes exceeds " + std::to_string(max_record_bytes));

    json::parse_options opts;
    opts.max_depth = 16;
    json::basic_parser<RequestReader> parser(opts, bytes);
    json::error_code ec;
    const size_t used = parser.write_some(false, bytes.data(), bytes.size(), ec);
    if (!ec && used < bytes.size()) ec = json::error::extra_data;
    if (ec) return rejected(reject::invalid_json, "not valid JSON: " + ec.message());
    const RequestReader& in = parser.handler();
    // Two values for one member: readers disagree on which counts (one keeps the last,
    // another may take the first), so the record is refused as a whole.
    if (in.repeated_member)
        return rejected(reject::invalid_json, "not valid JSON for a payment: a member name appears twice in one object");
    if (in.root != Value::Kind::object) return rejected(reject::not_an_object, "a payment request must be a JSON object");

    const Value& pidv = in.request[top::payment_id];
    if (!pidv.present()) return rejected(reject::missing_payment_id, "payment_id is required");
    auto* pid = pidv.string();
    if (!pid || !valid_payment_id(*pid))
        return rejected(reject::invalid_payment_id, "payment_id must be 1-64 characters of [A-Za-z0-9._:-]");

    PaymentRequest& r = out.request.emplace();
    r.payment_id.assign(*pid);
    if (auto bad = validate(in, r, out.masked_card_numbers)) {
        std::string root = r.payment_id;
        // A follow-up's result is keyed by its root (original) id when that is readable.
        if (in.request[top::original].kind == Value::Kind::object)
            if (auto* opid = in.original[original::payment_id].string(); opid && valid_payment_id(*opid))
                if (auto* tp = in.request[top::type].string(); tp && *tp != "sale" && *tp != "authorize")
                    root.assign(*opid);
        std::string payment_id = std::move(r.payment_id);
        out.request.reset();
        return rejected(bad->code, std::move(bad->message), std::move(payment_id), std::move(root));
    }
    return out;
}

std::string encode_request(const PaymentRequest& r) {
    JsonWriter w(600);
    w.begin_object().field("payment_id", r.payment_id).field("type", to_string(r.type));
    json_parts::merchant(w, r.merchant);
    json_parts::money(w, "amount", r.amount);
    if (r.instrument) {
        const auto& in = *r.instrument;
        w.key("instrument").begin_object().field("kind", to_string(in.kind));
        switch (in.kind) {
            case InstrumentKind::card:
                w.field("pan", in.pan).field("expiry", in.expiry).optional_field("pin_block", in.pin_block);
                break;
            case InstrumentKind::wallet: w.field("provider", in.provider).field("token", in.token); break;
            default: w.field("token", in.token);
        }
        w.end_object();
    }
    json_parts::request_extras(w, r);
    w.field("created_at", format_rfc3339(r.created_at_ms));
    return w.end_object().take();
}

}  // namespace turnout
