/* test_ring.c — the lock-free SPSC ring (plugin/ring.c): capacity, order,
 * wrap-around, partial reads/writes, and a two-thread run whose sequence is
 * checked item by item (every item arrives once, in order, intact). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <cmocka.h>
#include "midi_msg.h"
#include "ring.h"

static void test_capacity_and_empty(void **state)
{
    (void)state;
    ring *r = ring_new(sizeof(rt_event), 100);
    assert_non_null(r);
    assert_int_equal(ring_capacity(r), 128); /* rounded up to a power of two */
    assert_int_equal(ring_count(r), 0);
    assert_int_equal(ring_space(r), 128);
    rt_event e;
    assert_false(ring_pop(r, &e));
    assert_false(ring_peek(r, &e));
    ring_free(r);
    assert_null(ring_new(0, 4));
}

static void test_fifo_full_wrap(void **state)
{
    (void)state;
    ring *r = ring_new(sizeof(rt_event), 8);
    rt_event e;
    /* run the indices around the ring several times */
    uint64_t next_in = 0, next_out = 0;
    for (int round = 0; round < 10; round++) {
        while (ring_space(r) > 0) {
            rt_event in = {next_in, CN_EV_NOTE_ON, (uint8_t)(next_in & 15), (uint8_t)(next_in & 127), 100};
            assert_true(ring_push(r, &in));
            next_in++;
        }
        rt_event extra = {0};
        assert_false(ring_push(r, &extra)); /* full: nothing written */
        assert_int_equal(ring_count(r), 8);
        assert_true(ring_peek(r, &e));
        assert_int_equal(e.frame, next_out);
        for (int k = 0; k < 5; k++) { /* leave 3 behind so the next round wraps */
            assert_true(ring_pop(r, &e));
            assert_int_equal(e.frame, next_out);
            assert_int_equal(e.a, next_out & 127);
            next_out++;
        }
    }
    while (ring_pop(r, &e)) assert_int_equal(e.frame, next_out++);
    assert_int_equal(next_out, next_in);
    ring_free(r);
}

static void test_bulk_partial(void **state)
{
    (void)state;
    ring *r = ring_new(2 * sizeof(float), 16);
    float in[2 * 40], out[2 * 40];
    for (int i = 0; i < 80; i++) in[i] = (float)i;
    assert_int_equal(ring_write(r, in, 10), 10);
    assert_int_equal(ring_read(r, out, 7), 7);
    for (int i = 0; i < 14; i++) assert_true(out[i] == (float)i);
    /* 3 left; 13 free: a write of 40 stores 13 and straddles the end */
    assert_int_equal(ring_write(r, in + 20, 40), 13);
    assert_int_equal(ring_count(r), 16);
    assert_int_equal(ring_read(r, out, 40), 16);
    for (int i = 0; i < 6; i++) assert_true(out[i] == (float)(14 + i));
    for (int i = 0; i < 26; i++) assert_true(out[6 + i] == (float)(20 + i));
    assert_int_equal(ring_read(r, out, 1), 0);
    ring_free(r);
}

#define STRESS_N 2000000

static void *producer(void *arg)
{
    ring *r = arg;
    for (uint64_t i = 0; i < STRESS_N;) {
        rt_event e = {i, CN_EV_CC, (uint8_t)(i % 16), (uint8_t)(i % 128), (uint8_t)((i / 128) % 128)};
        if (ring_push(r, &e)) i++;
        else sched_yield();
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    ring *r = ring_new(sizeof(rt_event), 64); /* small: forces many full/empty turns */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, r), 0);
    uint64_t expect = 0, bad = 0;
    rt_event buf[16];
    while (expect < STRESS_N) {
        size_t n = ring_read(r, buf, 16);
        if (!n) {
            sched_yield();
            continue;
        }
        for (size_t k = 0; k < n; k++, expect++) {
            const rt_event *e = &buf[k];
            if (e->frame != expect || e->channel != expect % 16 || e->a != expect % 128 ||
                e->b != (expect / 128) % 128)
                bad++;
        }
    }
    pthread_join(t, NULL);
    assert_int_equal(bad, 0);
    assert_int_equal(ring_count(r), 0);
    ring_free(r);
}

static void test_midi_msg(void **state)
{
    (void)state;
    uint8_t t, ch, a, b, out[3];
    const uint8_t on[3] = {0x93, 60, 100}, on0[3] = {0x90, 61, 0}, cc[3] = {0xb1, 123, 0},
                  bend[3] = {0xe0, 0, 64};
    assert_true(midi_msg_parse(on, 3, &t, &ch, &a, &b));
    assert_int_equal(t, CN_EV_NOTE_ON);
    assert_int_equal(ch, 3);
    assert_int_equal(a, 60);
    assert_int_equal(b, 100);
    assert_true(midi_msg_parse(on0, 3, &t, &ch, &a, &b));
    assert_int_equal(t, CN_EV_NOTE_OFF); /* velocity 0 is a note-off */
    assert_true(midi_msg_parse(cc, 3, &t, &ch, &a, &b));
    assert_int_equal(t, CN_EV_CC);
    assert_int_equal(a, CN_CC_ALL_NOTES_OFF);
    assert_false(midi_msg_parse(bend, 3, &t, &ch, &a, &b));
    assert_int_equal(midi_msg_encode(CN_EV_NOTE_ON, 2, 64, 90, out), 3);
    assert_memory_equal(out, ((uint8_t[]){0x92, 64, 90}), 3);
    assert_int_equal(midi_msg_encode(CN_EV_NOTE_OFF, 2, 64, 0, out), 3);
    assert_int_equal(out[0], 0x82);
    assert_int_equal(midi_msg_encode(CN_EV_PROGRAM, 0, 5, 0, out), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_and_empty),
        cmocka_unit_test(test_fifo_full_wrap),
        cmocka_unit_test(test_bulk_partial),
        cmocka_unit_test(test_two_threads),
        cmocka_unit_test(test_midi_msg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
