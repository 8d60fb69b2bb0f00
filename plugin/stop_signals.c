/* stop_signals.c — SIGINT/SIGTERM taken synchronously; see stop_signals.h. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include "stop_signals.h"

static volatile sig_atomic_t pending_signal;

static void stop_signals_note(int sig) { pending_signal = sig; }

void signal_hold(int sig, void (*note)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void stop_signals_init(void)
{
    signal_hold(SIGINT, stop_signals_note);
    signal_hold(SIGTERM, stop_signals_note);
}

int stop_signals_wait(int ms)
{
    int sig = pending_signal; /* one a stray thread's handler took */
    if (sig) {
        pending_signal = 0;
        return sig;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    sig = sigtimedwait(&set, NULL, &ts);
    if (sig == SIGINT || sig == SIGTERM) return sig;
    sig = pending_signal;
    pending_signal = 0;
    return sig;
}
