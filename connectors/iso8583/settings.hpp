#pragma once
// An `iso8583` channel's settings (docs/connectors.md), shared by the connector and its
// host simulator.
#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "iso8583/link.hpp"
#include "iso8583/mapping.hpp"
#include "iso8583/message.hpp"

namespace turnout::iso8583 {

struct ChannelSettings {
    std::string host;
    uint16_t port = 0;
    Layout layout;
    LengthHeader length_header = LengthHeader::binary2;
    int connections = 2;             // pool size
    int max_in_flight = 512;         // requests awaiting an answer, whole pool
    int timeout_ms = 2000;           // a request unanswered this long is reversed
    int reversal_timeout_ms = 2000;  // per reversal attempt
    int reversal_retries = 3;        // repeats (0401) after the first 0400
    int echo_interval_ms = 30000;    // 0800 on a connection idle this long; 0 = never
    int connect_timeout_ms = 1000;   // also how long a request waits for a connection
    int reconnect_min_ms = 100;      // back-off doubles up to reconnect_max_ms
    int reconnect_max_ms = 5000;
    std::string terminal_prefix = "TN";  // field 41 = prefix + random characters, per connection
    std::string keys_file;               // card-data keys to open sealed PANs (security.keys_file)
    // MAC key id (the keys' `mac_keys`): every message both ways carries a MAC in field 64
    // (128 with a secondary bitmap); empty = no MACs.
    std::string mac_key;
    // PIN key id (the keys' `pin_keys`): a request's PIN block is translated from the acquiring
    // zone key to this key into field 52, in this key's format; empty = the channel takes no
    // PIN (a request with one moves on to the next channel of its plan).
    std::string pin_key;
    TlsSettings tls;  // `tls:` — TLS to the host (mutual with cert_file/key_file); off without ca_file
    std::string journal_dir = "var/iso8583";  // in-doubt journal (journal.hpp); empty = none
    MessageSettings message;
};

// Throws ConfigError naming the key's file:line:column.
ChannelSettings parse_channel_settings(const ChannelConfig& ch);

}  // namespace turnout::iso8583
