/*
 * mqttpub: a QoS 0/1 MQTT publisher fast enough not to set the pace of an ingest benchmark.
 *
 * Reads prepared messages from a file (records of: u16 topic length, topic, u32 payload length, payload; all
 * big-endian), publishes them with libmosquitto keeping up to WINDOW messages in flight, and waits for every
 * PUBACK (QoS 1), so "published" means "the broker has them all". Prints one JSON line:
 *   {"messages": N, "start_ns": first publish (wall clock), "seconds": until the last PUBACK, "rate": N/s}
 * With RATE > 0 it paces itself to RATE messages/s.
 *
 * usage: mqttpub HOST PORT FILE QOS WINDOW [RATE] [CLIENT_ID]
 * Built by bench/bench_ingest.py: cc -O2 -o mqttpub mqttpub.c -lmosquitto -lpthread
 */
#include <mosquitto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *topic;
    const uint8_t *payload;
    uint32_t payload_len;
} message_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static long acked = 0;
static int connected = 0;
static int connect_rc = -1;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_connect(struct mosquitto *m, void *obj, int rc) {
    (void)m; (void)obj;
    pthread_mutex_lock(&lock);
    connect_rc = rc;
    connected = rc == 0;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_publish(struct mosquitto *m, void *obj, int mid) {
    (void)m; (void)obj; (void)mid;
    pthread_mutex_lock(&lock);
    acked++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)n + 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
    fclose(f);
    *size = (size_t)n;
    return data;
}

static message_t *parse(uint8_t *data, size_t size, long *count) {
    long cap = 1024, n = 0;
    message_t *out = malloc(sizeof(message_t) * cap);
    size_t at = 0;
    while (at + 2 <= size) {
        uint16_t tl = (uint16_t)(data[at] << 8 | data[at + 1]);
        at += 2;
        if (at + tl + 4 > size) { fprintf(stderr, "truncated record %ld\n", n); exit(2); }
        char *topic = malloc(tl + 1u);
        memcpy(topic, data + at, tl);
        topic[tl] = 0;
        at += tl;
        uint32_t pl = (uint32_t)data[at] << 24 | (uint32_t)data[at + 1] << 16 | (uint32_t)data[at + 2] << 8 | data[at + 3];
        at += 4;
        if (at + pl > size) { fprintf(stderr, "truncated payload %ld\n", n); exit(2); }
        if (n == cap) { cap *= 2; out = realloc(out, sizeof(message_t) * cap); }
        out[n].topic = topic;
        out[n].payload = data + at;
        out[n].payload_len = pl;
        at += pl;
        n++;
    }
    *count = n;
    return out;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s HOST PORT FILE QOS WINDOW [RATE] [CLIENT_ID]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    int qos = atoi(argv[4]);
    long window = atol(argv[5]);
    double rate = argc > 6 ? atof(argv[6]) : 0.0;
    char client_id[64];
    snprintf(client_id, sizeof client_id, "%s", argc > 7 ? argv[7] : "");
    if (!client_id[0]) snprintf(client_id, sizeof client_id, "mqttpub-%d", (int)getpid());
    size_t size;
    uint8_t *data = read_file(argv[3], &size);
    long n;
    message_t *messages = parse(data, size, &n);

    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(client_id, true, NULL);
    if (!m) { fprintf(stderr, "mosquitto_new failed\n"); return 1; }
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(m, (unsigned int)window);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_publish_callback_set(m, on_publish);
    if (mosquitto_connect(m, host, port, 60) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "cannot connect\n"); return 1; }
    if (mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "loop_start failed\n"); return 1; }
    pthread_mutex_lock(&lock);
    while (connect_rc < 0) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    if (!connected) { fprintf(stderr, "connection refused: %d\n", connect_rc); return 1; }

    long long start_ns = wall_ns();
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (rate > 0) {
            double ahead = t0 + i / rate - now_s();
            if (ahead > 0) usleep((useconds_t)(ahead * 1e6));
        }
        if (qos > 0) {  /* keep at most WINDOW messages unacknowledged */
            pthread_mutex_lock(&lock);
            while (i - acked >= window) pthread_cond_wait(&changed, &lock);
            pthread_mutex_unlock(&lock);
        }
        int rc;
        while ((rc = mosquitto_publish(m, NULL, messages[i].topic, (int)messages[i].payload_len, messages[i].payload,
                                       qos, false)) == MOSQ_ERR_NOMEM) usleep(100);
        if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "publish %ld failed: %s\n", i, mosquitto_strerror(rc)); return 1; }
    }
    if (qos > 0) {
        pthread_mutex_lock(&lock);
        while (acked < n) pthread_cond_wait(&changed, &lock);
        pthread_mutex_unlock(&lock);
    } else {
        while (mosquitto_want_write(m)) usleep(1000);  /* QoS 0: everything handed to the socket */
    }
    double seconds = now_s() - t0;
    printf("{\"messages\": %ld, \"start_ns\": %lld, \"seconds\": %.6f, \"rate\": %.1f}\n", n, start_ns, seconds,
           seconds > 0 ? n / seconds : 0.0);
    fflush(stdout);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return 0;
}
