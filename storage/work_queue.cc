#include "storage/work_queue.h"

#include <algorithm>

namespace paddock::storage {

unsigned WorkQueue::DefaultThreads() {
  return std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
}

WorkQueue::WorkQueue(unsigned threads, size_t max_backlog)
    : max_backlog_(std::max<size_t>(max_backlog, 1)) {
  if (threads == 0) threads = DefaultThreads();
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { RunWorker(); });
}

WorkQueue::~WorkQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool WorkQueue::Submit(Job job) {
  std::unique_lock lock(mu_);
  room_ready_.wait(lock, [&] { return !first_error_.ok() || backlog_.size() < max_backlog_; });
  if (!first_error_.ok()) return false;
  backlog_.push_back(std::move(job));
  lock.unlock();
  work_ready_.notify_one();
  return true;
}

Status WorkQueue::Wait() {
  std::unique_lock lock(mu_);
  all_done_.wait(lock, [&] { return backlog_.empty() && running_ == 0; });
  return first_error_;
}

bool WorkQueue::failed() const {
  std::lock_guard lock(mu_);
  return !first_error_.ok();
}

void WorkQueue::RunWorker() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_ready_.wait(lock, [&] { return stopping_ || !backlog_.empty(); });
    if (backlog_.empty()) return;  // stopping, and nothing left to do
    Job job = std::move(backlog_.front());
    backlog_.pop_front();
    ++running_;
    lock.unlock();
    room_ready_.notify_one();
    Status status = job();
    job = nullptr;  // release what the job held (fds) before reporting it done
    lock.lock();
    --running_;
    if (!status.ok() && first_error_.ok()) {
      first_error_ = std::move(status);
      backlog_.clear();  // dropped: the operation has failed as a whole
      room_ready_.notify_all();
    }
    if (backlog_.empty() && running_ == 0) all_done_.notify_all();
  }
}

}  // namespace paddock::storage
