/*
 * loadgen: publish a simulated envmon fleet over MQTT, QoS 1, as fast as the
 * broker acknowledges or at a fixed rate. Reading i goes to sensor s = i % S
 * at ts = start_ms + (i / S) * 1000 + s (ms): unique (sensor, ts), the same
 * fleet as tests/support/fleet.py (rooms of 4 sensors, kinds cycling particles,
 * climate, pressure, equipment).
 *
 *   loadgen --port P --count N [--rate R] [--sensors S] [--start-ms MS]
 *           [--window W] [--host H] [--client-id ID]
 *
 * --offset O --stride D publish readings O, O+D, O+2D, ... (count of them), so
 * D processes with offsets 0..D-1 share one fleet without overlap.
 *
 * --cafile F --cert F --key F connect over TLS with that client certificate.
 *
 * --rate 0 (default) publishes as fast as PUBACKs come back, with at most W
 * messages unacknowledged. At the end it prints one JSON object on stdout:
 * published, acked, t_start_ns, t_published_ns, t_acked_ns (CLOCK_REALTIME),
 * and the publish rate. Exit code 0 only when every message was acked.
 *
 * Build: gcc -O2 -o loadgen loadgen.c -lmosquitto -lpthread
 */
#include <getopt.h>
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long acked;
static atomic_int connected;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(long long ns) {
    if (ns <= 0) return;
    struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
    nanosleep(&ts, NULL);
}

static void on_connect(struct mosquitto *m, void *ud, int rc) {
    (void)m; (void)ud;
    if (rc == 0) atomic_store(&connected, 1);
    else fprintf(stderr, "loadgen: connection refused: %s\n", mosquitto_connack_string(rc));
}

static void on_publish(struct mosquitto *m, void *ud, int mid) {
    (void)m; (void)ud; (void)mid;
    atomic_fetch_add(&acked, 1);
}

static int format_reading(char *topic, size_t tsz, char *payload, size_t psz,
                          const char *prefix, const char *site, long i, long sensors,
                          long per_room, long long start_ms) {
    static const char *kinds[] = {"particles", "climate", "pressure", "equipment"};
    long s = i % sensors, k = i / sensors;
    const char *kind = kinds[s % 4];
    long long ts_ms = start_ms + (long long)k * 1000 + s;
    double v = (double)s + (double)k / 1000.0;
    snprintf(topic, tsz, "%s/%s/R%03ld/%s/S%04ld", prefix, site, s / per_room, kind, s);
    long long sec = ts_ms / 1000, ms = ts_ms % 1000;
    switch (s % 4) {
    case 0:
        return snprintf(payload, psz,
                        "{\"ts\": %lld.%03lld, \"per_m3\": {\"0.5\": %.3f, \"5.0\": %.3f}}",
                        sec, ms, 1000.0 + v, v);
    case 1:
        return snprintf(payload, psz,
                        "{\"ts\": %lld.%03lld, \"temperature_c\": %.6f, \"humidity_pct\": 40.0}",
                        sec, ms, 20.0 + v / 1000.0);
    case 2:
        return snprintf(payload, psz, "{\"ts\": %lld.%03lld, \"diff_pressure_pa\": %.6f}",
                        sec, ms, 10.0 + v / 1000.0);
    default:
        return snprintf(payload, psz,
                        "{\"ts\": %lld.%03lld, \"values\": {\"co2\": %.6f, \"temperature\": %.6f}}",
                        sec, ms, 5.0 + v / 1000.0, 37.0 + v / 1000.0);
    }
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *prefix = "fac", *site = "site1";
    const char *client_id = "envmon-loadgen";
    const char *cafile = NULL, *certfile = NULL, *keyfile = NULL;
    int port = 0;
    long count = 0, sensors = 100, per_room = 4, window = 2000, offset = 0, stride = 1;
    double rate = 0;
    long long start_ms = ((long long)time(NULL) - 3 * 3600) * 1000;
    static struct option opts[] = {
        {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
        {"count", required_argument, 0, 'n'},    {"rate", required_argument, 0, 'r'},
        {"sensors", required_argument, 0, 's'},  {"start-ms", required_argument, 0, 't'},
        {"window", required_argument, 0, 'w'},   {"client-id", required_argument, 0, 'c'},
        {"prefix", required_argument, 0, 'x'},   {"site", required_argument, 0, 'e'},
        {"offset", required_argument, 0, 'o'},   {"stride", required_argument, 0, 'd'},
        {"cafile", required_argument, 0, 'A'},   {"cert", required_argument, 0, 'C'},
        {"key", required_argument, 0, 'K'},      {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'n': count = atol(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 's': sensors = atol(optarg); break;
        case 't': start_ms = atoll(optarg); break;
        case 'w': window = atol(optarg); break;
        case 'c': client_id = optarg; break;
        case 'x': prefix = optarg; break;
        case 'e': site = optarg; break;
        case 'o': offset = atol(optarg); break;
        case 'd': stride = atol(optarg); break;
        case 'A': cafile = optarg; break;
        case 'C': certfile = optarg; break;
        case 'K': keyfile = optarg; break;
        default: return 2;
        }
    }
    if (port <= 0 || count <= 0 || sensors <= 0 || window <= 0 || stride <= 0 || offset < 0) {
        fprintf(stderr, "usage: loadgen --port P --count N [--rate R] [--sensors S] "
                        "[--start-ms MS] [--window W] [--offset O --stride D] [--host H] "
                        "[--client-id ID]\n");
        return 2;
    }
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(client_id, true, NULL);
    if (!m) { perror("mosquitto_new"); return 1; }
    mosquitto_max_inflight_messages_set(m, (unsigned int)window);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_publish_callback_set(m, on_publish);
    int rc;
    if (cafile) {
        rc = mosquitto_tls_set(m, cafile, NULL, certfile, keyfile, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "loadgen: TLS settings refused: %s\n", mosquitto_strerror(rc));
            return 1;
        }
    }
    rc = mosquitto_connect(m, host, port, 60);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "loadgen: cannot connect to %s:%d: %s\n", host, port, mosquitto_strerror(rc));
        return 1;
    }
    mosquitto_loop_start(m);
    for (int i = 0; i < 1000 && !atomic_load(&connected); i++) sleep_ns(10000000LL);
    if (!atomic_load(&connected)) { fprintf(stderr, "loadgen: no CONNACK\n"); return 1; }

    char topic[256], payload[512];
    long long t0 = now_ns();
    double ns_per_msg = rate > 0 ? 1e9 / rate : 0;
    long published = 0;
    for (long i = 0; i < count; i++) {
        if (rate > 0) sleep_ns(t0 + (long long)(i * ns_per_msg) - now_ns());
        while (published - atomic_load(&acked) >= window) sleep_ns(20000);
        int len = format_reading(topic, sizeof topic, payload, sizeof payload, prefix, site,
                                 offset + i * stride,
                                 sensors, per_room, start_ms);
        rc = mosquitto_publish(m, NULL, topic, len, payload, 1, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "loadgen: publish %ld failed: %s\n", i, mosquitto_strerror(rc));
            break;
        }
        published++;
    }
    long long t_pub = now_ns();
    long long deadline = t_pub + 120000000000LL;
    while (atomic_load(&acked) < published && now_ns() < deadline) sleep_ns(100000);
    long long t_ack = now_ns();
    long n_acked = atomic_load(&acked);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    double elapsed = (t_ack - t0) / 1e9;
    printf("{\"published\": %ld, \"acked\": %ld, \"t_start_ns\": %lld, \"t_published_ns\": %lld, "
           "\"t_acked_ns\": %lld, \"rate_per_s\": %.1f}\n",
           published, n_acked, t0, t_pub, t_ack, elapsed > 0 ? n_acked / elapsed : 0.0);
    return n_acked == count ? 0 : 1;
}
