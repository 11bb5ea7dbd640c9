#pragma once
// CSV and fixed-width text for files finance and channels exchange (clearing files, channel
// settlement reports).
#include <string>
#include <string_view>
#include <vector>

namespace turnout {

// Every text field of a clearing file or report is written through one of these, so no field can
// split a record or turn into a spreadsheet formula, whatever a record holds:
//
// A CSV cell: control characters and line breaks (C0, DEL, C1, U+2028/U+2029) become '?';
// a cell starting with = + - @ tab CR or a single quote gets a leading single quote (the
// OWASP guidance on CSV injection); a cell with a comma or double quote is quoted as RFC
// 4180 says. csv_cell_text undoes the leading quote when a file is read back.
std::string csv_text_cell(std::string_view s);
std::string csv_cell_text(std::string_view cell);
// The cells of one CSV line, RFC 4180 quotes removed (leading single quotes kept).
std::vector<std::string> split_csv_line(std::string_view line);
// A fixed-width text field: printable ASCII only (any other character becomes one '?'),
// cut to `width` bytes and space-padded.
std::string fixed_width_text(std::string_view s, size_t width);

}  // namespace turnout
