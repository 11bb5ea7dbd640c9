// In-process cost of the decision path of one payment, without Kafka:
// decode → validate → protect card data → route → score → encode routed → decode routed →
// encode result. Prints records/s on one core and heap allocations per record as JSON; then
// the route + score step alone (routing rules with channel health, risk rules with velocity
// state, the rules of config/turnout.yaml) as route_score_ns_per_record and
// route_score_allocations_per_record.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "config/config.hpp"
#include "loadgen/request_factory.hpp"
#include "risk/risk_rules.hpp"
#include "risk/velocity.hpp"
#include "router/channel_health.hpp"
#include "router/route_planner.hpp"
#include "security/card_vault.hpp"

namespace {
std::atomic<uint64_t> g_allocs{0};
}

void* operator new(std::size_t n) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

int main(int argc, char** argv) {
    using namespace turnout;
    const std::string root = TURNOUT_SOURCE_DIR;
    const double seconds = argc > 1 ? std::atof(argv[1]) : 5.0;
    const auto cfg = load_config(root + "/config/turnout.yaml");
    const CardVault vault(load_vault_keys(root + "/config/dev-keys.yaml"));
    const RoutePlanner planner(cfg.routes, cfg.channels);
    const RiskScorer risk(cfg.risk);

    RequestFactory factory(99, "bench", FactoryMix{0, 0.3, 0.1, 0.2});
    std::vector<std::string> inputs;
    for (int i = 0; i < 10000; ++i) inputs.push_back(factory.next_initial().value);

    auto one = [&](const std::string& bytes) -> size_t {
        auto d = decode_request(bytes, cfg.max_record_bytes);
        if (!d.request) return 0;
        auto& req = *d.request;
        if (req.instrument) protect_instrument(*req.instrument, vault, req.payment_id);
        auto plan = planner.plan(req, nullptr, 0);
        if (!plan) return 0;
        RoutedPayment routed{std::move(req), std::move(*plan), std::nullopt, {}};
        routed.risk = risk.assess(routed);
        const auto wire = encode_routed(routed);
        auto back = decode_routed(wire);
        const auto result = encode_result(result_for(*back, ResultStatus::approved, {"00", "approved"}, 1));
        return wire.size() + result.size();
    };

    for (const auto& in : inputs) one(in);  // warm up
    uint64_t n = 0, sink = 0;
    const uint64_t allocs0 = g_allocs.load();
    const auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
        for (const auto& in : inputs) sink += one(in);
        n += inputs.size();
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    const double allocs = static_cast<double>(g_allocs.load() - allocs0) / static_cast<double>(n);

    // Route + score alone, on requests already decoded and protected, as the stages run it:
    // plan with a health table, score against the partition's velocity book, count the
    // payment in the book when it goes on.
    std::vector<RoutedPayment> routed;
    for (const auto& in : inputs) {
        auto d = decode_request(in, cfg.max_record_bytes);
        if (!d.request) continue;
        if (d.request->instrument) protect_instrument(*d.request->instrument, vault, d.request->payment_id);
        routed.push_back({std::move(*d.request), {}, std::nullopt, {}});
    }
    int64_t now = 1'764'000'000'000;
    HealthMap health;
    for (const auto& ch : cfg.channels) {
        ChannelHealth h;
        h.channel = ch.id;
        h.success_permille = 990;
        h.latency_ms = 5;
        h.updated_at_ms = now;
        health[ch.id] = h;
    }
    VelocityBook book;
    const int64_t window = cfg.risk.max_velocity_window_ms();
    uint64_t rs_n = 0, declined = 0;
    const uint64_t rs_allocs0 = g_allocs.load();
    const auto rs_t0 = std::chrono::steady_clock::now();
    double rs_elapsed = 0;
    while (rs_elapsed < seconds) {
        for (auto& p : routed) {
            auto plan = planner.plan(p.request, &health, now);
            if (!plan) continue;
            const auto a = risk.assess(p, &book, now);
            if (a.decision == "decline") {
                ++declined;
            } else if (window > 0) {
                const auto& q = p.request;
                book.add({now, q.amount.value, q.amount.currency, q.merchant.id, q.instrument ? q.instrument->fingerprint : std::string()});
            }
            sink += plan->channels.size() + static_cast<uint64_t>(a.score);
            ++now;  // a payment per millisecond
        }
        book.commit();
        // The inputs repeat each pass; a day later, so a pass sees each card about once, as
        // real traffic does, and the velocity windows start empty again.
        now += window + 1;
        book.expire(now - window);
        rs_n += routed.size();
        rs_elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - rs_t0).count();
    }
    const double rs_allocs = static_cast<double>(g_allocs.load() - rs_allocs0) / static_cast<double>(rs_n);

    std::printf("{\"records\":%llu,\"seconds\":%.3f,\"records_per_s_per_core\":%.0f,\"ns_per_record\":%.0f,"
                "\"allocations_per_record\":%.1f,\"route_score_records\":%llu,\"route_score_ns_per_record\":%.0f,"
                "\"route_score_allocations_per_record\":%.2f,\"route_score_declined\":%llu,\"checksum\":%llu}\n",
                static_cast<unsigned long long>(n), elapsed, static_cast<double>(n) / elapsed,
                elapsed * 1e9 / static_cast<double>(n), allocs, static_cast<unsigned long long>(rs_n),
                rs_elapsed * 1e9 / static_cast<double>(rs_n), rs_allocs, static_cast<unsigned long long>(declined),
                static_cast<unsigned long long>(sink % 1000));
    return 0;
}
