#include "sandbox/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

namespace paddock::sandbox {
namespace {

// A socket path inside the directory `dir_fd` refers to, short whatever the directory's own path
// is (sun_path holds 108 bytes; state directories can be longer).
std::string SocketPathIn(int dir_fd) {
  return "/proc/self/fd/" + std::to_string(dir_fd) + "/" + kTerminalSocketName;
}

Result<sockaddr_un> SocketAddress(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    return Status::InvalidArgument("socket path too long: " + path);
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

bool ValidSize(const TerminalSize& size) {
  return size.rows >= 1 && size.rows <= 4096 && size.cols >= 1 && size.cols <= 4096;
}

Status SendMessage(const std::string& state_dir, const std::string& packet, int timeout_ms) {
  UniqueFd dir(::open(state_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Status::FromErrno("open " + state_dir);
  auto address = SocketAddress(SocketPathIn(dir.get()));
  if (!address.ok()) return address.status();
  UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock) return Status::FromErrno("socket");
  timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) {
      return Status::Unavailable("the sandbox's terminal is not accepting input (has it ended?)");
    }
    return Status::FromErrno("connect to the sandbox's terminal");
  }
  const ssize_t sent = ::send(sock.get(), packet.data(), packet.size(), MSG_NOSIGNAL);
  if (sent == static_cast<ssize_t>(packet.size())) return Status::Ok();
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    return Status::Unavailable("the sandbox's terminal is not consuming input");
  }
  if (sent < 0 && (errno == EPIPE || errno == ECONNRESET)) {
    return Status::Unavailable("the sandbox's terminal closed (has it ended?)");
  }
  return Status::FromErrno("send to the sandbox's terminal");
}

}  // namespace

Status SetTerminalSize(int master, const TerminalSize& size) {
  winsize ws{};
  ws.ws_row = size.rows;
  ws.ws_col = size.cols;
  if (::ioctl(master, TIOCSWINSZ, &ws) != 0) return Status::FromErrno("TIOCSWINSZ");
  return Status::Ok();
}

Result<TerminalPair> OpenTerminal(const TerminalSize& size, uid_t owner, gid_t group) {
  TerminalPair pair;
  pair.master.reset(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pair.master) return Status::FromErrno("open /dev/ptmx");
  if (::unlockpt(pair.master.get()) != 0) return Status::FromErrno("unlockpt");
  // TIOCGPTPEER opens the slave through the master, never through a path the sandbox controls.
  pair.slave.reset(::ioctl(pair.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pair.slave) return Status::FromErrno("TIOCGPTPEER");
  if (::fchown(pair.slave.get(), owner, group) != 0) return Status::FromErrno("chown the tty");
  PADDOCK_RETURN_IF_ERROR(SetTerminalSize(pair.master.get(), size));
  return pair;
}

Result<UniqueFd> ListenTerminalControl(int state_dir) {
  auto address = SocketAddress(SocketPathIn(state_dir));
  if (!address.ok()) return address.status();
  UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock) return Status::FromErrno("socket");
  ::unlinkat(state_dir, kTerminalSocketName, 0);
  if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0) {
    return Status::FromErrno("bind tty.sock");
  }
  if (::fchmodat(state_dir, kTerminalSocketName, 0600, 0) != 0) {
    return Status::FromErrno("chmod tty.sock");
  }
  if (::listen(sock.get(), static_cast<int>(kMaxTerminalClients)) != 0) {
    return Status::FromErrno("listen tty.sock");
  }
  return sock;
}

Result<TerminalMessage> ParseTerminalMessage(std::string_view packet) {
  TerminalMessage message;
  if (packet.size() >= 2 && packet.size() <= 1 + kMaxTerminalInput && packet[0] == 'i') {
    message.kind = TerminalMessage::Kind::kInput;
    message.input.assign(packet.substr(1));
    return message;
  }
  if (packet.size() == 5 && packet[0] == 'w') {
    const auto byte = [&](size_t i) { return static_cast<uint16_t>(uint8_t(packet[i])); };
    message.kind = TerminalMessage::Kind::kResize;
    message.size = {static_cast<uint16_t>(byte(1) << 8 | byte(2)),
                    static_cast<uint16_t>(byte(3) << 8 | byte(4))};
    if (ValidSize(message.size)) return message;
  }
  return Status::InvalidArgument("not a terminal control message");
}

Status SendTerminalInput(const std::string& state_dir, std::string_view bytes, int timeout_ms) {
  if (bytes.empty() || bytes.size() > kMaxTerminalInput) {
    return Status::InvalidArgument("terminal input: 1.." + std::to_string(kMaxTerminalInput) +
                                   " bytes per message");
  }
  std::string packet = "i";
  packet.append(bytes);
  return SendMessage(state_dir, packet, timeout_ms);
}

Status ResizeTerminal(const std::string& state_dir, const TerminalSize& size, int timeout_ms) {
  if (!ValidSize(size)) return Status::InvalidArgument("tty: rows and cols must be 1..4096");
  const char packet[] = {'w', static_cast<char>(size.rows >> 8), static_cast<char>(size.rows),
                         static_cast<char>(size.cols >> 8), static_cast<char>(size.cols)};
  return SendMessage(state_dir, std::string(packet, sizeof packet), timeout_ms);
}

}  // namespace paddock::sandbox
