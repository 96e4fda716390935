// The peer that bench/run measures paddockd against: a civetweb server configured like paddockd's
// REST API (same civetweb options, same response headers) that answers every request with one
// fixed JSON body built at start. Whatever paddockd spends beyond this (routing, auth, building the
// status document, logging) is what the throughput ratio paddockd/static shows.
//
// Usage: paddock_bench_static_civetweb --port PORT --body-bytes N [--threads N]
// Prints "ready" on stdout once listening; exits 0 on SIGTERM or SIGINT.

#include <civetweb.h>
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace {

// Mirrors paddockd's default worker count so both servers get the same concurrency.
constexpr int kDefaultThreads = 16;
// Smallest JSON object the padding scheme below can produce: {"pad":""}.
constexpr size_t kMinBodyBytes = 10;

struct Options {
  int port = 0;
  size_t body_bytes = 0;
  int threads = kDefaultThreads;
};

// Parses a whole decimal string; rejects trailing junk so "--port 80x" is an error, not 80.
template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

void PrintUsage() {
  std::fprintf(stderr,
               "usage: paddock_bench_static_civetweb --port PORT --body-bytes N [--threads N]\n");
}

// Stores one "--flag value" pair into `options`; false on an unknown flag or a bad value.
bool ApplyFlag(std::string_view flag, std::string_view value, Options& options) {
  if (flag == "--port") {
    auto port = ParseNumber<int>(value);
    if (!port || *port <= 0 || *port > 65535) return false;
    options.port = *port;
  } else if (flag == "--body-bytes") {
    auto bytes = ParseNumber<size_t>(value);
    if (!bytes || *bytes < kMinBodyBytes) return false;
    options.body_bytes = *bytes;
  } else if (flag == "--threads") {
    auto threads = ParseNumber<int>(value);
    if (!threads || *threads <= 0) return false;
    options.threads = *threads;
  } else {
    return false;
  }
  return true;
}

std::optional<Options> ParseArgs(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc || !ApplyFlag(argv[i], argv[i + 1], options)) return std::nullopt;
  }
  // Port and size have no sensible defaults: bench/run always picks both.
  if (options.port == 0 || options.body_bytes == 0) return std::nullopt;
  return options;
}

// A valid JSON object of exactly `bytes` bytes, so a client that parses the body sees JSON, like
// paddockd's, and the bytes on the wire match paddockd's response.
std::string MakeBody(size_t bytes) {
  std::string body = "{\"pad\":\"";
  body.append(bytes - kMinBodyBytes, 'x');
  body += "\"}";
  return body;
}

// The request handler: the same header calls, in the same order, as paddockd's WriteResponse()
// makes for a JSON 200, then the body. Each header is a separate write on the wire, so matching
// the count matters as much as matching the bytes.
int ServeBody(mg_connection* conn, void* cbdata) {
  const auto* body = static_cast<const std::string*>(cbdata);
  const std::string length = std::to_string(body->size());
  mg_response_header_start(conn, 200);
  mg_response_header_add(conn, "Content-Type", "application/json", -1);
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  mg_response_header_send(conn);
  mg_write(conn, body->data(), body->size());
  // civetweb takes a non-zero return as "handled" and records it as the status code.
  return 200;
}

// Blocks SIGTERM and SIGINT before civetweb spawns its threads, so they inherit the mask and the
// signals are only ever taken synchronously by sigwait() in main; no async handler is needed.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// The civetweb options of paddockd's API server (daemon/api_server.cc), minus its TLS setting and
// its second, internal listener, which plain-HTTP requests on the public port never touch.
// tcp_nodelay matters most: civetweb sends the status line, each header and the body as separate
// small writes, and with Nagle on, each response then waits ~40 ms for the client's delayed ACK.
mg_context* StartServer(const Options& options, const std::string& body) {
  const std::string ports = "127.0.0.1:" + std::to_string(options.port);
  const std::string threads = std::to_string(options.threads);
  // One key/value pair per line reads better than clang-format's bin-packed strings.
  // clang-format off
  const char* civet_options[] = {
      "listening_ports",       ports.c_str(),
      "num_threads",           threads.c_str(),
      "enable_keep_alive",     "yes",
      "request_timeout_ms",    "30000",
      "keep_alive_timeout_ms", "30000",
      "tcp_nodelay",           "1",
      nullptr};
  // clang-format on
  mg_callbacks callbacks{};
  mg_context* ctx = mg_start(&callbacks, nullptr, civet_options);
  if (ctx == nullptr) return nullptr;
  // The body outlives the server: main() owns it until after mg_stop().
  mg_set_request_handler(ctx, "/", ServeBody, const_cast<std::string*>(&body));
  return ctx;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = ParseArgs(argc, argv);
  if (!options) {
    PrintUsage();
    return 2;
  }
  const std::string body = MakeBody(options->body_bytes);
  const sigset_t stop_signals = BlockStopSignals();

  mg_init_library(0);
  mg_context* ctx = StartServer(*options, body);
  if (ctx == nullptr) {
    std::fprintf(stderr, "paddock_bench_static_civetweb: cannot listen on 127.0.0.1:%d\n",
                 options->port);
    mg_exit_library();
    return 1;
  }
  // bench/run waits for this line before it starts wrk.
  std::printf("ready\n");
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  mg_stop(ctx);
  mg_exit_library();
  return 0;
}
