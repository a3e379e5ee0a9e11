// A stand-in application behind a gateway: answers every request with 200 and a JSON echo of
// what it received, so tests can see what the gateway passed on: "headers" by lower-cased name,
// "fields" every field as sent, with its spelling and repeats, and the body. Usage:
// echo_upstream PORT

#include <nlohmann/json.hpp>
#include <restinio/all.hpp>

#include <cctype>
#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: echo_upstream PORT\n";
        return 2;
    }
    const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
    restinio::run(restinio::on_this_thread()
                      .address("127.0.0.1")
                      .port(port)
                      .request_handler([](const restinio::request_handle_t& req) {
                          nlohmann::json echo = {{"method", req->header().method().c_str()},
                                                 {"path", std::string(req->header().path())}};
                          nlohmann::json headers = nlohmann::json::object();
                          nlohmann::json fields = nlohmann::json::array();
                          req->header().for_each_field([&](const auto& field) {
                              fields.push_back({field.name(), field.value()});
                              std::string name = field.name();
                              for (char& c : name)
                                  c = static_cast<char>(
                                      std::tolower(static_cast<unsigned char>(c)));
                              headers[name] = field.value();
                          });
                          echo["headers"] = headers;
                          echo["fields"] = fields;
                          echo["body"] = req->body();
                          return req->create_response()
                              .append_header(restinio::http_field::content_type, "application/json")
                              .set_body(echo.dump())
                              .done();
                      }));
}
