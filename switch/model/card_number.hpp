#pragma once
// Card numbers as plain digits: the Luhn check and the masked form logs show. Shared by the
// request decoder, the key vault and the connectors.
#include <string>
#include <string_view>

namespace turnout {

bool luhn_valid(std::string_view digits);
// "411111******1111"
std::string mask_pan(std::string_view pan);

}  // namespace turnout
