// WorkQueue: a small pool of threads running jobs handed to it, with a bounded backlog.
//
// The file system side of the store (snapshot, checkout) hashes and copies many files at once;
// this is the one place that owns those threads. Submit() blocks while the backlog is full, so
// whatever queued jobs hold (file descriptors, buffers) stays bounded however large the tree.
//
// Errors: the first job to fail stops the queue. Jobs not yet started are dropped, Submit()
// refuses new ones (returns false) and Wait() returns that first error. Jobs must not throw.
//
// Thread-safety: Submit(), Wait() and failed() may be called from any thread, but a job must not
// call Wait() (it would wait for itself). The destructor waits for running jobs.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "base/status.h"

namespace paddock::storage {

class WorkQueue {
 public:
  using Job = std::function<Status()>;

  // The thread count used when a caller asks for 0: the machine's cores, at most 8 (beyond that
  // the disk, not the CPU, limits hashing and copying).
  static unsigned DefaultThreads();

  // Starts `threads` workers (DefaultThreads() when 0). At most `max_backlog` (>= 1) jobs wait.
  WorkQueue(unsigned threads, size_t max_backlog);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `job`, waiting for room in the backlog. Returns false, without queueing it, once a job
  // has failed.
  bool Submit(Job job);
  // Waits until every queued job has finished (or was dropped); returns the first failure, or OK.
  // The queue stays usable afterwards only if it returned OK.
  Status Wait();
  bool failed() const;

 private:
  void RunWorker();

  const size_t max_backlog_;
  mutable std::mutex mu_;
  std::condition_variable work_ready_;  // a job was queued, or the queue is stopping
  std::condition_variable room_ready_;  // the backlog shrank, or a job failed
  std::condition_variable all_done_;    // nothing queued and nothing running
  std::deque<Job> backlog_;
  size_t running_ = 0;
  bool stopping_ = false;
  Status first_error_;
  std::vector<std::thread> threads_;
};

}  // namespace paddock::storage
