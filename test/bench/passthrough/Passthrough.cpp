// The I/O model's ceiling for `make bench`: an HTTP/1.1 keep-alive pass-through proxy that does no work
// besides framing (head up to the blank line, then Content-Length bytes), in two shapes:
//   threads  a thread per client connection with blocking poll(2)/recv(2)/send(2) and its own upstream
//            connection: the shape of archestra-platform's listener (ServerConnection) and upstream pool;
//   epoll    N event-loop threads (default 2), each owning its client connections and their upstream
//            connections; non-blocking sockets, one epoll_wait(2) returns every ready socket.
// What either reaches on a machine bounds what a proxy of that shape can reach there, whatever it does per
// request. Not a product component: no chunked bodies, no pipelining beyond whole buffered messages, no TLS.
//
//   passthrough threads|epoll LISTEN_PORT UPSTREAM_PORT [event loops]
// Listens on 127.0.0.1 only; prints "listening" once it accepts connections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

int upstreamPort = 0;

sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

void noDelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int connectUpstream() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    auto address = loopback(upstreamPort);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        std::perror("passthrough: connect to the upstream");
        if (fd >= 0) ::close(fd);
        return -1;
    }
    noDelay(fd);
    return fd;
}

/// Bytes of the first complete message in `buffer` (head, blank line, Content-Length bytes); 0 if incomplete.
std::size_t completeMessage(std::string_view buffer) {
    auto headEnd = buffer.find("\r\n\r\n");
    if (headEnd == std::string_view::npos) return 0;
    std::size_t bodyLength = 0;
    std::string_view head = buffer.substr(0, headEnd);
    for (std::size_t line = 0; line < head.size();) {
        std::size_t next = head.find("\r\n", line);
        if (next == std::string_view::npos) next = head.size();
        std::string_view field = head.substr(line, next - line);
        constexpr std::string_view kName = "content-length:";
        if (field.size() > kName.size() && ::strncasecmp(field.data(), kName.data(), kName.size()) == 0)
            bodyLength = std::strtoull(std::string(field.substr(kName.size())).c_str(), nullptr, 10);
        line = next + 2;
    }
    std::size_t total = headEnd + 4 + bodyLength;
    return buffer.size() >= total ? total : 0;
}

bool sendAll(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {  // a non-blocking socket whose buffer is full: wait until writable
            pollfd entry{fd, POLLOUT, 0};
            ::poll(&entry, 1, 1000);
            continue;
        }
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

/// Blocking: reads from `fd` until `buffer` starts with a whole message, moves it to `message`.
bool readMessage(int fd, std::string& buffer, std::string& message) {
    char chunk[16384];
    for (;;) {
        if (std::size_t n = completeMessage(buffer)) {
            message.assign(buffer, 0, n);
            buffer.erase(0, n);
            return true;
        }
        pollfd entry{fd, POLLIN, 0};
        if (::poll(&entry, 1, 75000) <= 0) return false;
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
}

void serveConnection(int client) {
    int upstream = connectUpstream();
    std::string fromClient, fromUpstream, request, response;
    while (upstream >= 0 && readMessage(client, fromClient, request)) {
        if (!sendAll(upstream, request.data(), request.size())) break;
        if (!readMessage(upstream, fromUpstream, response)) break;
        if (!sendAll(client, response.data(), response.size())) break;
    }
    if (upstream >= 0) ::close(upstream);
    ::close(client);
}

struct Pair {
    int client = -1;
    int upstream = -1;
    std::string fromClient, fromUpstream;
    bool closed = false;  ///< both sockets closed; freed after the batch of events that may still name it
};

/// epoll data: the pair's address, its low bit set for the upstream side.
void* tag(Pair* pair, bool upstreamSide) {
    return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(pair) | (upstreamSide ? 1u : 0u));
}

void eventLoop(int epoll) {
    epoll_event events[64];
    char chunk[16384];
    std::vector<Pair*> closed;
    for (;;) {
        int ready = ::epoll_wait(epoll, events, 64, -1);
        for (int i = 0; i < ready; ++i) {
            auto bits = reinterpret_cast<std::uintptr_t>(events[i].data.ptr);
            auto* pair = reinterpret_cast<Pair*>(bits & ~std::uintptr_t{1});
            if (pair->closed) continue;  // its other socket's event in the same batch
            const bool upstreamSide = bits & 1u;
            const int from = upstreamSide ? pair->upstream : pair->client;
            const int to = upstreamSide ? pair->client : pair->upstream;
            std::string& buffer = upstreamSide ? pair->fromUpstream : pair->fromClient;
            ssize_t n = ::recv(from, chunk, sizeof chunk, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                ::close(pair->client);  // closing removes both from the epoll set
                ::close(pair->upstream);
                pair->closed = true;
                closed.push_back(pair);
                continue;
            }
            if (n > 0) buffer.append(chunk, static_cast<std::size_t>(n));
            while (std::size_t message = completeMessage(buffer)) {
                sendAll(to, buffer.data(), message);
                buffer.erase(0, message);
            }
        }
        for (Pair* pair : closed) delete pair;
        closed.clear();
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4 || (std::strcmp(argv[1], "threads") != 0 && std::strcmp(argv[1], "epoll") != 0)) {
        std::fprintf(stderr, "usage: %s threads|epoll LISTEN_PORT UPSTREAM_PORT [event loops]\n", argv[0]);
        return 2;
    }
    const bool useEpoll = std::strcmp(argv[1], "epoll") == 0;
    const int port = std::atoi(argv[2]);
    upstreamPort = std::atoi(argv[3]);
    const int loops = argc > 4 ? std::max(1, std::atoi(argv[4])) : 2;

    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto address = loopback(port);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, 512) != 0) {
        std::perror("passthrough: listen");
        return 1;
    }
    std::vector<int> epolls;
    if (useEpoll) {
        for (int i = 0; i < loops; ++i) {
            epolls.push_back(::epoll_create1(EPOLL_CLOEXEC));
            std::thread(eventLoop, epolls.back()).detach();
        }
    }
    std::printf("listening\n");
    std::fflush(stdout);
    for (std::size_t accepted = 0;; ++accepted) {
        int client = ::accept(listener, nullptr, nullptr);
        if (client < 0) continue;
        noDelay(client);
        if (!useEpoll) {
            std::thread(serveConnection, client).detach();
            continue;
        }
        int upstream = connectUpstream();
        if (upstream < 0) {
            ::close(client);
            continue;
        }
        auto* pair = new Pair{client, upstream, {}, {}};
        int epoll = epolls[accepted % epolls.size()];
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.ptr = tag(pair, false);
        ::epoll_ctl(epoll, EPOLL_CTL_ADD, client, &event);
        event.data.ptr = tag(pair, true);
        ::epoll_ctl(epoll, EPOLL_CTL_ADD, upstream, &event);
    }
}
