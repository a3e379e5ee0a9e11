#pragma once
// The admin API as a command sees it: connects on first use, so --help and usage errors never
// open storage or the network, turns problem responses into cli_error, and prints a result as
// JSON for scripts or as text for people.

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/admin_client.hpp"
#include "cli/output.hpp"

namespace rl::cli {

class session {
public:
    session(connection_options options, bool json_output, bool csv_output);

    // One request; error statuses are returned.
    client_response send(const std::string& method, const std::string& target,
                         const nlohmann::json& body = nullptr);

    // The body of a successful response; throws cli_error with the server's detail otherwise.
    nlohmann::json request(const std::string& method, const std::string& target,
                           const nlohmann::json& body = nullptr);

    // The problem's detail (or title) of an error response, for one line on stderr.
    static std::string detail_of(const client_response& response);

    // Scripts get the document as is; people get `human()`.
    void print(const nlohmann::json& document, const std::function<std::string()>& human) const;

    // For commands that also print CSV.
    void print(const nlohmann::json& document, const std::function<std::string()>& human,
               const std::function<std::string()>& csv) const;

    // A list route (`target`, answering {field: [...], "next_cursor"}) page by page, each
    // printed as it arrives, so memory holds one page however long the list. Scripts still get
    // one JSON document holding every item.
    using page_formatter = std::function<std::string(const nlohmann::json& items, paged_table&)>;
    void print_pages(const std::string& target, const std::string& field, std::size_t page_size,
                     const page_formatter& human);

    bool plain_text() const noexcept { return !json_output_ && !csv_output_; }

private:
    connection_options options_;
    bool json_output_;
    bool csv_output_;
    std::unique_ptr<admin_client> client_;
};

}  // namespace rl::cli
