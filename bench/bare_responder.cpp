// The floor of the HTTP library for `make bench`: restinio with its default settings and
// timers on one thread, one header check and a fixed 200 reply. Whatever ratelimitd's /healthz
// costs past this is ratelimitd's own; nothing here limits, looks up or writes anything.
//   bare_responder PORT        (listens on 127.0.0.1 until SIGINT or SIGTERM)

#include <restinio/all.hpp>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    if (argc != 2 || std::atoi(argv[1]) <= 0 || std::atoi(argv[1]) > 65535) {
        std::fprintf(stderr, "usage: bare_responder PORT\n");
        return 2;
    }
    const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
    restinio::run(restinio::on_this_thread<restinio::default_single_thread_traits_t>()
                      .address("127.0.0.1")
                      .port(port)
                      // As ratelimitd and nginx (tcp_nodelay on keep-alive connections) do.
                      .socket_options_setter([](restinio::socket_options_t& options) {
                          options.set_option(asio::ip::tcp::no_delay{true});
                      })
                      .request_handler([](restinio::request_handle_t req) {
                          if (!req->header().has_field("X-API-KEY"))
                              return req->create_response(restinio::status_unauthorized())
                                  .append_header(restinio::http_field::content_type,
                                                 "application/json")
                                  .set_body(R"({"admitted":false})")
                                  .done();
                          return req->create_response()
                              .append_header(restinio::http_field::content_type, "application/json")
                              .set_body(R"({"admitted":true})")
                              .done();
                      }));
}
