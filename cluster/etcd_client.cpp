#include "cluster/etcd_client.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <condition_variable>
#include <thread>

#include <nlohmann/json.hpp>

namespace rl::cluster {

namespace {

using nlohmann::json;

// The gateway prefix etcd 3.4 and later serve (3.4 still answers /v3beta too; /v3alpha is gone).
constexpr const char* api_prefix = "/v3";

void init_curl_once() {
    // curl_global_init is not thread-safe; a function-local static runs it exactly once.
    static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    (void)code;
}

std::string base64_encode(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                        reinterpret_cast<const unsigned char*>(bytes.data()),
                                        static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(written));
    return out;
}

std::optional<std::string> base64_decode(const std::string& text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out(3 * (text.size() / 4), '\0');
    const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                        reinterpret_cast<const unsigned char*>(text.data()),
                                        static_cast<int>(text.size()));
    if (written < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as decoded zero bytes.
    std::size_t size = static_cast<std::size_t>(written);
    for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --size;
    out.resize(size);
    return out;
}

// The gateway writes 64-bit numbers as JSON strings and leaves out fields at their default.
std::int64_t number_field(const json& object, const char* name) {
    const auto it = object.find(name);
    if (it == object.end()) return 0;
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (it->is_string()) {
        try {
            return std::stoll(it->get<std::string>());
        } catch (...) {
            return 0;
        }
    }
    return 0;
}

bool bool_field(const json& object, const char* name) {
    const auto it = object.find(name);
    return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::string string_field(const json& object, const char* name) {
    const auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t header_revision(const json& reply) {
    const auto it = reply.find("header");
    return it != reply.end() && it->is_object() ? number_field(*it, "revision") : 0;
}

std::optional<key_value> parse_kv(const json& object) {
    if (!object.is_object()) return std::nullopt;
    auto key = base64_decode(string_field(object, "key"));
    auto value = base64_decode(string_field(object, "value"));
    if (!key || !value) return std::nullopt;
    key_value kv;
    kv.key = std::move(*key);
    kv.value = std::move(*value);
    kv.create_revision = number_field(object, "create_revision");
    kv.mod_revision = number_field(object, "mod_revision");
    kv.version = number_field(object, "version");
    kv.lease = number_field(object, "lease");
    return kv;
}

std::optional<std::vector<key_value>> parse_kvs(const json& reply) {
    std::vector<key_value> kvs;
    const auto it = reply.find("kvs");
    if (it == reply.end()) return kvs;
    if (!it->is_array()) return std::nullopt;
    for (const auto& item : *it) {
        auto kv = parse_kv(item);
        if (!kv) return std::nullopt;
        kvs.push_back(std::move(*kv));
    }
    return kvs;
}

etcd_error bad_reply(const std::string& what) {
    return {etcd_errc::bad_reply, "unexpected answer from etcd: " + what};
}

// etcd's errors arrive as gRPC status codes: {"error": "...", "code": N} from a unary call,
// {"error": {"grpc_code": N, "message": "..."}} inside a stream.
etcd_error error_from_reply(const json& reply) {
    const json* detail = &reply;
    if (const auto it = reply.find("error"); it != reply.end() && it->is_object()) detail = &*it;
    std::string message = string_field(*detail, "message");
    if (message.empty()) message = string_field(reply, "error");
    std::int64_t code = number_field(*detail, "code");
    if (code == 0) code = number_field(*detail, "grpc_code");
    if (message.find("lease not found") != std::string::npos)
        return {etcd_errc::lease_not_found, message};
    if (message.find("compacted") != std::string::npos) return {etcd_errc::compacted, message};
    if (code == 14 || code == 4) return {etcd_errc::unavailable, message};  // UNAVAILABLE, DEADLINE
    return {etcd_errc::rejected, message.empty() ? reply.dump() : message};
}

etcd_result<json> parse_reply(const etcd_result<std::string>& text) {
    if (!text) return text.error();
    json reply = json::parse(*text, nullptr, false);
    if (reply.is_discarded() || !reply.is_object()) return bad_reply(text->substr(0, 200));
    return reply;
}

// The one line unary streaming calls (lease keepalive) answer with: {"result": {...}}.
etcd_result<json> stream_result(const json& reply) {
    if (reply.contains("error")) return error_from_reply(reply);
    const auto it = reply.find("result");
    if (it == reply.end() || !it->is_object()) return bad_reply(reply.dump());
    return *it;
}

json range_request(const std::string& key, const std::string& range_end,
                   const range_options& options) {
    json request = {{"key", base64_encode(key)}};
    if (!range_end.empty()) request["range_end"] = base64_encode(range_end);
    if (options.limit > 0) request["limit"] = std::to_string(options.limit);
    if (options.revision > 0) request["revision"] = std::to_string(options.revision);
    if (options.keys_only) request["keys_only"] = true;
    return request;
}

json delete_request(const std::string& key, const std::string& range_end) {
    json request = {{"key", base64_encode(key)}};
    if (!range_end.empty()) request["range_end"] = base64_encode(range_end);
    return request;
}

json put_request(const std::string& key, const std::string& value, std::int64_t lease) {
    json request = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
    if (lease != 0) request["lease"] = std::to_string(lease);
    return request;
}

json txn_op_json(const txn_op& op) {
    switch (op.what) {
        case txn_op::kind::put: return {{"request_put", put_request(op.key, op.value, op.lease)}};
        case txn_op::kind::erase: return {{"request_delete_range", delete_request(op.key, {})}};
        case txn_op::kind::erase_prefix:
            return {{"request_delete_range", delete_request(op.key, prefix_range_end(op.key))}};
        case txn_op::kind::get: return {{"request_range", range_request(op.key, {}, {})}};
    }
    return {};
}

json txn_compare_json(const txn_compare& compare) {
    static constexpr const char* targets[] = {"VERSION", "CREATE", "MOD", "VALUE"};
    static constexpr const char* relations[] = {"EQUAL", "NOT_EQUAL", "GREATER", "LESS"};
    json out = {{"key", base64_encode(compare.key)},
                {"target", targets[static_cast<int>(compare.what)]},
                {"result", relations[static_cast<int>(compare.how)]}};
    switch (compare.what) {
        case txn_compare::target::version: out["version"] = std::to_string(compare.number); break;
        case txn_compare::target::create_revision:
            out["create_revision"] = std::to_string(compare.number);
            break;
        case txn_compare::target::mod_revision:
            out["mod_revision"] = std::to_string(compare.number);
            break;
        case txn_compare::target::value: out["value"] = base64_encode(compare.value); break;
    }
    return out;
}

std::vector<std::string> trimmed_endpoints(std::vector<std::string> endpoints) {
    for (auto& endpoint : endpoints)
        while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    return endpoints;
}

long millis(std::chrono::milliseconds duration) {
    return static_cast<long>(duration.count());
}

std::string transport_error(const std::string& endpoint, CURLcode code, const char* detail) {
    return endpoint + ": " + (detail[0] != '\0' ? detail : curl_easy_strerror(code));
}

}  // namespace

std::string prefix_range_end(const std::string& prefix) {
    std::string end = prefix;
    while (!end.empty()) {
        if (static_cast<unsigned char>(end.back()) < 0xff) {
            end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');
}

txn_compare txn_compare::absent(std::string key) {
    return {std::move(key), target::create_revision, relation::equal, 0, {}};
}
txn_compare txn_compare::mod_revision_is(std::string key, std::int64_t revision) {
    return {std::move(key), target::mod_revision, relation::equal, revision, {}};
}
txn_compare txn_compare::version_is(std::string key, std::int64_t version) {
    return {std::move(key), target::version, relation::equal, version, {}};
}
txn_compare txn_compare::value_is(std::string key, std::string value) {
    return {std::move(key), target::value, relation::equal, 0, std::move(value)};
}

txn_op txn_op::put(std::string key, std::string value, std::int64_t lease) {
    return {kind::put, std::move(key), std::move(value), lease};
}
txn_op txn_op::erase(std::string key) {
    return {kind::erase, std::move(key), {}, 0};
}
txn_op txn_op::erase_prefix(std::string prefix) {
    return {kind::erase_prefix, std::move(prefix), {}, 0};
}
txn_op txn_op::get(std::string key) {
    return {kind::get, std::move(key), {}, 0};
}

// ---- unary calls ----------------------------------------------------------------------------

struct etcd_client::connection {
    CURL* curl = nullptr;
    curl_slist* headers = nullptr;
    connection() {
        curl = curl_easy_init();
        headers = curl_slist_append(nullptr, "Content-Type: application/json");
        // No 100-continue round trip before a larger body.
        headers = curl_slist_append(headers, "Expect:");
    }
    ~connection() {
        curl_slist_free_all(headers);
        if (curl) curl_easy_cleanup(curl);
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
};

namespace {

// A libcurl callback: an exception must not cross libcurl, so a failed append aborts the call.
std::size_t append_to_string(char* data, std::size_t size, std::size_t count, void* out) noexcept {
    try {
        static_cast<std::string*>(out)->append(data, size * count);
        return size * count;
    } catch (...) {
        return 0;
    }
}

}  // namespace

etcd_client::etcd_client(etcd_options options) : options_(std::move(options)) {
    options_.endpoints = trimmed_endpoints(std::move(options_.endpoints));
    init_curl_once();
}

etcd_client::~etcd_client() = default;

std::unique_ptr<etcd_client::connection> etcd_client::take_connection() {
    {
        std::lock_guard<std::mutex> lock(idle_mutex_);
        if (!idle_.empty()) {
            auto handle = std::move(idle_.back());
            idle_.pop_back();
            return handle;
        }
    }
    return std::make_unique<connection>();
}

void etcd_client::give_back(std::unique_ptr<connection> handle) {
    std::lock_guard<std::mutex> lock(idle_mutex_);
    idle_.push_back(std::move(handle));
}

etcd_result<std::string> etcd_client::call(const std::string& path, const std::string& body,
                                           bool idempotent) {
    const std::size_t count = options_.endpoints.size();
    if (count == 0) return etcd_error{etcd_errc::unreachable, "no etcd endpoint configured"};
    auto handle = take_connection();
    if (!handle->curl || !handle->headers)
        return etcd_error{etcd_errc::unreachable, "cannot initialise libcurl"};
    CURL* curl = handle->curl;

    etcd_error last{etcd_errc::unreachable, "no endpoint tried"};
    const std::size_t first = preferred_.load(std::memory_order_relaxed) % count;
    for (std::size_t attempt = 0; attempt < count; ++attempt) {
        const std::size_t index = (first + attempt) % count;
        const std::string& endpoint = options_.endpoints[index];
        const std::string url = endpoint + api_prefix + path;
        std::string received;
        char detail[CURL_ERROR_SIZE] = {};

        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, handle->headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_string);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, millis(options_.connect_timeout));
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, millis(options_.request_timeout));

        const CURLcode code = curl_easy_perform(curl);
        if (code == CURLE_OK) {
            long status = 0;
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
            if (status == 200) {
                preferred_.store(index, std::memory_order_relaxed);
                give_back(std::move(handle));
                return received;
            }
            json reply = json::parse(received, nullptr, false);
            last = reply.is_object() ? error_from_reply(reply)
                                     : etcd_error{etcd_errc::bad_reply,
                                                  endpoint + ": HTTP " + std::to_string(status)};
            // Only "cannot serve now" is worth another member; any other answer is etcd's.
            if (last.code != etcd_errc::unavailable || !idempotent) {
                give_back(std::move(handle));
                return last;
            }
        } else {
            long sent = 0;
            curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &sent);
            const bool never_sent =
                code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || sent == 0;
            last = {code == CURLE_OPERATION_TIMEDOUT && !never_sent ? etcd_errc::timeout
                                                                    : etcd_errc::unreachable,
                    transport_error(endpoint, code, detail)};
            // The next call starts elsewhere either way.
            preferred_.store((index + 1) % count, std::memory_order_relaxed);
            if (!never_sent && !idempotent) {
                give_back(std::move(handle));
                return last;
            }
        }
    }
    give_back(std::move(handle));
    return last;
}

etcd_result<range_result> etcd_client::get(const std::string& key, const range_options& options) {
    auto reply = parse_reply(call("/kv/range", range_request(key, {}, options).dump(), true));
    if (!reply) return reply.error();
    auto kvs = parse_kvs(*reply);
    if (!kvs) return bad_reply("range kvs");
    return range_result{header_revision(*reply), std::move(*kvs), bool_field(*reply, "more"),
                        number_field(*reply, "count")};
}

etcd_result<range_result> etcd_client::get_prefix(const std::string& prefix,
                                                  const range_options& options) {
    const std::string key = prefix.empty() ? std::string(1, '\0') : prefix;
    return get_range(key, prefix_range_end(prefix), options);
}

etcd_result<range_result> etcd_client::get_range(const std::string& key,
                                                 const std::string& range_end,
                                                 const range_options& options) {
    auto reply =
        parse_reply(call("/kv/range", range_request(key, range_end, options).dump(), true));
    if (!reply) return reply.error();
    auto kvs = parse_kvs(*reply);
    if (!kvs) return bad_reply("range kvs");
    return range_result{header_revision(*reply), std::move(*kvs), bool_field(*reply, "more"),
                        number_field(*reply, "count")};
}

etcd_result<write_result> etcd_client::put(const std::string& key, const std::string& value,
                                           std::int64_t lease) {
    auto reply = parse_reply(call("/kv/put", put_request(key, value, lease).dump(), true));
    if (!reply) return reply.error();
    return write_result{header_revision(*reply), 0};
}

etcd_result<write_result> etcd_client::erase(const std::string& key) {
    auto reply = parse_reply(call("/kv/deleterange", delete_request(key, {}).dump(), true));
    if (!reply) return reply.error();
    return write_result{header_revision(*reply), number_field(*reply, "deleted")};
}

etcd_result<write_result> etcd_client::erase_prefix(const std::string& prefix) {
    const std::string key = prefix.empty() ? std::string(1, '\0') : prefix;
    auto reply = parse_reply(
        call("/kv/deleterange", delete_request(key, prefix_range_end(prefix)).dump(), true));
    if (!reply) return reply.error();
    return write_result{header_revision(*reply), number_field(*reply, "deleted")};
}

etcd_result<txn_result> etcd_client::txn(const std::vector<txn_compare>& compares,
                                         const std::vector<txn_op>& success,
                                         const std::vector<txn_op>& failure) {
    json request = {
        {"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
    for (const auto& compare : compares) request["compare"].push_back(txn_compare_json(compare));
    for (const auto& op : success) request["success"].push_back(txn_op_json(op));
    for (const auto& op : failure) request["failure"].push_back(txn_op_json(op));
    auto reply = parse_reply(call("/kv/txn", request.dump(), false));
    if (!reply) return reply.error();
    txn_result result;
    result.revision = header_revision(*reply);
    result.succeeded = bool_field(*reply, "succeeded");
    if (const auto it = reply->find("responses"); it != reply->end() && it->is_array()) {
        for (const auto& response : *it) {
            const auto range = response.find("response_range");
            if (range == response.end()) continue;
            auto kvs = parse_kvs(*range);
            if (!kvs) return bad_reply("txn range kvs");
            for (auto& kv : *kvs) result.kvs.push_back(std::move(kv));
        }
    }
    return result;
}

etcd_result<lease_grant_result> etcd_client::lease_grant(std::int64_t ttl_s) {
    const json request = {{"TTL", std::to_string(ttl_s)}};
    auto reply = parse_reply(call("/lease/grant", request.dump(), false));
    if (!reply) return reply.error();
    // LeaseGrantResponse has an error field of its own for a refused grant.
    if (const std::string refused = string_field(*reply, "error"); !refused.empty())
        return etcd_error{etcd_errc::rejected, refused};
    const std::int64_t id = number_field(*reply, "ID");
    if (id == 0) return bad_reply(reply->dump());
    return lease_grant_result{id, number_field(*reply, "TTL"), header_revision(*reply)};
}

etcd_result<lease_ttl_result> etcd_client::lease_keepalive(std::int64_t id) {
    const json request = {{"ID", std::to_string(id)}};
    auto reply = parse_reply(call("/lease/keepalive", request.dump(), true));
    if (!reply) return reply.error();
    auto result = stream_result(*reply);
    if (!result) return result.error();
    const std::int64_t ttl = number_field(*result, "TTL");
    // etcd answers an expired lease's renewal with TTL 0 (left out of the JSON).
    if (ttl <= 0) return etcd_error{etcd_errc::lease_not_found, "lease expired or revoked"};
    return lease_ttl_result{ttl, 0, header_revision(*result), {}};
}

etcd_result<write_result> etcd_client::lease_revoke(std::int64_t id) {
    const json request = {{"ID", std::to_string(id)}};
    auto reply = parse_reply(call("/lease/revoke", request.dump(), true));
    if (!reply) return reply.error();
    return write_result{header_revision(*reply), 0};
}

etcd_result<lease_ttl_result> etcd_client::lease_time_to_live(std::int64_t id) {
    const json request = {{"ID", std::to_string(id)}, {"keys", true}};
    auto reply = parse_reply(call("/lease/timetolive", request.dump(), true));
    if (!reply) return reply.error();
    const std::int64_t ttl = number_field(*reply, "TTL");
    if (ttl < 0) return etcd_error{etcd_errc::lease_not_found, "lease expired or revoked"};
    lease_ttl_result result{ttl, number_field(*reply, "grantedTTL"), header_revision(*reply), {}};
    if (const auto it = reply->find("keys"); it != reply->end() && it->is_array()) {
        for (const auto& key : *it) {
            auto decoded = key.is_string() ? base64_decode(key.get<std::string>()) : std::nullopt;
            if (!decoded) return bad_reply("lease keys");
            result.keys.push_back(std::move(*decoded));
        }
    }
    return result;
}

// ---- watch ----------------------------------------------------------------------------------

struct etcd_watch::state {
    etcd_options options;
    std::string key;
    std::string range_end;
    watch_handler handler;
    std::atomic<std::int64_t> next_revision{0};
    std::atomic<bool> running{true};
    std::atomic<bool> stopping{false};
    std::mutex mutex;
    std::condition_variable wake;
    CURLM* multi = nullptr;
    std::thread thread;

    // One stream's parsing state.
    std::string buffer;
    std::optional<etcd_error> stream_error;
    bool terminal = false;

    state() : multi(curl_multi_init()) {}
    ~state() {
        if (multi) curl_multi_cleanup(multi);
    }

    void report(const etcd_error& error) noexcept {
        if (!handler.on_error) return;
        try {
            handler.on_error(error);
        } catch (...) {
        }
    }

    void deliver(const watch_update& update) noexcept {
        if (!handler.on_update) return;
        try {
            handler.on_update(update);
        } catch (const std::exception& e) {
            fail_for_good({etcd_errc::handler_failed, std::string("watch handler: ") + e.what()});
        } catch (...) {
            fail_for_good({etcd_errc::handler_failed, "watch handler threw"});
        }
    }

    void fail_for_good(etcd_error error) {
        terminal = true;
        stream_error = std::move(error);
    }

    // One line of the stream; false ends this stream.
    bool handle_line(const std::string& line) noexcept {
        try {
            return parse_line(line);
        } catch (const std::exception& e) {
            stream_error = bad_reply(std::string("watch message: ") + e.what());
            return false;
        }
    }

    bool parse_line(const std::string& line) {
        json message = json::parse(line, nullptr, false);
        if (message.is_discarded() || !message.is_object()) {
            stream_error = bad_reply(line.substr(0, 200));
            return false;
        }
        auto result = stream_result(message);
        if (!result) {
            stream_error = result.error();
            if (stream_error->code == etcd_errc::compacted) terminal = true;
            return false;
        }
        const json& body = *result;
        const std::int64_t revision = header_revision(body);
        if (bool_field(body, "canceled")) {
            const std::int64_t compact = number_field(body, "compact_revision");
            if (compact > 0) {
                fail_for_good({etcd_errc::compacted,
                               "revision " + std::to_string(next_revision.load()) +
                                   " is compacted (etcd keeps from " + std::to_string(compact) +
                                   ")",
                               compact});
            } else {
                std::string reason = string_field(body, "cancel_reason");
                stream_error = {etcd_errc::rejected,
                                "watch canceled" + (reason.empty() ? "" : ": " + reason)};
            }
            return false;
        }
        if (bool_field(body, "created")) {
            // Watching "from now": a reconnect must resume after what existed at creation.
            if (next_revision.load() == 0) next_revision.store(revision + 1);
            return true;
        }
        watch_update update;
        if (const auto it = body.find("events"); it != body.end() && it->is_array()) {
            for (const auto& item : *it) {
                auto kv = parse_kv(item.value("kv", json::object()));
                if (!kv) {
                    stream_error = bad_reply("watch event");
                    return false;
                }
                const bool erase = string_field(item, "type") == "DELETE";
                update.events.push_back(
                    {erase ? watch_event::kind::erase : watch_event::kind::put, std::move(*kv)});
            }
        }
        // With events: everything up to the last one's revision; a progress notice: up to the
        // header's.
        update.revision = update.events.empty() ? revision : update.events.back().kv.mod_revision;
        if (update.revision + 1 > next_revision.load()) next_revision.store(update.revision + 1);
        deliver(update);
        return !terminal;
    }

    // The libcurl write callback: complete lines are handled, the rest waits for more.
    static std::size_t on_data(char* data, std::size_t size, std::size_t count,
                               void* self) noexcept {
        auto* watch = static_cast<state*>(self);
        const std::size_t bytes = size * count;
        try {
            watch->buffer.append(data, bytes);
            std::size_t start = 0;
            for (std::size_t end; (end = watch->buffer.find('\n', start)) != std::string::npos;
                 start = end + 1) {
                const std::string line = watch->buffer.substr(start, end - start);
                if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
                if (!watch->handle_line(line)) return 0;  // aborts the transfer
            }
            watch->buffer.erase(0, start);
        } catch (...) {
            watch->stream_error = bad_reply("a watch message it could not hold");
            return 0;
        }
        return bytes;
    }

    json create_request() const {
        json request = {{"key", base64_encode(key)}, {"progress_notify", true}};
        if (!range_end.empty()) request["range_end"] = base64_encode(range_end);
        if (const std::int64_t from = next_revision.load(); from > 0)
            request["start_revision"] = std::to_string(from);
        return {{"create_request", request}};
    }

    // Runs one stream from `endpoint` until it ends, fails or the watch is stopped.
    void run_stream(const std::string& endpoint) {
        buffer.clear();
        stream_error.reset();
        CURL* curl = curl_easy_init();
        if (!curl || !multi) {
            stream_error = {etcd_errc::unreachable, "cannot initialise libcurl"};
            if (curl) curl_easy_cleanup(curl);
            return;
        }
        const std::string url = endpoint + api_prefix + "/watch";
        const std::string body = create_request().dump();
        char detail[CURL_ERROR_SIZE] = {};
        curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &state::on_data);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, millis(options.connect_timeout));
        // A watch idles legitimately; keepalive probes notice a peer that vanished.
        curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 2L);
        curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 1L);

        curl_multi_add_handle(multi, curl);
        CURLcode outcome = CURLE_OK;
        bool finished = false;
        while (!stopping.load() && !finished) {
            int active = 0;
            if (curl_multi_perform(multi, &active) != CURLM_OK) break;
            int queued = 0;
            while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
                if (message->msg == CURLMSG_DONE) {
                    outcome = message->data.result;
                    finished = true;
                }
            }
            if (finished || stopping.load()) break;
            curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
        }
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(multi, curl);
        curl_easy_cleanup(curl);
        curl_slist_free_all(headers);

        if (stopping.load() || stream_error) return;
        // The last line of an error answer may come without a newline.
        if (!buffer.empty() && !handle_line(buffer) && stream_error) return;
        if (status != 200 && status != 0)
            stream_error = {etcd_errc::rejected, endpoint + ": HTTP " + std::to_string(status)};
        else if (outcome != CURLE_OK)
            stream_error = {etcd_errc::unreachable, transport_error(endpoint, outcome, detail)};
        else
            stream_error = {etcd_errc::unreachable, endpoint + ": the watch stream ended"};
    }

    void run(std::size_t first_endpoint) {
        const std::size_t count = options.endpoints.size();
        std::size_t index = first_endpoint;
        while (!stopping.load()) {
            if (count == 0) {
                fail_for_good({etcd_errc::unreachable, "no etcd endpoint configured"});
            } else {
                run_stream(options.endpoints[index % count]);
            }
            if (stopping.load()) break;
            if (terminal) {
                running.store(false);
                if (stream_error) report(*stream_error);
                break;
            }
            if (stream_error) report(*stream_error);
            ++index;
            std::unique_lock<std::mutex> lock(mutex);
            wake.wait_for(lock, options.watch_reconnect_delay, [&] { return stopping.load(); });
        }
        running.store(false);
    }
};

etcd_watch::etcd_watch(std::shared_ptr<state> shared) : state_(std::move(shared)) {}

etcd_watch::~etcd_watch() {
    {
        std::lock_guard<std::mutex> lock(state_->mutex);
        state_->stopping.store(true);
    }
    state_->wake.notify_all();
    if (state_->multi) curl_multi_wakeup(state_->multi);
    if (!state_->thread.joinable()) return;
    // Destroyed from inside its own handler: the thread ends on its own and keeps the state.
    if (state_->thread.get_id() == std::this_thread::get_id())
        state_->thread.detach();
    else
        state_->thread.join();
}

std::int64_t etcd_watch::next_revision() const noexcept {
    return state_->next_revision.load();
}

bool etcd_watch::running() const noexcept {
    return state_->running.load();
}

std::unique_ptr<etcd_watch> etcd_client::start_watch(std::string key, std::string range_end,
                                                     std::int64_t start_revision,
                                                     watch_handler handler) {
    auto shared = std::make_shared<etcd_watch::state>();
    shared->options = options_;
    shared->key = std::move(key);
    shared->range_end = std::move(range_end);
    shared->handler = std::move(handler);
    shared->next_revision.store(start_revision);
    std::unique_ptr<etcd_watch> watch(new etcd_watch(shared));
    shared->thread = std::thread([shared, first = preferred_.load()] {
        try {
            shared->run(first);
        } catch (const std::exception& e) {
            shared->running.store(false);
            shared->report({etcd_errc::bad_reply, std::string("watch stopped: ") + e.what()});
        }
    });
    return watch;
}

std::unique_ptr<etcd_watch> etcd_client::watch_prefix(const std::string& prefix,
                                                      std::int64_t start_revision,
                                                      watch_handler handler) {
    return start_watch(prefix.empty() ? std::string(1, '\0') : prefix, prefix_range_end(prefix),
                       start_revision, std::move(handler));
}

std::unique_ptr<etcd_watch> etcd_client::watch_key(const std::string& key,
                                                   std::int64_t start_revision,
                                                   watch_handler handler) {
    return start_watch(key, {}, start_revision, std::move(handler));
}

}  // namespace rl::cluster
