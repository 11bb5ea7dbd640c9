// The `simulator` channel kind: an in-process channel for demos and tests. The outcome is
// decided by the amount's last two digits, so a load generator can ask for each one:
//   ..51 declined 51 (insufficient funds)   ..05 declined 05 (do not honor)
//   ..91 soft failure 91 on every channel (issuer unavailable) → the plan is exhausted
//   ..96 soft failure 96 on the first channel of the plan only → fails over
//   anything else approved 00
// Only sales and authorizations are subject to these; captures, voids and refunds of an
// approved original are approved.
// A batch waits `latency_ms` once, as a channel with the whole batch in flight would.
// With `ledger_file` set, the channel records every payment it executed in that file and
// answers a payment_id it has seen before from it (shared by all processes of the channel).
#include <chrono>
#include <thread>

#include <memory>

#include "connector.hpp"
#include "connector_probe.hpp"
#include "metrics/metrics.hpp"
#include "simulator/ledger.hpp"

namespace turnout {
namespace {

std::string hex_hash(std::string_view s, size_t digits) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a: deterministic refs for the same payment
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    static const char hex[] = "0123456789abcdef";
    std::string out(digits, '0');
    for (size_t i = 0; i < digits; ++i) out[i] = hex[(h >> (4 * (i % 16))) & 15];
    return out;
}

class SimulatorConnector : public Connector {
public:
    SimulatorConnector(std::string id, int latency_ms, const std::string& ledger_file)
        : id_(std::move(id)),
          latency_ms_(latency_ms),
          replays_(ConnectorProbe::call_series(id_, "idempotent_replay")) {
        if (!ledger_file.empty()) ledger_ = std::make_unique<ChannelLedger>(ledger_file);
    }

    std::vector<ChannelOutcome> call(std::span<const RoutedPayment> batch) override {
        std::vector<ChannelOutcome> out;
        if (ledger_) {
            size_t replayed = 0;
            out = ledger_->execute(batch, [this](const RoutedPayment& p) { return decide(p); }, replayed);
            replays_.Increment(static_cast<double>(replayed));
        } else {
            out.reserve(batch.size());
            for (const auto& p : batch) out.push_back(decide(p));
        }
        if (latency_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms_));
        return out;
    }

private:
    ChannelOutcome decide(const RoutedPayment& p) const {
        using K = ChannelOutcome::Kind;
        const int64_t cents = is_follow_up(p.request.type) ? 0 : p.request.amount.value % 100;
        const bool first_channel = p.route.attempts.empty();
        if (cents == 91) return {K::soft_failure, "91", "issuer or switch inoperative", "", ""};
        if (cents == 96 && first_channel) return {K::soft_failure, "96", "system malfunction", "", ""};
        const std::string ref = id_ + "-" + hex_hash(p.request.payment_id, 16);
        if (cents == 51) return {K::declined, "51", "insufficient funds", ref, ""};
        if (cents == 5) return {K::declined, "05", "do not honor", ref, ""};
        return {K::approved, "00", "approved", ref, hex_hash(ref, 6)};
    }

    std::string id_;
    int latency_ms_;
    prometheus::Counter& replays_;
    std::unique_ptr<ChannelLedger> ledger_;
};

class SimulatorFactory : public ConnectorFactory {
public:
    Builder prepare(const ChannelConfig& ch) const override {
        int latency = 0;
        std::string ledger;
        for (const auto& kv : ch.settings) {
            const auto key = kv.first.as<std::string>();
            const auto m = kv.second.Mark();
            const std::string at = ch.source.substr(0, ch.source.find(':')) + ":" + std::to_string(m.line + 1) + ":" +
                                   std::to_string(m.column + 1);
            if (is_common_channel_key(key)) continue;
            if (key == "latency_ms") {
                if (!YAML::convert<int>::decode(kv.second, latency) || latency < 0 || latency > 60000)
                    throw ConfigError(at + ": latency_ms must be an integer 0..60000");
            } else if (key == "ledger_file") {
                if (!kv.second.IsScalar() || kv.second.as<std::string>().empty())
                    throw ConfigError(at + ": ledger_file must be a file path");
                ledger = kv.second.as<std::string>();
            } else {
                throw ConfigError(ch.source + ": unknown key `" + key + "` for simulator channel `" + ch.id +
                                  "` (expected: latency_ms, ledger_file)");
            }
        }
        return [id = ch.id, latency, ledger](const ConnectorContext&) { return std::make_unique<SimulatorConnector>(id, latency, ledger); };
    }
};

}  // namespace

TURNOUT_REGISTER_CONNECTOR("simulator", SimulatorFactory);

}  // namespace turnout
