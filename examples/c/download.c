/* wxdl from C: a download, an abort and a bad option, against the header alone.
 *
 *   cc download.c -I crates/wxdl-c/include -L target/release -lwxdl_c -lpthread -o download
 *   ./download ROOT URL SLOW_URL            # the three calls, each event printed
 *   ./download ROOT URL SLOW_URL --loop N   # N calls, every other one aborted at once
 *
 * Exits 0 when every call ended as expected. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wxdl.h"

/* What the callback (on an engine thread) shares with main. */
struct state {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int quiet;
    unsigned completed;
    unsigned ok, aborted, failed_other;
    uint64_t slow_id;       /* aborted once its headers arrive */
    wxdl_engine *engine;    /* set before the first call */
    char last_fail[512];    /* the last fail object */
    char saved_path[1024];  /* from the last success */
};

static void on_event(void *user, uint64_t id, const char *kind, const char *json) {
    struct state *s = user;
    if (!s->quiet) printf("%llu %s %s\n", (unsigned long long)id, kind, json);
    pthread_mutex_lock(&s->lock);
    if (strcmp(kind, "headersReceived") == 0 && id == s->slow_id) {
        wxdl_abort(s->engine, id); /* allowed from a callback */
    } else if (strcmp(kind, "success") == 0) {
        s->ok++;
        const char *p = strstr(json, "\"savedPath\":\"");
        if (p) {
            p += strlen("\"savedPath\":\"");
            size_t n = strcspn(p, "\"");
            if (n >= sizeof s->saved_path) n = sizeof s->saved_path - 1;
            memcpy(s->saved_path, p, n);
            s->saved_path[n] = 0;
        }
    } else if (strcmp(kind, "fail") == 0) {
        if (strstr(json, "\"errMsg\":\"downloadFile:fail abort\"")) s->aborted++;
        else s->failed_other++;
        snprintf(s->last_fail, sizeof s->last_fail, "%s", json);
    } else if (strcmp(kind, "complete") == 0) {
        s->completed++;
        pthread_cond_broadcast(&s->changed);
    }
    pthread_mutex_unlock(&s->lock);
}

/* Waits until `n` calls have completed (60 s at most). */
static int wait_completed(struct state *s, unsigned n) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    int ok = 1;
    pthread_mutex_lock(&s->lock);
    while (s->completed < n && ok)
        ok = pthread_cond_timedwait(&s->changed, &s->lock, &until) == 0;
    ok = s->completed >= n;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static char *options(const char *url) {
    static char buf[2048];
    snprintf(buf, sizeof buf, "{\"url\":\"%s\"}", url);
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s ROOT URL SLOW_URL [--loop N]\n", argv[0]);
        return 2;
    }
    static struct state s = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    char config[1024];
    snprintf(config, sizeof config, "{\"root\":\"%s\",\"concurrency\":4}", argv[1]);
    wxdl_engine *e = wxdl_engine_new(config, on_event, &s);
    if (!e) {
        fprintf(stderr, "wxdl_engine_new: %s\n", wxdl_last_error());
        return 1;
    }
    s.engine = e;

    if (argc >= 6 && strcmp(argv[4], "--loop") == 0) {
        unsigned n = (unsigned)atoi(argv[5]);
        s.quiet = 1;
        for (unsigned i = 0; i < n; i++) {
            uint64_t id = wxdl_call(e, "downloadFile", options(i % 2 ? argv[3] : argv[2]));
            if (i % 2) wxdl_abort(e, id); /* may find it already ended: -1 then */
            if (i % 100 == 99 && !wait_completed(&s, i + 1)) break;
        }
        int done = wait_completed(&s, n);
        wxdl_engine_free(e);
        printf("loop: %u calls, %u completed, %u ok, %u aborted, %u other failures\n", n,
               s.completed, s.ok, s.aborted, s.failed_other);
        return done && s.completed == n && s.failed_other == 0 ? 0 : 1;
    }

    int status = 0;
    /* 1. A download. */
    uint64_t first = wxdl_call(e, "downloadFile", options(argv[2]));
    if (first != 1 || !wait_completed(&s, 1) || s.ok != 1) {
        fprintf(stderr, "download: no success\n");
        status = 1;
    } else {
        printf("saved at %s\n", s.saved_path);
    }
    /* 2. An abort, from the callback once the headers are in. */
    pthread_mutex_lock(&s.lock);
    s.slow_id = 2; /* the next id */
    pthread_mutex_unlock(&s.lock);
    uint64_t slow = wxdl_call(e, "downloadFile", options(argv[3]));
    if (slow != 2 || !wait_completed(&s, 2) || s.aborted != 1) {
        fprintf(stderr, "abort: not aborted\n");
        status = 1;
    }
    /* 3. A bad option: WeChat's failure object. */
    wxdl_call(e, "downloadFile", "{\"url\": 42}");
    if (!wait_completed(&s, 3) || !strstr(s.last_fail, "\"errno\":600009")) {
        fprintf(stderr, "bad option: %s\n", s.last_fail);
        status = 1;
    }
    /* A misuse the caller hears about at once. */
    if (wxdl_call(e, NULL, NULL) != 0 || wxdl_last_error() == NULL) status = 1;
    wxdl_engine_free(e);
    printf("done: %u completed\n", s.completed);
    return status;
}
