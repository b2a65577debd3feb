// A stand-in for nwagent that harness_test starts through AgentProcess, so
// the harness is tested without the real agent. It takes the harness's
// default flags, creates the data dir, listens on --api and answers every
// HTTP request with 200 {"status":"ready"} (and its pid for /v1/status);
// SIGTERM/SIGINT end it with exit 0 after logging "stopped". Extra flags:
// --fail (exit 3 at once),
// --ignore-sigterm, --say TEXT (logged once ready).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/base/net.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

void answer(int conn) {
  char buf[4096];
  std::string req;
  while (req.find("\r\n\r\n") == std::string::npos) {
    pollfd p{conn, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) return;
    ssize_t n = ::read(conn, buf, sizeof buf);
    if (n <= 0) return;
    req.append(buf, static_cast<size_t>(n));
  }
  // /v1/status carries the pid, as the real agent's does: the harness
  // checks it to be sure the agent answering is its own child.
  const std::string body =
      req.rfind("GET /v1/status ", 0) == 0
          ? "{\"pid\":" + std::to_string(::getpid()) + ",\"status\":\"ready\"}"
          : "{\"status\":\"ready\"}";
  const std::string resp =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  (void)!::write(conn, resp.data(), resp.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir, api, say;
  bool ignore_term = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--data-dir") {
      data_dir = next();
    } else if (a == "--api") {
      api = next();
    } else if (a == "--log-level") {
      next();
    } else if (a == "--say") {
      say = next();
    } else if (a == "--fail") {
      std::fprintf(stderr, "fake_agent: failing on purpose\n");
      return 3;
    } else if (a == "--ignore-sigterm") {
      ignore_term = true;
    }
  }
  auto hp = nw::parse_host_port(api);
  if (!hp.ok()) {
    std::fprintf(stderr, "fake_agent: --api: %s\n", hp.error().message.c_str());
    return 2;
  }
  if (!data_dir.empty()) std::filesystem::create_directories(data_dir);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  if (ignore_term) {
    ::signal(SIGTERM, SIG_IGN);
  } else {
    ::sigaction(SIGTERM, &sa, nullptr);
  }

  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(hp->port);
  ::inet_pton(AF_INET, hp->host.c_str(), &addr.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, 16) != 0) {
    std::fprintf(stderr, "fake_agent: bind %s: %s\n", api.c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "fake_agent: listening on %s pid %d\n", api.c_str(),
               static_cast<int>(::getpid()));
  if (!say.empty()) std::fprintf(stderr, "fake_agent: %s\n", say.c_str());
  while (!g_stop) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int conn = ::accept(fd, nullptr, nullptr);
    if (conn < 0) continue;
    answer(conn);
    ::close(conn);
  }
  std::fprintf(stderr, "fake_agent: stopped\n");
  return 0;
}
