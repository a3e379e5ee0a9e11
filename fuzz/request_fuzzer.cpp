// Bytes off the wire → the server's own HTTP parser (http_parser with restinio's callbacks and
// the public port's limits) → public_routes → limit_handler → reply. Everything /limit does but
// the socket and the usage write. Checks, besides not crashing: every reply has a status the
// contract allows, and no reply repeats a key derived from the provisioned ones.

#include <restinio/all.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "admin/catalog.hpp"
#include "service/public_routes.hpp"
#include "service/request_limits.hpp"
#include "storage/data_dir.hpp"

using namespace rl;

namespace {

// Keys the seed corpus uses, so the fuzzer starts from admitted, limited and refused paths.
constexpr std::string_view steady_key = "rl_fuzzsteady_0123456789abcdefghij";
constexpr std::string_view tight_key = "rl_fuzztight_0123456789abcdefghijk";
constexpr std::string_view disabled_key = "rl_fuzzoff_0123456789abcdefghijklm";

struct world {
    std::string dir;
    std::unique_ptr<storage::data_dir> store;
    service::key_index keys{10};
    limiter::policy_limiter limiter;
    std::unique_ptr<service::usage_recorder> usage;
    service::metrics counters;
    std::atomic<bool> ready{true};
    std::unique_ptr<admin::catalog> catalog;
    std::unique_ptr<service::limit_handler> handler;
    limiter::time_point now = limiter::time_point{} + std::chrono::hours(1);

    world() {
        char pattern[] = "/tmp/rl-fuzz-request-XXXXXX";
        dir = ::mkdtemp(pattern);
        store = storage::data_dir::open(dir + "/data");
        usage = std::make_unique<service::usage_recorder>(*store);
        catalog = std::make_unique<admin::catalog>(*store, 10, &keys);
        provision("steady", 1000, steady_key);
        provision("tight", 2, tight_key);
        provision("off", 5, disabled_key);
        catalog->update_user("off", std::nullopt, true);
        handler = std::make_unique<service::limit_handler>(keys, limiter, *usage, counters, ready);
    }
    ~world() {
        handler.reset();
        catalog.reset();
        usage.reset();  // it listens to the store's health
        store.reset();
        std::filesystem::remove_all(dir);
    }

    void provision(std::string_view user, std::uint32_t limit, std::string_view key) {
        if (!catalog->create_user(user, limit).succeeded() ||
            !catalog->import_key(user, key, "fuzz").succeeded())
            std::abort();
    }
};

bool allowed_status(int status) {
    switch (status) {
        case 200:
        case 400:
        case 401:
        case 403:
        case 404:
        case 429:
        case 503: return true;
        default: return false;
    }
}

void check(const service::http_reply& reply, const restinio::http_request_header_t& request) {
    if (!allowed_status(reply.status)) std::abort();
    request.for_each_value_of("X-API-KEY", [&](restinio::string_view_t value) {
        const std::string_view key(value.data(), value.size());
        // Only keys grown from the provisioned ones: a short or arbitrary key may well be a
        // substring of the reply's fixed text ("invalid", "ratelimitd:problem").
        if (key.find("rl_fuzz") == std::string_view::npos)
            return restinio::http_header_fields_t::continue_enumeration();
        if (reply.body.find(key) != std::string::npos) std::abort();
        for (const auto& [name, header] : reply.headers)
            if (header.find(key) != std::string::npos) std::abort();
        return restinio::http_header_fields_t::continue_enumeration();
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static world w;
    static const http_parser_settings settings =
        restinio::impl::create_parser_settings<restinio::default_http_methods_t>();

    // As a connection does: parse one request, answer it, go on with the bytes left (pipelining)
    // until the input ends, a request ends the connection, or the parser refuses it (the server
    // then closes the connection).
    restinio::impl::http_parser_ctx_t ctx(service::message_limits(service::public_max_body));
    http_parser parser;
    const char* at = reinterpret_cast<const char*>(data);
    std::size_t left = size;
    while (left > 0) {
        http_parser_init(&parser, HTTP_REQUEST);
        ctx.reset();
        parser.data = &ctx;
        const std::size_t used = http_parser_execute(&parser, &settings, at, left);
        if ((parser.http_errno != HPE_OK && parser.http_errno != HPE_PAUSED) ||
            !ctx.m_message_complete)
            break;
        w.now += std::chrono::milliseconds(7);  // time moves on between requests
        service::public_answer answer =
            service::answer_public(*w.handler, ctx.m_header, w.now,
                                   limiter::wall_time(std::chrono::seconds(1'800'000'000)));
        const service::http_reply reply =
            answer.reply ? *answer.reply
                         : service::render(
                               w.handler->settle(answer.decision, service::usage_write::written));
        check(reply, ctx.m_header);
        // The server closes the connection after this reply: nothing behind it is read.
        if (!ctx.m_header.should_keep_alive()) break;
        if (used == 0) break;
        at += used;
        left -= used;
    }
    return 0;
}
