#pragma once
// The request decoder before it read JSON with its own handler (a Boost.JSON tree, then
// validation): the reference the decoder's equivalence test and fuzz target compare it with.
#include <string_view>

#include "codec/request_decoder.hpp"

namespace turnout {

DecodeOutcome decode_request_reference(std::string_view bytes, size_t max_record_bytes);

}  // namespace turnout
