#include "iso8583/mapping.hpp"

#include <ctime>
#include <vector>

#include "model/money.hpp"

namespace turnout::iso8583 {
namespace {

std::string digits(int64_t v, int width) {
    std::string s = std::to_string(v);
    if (static_cast<int>(s.size()) < width) s.insert(s.begin(), width - s.size(), '0');
    return s;
}

bool is_digits(std::string_view s) {
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return !s.empty();
}

}  // namespace

std::string format_channel_ref(const OriginalData& o) {
    std::string r = "iso8583:" + o.mti + ":" + o.stan + ":" + o.transmission + ":" + o.rrn + ":" + o.terminal;
    if (!o.approval.empty()) r += ":" + o.approval;
    return r;
}

std::optional<OriginalData> parse_channel_ref(std::string_view ref) {
    constexpr std::string_view prefix = "iso8583:";
    if (ref.substr(0, prefix.size()) != prefix) return std::nullopt;
    ref.remove_prefix(prefix.size());
    std::vector<std::string> parts;
    while (true) {
        const auto colon = ref.find(':');
        parts.emplace_back(ref.substr(0, colon));
        if (colon == std::string_view::npos) break;
        ref.remove_prefix(colon + 1);
    }
    if (parts.size() != 5 && parts.size() != 6) return std::nullopt;
    OriginalData o{parts[0], parts[1], parts[2], parts[3], parts[4], "", parts.size() == 6 ? parts[5] : ""};
    if (o.mti.size() != 4 || !is_digits(o.mti) || o.stan.size() != 6 || !is_digits(o.stan) ||
        o.transmission.size() != 10 || !is_digits(o.transmission) || o.rrn.empty() || o.rrn.size() > 12 ||
        o.terminal.size() > 8 || o.approval.size() > 6)
        return std::nullopt;
    return o;
}

std::string original_data_elements(const OriginalData& o) {
    std::string acq = o.acquirer;
    if (acq.size() < 11) acq.insert(acq.begin(), 11 - acq.size(), '0');
    return o.mti + o.stan + o.transmission + acq + std::string(11, '0');
}

std::string rrn_for(std::string_view payment_id) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a 64
    for (char c : payment_id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    std::string out(12, '0');
    for (int i = 11; i >= 0; --i) {  // 36^12 > 2^62: collisions only among ~10^9 payments
        out[i] = alphabet[h % 36];
        h /= 36;
    }
    return out;
}

std::optional<IsoMessage> request_for(const RoutedPayment& p, const std::string& pan, const MessageSettings& s,
                                      std::string* why) {
    const auto& r = p.request;
    IsoMessage m;
    std::optional<OriginalData> orig;
    if (is_follow_up(r.type)) {
        if (r.original) orig = parse_channel_ref(r.original->channel_ref);
        if (!orig) {
            if (why) *why = "original.channel_ref is not an iso8583 reference";
            return std::nullopt;
        }
    }
    switch (r.type) {
        case PaymentType::authorize: m.mti = "0100"; m.set(3, "000000"); break;
        case PaymentType::sale: m.mti = "0200"; m.set(3, "000000"); break;
        case PaymentType::capture: m.mti = s.capture_as_advice ? "0220" : "0200"; m.set(3, "000000"); break;
        case PaymentType::refund: m.mti = "0200"; m.set(3, "200000"); break;
        case PaymentType::void_: m.mti = "0400"; m.set(3, "000000"); break;
    }
    if (!pan.empty()) m.set(2, pan);
    m.set(4, digits(r.amount.value, 12));
    if (r.instrument && r.instrument->expiry.size() == 4 && is_digits(r.instrument->expiry)) m.set(14, r.instrument->expiry);
    m.set(22, s.pos_entry_mode);
    m.set(32, s.acquirer_id);
    m.set(37, rrn_for(r.payment_id));
    // ans 15: longer merchant ids are cut (the acquirer assigns ids of this size).
    m.set(42, r.merchant.id.substr(0, 15));
    if (const auto cur = find_currency(r.amount.currency)) m.set(49, digits(cur->numeric, 3));
    if (orig) {
        if (orig->acquirer.empty()) orig->acquirer = s.acquirer_id;
        m.set(90, original_data_elements(*orig));
        if (!orig->approval.empty()) m.set(38, orig->approval);
    }
    return m;
}

IsoMessage reversal_for(const IsoMessage& request) {
    IsoMessage m;
    m.mti = "0400";
    // 41: the terminal the original went out with, so a host matching on terminal + field 90
    // finds it (the reversal's own STAN, time and 11 are set when it is sent).
    for (int f : {2, 3, 4, 14, 22, 32, 37, 41, 42, 49})
        if (request.has(f)) m.set(f, request.get(f));
    OriginalData o{request.mti, request.get(11), request.get(7), request.get(37), request.get(41), request.get(32), ""};
    m.set(90, original_data_elements(o));
    return m;
}

void stamp(IsoMessage& m, uint32_t stan, const std::string& terminal, int64_t epoch_ms) {
    const std::time_t t = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char dt[32], hms[32], md[32];
    std::snprintf(dt, sizeof dt, "%02d%02d%02d%02d%02d", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    std::snprintf(hms, sizeof hms, "%02d%02d%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    std::snprintf(md, sizeof md, "%02d%02d", tm.tm_mon + 1, tm.tm_mday);
    m.set(7, dt);
    m.set(11, digits(stan % 1000000, 6));
    m.set(12, hms);
    m.set(13, md);
    m.set(41, terminal);
}

std::string response_text(std::string_view code) {
    static const std::pair<const char*, const char*> texts[] = {
        {"00", "approved"},
        {"05", "do not honor"},
        {"12", "invalid transaction"},
        {"13", "invalid amount"},
        {"14", "invalid card number"},
        {"25", "unable to locate record"},
        {"30", "format error"},
        {"51", "insufficient funds"},
        {"54", "expired card"},
        {"55", "incorrect PIN"},
        {"57", "transaction not permitted to cardholder"},
        {"61", "exceeds withdrawal amount limit"},
        {"91", "issuer or switch inoperative"},
        {"94", "duplicate transmission"},
        {"96", "system malfunction"},
    };
    for (const auto& [c, t] : texts)
        if (code == c) return t;
    return "declined by the channel";
}

ChannelOutcome outcome_for_response(const IsoMessage& request, const IsoMessage& response) {
    using K = ChannelOutcome::Kind;
    const std::string code = response.get(39);
    ChannelOutcome o;
    o.code = code.empty() ? "missing_response_code" : code;
    o.message = response_text(code);
    if (code == "91" || code == "96") {
        o.kind = K::soft_failure;
        return o;
    }
    OriginalData ref{request.mti,
                     request.get(11),
                     request.get(7),
                     response.has(37) ? response.get(37) : request.get(37),
                     request.get(41),
                     request.get(32),
                     ""};
    // Trailing spaces of a fixed an field are padding.
    auto trim = [](std::string s) {
        while (!s.empty() && s.back() == ' ') s.pop_back();
        return s;
    };
    if (code == "00") {
        o.kind = K::approved;
        o.approval_code = trim(response.get(38));
        ref.approval = o.approval_code;
    } else {
        o.kind = K::declined;
    }
    ref.rrn = trim(ref.rrn);
    o.channel_ref = format_channel_ref(ref);
    return o;
}

ReversalVerdict reversal_verdict(std::string_view code) {
    if (code == "00") return ReversalVerdict::reversed;
    if (code == "25") return ReversalVerdict::original_not_found;
    return ReversalVerdict::unknown;
}

std::string response_mti(std::string_view mti) {
    if (mti.size() != 4 || !is_digits(mti)) return {};
    const char fn = mti[2];
    if (fn != '0' && fn != '2') return {};  // only requests (x0xx) and advices (x2xx) are answered
    std::string r(mti);
    r[2] = static_cast<char>(fn + 1);
    r[3] = '0';  // a repeat (xxx1) is answered like the original
    return r;
}

}  // namespace turnout::iso8583
