#include "loadgen/request_factory.hpp"

#include <array>

#include "codec/request_decoder.hpp"
#include "model/time.hpp"

namespace turnout {
namespace {
struct Weighted {
    const char* value;
    int weight;
};
template <size_t N>
const char* pick(std::mt19937_64& rng, const std::array<Weighted, N>& items) {
    int total = 0;
    for (const auto& i : items) total += i.weight;
    int r = std::uniform_int_distribution<int>(0, total - 1)(rng);
    for (const auto& i : items) {
        if (r < i.weight) return i.value;
        r -= i.weight;
    }
    return items.back().value;
}
constexpr std::array<Weighted, 5> kCurrencies{{{"EUR", 45}, {"USD", 30}, {"GBP", 15}, {"JPY", 5}, {"CHF", 5}}};
constexpr std::array<Weighted, 5> kBins{{{"411111", 30}, {"424242", 25}, {"550000", 25}, {"222300", 19}, {"400009", 1}}};
constexpr std::array<Weighted, 4> kKinds{{{"card", 80}, {"card_token", 10}, {"wallet", 5}, {"bank_account", 5}}};
constexpr std::array<Weighted, 6> kCountries{{{"DE", 30}, {"FR", 20}, {"US", 25}, {"GB", 15}, {"NL", 5}, {"JP", 5}}};
}  // namespace

RequestFactory::RequestFactory(uint64_t seed, std::string run_id, FactoryMix mix)
    : rng_(seed), run_id_(std::move(run_id)), mix_(mix) {}

std::string RequestFactory::luhn_complete(std::string digits) {
    int sum = 0;
    bool twice = true;  // the check digit will be appended to the right
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
        int d = *it - '0';
        if (twice && (d *= 2) > 9) d -= 9;
        sum += d;
        twice = !twice;
    }
    digits += static_cast<char>('0' + (10 - sum % 10) % 10);
    return digits;
}

std::string RequestFactory::next_id(const char* prefix) {
    return run_id_ + "-" + prefix + std::to_string(++seq_);
}

GeneratedRequest RequestFactory::next_initial() {
    PaymentRequest r;
    r.type = chance(mix_.authorize_share) ? PaymentType::authorize : PaymentType::sale;
    r.payment_id = next_id(r.type == PaymentType::sale ? "s" : "a");
    r.merchant = {"m-" + std::to_string(std::uniform_int_distribution<int>(1, 200)(rng_)), "5411",
                  pick(rng_, kCountries)};
    r.amount.currency = pick(rng_, kCurrencies);
    // Whole amounts ending in 00 (approved) most of the time; other endings ask the channel
    // simulator for a decline (51, 05), a soft failure on every channel (91) or a failover (96).
    const int64_t base = std::uniform_int_distribution<int64_t>(1, 2000)(rng_) * 100;
    const int roll = std::uniform_int_distribution<int>(0, 999)(rng_);
    int64_t value = base + std::uniform_int_distribution<int>(0, 47)(rng_) * 2;  // even endings 00..94: approved
    if (roll < 40) value = base + 51;
    else if (roll < 60) value = base + 5;
    else if (roll < 70) value = base + 91;
    else if (roll < 100) value = base + 96;
    else if (roll < 105) value = 5'000'000;  // above the risk amount limit of most currencies
    r.amount.value = value;
    Instrument in;
    in.kind = *parse_instrument_kind(pick(rng_, kKinds));
    switch (in.kind) {
        case InstrumentKind::card: {
            std::string digits = pick(rng_, kBins);
            while (digits.size() < 15) digits += static_cast<char>('0' + std::uniform_int_distribution<int>(0, 9)(rng_));
            in.pan = luhn_complete(digits);
            in.expiry = std::to_string(std::uniform_int_distribution<int>(27, 32)(rng_)) +
                        (std::to_string(100 + std::uniform_int_distribution<int>(1, 12)(rng_))).substr(1);
            break;
        }
        case InstrumentKind::card_token: in.token = "tok_" + std::to_string(rng_() % 1000000); break;
        case InstrumentKind::wallet:
            in.provider = "examplepay";
            in.token = "w_" + std::to_string(rng_() % 1000000);
            break;
        case InstrumentKind::bank_account: in.token = "DE89370400440532" + std::to_string(1000 + rng_() % 9000); break;
    }
    r.instrument = std::move(in);
    r.customer = Customer{"c-" + std::to_string(rng_() % 100000), "198.51.100." + std::to_string(rng_() % 250 + 1),
                          pick(rng_, kCountries)};
    r.metadata = {{"order_id", "o-" + std::to_string(seq_)}};
    r.created_at_ms = now_ms();
    if (chance(mix_.invalid_share)) return invalid(std::move(r));
    return {r.payment_id, r.payment_id, encode_request(r), std::string(to_string(r.type)), true, r.type, r.amount};
}

GeneratedRequest RequestFactory::invalid(PaymentRequest r) {
    r.created_at_ms = now_ms();
    std::string good = encode_request(r);
    auto replace = [&](const std::string& from, const std::string& to) {
        auto pos = good.find(from);
        if (pos != std::string::npos) good.replace(pos, from.size(), to);
        return good;
    };
    const std::string amount_json = "\"value\":" + std::to_string(r.amount.value);
    GeneratedRequest g{r.payment_id, r.payment_id, {}, {}, true, r.type, r.amount};
    switch (std::uniform_int_distribution<int>(0, 6)(rng_)) {
        case 0:
            g.value = "{\"payment_id\":\"" + r.payment_id + "\",\"type\":\"sale\",";  // truncated: not JSON
            g.label = "invalid:invalid_json";
            g.payment_id.clear();
            g.expects_result = false;
            break;
        case 1:
            g.value = replace(amount_json, "\"value\":" + std::to_string(r.amount.value) + ".5");
            g.label = "invalid:amount_not_integer";
            break;
        case 2:
            g.value = replace(amount_json, "\"value\":-" + std::to_string(r.amount.value));
            g.label = "invalid:amount_out_of_range";
            break;
        case 3:
            g.value = replace("\"currency\":\"" + r.amount.currency + "\"", "\"currency\":\"ABC\"");
            g.label = "invalid:unknown_currency";
            break;
        case 4: {
            r.metadata = {{"blob", std::string(250, 'x')}};
            std::string big = encode_request(r);
            while (big.size() < 70000) big.insert(big.size() - 1, ",\"pad" + std::to_string(big.size()) + "\":\"" + std::string(1000, 'y') + "\"");
            g.value = std::move(big);
            g.label = "invalid:oversize_record";
            g.payment_id.clear();
            g.expects_result = false;
            break;
        }
        case 5: {
            r.type = PaymentType::refund;
            r.instrument.reset();
            g.value = encode_request(r);
            g.label = "invalid:missing_original";
            break;
        }
        default:
            g.value = replace("\"payment_id\":\"" + r.payment_id + "\"", "\"payment_id\":\"" + r.payment_id + "\",\"surprise\":1");
            g.label = "invalid:unknown_field";
            break;
    }
    return g;
}

double expected_follow_ups(const FactoryMix& m) {
    const double captured = (1 - m.void_share) * (1 + m.split_capture_share * 1.5 + m.capture_refund_share * 1.5);
    return m.authorize_share * (m.void_share + captured) + (1 - m.authorize_share) * m.refund_share * 1.5 +
           m.invalid_step_share;
}

std::deque<RequestFactory::Step> RequestFactory::plan_for(const PaymentResult& original) {
    const int64_t a = original.amount->value;
    std::deque<Step> steps;
    const bool refuse_last = chance(mix_.invalid_step_share);
    auto refunds = [&](int64_t captured) {
        // One or two partial refunds, well inside the captured amount.
        const int n = chance(0.5) ? 1 : 2;
        for (int i = 0; i < n; ++i) steps.push_back({PaymentType::refund, std::max<int64_t>(1, captured / 4), false});
        if (refuse_last) steps.push_back({PaymentType::refund, captured, true});  // more than is left
    };
    if (*original.type == PaymentType::authorize) {
        if (chance(mix_.void_share)) {
            steps.push_back({PaymentType::void_, a, false});
            if (refuse_last) steps.push_back({PaymentType::capture, a, true});  // capture after void
            return steps;
        }
        const int parts = chance(mix_.split_capture_share) && a >= 3 ? (chance(0.5) ? 2 : 3) : 1;
        int64_t left = a;
        for (int i = parts; i > 0; --i) {
            const int64_t part = i == 1 ? left : a / parts;
            steps.push_back({PaymentType::capture, part, false});
            left -= part;
        }
        if (chance(mix_.capture_refund_share)) {
            refunds(a);
        } else if (refuse_last) {
            // More than was authorized, or a void after the capture.
            steps.push_back(chance(0.5) ? Step{PaymentType::capture, 1, true} : Step{PaymentType::void_, a, true});
        }
    } else if (*original.type == PaymentType::sale && chance(mix_.refund_share)) {
        refunds(a);
    }
    return steps;
}

GeneratedRequest RequestFactory::make_follow_up(const PaymentResult& original, const Step& step) {
    PaymentRequest r;
    r.type = step.type;
    r.payment_id = next_id(r.type == PaymentType::capture ? "c" : r.type == PaymentType::void_ ? "v" : "r");
    r.merchant = {original.merchant_id, "", ""};
    r.amount = {step.amount, original.amount->currency};
    r.original = OriginalRef{original.payment_id, original.channel, original.channel_ref};
    r.created_at_ms = now_ms();
    GeneratedRequest g{r.payment_id, original.payment_id, encode_request(r), std::string(to_string(r.type)), true,
                       r.type, r.amount};
    g.expect_refusal = step.expect_refusal;
    return g;
}

std::optional<GeneratedRequest> RequestFactory::follow_up_for(const PaymentResult& result) {
    const std::string& root = result.root_id.empty() ? result.payment_id : result.root_id;
    auto it = plans_.find(root);
    if (it == plans_.end()) {
        if (result.payment_id != root || result.status != ResultStatus::approved || !result.type ||
            is_follow_up(*result.type) || !result.amount)
            return std::nullopt;
        auto steps = plan_for(result);
        if (steps.empty()) return std::nullopt;
        it = plans_.emplace(root, LifePlan{result, std::move(steps)}).first;
    } else if (result.payment_id == root) {
        return std::nullopt;  // the original's result again: its plan is under way
    }
    auto& plan = it->second;
    auto g = make_follow_up(plan.original, plan.steps.front());
    plan.steps.pop_front();
    if (plan.steps.empty()) plans_.erase(it);
    return g;
}

}  // namespace turnout
