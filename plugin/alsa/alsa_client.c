/* alsa_client.c — the ALSA sequencer client: ports, queue, timestamped
 * input, scheduled output (see alsa_client.h). Every libasound call of
 * continuo is in this file. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <alsa/asoundlib.h>
#include "alsa_client.h"
#include "error.h"

#define SEQ_DEVICE_NODE "/dev/snd/seq"

struct alsa_host {
    alsa_host_config cfg;
    snd_seq_t *seq;
    int client, port_in, port_out, queue;
    bool queue_started;
    struct pollfd *pfds;
    int npfds;
    double last_scheduled; /* time of the latest event sent */
    char *name_in, *name_out;
    alsa_host_stats st;
};

void alsa_host_config_defaults(alsa_host_config *c)
{
    memset(c, 0, sizeof *c);
    c->client_name = "continuo";
    c->device = "default";
    c->output_pool = 2000;
}

/* ---------------------------------------------------------------------------
 * pure conversions */

bool alsa_event_to_cn(int seq_type, int channel, int a, int b, cn_event *out)
{
    if (channel < 0 || channel > 15 || a < 0 || a > 127 || b < 0 || b > 127) return false;
    memset(out, 0, sizeof *out);
    out->channel = (uint8_t)channel;
    out->a = (uint8_t)a;
    out->b = (uint8_t)b;
    switch (seq_type) {
    case SND_SEQ_EVENT_NOTEON:
        out->type = b > 0 ? CN_EV_NOTE_ON : CN_EV_NOTE_OFF;
        return true;
    case SND_SEQ_EVENT_NOTEOFF:
        out->type = CN_EV_NOTE_OFF;
        return true;
    case SND_SEQ_EVENT_CONTROLLER:
        out->type = CN_EV_CC;
        return true;
    case SND_SEQ_EVENT_PGMCHANGE:
        out->type = CN_EV_PROGRAM;
        out->b = 0;
        return true;
    default:
        return false;
    }
}

void alsa_seconds_to_real(double t, unsigned *sec, unsigned *nsec)
{
    if (!(t > 0)) t = 0;
    double s = floor(t);
    double ns = round((t - s) * 1e9);
    if (ns >= 1e9) {
        s += 1;
        ns -= 1e9;
    }
    *sec = (unsigned)s;
    *nsec = (unsigned)ns;
}

double alsa_real_to_seconds(unsigned sec, unsigned nsec) { return sec + nsec / 1e9; }

/* ---------------------------------------------------------------------------
 * setup */

static void set_seq_error(GError **err, const char *what, const char *device, int rc)
{
    bool no_node = access(SEQ_DEVICE_NODE, F_OK) != 0;
    g_set_error(err, CN_ERROR, CN_ERR_IO, "ALSA sequencer: %s '%s': %s%s", what, device,
                snd_strerror(rc),
                no_node ? " (" SEQ_DEVICE_NODE " is missing: no ALSA sequencer on this machine; "
                          "load the snd-seq module, or use JACK without --alsa)"
                        : "");
}

static int make_port(alsa_host *h, const char *name, unsigned caps, bool timestamped)
{
    snd_seq_port_info_t *pi;
    snd_seq_port_info_alloca(&pi);
    snd_seq_port_info_set_name(pi, name);
    snd_seq_port_info_set_capability(pi, caps);
    snd_seq_port_info_set_type(pi, SND_SEQ_PORT_TYPE_MIDI_GENERIC | SND_SEQ_PORT_TYPE_APPLICATION);
    if (timestamped) { /* input stamped by our queue, in real time, on arrival */
        snd_seq_port_info_set_timestamping(pi, 1);
        snd_seq_port_info_set_timestamp_real(pi, 1);
        snd_seq_port_info_set_timestamp_queue(pi, h->queue);
    }
    int rc = snd_seq_create_port(h->seq, pi);
    return rc < 0 ? rc : snd_seq_port_info_get_port(pi);
}

/* libasound prints its own "ALSA lib ..." lines on stderr; our errors are
 * reported once, through err. */
static void quiet_alsa_errors(const char *file, int line, const char *function, int errcode,
                              const char *fmt, ...)
{
    (void)file; (void)line; (void)function; (void)errcode; (void)fmt;
}

alsa_host *alsa_host_new(const alsa_host_config *c, GError **err)
{
    snd_lib_error_set_handler(quiet_alsa_errors);
    alsa_host *h = g_new0(alsa_host, 1);
    h->cfg = *c;
    h->queue = -1;
    h->last_scheduled = 0;
    const char *dev = c->device ? c->device : "default";
    const char *name = c->client_name ? c->client_name : "continuo";
    int rc = snd_seq_open(&h->seq, dev, SND_SEQ_OPEN_DUPLEX, SND_SEQ_NONBLOCK);
    if (rc < 0) {
        set_seq_error(err, "cannot open", dev, rc);
        h->seq = NULL;
        alsa_host_free(h);
        return NULL;
    }
    if ((rc = snd_seq_set_client_name(h->seq, name)) < 0 ||
        (rc = snd_seq_set_client_pool_output(h->seq, (size_t)MAX(c->output_pool, 100))) < 0) {
        set_seq_error(err, "cannot set up the client on", dev, rc);
        alsa_host_free(h);
        return NULL;
    }
    h->client = snd_seq_client_id(h->seq);
    if ((h->queue = snd_seq_alloc_named_queue(h->seq, name)) < 0) {
        set_seq_error(err, "cannot allocate a queue on", dev, h->queue);
        alsa_host_free(h);
        return NULL;
    }
    h->port_in = make_port(h, "midi_in", SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_SUBS_WRITE, true);
    h->port_out = make_port(h, "midi_out", SND_SEQ_PORT_CAP_READ | SND_SEQ_PORT_CAP_SUBS_READ, false);
    if (h->port_in < 0 || h->port_out < 0) {
        set_seq_error(err, "cannot create the ports midi_in/midi_out on", dev,
                      h->port_in < 0 ? h->port_in : h->port_out);
        alsa_host_free(h);
        return NULL;
    }
    if ((rc = snd_seq_start_queue(h->seq, h->queue, NULL)) < 0 ||
        (rc = snd_seq_drain_output(h->seq)) < 0) {
        set_seq_error(err, "cannot start the queue on", dev, rc);
        alsa_host_free(h);
        return NULL;
    }
    h->queue_started = true;
    h->npfds = snd_seq_poll_descriptors_count(h->seq, POLLIN);
    h->pfds = g_new0(struct pollfd, MAX(h->npfds, 1));
    snd_seq_poll_descriptors(h->seq, h->pfds, (unsigned)h->npfds, POLLIN);
    h->name_in = g_strdup_printf("%s:midi_in (%d:%d)", name, h->client, h->port_in);
    h->name_out = g_strdup_printf("%s:midi_out (%d:%d)", name, h->client, h->port_out);
    return h;
}

void alsa_host_free(alsa_host *h)
{
    if (!h) return;
    if (h->seq) {
        if (h->queue_started) {
            snd_seq_stop_queue(h->seq, h->queue, NULL);
            snd_seq_drain_output(h->seq);
        }
        if (h->queue >= 0) snd_seq_free_queue(h->seq, h->queue);
        snd_seq_close(h->seq);
    }
    g_free(h->pfds);
    g_free(h->name_in);
    g_free(h->name_out);
    g_free(h);
}

static gboolean parse_addr(alsa_host *h, const char *addr, snd_seq_addr_t *a, GError **err)
{
    int rc = snd_seq_parse_address(h->seq, a, addr);
    if (rc < 0) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG,
                    "ALSA sequencer: '%s' is not a port (CLIENT:PORT, as `aconnect -l` lists): %s",
                    addr, snd_strerror(rc));
        return FALSE;
    }
    return TRUE;
}

gboolean alsa_host_connect_in(alsa_host *h, const char *addr, GError **err)
{
    snd_seq_addr_t a, me = {(unsigned char)h->client, (unsigned char)h->port_in};
    if (!parse_addr(h, addr, &a, err)) return FALSE;
    snd_seq_port_subscribe_t *sub;
    snd_seq_port_subscribe_alloca(&sub);
    snd_seq_port_subscribe_set_sender(sub, &a);
    snd_seq_port_subscribe_set_dest(sub, &me);
    snd_seq_port_subscribe_set_queue(sub, h->queue); /* stamped on arrival, real time */
    snd_seq_port_subscribe_set_time_update(sub, 1);
    snd_seq_port_subscribe_set_time_real(sub, 1);
    int rc = snd_seq_subscribe_port(h->seq, sub);
    if (rc < 0) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "ALSA sequencer: cannot connect %s to %s: %s", addr,
                    h->name_in, snd_strerror(rc));
        return FALSE;
    }
    return TRUE;
}

gboolean alsa_host_connect_out(alsa_host *h, const char *addr, GError **err)
{
    snd_seq_addr_t a;
    if (!parse_addr(h, addr, &a, err)) return FALSE;
    int rc = snd_seq_connect_to(h->seq, h->port_out, a.client, a.port);
    if (rc < 0) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "ALSA sequencer: cannot connect %s to %s: %s",
                    h->name_out, addr, snd_strerror(rc));
        return FALSE;
    }
    return TRUE;
}

int alsa_host_client_id(const alsa_host *h) { return h->client; }
const char *alsa_host_port_name(const alsa_host *h, bool out) { return out ? h->name_out : h->name_in; }
void alsa_host_get_stats(const alsa_host *h, alsa_host_stats *st) { *st = h->st; }

/* ---------------------------------------------------------------------------
 * the pump's host table */

static double host_now(void *ctx)
{
    alsa_host *h = ctx;
    snd_seq_queue_status_t *qs;
    snd_seq_queue_status_alloca(&qs);
    if (snd_seq_get_queue_status(h->seq, h->queue, qs) < 0) return h->last_scheduled;
    const snd_seq_real_time_t *rt = snd_seq_queue_status_get_real_time(qs);
    return alsa_real_to_seconds(rt->tv_sec, rt->tv_nsec);
}

static int host_wait(void *ctx, double timeout, cn_event *in, int cap, GError **err)
{
    alsa_host *h = ctx;
    int n = 0;
    if (snd_seq_event_input_pending(h->seq, 1) <= 0) {
        struct timespec ts = {(time_t)timeout, (long)((timeout - floor(timeout)) * 1e9)};
        int rc = ppoll(h->pfds, (nfds_t)h->npfds, &ts, NULL);
        if (rc < 0 && errno != EINTR) {
            g_set_error(err, CN_ERROR, CN_ERR_IO, "ALSA sequencer: poll: %s", g_strerror(errno));
            return -1;
        }
        for (int i = 0; i < h->npfds; i++)
            if (h->pfds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                g_set_error(err, CN_ERROR, CN_ERR_IO, "ALSA sequencer: the device went away");
                return -1;
            }
    }
    double now = -1;
    while (n < cap) {
        snd_seq_event_t *ev = NULL;
        int rc = snd_seq_event_input(h->seq, &ev);
        if (rc == -EAGAIN || rc == -EINTR) break;
        if (rc == -ENOSPC) continue; /* the kernel's input buffer overran: events were lost */
        if (rc < 0) {
            g_set_error(err, CN_ERROR, CN_ERR_IO, "ALSA sequencer: reading input: %s", snd_strerror(rc));
            return -1;
        }
        if (!ev) break;
        cn_event e;
        bool ok;
        if (ev->type == SND_SEQ_EVENT_CONTROLLER || ev->type == SND_SEQ_EVENT_PGMCHANGE)
            ok = alsa_event_to_cn(ev->type, ev->data.control.channel,
                                  ev->type == SND_SEQ_EVENT_PGMCHANGE ? ev->data.control.value
                                                                     : (int)ev->data.control.param,
                                  ev->type == SND_SEQ_EVENT_PGMCHANGE ? 0 : ev->data.control.value, &e);
        else
            ok = alsa_event_to_cn(ev->type, ev->data.note.channel, ev->data.note.note,
                                  ev->data.note.velocity, &e);
        if (!ok) {
            h->st.ignored_in++;
            continue;
        }
        if ((ev->flags & SND_SEQ_TIME_STAMP_MASK) == SND_SEQ_TIME_STAMP_REAL && ev->queue == h->queue) {
            e.time = alsa_real_to_seconds(ev->time.time.tv_sec, ev->time.time.tv_nsec);
        } else {
            if (now < 0) now = host_now(h);
            e.time = now;
        }
        if (h->cfg.monitor) h->cfg.monitor(h->cfg.cb_arg, &e);
        in[n++] = e;
        h->st.events_in++;
    }
    return n;
}

static gboolean host_send(void *ctx, const cn_event *e, GError **err)
{
    alsa_host *h = ctx;
    snd_seq_event_t ev;
    snd_seq_ev_clear(&ev);
    snd_seq_ev_set_source(&ev, h->port_out);
    snd_seq_ev_set_subs(&ev);
    switch (e->type) {
    case CN_EV_NOTE_ON: snd_seq_ev_set_noteon(&ev, e->channel, e->a, e->b); break;
    case CN_EV_NOTE_OFF: snd_seq_ev_set_noteoff(&ev, e->channel, e->a, 0); break;
    case CN_EV_CC: snd_seq_ev_set_controller(&ev, e->channel, e->a, e->b); break;
    case CN_EV_PROGRAM: snd_seq_ev_set_pgmchange(&ev, e->channel, e->a); break;
    default: return TRUE;
    }
    snd_seq_real_time_t rt;
    unsigned sec, nsec;
    alsa_seconds_to_real(e->time, &sec, &nsec);
    rt.tv_sec = sec;
    rt.tv_nsec = nsec;
    snd_seq_ev_schedule_real(&ev, h->queue, 0, &rt);
    int rc;
    for (int tries = 0; (rc = snd_seq_event_output(h->seq, &ev)) == -EAGAIN && tries < 50; tries++)
        g_usleep(1000); /* the kernel's pool is full: let the queue play some */
    if (rc < 0) {
        h->st.send_errors++;
        g_set_error(err, CN_ERROR, CN_ERR_IO, "ALSA sequencer: cannot queue an event on %s: %s",
                    h->name_out, snd_strerror(rc));
        return FALSE;
    }
    if (e->time > h->last_scheduled) h->last_scheduled = e->time;
    h->st.events_out++;
    if (h->cfg.schedule) h->cfg.schedule(h->cfg.cb_arg, e, host_now(h));
    return TRUE;
}

static void host_flush(void *ctx)
{
    alsa_host *h = ctx;
    snd_seq_drain_output(h->seq);
}

static void host_finish(void *ctx, double limit)
{
    alsa_host *h = ctx;
    double t0 = host_now(h);
    for (int i = 0; i < 100 && snd_seq_drain_output(h->seq) == -EAGAIN; i++) g_usleep(1000);
    while (host_now(h) < h->last_scheduled + 0.005 && host_now(h) - t0 < limit) g_usleep(2000);
}

void alsa_host_pump_host(alsa_host *h, pump_host *out)
{
    memset(out, 0, sizeof *out);
    out->ctx = h;
    out->now = host_now;
    out->wait = host_wait;
    out->send = host_send;
    out->flush = host_flush;
    out->finish = host_finish;
}
