#pragma once
// The public listener's socket: a TCP socket whose read that returns less than it asked for
// counts as "the kernel has nothing more", as nginx counts it.
//
// asio 1.22's epoll reactor reads a socket speculatively (a recv at once, before epoll) until a
// read returns nothing: only then does it wait for the next edge. So when restinio asks for the
// next request right after writing a reply, that recv fails with EAGAIN, the client not having
// had the reply yet: one failed syscall per request on every keep-alive connection (about 1.2 µs
// here, a tenth of a request's cost). Waiting with async_wait instead costs an epoll_ctl, as
// much. The reactor already skips the speculative recv after an exhausted read until epoll
// reports the socket again (`try_speculative_`); what differs is only which read counts as
// exhausted. The buffer type below selects, for this socket's reads alone, a read operation
// that reports a short read as exhausted. No byte can go unseen: whatever arrives after the
// recv raises a new edge, and the reactor takes any edge as "read speculatively again".

#include <cstddef>
#include <utility>

#include <asio/version.hpp>
#include <restinio/all.hpp>

#if ASIO_VERSION / 100 != 1022 || defined(ASIO_HAS_IO_URING_AS_DEFAULT) || defined(ASIO_HAS_IOCP)
#error \
    "service/ready_socket.hpp: written against asio 1.22's epoll reactor; check it against this asio"
#endif

namespace rl::service {

// One read's buffer; for asio, a buffer sequence of itself.
struct drained_on_short_read : asio::mutable_buffer {
    explicit drained_on_short_read(const asio::mutable_buffer& b) : asio::mutable_buffer(b) {}
};

class ready_socket : public asio::ip::tcp::socket {
public:
    using asio::ip::tcp::socket::basic_stream_socket;

    template <typename Handler>
    auto async_read_some(const asio::mutable_buffer& buffer, Handler&& handler) {
        return asio::ip::tcp::socket::async_read_some(drained_on_short_read{buffer},
                                                      std::forward<Handler>(handler));
    }
};

}  // namespace rl::service

namespace asio::detail {

// asio's own receive operation for a single buffer on a stream socket
// (detail/reactive_socket_recv_op.hpp), but for the exhaustion test: fewer bytes than the buffer
// holds, where asio's wants none.
template <>
class reactive_socket_recv_op_base<rl::service::drained_on_short_read> : public reactor_op {
public:
    reactive_socket_recv_op_base(const asio::error_code& success_ec, socket_type socket,
                                 socket_ops::state_type state,
                                 const rl::service::drained_on_short_read& buffer,
                                 socket_base::message_flags flags, func_type complete_func)
        : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
          socket_(socket),
          state_(state),
          buffer_(buffer),
          flags_(flags) {}

    static status do_perform(reactor_op* base) {
        auto* o = static_cast<reactive_socket_recv_op_base*>(base);
        bool stream = (o->state_ & socket_ops::stream_oriented) != 0;
        if (!socket_ops::non_blocking_recv1(o->socket_, o->buffer_.data(), o->buffer_.size(),
                                            o->flags_, stream, o->ec_, o->bytes_transferred_))
            return not_done;
        // An error or the end of the stream transfers nothing, so it is exhausted too.
        return stream && o->bytes_transferred_ < o->buffer_.size() ? done_and_exhausted : done;
    }

private:
    socket_type socket_;
    socket_ops::state_type state_;
    asio::mutable_buffer buffer_;
    socket_base::message_flags flags_;
};

}  // namespace asio::detail
