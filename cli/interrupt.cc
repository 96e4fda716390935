#include "cli/interrupt.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace paddock::cli {
namespace {

// The pipe the handler writes to; -1 while no guard is installed.
volatile sig_atomic_t g_interrupt_fd = -1;

void OnInterrupt(int /*signal*/) {
  const int saved_errno = errno;
  const int fd = g_interrupt_fd;
  // A full pipe already says "interrupted"; the byte only has to be there, not counted.
  if (fd >= 0) (void)!::write(fd, "i", 1);
  errno = saved_errno;
}

Status SetAction(int signal, void (*handler)(int), struct sigaction* previous) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (::sigaction(signal, &action, previous) != 0) return Status::FromErrno("sigaction");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<InterruptGuard>> InterruptGuard::Install() {
  if (g_interrupt_fd >= 0) return Status::Internal("an InterruptGuard is already installed");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return Status::FromErrno("pipe2");
  std::unique_ptr<InterruptGuard> guard(new InterruptGuard(UniqueFd(fds[0]), UniqueFd(fds[1])));
  g_interrupt_fd = guard->write_end_.get();
  PADDOCK_RETURN_IF_ERROR(SetAction(SIGPIPE, SIG_IGN, &guard->previous_pipe_));
  PADDOCK_RETURN_IF_ERROR(SetAction(SIGINT, &OnInterrupt, &guard->previous_interrupt_));
  return guard;
}

InterruptGuard::InterruptGuard(UniqueFd read_end, UniqueFd write_end)
    : read_end_(std::move(read_end)), write_end_(std::move(write_end)) {}

InterruptGuard::~InterruptGuard() {
  // The handler must be gone before the pipe it writes to is closed.
  ::sigaction(SIGINT, &previous_interrupt_, nullptr);
  g_interrupt_fd = -1;
  ::sigaction(SIGPIPE, &previous_pipe_, nullptr);
}

bool InterruptGuard::TakeInterrupt() {
  bool interrupted = false;
  char buffer[64];
  while (::read(read_end_.get(), buffer, sizeof buffer) > 0) interrupted = true;
  return interrupted;
}

void InterruptGuard::RestoreDefaultInterrupt() {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
}

}  // namespace paddock::cli
