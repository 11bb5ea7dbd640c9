#include "codec/channel_report.hpp"

#include <sstream>
#include <stdexcept>

#include "codec/csv.hpp"

namespace turnout {

std::string render_channel_report(const std::vector<ChannelReportLine>& lines) {
    std::string out = "payment_id,type,amount_minor,currency,channel_ref\n";
    for (const auto& l : lines)
        out += csv_text_cell(l.payment_id) + ',' + std::string(to_string(l.type)) + ',' + std::to_string(l.amount) + ',' +
               csv_text_cell(l.currency) + ',' + csv_text_cell(l.channel_ref) + '\n';
    return out;
}

std::optional<std::vector<ChannelReportLine>> parse_channel_report(std::string_view text, std::string& why) {
    std::vector<ChannelReportLine> out;
    std::istringstream in{std::string(text)};
    std::string line;
    if (!std::getline(in, line) || line != "payment_id,type,amount_minor,currency,channel_ref")
        return why = "line 1: expected the header payment_id,type,amount_minor,currency,channel_ref", std::nullopt;
    for (size_t n = 2; std::getline(in, line); ++n) {
        if (line.empty()) continue;
        const auto f = split_csv_line(line);
        auto type = f.size() == 5 ? parse_payment_type(f[1]) : std::nullopt;
        if (!type) return why = "line " + std::to_string(n) + ": expected 5 fields with a payment type", std::nullopt;
        ChannelReportLine l{csv_cell_text(f[0]), *type, 0, csv_cell_text(f[3]), csv_cell_text(f[4])};
        try {
            size_t used = 0;
            l.amount = std::stoll(f[2], &used);
            if (used != f[2].size()) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
            return why = "line " + std::to_string(n) + ": amount_minor is not an integer", std::nullopt;
        }
        out.push_back(std::move(l));
    }
    return out;
}

}  // namespace turnout
