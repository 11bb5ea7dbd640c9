#pragma once
// A circuit breaker per channel: after `failure_threshold` consecutive soft failures the
// circuit opens and payments fail over without calling the channel; after `open_ms` one
// batch is let through (half-open) and its outcome closes or re-opens the circuit.
#include <cstdint>

namespace turnout {

struct CircuitSettings {
    int failure_threshold = 20;
    int64_t open_ms = 5000;
};

class CircuitBreaker {
public:
    enum class State { closed = 0, half_open = 1, open = 2 };

    explicit CircuitBreaker(CircuitSettings s) : s_(s) {}

    // May the channel be called now? Moves open → half-open once open_ms has passed.
    bool allow(int64_t now_ms);
    // The outcome of one call: success = the channel answered (approved or declined).
    void record(bool success, int64_t now_ms);
    State state() const { return state_; }

private:
    CircuitSettings s_;
    State state_ = State::closed;
    int consecutive_failures_ = 0;
    int64_t opened_at_ = 0;
};

}  // namespace turnout
