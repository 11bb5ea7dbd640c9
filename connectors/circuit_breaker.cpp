#include "circuit_breaker.hpp"

namespace turnout {

bool CircuitBreaker::allow(int64_t now_ms) {
    if (state_ == State::open && now_ms - opened_at_ >= s_.open_ms) state_ = State::half_open;
    return state_ != State::open;
}

void CircuitBreaker::record(bool success, int64_t now_ms) {
    if (success) {
        consecutive_failures_ = 0;
        state_ = State::closed;
        return;
    }
    ++consecutive_failures_;
    if (state_ == State::half_open || consecutive_failures_ >= s_.failure_threshold) {
        state_ = State::open;
        opened_at_ = now_ms;
    }
}

}  // namespace turnout
