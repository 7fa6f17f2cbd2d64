#include "proxy/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace k3dpp::proxy {

Result<ExecResult> run_program(const std::vector<std::string>& argv, const std::string& stdin_text) {
  if (argv.empty()) return fail("run_program: empty argv");
  int in_pipe[2];
  int out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) return fail(std::string("pipe: ") + std::strerror(errno));
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    close(in_pipe[0]);
    close(in_pipe[1]);
    return fail(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) close(fd);
    return fail(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(out_pipe[1], 2);
    execvp(args[0], args.data());
    const char msg[] = "exec failed\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  // A child that exits before reading stdin must not kill us with SIGPIPE: block it in this thread
  // while writing and discard a pending one afterwards.
  sigset_t pipe_set;
  sigset_t old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  // Write stdin and read output concurrently so neither side blocks on a full pipe.
  size_t written = 0;
  int wfd = in_pipe[1];
  if (stdin_text.empty()) {
    close(wfd);
    wfd = -1;
  } else {
    fcntl(wfd, F_SETFL, O_NONBLOCK);
  }
  ExecResult res;
  char buf[4096];
  bool out_open = true;
  while (out_open) {
    pollfd fds[2];
    int nfds = 0;
    fds[nfds++] = {out_pipe[0], POLLIN, 0};
    if (wfd >= 0) fds[nfds++] = {wfd, POLLOUT, 0};
    if (poll(fds, nfds, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (wfd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(wfd, stdin_text.data() + written, stdin_text.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) written = stdin_text.size();
      if (written >= stdin_text.size()) {
        close(wfd);
        wfd = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(out_pipe[0], buf, sizeof buf);
      if (n > 0) {
        res.output.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        out_open = false;
      }
    }
  }
  if (wfd >= 0) close(wfd);
  close(out_pipe[0]);
  timespec zero{0, 0};
  while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return res;
}

}  // namespace k3dpp::proxy
