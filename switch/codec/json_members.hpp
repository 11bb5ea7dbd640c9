#pragma once
// A member name twice in one JSON object: the parser keeps the last value while another
// reader may take the first, so the decoders of requests and results refuse such a record.
#include <boost/json/value.hpp>

#include <string_view>

namespace turnout {

// True when `text` (already parsed into `doc`) names a member twice in one object: the
// members counted in the text differ from those in the parsed tree.
bool has_repeated_member(std::string_view text, const boost::json::value& doc);

}  // namespace turnout
