#include "cli/terminal_attach.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/pipe.h"
#include "cli/reply.h"

namespace paddock::cli {
namespace {

constexpr char kDetachFirst = 0x10;   // Ctrl-P
constexpr char kDetachSecond = 0x11;  // Ctrl-Q
constexpr char kInterrupt = 0x03;     // Ctrl-C
constexpr char kEndOfInput = 0x04;    // Ctrl-D
// A terminal that is not taking input (503) is retried this often before keys are dropped.
constexpr int kBusyRetries = 10;
constexpr auto kBusyPause = std::chrono::milliseconds(200);

std::string TerminalPath(const std::string& id, std::string_view what) {
  return "/api/v1/sandboxes/" + EscapePathSegment(id) + "/" + std::string(what);
}

// Our terminal in raw mode for as long as this lives (nothing happens when stdin is no terminal).
class RawMode {
 public:
  RawMode() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0;
  }
  ~RawMode() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_);
  }
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// SIGWINCH, as a readable pipe while an attach runs (one at a time in a process).
int g_window_changes = -1;
void NoteWindowChange(int) {
  const int saved_errno = errno;
  if (g_window_changes >= 0) (void)!::write(g_window_changes, "w", 1);
  errno = saved_errno;
}

// Carries keystrokes and window changes to the daemon on its own thread, so that a slow POST
// never holds up the output.
class InputPump {
 public:
  InputPump(const CommandContext& context, std::string id, Pipe stop, Pipe window_changes,
            InterruptGuard& interrupts)
      : context_(context),
        id_(std::move(id)),
        stop_(std::move(stop)),
        window_changes_(std::move(window_changes)),
        interrupts_(interrupts) {}

  Status Start() {
    auto detach = MakePipe();
    if (!detach.ok()) return detach.status();
    detach_ = std::move(detach).value();
    stdin_is_terminal_ = ::isatty(STDIN_FILENO);
    SendWindowSize();  // the size may have changed since the sandbox was created
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  // Ends the pump (idempotent) and waits for it.
  void Stop() {
    if (!thread_.joinable()) return;
    (void)!::write(stop_.write.get(), "s", 1);
    thread_.join();
  }

  // Readable once the user detached.
  int detach_fd() const { return detach_.read.get(); }
  bool detached() const { return detached_.load(); }

 private:
  void Run() {
    bool reading = true;
    char previous = 0;
    while (true) {
      pollfd fds[4] = {{stop_.read.get(), POLLIN, 0},
                       {window_changes_.read.get(), POLLIN, 0},
                       {interrupts_.fd(), POLLIN, 0},
                       {reading ? STDIN_FILENO : -1, POLLIN, 0}};
      if (::poll(fds, 4, -1) < 0 && errno != EINTR) return;
      if (fds[0].revents != 0) return;
      if (fds[1].revents != 0) {
        char drain[64];
        (void)!::read(window_changes_.read.get(), drain, sizeof drain);
        SendWindowSize();
      }
      // Ctrl-C as a signal (stdin is no terminal): pass it on as the byte a terminal sends.
      if (fds[2].revents != 0 && interrupts_.TakeInterrupt()) Send(std::string(1, kInterrupt));
      if (fds[3].revents == 0) continue;
      char buf[4096];
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        reading = false;
        if (!stdin_is_terminal_) Send(std::string(1, kEndOfInput));
        continue;
      }
      std::string keys(buf, static_cast<size_t>(n));
      if (stdin_is_terminal_ && FindDetach(keys, &previous)) return;
      Send(keys);
    }
  }

  // True when `keys` (after what came before) completes Ctrl-P Ctrl-Q: what precedes the pair
  // is still sent, the pair itself is not.
  bool FindDetach(std::string& keys, char* previous) {
    for (size_t i = 0; i < keys.size(); ++i) {
      const char before = i == 0 ? *previous : keys[i - 1];
      if (before == kDetachFirst && keys[i] == kDetachSecond) {
        const size_t keep = i == 0 ? 0 : i - 1;
        if (keep > 0) Send(keys.substr(0, keep));
        detached_.store(true);
        (void)!::write(detach_.write.get(), "d", 1);
        return true;
      }
    }
    *previous = keys.back();
    return false;
  }

  void Send(const std::string& keys) {
    for (int attempt = 0; attempt <= kBusyRetries; ++attempt) {
      auto sent = context_.client.PostBytes(TerminalPath(id_, "stdin"), keys);
      // 409: the sandbox has ended (the output stream says so); anything but 503: give up.
      if (!sent.ok() || sent->status != 503) return;
      std::this_thread::sleep_for(kBusyPause);
    }
  }

  void SendWindowSize() {
    const std::optional<TerminalDimensions> size = LocalTerminalSize();
    if (!size) return;
    const nlohmann::json body = {{"rows", size->rows}, {"cols", size->cols}};
    (void)context_.client.Post(TerminalPath(id_, "resize"), body.dump());
  }

  const CommandContext& context_;
  const std::string id_;
  Pipe stop_;
  Pipe window_changes_;
  InterruptGuard& interrupts_;
  Pipe detach_;
  bool stdin_is_terminal_ = false;
  std::atomic<bool> detached_{false};
  std::thread thread_;
};

// Routes SIGWINCH into `pipe` for as long as this lives.
class WindowChangeWatch {
 public:
  explicit WindowChangeWatch(int pipe) {
    g_window_changes = pipe;
    struct sigaction action {};
    action.sa_handler = NoteWindowChange;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGWINCH, &action, &previous_);
  }
  ~WindowChangeWatch() {
    ::sigaction(SIGWINCH, &previous_, nullptr);
    g_window_changes = -1;
  }
  WindowChangeWatch(const WindowChangeWatch&) = delete;
  WindowChangeWatch& operator=(const WindowChangeWatch&) = delete;

 private:
  struct sigaction previous_ {};
};

}  // namespace

std::optional<TerminalDimensions> LocalTerminalSize() {
  for (int fd : {STDIN_FILENO, STDOUT_FILENO}) {
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
      return TerminalDimensions{ws.ws_row, ws.ws_col};
    }
  }
  return std::nullopt;
}

std::variant<AttachOutcome, ExitCode> AttachTerminal(const CommandContext& context,
                                                     const std::string& id, bool from_start,
                                                     InterruptGuard& interrupts) {
  auto stop = MakePipe();
  auto window_changes = MakePipe();
  for (const auto* p : {&stop, &window_changes}) {
    if (!p->ok()) return ReportRequestFailure(p->status());
  }
  ::fcntl(window_changes->write.get(), F_SETFL, O_NONBLOCK);
  WindowChangeWatch watch(window_changes->write.get());
  InputPump pump(context, id, std::move(stop).value(), std::move(window_changes).value(),
                 interrupts);

  StreamRequest output;
  output.path =
      TerminalPath(id, "logs") + "?stream=stdout&follow=true" + (from_start ? "" : "&from=end");
  output.unbounded = true;
  output.on_data = [](std::string_view chunk) {
    while (!chunk.empty()) {
      const ssize_t n = ::write(STDOUT_FILENO, chunk.data(), chunk.size());
      if (n <= 0 && errno == EINTR) continue;
      if (n <= 0) return;
      chunk.remove_prefix(static_cast<size_t>(n));
    }
  };
  Status driven;
  {
    RawMode raw;
    if (Status started = pump.Start(); !started.ok()) return ReportRequestFailure(started);
    const StreamHooks hooks{.wake_fd = pump.detach_fd(),
                            .after_each_round = nullptr,
                            .stop_early = [&pump] { return pump.detached(); }};
    driven = context.client.Stream(std::span<StreamRequest>(&output, 1), hooks);
    pump.Stop();
  }
  if (pump.detached()) return AttachOutcome::kDetached;
  if (!driven.ok()) return ReportRequestFailure(driven);
  if (!output.transport.ok()) return ReportRequestFailure(output.transport);
  if (!IsSuccess(output.response.status)) return ReportApiError(context, output.response);
  return AttachOutcome::kExited;
}

}  // namespace paddock::cli
