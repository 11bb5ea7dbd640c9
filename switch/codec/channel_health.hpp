#pragma once
// A channel's health as its connector publishes it on the compacted channels.health topic
// (key = channel id) and the router reads it: the message and its JSON. Shared by the
// connectors (which write it) and the router (which routes by it).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace turnout {

struct ChannelHealth {
    enum class Circuit { closed = 0, half_open = 1, open = 2 };
    std::string channel;
    Circuit circuit = Circuit::closed;
    int success_permille = 1000;  // answered (approved or declined) per 1000 calls, recent window
    int latency_ms = 0;           // mean channel call latency, recent window
    int64_t calls = 0;            // calls in the recent window
    int64_t updated_at_ms = 0;
};

std::string_view to_string(ChannelHealth::Circuit c);
std::string encode_channel_health(const ChannelHealth& h);
std::optional<ChannelHealth> decode_channel_health(std::string_view bytes);

}  // namespace turnout
