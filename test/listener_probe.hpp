#pragma once
// Hostile clients for the listener tests (unit and integration), over real sockets to a
// real server: slowloris connections that trickle header bytes, a flood of idle
// connections, an oversize body, and a plain HTTP request with a deadline. Blocking POSIX
// sockets with timeouts, nothing shared with the servers' own HTTP code.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace turnout::probe {

inline int64_t mono_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A connected socket to 127.0.0.1:port, or -1.
inline int connect_to(int port, int timeout_ms = 2000) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

inline bool send_all(int fd, std::string_view s) {
    while (!s.empty()) {
        const auto n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        s.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

// True when the server has closed (or reset) the connection: a read sees EOF or an error.
inline bool closed_by_server(int fd) {
    char c[4096];
    for (;;) {
        const auto n = ::recv(fd, c, sizeof c, MSG_DONTWAIT);
        if (n == 0) return true;
        if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
        // An answer (e.g. 408/400) before the close: keep reading.
    }
}

struct Reply {
    int status = 0;  // 0: no answer
    std::string text;
};

inline Reply read_reply(int fd) {
    Reply r;
    char buf[16384];
    for (;;) {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        r.text.append(buf, static_cast<size_t>(n));
        // Enough when the headers and a Content-Length's worth of body are in.
        const auto end = r.text.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        const auto cl = r.text.find("Content-Length: ");
        if (cl != std::string::npos && cl < end && r.text.size() >= end + 4 + std::stoul(r.text.substr(cl + 16))) break;
    }
    if (r.text.rfind("HTTP/1.1 ", 0) == 0 && r.text.size() >= 12) r.status = std::atoi(r.text.substr(9, 3).c_str());
    return r;
}

// One request on a fresh connection (Connection: close); the status and the whole answer.
inline Reply request(int port, const std::string& method, const std::string& target, const std::string& headers = "",
                     const std::string& body = "", int timeout_ms = 3000) {
    const int fd = connect_to(port, timeout_ms);
    if (fd < 0) return {};
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers;
    if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    Reply r = send_all(fd, req) ? read_reply(fd) : Reply{};
    ::close(fd);
    return r;
}

// A keep-alive connection opened now, asked later.
struct KeepAlive {
    int fd;
    explicit KeepAlive(int port) : fd(connect_to(port)) {}
    ~KeepAlive() {
        if (fd >= 0) ::close(fd);
    }
    Reply ask(const std::string& target, const std::string& headers = "") {
        if (fd < 0 || !send_all(fd, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n")) return {};
        return read_reply(fd);
    }
};

// `n` connections that send a request line and then one header byte every `every_ms`, for
// at most `give_up_ms`. Each entry: ms from connect until the server closed it, or -1.
struct Slowloris {
    std::vector<int64_t> closed_after_ms;
    int connected = 0;
    int64_t longest() const {
        int64_t m = 0;
        for (auto v : closed_after_ms) m = v < 0 ? INT64_MAX : std::max(m, v);
        return m;
    }
};

inline Slowloris slowloris(int port, int n, const std::string& request_line, int every_ms, int give_up_ms) {
    Slowloris out;
    std::vector<int> fds;
    std::vector<int64_t> opened;
    for (int i = 0; i < n; ++i) {
        const int fd = connect_to(port);
        if (fd < 0) continue;
        send_all(fd, request_line + "Host: 127.0.0.1\r\n");
        fds.push_back(fd);
        opened.push_back(mono_ms());
    }
    out.connected = static_cast<int>(fds.size());
    out.closed_after_ms.assign(fds.size(), -1);
    const int64_t until = mono_ms() + give_up_ms;
    static const std::string header = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    size_t pos = 0;
    for (size_t open = fds.size(); open > 0 && mono_ms() < until;) {
        const char c = header[pos++ % header.size()];
        for (size_t i = 0; i < fds.size(); ++i) {
            if (out.closed_after_ms[i] >= 0) continue;
            if (closed_by_server(fds[i]) || ::send(fds[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                out.closed_after_ms[i] = mono_ms() - opened[i];
                --open;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(every_ms));
    }
    for (int fd : fds) ::close(fd);
    return out;
}

// `n` connections opened at once that send nothing; `closed_within(ms)` counts those the
// server closed within ms of the flood.
struct Flood {
    std::vector<int> fds;
    explicit Flood(int port, int n) {
        for (int i = 0; i < n; ++i)
            if (int fd = connect_to(port); fd >= 0) fds.push_back(fd);
    }
    ~Flood() {
        for (int fd : fds) ::close(fd);
    }
    int closed_within(int ms) const {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        int closed = 0;
        for (int fd : fds) closed += closed_by_server(fd);
        return closed;
    }
};

// A request that declares a body of `declared` bytes and sends `sent` of them; the answer
// and whether the server closed the connection afterwards.
struct Oversize {
    Reply reply;
    bool closed = false;
    int64_t answered_after_ms = -1;
};

inline Oversize oversize(int port, const std::string& method, const std::string& target, const std::string& headers,
                         size_t declared, size_t sent) {
    Oversize o;
    const int fd = connect_to(port, 5000);
    if (fd < 0) return o;
    const int64_t t0 = mono_ms();
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
                      "Content-Length: " + std::to_string(declared) + "\r\n\r\n";
    send_all(fd, req);
    const std::string chunk(16384, 'x');
    for (size_t done = 0; done < sent;) {
        const size_t k = std::min(chunk.size(), sent - done);
        if (!send_all(fd, std::string_view(chunk).substr(0, k))) break;
        done += k;
    }
    o.reply = read_reply(fd);
    o.answered_after_ms = mono_ms() - t0;
    pollfd p{fd, POLLIN, 0};
    o.closed = ::poll(&p, 1, 3000) == 1 && closed_by_server(fd);
    ::close(fd);
    return o;
}

// A self-signed certificate for 127.0.0.1 and its private key (mode 0600) in `dir`.
inline bool make_test_cert(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    const auto cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 "
                     "-addext subjectAltName=IP:127.0.0.1 -keyout " + (dir / "key.pem").string() + " -out " +
                     (dir / "cert.pem").string() + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return false;
    std::filesystem::permissions(dir / "key.pem", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return true;
}

}  // namespace turnout::probe
