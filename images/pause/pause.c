/* k3dpp pod-sandbox process (image k3dpp.local/pause:3.10).
 *
 * It holds a pod's namespaces open and does nothing else: it waits for
 * signals synchronously, reaps any child that gets re-parented to it (it is
 * PID 1 when the pod shares its PID namespace) and exits 0 on SIGINT or
 * SIGTERM. Built static (gcc -static) so the image is a single file. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    fprintf(stderr, "pause: takes no arguments\n");
    return 2;
  }
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGINT);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &wanted, NULL) != 0) {
    perror("pause: sigprocmask");
    return 1;
  }
  for (;;) {
    int sig = sigwaitinfo(&wanted, NULL);
    if (sig < 0) {
      if (errno == EINTR) continue;
      perror("pause: sigwaitinfo");
      return 1;
    }
    if (sig == SIGCHLD) {
      /* Several children may have exited behind one pending SIGCHLD. */
      while (waitpid(-1, NULL, WNOHANG) > 0) {
      }
      continue;
    }
    return 0; /* SIGINT or SIGTERM */
  }
}
