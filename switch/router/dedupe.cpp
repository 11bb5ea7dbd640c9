#include "router/dedupe.hpp"

namespace turnout {

bool PaymentIdDedupe::first_time(std::string_view id) {
    auto [it, inserted] = seen_.emplace(id);
    if (inserted) pending_.emplace_back(id);
    return inserted;
}

void PaymentIdDedupe::remember(std::string_view id) {
    if (seen_.emplace(id).second) order_.emplace_back(id);
    while (order_.size() > capacity_) {
        seen_.erase(order_.front());
        order_.pop_front();
    }
}

void PaymentIdDedupe::commit() {
    for (auto& id : pending_) order_.push_back(std::move(id));
    pending_.clear();
    while (order_.size() > capacity_) {
        seen_.erase(order_.front());
        order_.pop_front();
    }
}

void PaymentIdDedupe::abort() {
    for (const auto& id : pending_) seen_.erase(id);
    pending_.clear();
}

}  // namespace turnout
