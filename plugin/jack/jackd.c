/* jackd.c — probe for a JACK server; start and stop a dummy-backend jackd. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jack/jack.h>
#include "error.h"
#include "jackd.h"

const char *jackd_server_name(const char *name)
{
    if (name && *name) return name;
    const char *env = getenv("JACK_DEFAULT_SERVER");
    return env && *env ? env : "default";
}

static void jackd_silent(const char *msg) { (void)msg; }
static void jackd_to_stderr(const char *msg) { fprintf(stderr, "jack: %s\n", msg); }

bool jackd_running(const char *name)
{
    /* libjack prints "cannot connect" lines for a missing server: hush them
     * for the probe, then restore a plain stderr reporter. */
    jack_set_error_function(jackd_silent);
    jack_set_info_function(jackd_silent);
    char client_name[32];
    snprintf(client_name, sizeof client_name, "cn-probe-%d", (int)getpid());
    jack_status_t status;
    jack_client_t *c = jack_client_open(client_name, JackNoStartServer | JackServerName, &status,
                                        jackd_server_name(name));
    if (c) jack_client_close(c);
    jack_set_error_function(jackd_to_stderr);
    jack_set_info_function(jackd_silent);
    return c != NULL;
}

static void jackd_child_setup(gpointer unused)
{
    (void)unused;
    setsid(); /* own session: a terminal's SIGINT goes to us, not to jackd */
}

gboolean jackd_start(const char *name, int rate, int period, double timeout, bool verbose,
                     GPid *pid, GError **err)
{
    const char *server = jackd_server_name(name);
    char rate_s[16], period_s[16];
    snprintf(rate_s, sizeof rate_s, "%d", rate);
    snprintf(period_s, sizeof period_s, "%d", period);
    /* -t 2000: a generous client timeout (ms) so a loaded 2-core machine does
     * not get our clients thrown out; the dummy backend keeps time anyway. */
    char *argv[] = {"jackd", "-n", (char *)server, "-t", "2000", "-d", "dummy",
                    "-r", rate_s, "-p", period_s, NULL};
    GSpawnFlags flags = G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD;
    if (!verbose) flags |= G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL;
    GError *spawn_err = NULL;
    if (!g_spawn_async(NULL, argv, NULL, flags, jackd_child_setup, NULL, pid, &spawn_err)) {
        g_set_error(err, CN_ERROR, CN_ERR_JACK, "jackd: cannot start the dummy server '%s': %s",
                    server, spawn_err->message);
        g_error_free(spawn_err);
        return FALSE;
    }
    gint64 deadline = g_get_monotonic_time() + (gint64)(timeout * 1e6);
    while (g_get_monotonic_time() < deadline) {
        int status;
        if (waitpid(*pid, &status, WNOHANG) == *pid) {
            g_set_error(err, CN_ERROR, CN_ERR_JACK,
                        "jackd: the dummy server '%s' exited (status %d) before accepting clients",
                        server, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            return FALSE;
        }
        if (jackd_running(server)) return TRUE;
        g_usleep(50 * 1000);
    }
    jackd_stop(*pid);
    g_set_error(err, CN_ERROR, CN_ERR_JACK,
                "jackd: the dummy server '%s' did not accept clients within %.1f s", server, timeout);
    return FALSE;
}

void jackd_stop(GPid pid)
{
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 60; i++) { /* 3 s in 50 ms steps */
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        g_usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
