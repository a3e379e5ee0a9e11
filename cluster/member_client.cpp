#include "cluster/member_client.hpp"

#include <curl/curl.h>

#include <memory>

namespace rl::cluster {

namespace {

std::size_t append(char* data, std::size_t size, std::size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

struct easy_deleter {
    void operator()(CURL* curl) const noexcept { curl_easy_cleanup(curl); }
};

}  // namespace

std::vector<member_reply> get_all(const std::vector<std::string>& base_urls,
                                  const std::string& path_and_query, const std::string& token,
                                  std::chrono::milliseconds timeout) {
    std::vector<member_reply> replies(base_urls.size());
    std::vector<std::unique_ptr<CURL, easy_deleter>> handles;
    std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi(curl_multi_init(),
                                                                &curl_multi_cleanup);
    const std::string authorization = "Authorization: Bearer " + token;
    curl_slist* headers = curl_slist_append(nullptr, authorization.c_str());
    std::vector<std::string> urls;
    urls.reserve(base_urls.size());
    for (std::size_t i = 0; i < base_urls.size(); ++i) {
        urls.push_back(base_urls[i] + path_and_query);
        CURL* curl = curl_easy_init();
        handles.emplace_back(curl);
        curl_easy_setopt(curl, CURLOPT_URL, urls.back().c_str());
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &append);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &replies[i].body);
        curl_easy_setopt(curl, CURLOPT_PRIVATE, reinterpret_cast<char*>(i));
        curl_multi_add_handle(multi.get(), curl);
    }
    int running = 0;
    do {
        curl_multi_perform(multi.get(), &running);
        if (running) curl_multi_poll(multi.get(), nullptr, 0, 50, nullptr);
    } while (running);
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &left)) {
        if (message->msg != CURLMSG_DONE) continue;
        char* slot = nullptr;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &slot);
        member_reply& reply = replies[reinterpret_cast<std::size_t>(slot)];
        if (message->data.result == CURLE_OK) {
            reply.answered = true;
            curl_easy_getinfo(message->easy_handle, CURLINFO_RESPONSE_CODE, &reply.status);
        } else {
            reply.error = curl_easy_strerror(message->data.result);
        }
    }
    for (auto& handle : handles) curl_multi_remove_handle(multi.get(), handle.get());
    curl_slist_free_all(headers);
    return replies;
}

}  // namespace rl::cluster
