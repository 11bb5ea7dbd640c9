#pragma once
// JSON parts shared by the encoders of requests, routed payments and results.
#include "codec/json_writer.hpp"
#include "model/payment.hpp"

namespace turnout::json_parts {

inline void money(JsonWriter& w, std::string_view k, const Money& m) {
    w.key(k).begin_object().field("value", m.value).field("currency", m.currency).end_object();
}

inline void merchant(JsonWriter& w, const Merchant& m) {
    w.key("merchant").begin_object().field("id", m.id);
    w.optional_field("mcc", m.mcc).optional_field("country", m.country).end_object();
}

inline void original(JsonWriter& w, const OriginalRef& o) {
    w.key("original")
        .begin_object()
        .field("payment_id", o.payment_id)
        .field("channel", o.channel)
        .field("channel_ref", o.channel_ref)
        .end_object();
}

// customer, metadata and original: written only when present.
inline void request_extras(JsonWriter& w, const PaymentRequest& r) {
    if (r.customer) {
        w.key("customer").begin_object().optional_field("id", r.customer->id).optional_field("ip", r.customer->ip);
        w.optional_field("country", r.customer->country).end_object();
    }
    if (!r.metadata.empty()) {
        w.key("metadata").begin_object();
        for (const auto& [k, v] : r.metadata) w.field(k, v);
        w.end_object();
    }
    if (r.original) original(w, *r.original);
}

}  // namespace turnout::json_parts
