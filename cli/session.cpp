#include "cli/session.hpp"

#include <fmt/format.h>

#include <iostream>

#include "cli/output.hpp"

namespace rl::cli {

using nlohmann::json;

session::session(connection_options options, bool json_output, bool csv_output)
    : options_(std::move(options)), json_output_(json_output), csv_output_(csv_output) {}

client_response session::send(const std::string& method, const std::string& target,
                              const json& body) {
    if (!client_) client_ = connect(options_);
    return client_->call(method, target, body);
}

json session::request(const std::string& method, const std::string& target, const json& body) {
    client_response response = send(method, target, body);
    if (response.status < 200 || response.status >= 300) throw cli_error(detail_of(response));
    return std::move(response.body);
}

std::string session::detail_of(const client_response& response) {
    for (const char* field : {"detail", "title"}) {
        const json& body = response.body;
        if (body.is_object() && body.contains(field) && body[field].is_string() &&
            !body[field].get<std::string>().empty())
            return body[field].get<std::string>();
    }
    return fmt::format("the admin API answered HTTP {}", response.status);
}

void session::print(const json& document, const std::function<std::string()>& human) const {
    std::cout << (json_output_ ? format_json(document) : human());
}

void session::print(const json& document, const std::function<std::string()>& human,
                    const std::function<std::string()>& csv) const {
    std::cout << (json_output_ ? format_json(document) : csv_output_ ? csv() : human());
}

void session::print_pages(const std::string& target, const std::string& field,
                          std::size_t page_size, const page_formatter& human) {
    const char* join = target.find('?') == std::string::npos ? "?" : "&";
    const std::string first = fmt::format("{}{}limit={}", target, join, page_size);
    paged_table table;
    std::size_t printed = 0;
    std::string next = first;
    for (;;) {
        const json page = request("GET", next);
        const json& items = page.at(field);
        if (!json_output_) {
            std::cout << human(items, table);
        } else {
            // One document for the whole list, indented as format_json would, an item at a time.
            if (printed == 0 && !items.empty())
                std::cout << fmt::format("{{\n  \"{}\": [\n", field);
            for (const auto& item : items) {
                std::string text = item.dump(2);
                std::string indented = printed++ == 0 ? "    " : ",\n    ";
                for (const char c : text) {
                    indented += c;
                    if (c == '\n') indented += "    ";
                }
                std::cout << indented;
            }
        }
        std::cout.flush();
        const auto cursor = page.find("next_cursor");
        if (cursor == page.end() || !cursor->is_string()) break;
        next = fmt::format("{}&cursor={}", first, url_encode(cursor->get<std::string>()));
    }
    if (json_output_) {
        if (printed == 0)
            std::cout << fmt::format("{{\n  \"{}\": [],\n  \"next_cursor\": null\n}}\n", field);
        else
            std::cout << "\n  ],\n  \"next_cursor\": null\n}\n";
    }
}

}  // namespace rl::cli
